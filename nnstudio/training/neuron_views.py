"""Every neuron of a small dense network on 2-D data, over the plane: the data behind the neuron view.

Why this exists: TensorFlow Playground's lesson is that each hidden unit draws one simple picture over the
plane (a line, a bend) and the next layer mixes them.  To show that here, the worker thread evaluates the
network on a small grid of the plane once in a while and keeps every Dense unit's output (after the
activation that follows it), with the current weights and biases.  :func:`neuron_view` does that as plain
host arrays; :func:`neuron_formula` writes one unit's sum with the current numbers at one point of the plane.
Nothing here knows about Qt or threads (the GUI's worker calls it, throttled, as it does ``views.boundary``).

Only small chains are shown (``MAX_UNITS`` hidden units per layer, ``MAX_HIDDEN`` hidden layers, one path
from the input to the output through Dense, Activation, Dropout and feature blocks); for anything else
:func:`neuron_layout` returns the reason (:class:`Unsupported`), which the view shows in one line instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnstudio.engine.backend import to_device, to_host
from nnstudio.engine.layers.features import FEATURES as FEATURE_TITLES

NEURON_GRID = 24  # each neuron's picture is NEURON_GRID x NEURON_GRID samples of the plane
MAX_UNITS = 8  # hidden units per layer the view can lay out
MAX_HIDDEN = 4  # hidden layers the view can lay out
MAX_INPUTS = 8  # values entering the first Dense layer (x1, x2, or a few features of them)
PASS_THROUGH = ("Dropout",)  # blocks that change nothing at prediction time


@dataclass
class NeuronLayer:
    """One Dense layer: its units' outputs over the plane and the weights that feed them."""

    node_id: str  # the Dense node
    activation: str  # the function applied to its sum ("linear" when no Activation follows)
    maps: np.ndarray  # (units, G, G): each unit's output over the plane, after the activation
    sums: np.ndarray  # (units, G, G): the weighted sums before the activation
    weights: np.ndarray  # (inputs, units)
    bias: np.ndarray  # (units,)


@dataclass
class NeuronView:
    """The whole network over the plane ``extent`` (x0, x1, y0, y1) at training step ``step``."""

    step: int
    extent: tuple[float, float, float, float]
    inputs: np.ndarray  # (inputs, G, G): what enters the first Dense layer (x1, x2 or features)
    input_names: list[str]
    layers: list[NeuronLayer] = field(default_factory=list)

    @property
    def grid(self) -> int:
        return int(self.inputs.shape[-1])

    def values_into(self, layer: int) -> np.ndarray:
        """(inputs, G, G): the values entering layer ``layer`` (the network's inputs or the layer before)."""
        return self.inputs if layer == 0 else self.layers[layer - 1].maps


@dataclass
class NeuronLayout:
    """How a model maps onto the view: the node feeding the first Dense, then (Dense, Activation or None)."""

    input_node: str
    dense: list[tuple[str, str | None]]


def _chain(model: Any) -> list[str] | None:
    """The node ids from the input to the output when the network is one path (None when it branches)."""
    ids = [nid for nid in model.order if nid != model.input_id]
    previous = model.input_id
    for nid in ids:
        if list(model.nodes[nid].inputs) != [previous]:
            return None
        previous = nid
    return ids if previous == model.output_id else None


@dataclass(frozen=True)
class Unsupported:
    """Why a network cannot be shown: ``code`` names the reason, ``values`` fill its message."""

    code: str  # not_plane, branches, block, no_dense, too_deep, too_wide
    values: dict[str, Any] = field(default_factory=dict)


def neuron_layout(model: Any) -> NeuronLayout | Unsupported:
    """The layout of ``model`` for the neuron view, or why it cannot be shown."""
    if _input_shape(model) != (2,):
        return Unsupported("not_plane")
    chain = _chain(model)
    if chain is None:
        return Unsupported("branches")
    input_node = model.input_id
    dense: list[tuple[str, str | None]] = []
    for nid in chain:
        kind = str(getattr(model.layer(nid), "type_name", type(model.layer(nid)).__name__))
        if kind == "Dense":
            dense.append((nid, None))
        elif kind == "Activation" and dense and dense[-1][1] is None:
            dense[-1] = (dense[-1][0], nid)
        elif kind in PASS_THROUGH:
            continue
        elif not dense:
            input_node = nid  # a feature block (x1², sin x1, ...) before the first Dense layer
        else:
            return Unsupported("block", {"node": nid, "kind": kind})
    if not dense:
        return Unsupported("no_dense")
    hidden = dense[:-1]
    if len(hidden) > MAX_HIDDEN:
        return Unsupported("too_deep", {"most": MAX_HIDDEN, "found": len(hidden)})
    for nid, _act in dense:
        units = int(model.layer(nid).units)
        if units > MAX_UNITS:
            return Unsupported("too_wide", {"most": MAX_UNITS, "node": nid, "found": units})
    return NeuronLayout(input_node, dense)


def _input_shape(model: Any) -> tuple[int, ...]:
    shape = getattr(model, "input_shape", None) or getattr(model.nodes[model.input_id].layer, "shape", None)
    return tuple(int(s) for s in (shape or ()))


FEATURE_NAMES = {"x1": "x1", "x2": "x2", "x1_sq": "x1²", "x2_sq": "x2²", "x1x2": "x1·x2", "sin_x1": "sin(x1)",
                 "sin_x2": "sin(x2)"}


def input_value_names(model: Any, node: str, count: int) -> list[str]:
    """What enters the first Dense layer, as the formula names it: x1, x2; a Features block's own features
    (x1², sin(x1), ...); f1, f2, ... for anything else."""
    if node == model.input_id:
        return ["x1", "x2"]
    features = list(getattr(model.layer(node), "features", None) or [])
    if len(features) == count:
        return [FEATURE_NAMES.get(str(f), str(f)) for f in features]
    return [f"f{i + 1}" for i in range(count)]


def plane_grid(extent: tuple[float, float, float, float], grid: int = NEURON_GRID) -> np.ndarray:
    """(grid * grid, 2) points of the plane, row by row from y0 to y1 (row-major images, y up)."""
    x0, x1, y0, y1 = extent
    gx, gy = np.meshgrid(np.linspace(x0, x1, grid, dtype=np.float32), np.linspace(y0, y1, grid, dtype=np.float32))
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def neuron_view(model: Any, extent: tuple[float, float, float, float], step: int,
                layout: NeuronLayout | None = None, grid: int = NEURON_GRID) -> NeuronView | None:
    """Every Dense unit's output over a ``grid`` x ``grid`` raster of ``extent`` (None: not a small chain)."""
    layout = layout if layout is not None else neuron_layout(model)
    if not isinstance(layout, NeuronLayout):
        return None
    points = plane_grid(extent, grid)
    model.forward(to_device(points, model.xp, model.dtype), training=False, capture=True)
    acts = model.activations
    try:
        def maps(nid: str) -> np.ndarray:
            value = np.asarray(to_host(acts[nid]), dtype=np.float32).reshape(grid * grid, -1)
            return value.T.reshape(-1, grid, grid)

        inputs = maps(layout.input_node)
        if inputs.shape[0] > MAX_INPUTS:
            return None
        names = input_value_names(model, layout.input_node, inputs.shape[0])
        chosen = getattr(model.layer(layout.input_node), "features", None) if names[0] != "x1" else None
        if chosen is not None and len(chosen) == inputs.shape[0]:  # a Features block: x1², sin(x2), ...
            names = [FEATURE_TITLES[f] for f in chosen]
        layers = []
        for dense_id, act_id in layout.dense:
            layer = model.layer(dense_id)
            w = np.asarray(to_host(layer.params["W"]), dtype=np.float32)
            b = layer.params.get("b")
            b = np.zeros(w.shape[1], np.float32) if b is None else np.asarray(to_host(b), dtype=np.float32)
            sums = maps(dense_id)
            out = maps(act_id) if act_id is not None else sums
            function = str(getattr(model.layer(act_id), "function", "linear")) if act_id is not None else "linear"
            layers.append(NeuronLayer(dense_id, function, out, sums, w, b))
    finally:
        model.activations = {}
    return NeuronView(step, tuple(float(v) for v in extent), inputs, names, layers)


def _num(value: float) -> str:
    value = float(value) + 0.0  # no "-0" (a ReLU's zero can carry a sign)
    text = f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.1e}"
    return "−" + text[1:] if text.startswith("-") else text  # a minus sign, not a hyphen


def _value(value: float) -> str:
    """A value inside a product: in parentheses when negative (0.5·(−0.3))."""
    text = _num(value)
    return f"({text})" if text.startswith("−") else text


def _weighted_sum(weights: list[float], names: list[str], bias: float) -> str:
    """``w1·n1 + w2·n2 + b`` with each sign written once: 0.5·x1 − 0.25·x2 + 0.1."""
    out = ""
    for i, (w, name) in enumerate(zip(weights, names)):
        body = f"{_num(abs(w))}·{name}"
        out += (("−" if w < 0 else "") + body) if i == 0 else (f" − {body}" if w < 0 else f" + {body}")
    return out + (f" − {_num(abs(bias))}" if bias < 0 else f" + {_num(bias)}")


def grid_cell(view: NeuronView, x: float, y: float) -> tuple[int, int]:
    """(row, col) of the grid sample nearest to the plane point (x, y)."""
    x0, x1, y0, y1 = view.extent
    g = view.grid
    col = int(round((x - x0) / max(x1 - x0, 1e-12) * (g - 1)))
    row = int(round((y - y0) / max(y1 - y0, 1e-12) * (g - 1)))
    return min(max(row, 0), g - 1), min(max(col, 0), g - 1)


def input_names(view: NeuronView, layer: int) -> list[str]:
    """Names of the values entering layer ``layer``: x1, x2 (or f1..), then h1_1, h1_2, ... per layer."""
    if layer == 0:
        return list(view.input_names)
    return [f"h{layer}_{j + 1}" for j in range(view.layers[layer - 1].maps.shape[0])]


def neuron_formula(view: NeuronView, layer: int, unit: int, row: int, col: int) -> str:
    """Unit ``unit`` of layer ``layer`` at grid sample (row, col), with the current numbers:
    ``w1·x1 + w2·x2 + b = s`` then ``f(s) = out`` (two lines; the second only when an activation follows)."""
    nl = view.layers[layer]
    names = input_names(view, layer)
    values = view.values_into(layer)[:, row, col]
    weights = nl.weights[:, unit]
    bias = float(nl.bias[unit])
    total = float(weights @ values + bias)
    general = _weighted_sum([float(w) for w in weights], names, bias)
    numbers = _weighted_sum([float(w) for w in weights], [_value(float(v)) for v in values], bias)
    line = f"{general} = {numbers} = {_num(total)}"
    if nl.activation == "linear":
        return line
    if nl.activation == "softmax":  # depends on every unit's sum, not on this one alone
        return line + f"\nsoftmax(…) = {_num(float(nl.maps[unit, row, col]))}"
    return line + f"\n{nl.activation}({_num(total)}) = {_num(float(nl.maps[unit, row, col]))}"


__all__ = ["MAX_HIDDEN", "MAX_UNITS", "NEURON_GRID", "NeuronLayer", "NeuronLayout", "NeuronView", "Unsupported", "grid_cell",
           "input_names", "neuron_formula", "neuron_layout", "neuron_view", "plane_grid"]
