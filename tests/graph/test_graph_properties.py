"""Property tests: any graph gives a shape report, valid graphs compile to the counts the report promises,
and any file content either loads or raises UserError."""
from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnstudio.errors import UserError
from nnstudio.graph.catalogue import BLOCKS
from nnstudio.graph.compile import compile_graph
from nnstudio.graph.document import Edge, Graph, Node
from nnstudio.graph.project_file import load_project, project_from_dict
from nnstudio.graph.shapes import ShapeReport, infer_shapes

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12)

SMALL = {"units": st.integers(1, 6), "filters": st.integers(1, 3), "kernel_size": st.integers(1, 4),
         "stride": st.integers(0, 3), "padding": st.sampled_from([0, 1, 2, "same"]), "size": st.integers(1, 3),
         "axis": st.integers(-2, 1), "rate": st.floats(0, 0.9), "shape": st.sampled_from([[-1], [2, -1], [-1, 2, 2]])}
TYPES = [t for t in BLOCKS if t != "Input"]


@st.composite
def random_graphs(draw: Any) -> Graph:
    """Graphs built through the document API: always structurally legal, often not a valid network."""
    g = Graph()
    shape = draw(st.sampled_from([[1, 6, 6], [2, 5, 5], [4], [8]]))
    g.add_node("Input", {"shape": shape}, node_id="in")
    for _ in range(draw(st.integers(1, 7))):
        btype = draw(st.sampled_from(TYPES))
        params: dict[str, Any] = {}
        for spec in BLOCKS[btype].params:
            if spec.name in SMALL and draw(st.booleans()):
                value = draw(SMALL[spec.name])
                try:
                    params[spec.name] = spec.validate(value, "x")
                except UserError:
                    pass
            elif spec.kind == "choice" and draw(st.booleans()):
                params[spec.name] = draw(st.sampled_from(spec.choices))
        previous = list(g.nodes)[-1]
        node = g.add_node(btype, params)
        existing = [nid for nid in g.nodes if nid != node.id]
        # Mostly a chain (one output), merge blocks also read an earlier node; sometimes any node at all.
        sources = [previous if draw(st.integers(0, 9)) else draw(st.sampled_from(existing))]
        if BLOCKS[btype].n_inputs == -1:
            sources += draw(st.lists(st.sampled_from(existing), min_size=0, max_size=2))
        for src in sources:
            if g.connection_problem(src, node.id, g.free_port(node.id)) is None:
                g.connect(src, node.id)
    if not draw(st.integers(0, 4)):  # a few extra wires, possibly rejected
        ids = list(g.nodes)
        for _ in range(2):
            src, dst = draw(st.sampled_from(ids)), draw(st.sampled_from(ids))
            if g.connection_problem(src, dst, g.free_port(dst)) is None:
                g.connect(src, dst)
    return g


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graphs(), st.integers(0, 3))
def test_valid_graphs_compile_to_the_reported_shapes_and_counts(graph, seed):
    report = infer_shapes(graph)
    assert isinstance(report, ShapeReport)
    if not report.ok:
        try:
            compile_graph(graph)
        except UserError:
            return
        raise AssertionError("compile_graph accepted a graph infer_shapes rejected")
    model = compile_graph(graph, seed=seed)
    assert model.param_count() == report.total_params
    for nid in model.order:
        assert model.shapes[nid] == report.shapes[nid]
    x = np.ones((2,) + report.shapes["in"], dtype=np.float32)
    assert model.predict(x).shape == (2,) + report.shapes[report.output_id]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=3), st.tuples(st.sampled_from(list(BLOCKS) + ["Junk", ""]),
                                                     st.dictionaries(st.sampled_from(["units", "shape", "function",
                                                                                      "kernel_size", "axis", "x"]),
                                                                     json_values, max_size=3)),
                       max_size=6),
       st.lists(st.tuples(st.text(max_size=3), st.text(max_size=3), st.integers(-2, 3)), max_size=8),
       st.sampled_from([None, (1, 28, 28), (784,), "bad"]),
       st.sampled_from([None, "cross_entropy", "mse", "hinge", "bogus"]),
       st.sampled_from([None, 0, 2, 10]))
def test_corrupted_graphs_always_give_a_report(nodes, edges, sample_shape, loss, classes):
    g = Graph()
    g.nodes = {nid: Node(nid, t, p) for nid, (t, p) in nodes.items()}
    g.edges = [Edge(a, b, port) for a, b, port in edges]
    report = infer_shapes(g, sample_shape=sample_shape, loss=loss, num_classes=classes)
    assert isinstance(report, ShapeReport)
    assert report.ok == (not report.errors)
    assert report.total_params == sum(report.param_counts.values())


EXAMPLE = {"format": "nnstudio.project", "version": 1, "name": "LeNet",
           "graph": {"nodes": [{"id": "in", "type": "Input", "params": {"shape": [1, 28, 28]}, "position": [0, 0]},
                               {"id": "c1", "type": "Conv2D", "params": {"filters": 6, "kernel_size": 5}},
                               {"id": "s", "type": "Add", "params": {}}],
                     "edges": [{"from": "in", "to": "c1"}, {"from": "c1", "to": "s", "to_port": 1}]},
           "training": {"dataset": "mnist", "loss": "cross_entropy", "batch_size": 64}}


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, prefix + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, prefix + (i,)))
    return out


PATHS = _paths(EXAMPLE)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PATHS), json_values), min_size=1, max_size=3))
def test_corrupted_project_dicts_raise_only_user_errors(edits):
    data = copy.deepcopy(EXAMPLE)
    for path, value in edits:
        if not path:
            data = value
            continue
        target = data
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            pass
    try:
        project = project_from_dict(data)
    except UserError as exc:
        assert str(exc)
        return
    infer_shapes(project.graph)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_file_content_loads_or_raises_user_error(tmp_path_factory, content):
    path = tmp_path_factory.mktemp("files") / "p.nnproj"
    path.write_bytes(content)
    try:
        load_project(path)
    except UserError:
        pass
