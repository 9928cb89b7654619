"""Scores of a model's outputs against targets, on host NumPy arrays: what the reports and the CLI print.

Why this exists: the trainer's epoch and test reports, ``nnstudio evaluate`` and the tests must agree on
what "accuracy" means for each kind of output — K-class scores (argmax), one-unit outputs (a threshold
that depends on the loss: probabilities for binary cross-entropy, signs for perceptron / hinge), sequences
of classifications such as the 4 digits of a captcha (a sample counts only when every position is right) —
and on regression scores (MSE, R²).  The rules mirror :func:`nnstudio.engine.losses.accuracy`, which the
trainer uses on the device for each batch.  Everything here is vectorised; the confusion matrix is one
``np.bincount``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SequenceAccuracy:
    whole: float  # share of samples with every position right
    per_position: tuple[float, ...]


def _one_unit(outputs: np.ndarray) -> bool:
    return outputs.ndim < 2 or outputs.shape[-1] == 1


def target_classes(targets: np.ndarray) -> np.ndarray:
    """Integer classes from labels, one-hot rows, or -1/+1 and 0/1 values of one-unit targets."""
    t = np.asarray(targets)
    if np.issubdtype(t.dtype, np.integer) or t.dtype == np.bool_:
        t = t.astype(np.int64)
        return np.where(t < 0, 0, t)  # -1/+1 labels: -1 is class 0
    if t.ndim >= 2 and t.shape[-1] > 1:
        return t.argmax(axis=-1).astype(np.int64)
    flat = t.reshape(t.shape[:-1]) if t.ndim >= 2 else t
    zero_one = bool((flat >= 0).all())
    return (flat > (0.5 if zero_one else 0.0)).astype(np.int64)


def predicted_classes(outputs: np.ndarray, loss_name: str, targets: np.ndarray | None = None) -> np.ndarray:
    """Predicted class per sample (or per position): argmax of K scores, or a threshold for one unit.

    One unit: 0.5 for binary cross-entropy (probabilities) and for mse on 0/1 targets, else 0 (the sign of a
    perceptron / hinge score, or mse on -1/+1 targets).  ``targets`` decides the mse case (0/1 when omitted).
    """
    out = np.asarray(outputs)
    if not _one_unit(out):
        return out.argmax(axis=-1).astype(np.int64)
    z = out.reshape(out.shape[:-1]) if out.ndim >= 2 else out
    zero_one = True if targets is None else bool((np.asarray(targets) >= 0).all())
    probabilities = loss_name == "binary_cross_entropy" or (loss_name == "mse" and zero_one)
    return (z >= (0.5 if probabilities else 0.0)).astype(np.int64)


def accuracy(outputs: np.ndarray, targets: np.ndarray, loss_name: str = "cross_entropy") -> float:
    """Share of correct predictions; for (N, P, K) outputs a sample is right only when all P positions are."""
    pred = predicted_classes(outputs, loss_name, targets)
    truth = target_classes(targets)
    truth = truth.reshape(pred.shape) if truth.size == pred.size else truth
    if truth.shape != pred.shape:
        raise ValueError(f"accuracy: targets of shape {np.shape(targets)} do not match outputs of shape "
                         f"{np.shape(outputs)}")
    if pred.size == 0:
        return 0.0
    correct = pred == truth
    if correct.ndim >= 2:
        correct = correct.reshape(correct.shape[0], -1).all(axis=1)
    return float(correct.mean())


def sequence_accuracy(outputs: np.ndarray, targets: np.ndarray) -> SequenceAccuracy:
    """Whole-sequence and per-position accuracy of (N, P, K) scores against (N, P) labels (captchas)."""
    pred = np.asarray(outputs).argmax(axis=-1)
    truth = target_classes(targets).reshape(pred.shape)
    if pred.size == 0:
        return SequenceAccuracy(0.0, tuple(0.0 for _ in range(pred.shape[-1] if pred.ndim > 1 else 0)))
    correct = pred == truth
    return SequenceAccuracy(float(correct.all(axis=1).mean()), tuple(float(v) for v in correct.mean(axis=0)))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) int64 counts: row = true class, column = predicted class (any leading shape is flattened)."""
    k = int(num_classes)
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"confusion_matrix: {t.size} true labels but {p.size} predictions")
    ok = (t >= 0) & (t < k) & (p >= 0) & (p < k)
    return np.bincount(t[ok] * k + p[ok], minlength=k * k).reshape(k, k).astype(np.int64)


def mse(predictions: np.ndarray, targets: np.ndarray) -> float:
    """Mean squared error over every value."""
    p = np.asarray(predictions, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64).reshape(p.shape)
    return float(np.mean((p - t) ** 2)) if p.size else 0.0


def r2_score(predictions: np.ndarray, targets: np.ndarray) -> float:
    """Coefficient of determination, 1 - SS_res / SS_tot (1 is perfect; 0 is "always the mean")."""
    p = np.asarray(predictions, dtype=np.float64)
    t = np.asarray(targets, dtype=np.float64).reshape(p.shape)
    ss_res = float(((t - p) ** 2).sum())
    ss_tot = float(((t - t.mean(axis=0)) ** 2).sum())
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot
