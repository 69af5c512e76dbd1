"""The Track history dock: the selected track's score and attention in box over the frames
shown, with its monitoring events marked; a click on the plot seeks to that frame."""

from __future__ import annotations

from dataclasses import dataclass

from PyQt6.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPen, QPolygonF
from PyQt6.QtWidgets import QLabel, QVBoxLayout, QWidget

from live_explain.ui.event_words import event_words
from live_explain.ui.frame_update import FrameUpdate

SCORE_COLOUR, ATTENTION_COLOUR, EVENT_COLOUR = (
    QColor(250, 200, 60),
    QColor(80, 200, 250),
    QColor(235, 70, 70),
)
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 34.0, 10.0, 18.0, 20.0


@dataclass(frozen=True)
class TrackPoint:
    """One frame of one track: its score, attention in box (``None``: no map) and events."""

    frame: int
    score: float
    attention: float | None
    events: str


class TrackHistory:
    """Every tracked detection's points, by track id, as frames are shown (a frame shown
    again replaces its point)."""

    def __init__(self) -> None:
        self.points: dict[int, dict[int, TrackPoint]] = {}
        self.names: dict[int, str] = {}

    def clear(self) -> None:
        self.points.clear()
        self.names.clear()

    def add(self, update: FrameUpdate) -> None:
        dets = update.detections
        if dets.track_ids is None:
            return
        for row, key in enumerate(update.selection_keys):
            events = update.row_events[row] if row < len(update.row_events) else ""
            attention = update.attention[row] if row < len(update.attention) else None
            point = TrackPoint(update.position, float(dets.scores[row]), attention, events)
            self.points.setdefault(key, {})[update.position] = point
            self.names[key] = dets.names[row]

    def of(self, key: int | None) -> list[TrackPoint]:
        if key is None:
            return []
        return [p for _, p in sorted(self.points.get(key, {}).items())]


class HistoryPlot(QWidget):
    """The plot; ``jump(frame)`` when clicked."""

    jump = pyqtSignal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(120)
        self.points: list[TrackPoint] = []
        self.position: int | None = None
        self.setMouseTracking(True)

    def show_points(self, points: list[TrackPoint], position: int | None) -> None:
        self.points, self.position = points, position
        self.update()

    def frame_range(self) -> tuple[int, int]:
        first, last = self.points[0].frame, self.points[-1].frame
        return first, max(last, first + 10)

    def plot_rect(self) -> QRectF:
        return QRectF(self.rect()).adjusted(MARGIN_LEFT, MARGIN_TOP, -MARGIN_RIGHT, -MARGIN_BOTTOM)

    def x_of(self, frame: float) -> float:
        first, last = self.frame_range()
        area = self.plot_rect()
        return area.left() + (frame - first) / (last - first) * area.width()

    def frame_at(self, x: float) -> int | None:
        """The shown frame of the track nearest to ``x`` (``None`` without points)."""
        if not self.points:
            return None
        return min(self.points, key=lambda p: abs(self.x_of(p.frame) - x)).frame

    def mousePressEvent(self, event: QMouseEvent) -> None:
        frame = self.frame_at(event.position().x())
        if event.button() == Qt.MouseButton.LeftButton and frame is not None:
            self.jump.emit(frame)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(24, 24, 28))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = self.plot_rect()
        painter.setPen(QColor(90, 90, 96))
        painter.drawRect(area)
        painter.setPen(QColor(190, 190, 190))
        for value in (0.0, 0.5, 1.0):
            y = area.bottom() - value * area.height()
            painter.drawText(QPointF(4, y + 4), f"{value:.1f}")
        if not self.points:
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "select a tracked detection")
            return
        first, last = self.frame_range()
        painter.drawText(QPointF(area.left(), area.bottom() + 15), f"frame {first + 1}")
        end = f"frame {last + 1}"
        painter.drawText(
            QPointF(
                area.right() - painter.fontMetrics().horizontalAdvance(end), area.bottom() + 15
            ),
            end,
        )
        self._line(painter, area, [(p.frame, p.score) for p in self.points], SCORE_COLOUR)
        attention = [(p.frame, p.attention) for p in self.points if p.attention is not None]
        self._line(painter, area, attention, ATTENTION_COLOUR)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(EVENT_COLOUR)
        for point in self.points:
            if point.events:
                x = self.x_of(point.frame)
                top = area.top()
                painter.drawPolygon(
                    QPolygonF([QPointF(x - 4, top - 8), QPointF(x + 4, top - 8), QPointF(x, top)])
                )
        if self.position is not None and first <= self.position <= last:
            painter.setPen(QPen(QColor(255, 255, 255, 180), 1.0, Qt.PenStyle.DashLine))
            x = self.x_of(self.position)
            painter.drawLine(QPointF(x, area.top()), QPointF(x, area.bottom()))
        painter.end()

    def _line(self, painter: QPainter, area: QRectF, values, colour: QColor) -> None:
        if not values:
            return
        path = QPainterPath()
        for i, (frame, value) in enumerate(values):
            point = QPointF(self.x_of(frame), area.bottom() - value * area.height())
            path.moveTo(point) if i == 0 else path.lineTo(point)
        painter.setPen(QPen(colour, 1.8))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        if len(values) == 1:
            painter.drawEllipse(path.currentPosition(), 2.5, 2.5)


class TrackHistoryPanel(QWidget):
    """The dock's content: a caption, the key, the plot."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = TrackHistory()
        self.key: int | None = None
        self.caption = QLabel("Select a detection (click its box) to follow its track.")
        self.caption.setWordWrap(True)
        key = QLabel(
            f'<span style="color:{SCORE_COLOUR.name()}">━ score</span> &nbsp; '
            f'<span style="color:{ATTENTION_COLOUR.name()}">━ attention in box</span> &nbsp; '
            f'<span style="color:{EVENT_COLOUR.name()}">▼ event</span> &nbsp; '
            "click: go to that frame"
        )
        self.plot = HistoryPlot()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(key)
        layout.addWidget(self.plot, 1)

    def clear(self) -> None:
        self.history.clear()
        self.follow(None, None)

    def add(self, update: FrameUpdate) -> None:
        self.history.add(update)
        self.plot.position = update.position
        self._refresh()

    def follow(self, key: int | None, position: int | None) -> None:
        self.key = key
        self.plot.position = position
        self._refresh()

    def _refresh(self) -> None:
        points = self.history.of(self.key)
        self.plot.show_points(points, self.plot.position)
        if self.key is None or not points:
            self.caption.setText("Select a detection (click its box) to follow its track.")
            return
        events = sorted({e for p in points for e in p.events.split(", ") if e})
        said = f"; events: {event_words(', '.join(events))}" if events else "; no events"
        name = self.history.names.get(self.key, "")
        self.caption.setText(f"<b>{name} #{self.key}</b>: seen on {len(points)} frames shown{said}")
