"""Copying a matrix into its transpose in cache-sized tiles: how the convolution moves a big batch between the
NCHW layout of the network and the (C, H, W, N) layout of its GEMM.

NumPy transposes a tall, narrow matrix (a feature map of 64,000 pixels by 64 samples) by walking one side
with a large stride, which misses the cache (and the TLB) on almost every element: 16 MB take about 10 ms
on one core.  Copied in tiles of about 16,000 elements, both sides of each tile stay in the cache and the
same copy takes about half that.  Below about a million elements (the data fits the L2 cache), on the GPU,
and for a single sample, one plain copy is already the fast way.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnstudio.engine.backend import array_module

_TILE_ELEMENTS = 16384  # elements per tile: 64 KiB of float32 read and 64 KiB written
_SMALL = 1 << 20  # below this many elements one plain copy is as fast or faster


def copy_transposed(src: Any, dst: Any) -> Any:
    """``dst[...] = src.T`` for a (M, K) ``src`` with any strides and a (K, M) ``dst``; returns ``dst``."""
    m, k = src.shape
    if not isinstance(src, np.ndarray) or src.size < _SMALL or min(m, k) == 1:
        dst[...] = src.T
        return dst
    # Tiles of src: up to 1024 columns of a row (one contiguous run) by enough rows to fill a tile.
    cols = min(k, 1024)
    rows = max(8, _TILE_ELEMENTS // cols)
    for j in range(0, k, cols):  # dst's rows outside: each group of dst rows is finished before the next
        for i in range(0, m, rows):
            dst[j:j + cols, i:i + rows] = src[i:i + rows, j:j + cols].T
    return dst


# -- The channel-major batch layout --------------------------------------------------------------------------
# Every layer sees image batches as (N, C, H, W).  In memory, though, a batch can be laid out channel-major,
# as (C, H, W, N) with the sample axis innermost: that is the layout the convolution's GEMM reads and writes,
# so a Conv2D hands its output on as a transposed *view* of its GEMM result instead of copying it back to
# NCHW.  Element-wise layers keep whatever layout they are given (NumPy's and CuPy's default order "K");
# BatchNorm and Pool2D work in it directly; only a layer that flattens the batch (Flatten, Dense, Reshape)
# pays for one copy back.  So a chain Conv2D -> BatchNorm -> Activation -> Pool2D -> Conv2D never transposes,
# and every array a caller sees is still an ordinary (N, C, H, W) array.


def is_channel_major(x: Any) -> bool:
    """Whether the (N, C, H, W) batch ``x`` is laid out in memory as a contiguous (C, H, W, N) array and not
    also as an ordinary one (a batch of one sample is both: it counts as ordinary)."""
    return x.ndim == 4 and x.shape[0] > 1 and bool(x.transpose(1, 2, 3, 0).flags.c_contiguous)


def channel_major(x: Any, out: Any = None) -> Any:
    """The (N, C, H, W) batch ``x`` as a contiguous (C, H, W, N) array: a view when it is laid out so already,
    else a transposing copy (into ``out``, a contiguous (C, H, W, N) array, when given)."""
    t = x.transpose(1, 2, 3, 0)
    if t.flags.c_contiguous:
        return t
    if out is None:
        out = array_module(x).empty(t.shape, dtype=t.dtype)
    n = x.shape[0]
    copy_transposed(x.reshape(n, -1), out.reshape(-1, n))
    return out


def flat_batch(x: Any) -> Any:
    """The batch ``x`` as a contiguous (N, features) matrix in the network's (N, C, H, W) order: a view of an
    ordinary batch, one tiled transposing copy of a channel-major one."""
    n = x.shape[0]
    if is_channel_major(x):
        out = array_module(x).empty((n, x.size // n), dtype=x.dtype)
        copy_transposed(x.transpose(1, 2, 3, 0).reshape(-1, n), out)
        return out
    return x.reshape(n, -1)


def batch_view(t: Any) -> Any:
    """The (C, H, W, N) array ``t`` seen as an (N, C, H, W) batch (a view, no copy)."""
    return t.transpose(3, 0, 1, 2)


def like_layout(grad: Any, channel_major_input: bool) -> Any:
    """``grad`` (an (N, C, H, W) batch) in the layout its layer's input had: channel-major when
    ``channel_major_input``, as it is otherwise.  Layers that flatten a batch use it on their way back."""
    if channel_major_input:
        return batch_view(channel_major(grad))
    return grad
