"""Batch normalisation: normalise each channel (images) or feature (vectors) by the batch's statistics in
training and by running averages in evaluation, then scale by ``gamma`` and shift by ``beta``.

The running variance uses the unbiased batch variance (as PyTorch does), so exported models evaluate alike.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnstudio.engine.layers.base import Layer, Shape, as_shape
from nnstudio.engine.layers.layout import batch_view, channel_major, is_channel_major
from nnstudio.engine.parallel import each_part


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
        self._row_layout = False  # whether it worked on a channel-major batch as (C, H*W*N) rows

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
        # A channel-major batch (after a convolution, see .layout) is one contiguous row per channel.
        rows = self._rows(x) if training else None
        xp, shape = self.xp, (1, -1) + (1,) * (x.ndim - 2)
        if rows is not None:
            return self._forward_rows(x, rows)
        if training:
            count = x.size // x.shape[1]
            mean = self._channel_sum(x) / count
            xhat = x - mean.reshape(shape)
            var = self._channel_dot(xhat, xhat) / count
            self._update_running(mean, var, count)
            inv_std = 1 / xp.sqrt(var + self.eps)
            xhat *= inv_std.reshape(shape)  # centred -> normalised, in place
            self._x = None
            out = xhat * self.params["gamma"].reshape(shape)
            out += self.params["beta"].reshape(shape)
        else:
            # Fixed statistics: one affine map per channel (element-wise, so the batch keeps its layout);
            # backward rebuilds xhat from x if it needs it.
            inv_std = 1 / xp.sqrt(self.buffers["running_var"] + self.eps)
            scale = self.params["gamma"] * inv_std
            out = x * scale.reshape(shape)
            out += (self.params["beta"] - self.buffers["running_mean"] * scale).reshape(shape)
            xhat, self._x = None, x
        self._xhat, self._inv_std, self._trained = xhat, inv_std, training
        self._row_layout = False
        return out

    def _update_running(self, mean: Any, var: Any, count: int) -> None:
        m = self.momentum
        self.buffers["running_mean"] *= m
        self.buffers["running_mean"] += (1 - m) * mean
        self.buffers["running_var"] *= m
        self.buffers["running_var"] += ((1 - m) * count / max(count - 1, 1)) * var

    def _forward_rows(self, x: Any, rows: Any) -> Any:
        """Training forward of a channel-major batch, one contiguous (C, H*W*N) row per channel; the rows
        are normalised in parts (ranges of channels) on several threads."""
        xp = self.xp
        c, count = rows.shape
        xhat = xp.empty_like(rows)
        out = xp.empty_like(rows)
        mean = xp.empty(c, dtype=rows.dtype)
        var = xp.empty(c, dtype=rows.dtype)
        gamma, beta = self.params["gamma"], self.params["beta"]

        def part(a: int, b: int) -> None:
            xa, xh = rows[a:b], xhat[a:b]
            mean[a:b] = xa.sum(axis=1) / count
            xp.subtract(xa, mean[a:b, None], out=xh)
            var[a:b] = xp.einsum("cm,cm->c", xh, xh) / count
            xh *= (1 / xp.sqrt(var[a:b] + self.eps))[:, None]  # centred -> normalised, in place
            xp.multiply(xh, gamma[a:b, None], out=out[a:b])
            out[a:b] += beta[a:b, None]

        each_part(part, rows, c)
        self._update_running(mean, var, count)
        self._xhat, self._inv_std, self._trained = xhat, 1 / xp.sqrt(var + self.eps), True
        self._x, self._row_layout = None, True
        return self._unrows(out, x.shape)

    def _backward_rows(self, grad_out: Any) -> Any:
        """Backward of :meth:`_forward_rows`, in the same parts."""
        xp, xhat = self.xp, self._xhat
        c, count = xhat.shape
        g = channel_major(grad_out).reshape(c, -1)
        dx = xp.empty_like(xhat)
        gamma_grad, beta_grad = self.grads["gamma"], self.grads["beta"]
        scale = self.params["gamma"] * self._inv_std

        def part(a: int, b: int) -> None:
            ga, xh, d = g[a:b], xhat[a:b], dx[a:b]
            beta_grad[a:b] = ga.sum(axis=1)
            gamma_grad[a:b] = xp.einsum("cm,cm->c", ga, xh)
            # dx = gamma * inv_std * (g - mean(g) - xhat * mean(g * xhat)), without temporaries.
            xp.multiply(xh, (gamma_grad[a:b] / count)[:, None], out=d)
            d += (beta_grad[a:b] / count)[:, None]
            xp.subtract(ga, d, out=d)
            d *= scale[a:b, None]

        each_part(part, xhat, c)
        return self._unrows(dx, grad_out.shape)

    def backward(self, grad_out: Any) -> Any:
        if self._row_layout:
            return self._backward_rows(grad_out)
        xhat = self._xhat
        g, shape = grad_out, (1, -1) + (1,) * (grad_out.ndim - 2)
        if xhat is None:
            xhat = (self._x - self.buffers["running_mean"].reshape(shape)) * self._inv_std.reshape(shape)
        sum_g = self._channel_sum(g)
        sum_g_xhat = self._channel_dot(g, xhat)
        self.grads["gamma"][...] = sum_g_xhat
        self.grads["beta"][...] = sum_g
        scale = self.params["gamma"] * self._inv_std
        dx = g * scale.reshape(shape)
        if self._trained:
            # Batch statistics depend on every sample:
            # dx = gamma * inv_std * (g - mean(g) - xhat * mean(g * xhat)).
            count = grad_out.size // sum_g.size
            dx -= xhat * (scale * sum_g_xhat / count).reshape(shape)
            dx -= (scale * sum_g / count).reshape(shape)
        # (otherwise, with fixed statistics, the layer is an affine map)
        return dx

    @staticmethod
    def _rows(x: Any) -> Any:
        """A channel-major image batch as its (C, H*W*N) matrix of rows (a view), else None."""
        if is_channel_major(x):
            return x.transpose(1, 2, 3, 0).reshape(x.shape[1], -1)
        return None

    @staticmethod
    def _unrows(a: Any, shape: tuple[int, ...]) -> Any:
        """The (C, H*W*N) matrix ``a`` as the channel-major (N, C, H, W) batch it holds."""
        n, c, h, w = shape
        return batch_view(a.reshape(c, h, w, n))

    def config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "eps": self.eps}
