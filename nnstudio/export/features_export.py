"""How the Features block is written by the exporters: elementary ONNX operators and one line of PyTorch.

Why this exists: ONNX and PyTorch have no "Playground features" layer, so the block is spelled out from
operators every runtime has (Slice, Mul, Sin, Concat; ``x[:, 0]``, ``torch.sin``, ``torch.stack``), in the
engine's order of features and with the engine's arithmetic (x1² as x1·x1), so exported outputs match.
"""
from __future__ import annotations

from typing import Any

import numpy as np

# feature -> (how it is computed from the columns x1 and x2, as operator names for ONNX)
_ONNX = {
    "x1": ("x1",), "x2": ("x2",), "x1_sq": ("Mul", "x1", "x1"), "x2_sq": ("Mul", "x2", "x2"),
    "x1x2": ("Mul", "x1", "x2"), "sin_x1": ("Sin", "x1"), "sin_x2": ("Sin", "x2"),
}
FEATURE_ORDER = tuple(_ONNX)
_TORCH = {
    "x1": "{x}[:, 0]", "x2": "{x}[:, 1]", "x1_sq": "{x}[:, 0] * {x}[:, 0]", "x2_sq": "{x}[:, 1] * {x}[:, 1]",
    "x1x2": "{x}[:, 0] * {x}[:, 1]", "sin_x1": "torch.sin({x}[:, 0])", "sin_x2": "torch.sin({x}[:, 1])",
}


def emit_onnx(w: Any, nid: str, x: str, out: str, features: tuple[str, ...]) -> None:
    """Write Features block ``nid`` reading ``x`` (N, 2) into ``out`` (N, len(features)) with writer ``w``.

    Each column x1, x2 is a Slice (N, 1); products are Mul, sines Sin; a Concat on axis 1 named ``nid`` joins
    the chosen features in order (it is the block's main node, which carries the block's parameters).
    """
    columns: dict[str, str] = {}

    def column(name: str) -> str:
        if name not in columns:
            k = 0 if name == "x1" else 1
            starts = w.weight(f"{nid}/{name}_start", np.array([k], dtype=np.int64), dtype=np.int64)
            ends = w.weight(f"{nid}/{name}_end", np.array([k + 1], dtype=np.int64), dtype=np.int64)
            axes = w.weight(f"{nid}/{name}_axis", np.array([1], dtype=np.int64), dtype=np.int64)
            columns[name] = w.node("Slice", [x, starts, ends, axes], w.name(f"{nid}/{name}"), name=f"{nid}/{name}")
        return columns[name]

    parts = []
    for feature in features:
        recipe = _ONNX[feature]
        if len(recipe) == 1:
            parts.append(column(recipe[0]))
            continue
        op, *args = recipe
        parts.append(w.node(op, [column(a) for a in args], w.name(f"{nid}/{feature}"), name=f"{nid}/{feature}"))
    w.node("Concat", parts, out, name=nid, axis=1)


def recognise_onnx(importer: Any, i: int) -> tuple[str, tuple[str, ...], set[int]] | None:
    """(data tensor, features, helper node indices) when Concat node ``i`` of an ONNX import joins features
    computed as :func:`emit_onnx` writes them, else None.

    The operators decide, not the names: each input of the Concat must be a Slice of one column of the same
    (N, 2) tensor, or a Mul of two such columns, or a Sin of one, used by nothing outside the construction,
    and the features must come in the engine's order.
    """
    nodes, producer, consts = importer.nodes, importer.producer, importer.consts
    if importer.attr(i, "axis", None) not in (1, -1):
        return None

    def column(tensor: str) -> tuple[str, str, int] | None:  # (source tensor, "x1" or "x2", slice node)
        k = producer.get(tensor)
        if k is None or nodes[k].op_type != "Slice" or len(nodes[k].input) < 4:
            return None
        src, *rest = nodes[k].input[:4]
        if src in consts or not all(t in consts for t in rest):
            return None
        try:
            start, end, axis = (int(np.asarray(consts[t]).reshape(-1)[0]) for t in rest)
            sizes = [np.asarray(consts[t]).size for t in rest]
        except (TypeError, ValueError, IndexError):
            return None
        if sizes != [1, 1, 1] or axis not in (1, -1) or (start, end) not in ((0, 1), (1, 2)):
            return None
        return src, "x1" if start == 0 else "x2", k

    sources: set[str] = set()
    helpers: set[int] = set()
    features: list[str] = []
    for tensor in nodes[i].input:
        k = producer.get(tensor)
        if k is None:
            return None
        op, inputs = nodes[k].op_type, list(nodes[k].input)
        if op == "Slice":
            parts = [column(tensor)]
        elif (op, len(inputs)) in (("Mul", 2), ("Sin", 1)):
            parts = [column(t) for t in inputs]
            helpers.add(k)
        else:
            return None
        if not all(parts):
            return None
        name = _RECOGNISED.get((op, tuple(part[1] for part in parts)))  # type: ignore[index]
        if name is None:
            return None
        features.append(name)
        for src, _, slice_node in parts:  # type: ignore[misc]
            sources.add(src)
            helpers.add(slice_node)
    if len(sources) != 1 or features != [f for f in FEATURE_ORDER if f in features]:
        return None  # another order (or a feature twice) is not what the Features block computes
    for k in helpers:  # a helper read outside the construction would lose its other reader
        for out in nodes[k].output:
            if any(j not in helpers and j != i for j in importer.consumers(out)):
                return None
    return sources.pop(), tuple(features), helpers


_RECOGNISED = {
    ("Slice", ("x1",)): "x1", ("Slice", ("x2",)): "x2", ("Mul", ("x1", "x1")): "x1_sq",
    ("Mul", ("x2", "x2")): "x2_sq", ("Mul", ("x1", "x2")): "x1x2", ("Mul", ("x2", "x1")): "x1x2",
    ("Sin", ("x1",)): "sin_x1", ("Sin", ("x2",)): "sin_x2",
}


def torch_expression(x: str, features: tuple[str, ...]) -> str:
    """The PyTorch expression of the chosen features of batch ``x`` (a variable name), shaped (N, k)."""
    return "torch.stack([" + ", ".join(_TORCH[f].format(x=x) for f in features) + "], dim=1)"


__all__ = ["emit_onnx", "recognise_onnx", "torch_expression"]
