"""The graph document: mutations, events, connection rules, serialisation and copy/paste."""
from __future__ import annotations

import pytest

from nnstudio.errors import UserError
from nnstudio.graph.document import Edge, Graph, GraphEvent, Node


def chain(*types: str) -> tuple[Graph, list[str]]:
    g = Graph()
    ids = [g.add_node(t).id for t in types]
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    return g, ids


def test_add_node_fills_defaults_and_counts_ids():
    g = Graph()
    c = g.add_node("Conv2D", {"filters": 6.0}, position=(10, 20))
    assert c == Node("conv2d_1", "Conv2D", {"filters": 6, "kernel_size": 3, "stride": 1, "padding": 0,
                                            "init": "he"}, (10.0, 20.0))
    assert g.add_node("Conv2D").id == "conv2d_2"
    assert g.add_node("Dense").id == "dense_1"
    g.add_node("Dense", node_id="dense_2")
    assert g.add_node("Dense").id == "dense_3"  # skips a taken id
    assert list(g.nodes) == ["conv2d_1", "conv2d_2", "dense_1", "dense_2", "dense_3"]


def test_add_node_errors():
    g = Graph()
    g.add_node("Input", node_id="in")
    with pytest.raises(UserError, match="'in' already exists"):
        g.add_node("Dense", node_id="in")
    with pytest.raises(UserError, match="unknown block type 'Conv9D'"):
        g.add_node("Conv9D")
    with pytest.raises(UserError, match="Dense 'd': units must be at least 1. Received: units=0"):
        g.add_node("Dense", {"units": 0}, node_id="d")
    with pytest.raises(UserError, match="position must be two numbers"):
        g.add_node("Dense", position=(1, 2, 3))
    with pytest.raises(UserError, match="non-empty string"):
        g.add_node("Dense", node_id="")
    assert list(g.nodes) == ["in"]


def test_events_fire_after_each_mutation():
    g = Graph()
    events: list[GraphEvent] = []
    seen_sizes: list[int] = []

    def on_event(event: GraphEvent) -> None:
        events.append(event)
        seen_sizes.append(len(g.nodes))  # the document is already changed when views hear about it

    unsubscribe = g.subscribe(on_event)
    a = g.add_node("Input", node_id="in")
    d = g.add_node("Dense", node_id="d")
    edge = g.connect("in", "d")
    g.set_param("d", "units", 4)
    g.set_param("d", "units", 4)  # unchanged: no event
    g.move_node("d", (5, 6))
    g.disconnect(edge)
    g.connect("in", "d")
    node, removed = g.remove_node("d")
    g.restore_node(node, removed)
    g.replace(Graph())
    kinds = [e.kind for e in events]
    assert kinds == ["node_added", "node_added", "edge_added", "param_changed", "node_moved", "edge_removed",
                     "edge_added", "edge_removed", "node_removed", "node_added", "edge_added", "reset"]
    assert events[0] == GraphEvent("node_added", node_id="in")
    assert events[2].edge == Edge("in", "d", 0)
    assert events[3].name == "units" and events[3].node_id == "d"
    assert seen_sizes[:2] == [1, 2]
    assert a.id == "in" and d.id == "d" and not g.nodes
    unsubscribe()
    g.add_node("Input")
    assert len(events) == 12
    unsubscribe()  # twice is harmless


def test_set_param_validates():
    g = Graph()
    g.add_node("Conv2D", node_id="c2")
    with pytest.raises(UserError, match=r"Conv2D 'c2': kernel_size must be at least 1. Received: kernel_size=-3"):
        g.set_param("c2", "kernel_size", -3)
    with pytest.raises(UserError, match="unknown parameter 'kernel'"):
        g.set_param("c2", "kernel", 3)
    with pytest.raises(UserError, match="no node 'zz'"):
        g.set_param("zz", "units", 3)
    g.set_param("c2", "padding", "same")
    assert g.nodes["c2"].params["padding"] == "same"


def test_connection_problem_reasons():
    g = Graph()
    for nid, t in [("in", "Input"), ("d1", "Dense"), ("d2", "Dense"), ("add", "Add"), ("in2", "Input")]:
        g.add_node(t, node_id=nid)
    assert g.connection_problem("in", "d1") is None
    assert "unknown node 'x'" in g.connection_problem("x", "d1")
    assert "unknown node 'x'" in g.connection_problem("in", "x")
    assert "to itself" in g.connection_problem("d1", "d1")
    assert "takes no inputs" in g.connection_problem("d1", "in")
    assert "single input port (0); port 1 does not exist" in g.connection_problem("in", "d1", 1)
    assert "whole number" in g.connection_problem("in", "d1", -1)
    g.connect("in", "d1")
    assert "port 0 of Dense 'd1' is already connected (from 'in')" in g.connection_problem("in2", "d1")
    g.connect("d1", "d2")
    # merge blocks: ports 0..N where N is the number of wires already in
    assert g.connection_problem("d2", "add", 0) is None
    assert "out of range" in g.connection_problem("d2", "add", 1)
    g.connect("d2", "add")
    g.connect("d1", "add")
    assert [e.port for e in g.incoming("add")] == [0, 1]
    assert g.connection_problem("in", "add", 2) is None
    assert "already connected" in g.connection_problem("in", "add", 1)
    assert "out of range" in g.connection_problem("in", "add", 3)
    # cycle: add -> d1 would close d1 -> d2 -> add -> d1 (d1's port is taken, so free it first)
    g.disconnect(Edge("in", "d1"))
    assert "would create a cycle" in g.connection_problem("add", "d1")
    with pytest.raises(UserError, match="cannot connect 'add' to 'd1': .*cycle"):
        g.connect("add", "d1")


def test_connect_picks_the_first_free_port():
    g = Graph()
    for nid, t in [("a", "Input"), ("b", "Dense"), ("c", "Dense"), ("m", "Concat")]:
        g.add_node(t, node_id=nid)
    g.connect("a", "b")
    g.connect("a", "c")
    e1 = g.connect("b", "m")
    e2 = g.connect("c", "m")
    assert (e1.port, e2.port) == (0, 1)
    g.disconnect(e1)
    assert g.connect("b", "m").port == 0
    assert g.inputs_of("m") == ["b", "c"]
    assert g.consumers_of("a") == ["b", "c"]
    with pytest.raises(UserError, match="no wire"):
        g.disconnect(Edge("a", "m", 5))


def test_remove_and_restore_nodes():
    g, (i, c, d) = chain("Input", "Conv2D", "Dense")
    before = g.to_dict()
    node, edges = g.remove_node(c)
    assert c not in g.nodes and edges == [Edge(i, c), Edge(c, d)] and g.edges == []
    g.restore_node(node, edges)
    assert sorted(map(str, g.to_dict()["edges"])) == sorted(map(str, before["edges"]))
    nodes, edges = g.remove_nodes([c, d])
    assert [n.id for n in nodes] == [c, d] and len(edges) == 2 and list(g.nodes) == [i]
    g.restore_nodes(nodes, edges)
    assert set(g.nodes) == {i, c, d} and len(g.edges) == 2
    with pytest.raises(UserError, match="already exists"):
        g.restore_node(g.nodes[c])


def test_to_dict_from_dict_round_trip_and_copy():
    g, ids = chain("Input", "Conv2D", "Activation", "Pool2D", "Dense")
    g.move_node(ids[1], (1.5, 2))
    data = g.to_dict()
    assert data["nodes"][1]["position"] == [1.5, 2]
    h = Graph.from_dict(data)
    assert h.to_dict() == data
    c = g.copy()
    c.set_param(ids[1], "filters", 3)
    assert g.nodes[ids[1]].params["filters"] == 8
    assert c.add_node("Dense").id == "dense_2"


def test_from_dict_errors_name_the_node():
    bad_param = {"nodes": [{"id": "d1", "type": "Dense", "params": {"units": -1}}], "edges": []}
    with pytest.raises(UserError, match="Dense 'd1': units must be at least 1"):
        Graph.from_dict(bad_param)
    with pytest.raises(UserError, match="node 'x': unknown block type 'Nope'"):
        Graph.from_dict({"nodes": [{"id": "x", "type": "Nope"}]})
    with pytest.raises(UserError, match="two nodes share the id 'a'"):
        Graph.from_dict({"nodes": [{"id": "a", "type": "Dense"}, {"id": "a", "type": "Dense"}]})
    with pytest.raises(UserError, match="edge 1 comes from 'zz'"):
        Graph.from_dict({"nodes": [{"id": "a", "type": "Dense"}], "edges": [{"from": "zz", "to": "a"}]})
    with pytest.raises(UserError, match="unknown field 'colour'"):
        Graph.from_dict({"nodes": [{"id": "a", "type": "Dense", "colour": "red"}]})
    with pytest.raises(UserError, match="cycle"):
        Graph.from_dict({"nodes": [{"id": "a", "type": "Dense"}, {"id": "b", "type": "Add"}],
                         "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]})


def test_from_dict_keeps_merge_ports_with_gaps():
    data = {"nodes": [{"id": "i", "type": "Input"}, {"id": "a", "type": "Add"}],
            "edges": [{"from": "i", "to": "a", "to_port": 2}, {"from": "i", "to": "a"}]}
    g = Graph.from_dict(data)
    assert sorted(e.port for e in g.edges) == [0, 2]
    assert Graph.from_dict(g.to_dict()).to_dict() == g.to_dict()


def test_copy_paste_keeps_internal_wires_only():
    g, (i, c, a, d) = chain("Input", "Conv2D", "Activation", "Dense")
    g.move_node(c, (100, 50))
    clip = g.subgraph_dict([c, a, "missing"])
    assert [n["id"] for n in clip["nodes"]] == [c, a]
    assert clip["edges"] == [{"from": c, "to": a}]
    events: list[GraphEvent] = []
    g.subscribe(events.append)
    new = g.paste(clip, offset=(10, 10))
    assert new == ["conv2d_2", "activation_2"]
    assert g.nodes["conv2d_2"].position == (110.0, 60.0)
    assert g.nodes["activation_2"].position is None
    assert Edge("conv2d_2", "activation_2", 0) in g.edges
    assert len(g.edges) == 4
    assert [e.kind for e in events] == ["node_added", "node_added", "edge_added"]
    # pasting twice gives fresh ids again
    assert g.paste(clip) == ["conv2d_3", "activation_3"]


def test_paste_is_all_or_nothing():
    g, _ = chain("Input", "Dense")
    before = g.to_dict()
    with pytest.raises(UserError):
        g.paste({"nodes": [{"id": "x", "type": "Dense"}, {"id": "y", "type": "Dense", "params": {"units": 0}}],
                 "edges": []})
    assert g.to_dict() == before


def test_replace_swaps_contents_and_keeps_subscribers():
    g, _ = chain("Input", "Dense")
    other, _ = chain("Input", "Conv2D", "Flatten")
    events: list[GraphEvent] = []
    g.subscribe(events.append)
    g.replace(other)
    assert events == [GraphEvent("reset")]
    assert g.to_dict() == other.to_dict()
    g.add_node("Dense")
    assert "dense_1" not in other.nodes  # a copy, not shared


def test_remove_then_restore_keeps_the_original_order():
    """Undoing a deletion gives back exactly the same document, node and edge order included."""
    g = Graph()
    ids = [g.add_node("Input", {"shape": [4]}).id]
    for _ in range(4):
        ids.append(g.add_node("Dense", {"units": 3}).id)
        g.connect(ids[-2], ids[-1])
    before = g.to_dict()
    nodes, edges = g.remove_nodes([ids[1], ids[3]])
    g.restore_nodes(nodes, edges)
    assert g.to_dict() == before
    node, edges = g.remove_node(ids[2])
    g.restore_node(node, edges)
    assert g.to_dict() == before
