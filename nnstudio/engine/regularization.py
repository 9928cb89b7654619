"""L1 and L2 penalties on the weights: the loss a regularised network minimises, and its gradient.

Why this exists: TensorFlow Playground's lesson that L1 pushes the weights the data does not need to zero
(they then only jitter around it by about the step size) while L2 only shrinks them needs the penalty inside
the engine, the same for every front end.  The penalty covers every
weighted layer's weights (Dense and Conv2D ``W``), never biases nor BatchNorm's scale and shift:

    penalty = l1 · Σ|w| + l2 · Σw²        gradient: l1 · sign(w) + 2 · l2 · w

(the convention of Keras's ``L1L2`` regulariser and of PyTorch code that adds ``l2 * w.pow(2).sum()``; the
optimizers' ``weight_decay`` is a separate, older knob that adds ``weight_decay · w`` to the gradient).  It is
added once per step to the batch's mean loss, so the training loss the trainer reports includes it;
validation and test losses are the data loss alone.  sign(0) is 0, as in PyTorch, so a weight at exactly zero
stays there unless the data pulls it away.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nnstudio.engine.backend import array_module

# Layer type -> the parameters the penalty covers.
REGULARISED: dict[str, tuple[str, ...]] = {"Dense": ("W",), "Conv2D": ("W",)}


@dataclass(frozen=True)
class Regularizer:
    """The rates of the two penalties (0 switches one off)."""

    l1: float = 0.0
    l2: float = 0.0

    @property
    def active(self) -> bool:
        return self.l1 > 0.0 or self.l2 > 0.0

    @staticmethod
    def weights(model: Any) -> list[tuple[str, Any, Any]]:
        """``(key "node/param", weight, its gradient)`` of every regularised weight of a built model."""
        out = []
        for key, param, grad in model.parameters():
            node_id, _, name = key.rpartition("/")
            if name in REGULARISED.get(model.layer(node_id).type_name, ()):
                out.append((key, param, grad))
        return out

    def penalty(self, model: Any) -> float:
        """l1 · Σ|w| + l2 · Σw² over the regularised weights, as a host float (0.0 when inactive)."""
        if not self.active:
            return 0.0
        total: Any = 0.0
        for _, w, _ in self.weights(model):  # summed on the device, read back once
            if self.l1:
                total = total + self.l1 * abs(w).sum(dtype=w.dtype)
            if self.l2:
                total = total + self.l2 * (w * w).sum(dtype=w.dtype)
        return float(total)

    def add_gradients(self, model: Any) -> None:
        """Add the penalty's gradient to the weights' gradients in place (after ``model.backward``)."""
        if not self.active:
            return
        for _, w, g in self.weights(model):
            xp = array_module(w)
            if self.l1:
                g += self.l1 * xp.sign(w)
            if self.l2:
                g += (2.0 * self.l2) * w


__all__ = ["REGULARISED", "Regularizer"]
