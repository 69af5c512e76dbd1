"""Explanation-quality signals: where each detection's heatmap puts its energy.

Per detection (all in frame pixels):

* ``attention_in_box``: the share of the map's energy (its sum) that lies inside the
  detection's own box, in [0, 1]. Low values mean the detection rests on context.
* ``pointing_hit``: whether the map's peak (its maximum) falls inside the box (the pointing
  game of Zhang et al. 2016).
* ``peak_xy``: the (x, y) pixel of that peak.

Per frame: ``outside_attention``, the share of the merged map's energy (the maximum over all
detections' maps, as drawn by ``--merged``) that lies outside every box: the model looking at
something it did not detect.

A detection without a map (method ``none``) has ``None`` everywhere; one with an all-zero map
is ``empty`` and also has ``None`` signals (there is no energy to share out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live_explain.detect import Detections
from live_explain.metrics import box_bounds, energy_in_box

# A map whose maximum is at or below this is treated as all zero (maps are scaled to [0, 1]).
EMPTY_MAP_MAX = 1e-6


@dataclass(frozen=True)
class DetectionSignals:
    """Signals of one detection's map; ``None`` where it has no map or an empty one."""

    attention_in_box: float | None = None
    pointing_hit: bool | None = None
    peak_xy: tuple[int, int] | None = None
    empty: bool = False  # explained, but the map is all zero


@dataclass(frozen=True)
class FrameSignals:
    """Signals of one frame: one :class:`DetectionSignals` per detection row, in order."""

    detections: tuple[DetectionSignals, ...]
    outside_attention: float | None  # None when no detection has a non-empty map


def detection_signals(heatmap: np.ndarray, box) -> DetectionSignals:
    """Signals of one (H, W) map in [0, 1] and its xyxy ``box`` in the same pixels."""
    peak = int(np.argmax(heatmap))
    height, width = heatmap.shape
    y, x = divmod(peak, width)
    if not float(heatmap.flat[peak]) > EMPTY_MAP_MAX:
        return DetectionSignals(empty=True)
    x0, y0, x1, y1 = box_bounds(box, width, height)
    return DetectionSignals(
        attention_in_box=energy_in_box(heatmap, box),
        pointing_hit=bool(x0 <= x < x1 and y0 <= y < y1),
        peak_xy=(int(x), int(y)),
    )


def outside_attention(heatmaps: np.ndarray, boxes: np.ndarray) -> float | None:
    """Share of the merged map's energy outside every box; ``None`` for an all-zero map."""
    merged = heatmaps.max(axis=0)
    total = float(merged.sum())
    if total <= 0:
        return None
    height, width = merged.shape
    inside = np.zeros((height, width), bool)
    for box in boxes:
        x0, y0, x1, y1 = box_bounds(box, width, height)
        inside[y0:y1, x0:x1] = True
    return max(0.0, 1.0 - float(merged[inside].sum()) / total)


def frame_signals(detections: Detections) -> FrameSignals:
    """The signals of every detection of a frame and of the frame as a whole."""
    maps = detections.heatmaps
    if maps is None or len(maps) != len(detections) or len(detections) == 0:
        return FrameSignals(tuple(DetectionSignals() for _ in range(len(detections))), None)
    rows = tuple(
        detection_signals(heatmap, box) for heatmap, box in zip(maps, detections.boxes, strict=True)
    )
    return FrameSignals(rows, outside_attention(maps, detections.boxes))
