"""The video: the engine's overlay, the HUD, and the boxes under the mouse.

Hovering a box shows its class, score, track id and attention-in-box; clicking a box
selects that detection (its heatmap alone is drawn), clicking empty space shows all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QImage, QMouseEvent, QPainter, QPen
from PyQt6.QtWidgets import QToolTip, QWidget

from live_explain.render.label_layout import LabelSpot
from live_explain.ui.box_labels import paint_boxes
from live_explain.ui.frame_update import FrameUpdate
from live_explain.ui.heat_legend import legend_rect, paint_legend
from live_explain.ui.images import ImagePane, bgr_to_qimage
from live_explain.ui.zoom_pan import ZoomPan

PLACEHOLDER = ""  # before a source, the window's empty state offers what to open


@dataclass(frozen=True)
class Hud:
    """The numbers drawn in the corner of the video."""

    fps: float = 0.0
    latency_ms: float = 0.0
    device: str = ""
    model: str = ""
    dropped: int = 0
    state: str = ""
    paused: bool = False  # then no frame rate: it would be the last one, gone stale
    maps: str = ""  # how many maps are fresh and how many reused
    note: str = ""  # e.g. the selected track is not on this frame

    def lines(self) -> list[str]:
        if self.paused:
            first = f"PAUSED (Space plays)   latency {self.latency_ms:4.0f} ms"
        else:
            first = (
                f"{self.fps:5.1f} fps   latency {self.latency_ms:4.0f} ms   dropped {self.dropped}"
            )
        extra = [line for line in (self.maps, self.note) if line]
        return [first, f"{self.model} on {self.device}", *extra]


class VideoView(ZoomPan, ImagePane):
    """Shows :class:`FrameUpdate` overlays; emits ``detection_clicked`` with the clicked
    detection's selection key (track id), or ``None`` for a click on empty space."""

    detection_clicked = pyqtSignal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(PLACEHOLDER, parent)
        self.setObjectName("video")
        self.setMouseTracking(True)
        self._init_zoom()
        self.update_shown: FrameUpdate | None = None
        self.hud = Hud()
        self.selected: int | None = None
        self.hovered: int | None = None  # row under the mouse
        self.mouse: QPointF | None = None  # where the mouse is over the video
        self.label_spots: list[LabelSpot] = []  # where the last paint put the box labels
        self.legend: tuple[str, str] = ("turbo", "")  # colormap, title (set by the window)
        self.legend_rect = QRectF()  # where the last paint put the legend (empty: none)

    def show_update(self, update: FrameUpdate) -> None:
        self.update_shown = update
        self.set_image(bgr_to_qimage(update.result.overlay))
        # the boxes moved under a still mouse: the outline follows what is under it now
        self.hovered = None if self.mouse is None else self.detection_at(self.mouse)

    def set_hud(self, hud: Hud) -> None:
        self.hud = hud
        self.update()

    def clear(self) -> None:
        self.update_shown = None
        self.hovered = None
        self.set_image(QImage())

    # -- geometry ---------------------------------------------------------------------------
    def to_frame(self, point: QPointF) -> QPointF | None:
        """Widget coordinates -> frame pixels (``None`` outside the image)."""
        rect = self.image_rect()
        if rect.isEmpty() or not rect.contains(point):
            return None
        scale = self.image.width() / rect.width()
        return QPointF((point.x() - rect.x()) * scale, (point.y() - rect.y()) * scale)

    def to_widget(self, box: np.ndarray) -> QRectF:
        """A frame-pixel xyxy box -> widget coordinates."""
        rect = self.image_rect()
        scale = rect.width() / max(self.image.width(), 1)
        x0, y0, x1, y1 = (float(v) * scale for v in box)
        return QRectF(rect.x() + x0, rect.y() + y0, x1 - x0, y1 - y0)

    def detection_at(self, point: QPointF) -> int | None:
        """Row of the smallest box under ``point`` (widget coordinates), if any."""
        rows = self.detections_at(point)
        return rows[0] if rows else None

    def detections_at(self, point: QPointF) -> list[int]:
        """Rows of the boxes under ``point``, the smallest first (a click on a box inside
        another picks the inner one; a second click the one around it)."""
        if self.update_shown is None:
            return []
        where = self.to_frame(point)
        boxes = self.update_shown.detections.boxes
        if where is None or len(boxes) == 0:
            return []
        x, y = where.x(), where.y()
        inside = (boxes[:, 0] <= x) & (x <= boxes[:, 2]) & (boxes[:, 1] <= y) & (y <= boxes[:, 3])
        rows = np.flatnonzero(inside)
        areas = (boxes[rows, 2] - boxes[rows, 0]) * (boxes[rows, 3] - boxes[rows, 1])
        return [int(rows[i]) for i in np.argsort(areas, kind="stable")]

    def describe(self, row: int) -> str:
        """The hover text of detection ``row``."""
        update = self.update_shown
        assert update is not None
        dets = update.detections
        track = (
            f"track #{update.selection_keys[row]}" if dets.track_ids is not None else "untracked"
        )
        attention = update.attention[row]
        inside = "n/a" if attention is None else f"{attention:.0%}"
        return (
            f"{dets.names[row]}  {float(dets.scores[row]):.2f}\n{track}\nattention in box: {inside}"
        )

    # -- mouse ------------------------------------------------------------------------------
    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_move(event):
            QToolTip.hideText()
            return
        self.mouse = event.position()
        row = self.detection_at(self.mouse)
        if row != self.hovered:
            self.hovered = row
            self.update()
        if row is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(event.globalPosition().toPoint(), self.describe(row), self)
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:
        self.hovered, self.mouse = None, None
        self.update()
        super().leaveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._drag_press(event)
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """A click (not the end of a drag) selects the box under it, or none."""
        click = self._drag_release(event)
        if event.button() == Qt.MouseButton.LeftButton and click and self.update_shown:
            rows = self.detections_at(event.position())
            keys = [self.update_shown.selection_keys[row] for row in rows]
            if self.selected in keys:  # clicked again: the next larger box under the mouse
                key = keys[(keys.index(self.selected) + 1) % len(keys)]
            else:
                key = keys[0] if keys else None
            self.detection_clicked.emit(key)
        super().mouseReleaseEvent(event)

    # -- painting ---------------------------------------------------------------------------
    def paint_over(self, painter: QPainter) -> None:
        update, row = self.update_shown, self.hovered
        self.legend_rect = QRectF()
        if update is not None and update.detections.heatmaps is not None and len(update.detections):
            self.legend_rect = legend_rect(self.font(), self.visible_rect(), self.legend[1])
        if update is not None and len(update.detections):
            rects = [self.to_widget(box) for box in update.detections.boxes]
            clear = [self.hud_rect()] + (
                [self.legend_rect] if not self.legend_rect.isEmpty() else []
            )
            area = self.visible_rect()
            self.label_spots = paint_boxes(painter, update, rects, area, self.selected, clear)
        else:
            self.label_spots = []
        if update is not None and row is not None and row < len(update.detections):
            pen = QPen(QColor(255, 255, 255), 1.5, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawRect(self.to_widget(update.detections.boxes[row]))
        if not self.legend_rect.isEmpty():
            paint_legend(painter, self.legend_rect, *self.legend, self.font())
        self._paint_hud(painter)

    def _hud_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, font.pointSizeF() * 0.95))
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setFamily("DejaVu Sans Mono")
        return font

    def _hud_lines(self) -> list[str]:
        lines = self.hud.lines()
        if self.hud.state and self.hud.state != "connected":
            lines.append(f"source {self.hud.state}")
        return lines

    def hud_rect(self) -> QRectF:
        """Where the HUD goes: the top left of the image."""
        metrics = QFontMetricsF(self._hud_font())
        lines = self._hud_lines()
        width = max(metrics.horizontalAdvance(line) for line in lines) + 16
        height = metrics.lineSpacing() * len(lines) + 10
        rect = self.visible_rect()
        return QRectF(rect.x() + 8, rect.y() + 8, width, height)

    def _paint_hud(self, painter: QPainter) -> None:
        painter.setFont(self._hud_font())
        metrics = painter.fontMetrics()
        box = self.hud_rect()
        painter.fillRect(box, QColor(0, 0, 0, 150))
        painter.setPen(QColor(235, 235, 235))
        for i, line in enumerate(self._hud_lines()):
            baseline = box.y() + 5 + metrics.ascent() + i * metrics.lineSpacing()
            painter.drawText(QPointF(box.x() + 8, baseline), line)
