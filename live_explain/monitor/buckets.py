"""Buckets for the bias audit: where in the image a detection is, and how lit its frame is.

* Horizontal region: ``left``, ``centre`` or ``right`` third of the frame, by the box centre.
* Depth: ``near`` when the box's bottom edge (where a road user meets the road) lies in the
  lowest 40 % of the frame, else ``far``. A dashcam looks level, so lower means nearer.
* Lighting: the frame's mean luma (0-255, BT.601 grey) below 58 is ``night``, below 86
  ``dusk``, else ``day``. Calibrated on the synthetic scenes (night 45-53, dusk 65-86,
  day 87-117 over day/dusk/night x clear/rain); real dashcam video by day sits near 100-140.
  A rough rule: a snowy night or a tunnel by day lands in the wrong bucket.
"""

from __future__ import annotations

import cv2
import numpy as np

HORIZONTAL_REGIONS = ("left", "centre", "right")
DEPTH_REGIONS = ("near", "far")
LIGHTING_BUCKETS = ("night", "dusk", "day")
NEAR_FROM = 0.6  # box bottom edge at or below this share of the frame height: near
NIGHT_BELOW = 58.0
DUSK_BELOW = 86.0
BRIGHTNESS_WIDTH = 160  # frames are shrunk to this width before averaging (same mean, cheaper)


def frame_brightness(image_bgr: np.ndarray) -> float:
    """Mean luma of a BGR uint8 frame, 0 (black) to 255 (white)."""
    height, width = image_bgr.shape[:2]
    if width > BRIGHTNESS_WIDTH:
        size = (BRIGHTNESS_WIDTH, max(1, round(height * BRIGHTNESS_WIDTH / width)))
        image_bgr = cv2.resize(image_bgr, size, interpolation=cv2.INTER_AREA)
    return float(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY).mean())


def lighting_bucket(brightness: float) -> str:
    if brightness < NIGHT_BELOW:
        return "night"
    if brightness < DUSK_BELOW:
        return "dusk"
    return "day"


def horizontal_region(box, width: int) -> str:
    centre = (float(box[0]) + float(box[2])) / 2.0
    third = min(2, max(0, int(3 * centre / max(width, 1))))
    return HORIZONTAL_REGIONS[third]


def depth_region(box, height: int) -> str:
    return "near" if float(box[3]) >= NEAR_FROM * height else "far"
