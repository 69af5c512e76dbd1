"""Drawing results on frames: heatmaps (per box or merged), boxes, class names and scores."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from live_explain.explain.align import frame_region
from live_explain.model.detector import Detections
from live_explain.render.label_layout import leader_line, place_labels

COLORMAPS = {
    "turbo": cv2.COLORMAP_TURBO,
    "jet": cv2.COLORMAP_JET,
    "inferno": cv2.COLORMAP_INFERNO,
}
HEAT_FULL = 0.6  # heat from which a map is drawn at the chosen opacity; cooler is fainter


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


def heat_opacity(heat: np.ndarray, alpha: float) -> np.ndarray:
    """Per-pixel opacity (H, W) float32: ``alpha`` where the heat is at least
    :data:`HEAT_FULL`, fainter below, none where it is cold (or NaN: no map there), so cold
    areas leave the frame as it is."""
    level = np.minimum(np.nan_to_num(heat, nan=0.0), HEAT_FULL).astype(np.float32)
    return level * np.float32(alpha / HEAT_FULL)


def _mix(image_bgr: np.ndarray, heat: np.ndarray, colormap: str, alpha: float) -> np.ndarray:
    levels = (np.nan_to_num(heat, nan=0.0) * 255.0 + 0.5).astype(np.uint8)
    coloured = cv2.applyColorMap(levels, COLORMAPS[colormap])
    weight = heat_opacity(heat, alpha)
    return cv2.blendLinear(coloured, image_bgr, weight, np.float32(1.0) - weight)


def blend_heat(image_bgr: np.ndarray, heat: np.ndarray, colormap: str, alpha: float) -> np.ndarray:
    """``image`` with ``colormap(heat)`` blended in where heat is defined, at an opacity that
    follows the heat (:func:`heat_opacity`)."""
    if np.isnan(heat).all():
        return image_bgr.copy()
    return _mix(image_bgr, heat, colormap, alpha)


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
        original = np.ascontiguousarray(image_bgr[y0:y1, x0:x1])
        canvas[y0:y1, x0:x1] = _mix(original, heat, colormap, alpha)
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
    _draw_boxes(canvas, detections, chosen)
    return canvas


def label_text(detections: Detections, row: int) -> str:
    """A box's label: class, track id (when tracked) and score."""
    tracks = detections.track_ids
    track = f" #{tracks[row]}" if tracks is not None else ""
    return f"{detections.names[row]}{track} {float(detections.scores[row]):.2f}"


def _draw_boxes(canvas: np.ndarray, detections: Detections, chosen: int | None) -> None:
    """Boxes and their labels, placed by :func:`place_labels` clear of each other."""
    height, width = canvas.shape[:2]
    scale = max(0.4, min(width, height) / 900.0)
    thickness = max(1, round(scale * 2))
    font = cv2.FONT_HERSHEY_SIMPLEX
    texts = [label_text(detections, row) for row in range(len(detections))]
    metrics = [cv2.getTextSize(text, font, scale, thickness) for text in texts]
    sizes = [(tw + 4, th + base + 4) for (tw, th), base in metrics]
    bounds = [box_pixels(box, width, height) for box in detections.boxes]
    spots = place_labels(np.array(bounds, np.float64), sizes, (width, height), detections.scores)
    for row, (x0, y0, x1, y1) in enumerate(bounds):
        colour = class_colour(int(detections.labels[row]))
        line = thickness * 2 if row == chosen else thickness
        cv2.rectangle(canvas, (x0, y0), (x1 - 1, y1 - 1), colour, line, cv2.LINE_AA)
    for row, spot in enumerate(spots):  # every leader line first: no line crosses a label
        if spot.detached and spot.shown:  # a thin line from the label to its box's edge
            start, end = leader_line(spot.rect, bounds[row])
            colour = class_colour(int(detections.labels[row]))
            cv2.line(canvas, tuple(map(round, start)), tuple(map(round, end)), colour, 1)
    for row, spot in enumerate(spots):
        if not spot.shown:
            continue
        lx0, ly0, lx1, ly1 = (round(v) for v in spot.rect)
        colour = class_colour(int(detections.labels[row]))
        cv2.rectangle(canvas, (lx0, ly0), (lx1 - 1, ly1 - 1), colour, -1)
        baseline = ly0 + 2 + metrics[row][0][1]
        cv2.putText(
            canvas, texts[row], (lx0 + 2, baseline), font, scale, (0, 0, 0), thickness, cv2.LINE_AA
        )


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


def colormap_colours(name: str) -> np.ndarray:
    """(256, 3) uint8 BGR: the colour of each heat level 0..255 under colormap ``name``."""
    levels = np.arange(256, dtype=np.uint8)[:, None]
    return cv2.applyColorMap(levels, COLORMAPS[name])[:, 0, :]
