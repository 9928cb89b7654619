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
