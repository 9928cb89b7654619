"""The node-editor canvas: one card per node and one wire per edge, kept in step with the graph document.

The scene subscribes to the document and updates only the items an event concerns (a new card, a removed
wire, one card's label), then re-runs shape inference once per burst of changes and refreshes the labels
that changed.  User gestures — dropping a block, dragging a wire, moving cards, deleting, pasting — become
undo commands on the shared :class:`QUndoStack`; the scene never edits the document directly.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from PySide6.QtCore import QMimeData, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPen, QTransform, QUndoStack
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsScene, QGraphicsSceneMouseEvent

from nnstudio.graph.catalogue import BLOCKS
from nnstudio.graph.document import Edge, Graph, GraphEvent
from nnstudio.graph.shapes import ShapeReport, infer_shapes
from nnstudio.training.validation import validate_project
from nnstudio.ui.editor.commands import (AddNodeCommand, ConnectCommand, DeleteCommand, MoveNodesCommand,
                                         PasteCommand, SetParamCommand, auto_layout_command)
from nnstudio.ui.editor.edge_item import EdgeItem, wire_path
from nnstudio.ui.editor.layout import LayoutSpacing, auto_layout
from nnstudio.ui.editor.node_item import NODE_WIDTH, NodeItem, PortItem, format_count, format_shape
from nnstudio.ui.i18n import node_face, pick, tr

GRAPH_MIME = "application/x-nnstudio-graph"
GRID = 20.0
SCENE_MARGIN = 4000.0
LAYOUT_SPACING = LayoutSpacing(column=NODE_WIDTH + 86.0, row=112.0)
LAYOUT_MAX_COLUMNS = 5  # deeper networks wrap into bands below (see layout.auto_layout)
WIRE_DRAGGING = QColor("#7AA2FF")   # a wire being dragged over empty canvas
WIRE_ACCEPTED = QColor("#5BD18B")   # ... over a port that takes it
WIRE_REFUSED = QColor("#F05454")    # ... over a port that refuses it (the reason shows beside it)


def _top_left(data: Any) -> Point | None:
    """The smallest x and y of the positioned nodes of clipboard ``data`` (None when none has a position)."""
    try:
        points = [n["position"] for n in data.get("nodes", []) if isinstance(n, dict) and n.get("position")]
        return (min(float(p[0]) for p in points), min(float(p[1]) for p in points)) if points else None
    except (TypeError, ValueError, IndexError, AttributeError):
        return None


def layout_positions(graph: Graph) -> dict[str, Point]:
    """Where the auto-layout puts every node of ``graph``."""
    return auto_layout(list(graph.nodes), [(e.src, e.dst) for e in graph.edges], LAYOUT_SPACING,
                       max_columns=LAYOUT_MAX_COLUMNS)
Point = tuple[float, float]


class EditorScene(QGraphicsScene):
    """The canvas over one :class:`Graph`; edits go through ``undo_stack``."""

    report_changed = Signal(object)          # ShapeReport after each re-validation
    wire_refused = Signal(str, QPointF)      # why a wire was refused, and where (scene coordinates)
    wire_hint = Signal(str, QPointF)         # while dragging: why the port under the cursor would refuse ("": fine)
    status_message = Signal(str)

    def __init__(self, graph: Graph, undo_stack: QUndoStack, parent: Any = None) -> None:
        super().__init__(parent)
        self.undo_stack = undo_stack
        self.graph: Graph = graph
        self.node_items: dict[str, NodeItem] = {}
        self.edge_items: dict[Edge, EdgeItem] = {}
        self._edges_at: dict[str, set[Edge]] = {}  # node id -> wires touching it, so a move reroutes only those
        self.snap_enabled = True
        # The project's training settings (None: check the wiring alone); validation reads them with the graph.
        self.settings: Any = None
        self.last_refusal = ""
        self.preview_problem = ""        # why the wire being dragged would be refused where it is now
        self._report = ShapeReport()
        self._dirty = False
        self._applying = False           # positions coming from the document: no snapping, no move records
        self._dragged: set[str] = set()
        self._mouse_down = False
        self._wire_from: PortItem | None = None
        self._wire_preview: QGraphicsPathItem | None = None
        self._paste_count = 0
        self._unsubscribe: Callable[[], None] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.validate_now)
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self.setSceneRect(QRectF(-SCENE_MARGIN, -SCENE_MARGIN, 2 * SCENE_MARGIN, 2 * SCENE_MARGIN))
        self.set_graph(graph)

    # ------------------------------------------------------------------------------------------------
    # document binding
    # ------------------------------------------------------------------------------------------------
    def set_graph(self, graph: Graph) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.graph = graph
        self._unsubscribe = graph.subscribe(self._on_event)
        self._rebuild()

    def detach(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _rebuild(self) -> None:
        self.clearSelection()
        self.setSceneRect(QRectF(-SCENE_MARGIN, -SCENE_MARGIN, 2 * SCENE_MARGIN, 2 * SCENE_MARGIN))
        for item in list(self.edge_items.values()):
            self.removeItem(item)
        for item in list(self.node_items.values()):
            self.removeItem(item)
        self.edge_items.clear()
        self._edges_at.clear()
        self.node_items.clear()
        for node_id in self.graph.nodes:
            self._add_node_item(node_id)
        for edge in self.graph.edges:
            self._add_edge_item(edge)
        for node_id in self.graph.nodes:
            self._update_ports(node_id)
        self.validate_now()

    def _on_event(self, event: GraphEvent) -> None:
        kind = event.kind
        if kind == "node_added" and event.node_id:
            self._add_node_item(event.node_id)
        elif kind == "node_removed" and event.node_id:
            item = self.node_items.pop(event.node_id, None)
            for edge in list(self._edges_at.get(event.node_id, ())):
                self._remove_edge_item(edge)
            self._edges_at.pop(event.node_id, None)
            if item is not None:
                self.removeItem(item)
        elif kind == "edge_added" and event.edge is not None:
            self._add_edge_item(event.edge)
            self._update_ports(event.edge.dst)
            self._update_ports(event.edge.src)
        elif kind == "edge_removed" and event.edge is not None:
            self._remove_edge_item(event.edge)
            self._update_ports(event.edge.dst)
            self._update_ports(event.edge.src)
        elif kind == "param_changed" and event.node_id in self.node_items:
            node = self.graph.nodes[event.node_id]
            self.node_items[event.node_id].set_texts(title=node_face(node.type, node.params))
        elif kind == "node_moved" and event.node_id in self.node_items:
            self._place(self.node_items[event.node_id])
            return  # a move changes no shape
        elif kind == "reset":
            self._rebuild()
            return
        self.schedule_validation()

    def _add_node_item(self, node_id: str) -> NodeItem:
        node = self.graph.nodes[node_id]
        spec = BLOCKS[node.type]
        item = NodeItem(node_id, node.type, spec.group, spec.n_inputs)
        self._set_face(item)
        self.node_items[node_id] = item
        self.addItem(item)
        self._place(item)
        return item

    def _set_face(self, item: NodeItem) -> None:
        """The card's title, description and tooltip in the current language."""
        node = self.graph.nodes[item.node_id]
        spec = BLOCKS[node.type]
        item.set_texts(title=node_face(node.type, node.params))
        item.description = f"{pick(spec.title_en, spec.title_zh)}: {pick(spec.description_en, spec.description_zh)}"
        item.setToolTip(item.description)

    def retranslate(self) -> None:
        """After a language change: every card's face, then the checks again (their messages are in the new
        language: Problems, badges, the status bar's counts)."""
        for item in self.node_items.values():
            self._set_face(item)
        self.validate_now()

    def _place(self, item: NodeItem) -> None:
        node = self.graph.nodes[item.node_id]
        if node.position is None:
            # Not placed yet (a file without positions): stack such cards until auto-layout runs.
            index = list(self.graph.nodes).index(item.node_id)
            pos = QPointF(index * 24.0, index * 24.0)
        else:
            pos = QPointF(node.position[0], node.position[1])
        if item.pos() != pos:
            self._applying = True
            try:
                item.setPos(pos)
            finally:
                self._applying = False
        self._reroute(item.node_id)
        self._grow_scene_rect(item.sceneBoundingRect())

    def _grow_scene_rect(self, rect: QRectF) -> None:
        """Keep a wide margin of canvas around every card, so any card can be centred and panned to."""
        wanted = rect.adjusted(-SCENE_MARGIN, -SCENE_MARGIN, SCENE_MARGIN, SCENE_MARGIN)
        current = self.sceneRect()
        if not current.contains(wanted):
            self.setSceneRect(current.united(wanted))

    def _add_edge_item(self, edge: Edge) -> None:
        if edge in self.edge_items or edge.src not in self.node_items or edge.dst not in self.node_items:
            return
        item = EdgeItem(edge)
        self.edge_items[edge] = item
        self._edges_at.setdefault(edge.src, set()).add(edge)
        self._edges_at.setdefault(edge.dst, set()).add(edge)
        self.addItem(item)
        label = format_shape(self._report.shapes.get(edge.src)) if self._report.shapes.get(edge.src) else ""
        item.set_label(label)
        self._route(item)

    def _remove_edge_item(self, edge: Edge) -> None:
        item = self.edge_items.pop(edge, None)
        for end in (edge.src, edge.dst):
            self._edges_at.get(end, set()).discard(edge)
        if item is not None:
            self.removeItem(item)

    def _update_ports(self, node_id: str) -> None:
        item = self.node_items.get(node_id)
        if item is None:
            return
        incoming = [e for e in self.graph.edges if e.dst == node_id]
        if item.n_inputs == -1:
            top = max((e.port for e in incoming), default=-1)
            item.set_input_count(max(len(incoming) + 1, top + 1))
        taken = {e.port for e in incoming}
        for port in item.input_ports:
            port.connected = port.index in taken
            port.update()
        item.output_port.connected = any(e.src == node_id for e in self.graph.edges)
        item.output_port.update()
        self._reroute(node_id)

    # ------------------------------------------------------------------------------------------------
    # wires follow cards
    # ------------------------------------------------------------------------------------------------
    def _route(self, item: EdgeItem) -> None:
        src = self.node_items.get(item.edge.src)
        dst = self.node_items.get(item.edge.dst)
        if src is None or dst is None:
            return
        port = dst.input_port(item.edge.port)
        end = port.scenePos() if port is not None else dst.mapToScene(QPointF(0, 40))
        item.route(src.output_port.scenePos(), end)

    def _reroute(self, node_id: str) -> None:
        for edge in self._edges_at.get(node_id, ()):
            item = self.edge_items.get(edge)
            if item is not None:
                self._route(item)

    def node_item_moved(self, item: NodeItem) -> None:
        """Called by a card whenever it moves (drag or document)."""
        self._reroute(item.node_id)
        self._grow_scene_rect(item.sceneBoundingRect())
        if self._mouse_down and not self._applying:
            self._dragged.add(item.node_id)

    def snap_position(self, value: QPointF) -> QPointF:
        if not self.snap_enabled or self._applying:
            return value
        return QPointF(round(value.x() / GRID) * GRID, round(value.y() / GRID) * GRID)

    # ------------------------------------------------------------------------------------------------
    # validation
    # ------------------------------------------------------------------------------------------------
    def schedule_validation(self) -> None:
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start()

    @property
    def report(self) -> ShapeReport:
        if self._dirty:
            self.validate_now()
        return self._report

    def validate_now(self) -> ShapeReport:
        """Re-run shape inference and refresh the labels and problem marks that changed."""
        self._timer.stop()
        self._dirty = False
        if self.settings is None:
            report = infer_shapes(self.graph)
        else:  # the same step as the Train action and `nnstudio check`
            report = validate_project(self.graph, self.settings).report
        self._report = report
        problems: dict[str, tuple[str, str]] = {}
        for message in report.messages:
            if message.node_id is None:
                continue
            previous = problems.get(message.node_id)
            if previous is None or (previous[1] != "error" and message.severity == "error"):
                problems[message.node_id] = (message.text, message.severity)
        for node_id, item in self.node_items.items():
            shape = report.shapes.get(node_id)
            count = report.param_counts.get(node_id, 0)
            item.set_texts(shape_text=format_shape(shape) if shape is not None else "",
                           params_text=tr("{count} params", count=format_count(count)) if count else "")
            text, severity = problems.get(node_id, ("", ""))
            item.set_problem(text, severity if severity in ("error", "warning") else "warning")
        for edge, item in self.edge_items.items():
            shape = report.shapes.get(edge.src)
            item.set_label(format_shape(shape) if shape is not None else "?", broken=shape is None)
        self.report_changed.emit(report)
        return report

    # ------------------------------------------------------------------------------------------------
    # selection helpers
    # ------------------------------------------------------------------------------------------------
    def selected_node_ids(self) -> list[str]:
        chosen = {i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)}
        return [nid for nid in self.graph.nodes if nid in chosen]

    def selected_edges(self) -> list[Edge]:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_nodes(self, node_ids: Iterable[str]) -> None:
        self.clearSelection()
        for nid in node_ids:
            item = self.node_items.get(nid)
            if item is not None:
                item.setSelected(True)

    def select_all(self) -> None:
        for item in self.node_items.values():
            item.setSelected(True)

    # ------------------------------------------------------------------------------------------------
    # edits (each one an undo command)
    # ------------------------------------------------------------------------------------------------
    def add_block(self, block_type: str, scene_pos: QPointF, params: dict | None = None) -> str:
        """Add a block centred on ``scene_pos``; returns the new node's id."""
        pos = self.snap_position(QPointF(scene_pos.x() - NODE_WIDTH / 2, scene_pos.y() - 37))
        command = AddNodeCommand(self.graph, block_type, (pos.x(), pos.y()), params)
        self.undo_stack.push(command)
        assert command.node_id is not None
        self.select_nodes([command.node_id])
        return command.node_id

    def connection_problem(self, start: PortItem, end: PortItem) -> str | None:
        if start.direction == end.direction:
            which = tr("an output to an output") if start.direction == "out" else tr("an input to an input")
            return tr("cannot connect {which}: drag from an output port (right side) to an input port "
                      "(left side)", which=which)
        out, into = (start, end) if start.direction == "out" else (end, start)
        return self.graph.connection_problem(out.node_id, into.node_id, into.index)

    def connect_ports(self, start: PortItem, end: PortItem, where: QPointF | None = None) -> str | None:
        """Wire two ports, or refuse with the reason (returned, shown and emitted)."""
        problem = self.connection_problem(start, end)
        if problem:
            self.refuse(problem, where if where is not None else end.scenePos())
            return problem
        out, into = (start, end) if start.direction == "out" else (end, start)
        self.undo_stack.push(ConnectCommand(self.graph, out.node_id, into.node_id, into.index))
        return None

    def refuse(self, reason: str, where: QPointF) -> None:
        self.last_refusal = reason
        self.wire_refused.emit(reason, where)
        self.status_message.emit(tr("Wire refused: {reason}", reason=reason))

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        old = self.graph.nodes[node_id].params.get(name)
        if old == value and type(old) is type(value):
            return
        self.undo_stack.push(SetParamCommand(self.graph, node_id, name, old, value))

    def delete_selection(self) -> None:
        nodes = self.selected_node_ids()
        edges = self.selected_edges()
        if not nodes and not edges:
            return
        text = tr("Delete {count} items", count=len(nodes) + len(edges))
        self.undo_stack.push(DeleteCommand(self.graph, nodes, edges, text))

    def copy_selection(self) -> dict | None:
        nodes = self.selected_node_ids()
        if not nodes:
            return None
        data = self.graph.subgraph_dict(nodes)
        mime = QMimeData()
        payload = json.dumps(data).encode("utf-8")
        mime.setData(GRAPH_MIME, payload)
        mime.setText(payload.decode("utf-8"))
        QGuiApplication.clipboard().setMimeData(mime)
        self._paste_count = 0
        return data

    def cut_selection(self) -> None:
        if self.copy_selection() is not None:
            self.undo_stack.beginMacro(tr("Cut"))
            self.delete_selection()
            self.undo_stack.endMacro()

    def paste_data(self, data: dict, offset: Point, text: str = "") -> list[str]:
        """Paste a sub-graph; a malformed one raises UserError before anything changes."""
        self.graph.copy().paste(data, offset)  # validate on a scratch copy so the undo stack stays clean
        command = PasteCommand(self.graph, data, offset, text or tr("Paste"))
        self.undo_stack.push(command)
        self.select_nodes(command.node_ids)
        return command.node_ids

    def paste_clipboard(self, at: QPointF | None = None) -> list[str]:
        """Paste the clipboard's blocks, each paste a little further down, or with their top-left at ``at``."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return []
        if mime.hasFormat(GRAPH_MIME):
            raw = bytes(mime.data(GRAPH_MIME).data()).decode("utf-8")
        elif mime.hasText() and mime.text().lstrip().startswith("{"):
            raw = mime.text()
        else:
            return []
        try:
            data = json.loads(raw)
        except ValueError:
            return []
        if at is not None:
            corner = _top_left(data)
            if corner is not None:
                return self.paste_data(data, (at.x() - corner[0], at.y() - corner[1]))
        self._paste_count += 1
        step = 2 * GRID * self._paste_count
        return self.paste_data(data, (step, step))

    def duplicate_selection(self) -> list[str]:
        nodes = self.selected_node_ids()
        if not nodes:
            return []
        return self.paste_data(self.graph.subgraph_dict(nodes), (2 * GRID, 2 * GRID), tr("Duplicate"))

    def delete_nodes(self, node_ids: list[str]) -> None:
        nodes = [nid for nid in node_ids if nid in self.graph.nodes]
        if nodes:
            self.undo_stack.push(DeleteCommand(self.graph, nodes, (), tr("Delete {count} items", count=len(nodes))))

    def delete_edge(self, edge: Edge) -> None:
        if edge in self.graph.edges:
            self.undo_stack.push(DeleteCommand(self.graph, [], [edge], tr("Delete wire")))

    def edges_of(self, node_id: str) -> list[Edge]:
        return [e for e in self.graph.edges if node_id in (e.src, e.dst)]

    def disconnect_all(self, node_id: str) -> None:
        """Remove every wire into and out of ``node_id``, as one undo step."""
        edges = self.edges_of(node_id)
        if edges:
            self.undo_stack.push(DeleteCommand(self.graph, [], edges, tr("Disconnect all")))

    def nudge_selection(self, dx: float, dy: float) -> None:
        nodes = self.selected_node_ids()
        if not nodes:
            return
        old = {nid: self._item_pos(nid) for nid in nodes}
        new = {nid: (p[0] + dx, p[1] + dy) for nid, p in old.items()}
        self.undo_stack.push(MoveNodesCommand(self.graph, old, new, tr("Nudge")))

    def auto_layout(self) -> None:
        if self.graph.nodes:
            self.undo_stack.push(auto_layout_command(self.graph, layout_positions(self.graph)))

    def _item_pos(self, node_id: str) -> Point:
        pos = self.node_items[node_id].pos()
        return (pos.x(), pos.y())

    def nodes_rect(self) -> QRectF:
        rect = QRectF()
        for item in self.node_items.values():
            rect = rect.united(item.sceneBoundingRect())
        return rect

    # ------------------------------------------------------------------------------------------------
    # mouse: wiring and moves
    # ------------------------------------------------------------------------------------------------
    def port_at(self, scene_pos: QPointF) -> PortItem | None:
        for item in self.items(scene_pos, Qt.ItemSelectionMode.IntersectsItemShape,
                               Qt.SortOrder.DescendingOrder, QTransform()):
            if isinstance(item, PortItem):
                return item
        return None

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            port = self.port_at(event.scenePos())
            if port is not None:
                self._wire_from = port
                self._wire_preview = QGraphicsPathItem()
                self._wire_preview.setPen(QPen(WIRE_DRAGGING, 2.0, Qt.PenStyle.DashLine))
                self.preview_problem = ""
                self._wire_preview.setZValue(5)
                self.addItem(self._wire_preview)
                self._update_preview(event.scenePos())
                event.accept()
                return
            self._mouse_down = True
            self._dragged.clear()
        super().mousePressEvent(event)

    def _update_preview(self, pos: QPointF) -> None:
        if self._wire_from is None or self._wire_preview is None:
            return
        anchor = self._wire_from.scenePos()
        path = wire_path(anchor, pos) if self._wire_from.direction == "out" else wire_path(pos, anchor)
        self._wire_preview.setPath(path)

    def _check_preview(self, pos: QPointF) -> None:
        """Colour the wire being dragged red, with the reason beside it, over a port that would refuse it."""
        if self._wire_from is None or self._wire_preview is None:
            return
        target = self.port_at(pos)
        problem = ""
        if target is not None and target is not self._wire_from:
            problem = self.connection_problem(self._wire_from, target) or ""
        colour = WIRE_REFUSED if problem else (WIRE_ACCEPTED if target is not None else WIRE_DRAGGING)
        style = Qt.PenStyle.SolidLine if target is not None else Qt.PenStyle.DashLine
        self._wire_preview.setPen(QPen(colour, 2.4 if target is not None else 2.0, style))
        if problem != self.preview_problem:
            self.preview_problem = problem
            self.wire_hint.emit(problem, pos)

    def preview_colour(self) -> QColor | None:
        """The colour of the wire being dragged (None when no wire is being dragged)."""
        return self._wire_preview.pen().color() if self._wire_preview is not None else None

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self._wire_from is not None:
            self._update_preview(event.scenePos())
            self._check_preview(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self._wire_from is not None:
            start = self._wire_from
            self._wire_from = None
            if self._wire_preview is not None:
                self.removeItem(self._wire_preview)
                self._wire_preview = None
            if self.preview_problem:
                self.preview_problem = ""
                self.wire_hint.emit("", event.scenePos())
            end = self.port_at(event.scenePos())
            if end is not None and end is not start:
                self.connect_ports(start, end, event.scenePos())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if self._mouse_down:
            self._mouse_down = False
            self._commit_drag()

    def _commit_drag(self) -> None:
        """Turn the cards moved by this drag into one undoable move."""
        moved = [nid for nid in self._dragged if nid in self.node_items]
        self._dragged.clear()
        old: dict[str, Any] = {}
        new: dict[str, Point] = {}
        for nid in moved:
            before = self.graph.nodes[nid].position
            after = self._item_pos(nid)
            if before is None or (abs(before[0] - after[0]) > 1e-6 or abs(before[1] - after[1]) > 1e-6):
                old[nid], new[nid] = before, after
        if new:
            self.undo_stack.push(MoveNodesCommand(self.graph, old, new))
