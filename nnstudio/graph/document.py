"""The graph document: the single source of truth for a network being edited.

The node editor, the inspector, the training panel and the project file are all views of one
:class:`Graph`.  Every mutation goes through a method here, which checks it against the block catalogue and
then notifies subscribers with a plain :class:`GraphEvent`, so views redraw from the document and undo
commands need only call the inverse method.  Nothing here knows about Qt.
"""
from __future__ import annotations

import copy as _copy
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from nnstudio.errors import UserError
from nnstudio.graph.catalogue import BLOCKS, get_block, node_label

EVENT_KINDS = ("node_added", "node_removed", "edge_added", "edge_removed", "param_changed", "node_moved", "reset")


@dataclass
class Node:
    """One block placed in the graph: a stable string id, its block type, its parameters, where it sits."""

    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    position: tuple[float, float] | None = None

    @property
    def label(self) -> str:
        """How messages name this node: "Conv2D 'c2'"."""
        return f"{self.type} '{self.id}'"


@dataclass(frozen=True)
class Edge:
    """A wire from the output of ``src`` into input port ``port`` of ``dst``."""

    src: str
    dst: str
    port: int = 0


@dataclass(frozen=True)
class GraphEvent:
    """What changed: ``kind`` is one of :data:`EVENT_KINDS`; the other fields say which node, edge or param."""

    kind: str
    node_id: str | None = None
    edge: Edge | None = None
    name: str | None = None


Subscriber = Callable[[GraphEvent], None]


def add_subscriber(subscribers: list[Any], callback: Callable[[Any], None]) -> Callable[[], None]:
    """Append ``callback`` to ``subscribers``; returns a function that removes it again (the document's and
    the training settings' ``subscribe`` share this)."""
    subscribers.append(callback)

    def unsubscribe() -> None:
        if callback in subscribers:
            subscribers.remove(callback)

    return unsubscribe


def _position(value: Any, label: str) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        x, y = value
        if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in (x, y)):
            raise TypeError
        px, py = float(x), float(y)
    except (TypeError, ValueError):
        raise UserError(f"{label}: position must be two numbers [x, y]. Received: position={value!r}") from None
    if not (math.isfinite(px) and math.isfinite(py)):
        raise UserError(f"{label}: position must be finite numbers. Received: position={value!r}")
    return px, py


def _check_id(node_id: Any) -> str:
    if not isinstance(node_id, str) or not node_id.strip():
        raise UserError(f"node id must be a non-empty string. Received: id={node_id!r}")
    try:
        node_id.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no file, weights archive or export could hold this id
        raise UserError(f"node id must be valid Unicode text. Received: id={node_id!r}, which holds an "
                        "unpaired surrogate") from None
    return node_id


class Graph:
    """Nodes (insertion ordered) and edges, with validated mutators that notify subscribers."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self.edges: list[Edge] = []
        self._counters: dict[str, int] = {}
        self._subscribers: list[Subscriber] = []
        self._slots: dict[tuple[str, Any], int] = {}  # where removed nodes/edges were (for undo)

    # -- notification ---------------------------------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` after every mutation; returns a function that unsubscribes it."""
        return add_subscriber(self._subscribers, callback)

    def _emit(self, kind: str, node_id: str | None = None, edge: Edge | None = None, name: str | None = None) -> None:
        event = GraphEvent(kind, node_id, edge, name)
        for callback in list(self._subscribers):
            callback(event)

    # -- queries -------------------------------------------------------------------------------------
    def node(self, node_id: str) -> Node:
        """The node ``node_id``; UserError naming it when it does not exist."""
        try:
            return self.nodes[node_id]
        except (KeyError, TypeError):
            raise UserError(f"there is no node '{node_id}' in the graph") from None

    def label(self, node_id: str) -> str:
        node = self.nodes.get(node_id)
        return node.label if node is not None else f"'{node_id}'"

    def incoming(self, node_id: str) -> list[Edge]:
        """Edges into ``node_id``, ordered by port."""
        return sorted((e for e in self.edges if e.dst == node_id), key=lambda e: e.port)

    def outgoing(self, node_id: str) -> list[Edge]:
        return [e for e in self.edges if e.src == node_id]

    def inputs_of(self, node_id: str) -> list[str]:
        """Ids of the nodes feeding ``node_id``, ordered by port."""
        return [e.src for e in self.incoming(node_id)]

    def consumers_of(self, node_id: str) -> list[str]:
        """Ids of the nodes reading ``node_id``'s output, each once, in wiring order."""
        seen: dict[str, None] = {}
        for e in self.edges:
            if e.src == node_id:
                seen.setdefault(e.dst, None)
        return list(seen)

    def _reaches(self, start: str, target: str) -> bool:
        """Whether following edges forward from ``start`` arrives at ``target``."""
        succ: dict[str, list[str]] = {}
        for e in self.edges:
            succ.setdefault(e.src, []).append(e.dst)
        stack, seen = [start], set()
        while stack:
            nid = stack.pop()
            if nid == target:
                return True
            if nid in seen:
                continue
            seen.add(nid)
            stack.extend(succ.get(nid, ()))
        return False

    def new_id(self, block_type: str) -> str:
        """A fresh id from a per-type counter: "conv2d_1", "dense_2" (skipping ids already taken)."""
        prefix = str(block_type).lower()
        count = self._counters.get(prefix, 0)
        while True:
            count += 1
            candidate = f"{prefix}_{count}"
            if candidate not in self.nodes:
                self._counters[prefix] = count
                return candidate

    # -- connection rules ----------------------------------------------------------------------------
    def connection_problem(self, src: str, dst: str, port: int = 0, *, _port_limit: int | None = None,
                           _incoming: list[Edge] | None = None, _check_cycle: bool = True) -> str | None:
        """Why a wire from ``src`` into port ``port`` of ``dst`` cannot be made, or None when it can.

        ``_incoming`` (the wires already into ``dst``) and ``_check_cycle=False`` let a bulk load keep its
        own index and check for cycles once at the end: asking each of 20,000 edges to scan every edge
        made loading a long chain quadratic.
        """
        if src not in self.nodes:
            return f"unknown node '{src}'"
        if dst not in self.nodes:
            return f"unknown node '{dst}'"
        if src == dst:
            return f"cannot connect {self.label(src)} to itself"
        target = self.nodes[dst]
        spec = BLOCKS.get(target.type)
        if spec is None:
            return f"{target.label} has an unknown block type"
        if spec.n_inputs == 0:
            return f"{target.label} takes no inputs: an Input block only feeds others"
        if isinstance(port, bool) or not isinstance(port, numbers.Integral) or port < 0:
            return f"the port must be a whole number of at least 0; received {port!r}"
        port = int(port)
        incoming = self.incoming(dst) if _incoming is None else _incoming
        if spec.n_inputs == 1 and port != 0:
            return f"{target.label} has a single input port (0); port {port} does not exist"
        if spec.n_inputs == -1:
            limit = len(incoming) if _port_limit is None else _port_limit
            if port > limit:
                return (f"{target.label} accepts ports 0 to {limit} now (it has {len(incoming)} "
                        f"connection{'s' if len(incoming) != 1 else ''}); port {port} is out of range")
        for e in incoming:
            if e.port == port:
                return f"input port {port} of {target.label} is already connected (from '{e.src}')"
        if _check_cycle and self._reaches(dst, src):
            return (f"connecting {self.label(src)} to {target.label} would create a cycle "
                    f"('{dst}' already feeds '{src}')")
        return None

    def free_port(self, dst: str) -> int:
        """The lowest input port of ``dst`` that nothing is wired into."""
        taken = {e.port for e in self.edges if e.dst == dst}
        port = 0
        while port in taken:
            port += 1
        return port

    # -- mutators ------------------------------------------------------------------------------------
    def add_node(self, block_type: str, params: dict[str, Any] | None = None,
                 position: tuple[float, float] | None = None, node_id: str | None = None) -> Node:
        """Add a block with its parameters (defaults filled, values validated); returns the new Node."""
        spec = get_block(block_type)
        nid = self.new_id(block_type) if node_id is None else _check_id(node_id)
        if nid in self.nodes:
            raise UserError(f"a node with id '{nid}' already exists ({self.nodes[nid].label}); ids must be unique")
        label = node_label(block_type, nid)
        node = Node(nid, spec.type, spec.validate_params(params, label), _position(position, label))
        self.nodes[nid] = node
        self._emit("node_added", node_id=nid)
        return node

    def remove_node(self, node_id: str) -> tuple[Node, list[Edge]]:
        """Remove a node and its wires; returns them so :meth:`restore_node` can undo it."""
        node = self.node(node_id)
        removed = [e for e in self.edges if e.src == node_id or e.dst == node_id]
        for e in removed:
            # Remember where it was, so undo puts it back in the same place and to_dict() is unchanged.
            self._slots[("edge", e)] = self.edges.index(e)
            self.edges.remove(e)
            self._emit("edge_removed", node_id=e.dst, edge=e)
        self._slots[("node", node_id)] = list(self.nodes).index(node_id)
        del self.nodes[node_id]
        self._emit("node_removed", node_id=node_id)
        return node, removed

    def remove_nodes(self, node_ids: Iterable[str]) -> tuple[list[Node], list[Edge]]:
        """Remove several nodes; returns all removed nodes and edges (each edge once) for :meth:`restore_nodes`."""
        ids = [nid for nid in dict.fromkeys(node_ids)]
        for nid in ids:
            self.node(nid)
        nodes: list[Node] = []
        edges: list[Edge] = []
        for nid in ids:
            node, removed = self.remove_node(nid)
            nodes.append(node)
            edges.extend(removed)
        return nodes, edges

    def restore_node(self, node: Node, edges: Iterable[Edge] = ()) -> None:
        """Put back a node removed by :meth:`remove_node` with its wires (the undo of a removal)."""
        self.restore_nodes([node], edges)

    def restore_nodes(self, nodes: Iterable[Node], edges: Iterable[Edge] = ()) -> None:
        """Put back nodes and wires removed earlier; UserError when an id is taken or a wire no longer fits."""
        nodes, edges = list(nodes), list(edges)
        for node in nodes:
            if node.id in self.nodes:
                raise UserError(f"cannot restore {node.label}: a node with id '{node.id}' already exists")
            get_block(node.type)
        # Nodes and edges come in the order they were removed; re-inserting them at their remembered
        # slots in reverse order rebuilds the original order exactly.
        for node in reversed(nodes):
            items = list(self.nodes.items())
            slot = min(self._slots.pop(("node", node.id), len(items)), len(items))
            items.insert(slot, (node.id, node))
            self.nodes.clear()
            self.nodes.update(items)
            self._emit("node_added", node_id=node.id)
        for e in reversed(edges):
            if e in self.edges:
                continue
            problem = self.connection_problem(e.src, e.dst, e.port, _port_limit=1 << 30)
            if problem:
                raise UserError(f"cannot restore the wire {e.src} -> {e.dst}: {problem}")
            self.edges.insert(min(self._slots.pop(("edge", e), len(self.edges)), len(self.edges)), e)
            self._emit("edge_added", node_id=e.dst, edge=e)

    def connect(self, src: str, dst: str, port: int | None = None) -> Edge:
        """Wire ``src`` into ``dst`` (``port`` None: the first free port); UserError saying why it cannot."""
        if port is None and dst in self.nodes:
            port = self.free_port(dst)
        problem = self.connection_problem(src, dst, 0 if port is None else port)
        if problem:
            raise UserError(f"cannot connect '{src}' to '{dst}': {problem}")
        edge = Edge(src, dst, int(port or 0))
        self.edges.append(edge)
        self._emit("edge_added", node_id=dst, edge=edge)
        return edge

    def disconnect(self, edge: Edge) -> None:
        """Remove a wire; UserError when it is not in the graph."""
        if edge not in self.edges:
            raise UserError(f"there is no wire from '{edge.src}' into port {edge.port} of '{edge.dst}'")
        self.edges.remove(edge)
        self._emit("edge_removed", node_id=edge.dst, edge=edge)

    def set_param(self, node_id: str, name: str, value: Any) -> None:
        """Set one parameter (validated by the catalogue); UserError naming the node and field when bad."""
        node = self.node(node_id)
        spec = get_block(node.type)
        checked = spec.param(name).validate(value, node.label)
        if node.params.get(name) == checked and type(node.params.get(name)) is type(checked):
            return
        node.params[name] = checked
        self._emit("param_changed", node_id=node_id, name=name)

    def move_node(self, node_id: str, position: tuple[float, float] | None) -> None:
        node = self.node(node_id)
        node.position = _position(position, node.label)
        self._emit("node_moved", node_id=node_id)

    def replace(self, other: "Graph") -> None:
        """Take over a copy of ``other``'s nodes and edges (open a file, undo a big edit); emits "reset"."""
        fresh = other.copy()
        self.nodes, self.edges, self._counters = fresh.nodes, fresh.edges, fresh._counters
        self._emit("reset")

    def clear(self) -> None:
        self.replace(Graph())

    # -- serialisation -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The "graph" part of a project file: {"nodes": [...], "edges": [{"from", "to", "to_port"}]}."""
        return {"nodes": [_node_dict(n) for n in self.nodes.values()],
                "edges": [_edge_dict(e) for e in self.edges]}

    @classmethod
    def from_dict(cls, data: Any) -> "Graph":
        """A graph from the "graph" part of a project file; UserError naming the node or field at fault."""
        graph = cls()
        graph._load(data, rename=None)
        return graph

    def _load(self, data: Any, rename: Callable[[str], str] | None,
              offset: tuple[float, float] = (0.0, 0.0)) -> list[str]:
        """Parse ``data`` fully, then add its nodes and edges (renaming ids when pasting); returns new ids."""
        if not isinstance(data, dict):
            raise UserError(f"the graph must be an object with \"nodes\" and \"edges\". Received: {type(data).__name__}")
        raw_nodes = data.get("nodes", [])
        raw_edges = data.get("edges", [])
        if not isinstance(raw_nodes, list):
            raise UserError(f"graph: \"nodes\" must be a list. Received: {type(raw_nodes).__name__}")
        if not isinstance(raw_edges, list):
            raise UserError(f"graph: \"edges\" must be a list. Received: {type(raw_edges).__name__}")
        staged = Graph()
        staged._counters = dict(self._counters)
        staged.nodes = dict(self.nodes)  # so renamed ids avoid the ones already present
        mapping: dict[str, str] = {}
        new_nodes: list[Node] = []
        for i, raw in enumerate(raw_nodes):
            if not isinstance(raw, dict):
                raise UserError(f"graph: node {i + 1} must be an object with \"id\" and \"type\"")
            unknown = sorted(set(raw) - {"id", "type", "params", "position"})
            if unknown:
                raise UserError(f"graph: node {i + 1} ('{raw.get('id')}') has an unknown field "
                                f"'{unknown[0]}'; a node has id, type, params and position")
            old_id = _check_id(raw.get("id"))
            if old_id in mapping:
                raise UserError(f"graph: two nodes share the id '{old_id}'; ids must be unique")
            btype = raw.get("type")
            try:
                spec = get_block(btype)
            except UserError as exc:
                raise UserError(f"node '{old_id}': {exc}") from None
            nid = staged.new_id(spec.type) if rename else old_id
            if nid in staged.nodes:
                raise UserError(f"graph: a node with id '{nid}' already exists")
            label = node_label(spec.type, old_id)
            position = _position(raw.get("position"), label)
            if position is not None:
                position = (position[0] + offset[0], position[1] + offset[1])
            node = Node(nid, spec.type, spec.validate_params(raw.get("params"), label), position)
            staged.nodes[nid] = node
            mapping[old_id] = nid
            new_nodes.append(node)
        new_edges: list[Edge] = []
        incoming_of: dict[str, list[Edge]] = {}
        into: dict[str, int] = {}
        for raw in raw_edges:
            if isinstance(raw, dict) and isinstance(raw.get("to"), str) and raw["to"] in mapping:
                into[raw["to"]] = into.get(raw["to"], 0) + 1
        for i, raw in enumerate(raw_edges):
            if not isinstance(raw, dict) or "from" not in raw or "to" not in raw:
                raise UserError(f"graph: edge {i + 1} must be an object with \"from\" and \"to\" "
                                f"(and optionally \"to_port\"). Received: {raw!r}")
            unknown = sorted(set(raw) - {"from", "to", "to_port"})
            if unknown:
                raise UserError(f"graph: edge {i + 1} has an unknown field '{unknown[0]}'; "
                                "an edge has from, to and to_port")
            src, dst, port = raw["from"], raw["to"], raw.get("to_port", 0)
            if not isinstance(src, str) or src not in mapping:
                raise UserError(f"graph: edge {i + 1} comes from '{src}', which is not a node of the graph")
            if not isinstance(dst, str) or dst not in mapping:
                raise UserError(f"graph: edge {i + 1} goes to '{dst}', which is not a node of the graph")
            if isinstance(port, float) and port.is_integer():
                port = int(port)
            problem = staged.connection_problem(mapping[src], mapping[dst], port, _port_limit=into.get(dst, 0),
                                                _incoming=incoming_of.get(mapping[dst], []), _check_cycle=False)
            if problem:
                staged._refuse_cycles(new_edges, raw_edges)  # an earlier edge's cycle is the first problem
                raise UserError(f"graph: edge {i + 1} ('{src}' -> '{dst}', port {port!r}): {problem}")
            edge = Edge(mapping[src], mapping[dst], int(port))
            staged.edges.append(edge)
            new_edges.append(edge)
            incoming_of.setdefault(edge.dst, []).append(edge)
        staged._refuse_cycles(new_edges, raw_edges)
        # Everything parsed: commit.
        self._counters = staged._counters
        for node in new_nodes:
            self.nodes[node.id] = node
            self._emit("node_added", node_id=node.id)
        for edge in new_edges:
            self.edges.append(edge)
            self._emit("edge_added", node_id=edge.dst, edge=edge)
        return [n.id for n in new_nodes]

    def _refuse_cycles(self, edges: list[Edge], raw_edges: list[Any]) -> None:
        """UserError naming the edge that first closes a cycle in ``edges`` (as loaded from ``raw_edges``)."""
        closing = _first_cycle_edge(edges)
        if closing is None:
            return
        edge, raw = edges[closing], raw_edges[closing]
        raise UserError(f"graph: edge {closing + 1} ('{raw['from']}' -> '{raw['to']}', port {edge.port!r}): "
                        f"connecting {self.label(edge.src)} to {self.label(edge.dst)} would create a cycle "
                        f"('{edge.dst}' already feeds '{edge.src}')")

    def copy(self) -> "Graph":
        """An independent copy (no subscribers), e.g. for training while the user keeps editing."""
        other = Graph()
        other.nodes = {nid: Node(n.id, n.type, _copy.deepcopy(n.params), n.position) for nid, n in self.nodes.items()}
        other.edges = list(self.edges)
        other._counters = dict(self._counters)
        return other

    def subgraph_dict(self, node_ids: Iterable[str]) -> dict[str, Any]:
        """The chosen nodes and the wires between them, in the file format (the clipboard for copy/paste)."""
        chosen = [nid for nid in dict.fromkeys(node_ids) if nid in self.nodes]
        inside = set(chosen)
        return {"nodes": [_node_dict(self.nodes[nid]) for nid in chosen],
                "edges": [_edge_dict(e) for e in self.edges if e.src in inside and e.dst in inside]}

    def paste(self, data: dict[str, Any], offset: tuple[float, float] = (40.0, 40.0)) -> list[str]:
        """Add the nodes of ``data`` under fresh ids, shifted by ``offset``, keeping their internal wires."""
        dx, dy = _position(offset, "paste") or (0.0, 0.0)
        return self._load(data, rename=lambda old: old, offset=(dx, dy))

    def __repr__(self) -> str:
        return f"Graph({len(self.nodes)} nodes, {len(self.edges)} edges)"


def _has_cycle(edges: list[Edge]) -> bool:
    """Whether ``edges`` contain a cycle (Kahn's algorithm: linear in the number of edges)."""
    succ: dict[str, list[str]] = {}
    indegree: dict[str, int] = {}
    for e in edges:
        succ.setdefault(e.src, []).append(e.dst)
        indegree[e.dst] = indegree.get(e.dst, 0) + 1
        indegree.setdefault(e.src, 0)
    ready = [n for n, d in indegree.items() if d == 0]
    removed = 0
    while ready:
        nid = ready.pop()
        removed += 1
        for nxt in succ.get(nid, ()):
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                ready.append(nxt)
    return removed != len(indegree)


def _first_cycle_edge(edges: list[Edge]) -> int | None:
    """The index of the edge that first closes a cycle when ``edges`` are added in order, or None.

    One linear check when there is no cycle (every valid file); a binary search over prefixes otherwise,
    so the message names the same edge that adding them one by one would have refused.
    """
    if not _has_cycle(edges):
        return None
    low, high = 0, len(edges) - 1  # edges[:high + 1] has a cycle; edges[:low] has none
    while low < high:
        mid = (low + high) // 2
        if _has_cycle(edges[:mid + 1]):
            high = mid
        else:
            low = mid + 1
    return high


def _node_dict(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {"id": node.id, "type": node.type, "params": _copy.deepcopy(node.params)}
    if node.position is not None:
        out["position"] = [_compact_number(node.position[0]), _compact_number(node.position[1])]
    return out


def _compact_number(value: float) -> float | int:
    """Whole coordinates written as ints (files read [120, 40], not [120.0, 40.0])."""
    return int(value) if float(value).is_integer() else value


def _edge_dict(edge: Edge) -> dict[str, Any]:
    out: dict[str, Any] = {"from": edge.src, "to": edge.dst}
    if edge.port:
        out["to_port"] = edge.port
    return out
