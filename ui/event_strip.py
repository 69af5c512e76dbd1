"""The event timeline under the seek slider: a mark per frame with monitoring events
(attention outside the box, class flips, flicker, dropouts, ...), coloured by kind as in the
HTML report; clicking a mark jumps to its frame."""

from __future__ import annotations

from collections.abc import Iterable

from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PyQt6.QtWidgets import QSizePolicy, QWidget

from live_explain.monitor.events import EVENT_KINDS
from live_explain.monitor.timeline_svg import KIND_COLOURS

ROW_HEIGHT = 3
CLICK_SLACK_PX = 4


class EventStrip(QWidget):
    """Event marks over a replay's frames; ``jump(frame)`` when one is clicked."""

    jump = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.frame_count = 0
        self.events: dict[int, set[str]] = {}  # frame -> kinds seen there
        self.setFixedHeight(ROW_HEIGHT * len(EVENT_KINDS) + 4)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("events: click a mark to jump to its frame")
        self.setVisible(False)

    def reset(self, frame_count: int | None) -> None:
        """A new source: no marks; hidden for live sources (no frame axis)."""
        self.frame_count = frame_count or 0
        self.events.clear()
        self.setVisible(self.frame_count > 0)
        self.update()

    def add(self, frame: int, kinds: Iterable[str]) -> None:
        kinds = set(kinds)
        if kinds and self.frame_count:
            self.events.setdefault(frame, set()).update(kinds)
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
        for frame, kinds in self.events.items():
            x = self.x_of(frame)
            for row, kind in enumerate(EVENT_KINDS):
                if kind in kinds:
                    top = 2 + row * ROW_HEIGHT
                    rect = QRectF(QPointF(x - 1, top), QPointF(x + 1, top + ROW_HEIGHT))
                    painter.fillRect(rect, QColor(KIND_COLOURS.get(kind, "#999999")))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            frame = self.frame_at(event.position().x())
            if frame is not None:
                self.jump.emit(frame)
                return
        super().mousePressEvent(event)
