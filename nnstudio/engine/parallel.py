"""Splitting a layer's element-wise work over the CPU's cores.

NumPy runs every element-wise operation (a ReLU, a normalisation, a pooling window, the copies a convolution
makes) on one thread, while its BLAS already multiplies matrices on all of them.  On a small CPU that leaves
half of it idle for most of a training step.  NumPy lets go of Python's global lock inside those operations,
so the same work split into contiguous parts (a range of channels, say) and run on a few threads really
runs at the same time.  :func:`run_parts` does that: the calling thread does the first part itself, a
small pool of long-lived threads the others.

Only big NumPy arrays are split (below about half a million values the hand-over costs more than it
saves); CuPy arrays never are (the GPU is parallel already), and neither is work started inside a part,
so parts never wait on each other.  The number of threads is the one the BLAS runs on now
(:func:`.threads.current`, chosen by measuring), so ``OMP_NUM_THREADS=1`` makes everything single-threaded.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

from nnstudio.engine import threads as _threads

# Values an operation must touch before it is split.  Below this the hand-over, and OpenBLAS's threads still
# spinning after the product before, cost more than the split saves: at 2**18, LeNet-5's 300K-value maps
# were split and its step took 5.1-5.8 ms against 4.5-5.4 ms at 2**20 (2**19: 4.6-5.5, and the big CNNs
# as at 2**18).
MIN_VALUES = 1 << 19
_local = threading.local()
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def threads() -> int:
    """How many threads element-wise work may be split over (at most 8: memory bandwidth runs out first)."""
    return max(1, min(_threads.current(), 8))


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool  # noqa: PLW0603 - one pool for the process, made on first use
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:  # noqa: SLF001
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nnstudio-engine")
        return _pool


def split(count: int, parts: int) -> list[tuple[int, int]]:
    """``range(count)`` cut into at most ``parts`` contiguous (start, stop) ranges of near-equal length."""
    parts = max(1, min(parts, count))
    bounds = [count * i // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(parts) if bounds[i + 1] > bounds[i]]


def parts_for(array: Any, count: int, values: int | None = None) -> int:
    """How many parts to cut work on ``array`` into, along an axis of ``count`` entries: 1 unless it is a
    NumPy array touching at least :data:`MIN_VALUES` values (``values``, default its size) and we are not
    inside a part already."""
    if not isinstance(array, np.ndarray) or getattr(_local, "inside", False):
        return 1
    if (array.size if values is None else values) < MIN_VALUES:
        return 1
    return max(1, min(threads(), count))


def _run_inside(fn: Callable[[int, int], Any], start: int, stop: int) -> Any:
    _local.inside = True
    try:
        return fn(start, stop)
    finally:
        _local.inside = False


def run_parts(fn: Callable[[int, int], Any], count: int, parts: int) -> list[Any]:
    """``fn(start, stop)`` for each of ``parts`` contiguous ranges covering ``range(count)``, at the same time
    on several threads when ``parts`` > 1; returns their results in order.  An exception in any part is
    raised here, after every part has finished."""
    ranges = split(count, parts)
    if len(ranges) <= 1:
        return [fn(0, count)] if count else []
    futures = [_executor(len(ranges) - 1).submit(_run_inside, fn, a, b) for a, b in ranges[1:]]
    try:
        first = _run_inside(fn, *ranges[0])
    finally:
        results = [f.exception() or f.result() for f in futures]  # wait for every part, even on an error
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return [first, *results]


def each_part(fn: Callable[[int, int], Any], array: Any, count: int, values: int | None = None) -> list[Any]:
    """:func:`run_parts` with as many parts as :func:`parts_for` allows for ``array``."""
    if (array.size if values is None else values) < MIN_VALUES:
        return [fn(0, count)]  # the common small case, decided before anything else costs time
    return run_parts(fn, count, parts_for(array, count, values))


def outer_axis(array: Any) -> int:
    """The axis with the largest stride (the outermost in memory): cutting along it gives contiguous parts."""
    if array.ndim == 0:
        return 0
    strides = [abs(s) if d > 1 else 0 for s, d in zip(array.strides, array.shape)]
    return strides.index(max(strides))


def each_slice(fn: Callable[..., Any], *arrays: Any) -> None:
    """``fn(*parts)`` for parts of the same-shaped ``arrays`` cut along the first one's outermost axis in
    memory, on several threads when the first is a big NumPy array (else once, on the whole arrays)."""
    first = arrays[0]
    if first.size < MIN_VALUES or first.ndim == 0 or not isinstance(first, np.ndarray):
        fn(*arrays)  # the common small case, decided before anything else costs time
        return
    axis = outer_axis(first)
    count = first.shape[axis]
    parts = parts_for(first, count)
    if parts <= 1:
        fn(*arrays)
        return

    def part(a: int, b: int) -> None:
        index = (slice(None),) * axis + (slice(a, b),)
        fn(*(arr[index] for arr in arrays))

    run_parts(part, count, parts)
