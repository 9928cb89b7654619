"""Auto-layout (Qt-free): longest-path layers left to right, barycentre ordering, wrapping, robustness."""
from __future__ import annotations

import random

from nnstudio.ui.editor.layout import LayoutSpacing, auto_layout, crossings, longest_path_layers, order_layers


def test_layers_follow_longest_path():
    nodes = ["a", "b", "c", "d", "e"]
    edges = [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d"), ("a", "e")]
    layers = longest_path_layers(nodes, edges)
    assert layers == {"a": 0, "b": 1, "c": 2, "d": 3, "e": 1}


def test_every_wire_points_right():
    rng = random.Random(3)
    nodes = [f"n{i}" for i in range(60)]
    edges = [(nodes[i], nodes[j]) for j in range(1, 60) for i in rng.sample(range(j), k=min(j, 2))]
    pos = auto_layout(nodes, edges, LayoutSpacing(column=100, row=50))
    assert set(pos) == set(nodes)
    assert all(pos[s][0] < pos[d][0] for s, d in edges)
    assert len(set(pos.values())) == len(nodes)  # no two nodes on the same spot


def test_barycentre_ordering_removes_avoidable_crossings():
    # two parallel chains whose second layer starts in crossed order
    nodes = ["a1", "b1", "b2", "a2", "a3", "b3"]
    edges = [("a1", "a2"), ("b1", "b2"), ("a2", "a3"), ("b2", "b3")]
    layers = longest_path_layers(nodes, edges)
    naive = [[n for n in nodes if layers[n] == k] for k in range(3)]
    assert crossings(naive, edges) > 0
    ordered = order_layers(layers, edges)
    assert crossings(ordered, edges) == 0


def test_long_chains_wrap_into_bands():
    nodes = [f"n{i}" for i in range(12)]
    edges = list(zip(nodes, nodes[1:]))
    pos = auto_layout(nodes, edges, LayoutSpacing(column=100, row=50), max_columns=5)
    xs = sorted({p[0] for p in pos.values()})
    assert xs == [0, 100, 200, 300, 400]
    assert pos["n5"][0] == 0 and pos["n5"][1] > pos["n4"][1]
    assert pos["n10"][1] > pos["n9"][1]


def test_cycles_and_unknown_ends_do_not_hang():
    layers = longest_path_layers(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "b"), ("x", "a")])
    assert layers["a"] == 0
    assert len(set(layers.values())) == 3
