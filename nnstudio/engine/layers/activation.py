"""Element-wise activations (and softmax over the last axis) with their exact backward passes.

One class with a ``function`` argument keeps the graph's Activation block a single block whose function is a
parameter.  ``sign`` is the perceptron's step: its true derivative is zero almost everywhere, so its backward
passes the gradient straight through (identity), which is what lets a perceptron-style loss train the
weights before it.
"""
from __future__ import annotations

from typing import Any

from nnstudio.engine.layers.base import Layer, Shape, as_shape
from nnstudio.engine import parallel

FUNCTIONS = ("relu", "leaky_relu", "sigmoid", "tanh", "softmax", "sign", "linear")


class Activation(Layer):
    """``function`` in relu, leaky_relu, sigmoid, tanh, softmax, sign, linear; ``alpha`` is leaky_relu's slope."""

    type_name = "Activation"

    def __init__(self, function: str = "relu", alpha: float = 0.01) -> None:
        super().__init__()
        if function not in FUNCTIONS:
            raise ValueError(f"Activation: unknown function {function!r}; expected one of {', '.join(FUNCTIONS)}")
        self.function = function
        self.alpha = float(alpha)
        self._kept: Any = None  # what backward needs: a mask (relu), a slope (leaky_relu) or the output

    def output_shape(self, input_shape: Any) -> Shape:
        return as_shape(input_shape, "Activation")

    def forward(self, x: Any, training: bool = False) -> Any:
        xp, f = self.xp, self.function
        if f == "relu":
            # Multiplying by the mask is faster than maximum(x, 0) in NumPy; the mask is all backward needs.
            # Both keep the input's memory layout (see .layout), and big batches are done in parts.  Outside
            # training a small batch takes maximum(x, 0), one operation instead of two, and keeps its output,
            # from which a backward pass (a saliency map) reads the same mask (one image through LeNet-5, with
            # pooling's own shortcut: 0.85x the time).
            if x.size < parallel.MIN_VALUES:
                if not training:
                    out = self._kept = xp.maximum(x, 0)
                    return out
                self._kept = x > 0
                return x * self._kept
            mask, out = xp.empty_like(x, dtype=bool), xp.empty_like(x)

            def relu(x_part: Any, mask_part: Any, out_part: Any) -> None:
                xp.greater(x_part, 0, out=mask_part)
                xp.multiply(x_part, mask_part, out=out_part)

            parallel.each_slice(relu, x, mask, out)
            self._kept = mask
            return out
        if f == "leaky_relu":
            slope = (x > 0).astype(x.dtype)  # 1 where positive, then mapped to {alpha, 1}
            slope *= 1.0 - self.alpha
            slope += self.alpha
            self._kept = slope
            return x * slope
        if f == "sigmoid":
            out = sigmoid(xp, x)
        elif f == "tanh":
            out = xp.tanh(x)
        elif f == "softmax":
            out = softmax(xp, x)
        elif f == "sign":
            out = (x >= 0).astype(x.dtype)
            out *= 2
            out -= 1
            return out
        else:  # linear
            return x
        self._kept = out
        return out

    def backward(self, grad_out: Any) -> Any:
        f, kept = self.function, self._kept
        if f == "relu" and kept.dtype != bool:  # the output of a small batch outside training
            kept = kept > 0
        if f in ("relu", "leaky_relu"):  # the mask, or the slope (1 or alpha) per element
            if kept.size < parallel.MIN_VALUES:
                return grad_out * kept
            dx = self.xp.empty_like(kept, dtype=grad_out.dtype)
            parallel.each_slice(lambda k, g, d: self.xp.multiply(g, k, out=d), kept, grad_out, dx)
            return dx
        if f == "sigmoid":
            return grad_out * kept * (1 - kept)
        if f == "tanh":
            return grad_out * (1 - kept * kept)
        if f == "softmax":
            # Jacobian-vector product of softmax: y * (g - <g, y>) along the last axis.
            return kept * (grad_out - (grad_out * kept).sum(axis=-1, keepdims=True))
        return grad_out  # linear, and sign's straight-through estimator

    def config(self) -> dict[str, Any]:
        return {"function": self.function, "alpha": self.alpha}


def sigmoid(xp: Any, x: Any) -> Any:
    """1 / (1 + exp(-x)) without overflow: exp is only ever taken of a non-positive number."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softmax(xp: Any, x: Any) -> Any:
    """Softmax over the last axis, shifted by the row maximum so exp never overflows."""
    e = x - x.max(axis=-1, keepdims=True)
    xp.exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return e
