"""Keeping freed array memory in the process, so a training step does not page-fault its way through fresh memory.

Every training step allocates the same big arrays again (each layer's output and gradient, a few MB each).
glibc's malloc hands out blocks above its mmap threshold as fresh pages from the kernel and gives them back
when they are freed, so every step pays a page fault for every 4 KiB it writes into them; under
virtualisation that costs as much as the work itself (a ReLU over a 3 MB feature map took 1.6 ms instead of
0.3).  :func:`keep_freed_memory` raises the mmap and trim thresholds with ``mallopt`` so such blocks come
from, and go back to, the process's own heap, which the next step reuses without faults.  PyTorch keeps a
caching allocator for the same reason.

It changes nothing where malloc is not glibc's (macOS, Windows, musl), when the user set glibc's own
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` variables, or with ``NNSTUDIO_SYSTEM_MALLOC=1``.  The price is that up to
:data:`TRIM_BYTES` of freed memory may stay with the process instead of going back to the system.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt's parameter numbers (glibc's malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_BYTES = 32 << 20  # blocks below this come from the heap (the most glibc accepts on 64 bits)
TRIM_BYTES = 512 << 20  # free memory at the top of the heap kept before it is given back
_done: list[bool] = []


def keep_freed_memory() -> bool:
    """Set the thresholds once per process; True when glibc accepted them."""
    if _done:
        return _done[0]
    ok = False
    if sys.platform.startswith("linux") and not any(
            v in os.environ for v in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")) and \
            os.environ.get("NNSTUDIO_SYSTEM_MALLOC", "") in ("", "0"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):  # not glibc
            mallopt = None
        if mallopt is not None:
            mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
            mallopt.restype = ctypes.c_int
            ok = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(
                mallopt(_M_TRIM_THRESHOLD, TRIM_BYTES))
    _done.append(ok)
    return ok
