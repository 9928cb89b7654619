"""Teaching tools that need no Qt: one small batch for a project, a float64 model, and the step-through.

The gradient check and the step-through mode both take "the open network and a handful of its samples"
and look inside the computation.  They share the two helpers here: :func:`teaching_model` compiles the
graph in float64 on NumPy (finite differences and exact comparisons need double precision), and
:func:`teaching_batch` takes the first samples of the project's dataset, or, when there is no usable
dataset, random inputs of the Input block's shape with random targets that fit the loss.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nnstudio.engine.backend import get_backend
from nnstudio.engine.model import Model
from nnstudio.errors import UserError

DEFAULT_BATCH = 4


@dataclass
class TeachingBatch:
    """A few host samples ``x`` with targets ``y``; ``source`` says where they came from (a dataset or random)."""

    x: np.ndarray
    y: np.ndarray
    source: str  # the dataset name, or "random"
    reason: str = ""  # why random data was used instead of the dataset, for the status line


def teaching_model(graph: Any, seed: int = 0) -> Model:
    """``graph`` compiled on NumPy in float64 (UserError when it is not a valid network)."""
    from nnstudio.graph.compile import compile_graph  # the graph package is heavier; load it on use

    return compile_graph(graph, backend=get_backend("numpy"), seed=seed, dtype=np.float64)


def random_targets(loss_name: str, output_shape: tuple[int, ...], n: int, rng: np.random.Generator) -> np.ndarray:
    """Targets of ``n`` samples that ``loss_name`` accepts for outputs of ``output_shape`` (no batch axis)."""
    if loss_name == "cross_entropy":
        classes = int(output_shape[-1])
        return rng.integers(0, classes, size=(n,) + tuple(output_shape[:-1])).astype(np.int64)
    if loss_name == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n,) + tuple(output_shape)).astype(np.float64)
    if loss_name in ("perceptron", "hinge"):
        if int(np.prod(output_shape)) == 1:
            return rng.choice(np.array([-1.0, 1.0]), size=(n,) + tuple(output_shape))
        return rng.integers(0, int(output_shape[-1]), size=(n,)).astype(np.int64)
    return rng.normal(size=(n,) + tuple(output_shape))


def teaching_batch(model: Model, training: dict[str, Any] | None, n: int = DEFAULT_BATCH,
                   seed: int = 0) -> TeachingBatch:
    """The first ``n`` training samples of the project's dataset when they fit the model, else random ones.

    ``training`` is the project's training settings (``dataset``, ``loss``); ``model`` must be built.
    """
    if n < 1:
        raise UserError(f"Batch size for the teaching tools must be at least 1. Received: {n}")
    training = training or {}
    loss_name = str(training.get("loss", "cross_entropy"))
    name = training.get("dataset")
    reason = ""
    if isinstance(name, str) and name:
        try:
            from nnstudio.data.registry import get_dataset

            data = get_dataset(name)
            if tuple(data.sample_shape) != tuple(model.input_shape):
                reason = (f"dataset '{name}' has samples of shape {tuple(data.sample_shape)} but the Input "
                          f"block expects {tuple(model.input_shape)}")
            else:
                count = min(n, int(data.x_train.shape[0]))
                x = np.array(data.x_train[:count], dtype=np.float64)
                y = np.array(data.y_train[:count])
                if y.dtype.kind == "f":
                    y = y.astype(np.float64)
                if count > 0:
                    return TeachingBatch(x, y, name)
                reason = f"dataset '{name}' has no training samples"
        except UserError as exc:
            reason = str(exc)
    else:
        reason = "the project names no dataset"
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + tuple(model.input_shape))
    y = random_targets(loss_name, tuple(model.output_shape), n, rng)
    return TeachingBatch(x, y, "random", reason)


def move_off_kinks(model: Model, seed: int = 0, scale: float = 0.1) -> list[str]:
    """Give parameters that are all zero (freshly initialised biases) small random values, in place.

    A finite-difference check needs a differentiable point.  With zero biases, blank image regions make a
    convolution output exactly 0, right on ReLU's kink, where the one-sided slopes differ and the
    numerical estimate (0.5) cannot match backpropagation's (0 or 1).  Returns the keys changed.
    """
    rng = np.random.default_rng(seed)
    changed = []
    for key, param, _ in model.parameters():
        if not bool(model.xp.any(param != 0)):
            host = rng.normal(0.0, scale, size=param.shape)
            param[...] = model.xp.asarray(host, dtype=param.dtype)
            changed.append(key)
    return changed


# --------------------------------------------------------------------------------------------------
# the gradient check the GUI's table shows
# --------------------------------------------------------------------------------------------------

THRESHOLD = 1e-5
# Tried in turn until every parameter agrees: 1e-6 suits most; 1e-7 keeps a nudge of a shared bias from
# pushing some of thousands of ReLU inputs across their kink (big convolutions); 1e-4 lifts tiny gradients
# (vanishing ones) above rounding noise.
STEP_SIZES = (1e-6, 1e-7, 1e-4)
STEP_FUNCTIONS = ("sign",)  # activations whose true derivative is 0: training passes the gradient straight through


@dataclass
class GradRow:
    """One parameter's check: relative error between backpropagation and finite differences."""

    node_id: str
    layer_type: str
    param: str
    rel_error: float
    applicable: bool = True  # False behind a step function, where backprop uses a straight-through gradient

    @property
    def passed(self) -> bool:
        return not self.applicable or self.rel_error < THRESHOLD


@dataclass
class GradCheckResult:
    rows: list[GradRow]
    source: str  # dataset name or "random"
    reason: str  # why random data was used
    batch: int

    @property
    def checked(self) -> list[GradRow]:
        return [r for r in self.rows if r.applicable]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.rows)

    @property
    def worst(self) -> float:
        return max((r.rel_error for r in self.checked), default=0.0)


def behind_step_function(model: Model) -> set[str]:
    """Ids of nodes whose output reaches a step-function Activation (sign): their gradients are surrogates."""
    steps = {nid for nid in model.order if nid != model.input_id
             and getattr(model.layer(nid), "function", None) in STEP_FUNCTIONS}
    marked: set[str] = set()
    for nid in reversed(model.order):  # consumers come after their inputs, so walk backwards
        if nid == model.input_id:
            continue
        if nid in steps or nid in marked:
            marked.update(model.nodes[nid].inputs)
    return marked - {model.input_id}


def gradient_check(graph: Any, training: dict[str, Any] | None, batch: int = DEFAULT_BATCH, max_entries: int = 10,
                   seed: int = 0) -> GradCheckResult:
    """Compile ``graph`` in float64, take a small batch and check every parameter's gradient.

    Each parameter is compared at two finite-difference step sizes (:data:`STEP_SIZES`) and keeps the
    smaller error; parameters feeding a sign step are reported but not judged (see :class:`GradRow`).
    """
    from nnstudio.engine.gradcheck import check_model
    from nnstudio.engine.losses import get_loss

    training = training or {}
    model = teaching_model(graph, seed=seed)
    move_off_kinks(model, seed=seed)
    data = teaching_batch(model, training, n=batch, seed=seed)
    loss = get_loss(str(training.get("loss", "cross_entropy")))
    x = model.xp.asarray(data.x, dtype=model.dtype)
    y = model.xp.asarray(data.y)
    best: dict[tuple[str, str], float] = {}
    order: list[tuple[str, str]] = []
    for eps in STEP_SIZES:
        results = check_model(model, x, y, loss, eps=eps, max_entries=max_entries, logits=loss.fuses_with or False,
                              rng=np.random.default_rng(seed))
        for nid, name, err in results:
            key = (nid, name)
            if key not in best:
                order.append(key)
            best[key] = min(err, best.get(key, np.inf))
        if all(e < THRESHOLD for e in best.values()):
            break
    surrogate = behind_step_function(model)
    rows = [GradRow(nid, model.layer(nid).type_name, name, best[(nid, name)], nid not in surrogate)
            for nid, name in order]
    return GradCheckResult(rows, data.source, data.reason, int(data.x.shape[0]))
