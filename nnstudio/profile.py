"""What each layer of a network costs: parameters, multiply-accumulates, activation memory and time.

Why this exists: people who build a network want to know where its size and its time go before (and while)
they train it.  :func:`count_costs` works from the document alone (the same shape inference the Problems
panel uses, never building the network), so the editor can recount on every edit; :func:`measure_times`
builds the network on a backend and times each layer's forward and backward on one batch.  The CLI
(``nnstudio profile``), ``nnstudio check``'s memory warning and the editor's cost badges and table all read
these figures.  No Qt here.

Conventions (also in ``docs/profile.md``):

* **MACs** are multiply-accumulates per sample in the forward pass, counted for layers that multiply by
  weights: a Dense's = input features x units; a Conv2D's = output elements x input channels x kernel
  height x kernel width; a BatchNorm's = its output elements (one scale-and-shift per value).  Biases,
  activations, pooling, dropout, reshapes and merges are elementwise or data movement and count 0.
* **Backward MACs**: a weighted layer computes the gradient of its weights (as many MACs as its forward) and
  the gradient of its input (as many again), so backward ~ 2 x forward; a layer fed directly by the network
  input skips the input gradient in the engine (nobody reads it), so its backward = 1 x forward.  Training
  MACs per sample = forward + backward.
* **Activation memory** of a node is its output: output elements x bytes of the dtype, per sample and per
  batch (x batch size).  The Input node's entry is the batch itself.
* **Training memory** (what ``check`` compares with the free memory): the parameters four times over
  (values, gradients and two optimizer slots, as Adam keeps) plus every node's activation and its gradient at
  the batch size.
* **Times** are the median over repeats (after one warm-up) of each layer's own ``forward`` (training mode)
  and ``backward`` on one batch of random inputs, in milliseconds per batch, on the chosen backend.
"""
from __future__ import annotations

import math
import statistics
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnstudio.errors import UserError

WEIGHTED = ("Dense", "Conv2D", "BatchNorm")


@dataclass
class LayerCost:
    """One node's counts (per sample unless said otherwise) and, once measured, its times per batch."""

    node: str
    type: str
    output_shape: tuple[int, ...] | None
    params: int = 0
    macs: int = 0  # forward, per sample
    backward_macs: int = 0  # per sample
    activation_elements: int = 0  # per sample
    itemsize: int = 4
    batch: int = 64
    forward_ms: float | None = None
    backward_ms: float | None = None

    @property
    def train_macs(self) -> int:
        """Forward + backward multiply-accumulates per sample."""
        return self.macs + self.backward_macs

    @property
    def activation_bytes_per_sample(self) -> int:
        return self.activation_elements * self.itemsize

    @property
    def activation_bytes(self) -> int:
        """The node's output for a whole batch, in bytes."""
        return self.activation_bytes_per_sample * self.batch

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "type": self.type, "params": self.params, "macs": self.macs,
                "train_macs": self.train_macs, "activation_bytes": self.activation_bytes,
                "activation_bytes_per_sample": self.activation_bytes_per_sample,
                "forward_ms": self.forward_ms, "backward_ms": self.backward_ms}


@dataclass
class Profile:
    """Every node's costs in execution order (nodes the checker could not shape are left out)."""

    rows: list[LayerCost] = field(default_factory=list)
    batch: int = 64
    dtype: str = "float32"
    backend: str | None = None  # set once times are measured
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def total(self, key: str) -> float:
        """Sum of one figure over the nodes: params, macs, train_macs, activation_bytes, forward_ms, ..."""
        return sum((getattr(r, key) or 0) for r in self.rows)

    @property
    def total_params(self) -> int:
        return int(self.total("params"))

    @property
    def training_memory_bytes(self) -> int:
        """Parameters with their gradients and two optimizer slots, and every activation with its gradient,
        at the batch size (see the module docstring)."""
        itemsize = np.dtype(self.dtype).itemsize
        return int(4 * itemsize * self.total_params + 2 * self.total("activation_bytes"))

    def share(self, row: LayerCost, key: str = "macs") -> float:
        """The node's part of the total (0 when the total is 0)."""
        whole = self.total(key)
        return float(getattr(row, key) or 0) / whole if whole else 0.0

    def largest(self, key: str = "macs") -> LayerCost | None:
        """The node with the largest figure (None when every node has 0)."""
        best = max(self.rows, key=lambda r: getattr(r, key) or 0, default=None)
        return best if best is not None and (getattr(best, key) or 0) > 0 else None

    def row(self, node_id: str) -> LayerCost | None:
        return next((r for r in self.rows if r.node == node_id), None)

    def to_json(self) -> dict[str, Any]:
        keys = ("params", "macs", "train_macs", "activation_bytes", "activation_bytes_per_sample")
        total: dict[str, Any] = {k: int(self.total(k)) for k in keys}
        timed = self.backend is not None
        total["forward_ms"] = self.total("forward_ms") if timed else None
        total["backward_ms"] = self.total("backward_ms") if timed else None
        total["training_memory_bytes"] = self.training_memory_bytes
        return {"batch": self.batch, "dtype": self.dtype, "backend": self.backend,
                "nodes": [r.to_json() for r in self.rows], "total": total}


# -- counting -------------------------------------------------------------------------------------------------

def _order(graph: Any, known: set[str]) -> list[str]:
    from nnstudio.engine.dag import stable_order  # noqa: PLC0415

    succ: dict[str, list[str]] = {n: [] for n in known}
    indegree = {n: 0 for n in known}
    for e in graph.edges:
        if e.src in known and e.dst in known:
            succ[e.src].append(e.dst)
            indegree[e.dst] += 1
    return stable_order(succ, indegree)


def _layer(graph: Any, nid: str) -> Any:
    from nnstudio.graph.catalogue import get_block  # noqa: PLC0415
    from nnstudio.graph.layer_map import layer_for  # noqa: PLC0415

    node = graph.nodes[nid]
    label = f"{node.type} '{nid}'"
    return layer_for(node.type, get_block(node.type).validate_params(node.params, label), label)


def layer_macs(node_type: str, layer: Any, in_shapes: list[tuple[int, ...]], out_shape: tuple[int, ...],
               fed_by_input: bool) -> tuple[int, int]:
    """(forward MACs, backward MACs) per sample of one node, by the conventions in the module docstring."""
    out_elements = math.prod(out_shape)
    if node_type == "Dense":
        forward = math.prod(in_shapes[0]) * int(layer.units)
    elif node_type == "Conv2D":
        kh, kw = layer.kernel
        forward = out_elements * int(in_shapes[0][0]) * int(kh) * int(kw)
    elif node_type == "BatchNorm":
        forward = out_elements
    else:
        return 0, 0
    return forward, forward * (1 if fed_by_input else 2)


def count_costs(graph: Any, batch: int = 64, dtype: Any = np.float32) -> Profile:
    """Every node's parameters, MACs and activation memory, from shape inference alone (never raises for a
    broken graph: the nodes that cannot be shaped are left out and ``problems`` says why)."""
    from nnstudio.graph.shapes import infer_shapes  # noqa: PLC0415

    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        from nnstudio.i18n import _  # noqa: PLC0415

        raise UserError(_("profile: the batch size must be a whole number of at least 1; found {batch}").format(
            batch=repr(batch)))
    itemsize = np.dtype(dtype).itemsize
    report = infer_shapes(graph)
    profile = Profile(batch=int(batch), dtype=np.dtype(dtype).name,
                      problems=[m.text for m in report.messages if m.severity == "error"])
    shaped = {nid for nid, s in report.shapes.items() if s is not None}
    for nid in _order(graph, shaped):
        node = graph.nodes[nid]
        out = tuple(int(d) for d in report.shapes[nid])
        row = LayerCost(nid, node.type, out, params=int(report.param_counts.get(nid, 0)),
                        activation_elements=math.prod(out), itemsize=itemsize, batch=int(batch))
        sources = graph.inputs_of(nid)
        if node.type in WEIGHTED and sources and all(s in shaped for s in sources):
            try:
                layer = _layer(graph, nid)
            except UserError:
                layer = None
            if layer is not None:
                fed_by_input = all(s == report.input_id for s in sources)
                row.macs, row.backward_macs = layer_macs(node.type, layer,
                                                         [tuple(report.shapes[s]) for s in sources], out,
                                                         fed_by_input)
        profile.rows.append(row)
    return profile


# -- timing ---------------------------------------------------------------------------------------------------

def _synchronize(xp: Any) -> None:
    """Wait for the GPU's queued work (a no-op on NumPy), so a timer measures the work, not its launch."""
    cuda = getattr(xp, "cuda", None)
    if cuda is not None:
        cuda.get_current_stream().synchronize()


def timing_memory_bytes(profile: Profile) -> int:
    """About how much memory timing ``profile``'s batch takes: every activation and its gradient, and the random
    input batch (drawn as float64 before it is cast)."""
    input_bytes = sum(int(row.activation_bytes) for row in profile.rows if row.type == "Input")
    return 2 * int(profile.total("activation_bytes")) + 2 * input_bytes


def timing_fits(profile: Profile) -> tuple[bool, int, int | None]:
    """(fits, bytes needed, bytes free now or None when not known) for timing ``profile``'s batch here."""
    from nnstudio.memory import available_bytes  # noqa: PLC0415
    need, free = timing_memory_bytes(profile), available_bytes()
    return (free is None or need <= free), need, free


def measure_times(graph: Any, profile: Profile | None = None, backend: Any = None, repeats: int = 5,
                  seed: int = 0) -> Profile:
    """Time every layer's forward and backward on one batch of ``profile.batch`` random samples (median of
    ``repeats`` after a warm-up) on ``backend``; fills ``forward_ms`` / ``backward_ms`` of ``profile`` (counted
    first when None) and returns it.  UserError when the network is not valid."""
    from nnstudio.engine.backend import Backend, get_backend  # noqa: PLC0415
    from nnstudio.graph.compile import compile_graph  # noqa: PLC0415

    profile = count_costs(graph) if profile is None else profile
    chosen = backend if isinstance(backend, Backend) else get_backend(backend)
    model = compile_graph(graph, chosen, seed=seed, dtype=np.dtype(profile.dtype).type)
    xp = chosen.xp
    rng = np.random.default_rng(seed)
    x = xp.asarray(rng.standard_normal((profile.batch,) + tuple(model.input_shape)).astype(profile.dtype))
    model.forward(x, training=True, capture=True)
    values = dict(model.activations)
    model.activations = {}
    repeats = max(1, int(repeats))
    for row in profile.rows:
        if row.node == model.input_id or row.node not in model.nodes:
            row.forward_ms, row.backward_ms = (0.0, 0.0) if row.node == model.input_id else (None, None)
            continue
        node = model.nodes[row.node]
        layer = node.layer
        arg = values[node.inputs[0]] if layer.n_inputs == 1 else [values[s] for s in node.inputs]
        grad = xp.asarray(rng.standard_normal(values[row.node].shape).astype(profile.dtype))
        forward, backward = [], []
        for _repeat in range(repeats + 1):  # the first pass warms caches and buffers and is not counted
            _synchronize(xp)
            t0 = time.perf_counter()
            layer.forward(arg, True)
            _synchronize(xp)
            t1 = time.perf_counter()
            layer.backward(grad)
            _synchronize(xp)
            t2 = time.perf_counter()
            forward.append((t1 - t0) * 1000.0)
            backward.append((t2 - t1) * 1000.0)
        row.forward_ms = statistics.median(forward[1:])
        row.backward_ms = statistics.median(backward[1:])
    profile.backend = chosen.name
    return profile




# -- text -----------------------------------------------------------------------------------------------------

def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _width(text: str) -> int:
    """Terminal columns: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def format_table(profile: Profile) -> str:
    """The profile as a text table (node, type, params, MACs, activation bytes, fwd ms, bwd ms, share of the
    MACs) with a total row; the node with the most MACs is marked with '*'."""
    from nnstudio.i18n import _  # noqa: PLC0415
    from nnstudio.memory import human_bytes  # noqa: PLC0415

    largest = profile.largest("macs")
    headers = (_("node"), _("type"), _("params"), _("MACs"), _("activations"), _("fwd ms"), _("bwd ms"),
               _("share"))
    rows = []
    for r in profile.rows:
        mark = " *" if largest is not None and r is largest else ""
        rows.append((r.node + mark, r.type, f"{r.params:,}", f"{r.macs:,}", human_bytes(r.activation_bytes),
                     _ms(r.forward_ms), _ms(r.backward_ms), f"{profile.share(r):.1%}"))
    timed = profile.backend is not None
    rows.append((_("total"), "", f"{profile.total_params:,}", f"{int(profile.total('macs')):,}",
                 human_bytes(profile.total("activation_bytes")),
                 _ms(profile.total("forward_ms") if timed else None),
                 _ms(profile.total("backward_ms") if timed else None), "100.0%" if profile.total("macs") else "-"))
    widths = [max(_width(h), *(_width(row[i]) for row in rows)) for i, h in enumerate(headers)]

    def line(values: tuple[str, ...]) -> str:
        cells = [v + " " * (w - _width(v)) if i < 2 else " " * (w - _width(v)) + v
                 for i, (v, w) in enumerate(zip(values, widths))]
        return "  ".join(cells)

    rule = "-" * _width(line(headers))
    out = [line(headers), rule, *(line(row) for row in rows[:-1]), rule, line(rows[-1])]
    return "\n".join(out)


__all__ = ["LayerCost", "Profile", "count_costs", "format_table", "layer_macs", "measure_times"]
