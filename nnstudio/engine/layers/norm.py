"""Batch normalisation: normalise each channel (images) or feature (vectors) by the batch's statistics in
training and by running averages in evaluation, then scale by ``gamma`` and shift by ``beta``.

The running variance uses the unbiased batch variance (as PyTorch does), so exported models evaluate alike.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnstudio.engine.layers.base import Layer, Shape, as_shape


class BatchNorm(Layer):
    """Per-channel for (C, H, W) samples, per-feature for (F,) samples (the first sample axis in general)."""

    type_name = "BatchNorm"

    def __init__(self, momentum: float = 0.9, eps: float = 1e-5) -> None:
        super().__init__()
        momentum, eps = float(momentum), float(eps)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"BatchNorm: momentum must be at least 0 and below 1. Received: momentum={momentum}")
        if not eps > 0.0:
            raise ValueError(f"BatchNorm: eps must be positive. Received: eps={eps}")
        self.momentum = momentum
        self.eps = eps
        self._xhat: Any = None
        self._inv_std: Any = None
        self._trained = False  # whether the last forward used batch statistics

    def output_shape(self, input_shape: Any) -> Shape:
        return as_shape(input_shape, "BatchNorm")

    def param_shapes(self, input_shape: Any) -> dict[str, Shape]:
        channels = as_shape(input_shape, "BatchNorm")[0]
        return {"gamma": (channels,), "beta": (channels,)}

    def _build(self, input_shape: Any, rng: np.random.Generator) -> None:
        channels = as_shape(input_shape, "BatchNorm")[0]
        self.params["gamma"] = self._to_xp(np.ones(channels))
        self.params["beta"] = self._to_xp(np.zeros(channels))
        self.buffers["running_mean"] = self._to_xp(np.zeros(channels))
        self.buffers["running_var"] = self._to_xp(np.ones(channels))

    @staticmethod
    def _axes(ndim: int) -> tuple[int, ...]:
        return (0,) + tuple(range(2, ndim))

    def _per_channel(self, v: Any, ndim: int) -> Any:
        return v.reshape((1, -1) + (1,) * (ndim - 2))

    def forward(self, x: Any, training: bool = False) -> Any:
        xp, axes = self.xp, self._axes(x.ndim)
        if training:
            mean = x.mean(axis=axes)
            centred = x - self._per_channel(mean, x.ndim)
            var = (centred * centred).mean(axis=axes)
            count = x.size // mean.size
            m = self.momentum
            self.buffers["running_mean"] *= m
            self.buffers["running_mean"] += (1 - m) * mean
            self.buffers["running_var"] *= m
            self.buffers["running_var"] += ((1 - m) * count / max(count - 1, 1)) * var
        else:
            var = self.buffers["running_var"]
            centred = x - self._per_channel(self.buffers["running_mean"], x.ndim)
        inv_std = 1 / xp.sqrt(var + self.eps)
        xhat = centred * self._per_channel(inv_std, x.ndim)
        self._xhat, self._inv_std, self._trained = xhat, inv_std, training
        return xhat * self._per_channel(self.params["gamma"], x.ndim) + \
            self._per_channel(self.params["beta"], x.ndim)

    def backward(self, grad_out: Any) -> Any:
        xhat, ndim = self._xhat, grad_out.ndim
        axes = self._axes(ndim)
        sum_g = grad_out.sum(axis=axes)
        sum_g_xhat = (grad_out * xhat).sum(axis=axes)
        self.grads["gamma"][...] = sum_g_xhat
        self.grads["beta"][...] = sum_g
        scale = self._per_channel(self.params["gamma"] * self._inv_std, ndim)
        if not self._trained:  # fixed statistics: the layer is an affine map
            return grad_out * scale
        # Batch statistics depend on every sample:
        # dx = gamma * inv_std * (g - mean(g) - xhat * mean(g * xhat)).
        count = grad_out.size // sum_g.size
        return scale * (grad_out - self._per_channel(sum_g / count, ndim)
                        - xhat * self._per_channel(sum_g_xhat / count, ndim))

    def config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "eps": self.eps}
