"""Boxes and their labels on the video, drawn at screen resolution.

The engine's overlay holds the heatmaps only; the boxes and labels are painted here in the
widget's own pixels, so the text stays sharp and readable at any window size. Labels are placed
by :func:`~live_explain.render.label_layout.place_labels` (the layout an export burns in),
clear of each other and of small boxes; a label moved away from its box gets a thin line to it.
"""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

from live_explain.render.label_layout import LabelSpot, leader_line, place_labels
from live_explain.render.overlay import class_colour, label_text
from live_explain.ui.frame_update import FrameUpdate

LABEL_POINTS = 9.0  # label text size, whatever the frame's resolution


def label_texts(update: FrameUpdate) -> list[str]:
    """The export's label (class, track id, score); a reused map is marked with ↺."""
    dets = update.detections
    reused = dets.refreshed is not None and dets.heatmaps is not None
    return [
        label_text(dets, row) + (" ↺" if reused and not dets.refreshed[row] else "")
        for row in range(len(dets))
    ]


def map_freshness(update: FrameUpdate | None) -> str:
    """How many of the frame's maps were computed on it and how many were reused (↺) from
    the frames before, as the engine's refresh policy decided."""
    dets = None if update is None else update.detections
    if dets is None or dets.heatmaps is None or dets.refreshed is None or not len(dets):
        return ""
    fresh = int(np.count_nonzero(dets.refreshed))
    return f"maps: {fresh} fresh, {len(dets) - fresh} reused (↺)"


def selection_note(update: FrameUpdate | None, selected: int | None) -> str:
    """Said in the HUD while the selected track is not on the frame (it stays selected, and
    its map shows again when it comes back)."""
    if update is None or selected is None or selected in update.selection_keys:
        return ""
    return f"selected #{selected}: not on this frame (click empty space to clear)"


def layout_labels(
    update: FrameUpdate,
    texts: list[str],
    rects: list[QRectF],
    area: QRectF,
    metrics: QFontMetricsF,
    keep_clear: list[QRectF] = (),
) -> list[LabelSpot]:
    """Where each label (``texts``) goes, in widget coordinates inside ``area`` (the
    image's rect)."""
    pad = 3.0
    sizes = [(metrics.horizontalAdvance(text) + 2 * pad, metrics.height() + pad) for text in texts]
    dx, dy = area.left(), area.top()
    corners = [(r.left() - dx, r.top() - dy, r.right() - dx, r.bottom() - dy) for r in rects]
    boxes = np.array(corners, np.float64).reshape(-1, 4)
    obstacles = [(r.left() - dx, r.top() - dy, r.right() - dx, r.bottom() - dy) for r in keep_clear]
    frame = (area.width(), area.height())
    seen = [i for i, r in enumerate(rects) if r.intersects(area)]  # zoomed: some are off screen
    scores = np.asarray(update.detections.scores)[seen]
    placed = place_labels(boxes[seen], [sizes[i] for i in seen], frame, scores, obstacles)
    spots = [LabelSpot((0.0, 0.0, 0.0, 0.0), False, shown=False)] * len(rects)
    for row, spot in zip(seen, placed, strict=True):
        x0, y0, x1, y1 = spot.rect
        spots[row] = LabelSpot((x0 + dx, y0 + dy, x1 + dx, y1 + dy), spot.detached, spot.shown)
    return spots


def paint_boxes(
    painter: QPainter,
    update: FrameUpdate,
    rects: list[QRectF],
    area: QRectF,
    selected: int | None,
    keep_clear: list[QRectF] = (),
) -> list[LabelSpot]:
    """Boxes and labels of ``update`` (its boxes at ``rects``), the labels clear of
    ``keep_clear`` too (the legend); returns the label spots."""
    font = QFont(painter.font())
    font.setPointSizeF(LABEL_POINTS)
    font.setBold(True)
    painter.setFont(font)
    texts = label_texts(update)
    spots = layout_labels(update, texts, rects, area, QFontMetricsF(font), keep_clear)
    dets = update.detections
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    for row, rect in enumerate(rects):
        b, g, r = class_colour(int(dets.labels[row]))
        chosen = selected is not None and update.selection_keys[row] == selected
        painter.setPen(QPen(QColor(r, g, b), 3.0 if chosen else 1.5))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect)
    for row, spot in enumerate(spots):  # every leader line first: no line crosses a label
        if spot.detached and spot.shown:
            b, g, r = class_colour(int(dets.labels[row]))
            box = rects[row]
            start, end = leader_line(spot.rect, (box.left(), box.top(), box.right(), box.bottom()))
            painter.setPen(QPen(QColor(r, g, b), 1.0))
            painter.drawLine(QPointF(*start), QPointF(*end))
    for row, spot in enumerate(spots):
        if not spot.shown:
            continue
        b, g, r = class_colour(int(dets.labels[row]))
        label = _rect(spot)
        painter.fillRect(label, QColor(r, g, b))
        painter.setPen(QColor(0, 0, 0))
        painter.drawText(label, Qt.AlignmentFlag.AlignCenter, texts[row])
    return spots


def _rect(spot: LabelSpot) -> QRectF:
    return QRectF(QPointF(spot.rect[0], spot.rect[1]), QPointF(spot.rect[2], spot.rect[3]))
