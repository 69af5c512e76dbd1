"""The pipeline every front end runs: source -> detect -> render, with a timer per stage.

Front ends (the CLI export, the benchmark, the desktop app) iterate over
:meth:`Pipeline.run` and hand each :class:`FrameResult` to their sinks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from live_explain.detect import Detections, Detector
from live_explain.render import RenderStyle, draw_detections
from live_explain.sources import Frame, FrameSource


@dataclass(frozen=True)
class FrameResult:
    """What the pipeline made of one frame; immutable so it can cross threads."""

    frame: Frame
    detections: Detections
    overlay: np.ndarray  # (H, W, 3) BGR uint8, the frame with boxes drawn
    timings_ms: dict[str, float]


class StageTimer:
    """Wall-clock milliseconds per named stage of one frame."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.ms[stage] = self.ms.get(stage, 0.0) + (now - self._t) * 1000.0
        self._t = now


class Pipeline:
    """Runs ``detector`` on every frame of ``source`` and renders the overlay."""

    def __init__(
        self,
        source: FrameSource,
        detector: Detector,
        max_frames: int | None = None,
        style: RenderStyle | None = None,
        render: Callable[..., np.ndarray] = draw_detections,
    ) -> None:
        self.source = source
        self.detector = detector
        self.max_frames = max_frames
        self.render = render
        self.style = style or RenderStyle()

    def run(self) -> Iterator[FrameResult]:
        """Yield one result per frame; closes the source when done or abandoned."""
        self.source.start()
        try:
            count = 0
            while self.max_frames is None or count < self.max_frames:
                timer = StageTimer()
                frame = self.source.read()
                if frame is None:
                    return
                timer.lap("wait_source")
                detections = self.detector(frame.image)
                timer.lap("detect")
                overlay = self.render(frame.image, detections, self.style)
                timer.lap("render")
                yield FrameResult(frame, detections, overlay, timer.ms)
                count += 1
        finally:
            self.source.close()
