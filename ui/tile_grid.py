"""A grid of tiles (feature maps, patches, filters) with its captions drawn at screen
resolution, and the column count that makes the tiles biggest in a given pane."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QRectF
from PyQt6.QtGui import QColor, QFont, QImage, QPainter
from PyQt6.QtWidgets import QWidget

from live_explain.explain.features import GAP, TILE, grid_shape, tile_origin
from live_explain.ui.images import ImagePane, bgr_to_qimage


def best_columns(count: int, width: float, height: float) -> int:
    """The number of columns that gives ``count`` tiles the biggest size in width x height."""
    if count <= 0 or width <= 0 or height <= 0:
        return 1

    def side(columns: int) -> float:
        rows, columns = grid_shape(count, columns)
        return min(width / (columns * (TILE + GAP) + GAP), height / (rows * (TILE + GAP) + GAP))

    return max(range(1, count + 1), key=side)


class TileGridPane(ImagePane):
    """Paints a grid image and, over each tile, its caption in an 8 pt font."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(placeholder, parent)
        self.captions: list[str] = []
        self.columns = 1

    def set_grid(self, grid: np.ndarray | None, captions: list[str], columns: int) -> None:
        self.captions, self.columns = list(captions), columns
        self.set_image(bgr_to_qimage(grid) if grid is not None else QImage())

    def paint_over(self, painter: QPainter) -> None:
        rect = self.image_rect()
        if rect.isEmpty() or not self.captions:
            return
        scale = rect.width() / max(self.image.width(), 1)
        font = QFont(painter.font())
        font.setPointSizeF(8.0)
        painter.setFont(font)
        metrics = painter.fontMetrics()
        for index, caption in enumerate(self.captions):
            x, y = tile_origin(index, self.columns)
            left, top = rect.x() + x * scale, rect.y() + y * scale
            box = QRectF(left, top, metrics.horizontalAdvance(caption) + 6, metrics.height() + 2)
            painter.fillRect(box, QColor(0, 0, 0, 150))
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(QPointF(left + 3, top + 1 + metrics.ascent()), caption)
