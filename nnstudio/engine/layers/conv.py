"""2-D convolution (cross-correlation, as every framework computes it) on NCHW batches, as one GEMM.

Forward: copy the batch into a cached, zero-bordered (C, Hp, Wp, N) buffer (a plain copy when the batch is
channel-major already, see :mod:`.layout`; no copy at all when it also needs no padding), view the sliding
windows as a strided view (no copy), lay them out once as columns (C*kh*kw, Ho*Wo*N) and multiply by the
(F, C*kh*kw) weight matrix: one GEMM, whose (F, Ho, Wo, N) result is handed on as a channel-major batch,
uncopied.  Backward: the weight gradient and the column gradient are one GEMM
each; the input gradient scatters the column gradient back with one strided add per kernel offset (kh*kw
adds over whole tensors, never a loop over samples or pixels).  Keeping the sample axis innermost makes
every copy and add move long contiguous runs, which is what makes NumPy fast here.

A layer that needs no input gradient (fed by the network input) can make its columns a few output rows at a
time instead, in a small buffer that stays in the cache, and again in backward for the weight gradient
(see ``_ROW_CHUNK_VALUES``): the same products, one chunk of columns at a time.  Which way is faster depends on
the machine, so such a layer times both in its first training steps and keeps the faster (:class:`RowsOrWhole`),
timing them again now and then.
"""
from __future__ import annotations

import math
import statistics
import time
from functools import lru_cache
from typing import Any

import numpy as np

from nnstudio.engine import threads
from nnstudio.engine.init import check_init_name, initialize
from nnstudio.engine.layers.base import Layer, Shape, as_shape, positive_int
from nnstudio.engine.layers.layout import batch_view, channel_major, is_channel_major
from nnstudio.engine.parallel import each_part
from nnstudio.i18n import _


def _pair(value: Any, field: str) -> tuple[int, int]:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"Conv2D: {field} must be one integer or two (height, width). "
                             f"Received: {field}={list(value)}")
        return positive_int(value[0], "Conv2D", field), positive_int(value[1], "Conv2D", field)
    v = positive_int(value, "Conv2D", field)
    return v, v


def _padding(value: Any) -> str | tuple[int, int]:
    if isinstance(value, str):
        if value.lower() in ("same", "valid"):
            return value.lower()
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0 for v in value):
            return int(value[0]), int(value[1])
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0:
        return int(value), int(value)
    raise ValueError('Conv2D: padding must be a non-negative integer, two of them (height, width), "same" or '
                     f'"valid". Received: padding={value!r}')


_CHUNK_TARGET = 4096  # columns per chunk when the weight-gradient GEMM is split

# A convolution that needs no input gradient (one fed by the network input: the first layer of nearly every
# image network) need not make its whole column matrix.  It can make the columns of a few output rows at a
# time into a small buffer, multiply them while they are still in the cache, and make them again in backward
# for the weight gradient: the columns of mnist-cnn's first layer are 5 MB, written to memory and read back
# twice a step otherwise.  Whether that pays depends on the machine.  On one 2-core machine, whole training
# steps this way against the whole matrix, alternated in one process (median ratio of ten pairs, three runs):
# LeNet-5 0.85x, 0.88x and 0.94x the time, mnist-cnn 0.91x, 0.96x and 0.96x, captcha-cnn 0.98x and 0.98x.
# On a slower machine of the same kind the same comparison (forty pairs, two runs) gave mnist-cnn 1.15x the
# time (its first layer 7.0 ms a step against 3.6-4.4 ms whole: its 28 small products on two threads), LeNet-5
# 1.00x and captcha-cnn 1.05x.  So such a layer times both ways in its first training steps at each batch
# shape and thread count (:class:`RowsOrWhole`) and keeps the faster.  Chunks of one output row (25 x 1792
# values for mnist-cnn) were fastest on the first machine; two rows or more lost most of the gain there.  One
# output row's columns can outgrow the cache on their own (big evaluation batches: 25 x 14000 values at batch
# 500); such layers always make the whole matrix (one measurement of mnist-cnn's forward at batch 500: 47 ms
# whole against 52 ms by rows).
_ROW_CHUNK_VALUES = 1 << 15  # column values per chunk (at least one output row's)
_ROW_MAX_VALUES = 1 << 17  # one output row's columns may be at most this many values
_ROWS_MIN_VALUES = 1 << 19  # below this many column values the whole matrix is made, as for other layers


def _by_rows(c: int, kh: int, kw: int, ho: int, wo: int, n: int) -> bool:
    """Whether a convolution that needs no input gradient may make its columns a few output rows at a time."""
    row = c * kh * kw * wo * n
    return row <= _ROW_MAX_VALUES and row * ho >= _ROWS_MIN_VALUES


_clock = time.perf_counter


class RowsOrWhole:
    """Which way one layer makes its columns, by rows or whole, per (input shape, thread count): the faster of
    the two in :data:`TIMED` training steps each (forward and backward of this layer), taken in turn after a
    first untimed step each (buffers are allocated then).  A decision is timed again after :data:`RECHECK`
    training steps of its shape, then four times as many each time (up to :data:`MAX_RECHECK`), so one made
    while something else briefly held the CPU does not stay.  Until a shape is decided, forward passes outside
    training take the way last decided for any shape, or rows.  ``fixed`` (True: rows, False: whole) skips the
    timing and always takes that way."""

    TIMED = 5
    RECHECK = 250
    MAX_RECHECK = 16000

    def __init__(self) -> None:
        self.samples: dict[Any, dict[bool, list[float]]] = {}
        self.decided: dict[Any, bool] = {}
        self.latest: bool | None = None  # the last decision, for shapes not decided yet
        self.fixed: bool | None = None
        self._since: dict[Any, int] = {}  # training steps since the decision
        self._recheck: dict[Any, int] = {}  # ... after which it is timed again

    def by_rows(self, key: Any, training: bool) -> tuple[bool, bool]:
        """(whether to go by rows, whether this call is to be timed)."""
        if self.fixed is not None:
            return self.fixed, False
        if key in self.decided:
            if not training:
                return self.decided[key], False
            self._since[key] += 1
            if self._since[key] <= self._recheck.setdefault(key, self.RECHECK):
                return self.decided[key], False
            self._recheck[key] = min(4 * self._recheck[key], self.MAX_RECHECK)
            del self.decided[key]  # time both ways again
        elif not training:
            return (True if self.latest is None else self.latest), False
        seen = self.samples.setdefault(key, {True: [], False: []})
        rows = len(seen[True]) <= len(seen[False])  # in turn, rows first
        return rows, True

    def record(self, key: Any, rows: bool, seconds: float) -> None:
        """A timed step of ``key`` the ``rows`` way took ``seconds``; decide once both ways have enough."""
        seen = self.samples.get(key)
        if seen is None or key in self.decided:
            return
        seen[rows].append(seconds)
        if min(len(seen[True]), len(seen[False])) > self.TIMED:
            # The first step of each way was its warm-up.
            rows_time, whole_time = (statistics.median(seen[way][1:]) for way in (True, False))
            self.decided[key] = self.latest = rows_time < whole_time
            self._since[key] = 0
            del self.samples[key]


@lru_cache(maxsize=256)
def _chunk_count(columns: int) -> int:
    """How many equal chunks to split ``columns`` into: the divisor nearest columns / _CHUNK_TARGET."""
    if columns < 4 * _CHUNK_TARGET:
        return 1
    wanted = columns / _CHUNK_TARGET
    best = 1
    for d in range(1, math.isqrt(columns) + 1):
        if columns % d == 0:
            for candidate in (d, columns // d):
                if abs(candidate - wanted) < abs(best - wanted):
                    best = candidate
    return best


def _strided(xp: Any, a: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    """A read-only view of the C-contiguous array ``a`` with ``shape`` and ``strides`` (bytes).  For NumPy
    this builds the array directly on ``a``'s memory: ``as_strided`` takes about 5 us a call, a quarter of
    one convolution's bookkeeping for a single image."""
    if xp is np:
        view = np.ndarray(shape, a.dtype, buffer=a, strides=strides)
        view.flags.writeable = False
        return view
    return xp.lib.stride_tricks.as_strided(a, shape=shape, strides=strides)


class Conv2D(Layer):
    """``filters`` kernels of ``kernel_size`` over (C, H, W) samples.  ``W`` is (F, C, kh, kw), ``b`` is (F,).

    ``padding="same"`` gives an output of ceil(H / stride) x ceil(W / stride); when the total padding is odd
    the extra row/column goes at the bottom/right (as TensorFlow does).
    """

    type_name = "Conv2D"

    def __init__(self, filters: int, kernel_size: Any = 3, stride: Any = 1, padding: Any = 0,
                 init: str = "he", use_bias: bool = True) -> None:
        super().__init__()
        self.filters = positive_int(filters, "Conv2D", "filters")
        self.kernel = _pair(kernel_size, "kernel_size")
        self.strides = _pair(stride, "stride")
        self.pad_spec = _padding(padding)
        self.init = check_init_name(init, "Conv2D")
        self.use_bias = bool(use_bias)
        self._config = {"filters": self.filters, "kernel_size": kernel_size, "stride": stride,
                        "padding": padding, "init": self.init, "use_bias": self.use_bias}
        self._pad_buffer: Any = None
        # Work buffers reused from step to step while the batch shape stays the same: fresh arrays this
        # size (tens of MB for a big image) cost more in page faults than the copy that fills them.
        self._col_buffer: Any = None
        self._dcol_buffer: Any = None
        self._grad_buffer: Any = None
        self._dxpad_buffer: Any = None
        self._cols: Any = None
        self._windows: Any = None  # the input's windows, when the columns are made a few rows at a time
        self._row_buffer: Any = None  # the columns of those few rows
        self._rows = 0  # output rows per chunk
        self._geometry: tuple[int, ...] = ()
        self.rows_or_whole = RowsOrWhole()
        self._timing: list[Any] | None = None  # [key, by rows, seconds so far] of a timed training step

    # -- shapes ----------------------------------------------------------------------------------
    def pads(self, h: int, w: int) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) padding for an h x w input."""
        if self.pad_spec == "valid":
            return 0, 0, 0, 0
        if self.pad_spec == "same":
            (kh, kw), (sh, sw) = self.kernel, self.strides
            total_h = max((math.ceil(h / sh) - 1) * sh + kh - h, 0)
            total_w = max((math.ceil(w / sw) - 1) * sw + kw - w, 0)
            return total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2
        ph, pw = self.pad_spec
        return ph, ph, pw, pw

    def output_shape(self, input_shape: Any) -> Shape:
        shape = as_shape(input_shape, "Conv2D")
        if len(shape) != 3:
            raise ValueError("Conv2D: " + _("expects an image input shaped (channels, height, width); received the "
                                            "shape {shape}. Add a Reshape before it (e.g. to [1, 28, 28]).").format(
                shape=shape))
        _channels, h, w = shape
        top, bottom, left, right = self.pads(h, w)
        hp, wp = h + top + bottom, w + left + right
        (kh, kw), (sh, sw) = self.kernel, self.strides
        if kh > hp or kw > wp:
            raise ValueError("Conv2D: " + _("the kernel {kernel} is larger than the padded input {padded} (input "
                                            "{size}); use a smaller kernel_size or more padding").format(
                kernel=f"{kh}x{kw}", padded=f"{hp}x{wp}", size=f"{h}x{w}"))
        return self.filters, (hp - kh) // sh + 1, (wp - kw) // sw + 1

    # -- construction ----------------------------------------------------------------------------
    def param_shapes(self, input_shape: Any) -> dict[str, Shape]:
        channels = self.output_shape(input_shape) and as_shape(input_shape, "Conv2D")[0]
        kh, kw = self.kernel
        return {"W": (self.filters, channels, kh, kw), **({"b": (self.filters,)} if self.use_bias else {})}

    def _build(self, input_shape: Any, rng: np.random.Generator) -> None:
        self.output_shape(input_shape)
        channels = input_shape[0]
        kh, kw = self.kernel
        fan_in, fan_out = channels * kh * kw, self.filters * kh * kw
        w = initialize(self.init, (self.filters, channels, kh, kw), fan_in, fan_out, rng)
        self.params["W"] = self._to_xp(w)
        if self.use_bias:
            self.params["b"] = self._to_xp(np.zeros(self.filters))

    # -- computation -----------------------------------------------------------------------------
    def _padded(self, x: Any, top: int, bottom: int, left: int, right: int) -> Any:
        """``x`` as (C, Hp, Wp, N), zero-padded, in a buffer reused while the batch shape stays the same."""
        n, c, h, w = x.shape
        shape = (c, h + top + bottom, w + left + right, n)
        buf = self._pad_buffer
        if buf is None or buf.shape != shape or buf.dtype != x.dtype:
            buf = self._pad_buffer = self.xp.zeros(shape, dtype=x.dtype)
        src = x.transpose(1, 2, 3, 0)

        def rows(a: int, b: int) -> None:  # the border stays zero
            buf[:, top + a:top + b, left:left + w, :] = src[:, a:b]

        each_part(rows, buf, h)
        return buf

    def forward(self, x: Any, training: bool = False) -> Any:
        xp = self.xp
        n, c, h, w = x.shape
        top, bottom, left, right = self.pads(h, w)
        xpad = x.transpose(1, 2, 3, 0)  # the (C, H, W, N) the windows are read from, when laid out so already
        if top or bottom or left or right or not xpad.flags.c_contiguous:
            xpad = self._padded(x, top, bottom, left, right)
        (kh, kw), (sh, sw) = self.kernel, self.strides
        ho = (xpad.shape[1] - kh) // sh + 1
        wo = (xpad.shape[2] - kw) // sw + 1
        s_c, s_h, s_w, s_n = xpad.strides
        windows = _strided(xp, xpad, (c, kh, kw, ho, wo, n), (s_c, s_h, s_w, s_h * sh, s_w * sw, s_n))
        self._geometry = (n, c, h, w, ho, wo, top, left)
        self._timing = None
        if xp is np and not self.needs_input_grad and _by_rows(c, kh, kw, ho, wo, n):
            key = (x.shape, threads.current())
            rows, timed = self.rows_or_whole.by_rows(key, training)
            started = _clock() if timed else 0.0
            out = self._forward_by_rows(windows) if rows else self._forward_whole(windows, training)
            if timed:
                self._timing = [key, rows, _clock() - started]
            return out
        return self._forward_whole(windows, training)

    def _forward_whole(self, windows: Any, training: bool) -> Any:
        """The forward pass as one product of the whole column matrix (kept for backward when training)."""
        xp = self.xp
        ho, wo, n = windows.shape[3:]
        self._windows = None
        cols = self._cols = self._whole_columns(windows, keep=training)
        out = self.params["W"].reshape(self.filters, -1) @ cols  # (F, Ho*Wo*N)
        if self.use_bias:
            bias = self.params["b"][:, None]
            each_part(lambda a, b: xp.add(out[a:b], bias[a:b], out=out[a:b]), out, self.filters)
        return batch_view(out.reshape(self.filters, ho, wo, n))  # (N, F, Ho, Wo), channel-major

    def _row_chunks(self, windows: Any) -> Any:
        """(start, stop, columns) for each chunk of output rows, the columns made into the reused buffer."""
        c, kh, kw, ho, wo, n = windows.shape
        per_row = wo * n
        rows = self._rows = max(1, min(ho, _ROW_CHUNK_VALUES // (c * kh * kw * per_row)))
        shape = (c * kh * kw, rows * per_row)
        buf = self._row_buffer
        if buf is None or buf.shape != shape or buf.dtype != windows.dtype:
            buf = self._row_buffer = np.empty(shape, dtype=windows.dtype)
        for y0 in range(0, ho, rows):
            y1 = min(ho, y0 + rows)
            cols = buf[:, :(y1 - y0) * per_row]
            np.copyto(cols.reshape(c, kh, kw, y1 - y0, wo, n), windows[:, :, :, y0:y1])
            yield y0 * per_row, y1 * per_row, cols

    def _forward_by_rows(self, windows: Any) -> Any:
        """The forward pass a few output rows at a time (see _ROW_CHUNK_VALUES); backward makes the columns
        again from ``windows``, a view of the input (or of the padded copy this layer keeps)."""
        c, kh, kw, ho, wo, n = windows.shape
        f = self.filters
        weights = self.params["W"].reshape(f, -1)
        bias = self.params["b"][:, None] if self.use_bias else None
        out = np.empty((f, ho * wo * n), dtype=windows.dtype)
        for a, b, cols in self._row_chunks(windows):
            part = out[:, a:b]
            np.matmul(weights, cols, out=part)
            if bias is not None:
                part += bias
        self._windows, self._cols = windows, None
        return batch_view(out.reshape(f, ho, wo, n))

    def _whole_columns(self, windows: Any, keep: bool) -> Any:
        """The one copy: all the columns (C*kh*kw, Ho*Wo*N) of ``windows``, into the buffer the layer keeps
        when ``keep`` (training; evaluation at another batch size, a big one, does not keep its columns).
        The sample axis is innermost, so both this copy and the col2im adds in backward move long contiguous
        runs instead of rows of Wo pixels."""
        xp = self.xp
        c, kh, kw, ho, wo, n = windows.shape
        shape = (c * kh * kw, ho * wo * n)
        cols = self._col_buffer
        if cols is None or cols.shape != shape or cols.dtype != windows.dtype:
            cols = xp.empty(shape, dtype=windows.dtype)
            if keep:
                self._col_buffer = cols
        cols6 = cols.reshape(windows.shape)
        # Split by channels; a one-channel input (the first layer) is copied whole: cut along the kernel's
        # rows, its parts ran while OpenBLAS's threads still spun after the last step's products, and the
        # forward of LeNet-5's first convolution took 1.2-1.4 ms against 1.05 ms whole.
        each_part(lambda a, b: xp.copyto(cols6[a:b], windows[a:b]), cols, c)
        return cols

    def backward(self, grad_out: Any) -> Any:
        timing, self._timing = self._timing, None
        if timing is None:
            return self._backward(grad_out)
        started = _clock()
        dx = self._backward(grad_out)
        key, rows, seconds = timing
        choice = self.rows_or_whole
        choice.record(key, rows, seconds + _clock() - started)
        if choice.decided.get(key) is False:  # the whole matrix: the chunk buffer is not wanted any more
            self._row_buffer = None
        elif choice.decided.get(key):  # by rows: neither is the whole matrix's
            self._col_buffer = None
        return dx

    def _backward(self, grad_out: Any) -> Any:
        xp = self.xp
        n, c, h, w, ho, wo, top, left = self._geometry
        (kh, kw), (sh, sw) = self.kernel, self.strides
        f = self.filters
        if is_channel_major(grad_out):
            g = grad_out.transpose(1, 2, 3, 0)
        else:
            g = channel_major(grad_out, self._buffer("_grad_buffer", (f, ho, wo, n), grad_out.dtype))
        g = g.reshape(f, ho * wo * n)
        if self.use_bias:
            g.sum(axis=1, out=self.grads["b"])
        if self._windows is not None:  # the forward pass went a few rows at a time
            if not self.needs_input_grad:
                self._weight_grads_by_rows(g)
                return None
            # An input gradient asked for after a forward pass by rows (a saliency map): all the columns now.
            self._cols = self._whole_columns(self._windows, keep=False)
        # The weight gradient is computed transposed, cols (K, M) @ g.T (M, F) -> (K, F): OpenBLAS runs that
        # orientation 10-45 % faster for the short, wide matrices a convolution makes.
        chunks = _chunk_count(ho * wo * n)
        if chunks == 1:
            wgrad_t = self._cols @ g.T
        else:
            # A very long inner dimension (big images, few filters) is slow as one GEMM in some BLAS
            # libraries; summing a batch of GEMMs over column chunks is several times faster.
            part = ho * wo * n // chunks
            wgrad_t = xp.matmul(self._cols.reshape(-1, chunks, part).transpose(1, 0, 2),
                                g.reshape(f, chunks, part).transpose(1, 2, 0)).sum(axis=0)
        self.grads["W"].reshape(f, -1)[...] = wgrad_t.T
        if not self.needs_input_grad:
            return None
        dcols = self._buffer("_dcol_buffer", (c * kh * kw, ho * wo * n), grad_out.dtype)
        xp.matmul(self.params["W"].reshape(f, -1).T, g, out=dcols)
        dcols = dcols.reshape(c, kh, kw, ho, wo, n)
        rows_used = (ho - 1) * sh + kh
        cols_used = (wo - 1) * sw + kw
        # A fresh channel-major gradient (the buffer is reused next step, the gradient may be kept).
        dx = xp.empty((c, h, w, n), dtype=grad_out.dtype)
        # The windows cover the input exactly (no padding, no rows or columns left over): add into dx itself
        # instead of a padded buffer copied out afterwards.
        exact = top == left == 0 and (rows_used, cols_used) == (h, w)
        dxpad = dx if exact else self._buffer(
            "_dxpad_buffer", (c, max(rows_used, top + h), max(cols_used, left + w), n), grad_out.dtype)

        def col2im(a: int, b: int) -> None:  # channels a:b
            pad = dxpad[a:b]
            pad.fill(0)
            for i in range(kh):
                for j in range(kw):
                    pad[:, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw, :] += dcols[a:b, i, j]
            if not exact:
                dx[a:b] = pad[:, top:top + h, left:left + w, :]

        each_part(col2im, dxpad, c)
        return batch_view(dx)

    def _weight_grads_by_rows(self, g: Any) -> None:
        """The weight gradient from the columns made again a few rows at a time."""
        f = self.filters
        c, kh, kw = self._windows.shape[:3]
        k = c * kh * kw
        total = np.zeros((k, f), dtype=g.dtype)
        part = np.empty((k, f), dtype=g.dtype)
        for a, b, cols in self._row_chunks(self._windows):
            np.matmul(cols, g[:, a:b].T, out=part)
            total += part
        self.grads["W"].reshape(f, -1)[...] = total.T

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: Any) -> Any:
        """The work buffer ``name`` (an attribute), made anew only when the shape or dtype changes."""
        buf = getattr(self, name)
        if buf is None or buf.shape != shape or buf.dtype != dtype:
            buf = self.xp.empty(shape, dtype=dtype)
            setattr(self, name, buf)
        return buf

    def config(self) -> dict[str, Any]:
        return dict(self._config)
