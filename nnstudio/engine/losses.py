"""Loss functions and the accuracy metric, on NumPy or CuPy.

Each loss turns the network's output and the targets into a scalar (a Python float, for the curves) and the
gradient of that scalar with respect to the output (an array on the output's device, for ``backward``).
Losses average over samples: for outputs shaped (N, K) over N, for sequences of classifications shaped
(N, P, K) — e.g. the 4 digits of a captcha — over N*P.

``fuses_with`` names the output activation a loss prefers to absorb.  A model ending in that activation
hands the loss its *pre-activation* (``from_logits=True``), which keeps softmax / sigmoid cross-entropy
stable and makes the gradient simply ``p - t``.  Given probabilities (``from_logits=False``) the losses are
still exact, just less stable at saturated outputs (probabilities are clipped away from 0 and 1).

Targets:
  * cross_entropy: integer class labels shaped like the output without its last axis ((N,) or (N, P)),
    or one-hot / probability vectors shaped like the output.
  * binary_cross_entropy: 0/1 (or soft) targets shaped like the output, or (N,) for an (N, 1) output.
  * mse: values shaped like the output ((N,) allowed for an (N, 1) output); integer labels for a K-class
    output are turned into one-hot vectors.
  * perceptron / hinge: for one output unit, labels in {-1, +1} or {0, 1} (0 is read as -1); for K
    outputs, class labels or one-hot vectors (multi-class: Crammer-Singer, see :class:`Hinge`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nnstudio.engine.backend import array_module, to_host
from nnstudio.errors import UserError

# Probabilities are clipped to [EPS, 1 - EPS] before taking logs when a loss is not given logits.
EPS = 1e-7


def _fail(loss: str, message: str) -> UserError:
    return UserError(f"Loss '{loss}': {message}")


def _is_int(a: Any) -> bool:
    return np.issubdtype(np.dtype(a.dtype), np.integer) or np.dtype(a.dtype) == np.bool_


def _labels_to_onehot(loss: str, output: Any, target: Any) -> Any:
    """Class labels (output's shape without the last axis) as one-hot vectors of the output's dtype."""
    xp = array_module(output)
    k = output.shape[-1]
    if tuple(target.shape) != tuple(output.shape[:-1]):
        raise _fail(loss, f"expected class labels of shape {tuple(output.shape[:-1])} for outputs of shape "
                          f"{tuple(output.shape)}; received labels of shape {tuple(target.shape)}")
    _check_label_range(loss, xp, target, k)
    return (target[..., None] == xp.arange(k)).astype(output.dtype)


def _check_label_range(loss: str, xp: Any, labels: Any, k: int) -> None:
    """A UserError naming ``loss`` unless every class label is in 0..k-1."""
    if not labels.size:
        return
    if xp is np:  # two reductions, no temporaries
        lo, hi = int(labels.min()), int(labels.max())
        bad = lo < 0 or hi >= k
    else:  # one transfer from the device
        bad = bool(xp.logical_or(labels < 0, labels >= k).any())
        lo, hi = (int(labels.min()), int(labels.max())) if bad else (0, 0)
    if bad:
        raise _fail(loss, f"class labels must be in 0..{k - 1} for {k} outputs; found labels from {lo} to {hi}")


def _as_dense_target(loss: str, output: Any, target: Any) -> Any:
    """Targets shaped exactly like the output (labels become one-hot, (N,) becomes (N, 1))."""
    xp = array_module(output)
    target = xp.asarray(target)
    if tuple(target.shape) == tuple(output.shape):
        return target.astype(output.dtype, copy=False)
    if output.ndim >= 2 and output.shape[-1] == 1 and tuple(target.shape) == tuple(output.shape[:-1]):
        return target.reshape(output.shape).astype(output.dtype, copy=False)
    if _is_int(target) and output.shape[-1] > 1:
        return _labels_to_onehot(loss, output, target)
    raise _fail(loss, f"targets of shape {tuple(target.shape)} do not match outputs of shape {tuple(output.shape)}")


def _samples(output: Any) -> int:
    """How many predictions the mean runs over: every axis but the class axis (N, or N*P)."""
    return max(1, int(output.size // output.shape[-1])) if output.ndim >= 2 else max(1, int(output.size))


def _sign_labels(loss: str, output: Any, target: Any) -> Any:
    """Targets for a one-unit output as -1/+1 floats shaped like the output ({0, 1} mapped to {-1, +1})."""
    xp = array_module(output)
    y = _as_dense_target(loss, output, target)
    if y.size and bool(xp.logical_and(xp.logical_and(y != 1, y != -1), y != 0).any()):
        raise _fail(loss, "labels for a one-unit output must be -1/+1 or 0/1; found other values")
    return xp.where(y == 0, -1, y).astype(output.dtype)


class Loss:
    """Base class: ``forward(output, target, from_logits=False) -> (loss float, gradient array)``."""

    name: str = ""
    fuses_with: str | None = None

    def forward(self, output: Any, target: Any, from_logits: bool = False) -> tuple[float, Any]:
        value, grad = self.value_and_grad(output, target, from_logits)
        return float(value), grad

    def value_and_grad(self, output: Any, target: Any, from_logits: bool) -> tuple[Any, Any]:
        """The loss as a 0-d device array and its gradient (no host transfer)."""
        raise NotImplementedError

    def value_grad_probabilities(self, output: Any, target: Any, from_logits: bool) -> tuple[Any, Any, Any]:
        """:meth:`value_and_grad`, plus the ``fuses_with`` activation of ``output`` when it was given logits
        and the loss computed that on the way (exactly what :func:`~nnstudio.engine.model.apply_activation`
        gives), else None.  A training step shows those probabilities and measures its accuracy on them
        instead of squashing the scores a second time."""
        value, grad = self.value_and_grad(output, target, from_logits)
        return value, grad, None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MeanSquaredError(Loss):
    """mean((output - target)^2) over every element (as PyTorch's MSELoss)."""

    name = "mse"

    def value_and_grad(self, output: Any, target: Any, from_logits: bool = False) -> tuple[Any, Any]:
        diff = output - _as_dense_target(self.name, output, target)
        scale = 1.0 / max(1, diff.size)
        return (diff * diff).sum() * scale, diff * (2.0 * scale)


class CrossEntropy(Loss):
    """Softmax cross-entropy over the last axis, averaged over every prediction (N, or N*P)."""

    name = "cross_entropy"
    fuses_with = "softmax"

    def value_and_grad(self, output: Any, target: Any, from_logits: bool = False) -> tuple[Any, Any]:
        value, grad, _ = self.value_grad_probabilities(output, target, from_logits)
        return value, grad

    def value_grad_probabilities(self, output: Any, target: Any, from_logits: bool) -> tuple[Any, Any, Any]:
        xp = array_module(output)
        if output.ndim < 2:
            raise _fail(self.name, f"needs outputs with a class axis, (N, K) or (N, P, K); "
                                   f"received shape {tuple(output.shape)}")
        target = xp.asarray(target)
        if from_logits and _is_int(target) and tuple(target.shape) == tuple(output.shape[:-1]):
            return self._from_logits_and_labels(xp, output, target)
        t = _labels_to_onehot(self.name, output, target) if _is_int(target) else \
            _as_dense_target(self.name, output, target)
        m = _samples(output)
        if from_logits:
            shifted = output - output.max(axis=-1, keepdims=True)
            e = xp.exp(shifted)
            total = e.sum(axis=-1, keepdims=True)
            log_p = shifted - xp.log(total)
            value = -(t * log_p).sum() / m
            p = e / total
            # t need not sum to 1 (soft labels): d/dz = p * sum(t) - t.
            return value, (p * t.sum(axis=-1, keepdims=True) - t) / m, p
        p = xp.clip(output, EPS, 1.0)
        value = -(t * xp.log(p)).sum() / m
        return value, -t / (p * m), None

    def _from_logits_and_labels(self, xp: Any, output: Any, labels: Any) -> tuple[Any, Any, Any]:
        """The usual case of a training step: scores and class labels.  The label's own score is picked
        instead of building one-hot targets: half the array operations of the general case (71 against
        131 us for the MLP's (128, 10) batch, softmax included), the same gradient bit for bit."""
        k = output.shape[-1]
        flat = labels.reshape(-1)
        _check_label_range(self.name, xp, flat, k)
        m = _samples(output)
        rows = xp.arange(flat.size)
        shifted = (output - output.max(axis=-1, keepdims=True)).reshape(-1, k)
        e = xp.exp(shifted)
        total = e.sum(axis=-1, keepdims=True)
        # -log p[label] = log(sum exp) - (shifted score of the label), averaged.
        value = (xp.log(total).sum() - shifted[rows, flat].sum()) / m
        p = e / total
        grad = p.copy()
        grad[rows, flat] -= 1
        grad /= m
        return value, grad.reshape(output.shape), p.reshape(output.shape)


class BinaryCrossEntropy(Loss):
    """Sigmoid cross-entropy per element, averaged over every element."""

    name = "binary_cross_entropy"
    fuses_with = "sigmoid"

    def value_and_grad(self, output: Any, target: Any, from_logits: bool = False) -> tuple[Any, Any]:
        value, grad, _ = self.value_grad_probabilities(output, target, from_logits)
        return value, grad

    def value_grad_probabilities(self, output: Any, target: Any, from_logits: bool) -> tuple[Any, Any, Any]:
        xp = array_module(output)
        t = _as_dense_target(self.name, output, target)
        m = max(1, output.size)
        if from_logits:
            z = output
            # log(1 + exp(z)) - z t, written so exp never sees a positive number.
            e = xp.exp(-xp.abs(z))
            value = (xp.maximum(z, 0) - z * t + xp.log1p(e)).sum() / m
            p = xp.where(z >= 0, 1 / (1 + e), e / (1 + e))  # the sigmoid, as apply_activation computes it
            return value, (p - t) / m, p
        p = xp.clip(output, EPS, 1 - EPS)
        value = -(t * xp.log(p) + (1 - t) * xp.log(1 - p)).sum() / m
        return value, (p - t) / (p * (1 - p) * m), None


class _MarginLoss(Loss):
    """Shared shape handling for perceptron and hinge: one unit (sign labels) or K classes."""

    margin = 0.0

    def value_and_grad(self, output: Any, target: Any, from_logits: bool = False) -> tuple[Any, Any]:
        xp = array_module(output)
        target = xp.asarray(target)
        if output.ndim < 2 or output.shape[-1] == 1:
            y = _sign_labels(self.name, output, target)
            return self._binary(xp, output, y)
        if not _is_int(target):
            if tuple(target.shape) != tuple(output.shape):
                raise _fail(self.name, f"targets of shape {tuple(target.shape)} do not match outputs of shape "
                                       f"{tuple(output.shape)}")
            target = target.argmax(axis=-1)
        onehot = _labels_to_onehot(self.name, output, target)
        return self._multiclass(xp, output, onehot)

    def _binary(self, xp: Any, z: Any, y: Any) -> tuple[Any, Any]:
        m = max(1, z.size)
        slack = self.margin - y * z
        value = xp.maximum(slack, 0).sum() / m
        active = slack >= 0 if self.margin == 0 else slack > 0
        return value, -(y * active) / m

    def _multiclass(self, xp: Any, z: Any, onehot: Any) -> tuple[Any, Any]:
        m = _samples(z)
        correct = (z * onehot).sum(axis=-1, keepdims=True)
        # Best wrong class: push the true class's score down to -inf before the argmax.
        others = xp.where(onehot > 0, -xp.inf, z)
        rival = others.argmax(axis=-1)[..., None]
        rival_score = xp.take_along_axis(z, rival, axis=-1)
        slack = self.margin + rival_score - correct
        value = xp.maximum(slack, 0).sum() / m
        active = (slack >= 0 if self.margin == 0 else slack > 0).astype(z.dtype)
        rival_onehot = (rival == xp.arange(z.shape[-1])).astype(z.dtype)
        return value, (rival_onehot - onehot) * active / m


class Perceptron(_MarginLoss):
    """mean(max(0, -y z)): zero once every sample is on the right side.

    The gradient counts a score of exactly 0 as a mistake (the classic perceptron rule), so a
    zero-initialised perceptron still moves.  With K outputs it is the multi-class perceptron,
    mean(max_k!=y z_k - z_y)_+.
    """

    name = "perceptron"
    margin = 0.0


class Hinge(_MarginLoss):
    """mean(max(0, 1 - y z)), the SVM loss.

    With K outputs it is Crammer-Singer's multi-class hinge, mean(max(0, 1 + max_k!=y z_k - z_y)): only the
    best wrong class is pushed down (one-vs-all would push every wrong class) — it matches the argmax
    decision rule and its gradient is as cheap as softmax's.
    """

    name = "hinge"
    margin = 1.0


LOSSES: dict[str, type[Loss]] = {cls.name: cls for cls in
                                 (MeanSquaredError, CrossEntropy, BinaryCrossEntropy, Perceptron, Hinge)}


def get_loss(name: str) -> Loss:
    """The loss called ``name``: mse, cross_entropy, binary_cross_entropy, perceptron or hinge."""
    cls = LOSSES.get(str(name).strip().lower())
    if cls is None:
        raise UserError(f"Unknown loss '{name}': expected one of {', '.join(LOSSES)}")
    return cls()


@dataclass(frozen=True)
class Accuracy:
    """Share of correct predictions; for (N, P, K) outputs ``value`` counts a sample right only when all P
    positions are, and ``per_position`` holds each position's accuracy."""

    value: float
    per_position: tuple[float, ...] | None = None


def predicted_classes(output: Any, loss_name: str) -> Any:
    """Class indices (K outputs: argmax), or 0/1 decisions for one-unit outputs, on the output's device.

    A one-unit output is thresholded at 0.5 for binary cross-entropy (probabilities) and at 0 otherwise
    (scores of perceptron / hinge / mse on -1/+1 targets).
    """
    if output.ndim >= 2 and output.shape[-1] > 1:
        return output.argmax(axis=-1)
    z = output.reshape(output.shape[:-1]) if output.ndim >= 2 else output
    threshold = 0.5 if loss_name == "binary_cross_entropy" else 0.0
    return (z >= threshold).astype(np.int64)


def accuracy(output: Any, target: Any, loss_name: str) -> Accuracy:
    """Classification accuracy of ``output`` against ``target`` (labels, one-hot, or -1/+1 / 0/1 values).

    For one-unit outputs with mse the targets are read as classes too: values >= 0.5 are class 1 when
    the targets are 0/1, and the sign decides when they are -1/+1.
    """
    xp = array_module(output)
    target = xp.asarray(target)
    one_unit = output.ndim < 2 or output.shape[-1] == 1
    if one_unit:
        z, t = output.reshape(-1), target.reshape(-1)
        if t.size != z.size:
            raise _fail(loss_name, f"targets of shape {tuple(target.shape)} do not match outputs of shape "
                                   f"{tuple(output.shape)}")
        zero_one = bool((t >= 0).all())  # 0/1 targets, else -1/+1
        truth = t > (0.5 if zero_one else 0.0)
        probabilities = loss_name == "binary_cross_entropy" or (loss_name == "mse" and zero_one)
        correct = (z >= (0.5 if probabilities else 0.0)) == truth
    else:
        pred = output.argmax(axis=-1)
        truth = target if _is_int(target) else target.argmax(axis=-1)
        if tuple(truth.shape) != tuple(pred.shape):
            raise _fail(loss_name, f"targets of shape {tuple(target.shape)} do not match outputs of shape "
                                   f"{tuple(output.shape)}")
        correct = pred == truth
    if correct.size == 0:
        return Accuracy(0.0, None)
    if correct.ndim >= 2:  # sequences (N, P): the whole sequence must be right
        host = to_host(xp.concatenate([correct.reshape(correct.shape[0], -1).all(axis=1).mean(keepdims=True),
                                       correct.reshape(correct.shape[0], -1).mean(axis=0)]))
        return Accuracy(float(host[0]), tuple(float(v) for v in host[1:]))
    return Accuracy(float(correct.mean()), None)
