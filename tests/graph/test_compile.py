"""Compiling a document into the engine: mapping, order independence, counts equal to infer_shapes."""
from __future__ import annotations

import random

import numpy as np
import pytest

from nnstudio.engine.backend import get_backend
from nnstudio.errors import UserError
from nnstudio.graph.compile import compile_graph, layer_kwargs, make_layer
from nnstudio.graph.document import Graph
from nnstudio.graph.shapes import infer_shapes


def residual_graph() -> dict:
    """A small network using every block type, with a skip connection and a concatenation."""
    nodes = [
        {"id": "in", "type": "Input", "params": {"shape": [1, 8, 8]}},
        {"id": "c1", "type": "Conv2D", "params": {"filters": 4, "padding": "same"}},
        {"id": "bn", "type": "BatchNorm", "params": {}},
        {"id": "r1", "type": "Activation", "params": {"function": "relu"}},
        {"id": "c2", "type": "Conv2D", "params": {"filters": 4, "padding": 1, "init": "glorot"}},
        {"id": "sum", "type": "Add", "params": {}},
        {"id": "cat", "type": "Concat", "params": {"axis": 0}},
        {"id": "pool", "type": "Pool2D", "params": {"mode": "avg", "size": 2, "stride": 0}},
        {"id": "flat", "type": "Flatten", "params": {}},
        {"id": "drop", "type": "Dropout", "params": {"rate": 0.25}},
        {"id": "d1", "type": "Dense", "params": {"units": 12, "init": "lecun"}},
        {"id": "lr", "type": "Activation", "params": {"function": "leaky_relu", "alpha": 0.1}},
        {"id": "shape", "type": "Reshape", "params": {"shape": [3, -1]}},
        {"id": "d2", "type": "Dense", "params": {"units": 3, "use_bias": False}},
        {"id": "out", "type": "Activation", "params": {"function": "softmax"}},
    ]
    edges = [("in", "c1"), ("c1", "bn"), ("bn", "r1"), ("r1", "c2"), ("c2", "sum"), ("c1", "sum"), ("sum", "cat"),
             ("r1", "cat"), ("cat", "pool"), ("pool", "flat"), ("flat", "drop"), ("drop", "d1"), ("d1", "lr"),
             ("lr", "shape"), ("shape", "d2"), ("d2", "out")]
    ports: dict[str, int] = {}
    wires = []
    for src, dst in edges:
        port = ports.get(dst, 0)
        ports[dst] = port + 1
        wire = {"from": src, "to": dst}
        if port:
            wire["to_port"] = port
        wires.append(wire)
    return {"nodes": nodes, "edges": wires}


def test_compiles_and_runs_with_counts_equal_to_infer_shapes():
    g = Graph.from_dict(residual_graph())
    report = infer_shapes(g)
    assert report.ok, report.error_text()
    model = compile_graph(g, seed=3)
    assert model.param_count() == report.total_params
    for nid, count in report.param_counts.items():
        if nid != "in":
            assert model.layer(nid).param_count() == count, nid
    for nid, shape in report.shapes.items():
        assert model.shapes[nid] == shape, nid
    x = np.random.default_rng(0).standard_normal((5, 1, 8, 8)).astype(np.float32)
    y = model.predict(x)
    assert y.shape == (5, 3) and np.allclose(y.sum(axis=1), 1, atol=1e-5)


def test_same_graph_any_file_order_same_weights():
    data = residual_graph()
    reference = compile_graph(Graph.from_dict(data), seed=7).state_dict()
    rng = random.Random(1)
    for _ in range(3):
        shuffled = {"nodes": rng.sample(data["nodes"], len(data["nodes"])),
                    "edges": rng.sample(data["edges"], len(data["edges"]))}
        state = compile_graph(Graph.from_dict(shuffled), seed=7).state_dict()
        assert state.keys() == reference.keys()
        for key in state:
            np.testing.assert_array_equal(state[key], reference[key])
    other_seed = compile_graph(Graph.from_dict(data), seed=8).state_dict()
    assert not np.array_equal(other_seed["c1/W"], reference["c1/W"])


def test_merge_inputs_follow_ports():
    data = residual_graph()
    g = Graph.from_dict(data)
    model = compile_graph(g)
    assert model.nodes["cat"].inputs == ["sum", "r1"]
    assert model.nodes["sum"].inputs == ["c2", "c1"]


def test_param_mapping():
    g = Graph()
    pool = g.add_node("Pool2D", {"size": 3})
    assert layer_kwargs(pool)["stride"] is None
    assert make_layer(pool).stride == 3
    g.set_param(pool.id, "stride", 1)
    assert make_layer(pool).stride == 1
    conv = g.add_node("Conv2D", {"padding": "same", "init": "zeros"})
    layer = make_layer(conv)
    assert layer.pad_spec == "same" and layer.init == "zeros"
    assert type(make_layer(g.add_node("Input"))).__name__ == "InputLayer"


def test_invalid_graph_raises_user_error_with_messages():
    g = Graph()
    g.add_node("Input", {"shape": [784]}, node_id="in")
    g.add_node("Conv2D", node_id="c2")
    g.connect("in", "c2")
    with pytest.raises(UserError, match=r"Conv2D 'c2' needs an input shaped \(channels, height, width\)"):
        compile_graph(g)
    with pytest.raises(UserError, match="no Input node"):
        compile_graph(Graph())


def test_backend_by_name_and_dtype():
    g = Graph.from_dict(residual_graph())
    model = compile_graph(g, backend="numpy", dtype=np.float64)
    assert model.xp is np and model.layer("d1").params["W"].dtype == np.float64
    assert compile_graph(g, backend=get_backend("numpy")).xp is np
