"""Gradient checking: compare a layer's or a model's backward pass with central finite differences.

The tests use it to prove every layer's backward, and the GUI's "gradient check" table uses
:func:`check_model` to show a learner that backpropagation computes the same numbers as nudging each weight.
Finite differences need float64: in float32 the rounding error of f(x+eps) - f(x-eps) swamps the signal.
The loop over elements here is inherent to the method (one pair of forward passes per checked element);
it is a diagnostic, never a training path.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from nnstudio.engine.backend import to_host
from nnstudio.engine.layers.base import Layer


def relative_error(analytic: Any, numeric: Any) -> float:
    """||a - n|| / max(||a||, ||n||), 0 when both are zero (norms over all elements, on the host)."""
    a = np.asarray(to_host(analytic), dtype=np.float64).ravel()
    n = np.asarray(to_host(numeric), dtype=np.float64).ravel()
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(n)))
    if scale == 0.0:
        return 0.0
    return float(np.linalg.norm(a - n)) / scale


def numerical_gradient(f: Callable[[], float], x: Any, eps: float = 1e-6,
                       indices: Sequence[int] | None = None) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to ``x``, perturbing ``x`` in place.

    ``x`` must be a float64 array (NumPy or CuPy) that ``f`` reads; it is restored afterwards.  With
    ``indices`` (flat positions) only those entries are estimated and the result has one value per index;
    otherwise the result is a host float64 array shaped like ``x``.
    """
    if x.dtype != np.float64:
        raise ValueError(f"numerical_gradient needs a float64 array; received {x.dtype}")
    if not x.flags.c_contiguous:  # reshape would copy and the perturbations would never reach f
        raise ValueError("numerical_gradient needs a C-contiguous array to perturb in place")
    flat = x.reshape(-1)
    positions = range(x.size) if indices is None else indices
    out = np.empty(len(positions), dtype=np.float64)
    for k, i in enumerate(positions):
        original = float(flat[i])
        flat[i] = original + eps
        f_plus = float(f())
        flat[i] = original - eps
        f_minus = float(f())
        flat[i] = original
        out[k] = (f_plus - f_minus) / (2.0 * eps)
    return out.reshape(x.shape) if indices is None else out


def check_layer(layer: Layer, input_shape: Any, xp: Any, rng: np.random.Generator, *, batch: int = 3,
                training: bool = True, eps: float = 1e-6, inputs: Any = None,
                before_forward: Callable[[], None] | None = None) -> dict[str, float]:
    """Relative errors of ``layer``'s backward against finite differences, in float64.

    The scalar loss is a fixed random projection of the output, ``sum(out * P)``, so the gradient fed to
    ``backward`` is ``P`` and every output element matters.  ``input_shape`` is a sample shape, or a list of
    them for merge layers; ``inputs`` (host arrays with the batch axis) replaces the random inputs.  The
    layer is built in float64 on ``xp`` when it is not built yet.  ``before_forward`` runs before every
    forward pass (e.g. to reseed a Dropout so each pass draws the same mask).  Returns
    ``{"input": err}`` (or ``input0``, ``input1``, ... for merge layers; none for a layer whose
    ``needs_input_grad`` is False) plus one entry per parameter.
    """
    merge = layer.n_inputs != 1
    shapes = list(input_shape) if merge else [input_shape]
    if not layer.built:
        layer.build([tuple(s) for s in shapes] if merge else tuple(input_shape), xp, rng, np.float64)
    elif layer.dtype != np.float64:
        raise ValueError(f"check_layer needs a float64 layer; {type(layer).__name__} was built as {layer.dtype}")
    if inputs is None:
        host = [rng.normal(size=(batch,) + tuple(s)) for s in shapes]
    else:
        host = list(inputs) if merge else [inputs]
    xs = [xp.asarray(np.array(h, dtype=np.float64)) for h in host]

    def run_forward() -> Any:
        if before_forward is not None:
            before_forward()
        return layer.forward(xs if merge else xs[0], training)

    out = run_forward()
    projection = xp.asarray(rng.normal(size=out.shape))

    def loss() -> float:
        return float((run_forward() * projection).sum())

    grads_in = layer.backward(projection)
    grads_in = grads_in if merge else [grads_in]
    analytic_params = {name: to_host(g).copy() for name, g in layer.grads.items()}
    errors: dict[str, float] = {}
    for i, (x, g) in enumerate(zip(xs, grads_in)):
        if g is None:  # a layer told it needs no input gradient (needs_input_grad False) gives none
            continue
        errors["input" if not merge else f"input{i}"] = relative_error(g, numerical_gradient(loss, x, eps))
    for name, param in layer.params.items():
        errors[name] = relative_error(analytic_params[name], numerical_gradient(loss, param, eps))
    return errors


def check_model(model: Any, x: Any, y: Any, loss: Any, *, eps: float = 1e-6, max_entries: int = 20,
                training: bool = False, logits: bool | None = None,
                rng: np.random.Generator | None = None) -> list[tuple[str, str, float]]:
    """Check a built float64 model's parameter gradients: ``[(node_id, param, relative error), ...]``.

    Follows the engine's Model contract: ``model.parameters()`` gives ``(key "node/param", param, grad)``,
    ``model.forward(x, training, logits=...)`` and ``model.backward(grad)``; ``loss.forward(out, y)`` gives
    ``(value, grad)``.  When the loss fuses with the model's trailing activation (``loss.fuses_with``), the
    model is asked for logits, as in training.  At most ``max_entries`` randomly chosen entries per
    parameter are nudged (0 means all), which keeps the check fast on big layers.  ``training=False`` (the
    default) makes Dropout the identity so the loss is a deterministic function of the weights.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    if logits is None:
        fused = getattr(model, "loss_from_logits", None)
        logits = bool(fused(loss)) if callable(fused) else getattr(loss, "fuses_with", None) is not None

    def loss_value() -> tuple[float, Any]:
        out = model.forward(x, training=training, logits=logits)
        try:
            value, grad = loss.forward(out, y, from_logits=bool(logits))
        except TypeError:  # a minimal loss object without the from_logits switch
            value, grad = loss.forward(out, y)
        return float(value), grad

    _, grad = loss_value()
    model.backward(grad)
    entries = [(key, param, to_host(g).copy()) for key, param, g in model.parameters()]
    results: list[tuple[str, str, float]] = []
    for key, param, analytic in entries:
        if param.dtype != np.float64:
            raise ValueError(f"check_model needs a float64 model; parameter {key} is {param.dtype}")
        node_id, _, name = key.rpartition("/")
        count = int(param.size)
        if max_entries and count > max_entries:
            chosen = np.sort(rng.choice(count, size=max_entries, replace=False))
        else:
            chosen = np.arange(count)
        numeric = numerical_gradient(lambda: loss_value()[0], param, eps, indices=[int(i) for i in chosen])
        results.append((node_id, name, relative_error(analytic.reshape(-1)[chosen], numeric)))
    return results
