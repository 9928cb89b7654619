"""Deterministic topological order, shared by the engine's model and the graph's shape inference.

Kahn's algorithm with ties broken by node id (a heap), so the same graph always runs, initialises and reports
in the same order, whatever the order of nodes and wires in its file.
"""
from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping


def stable_order(successors: Mapping[str, Iterable[str]], indegree: Mapping[str, int]) -> list[str]:
    """Nodes in dependency order (ties by id); nodes on or behind a cycle are left out.

    ``successors[n]`` lists each consumer of ``n`` once per wire counted in ``indegree``.
    """
    pending = dict(indegree)
    ready = [nid for nid, count in pending.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        nid = heapq.heappop(ready)
        order.append(nid)
        for dst in successors.get(nid, ()):
            pending[dst] -= 1
            if pending[dst] == 0:
                heapq.heappush(ready, dst)
    return order
