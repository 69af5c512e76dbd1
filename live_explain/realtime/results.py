"""What the pipeline hands out for each frame (:class:`FrameResult`, frozen so it can cross
threads) and the per-stage timer behind its ``timings_ms``."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from live_explain.io.frame import Frame
from live_explain.model.detector import Detections


@dataclass(frozen=True)
class FrameResult:
    """What the pipeline made of one frame; immutable so it can cross threads.

    ``latency_ms``: from the frame's capture (live sources) or from inference taking it
    (files, which decode ahead) to its overlay being ready; ``dropped``: frames
    the source dropped so far (``latest`` policy); ``source_state``: the source's state.
    """

    frame: Frame
    detections: Detections
    overlay: np.ndarray  # (H, W, 3) BGR uint8, the frame with heatmaps and boxes drawn
    timings_ms: dict[str, float]
    latency_ms: float = 0.0
    dropped: int = 0
    source_state: str = ""
    ready_s: float = 0.0  # time.perf_counter() when the overlay was ready


class StageTimer:
    """Wall-clock milliseconds per named stage of one frame."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.ms[stage] = self.ms.get(stage, 0.0) + (now - self._t) * 1000.0
        self._t = now
