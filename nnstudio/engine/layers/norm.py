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
        self._x: Any = None  # evaluation mode keeps the input instead of xhat
        self._inv_std: Any = None
        self._ones: Any = None  # a cached vector of ones for per-channel sums
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

    def _channel_sum(self, a: Any) -> Any:
        """Sum over every axis but the channel axis (1): a matrix-vector product per sample, then over the
        batch, which is about twice as fast as NumPy's reduction over axes (0, 2, 3)."""
        if a.ndim == 2:
            return a.sum(axis=0)
        a3 = a.reshape(a.shape[0], a.shape[1], -1)
        ones = self._ones
        if ones is None or ones.shape[0] != a3.shape[2] or ones.dtype != a.dtype:
            ones = self._ones = self.xp.ones(a3.shape[2], dtype=a.dtype)
        return (a3 @ ones).sum(axis=0)

    def _channel_dot(self, a: Any, b: Any) -> Any:
        """Per channel, the sum of ``a * b`` over every other axis, without the product as a temporary."""
        if a.ndim == 2:
            return self.xp.einsum("nc,nc->c", a, b)
        shape = (a.shape[0], a.shape[1], -1)
        return self.xp.einsum("nck,nck->c", a.reshape(shape), b.reshape(shape))

    def forward(self, x: Any, training: bool = False) -> Any:
        # Each pass over a big feature map costs about as much as any other, so the math is arranged to
        # make as few as possible: sum, centre, sum of squares, normalise in place, scale, shift.
        xp, shape = self.xp, (1, -1) + (1,) * (x.ndim - 2)
        if training:
            count = x.size // x.shape[1]
            mean = self._channel_sum(x) / count
            xhat = x - mean.reshape(shape)
            var = self._channel_dot(xhat, xhat) / count
            m = self.momentum
            self.buffers["running_mean"] *= m
            self.buffers["running_mean"] += (1 - m) * mean
            self.buffers["running_var"] *= m
            self.buffers["running_var"] += ((1 - m) * count / max(count - 1, 1)) * var
            inv_std = 1 / xp.sqrt(var + self.eps)
            xhat *= inv_std.reshape(shape)  # centred -> normalised, in place
            self._x = None
            out = xhat * self.params["gamma"].reshape(shape)
            out += self.params["beta"].reshape(shape)
        else:
            # Fixed statistics: one affine map per channel; backward rebuilds xhat from x if it needs it.
            inv_std = 1 / xp.sqrt(self.buffers["running_var"] + self.eps)
            scale = self.params["gamma"] * inv_std
            out = x * scale.reshape(shape)
            out += (self.params["beta"] - self.buffers["running_mean"] * scale).reshape(shape)
            xhat, self._x = None, x
        self._xhat, self._inv_std, self._trained = xhat, inv_std, training
        return out

    def backward(self, grad_out: Any) -> Any:
        shape = (1, -1) + (1,) * (grad_out.ndim - 2)
        xhat = self._xhat
        if xhat is None:
            xhat = (self._x - self.buffers["running_mean"].reshape(shape)) * self._inv_std.reshape(shape)
        sum_g = self._channel_sum(grad_out)
        sum_g_xhat = self._channel_dot(grad_out, xhat)
        self.grads["gamma"][...] = sum_g_xhat
        self.grads["beta"][...] = sum_g
        scale = self.params["gamma"] * self._inv_std
        dx = grad_out * scale.reshape(shape)
        if not self._trained:  # fixed statistics: the layer is an affine map
            return dx
        # Batch statistics depend on every sample:
        # dx = gamma * inv_std * (g - mean(g) - xhat * mean(g * xhat)).
        count = grad_out.size // sum_g.size
        dx -= xhat * (scale * sum_g_xhat / count).reshape(shape)
        dx -= (scale * sum_g / count).reshape(shape)
        return dx

    def config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "eps": self.eps}
