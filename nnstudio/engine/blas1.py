"""Two level-1 BLAS routines, ``axpy`` and ``axpby``, from the BLAS library NumPy already loaded.

Why this exists: NumPy has no fused "y = a x + b y", so the momentum update of the optimizers is four passes
over every parameter (``v *= m; v += g; w = lr * v; p -= w``).  The same update is two BLAS calls
(``v = g + m v``, ``p += -lr v``), and OpenBLAS runs ``axpy`` on its own threads, which right after the
backward pass's products are still awake.  Whole MLP training steps, alternated in one process (forty pairs,
two runs): 0.968x and 0.947x the time; LeNet-5 1.006x.  Adam and RMSprop take their moving averages with
``axpby`` and their step with ``axpy`` (the mnist-mlp example, Adam: 0.923x and 0.952x).

NumPy does not expose these routines, so they are looked up with ``ctypes`` in the library that threadpoolctl
reports NumPy's products run on.  Only OpenBLAS builds with 64-bit integers and the ``64_`` symbol suffix
(NumPy's own wheels: ``scipy_cblas_saxpby64_``, or ``cblas_saxpby64_`` in older ones) are used, because their
argument types are known.  At first use a self-check compares both routines with NumPy on small arrays;
anything else (another BLAS, Accelerate, MKL, a failed check, ``NNSTUDIO_NUMPY_UPDATES=1``) leaves them off,
and callers keep their NumPy passes.  Results may differ from those passes in the last bit (one rounding
instead of two).
"""
from __future__ import annotations

import ctypes
import os
import threading
from typing import Any

import numpy as np

_TYPES = {np.dtype(np.float32): ("s", ctypes.c_float), np.dtype(np.float64): ("d", ctypes.c_double)}
_lock = threading.Lock()
_routines: dict[np.dtype, tuple[Any, Any]] | None = None


def _bind(lib: Any, name: str, scalar: Any, with_beta: bool) -> Any:
    fn = getattr(lib, name)
    n, ptr = ctypes.c_int64, ctypes.c_void_p
    fn.argtypes = [n, scalar, ptr, n, scalar, ptr, n] if with_beta else [n, scalar, ptr, n, ptr, n]
    fn.restype = None
    return fn


def _find() -> dict[np.dtype, tuple[Any, Any]]:
    """{dtype: (axpy, axpby)} for the dtypes the loaded OpenBLAS offers and that pass the self-check."""
    if os.environ.get("NNSTUDIO_NUMPY_UPDATES", "").strip() not in ("", "0"):
        return {}
    from nnstudio.engine.threads import _blas_controllers  # noqa: PLC0415 - threadpoolctl, loaded on demand

    for controller in _blas_controllers():
        if getattr(controller, "internal_api", "") != "openblas" or not getattr(controller, "filepath", None):
            continue
        try:
            lib = ctypes.CDLL(controller.filepath)
        except OSError:
            continue
        for prefix in ("scipy_cblas_", "cblas_"):
            found = {}
            for dtype, (letter, scalar) in _TYPES.items():
                try:
                    found[dtype] = (_bind(lib, f"{prefix}{letter}axpy64_", scalar, False),
                                    _bind(lib, f"{prefix}{letter}axpby64_", scalar, True))
                except AttributeError:
                    break
            else:
                if _passes_check(found):
                    return found
    return {}


def _passes_check(found: dict[np.dtype, tuple[Any, Any]]) -> bool:
    """Whether both routines give NumPy's answers on small arrays whose results are exact in floating point."""
    for dtype, (axpy, axpby) in found.items():
        x = np.arange(1, 38, dtype=dtype)
        y = np.arange(40, 3, -1, dtype=dtype)
        want_axpby = 2.0 * x + 0.5 * y
        got = y.copy()
        axpby(x.size, 2.0, x.ctypes.data, 1, 0.5, got.ctypes.data, 1)
        if not np.array_equal(got, want_axpby):
            return False
        axpy(x.size, -0.25, x.ctypes.data, 1, got.ctypes.data, 1)
        if not np.array_equal(got, want_axpby - 0.25 * x):
            return False
    return True


def _available() -> dict[np.dtype, tuple[Any, Any]]:
    global _routines  # noqa: PLW0603 - looked up once per process
    if _routines is None:
        with _lock:
            if _routines is None:
                try:
                    _routines = _find()
                except Exception:  # noqa: BLE001 - an unusual library or platform: the NumPy passes do the work
                    _routines = {}
    return _routines


def fits(*arrays: Any) -> bool:
    """Whether :func:`axpy` / :func:`axpby` can work on ``arrays``: C-contiguous NumPy arrays of one size and of
    float32 or float64, and the routines found for that type."""
    first = arrays[0]
    if type(first) is not np.ndarray or first.dtype not in _TYPES:
        return False
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != first.dtype or a.size != first.size or not a.flags.c_contiguous:
            return False
    return first.dtype in _available()


def axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> None:
    """``y += alpha * x`` in place (check :func:`fits` first)."""
    routine = _available()[y.dtype][0]
    routine(y.size, alpha, x.ctypes.data, 1, y.ctypes.data, 1)


def axpby(alpha: float, x: np.ndarray, beta: float, y: np.ndarray) -> None:
    """``y = alpha * x + beta * y`` in place (check :func:`fits` first)."""
    routine = _available()[y.dtype][1]
    routine(y.size, alpha, x.ctypes.data, 1, beta, y.ctypes.data, 1)
