"""NumPy images to Qt images, and a widget that paints one with its aspect kept."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QImage, QPainter, QPaintEvent
from PyQt6.QtWidgets import QSizePolicy, QWidget


def bgr_to_qimage(image_bgr: np.ndarray) -> QImage:
    """A QImage that owns a copy of an (H, W, 3) BGR uint8 array."""
    image = np.ascontiguousarray(image_bgr)
    height, width = image.shape[:2]
    qimage = QImage(image.data, width, height, image.strides[0], QImage.Format.Format_BGR888)
    return qimage.copy()  # detach from the NumPy buffer


def png_bytes(image) -> bytes:
    """A QImage or QPixmap encoded as PNG in memory: the file is then written by Python, so
    that a full disk is one clear error instead of libpng's own line on stderr."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise ValueError("the picture could not be encoded as PNG")
    buffer.close()
    return bytes(data)


def fit_rect(image_size: QSize, area: QRectF) -> QRectF:
    """The largest rectangle of ``image_size``'s aspect centred in ``area``."""
    if image_size.isEmpty() or area.isEmpty():
        return QRectF()
    scale = min(area.width() / image_size.width(), area.height() / image_size.height())
    width, height = image_size.width() * scale, image_size.height() * scale
    left = area.x() + (area.width() - width) / 2
    top = area.y() + (area.height() - height) / 2
    return QRectF(left, top, width, height)


class ImagePane(QWidget):
    """Paints a QImage scaled to fit, aspect kept, centred on a dark background.

    Drawing goes through QPainter in logical coordinates, so on a high-DPI screen the
    image is sampled at the device's resolution, not blown up from a logical-size copy.
    """

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image = QImage()
        self.placeholder = placeholder
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 90)

    def set_image(self, image: QImage) -> None:
        self.image = image
        self.update()

    def image_rect(self) -> QRectF:
        """Where the image is drawn, in widget coordinates (empty without an image)."""
        return fit_rect(self.image.size(), QRectF(self.rect()))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(18, 18, 20))
        if self.image.isNull():
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
        else:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self.image_rect(), self.image)
            self.paint_over(painter)
        painter.end()

    def paint_over(self, painter: QPainter) -> None:
        """Drawn after the image; subclasses add their marks here."""
