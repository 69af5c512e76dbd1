"""Zoom and pan for the video: the wheel zooms about the mouse, a drag pans, a double-click
fits the frame to the window again. Everything that maps between frame and widget pixels goes
through ``image_rect``, so boxes, labels, hover and clicks follow the zoom."""

from __future__ import annotations

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QMouseEvent, QWheelEvent

from live_explain.ui.images import fit_rect

MAX_ZOOM = 8.0
WHEEL_STEP = 1.25  # zoom factor per wheel notch
DRAG_START_PX = 4  # a press that moves less than this is a click, not a drag


class ZoomPan:
    """Mixed into an :class:`~live_explain.ui.images.ImagePane`; call :meth:`_init_zoom`."""

    def _init_zoom(self) -> None:
        self.zoom = 1.0
        self.pan = QPointF(0.0, 0.0)  # the zoomed image's offset from the fitted one's centre
        self._press: QPointF | None = None
        self._dragging = False

    def image_rect(self) -> QRectF:
        fitted = fit_rect(self.image.size(), QRectF(self.rect()))
        if fitted.isEmpty() or self.zoom == 1.0:
            return fitted
        width, height = fitted.width() * self.zoom, fitted.height() * self.zoom
        centre = fitted.center() + self.pan
        return QRectF(centre.x() - width / 2, centre.y() - height / 2, width, height)

    def visible_rect(self) -> QRectF:
        """The part of the image on screen (the HUD and legend stay inside it)."""
        return self.image_rect().intersected(QRectF(self.rect()))

    def fit(self) -> None:
        self.zoom, self.pan = 1.0, QPointF(0.0, 0.0)
        self.update()

    def zoom_at(self, point: QPointF, factor: float) -> None:
        """Zoom by ``factor`` keeping the frame pixel under ``point`` where it is."""
        before = self.image_rect()
        if before.isEmpty():
            return
        zoom = min(max(self.zoom * factor, 1.0), MAX_ZOOM)
        if zoom == 1.0:
            self.fit()
            return
        fx = (point.x() - before.x()) / before.width()
        fy = (point.y() - before.y()) / before.height()
        self.zoom = zoom
        after = self.image_rect()
        self.pan += QPointF(
            point.x() - (after.x() + fx * after.width()),
            point.y() - (after.y() + fy * after.height()),
        )
        self._keep_in_view()
        self.update()

    def _keep_in_view(self) -> None:
        """No panning past the image's edges: it always covers the widget's middle."""
        rect, middle = self.image_rect(), QRectF(self.rect()).center()
        dx = min(0.0, middle.x() - rect.left()) + max(0.0, middle.x() - rect.right())
        dy = min(0.0, middle.y() - rect.top()) + max(0.0, middle.y() - rect.bottom())
        self.pan += QPointF(dx, dy)

    # -- events (the subclass calls these from its own handlers) -------------------------
    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120.0
        if notches:
            self.zoom_at(event.position(), WHEEL_STEP**notches)
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.fit()
        event.accept()

    def _drag_press(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press, self._dragging = event.position(), False

    def _drag_move(self, event: QMouseEvent) -> bool:
        """True while the mouse drags the zoomed image."""
        if self._press is None or not event.buttons() & Qt.MouseButton.LeftButton:
            return False
        moved = event.position() - self._press
        if not self._dragging and abs(moved.x()) + abs(moved.y()) < DRAG_START_PX:
            return False
        self._dragging = True
        if self.zoom > 1.0:
            self.pan += moved
            self._press = event.position()
            self._keep_in_view()
            self.update()
        return True

    def _drag_release(self, event: QMouseEvent) -> bool:
        """True when the release is a click: it ends a press (not the second half of a
        double-click, which fits the frame) that did not drag."""
        click = self._press is not None and not self._dragging
        self._press, self._dragging = None, False
        return click
