"""How much memory this computer has free, so big allocations are refused with a message, not a MemoryError.

Why this exists: a dataset of huge images, a network with billions of parameters or a batch that does not
fit would otherwise end in a ``MemoryError`` traceback (or the system's out-of-memory killer) long after the
user could have been told.  Readers and ``nnstudio check`` ask :func:`available_bytes` first and turn "too
big" into a :class:`~nnstudio.errors.UserError` that says how much was needed and how much is free.
"""
from __future__ import annotations

import os
from typing import Any

from nnstudio.errors import UserError


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def available_bytes() -> int | None:
    """Memory that can be allocated now without swapping (Linux ``MemAvailable``, else free pages), or None
    where the system does not say."""
    found = _meminfo_available()
    if found is not None:
        return found
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def device_available_bytes(backend: Any = None) -> int | None:
    """Memory free on the device ``backend`` computes on: the GPU's free memory for CuPy (asked through the
    backend's own array module), else :func:`available_bytes`; None where it cannot be told."""
    xp = getattr(backend, "xp", None)
    cuda = getattr(xp, "cuda", None) if getattr(backend, "is_gpu", False) else None
    if cuda is None:
        return available_bytes()
    try:
        return int(cuda.runtime.memGetInfo()[0])
    except Exception:  # noqa: BLE001 - a driver that will not say: no warning rather than a crash
        return None


def human_bytes(n: float) -> str:
    """1536 -> '1.5 KiB', 3 * 2**30 -> '3.0 GiB'."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"  # pragma: no cover - the loop always returns


def check_fits(nbytes: int, what: str) -> None:
    """UserError when ``nbytes`` is more than the memory free now; ``what`` names the thing, e.g.
    ``"images in photos/ (5,000 x 3 x 4000 x 3000 float32)"``."""
    free = available_bytes()
    if free is not None and nbytes > free:
        raise UserError(f"{what} would need {human_bytes(nbytes)} of memory but only {human_bytes(free)} is free")
