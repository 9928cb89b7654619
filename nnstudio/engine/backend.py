"""Choose the array module (``xp``): NumPy on the CPU or CuPy on a CUDA GPU.

This is the only module that imports CuPy.  Everything else receives ``xp`` from here (or from
:func:`array_module` of an array), so the same line of math runs on both.  Host <-> device crossings go
through :func:`to_device` (the batch loader) and :func:`to_host` (reporting results).

``NNSTUDIO_BACKEND=auto|numpy|cupy`` picks the default; ``auto`` takes CuPy when it imports and sees a
CUDA device, else NumPy.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from nnstudio.errors import UserError

BACKEND_NAMES = ("auto", "numpy", "cupy")


@dataclass(frozen=True)
class Backend:
    """An array module and how to describe it to a person."""

    name: str  # "numpy" or "cupy"
    xp: Any
    human_name: str  # for the status bar: "NumPy 2.4 · 2 threads", "CuPy · NVIDIA H200"

    @property
    def is_gpu(self) -> bool:
        return self.name == "cupy"


def blas_threads() -> int:
    """Threads the BLAS library may use: the usual environment variables, else the CPUs we may run on."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@lru_cache(maxsize=None)
def _numpy_backend() -> Backend:
    major_minor = ".".join(np.__version__.split(".")[:2])
    threads = blas_threads()
    return Backend("numpy", np, f"NumPy {major_minor} · {threads} thread{'s' if threads != 1 else ''}")


def shown_name(backend: "Backend") -> str:
    """``backend``'s name for people in the interface language ("NumPy 2.4 · 2 个线程" in Chinese); the
    library's own name stays as it is."""
    if backend.name != "numpy":
        return backend.human_name
    from nnstudio.i18n import _  # noqa: PLC0415 - the engine itself has no words to translate
    threads, version = blas_threads(), ".".join(np.__version__.split(".")[:2])
    return _("NumPy {version} · 1 thread").format(version=version) if threads == 1 else \
        _("NumPy {version} · {count} threads").format(version=version, count=threads)


def _try_cupy() -> tuple[Any | None, str]:
    """Return (cupy module or None, reason it is unusable)."""
    try:
        import cupy  # noqa: PLC0415 - the one place CuPy is imported
    except Exception as exc:  # ImportError, or a broken CUDA install raising anything
        return None, f"CuPy is not installed or does not import ({exc.__class__.__name__}: {exc})"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:
        return None, f"CuPy imports but no CUDA device is usable ({exc})"
    if count < 1:
        return None, "CuPy imports but sees no CUDA device"
    return cupy, ""


@lru_cache(maxsize=None)
def _cupy_backend() -> Backend | None:
    cupy, _ = _try_cupy()
    if cupy is None:
        return None
    try:
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        gpu = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    except Exception:
        gpu = "CUDA GPU"
    return Backend("cupy", cupy, f"CuPy · {gpu}")


def cupy_available() -> bool:
    return _cupy_backend() is not None


def available_backends() -> list[str]:
    return ["numpy"] + (["cupy"] if cupy_available() else [])


def get_backend(name: str | None = None) -> Backend:
    """The backend called ``name`` (default: ``$NNSTUDIO_BACKEND`` or ``auto``)."""
    if name is None:
        name = os.environ.get("NNSTUDIO_BACKEND", "auto") or "auto"
    name = name.strip().lower()
    if name not in BACKEND_NAMES:
        raise UserError(f"Unknown backend '{name}': expected one of auto, numpy, cupy")
    if name == "numpy":
        return _numpy_backend()
    if name == "cupy":
        backend = _cupy_backend()
        if backend is None:
            _, reason = _try_cupy()
            raise UserError(f"Backend 'cupy' was requested but {reason}. "
                            "Install the 'gpu' extra (pip install 'nnstudio[gpu]') on a machine with "
                            "an NVIDIA GPU, or use --backend numpy.")
        return backend
    return _cupy_backend() or _numpy_backend()


def array_module(array: Any) -> Any:
    """NumPy or CuPy, whichever owns ``array`` (like ``cupy.get_array_module``)."""
    if isinstance(array, np.ndarray) or np.isscalar(array):
        return np
    backend = _cupy_backend()
    if backend is not None and isinstance(array, backend.xp.ndarray):
        return backend.xp
    return np


def to_host(array: Any) -> np.ndarray:
    """A host NumPy copy (or view) of any array; device arrays are copied back."""
    if isinstance(array, np.ndarray):
        return array
    get = getattr(array, "get", None)
    if callable(get):
        return get()
    return np.asarray(array)


def to_device(array: Any, xp: Any, dtype: Any = None) -> Any:
    """Put a host array on the device of ``xp`` (no copy when it is already there)."""
    if dtype is not None:
        return xp.asarray(array, dtype=dtype)
    return xp.asarray(array)
