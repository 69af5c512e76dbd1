"""One decoded frame, as every source and replay delivers it."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger("live_explain")


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    ``index`` counts delivered frames from 0; ``pts_ms`` is the presentation time in
    milliseconds from the start of the source; ``image`` is (H, W, 3) BGR uint8;
    ``captured_s`` the ``time.perf_counter()`` when the frame was decoded (for latency).
    """

    index: int
    pts_ms: float
    image: np.ndarray
    captured_s: float = field(default_factory=time.perf_counter, compare=False)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.image.shape[1], self.image.shape[0]
