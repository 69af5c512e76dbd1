"""Explanation-quality signals: where each detection's heatmap puts its energy.

Per detection (all in frame pixels; a map smaller than the frame is measured as upsampled
to it):

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
import torch

from live_explain.explain.align import frame_region, frame_total
from live_explain.model.detector import Detections
from live_explain.monitor.metrics import box_bounds
from live_explain.render.overlay import map_region

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


def detection_signals(heatmap: np.ndarray, box, frame_size=None) -> DetectionSignals:
    """Signals of one (h, w) map in [0, 1] over the whole frame and its xyxy ``box`` in frame
    pixels; ``frame_size`` (W, H) when the map is smaller than the frame (it is measured as
    upsampled to the frame, without forming the whole upsampled map)."""
    peak = int(np.argmax(heatmap))
    height, width = heatmap.shape
    frame_w, frame_h = frame_size or (width, height)
    y, x = divmod(peak, width)
    if not float(heatmap.flat[peak]) > EMPTY_MAP_MAX:
        return DetectionSignals(empty=True)
    x = int((x + 0.5) * frame_w / width)  # the frame pixel at the peak cell's centre
    y = int((y + 0.5) * frame_h / height)
    x0, y0, x1, y1 = bounds = box_bounds(box, frame_w, frame_h)
    heat = torch.from_numpy(np.asarray(heatmap, np.float32))
    total = float(frame_total(heat, (frame_h, frame_w)))
    inside = float(frame_region(heat, (frame_h, frame_w), bounds).sum())
    return DetectionSignals(
        attention_in_box=inside / total if total > 0 else 0.0,
        pointing_hit=bool(x0 <= x < x1 and y0 <= y < y1),
        peak_xy=(x, y),
    )


def outside_attention(heatmaps: np.ndarray, boxes: np.ndarray, frame_size=None) -> float | None:
    """Share of the merged map's energy outside every box; ``None`` for an all-zero map.
    ``frame_size`` (W, H) when the maps are smaller than the frame."""
    merged = heatmaps.max(axis=0)
    if frame_size is not None and merged.shape != (frame_size[1], frame_size[0]):
        width, height = frame_size
        merged = map_region(merged, frame_size, (0, 0, width, height))
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
    size = detections.frame_size
    rows = tuple(
        detection_signals(heatmap, box, size)
        for heatmap, box in zip(maps, detections.boxes, strict=True)
    )
    return FrameSignals(rows, outside_attention(maps, detections.boxes, size))
