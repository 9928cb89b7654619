"""A node card on the canvas: coloured header with the block's short label, output shape, parameter count
and its ports.

The card holds no graph state of its own beyond what it paints: the scene sets its texts from the document
and the shape report, and it repaints only itself.  Cards are cached as device pixmaps, so a 200-node graph
pans and zooms without repainting every card.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from nnstudio.ui.icons import block_icon, group_colour

NODE_WIDTH = 200.0
HEADER_HEIGHT = 28.0
BODY_HEIGHT = 46.0
PORT_SPACING = 20.0
PORT_RADIUS = 6.0

BODY_COLOUR = QColor("#262A33")
BORDER_COLOUR = QColor("#3A3F4B")
SELECTED_COLOUR = QColor("#7AA2FF")
ERROR_COLOUR = QColor("#F05454")
WARNING_COLOUR = QColor("#E9B949")
TEXT_COLOUR = QColor("#E8EAF0")
MUTED_COLOUR = QColor("#9AA3B2")
PORT_FILL = QColor("#1B1E25")
BADGE_HEIGHT = 18.0  # the cost badge under the card (View > Layer costs)
BADGE_FILL = QColor("#1F2F4D")
BADGE_LARGEST = QColor("#B8860B")


def format_shape(shape: Any) -> str:
    """"6×28×28" for (6, 28, 28); "?" when unknown."""
    if shape is None:
        return "?"
    try:
        return "×".join(str(int(d)) for d in shape)
    except (TypeError, ValueError):
        return str(shape)


def format_count(count: int) -> str:
    """"61.7k" style parameter counts for small labels."""
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k".replace(".0k", "k")
    return f"{count / 1_000_000:.2f}M"


class PortItem(QGraphicsItem):
    """One input or output port of a node; the scene starts and ends wires on these."""

    def __init__(self, node: "NodeItem", direction: str, index: int) -> None:
        super().__init__(node)
        self.node = node
        self.direction = direction  # "in" or "out"
        self.index = index
        self.connected = False
        self.highlight = False
        self.setAcceptHoverEvents(True)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setZValue(2)

    @property
    def node_id(self) -> str:
        return self.node.node_id

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt name)
        r = PORT_RADIUS + 4  # generous hit area
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = group_colour(self.node.group)
        pen = QPen(SELECTED_COLOUR if self.highlight else colour, 2.0)
        painter.setPen(pen)
        painter.setBrush(colour if (self.connected or self.highlight) else PORT_FILL)
        painter.drawEllipse(QPointF(0, 0), PORT_RADIUS, PORT_RADIUS)

    def hoverEnterEvent(self, event: Any) -> None:  # noqa: N802
        self.highlight = True
        self.update()

    def hoverLeaveEvent(self, event: Any) -> None:  # noqa: N802
        self.highlight = False
        self.update()


class NodeItem(QGraphicsItem):
    """The card of one node.  ``node_id`` is the document's id; everything shown comes from the scene."""

    def __init__(self, node_id: str, block_type: str, group: str, n_inputs: int) -> None:
        super().__init__()
        self.node_id = node_id
        self.block_type = block_type
        self.group = group
        self.n_inputs = n_inputs
        self.title = block_type
        self.shape_text = ""
        self.params_text = ""
        self.problem = ""
        self.severity = ""
        self.description = ""  # tooltip when the node has no problem
        self.cost_text = ""  # the cost badge under the card; empty: no badge
        self.cost_largest = False
        self.output_port = PortItem(self, "out", 0)
        self.input_ports: list[PortItem] = []
        self._height = HEADER_HEIGHT + BODY_HEIGHT
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsMovable
                      | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
                      | QGraphicsItem.GraphicsItemFlag.ItemSendsScenePositionChanges)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.set_input_count(1 if n_inputs != 0 else 0)
        self._place_ports()

    # -- content ------------------------------------------------------------------------------------
    def set_input_count(self, count: int) -> None:
        """Show ``count`` input ports (merge blocks: connected + 1 free)."""
        if count == len(self.input_ports):
            return
        self.prepareGeometryChange()
        while len(self.input_ports) > count:
            port = self.input_ports.pop()
            port.setParentItem(None)
            if port.scene() is not None:
                port.scene().removeItem(port)
        while len(self.input_ports) < count:
            self.input_ports.append(PortItem(self, "in", len(self.input_ports)))
        rows = max(1, count)
        self._height = HEADER_HEIGHT + max(BODY_HEIGHT, rows * PORT_SPACING + 10)
        self._place_ports()
        self.update()

    def _place_ports(self) -> None:
        body_top = HEADER_HEIGHT
        body_h = self._height - HEADER_HEIGHT
        n = len(self.input_ports)
        for i, port in enumerate(self.input_ports):
            y = body_top + body_h / 2 + (i - (n - 1) / 2) * PORT_SPACING
            port.setPos(0.0, y)
        self.output_port.setPos(NODE_WIDTH, body_top + body_h / 2)

    def set_texts(self, title: str | None = None, shape_text: str | None = None,
                  params_text: str | None = None) -> None:
        changed = False
        for attr, value in (("title", title), ("shape_text", shape_text), ("params_text", params_text)):
            if value is not None and getattr(self, attr) != value:
                setattr(self, attr, value)
                changed = True
        if changed:
            self.update()

    def set_cost(self, text: str, largest: bool = False) -> None:
        """The cost badge under the card ("1.28M MACs · 75%"); an empty text removes it."""
        if (text, largest) == (self.cost_text, self.cost_largest):
            return
        if bool(text) != bool(self.cost_text):
            self.prepareGeometryChange()
        self.cost_text, self.cost_largest = text, largest
        self.update()

    def set_problem(self, text: str, severity: str = "error") -> None:
        if (text, severity if text else "") == (self.problem, self.severity):
            return
        self.problem = text
        self.severity = severity if text else ""
        self.setToolTip(text or self.description)
        self.update()

    def input_port(self, index: int) -> PortItem | None:
        return self.input_ports[index] if 0 <= index < len(self.input_ports) else None

    # -- geometry and painting ------------------------------------------------------------------------
    def boundingRect(self) -> QRectF:  # noqa: N802
        badge = BADGE_HEIGHT + 4 if self.cost_text else 0.0
        return QRectF(-3, -3, NODE_WIDTH + 6, self._height + 6 + badge)

    def card_rect(self) -> QRectF:
        return QRectF(0, 0, NODE_WIDTH, self._height)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        rect = self.card_rect()
        radius = 8.0
        colour = group_colour(self.group)

        card = QPainterPath()
        card.addRoundedRect(rect, radius, radius)
        painter.fillPath(card, QBrush(BODY_COLOUR))

        header = QPainterPath()
        header.addRoundedRect(QRectF(0, 0, NODE_WIDTH, HEADER_HEIGHT + radius), radius, radius)
        header = header.intersected(card)
        clip = QPainterPath()
        clip.addRect(QRectF(0, 0, NODE_WIDTH, HEADER_HEIGHT))
        painter.fillPath(header.intersected(clip), QBrush(colour.darker(115) if self.severity != "error"
                                                           else ERROR_COLOUR.darker(120)))

        if self.isSelected():
            border = QPen(SELECTED_COLOUR, 2.4)
        elif self.severity == "error":
            border = QPen(ERROR_COLOUR, 2.2)
        elif self.severity == "warning":
            border = QPen(WARNING_COLOUR, 1.8)
        else:
            border = QPen(BORDER_COLOUR, 1.2)
        painter.setPen(border)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(card)

        icon = block_icon(self.block_type, self.group)
        if not icon.isNull():
            icon.paint(painter, QRectF(8, 5, 18, 18).toRect())

        title_font = QFont()
        title_font.setPointSizeF(9.0)
        title_font.setBold(True)
        painter.setFont(title_font)
        painter.setPen(QColor("#FFFFFF"))
        metrics = QFontMetricsF(title_font)
        title = metrics.elidedText(self.title, Qt.TextElideMode.ElideRight, NODE_WIDTH - 40)
        painter.drawText(QRectF(32, 0, NODE_WIDTH - 40, HEADER_HEIGHT),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, title)

        body_font = QFont()
        body_font.setPointSizeF(8.5)
        painter.setFont(body_font)
        body = QRectF(16, HEADER_HEIGHT + 4, NODE_WIDTH - 32, self._height - HEADER_HEIGHT - 8)
        painter.setPen(ERROR_COLOUR.lighter(130) if self.severity == "error" else TEXT_COLOUR)
        shape_line = f"→ {self.shape_text}" if self.shape_text else ""
        if self.severity == "error" and not self.shape_text:
            shape_line = "⚠ " + metrics.elidedText(self.problem, Qt.TextElideMode.ElideRight, NODE_WIDTH - 20)
        painter.drawText(QRectF(body.left(), body.top(), body.width(), body.height() / 2),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, shape_line)
        painter.setPen(MUTED_COLOUR)
        painter.drawText(QRectF(body.left(), body.top() + body.height() / 2, body.width(), body.height() / 2),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, self.params_text)
        painter.drawText(QRectF(body.left(), body.top() + body.height() / 2, body.width(), body.height() / 2),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, self.node_id)
        if self.cost_text:
            self._paint_cost(painter, body_font)

    def _paint_cost(self, painter: QPainter, font: QFont) -> None:
        badge = QRectF(10, self._height + 4, NODE_WIDTH - 20, BADGE_HEIGHT)
        painter.setPen(QPen(BADGE_LARGEST, 1.4) if self.cost_largest else Qt.PenStyle.NoPen)
        painter.setBrush(BADGE_LARGEST.darker(220) if self.cost_largest else BADGE_FILL)
        painter.drawRoundedRect(badge, BADGE_HEIGHT / 2, BADGE_HEIGHT / 2)
        painter.setFont(font)
        painter.setPen(QColor("#FFE9A8") if self.cost_largest else TEXT_COLOUR)
        text = QFontMetricsF(font).elidedText(self.cost_text, Qt.TextElideMode.ElideRight, badge.width() - 12)
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)

    # -- movement -----------------------------------------------------------------------------------
    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:  # noqa: N802
        scene = self.scene()
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and scene is not None:
            snap = getattr(scene, "snap_position", None)
            if snap is not None:
                return snap(value)
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged and scene is not None:
            moved = getattr(scene, "node_item_moved", None)
            if moved is not None:
                moved(self)
        return super().itemChange(change, value)
