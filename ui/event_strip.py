"""The event timeline under the seek slider: a mark per frame with monitoring events
(attention outside the box, class flips, flicker, dropouts, ...), one row per kind, coloured
as in the HTML report, with a legend under the rows; hovering a mark names its frame and
events, clicking it jumps to its frame."""

from __future__ import annotations

from collections.abc import Iterable

from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PyQt6.QtWidgets import QSizePolicy, QWidget

from live_explain.monitor.events import EVENT_KINDS
from live_explain.monitor.timeline_svg import KIND_COLOURS
from live_explain.ui.event_words import EVENT_WORDS, event_meanings

ROW_HEIGHT = 5
LEGEND_HEIGHT = 15
CLICK_SLACK_PX = 4


class EventStrip(QWidget):
    """Event marks over a replay's frames; ``jump(frame)`` when one is clicked."""

    jump = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frame_count = 0
        self.events: dict[int, set[str]] = {}  # frame -> kinds seen there
        self.marks: tuple[int | None, int | None] = (None, None)  # export in and out
        self.setFixedHeight(ROW_HEIGHT * len(EVENT_KINDS) + 4 + LEGEND_HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self.setVisible(False)

    def reset(self, frame_count: int | None) -> None:
        """A new source: no marks; hidden for live sources (no frame axis)."""
        self.frame_count = frame_count or 0
        self.events.clear()
        self.marks = (None, None)
        self.setVisible(self.frame_count > 0)
        self.update()

    def add(self, frame: int, kinds: Iterable[str]) -> None:
        kinds = set(kinds)
        if kinds and self.frame_count:
            self.events.setdefault(frame, set()).update(kinds)
            self.update()

    def set_marks(self, first: int | None, last: int | None) -> None:
        """Shade the export range from the in mark to the out mark."""
        self.marks = (first, last)
        self.update()

    def x_of(self, frame: int) -> float:
        return 2 + (self.width() - 4) * frame / max(self.frame_count - 1, 1)

    def frame_at(self, x: float) -> int | None:
        """The marked frame nearest ``x`` (within a few pixels), if any."""
        best, best_dx = None, CLICK_SLACK_PX + 1e-6
        for frame in self.events:
            dx = abs(self.x_of(frame) - x)
            if dx <= best_dx:
                best, best_dx = frame, dx
        return best

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#f3f3f3"))
        first, last = self.marks
        if first is not None or last is not None:
            left = self.x_of(first or 0)
            right = self.x_of(self.frame_count - 1 if last is None else last)
            marks_height = ROW_HEIGHT * len(EVENT_KINDS) + 4
            painter.fillRect(QRectF(left, 0, max(right - left, 2), marks_height), QColor("#cfe3ff"))
        for frame, kinds in self.events.items():
            x = self.x_of(frame)
            for row, kind in enumerate(EVENT_KINDS):
                if kind in kinds:
                    top = 2 + row * ROW_HEIGHT
                    rect = QRectF(QPointF(x - 1, top), QPointF(x + 1, top + ROW_HEIGHT))
                    painter.fillRect(rect, QColor(KIND_COLOURS.get(kind, "#999999")))
        self._paint_legend(painter)
        painter.end()

    def _paint_legend(self, painter: QPainter) -> None:
        """A swatch and a short name per kind, in the rows' order, under the marks."""
        top = 4 + ROW_HEIGHT * len(EVENT_KINDS)
        font = painter.font()
        font.setPointSizeF(7.5)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        x = 4.0
        for kind in EVENT_KINDS:
            painter.fillRect(QRectF(x, top + 4, 8, 8), QColor(KIND_COLOURS.get(kind, "#999999")))
            painter.setPen(QColor(60, 60, 60))
            painter.drawText(QPointF(x + 11, top + 3 + metrics.ascent()), EVENT_WORDS[kind])
            x += 11 + metrics.horizontalAdvance(EVENT_WORDS[kind]) + 12

    def tip_at(self, x: float) -> str:
        """The hover text at ``x``: the mark's frame and events, or how to read the strip."""
        frame = self.frame_at(x)
        if frame is None:
            return "monitoring events, one row per kind; click a mark to go to its frame"
        kinds = ", ".join(k for k in EVENT_KINDS if k in self.events[frame])
        return f"frame {frame + 1}\n{event_meanings(kinds)}"

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self.setToolTip(self.tip_at(event.position().x()))
        super().mouseMoveEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            frame = self.frame_at(event.position().x())
            if frame is not None:
                self.jump.emit(frame)
                return
        super().mousePressEvent(event)
