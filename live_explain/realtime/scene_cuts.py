"""Scene cuts: a frame unlike the one before (a cut in an edited video, a camera switched), after
which no kept map is trusted."""

from __future__ import annotations

import cv2
import numpy as np


class SceneCutDetector:
    """A cut is a large mean change between small grey thumbnails of consecutive frames."""

    def __init__(self, threshold: float = 40.0) -> None:
        self.threshold = threshold
        self._last: np.ndarray | None = None

    def reset(self) -> None:
        self._last = None

    def __call__(self, image_bgr: np.ndarray) -> bool:
        grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
        thumb = cv2.resize(grey, (64, 36), interpolation=cv2.INTER_AREA).astype(np.float32)
        cut = self._last is not None and float(np.abs(thumb - self._last).mean()) > self.threshold
        self._last = thumb
        return cut
