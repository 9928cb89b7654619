"""Shared test fixtures.

``xp_backend`` runs a test once per array backend: always on NumPy, on CuPy when it imports and sees a CUDA
device (otherwise that case is skipped with the reason), and always on the stand-in for CuPy
(tests/fake_cupy.py: NumPy's arithmetic under CuPy's rules, so the device code runs without a GPU).  The
``xp`` fixture is its array module.
"""
from __future__ import annotations

import os
from typing import Any

import pytest

from nnstudio.engine.backend import Backend, cupy_available, get_backend


def fake_cupy_module() -> Any:
    """tests/fake_cupy.py, loaded once (the test files that use it directly share this copy)."""
    import importlib.util  # noqa: PLC0415
    import sys  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location("_nnstudio_fake_cupy", Path(__file__).with_name("fake_cupy.py"))
    module = sys.modules.setdefault("_nnstudio_fake_cupy", importlib.util.module_from_spec(spec))
    if not hasattr(module, "installed"):
        spec.loader.exec_module(module)
    return module


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu), "standin"])
def xp_backend(request: pytest.FixtureRequest) -> Backend:
    """The Backend (``.name``, ``.xp``) under test: "numpy"; "cupy" when a CUDA device is usable; and
    "standin", the engine's device code on NumPy under CuPy's rules (tests/fake_cupy.py), everywhere."""
    if request.param == "standin":
        with fake_cupy_module().installed():  # which also checks no NumPy function was handed a device array
            yield get_backend("cupy")
        return
    if request.param == "cupy" and not cupy_available():
        pytest.skip("CuPy with a usable CUDA device is not available")
    yield get_backend(request.param)


@pytest.fixture
def xp(xp_backend: Backend) -> Any:
    """The array module (NumPy or CuPy) of ``xp_backend``."""
    return xp_backend.xp


def pytest_configure(config: pytest.Config) -> None:
    """With NNSTUDIO_REQUIRE_TORCH set (CI does), the PyTorch reference tests must run, not skip.

    They compare our layers and exports against PyTorch; a skipped oracle cannot fail, so a missing torch
    stops the run here instead of quietly skipping them.
    """
    if os.environ.get("NNSTUDIO_REQUIRE_TORCH"):
        try:
            import torch  # noqa: F401, PLC0415
        except ImportError as exc:
            raise pytest.UsageError(f"NNSTUDIO_REQUIRE_TORCH is set but PyTorch cannot be imported ({exc}); "
                                    "install it with `pip install torch==2.13.0`") from None
