"""2-D max and average pooling on NCHW batches, without loops over samples or pixels.

Windows are kh x kw, every (sh, sw) pixels, over the input with ph rows and pw columns of padding on each
side (as ONNX's symmetric ``pads`` and PyTorch's ``padding``).  Max pooling pads with -inf, so padding never
wins; average pooling divides each window by the number of real pixels under it (ONNX's default
``count_include_pad=0``, PyTorch's ``count_include_pad=False``).  The padding may be at most half a window,
so every window holds at least one real pixel.

The kh*kw window elements are gathered once into a (kh*kw, C, Ho, Wo, N) array for a channel-major batch
(after a convolution, see :mod:`.layout`) or a (kh*kw, N*C, Ho, Wo, 1) array for an ordinary one, one
strided slice per window offset, so every later operation (the max, the comparisons, the gradient products) runs on contiguous
memory, which is several times faster than working on strided views.  Max pooling routes each window's
gradient to its first maximum (row-major order), so exactly one input wins even when values tie (as
after a ReLU, where whole windows are zero).

Max pooling without padding of a channel-major batch skips the gathering: it takes the maxima of the window
offsets' strided views directly (their runs of N samples are contiguous already) and records each window's
winning offset in one byte for backward (:meth:`Pool2D._max_of_views`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnstudio.engine.layers.base import Layer, Shape, as_shape, positive_int
from nnstudio.engine.layers.layout import batch_view, channel_major, is_channel_major
from nnstudio.engine.parallel import MIN_VALUES, each_part
from nnstudio.i18n import _


def _pair(value: Any, field: str, *, allow_zero: bool = False) -> tuple[int, int]:
    """One integer or two (height, width) -> (h, w); ValueError naming ``field`` otherwise."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"Pool2D: {field} must be one integer or two (height, width). "
                             f"Received: {field}={list(value)}")
        items = list(value)
    else:
        items = [value, value]
    if allow_zero:
        out = []
        for v in items:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"Pool2D: {field} must be a non-negative integer or two of them (height, width). "
                                 f"Received: {field}={value!r}")
            out.append(int(v))
        return out[0], out[1]
    return positive_int(items[0], "Pool2D", field), positive_int(items[1], "Pool2D", field)


def _compact(pair: tuple[int, int]) -> int | list[int]:
    """(3, 3) -> 3 and (3, 2) -> [3, 2]: how sizes are written in configs and documents."""
    return pair[0] if pair[0] == pair[1] else [pair[0], pair[1]]


class Pool2D(Layer):
    """``mode`` "max" or "avg" over ``size`` windows (k or (kh, kw)) every ``stride`` (default: the window)
    pixels, with ``padding`` (p or (ph, pw)) rows and columns added on each side."""

    type_name = "Pool2D"

    def __init__(self, mode: str = "max", size: Any = 2, stride: Any = None, padding: Any = 0) -> None:
        super().__init__()
        if mode not in ("max", "avg"):
            raise ValueError(f'Pool2D: mode must be "max" or "avg". Received: mode={mode!r}')
        self.mode = mode
        self.kernel = _pair(size, "size")
        self.strides = self.kernel if stride is None else _pair(stride, "stride")
        self.padding = _pair(padding, "padding", allow_zero=True)
        for axis, (p, k) in enumerate(zip(self.padding, self.kernel)):
            if p > k // 2:
                raise ValueError(f"Pool2D: padding can be at most half the window ({k // 2} for a window "
                                 f"{'height' if axis == 0 else 'width'} of {k}). Received: padding={padding!r}")
        self._stride_arg = stride
        self._windows: Any = None  # max mode: the gathered windows, to find each window's winner
        self._out: Any = None
        self._inv_count: Any = None  # avg mode with padding: 1 / real pixels per window, shape (Ho, Wo)
        self._geometry: tuple[int, ...] = ()
        self._input: Any = None  # a forward pass outside training that took no windows: its input, for backward
        self._winner: Any = None  # after a forward pass by views: each window's winning offset, (C, Ho, Wo, N)
        self._channel_major = False  # whether the last forward's batch was channel-major (see .layout)
        self._slices: dict[tuple[int, int], list[tuple[slice, slice]]] = {}  # _offset_slices per output size

    # Square windows read as one number (pytorch export, faces, older code).
    @property
    def size(self) -> int | list[int]:
        return _compact(self.kernel)

    @property
    def stride(self) -> int | list[int]:
        return _compact(self.strides)

    def _out_hw(self, h: int, w: int) -> tuple[int, int]:
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.strides, self.padding
        return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1

    def output_shape(self, input_shape: Any) -> Shape:
        shape = as_shape(input_shape, "Pool2D")
        if len(shape) != 3:
            raise ValueError("Pool2D: " + _("expects an image input shaped (channels, height, width); received the "
                                            "shape {shape}").format(shape=shape))
        c, h, w = shape
        (kh, kw), (ph, pw) = self.kernel, self.padding
        if kh > h + 2 * ph or kw > w + 2 * pw:
            padded = _(" (padded to {size})").format(size=f"{h + 2 * ph}x{w + 2 * pw}") if ph or pw else ""
            raise ValueError("Pool2D: " + _("the window {window} is larger than the input {size}{padded}").format(
                window=f"{kh}x{kw}", size=f"{h}x{w}", padded=padded))
        ho, wo = self._out_hw(h, w)
        return c, ho, wo

    def _offset_slices(self, ho: int, wo: int) -> list[tuple[slice, slice]]:
        """(rows, cols) of the padded input that window offset (i, j) reads, for every offset, row-major."""
        cached = self._slices.get((ho, wo))
        if cached is None:
            (kh, kw), (sh, sw) = self.kernel, self.strides
            cached = [(slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw))
                      for i in range(kh) for j in range(kw)]
            self._slices[(ho, wo)] = cached
        return cached

    def _window_counts(self, h: int, w: int, ho: int, wo: int) -> np.ndarray:
        """Real (unpadded) pixels under each output window: rows covered x columns covered."""
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.strides, self.padding
        top = np.arange(ho) * sh - ph
        left = np.arange(wo) * sw - pw
        rows = np.minimum(top + kh, h) - np.maximum(top, 0)
        cols = np.minimum(left + kw, w) - np.maximum(left, 0)
        return np.outer(rows, cols)

    def _grid(self, x: Any) -> Any:
        """``x`` as a contiguous (A, H, W, B) array whose middle axes are the image: (C, H, W, N) for a
        channel-major batch (a view), (N*C, H, W, 1) for an ordinary one."""
        n, c, h, w = x.shape
        if self._channel_major:
            return channel_major(x)
        return self.xp.ascontiguousarray(x).reshape(n * c, h, w, 1)

    def _batch(self, a: Any) -> Any:
        """The (A, Ho, Wo, B) grid ``a`` back as an (N, C, Ho, Wo) batch, in the layout the input had."""
        if self._channel_major:
            return batch_view(a)
        n, c = self._geometry[:2]
        return a.reshape(n, c, a.shape[1], a.shape[2])

    def forward(self, x: Any, training: bool = False) -> Any:
        if not training and self._tiles(x):
            return self._max_of_tiles(x)
        self._input = None
        if self._by_views(x):
            return self._max_of_views(x, training)
        return self._gather(x)

    def _by_views(self, x: Any) -> bool:
        """Whether max pooling without padding reads the windows of ``x``, a channel-major NumPy batch, as
        strided views instead of gathering them: see :meth:`_max_of_views`."""
        return (self.mode == "max" and self.padding == (0, 0) and isinstance(x, np.ndarray)
                and is_channel_major(x))

    def _max_of_views(self, x: Any, training: bool) -> Any:
        """Max pooling of a channel-major batch straight from the window offsets' strided views of it.

        In the (C, H, W, N) layout each view still reads runs of N contiguous values, so the element-wise
        maxima of the views run about as fast as on gathered windows, without writing a copy the size of the
        input.  In training, each window's winning offset is recorded as it goes (one byte per output value),
        and backward only needs that, not the input.  Outside training only the maxima are taken, and the
        input is kept in case a backward pass follows (a saliency map): it gathers the windows then.

        mnist-cnn's training step, its first pooling (16 maps of 28 x 28, batch 64), median ms in the step
        (two runs): forward 1.54-1.84 and backward 1.27-1.45 against 1.56-1.84 and 1.80-2.12 gathered.  Kept
        input instead (backward comparing the views with the output again) was 1.1-1.7 ms slower there: the
        strided reads of an input long out of the cache."""
        n, c, h, w = x.shape
        ho, wo = self._out_hw(h, w)
        self._geometry = (n, c, h, w, ho, wo)
        self._channel_major = True
        grid = channel_major(x)
        views = [grid[:, rows, cols, :] for rows, cols in self._offset_slices(ho, wo)]
        out = np.empty((c, ho, wo, n), dtype=x.dtype)

        if not training:
            def maxima(lo: int, hi: int) -> None:  # channels lo:hi
                o = out[lo:hi]
                o[...] = views[0][lo:hi]
                for view in views[1:]:
                    np.maximum(o, view[lo:hi], out=o)

            each_part(maxima, grid, c)
            self._input, self._winner, self._out, self._windows = x, None, None, None
            return batch_view(out)
        index = np.uint8 if len(views) < 256 else np.uint32
        winner = np.empty((c, ho, wo, n), dtype=index)

        def part(lo: int, hi: int) -> None:  # channels lo:hi
            o, win = out[lo:hi], winner[lo:hi]
            if len(views) == 1:
                o[...] = views[0][lo:hi]
                win.fill(0)
                return
            later = np.empty(o.shape, dtype=bool)
            mark = np.empty(o.shape, dtype=index)
            first, second = views[0][lo:hi], views[1][lo:hi]
            # Strictly greater: on a tie the earlier offset keeps the window.  The winner is the last offset
            # that beat all the earlier ones, so the largest k * later.
            np.greater(second, first, out=later)
            np.maximum(first, second, out=o)
            np.copyto(win, later)
            for k, view in enumerate(views[2:], 2):
                v = view[lo:hi]
                np.greater(v, o, out=later)
                np.maximum(o, v, out=o)
                np.multiply(later, index(k), out=mark)
                np.maximum(win, mark, out=win)

        each_part(part, grid, c)
        self._winner, self._out, self._windows, self._inv_count = winner, out, None, None
        return batch_view(out)

    def _tiles(self, x: Any) -> bool:
        """Whether ``x`` is a small ordinary batch that max pooling with windows tiling it (stride = window,
        no padding) can take straight from strided views: see :meth:`_max_of_tiles`."""
        (kh, kw), (ph, pw) = self.kernel, self.padding
        return (self.mode == "max" and self.strides == self.kernel and not (ph or pw) and x.ndim == 4
                and x.shape[2] % kh == 0 and x.shape[3] % kw == 0 and x.size < MIN_VALUES
                and isinstance(x, np.ndarray) and x.flags.c_contiguous)

    def _max_of_tiles(self, x: Any) -> Any:
        """Max pooling of a small batch outside training: the maximum of the window offsets' strided views,
        kh*kw - 1 element-wise maxima, instead of gathering the windows first (one image through LeNet-5, with
        ReLU's own shortcut: 0.85x the time).  The windows a backward pass needs (a saliency map) are gathered
        then, from the input kept here."""
        n, c, h, w = x.shape
        kh, kw = self.kernel
        tiles = x.reshape(n, c, h // kh, kh, w // kw, kw)
        views = [tiles[:, :, :, i, :, j] for i in range(kh) for j in range(kw)]
        if len(views) == 1:
            out = views[0].copy()
        else:
            out = np.maximum(views[0], views[1])
            for view in views[2:]:
                np.maximum(out, view, out=out)
        self._input, self._windows, self._out, self._winner = x, None, None, None
        return out

    def _gather(self, x: Any) -> Any:
        """The pooling through the gathered windows (kept for backward)."""
        xp = self.xp
        n, c, h, w = x.shape
        (kh, kw), (ph, pw) = self.kernel, self.padding
        ho, wo = self._out_hw(h, w)
        self._geometry = (n, c, h, w, ho, wo)
        self._winner = None
        # Work in the layout the batch comes in: a channel-major one (after a convolution) keeps the
        # sample axis innermost, so every window slice below copies runs of N contiguous values.
        self._channel_major = is_channel_major(x)
        grid = self._grid(x)
        a, b = grid.shape[0], grid.shape[3]
        offsets = self._offset_slices(ho, wo)
        windows = xp.empty((kh * kw, a, ho, wo, b), dtype=x.dtype)
        out = xp.empty((a, ho, wo, b), dtype=x.dtype)
        if self.mode == "avg" and (ph or pw):
            self._inv_count = xp.asarray(1.0 / self._window_counts(h, w, ho, wo)[:, :, None], dtype=x.dtype)
        else:
            self._inv_count = None

        def part(lo: int, hi: int) -> None:  # grid rows lo:hi (channels, or samples x channels)
            src = grid[lo:hi]
            if ph or pw:
                fill = -np.inf if self.mode == "max" else 0.0
                src = xp.full((hi - lo, h + 2 * ph, w + 2 * pw, b), fill, dtype=x.dtype)
                src[:, ph:ph + h, pw:pw + w, :] = grid[lo:hi]
            for o, (rows, cols) in enumerate(offsets):
                windows[o, lo:hi] = src[:, rows, cols, :]
            if self.mode == "max":
                windows[:, lo:hi].max(axis=0, out=out[lo:hi])
            elif self._inv_count is not None:
                windows[:, lo:hi].sum(axis=0, out=out[lo:hi])
                out[lo:hi] *= self._inv_count
            else:
                windows[:, lo:hi].mean(axis=0, out=out[lo:hi])

        each_part(part, windows, a)
        if self.mode == "avg":
            self._windows = self._out = None
        else:
            self._windows, self._out = windows, out
        return self._batch(out)

    def backward(self, grad_out: Any) -> Any:
        xp = self.xp
        if self._input is not None:  # the forward pass took the shortcut: gather its windows now
            self._gather(self._input)
            self._input = None
        if self._winner is not None:
            return self._backward_by_views(grad_out)
        n, c, h, w, ho, wo = self._geometry
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.strides, self.padding
        hp, wp = h + 2 * ph, w + 2 * pw
        g = self._grid(grad_out)
        a, b = g.shape[0], g.shape[3]
        # Windows that tile the input (stride == window) write disjoint slices; otherwise they accumulate.
        tiling = (sh, sw) == (kh, kw)
        if tiling and not (ph or pw) and ho * kh == h and wo * kw == w:
            dx = xp.empty((a, hp, wp, b), dtype=grad_out.dtype)
        else:
            dx = xp.zeros((a, hp, wp, b), dtype=grad_out.dtype)
        offsets = self._offset_slices(ho, wo)
        scale = self._inv_count if self._inv_count is not None else 1.0 / (kh * kw)

        def part(lo: int, hi: int) -> None:  # grid rows lo:hi, as in forward
            gp, dxp = g[lo:hi], dx[lo:hi]
            if self.mode == "avg":
                share = gp * scale
            else:
                windows, out = self._windows[:, lo:hi], self._out[lo:hi]
                wins = xp.empty(out.shape, dtype=bool)
                free: Any = None  # windows whose maximum no earlier offset holds
            last = len(offsets) - 1
            for o, (rows, cols) in enumerate(offsets):
                target = dxp[:, rows, cols, :]
                if self.mode == "avg":
                    if tiling:
                        target[...] = share
                    else:
                        target += share
                    continue
                xp.equal(windows[o], out, out=wins)
                if free is None:
                    free = xp.logical_not(wins) if last else None
                else:
                    xp.logical_and(wins, free, out=wins)  # only windows no earlier offset holds
                    if o < last:
                        xp.logical_xor(free, wins, out=free)  # wins lies within free: this takes them out
                if tiling:
                    xp.multiply(gp, wins, out=target)
                else:
                    target += gp * wins

        each_part(part, dx, a)
        if ph or pw:
            dx = xp.ascontiguousarray(dx[:, ph:ph + h, pw:pw + w, :])
        return self._batch(dx)

    def _backward_by_views(self, grad_out: Any) -> Any:
        """The backward pass of :meth:`_max_of_views`: each window's gradient goes to the offset recorded as
        its winner."""
        n, c, h, w, ho, wo = self._geometry
        (kh, kw), (sh, sw) = self.kernel, self.strides
        winner = self._winner
        g = channel_major(grad_out)
        offsets = self._offset_slices(ho, wo)
        tiling = (sh, sw) == (kh, kw)
        covered = tiling and ho * kh == h and wo * kw == w  # the views write every input element once
        shape = (c, h, w, n)
        dx = np.empty(shape, dtype=grad_out.dtype) if covered else np.zeros(shape, grad_out.dtype)

        def part(lo: int, hi: int) -> None:  # channels lo:hi
            win, gp, dxp = winner[lo:hi], g[lo:hi], dx[lo:hi]
            wins = np.empty(win.shape, dtype=bool)
            for k, (rows, cols) in enumerate(offsets):
                np.equal(win, k, out=wins)
                target = dxp[:, rows, cols, :]
                if tiling:
                    np.multiply(gp, wins, out=target)
                else:
                    target += gp * wins

        each_part(part, dx, c)
        return batch_view(dx)

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"mode": self.mode, "size": self.size, "stride": self._stride_arg}
        if self.padding != (0, 0):
            config["padding"] = _compact(self.padding)
        return config
