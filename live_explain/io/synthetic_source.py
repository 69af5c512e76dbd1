"""The synthetic driving scene as a source."""

from __future__ import annotations

import logging
import time

import numpy as np

from live_explain.io.source import FrameSource

log = logging.getLogger("live_explain")


class SyntheticSource(FrameSource):
    """Frames of :class:`live_explain.synthetic.DrivingScene`.

    ``realtime=True`` paces frames at ``fps`` like a camera (and makes the source live);
    otherwise frames come as fast as they are consumed. ``frames=None`` never ends.
    """

    kind = "synthetic"

    def __init__(
        self,
        seed: int = 0,
        size: tuple[int, int] = (640, 360),
        fps: float = 25.0,
        frames: int | None = None,
        realtime: bool = False,
        **kwargs,
    ) -> None:
        self.live = realtime
        super().__init__(**kwargs)
        self.seed, self.fps, self.size = seed, fps, size
        self.expected_frames = frames
        self.last_truth: dict | None = None

    def _open(self) -> None:
        from live_explain.synthetic import DrivingScene

        self._frames = DrivingScene(seed=self.seed, size=self.size).frames(self.expected_frames)
        self._count = 0
        self._t0 = time.monotonic()

    def _read(self) -> tuple[np.ndarray, float] | None:
        item = next(self._frames, None)
        if item is None:
            return None
        pts_ms = self._count * 1000.0 / self.fps
        self._count += 1
        if self.live:
            delay = self._t0 + pts_ms / 1000.0 - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return None
        image, self.last_truth = item
        return image, pts_ms
