"""Small graphs and datasets for the training tests (toy data only: each run takes well under a second)."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nnstudio.data.dataset import Dataset
from nnstudio.data.toy import make_toy
from nnstudio.graph.document import Graph


def chain_graph(shape: list[int], layers: list[tuple[str, dict[str, Any]]]) -> Graph:
    """Input(shape) followed by ``layers`` [(type, params)] wired in a chain; ids in0, n1, n2, ..."""
    nodes = [{"id": "in0", "type": "Input", "params": {"shape": shape}}]
    edges = []
    prev = "in0"
    for i, (kind, params) in enumerate(layers, start=1):
        nid = f"n{i}"
        nodes.append({"id": nid, "type": kind, "params": params})
        edges.append({"from": prev, "to": nid})
        prev = nid
    return Graph.from_dict({"nodes": nodes, "edges": edges})


@pytest.fixture
def mlp_graph() -> Graph:
    return chain_graph([2], [("Dense", {"units": 16}), ("Activation", {"function": "tanh"}),
                             ("Dense", {"units": 2}), ("Activation", {"function": "softmax"})])


@pytest.fixture
def moons() -> Dataset:
    return make_toy("moons", n_train=200, n_test=100)


@pytest.fixture
def tiny_images() -> Dataset:
    """A 3-class image set: a bright row, column or diagonal on 1x8x8 noise."""
    rng = np.random.default_rng(0)
    n = 150
    y = np.arange(n) % 3
    x = rng.uniform(0, 0.2, size=(n, 1, 8, 8)).astype(np.float32)
    idx = np.arange(n)
    x[idx[y == 0], 0, 3, :] = 1.0
    x[idx[y == 1], 0, :, 3] = 1.0
    diag = idx[y == 2]
    x[diag[:, None], 0, np.arange(8), np.arange(8)] = 1.0
    return Dataset("tiny", x[:120], y[:120].astype(np.int64), x[120:], y[120:].astype(np.int64), (1, 8, 8), 3,
                   ["row", "col", "diag"], "classification", "test images", "generated")
