"""Inverted dropout: in training, zero a fraction ``rate`` of the activations and scale the rest by
1 / (1 - rate), so evaluation is the identity and needs no rescaling.

Each layer draws its masks from its own generator on its backend, seeded in ``build`` from the model's host
generator, so two runs with the same seed drop the same units.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnstudio.engine.layers.base import Layer, Shape, as_shape


class Dropout(Layer):
    """Drop each activation with probability ``rate`` (0 <= rate < 1) while training."""

    type_name = "Dropout"

    def __init__(self, rate: float = 0.5) -> None:
        super().__init__()
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be at least 0 and below 1. Received: rate={rate}")
        self.rate = rate
        self.seed = 0
        self._gen: Any = None
        self._scale_mask: Any = None  # 0 or 1/(1-rate) per element, None when forward was the identity

    def output_shape(self, input_shape: Any) -> Shape:
        return as_shape(input_shape, "Dropout")

    def _build(self, input_shape: Any, rng: np.random.Generator) -> None:
        self.reseed(int(rng.integers(0, 2**63 - 1)))

    def reseed(self, seed: int) -> None:
        """Restart the mask sequence from ``seed`` (build does this from the model's generator)."""
        self.seed = int(seed)
        self._gen = self.xp.random.default_rng(self.seed)

    def forward(self, x: Any, training: bool = False) -> Any:
        if not training or self.rate == 0.0:
            self._scale_mask = None
            return x
        if self._gen is None:
            self.reseed(self.seed)
        try:
            uniform = self._gen.random(x.shape, dtype=x.dtype)
        except TypeError:  # a generator without the dtype argument
            uniform = self._gen.random(x.shape).astype(x.dtype)
        self._scale_mask = (uniform >= self.rate) * x.dtype.type(1.0 / (1.0 - self.rate))
        return x * self._scale_mask

    def backward(self, grad_out: Any) -> Any:
        if self._scale_mask is None:
            return grad_out
        return grad_out * self._scale_mask

    def config(self) -> dict[str, Any]:
        return {"rate": self.rate}
