"""Networks the interoperability tests run through every exporter and the importer.

``case`` is parametrised over hand-built graphs that together use every block type (and every activation,
padding mode, merge with 2 and 3 inputs, BatchNorm on images and vectors with non-trivial running
statistics) and over every example project shipped in resources/examples.  Weights are the seeded initial
ones with biases and BatchNorm statistics perturbed, so nothing is trivially zero or one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nnstudio.graph.compile import compile_graph
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, load_project
from nnstudio.resources_path import resource

# (id, type, params) nodes and (src, dst) edges, wired in this order (so ports follow the list).
GRAPHS: dict[str, tuple[list[tuple[str, str, dict[str, Any]]], list[tuple[str, str]]]] = {
    "mlp": ([
        ("in", "Input", {"shape": [8]}),
        ("d1", "Dense", {"units": 16}),
        ("a1", "Activation", {"function": "relu"}),
        ("drop", "Dropout", {"rate": 0.3}),
        ("d2", "Dense", {"units": 12, "use_bias": False}),
        ("a2", "Activation", {"function": "tanh"}),
        ("d3", "Dense", {"units": 5}),
        ("out", "Activation", {"function": "softmax"}),
    ], [("in", "d1"), ("d1", "a1"), ("a1", "drop"), ("drop", "d2"), ("d2", "a2"), ("a2", "d3"), ("d3", "out")]),
    "cnn": ([
        ("img", "Input", {"shape": [1, 12, 12]}),
        ("c1", "Conv2D", {"filters": 4, "kernel_size": 3, "padding": 1}),
        ("bn1", "BatchNorm", {"momentum": 0.8, "eps": 1e-3}),
        ("r1", "Activation", {"function": "relu"}),
        ("p1", "Pool2D", {"mode": "max", "size": 2}),
        ("c2", "Conv2D", {"filters": 6, "kernel_size": 3, "stride": 2, "padding": "same"}),
        ("lr", "Activation", {"function": "leaky_relu", "alpha": 0.1}),
        ("p2", "Pool2D", {"mode": "avg", "size": 2, "stride": 1}),
        ("flat", "Flatten", {}),
        ("fc", "Dense", {"units": 3}),
        ("sig", "Activation", {"function": "sigmoid"}),
    ], [("img", "c1"), ("c1", "bn1"), ("bn1", "r1"), ("r1", "p1"), ("p1", "c2"), ("c2", "lr"), ("lr", "p2"),
        ("p2", "flat"), ("flat", "fc"), ("fc", "sig")]),
    "residual": ([
        ("x", "Input", {"shape": [2, 8, 8]}),
        ("stem", "Conv2D", {"filters": 4, "kernel_size": 3, "padding": "same"}),
        ("relu", "Activation", {"function": "relu"}),
        ("b1", "Conv2D", {"filters": 4, "kernel_size": 3, "padding": 1}),
        ("bn", "BatchNorm", {}),
        ("b2", "Conv2D", {"filters": 4, "kernel_size": 1}),
        ("sum", "Add", {}),
        ("side", "Conv2D", {"filters": 2, "kernel_size": 5, "padding": 2}),
        ("cat", "Concat", {"axis": 0}),
        ("pool", "Pool2D", {"mode": "avg", "size": 2}),
        ("head", "Dense", {"units": 6}),
        ("hrelu", "Activation", {"function": "relu"}),
        ("step", "Activation", {"function": "sign"}),
    ], [("x", "stem"), ("stem", "relu"), ("relu", "b1"), ("b1", "bn"), ("relu", "b2"),
        ("relu", "sum"), ("bn", "sum"), ("b2", "sum"), ("x", "side"), ("sum", "cat"), ("side", "cat"),
        ("cat", "pool"), ("pool", "head"), ("head", "hrelu"), ("hrelu", "step")]),
    "vectors": ([
        ("v", "Input", {"shape": [16]}),
        ("to_img", "Reshape", {"shape": [1, 4, -1]}),
        ("smx", "Activation", {"function": "softmax"}),
        ("conv", "Conv2D", {"filters": 2, "kernel_size": 2}),
        ("back", "Reshape", {"shape": [-1]}),
        ("dense", "Dense", {"units": 8}),
        ("vbn", "BatchNorm", {"momentum": 0.5}),
        ("other", "Dense", {"units": 4, "init": "glorot"}),
        ("join", "Concat", {"axis": -1}),
        ("lin", "Activation", {"function": "linear"}),
        ("reg", "Dense", {"units": 2}),
    ], [("v", "to_img"), ("to_img", "smx"), ("smx", "conv"), ("conv", "back"), ("back", "dense"),
        ("dense", "vbn"), ("v", "other"), ("vbn", "join"), ("other", "join"), ("join", "lin"), ("lin", "reg")]),
}


def build_graph(name: str) -> Graph:
    nodes, edges = GRAPHS[name]
    graph = Graph()
    for nid, block_type, params in nodes:
        graph.add_node(block_type, params, node_id=nid)
    for src, dst in edges:
        graph.connect(src, dst)
    return graph


def example_files() -> list[Path]:
    folder = resource("examples")
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in (".json", ".nnproj"))


@dataclass
class Case:
    """A network to export: the project, weights to use and a batch of inputs."""

    name: str
    project: Project
    state: dict[str, np.ndarray]
    x: np.ndarray


def perturbed_state(project: Project, seed: int = 1) -> dict[str, np.ndarray]:
    """The project's initial weights with biases and BatchNorm parameters/statistics made non-trivial."""
    model = compile_graph(project.graph, backend="numpy", seed=int(project.training.get("seed", 0)))
    rng = np.random.default_rng(seed)
    state = model.state_dict()
    for key, value in state.items():
        param = key.rsplit("/", 1)[1]
        if param in ("b", "beta", "running_mean"):
            state[key] = rng.normal(0.0, 0.3, value.shape).astype(np.float32)
        elif param in ("gamma", "running_var"):
            state[key] = rng.uniform(0.5, 1.5, value.shape).astype(np.float32)
    return state


def make_case(name: str, project: Project, batch: int = 6) -> Case:
    model = compile_graph(project.graph, backend="numpy")
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 1.0, (batch, *model.input_shape)).astype(np.float32)
    return Case(name, project, perturbed_state(project), x)


CASE_IDS = [f"graph-{name}" for name in GRAPHS] + [f"example-{p.stem}" for p in example_files()]


@pytest.fixture(params=CASE_IDS)
def case(request: pytest.FixtureRequest) -> Case:
    kind, name = request.param.split("-", 1)
    if kind == "graph":
        return make_case(name, Project(name=f"Test {name}", graph=build_graph(name)))
    path = next(p for p in example_files() if p.stem == name)
    return make_case(name, load_project(path))


@pytest.fixture
def graph_case() -> Any:
    """A function building the Case of one hand-built graph by name."""
    return lambda name: make_case(name, Project(name=f"Test {name}", graph=build_graph(name)))
