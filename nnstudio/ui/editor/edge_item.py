"""A wire on the canvas: a smooth curve from an output port to an input port, labelled at its middle with
the shape of the tensor that flows through it.

Like the node cards, a wire only paints what the scene tells it; the scene re-routes it when one of its
two cards moves and sets its label after each shape inference.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

WIRE_COLOUR = QColor("#7C8597")
WIRE_SELECTED = QColor("#7AA2FF")
WIRE_ERROR = QColor("#F05454")
LABEL_BG = QColor("#1B1E25")
LABEL_TEXT = QColor("#C9D1E0")


def wire_path(start: QPointF, end: QPointF) -> QPainterPath:
    """A horizontal S-curve between two points.

    A wire running backwards (to a card left of its source, e.g. where a long network wraps into the next
    band) leaves to the right, runs back along the gap halfway between the two cards and enters from the
    left, instead of cutting diagonally across other cards.
    """
    path = QPainterPath(start)
    dx = end.x() - start.x()
    if dx >= -10.0 or abs(end.y() - start.y()) < 30.0:
        bend = max(40.0, abs(dx) * 0.5)
        path.cubicTo(QPointF(start.x() + bend, start.y()), QPointF(end.x() - bend, end.y()), end)
        return path
    mid_y = (start.y() + end.y()) / 2.0
    reach = 36.0
    path.cubicTo(QPointF(start.x() + reach * 1.6, start.y()), QPointF(start.x() + reach * 1.6, mid_y),
                 QPointF(start.x(), mid_y))
    path.lineTo(QPointF(end.x(), mid_y))
    path.cubicTo(QPointF(end.x() - reach * 1.6, mid_y), QPointF(end.x() - reach * 1.6, end.y()), end)
    return path


class EdgeItem(QGraphicsPathItem):
    """The wire of one document edge; ``edge`` is the document's Edge (src, dst, port)."""

    def __init__(self, edge: Any) -> None:
        super().__init__()
        self.edge = edge
        self.label = ""
        self.broken = False
        self._label_rect = QRectF()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(0)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setAcceptHoverEvents(True)
        self._font = QFont()
        self._font.setPointSizeF(8.0)

    def route(self, start: QPointF, end: QPointF) -> None:
        self.setPath(wire_path(start, end))
        self._layout_label()

    def set_label(self, text: str, broken: bool = False) -> None:
        if text == self.label and broken == self.broken:
            return
        self.prepareGeometryChange()
        self.label = text
        self.broken = broken
        self.setToolTip(text)
        self._layout_label()
        self.update()

    def _layout_label(self) -> None:
        if not self.label:
            self._label_rect = QRectF()
            return
        metrics = QFontMetricsF(self._font)
        width = metrics.horizontalAdvance(self.label) + 12
        height = metrics.height() + 4
        mid = self.path().pointAtPercent(0.5)
        self._label_rect = QRectF(mid.x() - width / 2, mid.y() - height / 2, width, height)

    def label_rect(self) -> QRectF:
        return QRectF(self._label_rect)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return super().boundingRect().adjusted(-4, -4, 4, 4).united(self._label_rect)

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(12)
        outline = stroker.createStroke(self.path())
        if not self._label_rect.isNull():
            outline.addRect(self._label_rect)
        return outline

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = WIRE_SELECTED if self.isSelected() else (WIRE_ERROR if self.broken else WIRE_COLOUR)
        painter.setPen(QPen(colour, 2.6 if self.isSelected() else 2.0, Qt.PenStyle.SolidLine,
                            Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
        if self.label:
            painter.setPen(QPen(colour, 1.0))
            painter.setBrush(QBrush(LABEL_BG))
            painter.drawRoundedRect(self._label_rect, 6, 6)
            painter.setFont(self._font)
            painter.setPen(LABEL_TEXT if not self.broken else WIRE_ERROR.lighter(130))
            painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)
