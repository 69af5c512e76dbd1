"""The colormap legend in the corner of the video: which colour is cold and which is hot.

The bar fades in from the left as the overlay does (a map's opacity follows its heat), so
the legend shows the colours as they appear on the frame.
"""

from __future__ import annotations

from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QFontMetricsF, QLinearGradient, QPainter

from live_explain.explain.methods import get_method
from live_explain.render.overlay import HEAT_FULL, colormap_colours

BAR_WIDTH, BAR_HEIGHT, MARGIN = 150.0, 10.0, 8.0


def legend_font(base: QFont) -> QFont:
    font = QFont(base)
    font.setPointSizeF(8.0)
    return font


def legend_rect(base_font: QFont, area: QRectF, title: str) -> QRectF:
    """Where the legend goes: the bottom right of ``area`` (the image's rect)."""
    metrics = QFontMetricsF(legend_font(base_font))
    width = max(BAR_WIDTH, metrics.horizontalAdvance(title)) + 2 * MARGIN
    height = BAR_HEIGHT + 2 * metrics.height() + 2 * MARGIN
    return QRectF(area.right() - width - 8, area.bottom() - height - 8, width, height)


def paint_legend(
    painter: QPainter, box: QRectF, colormap: str, title: str, base_font: QFont
) -> None:
    """The legend bar in ``box`` (from :func:`legend_rect` with the same ``base_font``)."""
    painter.setFont(legend_font(base_font))
    metrics = painter.fontMetrics()
    text_h = metrics.height()
    width = box.width()
    painter.fillRect(box, QColor(0, 0, 0, 160))
    painter.setPen(QColor(235, 235, 235))
    painter.drawText(QPointF(box.x() + MARGIN, box.y() + MARGIN + metrics.ascent()), title)
    bar = QRectF(box.x() + MARGIN, box.y() + MARGIN + text_h + 2, width - 2 * MARGIN, BAR_HEIGHT)
    gradient = QLinearGradient(bar.topLeft(), bar.topRight())
    colours = colormap_colours(colormap)
    for step in range(17):
        level = step / 16
        b, g, r = (int(v) for v in colours[min(255, round(level * 255))])
        opacity = min(level, HEAT_FULL) / HEAT_FULL  # as the overlay fades cold heat out
        gradient.setColorAt(level, QColor(r, g, b, round(60 + 195 * opacity)))
    painter.fillRect(bar, gradient)
    baseline = bar.bottom() + 2 + metrics.ascent()
    painter.drawText(QPointF(bar.left(), baseline), "low")
    high = "high"
    painter.drawText(QPointF(bar.right() - metrics.horizontalAdvance(high), baseline), high)
    painter.setPen(Qt.PenStyle.NoPen)


def legend_title(settings) -> str:
    """What the legend's colours are: the method, and how its maps are shown."""
    try:
        title = get_method(settings.method).title
    except Exception:  # an unknown name: the name itself
        title = settings.method
    if settings.selected is not None:
        return f"{title}: the selected detection"
    return f"{title}: {'merged over detections' if settings.merged else 'each box its own map'}"
