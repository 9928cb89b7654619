"""Fully connected layer: ``y = x W + b`` on the flattened sample.

Dense accepts any sample rank (an image is flattened on the way in, so a graph does not need an explicit
Flatten before it) and hands back the input's gradient in the input's own shape.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnstudio.engine.init import check_init_name, initialize
from nnstudio.engine.layers.base import Layer, Shape, as_shape, positive_int, size
from nnstudio.engine.layers.layout import flat_batch, is_channel_major, like_layout


class Dense(Layer):
    """``units`` outputs; ``W`` is (in_features, units) and ``b`` is (units,)."""

    type_name = "Dense"

    def __init__(self, units: int, use_bias: bool = True, init: str = "he") -> None:
        super().__init__()
        self.units = positive_int(units, "Dense", "units")
        self.use_bias = bool(use_bias)
        self.init = check_init_name(init, "Dense")
        self._x2: Any = None  # the flattened input, kept for dW
        self._x_shape: tuple[int, ...] = ()
        self._channel_major = False

    def output_shape(self, input_shape: Any) -> Shape:
        as_shape(input_shape, "Dense")
        return (self.units,)

    def param_shapes(self, input_shape: Any) -> dict[str, Shape]:
        fan_in = size(as_shape(input_shape, "Dense"))
        return {"W": (fan_in, self.units), **({"b": (self.units,)} if self.use_bias else {})}

    def _build(self, input_shape: Any, rng: np.random.Generator) -> None:
        fan_in = size(as_shape(input_shape, "Dense"))
        w = initialize(self.init, (fan_in, self.units), fan_in, self.units, rng)
        self.params["W"] = self._to_xp(w)
        if self.use_bias:
            self.params["b"] = self._to_xp(np.zeros(self.units))

    def forward(self, x: Any, training: bool = False) -> Any:
        x2 = flat_batch(x)  # one copy of a channel-major image batch (see .layout), else a view
        self._x2, self._x_shape, self._channel_major = x2, x.shape, is_channel_major(x)
        out = x2 @ self.params["W"]
        if self.use_bias:
            out += self.params["b"]
        return out

    def backward(self, grad_out: Any) -> Any:
        xp = self.xp
        xp.matmul(self._x2.T, grad_out, out=self.grads["W"])
        if self.use_bias:
            grad_out.sum(axis=0, out=self.grads["b"])
        if not self.needs_input_grad:
            return None
        return like_layout((grad_out @ self.params["W"].T).reshape(self._x_shape), self._channel_major)

    def config(self) -> dict[str, Any]:
        return {"units": self.units, "use_bias": self.use_bias, "init": self.init}
