"""2-D max and average pooling on NCHW batches, without loops over samples or pixels.

The k*k window elements are gathered once into a (k*k, N, C, Ho, Wo) array, one strided slice per window
offset, so every later operation (the max, the comparisons, the gradient products) runs on contiguous
memory, which is several times faster than working on strided views.  Max pooling routes each window's
gradient to its first maximum (row-major order), so exactly one input wins even when values tie (as
after a ReLU, where whole windows are zero).
"""
from __future__ import annotations

from typing import Any

from nnstudio.engine.layers.base import Layer, Shape, as_shape, positive_int


class Pool2D(Layer):
    """``mode`` "max" or "avg" over ``size`` x ``size`` windows every ``stride`` (default: ``size``) pixels."""

    type_name = "Pool2D"

    def __init__(self, mode: str = "max", size: int = 2, stride: int | None = None) -> None:
        super().__init__()
        if mode not in ("max", "avg"):
            raise ValueError(f'Pool2D: mode must be "max" or "avg". Received: mode={mode!r}')
        self.mode = mode
        self.size = positive_int(size, "Pool2D", "size")
        self.stride = self.size if stride is None else positive_int(stride, "Pool2D", "stride")
        self._stride_arg = stride
        self._windows: Any = None  # max mode: the gathered windows, to find each window's winner
        self._out: Any = None
        self._geometry: tuple[int, ...] = ()

    def output_shape(self, input_shape: Any) -> Shape:
        shape = as_shape(input_shape, "Pool2D")
        if len(shape) != 3:
            raise ValueError(f"Pool2D: expects an image input shaped (channels, height, width); received the "
                             f"shape {shape}")
        c, h, w = shape
        if self.size > h or self.size > w:
            raise ValueError(f"Pool2D: the window {self.size}x{self.size} is larger than the input {h}x{w}")
        return c, (h - self.size) // self.stride + 1, (w - self.size) // self.stride + 1

    def _offset_slices(self, ho: int, wo: int) -> list[tuple[slice, slice]]:
        """(rows, cols) of the input that window offset (i, j) reads, for every offset in row-major order."""
        k, s = self.size, self.stride
        return [(slice(i, i + s * (ho - 1) + 1, s), slice(j, j + s * (wo - 1) + 1, s))
                for i in range(k) for j in range(k)]

    def forward(self, x: Any, training: bool = False) -> Any:
        n, c, h, w = x.shape
        k, s = self.size, self.stride
        ho, wo = (h - k) // s + 1, (w - k) // s + 1
        self._geometry = (n, c, h, w, ho, wo)
        windows = self.xp.empty((k * k, n, c, ho, wo), dtype=x.dtype)
        for o, (rows, cols) in enumerate(self._offset_slices(ho, wo)):
            windows[o] = x[:, :, rows, cols]
        if self.mode == "avg":
            self._windows = self._out = None
            return windows.mean(axis=0)
        out = windows.max(axis=0)
        self._windows, self._out = windows, out
        return out

    def backward(self, grad_out: Any) -> Any:
        xp = self.xp
        n, c, h, w, ho, wo = self._geometry
        k, s = self.size, self.stride
        # Windows that tile the input (stride == size) write disjoint slices; otherwise they accumulate.
        tiling = s == k
        if tiling and ho * k == h and wo * k == w:
            dx = xp.empty((n, c, h, w), dtype=grad_out.dtype)
        else:
            dx = xp.zeros((n, c, h, w), dtype=grad_out.dtype)
        if self.mode == "avg":
            share = grad_out * (1.0 / (k * k))
        taken: Any = None
        for o, (rows, cols) in enumerate(self._offset_slices(ho, wo)):
            if self.mode == "avg":
                part = share
            else:
                wins = self._windows[o] == self._out
                if taken is None:
                    taken = wins
                else:
                    wins &= ~taken  # an earlier offset already holds this window's maximum
                    taken |= wins
                part = grad_out * wins
            if tiling:
                dx[:, :, rows, cols] = part
            else:
                dx[:, :, rows, cols] += part
        return dx

    def config(self) -> dict[str, Any]:
        return {"mode": self.mode, "size": self.size, "stride": self._stride_arg}
