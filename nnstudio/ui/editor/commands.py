"""Undoable edits of the graph document.

Each command's ``redo``/``undo`` only call document methods; the scene, the inspector and the problems list
redraw from the document's events, so an edit made by undo looks exactly like one made by hand.  Moves of
the same nodes and drags of the same parameter merge into one step (``mergeWith``), so a long drag is one
undo.
"""
from __future__ import annotations

import time
from typing import Any, Iterable

from PySide6.QtGui import QUndoCommand

from nnstudio.ui.i18n import tr

Point = tuple[float, float]

MOVE_ID = 1001
PARAM_ID = 1002
SETTING_ID = 1003


Record = tuple[list[Any], list[Any]]


def remove_nodes(graph: Any, node_ids: Iterable[str]) -> Record:
    """Remove the nodes that exist with their wires, returning what :func:`restore_record` needs."""
    present = [nid for nid in node_ids if nid in graph.nodes]
    nodes, edges = graph.remove_nodes(present)
    return list(nodes), list(edges)


def restore_record(graph: Any, record: Record) -> None:
    """Undo :func:`remove_nodes`: the nodes first, then every wire on its original port."""
    nodes, edges = record
    graph.restore_nodes(nodes, edges)


class AddNodeCommand(QUndoCommand):
    def __init__(self, graph: Any, block_type: str, position: Point, params: dict | None = None) -> None:
        super().__init__(tr("Add {block}", block=block_type))
        self.graph = graph
        self.block_type = block_type
        self.position = position
        self.params = params
        self.node_id: str | None = None
        self._record: Record = ([], [])

    def redo(self) -> None:
        if self.node_id is None:
            self.node_id = self.graph.add_node(self.block_type, self.params, self.position).id
        else:
            restore_record(self.graph, self._record)

    def undo(self) -> None:
        assert self.node_id is not None
        self._record = remove_nodes(self.graph, [self.node_id])


class DeleteCommand(QUndoCommand):
    """Delete nodes (with their wires) and loose wires, as one step."""

    def __init__(self, graph: Any, node_ids: Iterable[str], edges: Iterable[Any] = (), text: str = "") -> None:
        super().__init__(text or tr("Delete"))
        self.graph = graph
        self.node_ids = list(node_ids)
        node_set = set(self.node_ids)
        self.edges = [e for e in edges if e.src not in node_set and e.dst not in node_set]
        self._record: Record = ([], [])

    def redo(self) -> None:
        for edge in self.edges:
            self.graph.disconnect(edge)
        self._record = remove_nodes(self.graph, self.node_ids)

    def undo(self) -> None:
        restore_record(self.graph, self._record)
        self.graph.restore_nodes([], self.edges)


class MoveNodesCommand(QUndoCommand):
    """Move nodes from old to new positions; consecutive moves of the same set of nodes merge."""

    def __init__(self, graph: Any, old: dict[str, Point], new: dict[str, Point], text: str = "",
                 mergeable: bool = True) -> None:
        super().__init__(text or tr("Move"))
        self.graph = graph
        self.old = dict(old)
        self.new = dict(new)
        self.mergeable = mergeable

    def id(self) -> int:
        return MOVE_ID if self.mergeable else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt name)
        if not isinstance(other, MoveNodesCommand) or not other.mergeable:
            return False
        if set(other.new) != set(self.new):
            return False
        self.new = dict(other.new)
        return True

    def redo(self) -> None:
        for node_id, pos in self.new.items():
            self.graph.move_node(node_id, pos)

    def undo(self) -> None:
        for node_id, pos in self.old.items():
            self.graph.move_node(node_id, pos)


class ConnectCommand(QUndoCommand):
    def __init__(self, graph: Any, src: str, dst: str, port: int | None = None) -> None:
        super().__init__(tr("Connect {src} → {dst}", src=src, dst=dst))
        self.graph = graph
        self.src, self.dst, self.port = src, dst, port
        self.edge: Any = None

    def redo(self) -> None:
        self.edge = self.graph.connect(self.src, self.dst, self.port)
        self.port = self.edge.port

    def undo(self) -> None:
        self.graph.disconnect(self.edge)


class DisconnectCommand(QUndoCommand):
    def __init__(self, graph: Any, edge: Any) -> None:
        super().__init__(tr("Disconnect {src} → {dst}", src=edge.src, dst=edge.dst))
        self.graph = graph
        self.edge = edge

    def redo(self) -> None:
        self.graph.disconnect(self.edge)

    def undo(self) -> None:
        self.graph.restore_nodes([], [self.edge])


class SetParamCommand(QUndoCommand):
    """Change one parameter; quick successive changes of the same parameter (a spin box drag) merge."""

    MERGE_WINDOW_S = 1.5

    def __init__(self, graph: Any, node_id: str, name: str, old: Any, new: Any) -> None:
        super().__init__(tr("Set {node}.{name} = {value}", node=node_id, name=name, value=new))
        self.graph = graph
        self.node_id, self.name = node_id, name
        self.old, self.new = old, new
        self.stamp = time.monotonic()

    def id(self) -> int:
        return PARAM_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802
        if not isinstance(other, SetParamCommand):
            return False
        if (other.node_id, other.name) != (self.node_id, self.name):
            return False
        if other.stamp - self.stamp > self.MERGE_WINDOW_S:
            return False
        self.new = other.new
        self.stamp = other.stamp
        self.setText(other.text())
        return True

    def redo(self) -> None:
        self.graph.set_param(self.node_id, self.name, self.new)

    def undo(self) -> None:
        self.graph.set_param(self.node_id, self.name, self.old)


class PasteCommand(QUndoCommand):
    """Paste a sub-graph (copied nodes with the wires between them) at an offset."""

    def __init__(self, graph: Any, data: dict, offset: Point, text: str = "") -> None:
        super().__init__(text or tr("Paste"))
        self.graph = graph
        self.data = data
        self.offset = offset
        self.node_ids: list[str] = []
        self._record: Record | None = None

    def redo(self) -> None:
        if self._record is None:
            self.node_ids = list(self.graph.paste(self.data, self.offset))
        else:
            restore_record(self.graph, self._record)

    def undo(self) -> None:
        self._record = remove_nodes(self.graph, self.node_ids)


def auto_layout_command(graph: Any, positions: dict[str, Point]) -> MoveNodesCommand:
    """One undo step that places every node where the auto-layout put it."""
    old = {nid: graph.nodes[nid].position for nid in positions if nid in graph.nodes}
    new = {nid: pos for nid, pos in positions.items() if nid in graph.nodes}
    return MoveNodesCommand(graph, old, new, text=tr("Auto-layout"), mergeable=False)


class SetTrainingCommand(QUndoCommand):
    """Change one training setting of the project (the panel, a hint's fix: every setting edit is this).

    Number edits of the same setting in quick succession (a spin box held down) merge into one undo step.

    ``redo``/``undo`` only call :meth:`TrainingSettings.set`; the views hear the settings' own event.
    """

    def __init__(self, settings: Any, key: str, value: Any, text: str = "") -> None:
        super().__init__(text or tr("Set training {key}", key=key))
        from nnstudio.graph.settings import MISSING  # noqa: PLC0415

        self.settings, self.key, self.new = settings, key, value
        self.old = settings.get(key, MISSING)
        self.at = time.monotonic()

    def id(self) -> int:  # noqa: A003 - Qt's name
        return SETTING_ID

    def redo(self) -> None:
        self.settings.set(self.key, self.new)

    def undo(self) -> None:
        self.settings.set(self.key, self.old)

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802
        # Only number edits merge (a spin box held down); choosing a loss twice is two steps.
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (self.new, other.new))
        if not numbers or not isinstance(other, SetTrainingCommand) or other.settings is not self.settings \
                or other.key != self.key or other.at - self.at > SetParamCommand.MERGE_WINDOW_S:
            return False
        self.new, self.at = other.new, other.at
        return True
