"""What differs between runs: settings, the network, and results, for the comparison table and legend.

Why this exists: a comparison is only readable when it says what changed ("function: sigmoid -> relu"),
not when it lists every setting of every run.  These functions take stored runs (``Run`` objects or
anything with ``settings``, ``graph_dict`` and ``metrics``) and return plain rows for any front end.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Sequence

MISSING = "—"
# Settings that describe the view or the machine, not the experiment: not worth a row.
IGNORED_SETTINGS = ("hints", "backend")
METRIC_KEYS = ("test_acc", "test_loss", "test_mse", "test_r2", "val_acc", "val_loss", "train_acc", "train_loss")


@dataclass
class Difference:
    """One row of the comparison: ``key`` ("learning_rate", "h1.function", "wiring") and a value per run."""

    key: str
    values: list[Any]
    kind: str  # "setting" or "graph"


def format_value(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if not math.isfinite(value) else f"{value:g}"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _same(values: Sequence[Any]) -> bool:
    first = json.dumps(values[0], sort_keys=True, default=str)
    return all(json.dumps(v, sort_keys=True, default=str) == first for v in values[1:])


def settings_differences(runs: Sequence[Any]) -> list[Difference]:
    """The training settings whose values are not the same in every run."""
    settings = [r.settings for r in runs]
    keys = sorted({k for s in settings for k in s if k not in IGNORED_SETTINGS})
    out = []
    for key in keys:
        values = [s.get(key) for s in settings]
        if not _same(values):
            out.append(Difference(key, values, "setting"))
    return out


def _nodes(graph: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {str(n.get("id")): n for n in graph.get("nodes", []) if isinstance(n, dict)}


def _edges(graph: dict[str, Any]) -> list[tuple[str, str, int]]:
    return sorted((str(e.get("from")), str(e.get("to")), int(e.get("to_port", 0) or 0))
                  for e in graph.get("edges", []) if isinstance(e, dict))


def graph_differences(runs: Sequence[Any]) -> list[Difference]:
    """Blocks present in some runs only, block parameters that differ, and different wiring."""
    graphs = [r.graph_dict for r in runs]
    node_maps = [_nodes(g) for g in graphs]
    order: list[str] = []
    for nodes in node_maps:
        order += [nid for nid in nodes if nid not in order]
    out = []
    for nid in order:
        present = [nodes.get(nid) for nodes in node_maps]
        types = [n.get("type") if n else None for n in present]
        if any(n is None for n in present) or not _same(types):
            out.append(Difference(nid, types, "graph"))
            continue
        params = [dict(n.get("params") or {}) for n in present if n]
        for name in sorted({k for p in params for k in p}):
            values = [p.get(name) for p in params]
            if not _same(values):
                out.append(Difference(f"{nid}.{name}", values, "graph"))
    edges = [_edges(g) for g in graphs]
    if not _same(edges):
        out.append(Difference("wiring", [f"{len(e)} wires" for e in edges], "graph"))
    return out


def differences(runs: Sequence[Any]) -> list[Difference]:
    return settings_differences(runs) + graph_differences(runs)


def metric_rows(runs: Sequence[Any]) -> list[Difference]:
    """The final metrics that any of the runs has, one row each."""
    rows = []
    for key in METRIC_KEYS:
        values = [r.metrics.get(key) for r in runs]
        if any(isinstance(v, (int, float)) and v is not None and math.isfinite(float(v)) for v in values):
            rows.append(Difference(key, values, "metric"))
    return rows


def grouped_differences(runs: Sequence[Any]) -> list[Difference]:
    """``differences`` with the keys that change together merged: eight sigmoid blocks all switched to ReLU
    read "function (×8)", not eight rows."""
    groups: list[tuple[list[str], Difference]] = []
    for d in differences(runs):
        for keys, first in groups:
            if _same([first.values, d.values]) and first.kind == d.kind:
                keys.append(d.key)
                break
        else:
            groups.append(([d.key], d))
    out = []
    for keys, first in groups:
        if len(keys) == 1:
            out.append(first)
            continue
        params = {k.split(".", 1)[1] if "." in k else k for k in keys}
        name = f"{params.pop()} (×{len(keys)})" if len(params) == 1 else f"{keys[0]} (+{len(keys) - 1})"
        out.append(Difference(name, first.values, first.kind))
    return out


def legend_labels(runs: Sequence[Any], limit: int = 3) -> list[str]:
    """One short label per run: its id and what differs in it ("0003: function (×8)=relu"), else its name."""
    diffs = grouped_differences(runs)
    labels = []
    for i, run in enumerate(runs):
        parts = [f"{d.key}={format_value(d.values[i])}" for d in diffs[:limit]]
        if len(diffs) > limit:
            parts.append("…")
        run_id = getattr(run, "id", str(i + 1))
        labels.append(f"{run_id}: {', '.join(parts)}" if parts else f"{run_id}: {getattr(run, 'name', '')}")
    return labels


def best_index(runs: Sequence[Any]) -> int | None:
    """The run with the best result: highest test accuracy, else lowest test loss (None: no results)."""
    for key, better in (("test_acc", max), ("test_r2", max), ("test_loss", min), ("val_loss", min),
                        ("train_loss", min)):
        scored = [(float(r.metrics[key]), i) for i, r in enumerate(runs)
                  if isinstance(r.metrics.get(key), (int, float)) and math.isfinite(float(r.metrics[key]))]
        if scored:
            value = better(s for s, _ in scored)
            return next(i for s, i in scored if s == value)
    return None


__all__ = ["Difference", "best_index", "differences", "format_value", "graph_differences", "grouped_differences",
           "legend_labels",
           "metric_rows", "settings_differences"]
