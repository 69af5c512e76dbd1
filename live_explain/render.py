"""Drawing detections on frames: boxes, class names and scores."""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

from live_explain.detect import Detections


def class_colour(label: int) -> tuple[int, int, int]:
    """A stable, well-separated BGR colour per label id (golden-ratio hue steps)."""
    hue = (label * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_detections(image_bgr: np.ndarray, detections: Detections) -> np.ndarray:
    """A copy of ``image_bgr`` with each detection's box and ``name score`` label."""
    canvas = image_bgr.copy()
    height, width = canvas.shape[:2]
    scale = max(0.4, min(width, height) / 900.0)
    thickness = max(1, round(scale * 2))
    for box, label, name, score in zip(
        detections.boxes, detections.labels, detections.names, detections.scores, strict=True
    ):
        colour = class_colour(int(label))
        x0, y0, x1, y1 = (round(float(v)) for v in box)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, thickness, cv2.LINE_AA)
        text = f"{name} {score:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        ty = y0 - 4 if y0 - th - base - 4 >= 0 else y0 + th + base + 4
        cv2.rectangle(canvas, (x0, ty - th - base), (x0 + tw + 4, ty + base // 2), colour, -1)
        cv2.putText(
            canvas,
            text,
            (x0 + 2, ty - base // 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (0, 0, 0),
            thickness,
            cv2.LINE_AA,
        )
    return canvas
