"""Drawing results on frames: heatmaps (per box or merged), boxes, class names and scores."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from live_explain.explain.align import frame_region
from live_explain.model.detector import Detections

COLORMAPS = {
    "turbo": cv2.COLORMAP_TURBO,
    "jet": cv2.COLORMAP_JET,
    "inferno": cv2.COLORMAP_INFERNO,
}


@dataclass(frozen=True)
class RenderStyle:
    """How overlays look: ``colormap`` (turbo, jet, inferno), heatmap opacity ``alpha``,
    and ``merged`` (one full-frame map, the maximum over detections) or per-box maps.
    ``selected``: a track id (or, without tracks, a detection index) whose map alone is shown
    over the whole frame; ``None`` shows every detection's map."""

    colormap: str = "turbo"
    alpha: float = 0.45
    merged: bool = False
    boxes: bool = True
    selected: int | None = None


def class_colour(label: int) -> tuple[int, int, int]:
    """A stable, well-separated BGR colour per label id (golden-ratio hue steps)."""
    hue = (label * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def heat_layer(detections: Detections, size: tuple[int, int], merged: bool) -> np.ndarray:
    """(H, W) float32 heat in [0, 1] and where it applies (NaN elsewhere).

    Per box: each detection's own map inside its box, the better score on top where boxes
    overlap. Merged: the maximum over all maps, over the whole frame.
    """
    width, height = size
    heat = np.full((height, width), np.nan, np.float32)
    maps = detections.heatmaps
    if maps is None or len(maps) == 0:
        return heat
    if merged:  # the maximum on the maps' grid, upsampled once
        return map_region(maps.max(axis=0), size, (0, 0, width, height))
    for index in np.argsort(detections.scores, kind="stable"):  # best drawn last
        x0, y0, x1, y1 = bounds = box_pixels(detections.boxes[index], width, height)
        heat[y0:y1, x0:x1] = map_region(maps[index], size, bounds)
    return heat


def map_region(heatmap: np.ndarray, size: tuple[int, int], bounds) -> np.ndarray:
    """The frame pixels ``bounds`` (x0, y0, x1, y1) of a map (h, w) over a frame of ``size``
    (W, H): the map's own pixels when it is at the frame's size, else upsampled."""
    width, height = size
    region = frame_region(torch.from_numpy(np.asarray(heatmap)), (height, width), bounds)
    return region.numpy()


def blend_heat(image_bgr: np.ndarray, heat: np.ndarray, colormap: str, alpha: float) -> np.ndarray:
    """``image`` with ``colormap(heat)`` blended at opacity ``alpha`` where heat is defined."""
    defined = ~np.isnan(heat)
    if not defined.any():
        return image_bgr.copy()
    levels = (np.nan_to_num(heat, nan=0.0) * 255.0 + 0.5).astype(np.uint8)
    coloured = cv2.applyColorMap(levels, COLORMAPS[colormap])
    blended = cv2.addWeighted(image_bgr, 1.0 - alpha, coloured, alpha, 0.0)
    if defined.all():
        return blended
    out = image_bgr.copy()
    out[defined] = blended[defined]
    return out


def blend_boxes(
    image_bgr: np.ndarray, detections: Detections, colormap: str, alpha: float
) -> np.ndarray:
    """Each detection's map blended inside its own box, the better score on top.

    The same pixels as ``blend_heat(image, heat_layer(detections, ..., merged=False))``,
    computed on the boxes only (much less work than the whole frame when boxes are small).
    """
    height, width = image_bgr.shape[:2]
    canvas = image_bgr.copy()
    for index in np.argsort(detections.scores, kind="stable"):  # best drawn last
        x0, y0, x1, y1 = bounds = box_pixels(detections.boxes[index], width, height)
        heat = map_region(detections.heatmaps[index], (width, height), bounds)
        levels = (heat * 255.0 + 0.5).astype(np.uint8)
        coloured = cv2.applyColorMap(levels, COLORMAPS[colormap])
        original = image_bgr[y0:y1, x0:x1]
        canvas[y0:y1, x0:x1] = cv2.addWeighted(original, 1.0 - alpha, coloured, alpha, 0.0)
    return canvas


def draw_detections(
    image_bgr: np.ndarray, detections: Detections, style: RenderStyle | None = None
) -> np.ndarray:
    """A copy of ``image_bgr`` with heatmaps (when explained), boxes and labels."""
    style = style or RenderStyle()
    height, width = image_bgr.shape[:2]
    chosen = selected_index(detections, style.selected)
    if detections.heatmaps is not None and chosen is not None:
        heat = map_region(detections.heatmaps[chosen], (width, height), (0, 0, width, height))
        canvas = blend_heat(image_bgr, heat, style.colormap, style.alpha)
    elif detections.heatmaps is not None and len(detections) and style.merged:
        heat = heat_layer(detections, (width, height), merged=True)
        canvas = blend_heat(image_bgr, heat, style.colormap, style.alpha)
    elif detections.heatmaps is not None and len(detections):
        canvas = blend_boxes(image_bgr, detections, style.colormap, style.alpha)
    else:
        canvas = image_bgr.copy()
    if not style.boxes:
        return canvas
    scale = max(0.4, min(width, height) / 900.0)
    thickness = max(1, round(scale * 2))
    tracks = detections.track_ids
    for row, (box, label, name, score) in enumerate(
        zip(detections.boxes, detections.labels, detections.names, detections.scores, strict=True)
    ):
        colour = class_colour(int(label))
        x0, y0, x1, y1 = box_pixels(box, width, height)
        line = thickness * 2 if row == chosen else thickness
        cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), colour, line, cv2.LINE_AA)
        track = f" #{tracks[row]}" if tracks is not None else ""
        text = f"{name}{track} {score:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        top = y0 - th - base - 4
        ty = y0 - base - 2 if top >= 0 else y0 + th + 2
        cv2.rectangle(canvas, (x0, ty - th - 2), (x0 + tw + 4, ty + base), colour, -1)
        cv2.putText(
            canvas,
            text,
            (x0 + 2, ty),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (0, 0, 0),
            thickness,
            cv2.LINE_AA,
        )
    return canvas


def selected_index(detections: Detections, selected: int | None) -> int | None:
    """Row of the detection with track id ``selected`` (a row index when untracked)."""
    if selected is None:
        return None
    if detections.track_ids is not None:
        return row_of_track(detections.track_ids, selected)
    return selected if 0 <= selected < len(detections) else None


def row_of_track(track_ids: np.ndarray, track_id: int | None) -> int | None:
    """Row of ``track_id`` in a frame's ``track_ids``, or ``None``."""
    rows = np.flatnonzero(track_ids == track_id) if track_id is not None else []
    return int(rows[0]) if len(rows) else None


def box_pixels(box: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """Box corners as integer pixel bounds clipped to the frame (x1, y1 exclusive)."""
    x0 = int(np.clip(np.floor(box[0]), 0, width - 1))
    y0 = int(np.clip(np.floor(box[1]), 0, height - 1))
    x1 = int(np.clip(np.ceil(box[2]), x0 + 1, width))
    y1 = int(np.clip(np.ceil(box[3]), y0 + 1, height))
    return x0, y0, x1, y1
