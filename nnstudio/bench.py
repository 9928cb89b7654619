"""``nnstudio bench``: how fast the engine trains and answers, next to PyTorch when it is installed.

Four networks on random data of the right shape (speed does not depend on what is learned):

* ``mlp``: MLP 784-256-128-10, ReLU, softmax + cross-entropy, SGD with momentum, batch 128;
* ``lenet``: conv 6@5x5 pad 2, ReLU, max-pool 2; conv 16@5x5, ReLU, max-pool 2; dense 120, 84, 10 (ReLU
  between), SGD with momentum, batch 64, input 1x28x28;
* ``mnist-cnn`` and ``captcha-cnn``: the shipped examples as they stand (``resources/examples``), with their
  own optimizer, learning rate and batch size.

For each: training throughput (samples per second over full steps: forward, loss, backward, update) and the
latency of one batch-1 inference (host sample in, host answer out).  When ``torch`` imports, a twin of each
network is built in PyTorch layer by layer from the engine's model, with the engine's weights copied in, so
both compute the same function (a test checks it), using the same number of threads.

Timing on a shared machine drifts, so the two sides are timed in **alternating pairs** (ours then theirs,
then theirs then ours, ...), each timed run lasting about ``--seconds``; the report gives each side's
median and the median of the per-pair speed ratios with their min-max.  ``--layers`` adds each engine
layer's forward and backward time within a training step (medians), and beside it the time of the same layer
in PyTorch's step (module hooks), to choose the next optimisation from a measurement.

Run ``python -m nnstudio.bench --help`` (the CLI's ``nnstudio bench`` calls :func:`main`).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import platform
import statistics
import sys
import time
import warnings
from dataclasses import dataclass
from typing import Any, Callable, TextIO

import numpy as np

from nnstudio.engine import threads as engine_threads
from nnstudio.engine.backend import Backend, blas_threads, get_backend, to_device, to_host
from nnstudio.engine.layers import Activation, Conv2D, Dense, Flatten, Layer, Pool2D
from nnstudio.engine.losses import get_loss
from nnstudio.engine.model import Model, ModelNode
from nnstudio.engine.optimizers import make_optimizer
from nnstudio.errors import UserError

MODELS = ("mlp", "lenet", "mnist-cnn", "captcha-cnn")
EXAMPLES = ("mnist-cnn", "captcha-cnn")  # built from resources/examples/NAME.json as shipped
LABELS = {"mlp": "MLP 784-256-128-10", "lenet": "LeNet-5", "mnist-cnn": "mnist-cnn example",
          "captcha-cnn": "captcha-cnn example"}
GPU_EXTRA_BATCH = 256  # on the GPU, each network is also trained at this batch size
LR = 0.01
MOMENTUM = 0.9
DEFAULT_PAIRS = 7
DEFAULT_SECONDS = 0.2


# -- the networks ------------------------------------------------------------------------------------
@dataclass
class Setup:
    """A network ready to measure: the engine model and how its example trains it."""

    name: str
    model: Model
    batch: int
    optimizer: str
    lr: float

    @property
    def label(self) -> str:
        return LABELS[self.name]


def engine_layers(name: str) -> list[Layer]:
    if name == "mlp":
        return [Dense(256), Activation("relu"), Dense(128), Activation("relu"), Dense(10), Activation("softmax")]
    return [Conv2D(6, 5, padding=2), Activation("relu"), Pool2D("max", 2),
            Conv2D(16, 5), Activation("relu"), Pool2D("max", 2), Flatten(),
            Dense(120), Activation("relu"), Dense(84), Activation("relu"), Dense(10), Activation("softmax")]


def _example_project(name: str) -> Any:
    from nnstudio.graph.project_file import load_project  # noqa: PLC0415 - only the example networks need it
    from nnstudio.resources_path import resource  # noqa: PLC0415

    return load_project(resource("examples", f"{name}.json"))


def engine_setup(name: str, xp: Any, seed: int = 0) -> Setup:
    """The network called ``name`` built on ``xp`` with weights from ``seed``."""
    if name not in MODELS:
        raise UserError(f"bench: unknown model '{name}'; expected one of {', '.join(MODELS)}")
    if name in EXAMPLES:
        from nnstudio.graph.compile import check_graph, make_layer  # noqa: PLC0415

        project = _example_project(name)
        graph = project.graph
        report = check_graph(graph)
        nodes = [ModelNode(nid, make_layer(graph.nodes[nid]), graph.inputs_of(nid)) for nid in sorted(graph.nodes)]
        model = Model(nodes, report.input_id, report.output_id).build(report.shapes[report.input_id], xp, seed=seed)
        training = project.training
        return Setup(name, model, int(training["batch_size"]), str(training["optimizer"]),
                     float(training["learning_rate"]))
    nodes, prev = [ModelNode("input", None, [])], "input"
    for i, layer in enumerate(engine_layers(name)):
        nodes.append(ModelNode(f"{layer.type_name.lower()}{i}", layer, [prev]))
        prev = nodes[-1].id
    shape = (784,) if name == "mlp" else (1, 28, 28)
    model = Model(nodes, "input", prev).build(shape, xp, seed=seed)
    return Setup(name, model, 128 if name == "mlp" else 64, "momentum", LR)


def engine_model(name: str, xp: Any, seed: int = 0) -> Model:
    return engine_setup(name, xp, seed).model


def make_data(model: Model, batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random inputs and class labels shaped for ``model`` (labels per position for an (P, K) output)."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch,) + tuple(model.input_shape), dtype=np.float32)
    out = model.output_shape
    return x, rng.integers(0, out[-1], size=(batch,) + tuple(out[:-1]))


def _layer_ids(model: Model) -> list[str]:
    return [nid for nid in model.order if nid != model.input_id]


# -- the PyTorch twin -----------------------------------------------------------------------------------
class TorchTwin:
    """A PyTorch copy of a chain-shaped engine model, with the engine's weights.

    ``body`` computes everything up to a trailing softmax (the logits, as the engine's fused loss does);
    :meth:`predict` applies that softmax, :meth:`loss` is cross-entropy per position on the logits.
    """

    def __init__(self, torch: Any, model: Model, device: str = "cpu") -> None:
        self.torch = torch
        nn = torch.nn
        modules: list[Any] = []
        self.node_modules: list[tuple[str, list[Any]]] = []  # each engine node and the modules that copy it
        ids = _layer_ids(model)
        self.final_softmax = model.output_activation == "softmax"
        if self.final_softmax:
            ids = ids[:-1]
        prev = model.input_id
        with torch.no_grad():
            for nid in ids:
                node = model.nodes[nid]
                if node.inputs != [prev]:
                    raise UserError(f"bench: node '{nid}' is not part of a simple chain; the PyTorch twin "
                                    "only copies chains")
                own = self._modules(nn, torch, node.layer, model.shapes[prev], nid)
                self.node_modules.append((nid, own))
                modules.extend(own)
                prev = nid
        self.body = nn.Sequential(*modules).to(device)
        self.device = device
        self._ce = nn.CrossEntropyLoss()

    @staticmethod
    def _param(torch: Any, value: Any) -> Any:
        return torch.from_numpy(np.array(to_host(value), dtype=np.float32))

    def _modules(self, nn: Any, torch: Any, layer: Layer, in_shape: tuple[int, ...], nid: str) -> list[Any]:
        p = lambda key: self._param(torch, layer.params[key])  # noqa: E731
        if isinstance(layer, Dense):
            lin = nn.Linear(int(np.prod(in_shape)), layer.units, bias=layer.use_bias)
            lin.weight.copy_(p("W").T)
            if layer.use_bias:
                lin.bias.copy_(p("b"))
            return ([nn.Flatten()] if len(in_shape) > 1 else []) + [lin]
        if isinstance(layer, Conv2D):
            top, bottom, left, right = layer.pads(in_shape[1], in_shape[2])
            kh, kw = layer.kernel
            symmetric = top == bottom and left == right
            conv = nn.Conv2d(in_shape[0], layer.filters, (kh, kw), stride=layer.strides,
                             padding=(top, left) if symmetric else 0, bias=layer.use_bias)
            conv.weight.copy_(p("W"))
            if layer.use_bias:
                conv.bias.copy_(p("b"))
            return [conv] if symmetric else [nn.ZeroPad2d((left, right, top, bottom)), conv]
        if isinstance(layer, Pool2D):
            kernel = tuple(getattr(layer, "kernel", None) or (layer.size, layer.size))
            strides = tuple(getattr(layer, "strides", None) or (layer.stride, layer.stride))
            padding = tuple(getattr(layer, "padding", (0, 0)))
            if layer.mode == "max":
                return [nn.MaxPool2d(kernel, strides, padding)]
            return [nn.AvgPool2d(kernel, strides, padding, count_include_pad=False)]
        if isinstance(layer, Activation):
            table = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "linear": nn.Identity}
            if layer.function in table:
                return [table[layer.function]()]
            if layer.function == "leaky_relu":
                return [nn.LeakyReLU(layer.alpha)]
            if layer.function == "softmax":
                return [nn.Softmax(dim=-1)]
        kind = type(layer).__name__
        if kind == "BatchNorm":
            cls = nn.BatchNorm2d if len(in_shape) == 3 else nn.BatchNorm1d
            bn = cls(in_shape[0], eps=layer.eps, momentum=1.0 - layer.momentum)
            bn.weight.copy_(p("gamma"))
            bn.bias.copy_(p("beta"))
            bn.running_mean.copy_(self._param(torch, layer.buffers["running_mean"]))
            bn.running_var.copy_(self._param(torch, layer.buffers["running_var"]))
            return [bn]
        if kind == "Dropout":
            return [nn.Dropout(layer.rate)]
        if kind == "Flatten":
            return [nn.Flatten()]
        if kind == "Reshape":
            return [nn.Flatten(), nn.Unflatten(1, tuple(layer.output_shape(in_shape)))]
        raise UserError(f"bench: node '{nid}' ({layer!r}) has no PyTorch twin")

    def predict(self, x: Any) -> Any:
        out = self.body(x)
        return self.torch.softmax(out, dim=-1) if self.final_softmax else out

    def loss(self, logits: Any, y: Any) -> Any:
        return self._ce(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))

    def optimizer(self, name: str, lr: float) -> Any:
        params = self.body.parameters()
        if name == "adam":
            return self.torch.optim.Adam(params, lr=lr)
        if name == "momentum":
            return self.torch.optim.SGD(params, lr=lr, momentum=MOMENTUM)
        if name == "sgd":
            return self.torch.optim.SGD(params, lr=lr)
        raise UserError(f"bench: optimizer '{name}' has no PyTorch twin here")


def _load_torch() -> Any | None:
    if importlib.util.find_spec("torch") is None:
        return None
    try:
        import torch  # noqa: PLC0415 - optional yardstick, never used by the product
    except Exception:
        return None
    return torch


# -- timing -------------------------------------------------------------------------------------------
# "wall": elapsed time, what a user waits for.  "cpu": the CPU time of this process (all its threads), which
# other programs on a shared machine barely disturb; with one thread (OMP_NUM_THREADS=1) it compares the
# work each side does.
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
_clock: list[Callable[[], float]] = [time.perf_counter]


def _now() -> float:
    return _clock[0]()


def calibrate(fn: Callable[[], Any], steps: int | None, target_seconds: float, warmup: int = 2) -> int:
    """Warm ``fn`` up (at least ``warmup`` calls and half of ``target_seconds``: first calls allocate
    buffers and optimizer state, and thread pools wake up); return ``steps``, or how many calls fill about
    ``target_seconds`` at the speed of the later warm-up calls."""
    times = []
    start = _now()
    while len(times) < max(1, warmup) or (_now() - start < target_seconds / 2 and len(times) < 1000):
        t = _now()
        fn()
        times.append(_now() - t)
    later = times[len(times) // 2:]
    per_call = sum(later) / len(later)
    if steps is not None:
        return steps
    return max(1, min(10_000, math.ceil(target_seconds / max(per_call, 1e-7))))


def timed_run(fn: Callable[[], Any], steps: int) -> float:
    """Seconds per call of ``fn`` over ``steps`` calls (``fn`` returns only when its work is done)."""
    start = _now()
    for _ in range(steps):
        fn()
    return (_now() - start) / steps


def time_calls(fn: Callable[[], Any], repeats: int, steps: int | None, target_seconds: float,
               warmup: int = 2) -> tuple[float, int]:
    """Median seconds per call of ``fn`` over ``repeats`` runs of ``steps`` calls each (one side alone)."""
    steps = calibrate(fn, steps, target_seconds, warmup)
    return statistics.median(timed_run(fn, steps) for _ in range(repeats)), steps


@dataclass
class PairTiming:
    """Seconds per call of each side in every pair, and the per-pair speed ratios (theirs / ours)."""

    ours: list[float]
    theirs: list[float]

    @property
    def ratios(self) -> list[float]:
        return [t / o for o, t in zip(self.ours, self.theirs) if o > 0]


# Idle time before each timed run of a pair, so the other side's worker threads have gone to sleep: OpenBLAS's
# busy-wait after a matrix product for 2**28 cycles by default (about 0.1 s), and threads spinning on one
# core while the other side's run wants it would bill one library's habits to the other.
SETTLE_SECONDS = 0.15


def _settled_run(fn: Callable[[], Any], steps: int) -> float:
    time.sleep(SETTLE_SECONDS)
    return timed_run(fn, steps)


def time_pairs(ours: Callable[[], Any], theirs: Callable[[], Any] | None, pairs: int, steps: int | None,
               target_seconds: float) -> PairTiming:
    """Time ``ours`` and ``theirs`` in ``pairs`` alternating pairs (ours first in even pairs, theirs first in
    odd ones), so drift in the machine's speed lands on both sides alike; each timed run starts after
    :data:`SETTLE_SECONDS` of idle time, so neither side's spinning threads are billed to the other."""
    n_ours = calibrate(ours, steps, target_seconds)
    n_theirs = calibrate(theirs, steps, target_seconds) if theirs is not None else 0
    ours_s, theirs_s = [], []
    for k in range(pairs):
        if theirs is None:
            ours_s.append(timed_run(ours, n_ours))
            continue
        if k % 2 == 0:
            ours_s.append(_settled_run(ours, n_ours))
            theirs_s.append(_settled_run(theirs, n_theirs))
        else:
            theirs_s.append(_settled_run(theirs, n_theirs))
            ours_s.append(_settled_run(ours, n_ours))
    return PairTiming(ours_s, theirs_s)


# -- the measured calls ------------------------------------------------------------------------------
def _sync(xp: Any) -> None:
    cuda = getattr(xp, "cuda", None)
    if cuda is not None:
        cuda.Stream.null.synchronize()


def engine_train_step(setup: Setup, batch: int) -> Callable[[], Any]:
    model, xp = setup.model, setup.model.xp
    x_host, y_host = make_data(model, batch)
    x, y = to_device(x_host, xp, np.float32), to_device(y_host, xp)
    loss = get_loss("cross_entropy")
    opt = make_optimizer(setup.optimizer, setup.lr, momentum=MOMENTUM)

    def step() -> float:
        value, _ = model.train_step(x, y, loss, opt)
        return float(value)  # a host read, as the trainer's step does

    return step


def engine_infer(setup: Setup) -> Callable[[], np.ndarray]:
    model, xp = setup.model, setup.model.xp
    x_host, _ = make_data(model, 1)

    def infer() -> np.ndarray:
        return to_host(model.forward(to_device(x_host, xp, np.float32)))

    return infer


def torch_train_step(torch: Any, twin: TorchTwin, setup: Setup, batch: int) -> Callable[[], float]:
    x_host, y_host = make_data(setup.model, batch)
    x = torch.from_numpy(x_host).to(twin.device)
    y = torch.from_numpy(y_host).to(twin.device)
    opt = twin.optimizer(setup.optimizer, setup.lr)
    twin.body.train()

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        loss = twin.loss(twin.body(x), y)
        loss.backward()
        opt.step()
        return loss.item()  # a host read, as the engine's step does

    return step


def torch_infer(torch: Any, twin: TorchTwin, setup: Setup) -> Callable[[], np.ndarray]:
    x_host, _ = make_data(setup.model, 1)

    def infer() -> np.ndarray:
        twin.body.eval()
        with torch.inference_mode():
            return twin.predict(torch.from_numpy(x_host).to(twin.device)).cpu().numpy()

    return infer


def layer_times(setup: Setup, batch: int, steps: int) -> dict[str, Any]:
    """Median forward and backward milliseconds of each engine layer within a training step."""
    model, xp = setup.model, setup.model.xp
    step = engine_train_step(setup, batch)
    ids = _layer_ids(model)
    current: dict[str, list[float]] = {nid: [0.0, 0.0] for nid in ids}
    originals = {}

    def wrap(nid: str, fn: Callable[..., Any], slot: int) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            _sync(xp)
            start = _now()
            out = fn(*args, **kwargs)
            _sync(xp)
            current[nid][slot] += _now() - start
            return out
        return timed

    for nid in ids:
        layer = model.nodes[nid].layer
        originals[nid] = (layer.forward, layer.backward)
        layer.forward = wrap(nid, layer.forward, 0)
        layer.backward = wrap(nid, layer.backward, 1)
    samples: dict[str, list[tuple[float, float]]] = {nid: [] for nid in ids}
    totals = []
    try:
        step()  # warm-up: buffers are allocated on the first step
        key = Model.call_key((batch, *model.input_shape), training=True)
        for _ in range(100):  # and the engine has chosen its thread count (a few dozen steps at most)
            if model.threads.choice(key) is not None:
                break
            step()
        for _ in range(max(1, steps)):
            for nid in ids:
                current[nid] = [0.0, 0.0]
            start = _now()
            step()
            totals.append(_now() - start)
            for nid in ids:
                samples[nid].append((current[nid][0], current[nid][1]))
    finally:
        for nid, (fwd, bwd) in originals.items():
            layer = model.nodes[nid].layer
            del layer.forward, layer.backward  # the instance attributes; the class methods show again
            assert layer.forward == fwd and layer.backward == bwd
    rows = []
    for nid in ids:
        fwd = statistics.median(s[0] for s in samples[nid]) * 1000.0
        bwd = statistics.median(s[1] for s in samples[nid]) * 1000.0
        layer = model.nodes[nid].layer
        row = {"node": nid, "layer": _short(layer), "forward_ms": fwd, "backward_ms": bwd}
        columns = _columns(layer)
        if columns:
            row["columns"] = columns
            row["layer"] += f", columns {columns}"
        rows.append(row)
    step_ms = statistics.median(totals) * 1000.0
    return {"model": setup.name, "batch": batch, "steps": len(totals), "step_ms": step_ms,
            "threads": _engine_threads(setup, key),
            "other_ms": step_ms - sum(r["forward_ms"] + r["backward_ms"] for r in rows), "rows": rows}


def torch_layer_times(torch: Any, twin: TorchTwin, setup: Setup, batch: int, steps: int) -> dict[str, Any]:
    """Median forward and backward milliseconds of each engine node's PyTorch twin within a PyTorch training
    step, timed with module hooks (so the two breakdowns show where each side spends its step).

    A node's forward runs from its first module's start to its last module's end; its backward from the
    moment its output's gradient is ready to the moment its input's gradient is.  The first node's input
    needs no gradient, so its backward ends when ``backward()`` returns (its weight gradients are the last
    work done).  Nodes without a module (a softmax the loss absorbs) have no times.
    """
    cuda = twin.device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    x_host, y_host = make_data(setup.model, batch)
    x = torch.from_numpy(x_host).to(twin.device)
    y = torch.from_numpy(y_host).to(twin.device)
    opt = twin.optimizer(setup.optimizer, setup.lr)
    twin.body.train()
    nodes = [(nid, modules) for nid, modules in twin.node_modules if modules]
    current: dict[str, list[float]] = {nid: [0.0, 0.0] for nid, _ in nodes}
    started: dict[tuple[str, int], float] = {}

    def begin(nid: str, slot: int) -> Callable[..., None]:
        def hook(*_args: Any) -> None:
            sync()
            started[(nid, slot)] = _now()
        return hook

    def end(nid: str, slot: int) -> Callable[..., None]:
        def hook(*_args: Any) -> None:
            sync()
            current[nid][slot] += _now() - started.pop((nid, slot))
        return hook

    handles = []
    for k, (nid, modules) in enumerate(nodes):
        handles.append(modules[0].register_forward_pre_hook(begin(nid, 0)))
        handles.append(modules[-1].register_forward_hook(end(nid, 0)))
        handles.append(modules[-1].register_full_backward_pre_hook(begin(nid, 1)))
        if k > 0:
            handles.append(modules[0].register_full_backward_hook(end(nid, 1)))
    first = nodes[0][0] if nodes else None

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        loss = twin.loss(twin.body(x), y)
        loss.backward()
        if first is not None and (first, 1) in started:
            end(first, 1)()
        opt.step()
        loss.item()

    samples: dict[str, list[tuple[float, float]]] = {nid: [] for nid, _ in nodes}
    totals = []
    # The first node's input needs no gradient: its backward pre-hook fires at its output's gradient, which
    # is when it should; PyTorch warns that this is all a hook can do there.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        try:
            for _ in range(3):  # warm-up: the first steps allocate
                step()
            for _ in range(max(1, steps)):
                for nid, _ in nodes:
                    current[nid] = [0.0, 0.0]
                start = _now()
                step()
                sync()
                totals.append(_now() - start)
                for nid, _ in nodes:
                    samples[nid].append((current[nid][0], current[nid][1]))
        finally:
            for handle in handles:
                handle.remove()
    rows = {nid: (statistics.median(s[0] for s in samples[nid]) * 1000.0,
                  statistics.median(s[1] for s in samples[nid]) * 1000.0) for nid, _ in nodes}
    step_ms = statistics.median(totals) * 1000.0
    return {"step_ms": step_ms, "other_ms": step_ms - sum(f + b for f, b in rows.values()), "rows": rows}


def add_torch_layer_times(part: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Put PyTorch's per-node times (:func:`torch_layer_times`) beside the engine's in a breakdown."""
    for row in part["rows"]:
        fwd, bwd = theirs["rows"].get(row["node"], (None, None))
        row["torch_forward_ms"], row["torch_backward_ms"] = fwd, bwd
    part["torch_step_ms"], part["torch_other_ms"] = theirs["step_ms"], theirs["other_ms"]


def _short(layer: Layer) -> str:
    """``Conv2D(16, 3, 1, 1)``: the layer's type and the values of its settings, for a narrow table."""
    values = [v for k, v in layer.config().items() if k not in ("init", "use_bias", "alpha") or
              (k == "alpha" and getattr(layer, "function", "") == "leaky_relu")]
    return f"{layer.type_name}({', '.join(str(v) for v in values)})"


def _columns(layer: Layer) -> str | None:
    """How a first convolution made its columns in the steps timed ("by rows" or "whole"), once it chose by
    timing both (see ``conv.RowsOrWhole``); None for every other layer."""
    choice = getattr(layer, "rows_or_whole", None)
    if choice is None or choice.latest is None:
        return None
    return "by rows" if choice.latest else "whole"


# -- the run ------------------------------------------------------------------------------------------
def _engine_threads(setup: Setup, key: tuple[Any, ...]) -> int:
    """The thread count the engine settled on for the calls ``key`` (see engine.threads)."""
    chosen = setup.model.threads.choice(key)
    return chosen if chosen is not None else blas_threads()


def _row(setup: Setup, metric: str, batch: int, timing: PairTiming, threads: int) -> dict[str, Any]:
    ours_s = statistics.median(timing.ours)
    theirs_s = statistics.median(timing.theirs) if timing.theirs else None
    if metric == "latency_ms":
        ours, theirs = ours_s * 1000.0, (None if theirs_s is None else theirs_s * 1000.0)
    else:
        ours, theirs = batch / ours_s, (None if theirs_s is None else batch / theirs_s)
    ratios = timing.ratios if timing.theirs else []
    return {"model": setup.name, "label": setup.label, "metric": metric, "batch": batch, "ours": ours,
            "torch": theirs, "speed_ratio": statistics.median(ratios) if ratios else None,
            "ratio_min": min(ratios) if ratios else None, "ratio_max": max(ratios) if ratios else None,
            "pairs": len(timing.ours), "threads": threads}


def _measure(models: tuple[str, ...], chosen: Backend, torch: Any, device: str | None,
             batch_override: int | None, repeats: int, steps: int | None, target_seconds: float, layers: bool,
             results: list[dict[str, Any]], breakdowns: list[dict[str, Any]]) -> None:
    """Fill ``results`` (and ``breakdowns`` with ``layers``) for each network in ``models``."""
    for name in models:
        setup = engine_setup(name, chosen.xp)
        twin = TorchTwin(torch, setup.model, device) if torch is not None else None
        batches = [int(batch_override)] if batch_override else \
            [setup.batch] + ([GPU_EXTRA_BATCH] if chosen.is_gpu and setup.batch != GPU_EXTRA_BATCH else [])
        for batch in batches:
            ours = engine_train_step(setup, batch)
            theirs = torch_train_step(torch, twin, setup, batch) if twin is not None else None
            timing = time_pairs(ours, theirs, repeats, steps, target_seconds)
            key = Model.call_key((batch, *setup.model.input_shape), training=True)
            results.append(_row(setup, "train_samples_per_s", batch, timing, _engine_threads(setup, key)))
        ours = engine_infer(setup)
        theirs = torch_infer(torch, twin, setup) if twin is not None else None
        timing = time_pairs(ours, theirs, repeats, steps, target_seconds)
        key = Model.call_key((1, *setup.model.input_shape), training=False)
        results.append(_row(setup, "latency_ms", 1, timing, _engine_threads(setup, key)))
        if layers:
            count = steps if steps is not None else max(5, 3 * repeats)
            part = layer_times(engine_setup(name, chosen.xp), batches[0], count)
            if twin is not None:
                time.sleep(SETTLE_SECONDS)
                add_torch_layer_times(part, torch_layer_times(torch, twin, setup, batches[0], count))
            breakdowns.append(part)


def run_bench(repeats: int = DEFAULT_PAIRS, json_out: bool = False, backend: str | None = None,
              batch_override: int | None = None, *, steps: int | None = None,
              target_seconds: float = DEFAULT_SECONDS, compare_torch: bool = True,
              models: tuple[str, ...] = MODELS, layers: bool = False, clock: str = "wall",
              stream: TextIO | None = None) -> dict[str, Any]:
    """Measure the engine (and PyTorch when available) in ``repeats`` alternating pairs per figure.

    ``steps`` fixes the calls per timed run (default: enough for ``target_seconds``); ``batch_override``
    replaces the training batch sizes.  ``layers`` adds the per-layer breakdown of a training step.  With
    ``stream`` the report is written there, as JSON when ``json_out``, else as a table.  ``clock`` is
    "wall" or "cpu" (see :data:`CLOCKS`).
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise UserError(f"bench: --repeats must be a positive integer. Received: {repeats!r}")
    if batch_override is not None and (isinstance(batch_override, bool) or int(batch_override) < 1):
        raise UserError(f"bench: --batch must be a positive integer. Received: {batch_override!r}")
    if steps is not None and steps < 1:
        raise UserError(f"bench: --steps must be a positive integer. Received: {steps!r}")
    if not target_seconds > 0:
        raise UserError(f"bench: --seconds must be positive. Received: {target_seconds!r}")
    if clock not in CLOCKS:
        raise UserError(f"bench: --clock must be one of {', '.join(CLOCKS)}. Received: {clock!r}")
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise UserError(f"bench: unknown model(s) {', '.join(unknown) or '(none)'}; expected {', '.join(MODELS)}")
    chosen: Backend = get_backend(backend)
    threads = blas_threads()
    torch = _load_torch() if compare_torch else None
    device = None
    if torch is not None:
        torch.set_num_threads(threads)
        device = "cuda" if chosen.is_gpu and torch.cuda.is_available() else "cpu"
    results: list[dict[str, Any]] = []
    breakdowns: list[dict[str, Any]] = []
    _clock[0] = CLOCKS[clock]
    try:
        _measure(models, chosen, torch, device, batch_override, repeats, steps, target_seconds, layers,
                 results, breakdowns)
    finally:
        _clock[0] = time.perf_counter

    report: dict[str, Any] = {
        "backend": chosen.name,
        "backend_description": chosen.human_name,
        "threads": threads,
        "threads_tuned": not chosen.is_gpu and len(engine_threads.candidates()) > 1,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "machine": platform.machine(),
        "torch_version": getattr(torch, "__version__", None),
        "torch_device": device,
        "repeats": repeats,
        "pairs": repeats,
        "clock": clock,
        "results": results,
    }
    if layers:
        report["layers"] = breakdowns
    if stream is not None:
        stream.write(json.dumps(report, indent=2) + "\n" if json_out else format_table(report))
        stream.flush()
    return report


def _figure(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    return f"{value:.3f} ms" if metric == "latency_ms" else f"{value:,.0f}/s"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _table(rows: list[tuple[str, ...]], left: int) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def format_table(report: dict[str, Any]) -> str:
    """The report as a readable text table (and the per-layer breakdowns when measured)."""
    torch_version = report.get("torch_version")
    pairs = report["pairs"]
    lines = [f"NN Studio bench — engine on {report['backend_description']}"
             + (" (each call's thread count chosen by measuring, column 'thr.')" if report.get("threads_tuned")
                else ""),
             f"PyTorch {torch_version} ({report['torch_device']}, {report['threads']} threads) for comparison, "
             f"timed in {pairs} alternating pair(s) per figure"
             if torch_version else f"PyTorch is not installed or not compared: engine figures only, median of "
                                   f"{pairs} run(s)",
             "figures are medians; speed ratio = median of the per-pair ratios (min-max), above 1 = the engine "
             "is faster" + ("; CPU time of the process, not elapsed time" if report.get("clock") == "cpu" else ""),
             ""]
    rows = [("network", "measure", "batch", "NN Studio", "thr.", "PyTorch", "speed ratio", "range")]
    for r in report["results"]:
        measure = "training" if r["metric"] == "train_samples_per_s" else "inference latency"
        ratio = "-" if r["speed_ratio"] is None else f"{r['speed_ratio']:.2f}x"
        spread = "-" if r["ratio_min"] is None else f"{r['ratio_min']:.2f}-{r['ratio_max']:.2f}"
        rows.append((r["label"], measure, str(r["batch"]), _figure(r["ours"], r["metric"]),
                     str(r.get("threads", "-")), _figure(r["torch"], r["metric"]), ratio, spread))
    lines += _table(rows, 2)
    for part in report.get("layers", []):
        lines += ["", f"{LABELS[part['model']]}: one training step at batch {part['batch']}, per layer "
                      f"(median of {part['steps']} steps, ms; {part.get('threads', '-')} thread(s))"]
        theirs = "torch_step_ms" in part
        rows = [("node", "layer", "forward", "backward") + (("PyTorch fwd", "PyTorch bwd") if theirs else ())]
        for r in part["rows"]:
            extra = (_ms(r.get("torch_forward_ms")), _ms(r.get("torch_backward_ms"))) if theirs else ()
            rows.append((r["node"], r["layer"], f"{r['forward_ms']:.3f}", f"{r['backward_ms']:.3f}") + extra)
        rows.append(("(rest)", "loss, optimizer update, bookkeeping", f"{part['other_ms']:.3f}", "")
                    + ((_ms(part["torch_other_ms"]), "") if theirs else ()))
        rows.append(("(step)", "the whole step", f"{part['step_ms']:.3f}", "")
                    + ((_ms(part["torch_step_ms"]), "") if theirs else ()))
        lines += _table(rows, 2)
        if theirs:
            lines.append("PyTorch's columns: its twin of each node, timed with module hooks in its own training "
                         "steps after the engine's")
    return "\n".join(lines) + "\n"


class _Parser(argparse.ArgumentParser):
    """A mistake in the bench's arguments is one line and exit 1, as for every other command."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nnstudio bench", description="Measure training speed and "
                                     "inference latency of the engine, timed in alternating pairs with "
                                     "PyTorch when it is installed.")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--backend", choices=("auto", "numpy", "cupy"), default=None,
                        help="array backend (default: $NNSTUDIO_BACKEND or auto)")
    parser.add_argument("--repeats", type=int, default=DEFAULT_PAIRS,
                        help=f"timed pairs per figure (default {DEFAULT_PAIRS}; medians reported)")
    parser.add_argument("--batch", type=int, default=None, help="one training batch size instead of the defaults")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"calls per timed run (default: about --seconds, {DEFAULT_SECONDS} s)")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS, help="length of each timed run")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    parser.add_argument("--model", choices=MODELS, default=None, help="measure only this network")
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated: {','.join(MODELS)}")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="wall: elapsed time (default); cpu: this process's CPU time, which other load on a "
                             "shared machine barely disturbs (compare with OMP_NUM_THREADS=1)")
    parser.add_argument("--layers", action="store_true",
                        help="also print each layer's forward and backward time in a training step (and PyTorch's)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``nnstudio bench`` and ``python -m nnstudio.bench``; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except UserError as exc:  # the same one line as the other commands' argument mistakes
        print(f"error: {exc}", file=sys.stderr)
        return 1
    models = (args.model,) if args.model else tuple(m.strip() for m in args.models.split(",") if m.strip())
    try:
        run_bench(args.repeats, args.json, args.backend, args.batch, steps=args.steps,
                  target_seconds=args.seconds, compare_torch=not args.no_torch, models=models,
                  layers=args.layers, clock=args.clock, stream=sys.stdout)
    except UserError as exc:
        print(f"nnstudio bench: {exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"nnstudio bench: out of memory (batch {args.batch or 'as in each example'}); try a smaller --batch",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("nnstudio bench: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
