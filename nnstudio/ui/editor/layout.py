"""Automatic placement of a graph's nodes, for files and imports that carry no positions.

A layered drawing, left to right, in the spirit of Sugiyama's method: every node goes to the layer of its
longest path from a source (so each wire points right), then the nodes of each layer are ordered by the
barycentre of their neighbours in the adjacent layer, sweeping forward and backward a few times to reduce
crossings.  Pure Python with no Qt, so it is tested on its own; the editor turns the result into one undoable
move.
"""
from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Iterable, Sequence

Point = tuple[float, float]


@dataclass(frozen=True)
class LayoutSpacing:
    """Distances between layer columns and between rows within a column, in scene units."""

    column: float = 260.0
    row: float = 130.0


def longest_path_layers(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Layer index per node: 0 for sources, else one more than the deepest predecessor.

    Nodes on a cycle (the document refuses cycles, but a hand-edited file may hold one) are placed after
    everything else instead of looping forever.
    """
    known = set(nodes)
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    indegree = {n: 0 for n in nodes}
    for src, dst in edges:
        if src in known and dst in known and src != dst:
            preds[dst].append(src)
            succs[src].append(dst)
            indegree[dst] += 1
    layer = {n: 0 for n in nodes}
    queue = deque(n for n in nodes if indegree[n] == 0)
    done: set[str] = set()
    while queue:
        n = queue.popleft()
        done.add(n)
        for m in succs[n]:
            layer[m] = max(layer[m], layer[n] + 1)
            indegree[m] -= 1
            if indegree[m] == 0:
                queue.append(m)
    leftovers = [n for n in nodes if n not in done]
    if leftovers:
        base = max((layer[n] for n in done), default=-1) + 1
        for i, n in enumerate(leftovers):
            layer[n] = base + i
    return layer


def order_layers(layers: dict[str, int], edges: Iterable[tuple[str, str]], sweeps: int = 4) -> list[list[str]]:
    """Nodes grouped by layer, each group ordered by barycentre sweeps (stable for ties)."""
    edge_list = [(s, d) for s, d in edges if s in layers and d in layers]
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    for s, d in edge_list:
        preds[d].append(s)
        succs[s].append(d)
    count = max(layers.values(), default=-1) + 1
    columns: list[list[str]] = [[] for _ in range(count)]
    for n, k in layers.items():  # dict order = the caller's node order, kept as the first guess
        columns[k].append(n)

    def reorder(column: list[str], neighbours: dict[str, list[str]], index: dict[str, int]) -> list[str]:
        keyed = []
        for pos, n in enumerate(column):
            near = [index[m] for m in neighbours[n] if m in index]
            centre = sum(near) / len(near) if near else float(pos)
            keyed.append((centre, pos, n))
        keyed.sort()
        return [n for _, _, n in keyed]

    for _ in range(max(0, sweeps)):
        for k in range(1, count):
            index = {n: i for i, n in enumerate(columns[k - 1])}
            columns[k] = reorder(columns[k], preds, index)
        for k in range(count - 2, -1, -1):
            index = {n: i for i, n in enumerate(columns[k + 1])}
            columns[k] = reorder(columns[k], succs, index)
    return columns


def auto_layout(nodes: Sequence[str], edges: Iterable[tuple[str, str]],
                spacing: LayoutSpacing = LayoutSpacing(), origin: Point = (0.0, 0.0),
                max_columns: int | None = None) -> dict[str, Point]:
    """Top-left position per node: layers as columns left to right, each column centred vertically.

    With ``max_columns``, a long network wraps like text: layers ``0..max_columns-1`` form the first band,
    the next ones a band below it, so a deep chain stays readable on a screen instead of becoming one thin
    line.
    """
    edge_list = list(edges)
    layers = longest_path_layers(nodes, edge_list)
    columns = order_layers(layers, edge_list)
    per_band = max_columns if max_columns and max_columns > 0 else max(1, len(columns))
    positions: dict[str, Point] = {}
    band_top = origin[1]
    for start in range(0, len(columns), per_band):
        band = columns[start:start + per_band]
        tallest = max((len(c) for c in band), default=0)
        for k, column in enumerate(band):
            top = (tallest - len(column)) * spacing.row / 2.0
            for i, n in enumerate(column):
                positions[n] = (origin[0] + k * spacing.column, band_top + top + i * spacing.row)
        band_top += tallest * spacing.row + spacing.row * 0.6
    return positions


def crossings(columns: list[list[str]], edges: Iterable[tuple[str, str]]) -> int:
    """Number of wire crossings between adjacent columns (used by tests to check the ordering helps)."""
    where = {n: (k, i) for k, column in enumerate(columns) for i, n in enumerate(column)}
    by_gap: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for s, d in edges:
        if s in where and d in where and where[d][0] == where[s][0] + 1:
            by_gap[where[s][0]].append((where[s][1], where[d][1]))
    total = 0
    for pairs in by_gap.values():
        for a in range(len(pairs)):
            for b in range(a + 1, len(pairs)):
                (s1, d1), (s2, d2) = pairs[a], pairs[b]
                if (s1 - s2) * (d1 - d2) < 0:
                    total += 1
    return total
