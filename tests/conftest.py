"""Shared test fixtures.

``xp_backend`` runs a test once per array backend: always on NumPy, and on CuPy when it imports and sees a
CUDA device (otherwise that case is skipped with the reason).  The ``xp`` fixture is its array module.
"""
from __future__ import annotations

import os
from typing import Any

import pytest

from nnstudio.engine.backend import Backend, cupy_available, get_backend


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp_backend(request: pytest.FixtureRequest) -> Backend:
    """The Backend (``.name``, ``.xp``) under test: "numpy", then "cupy" when a CUDA device is usable."""
    if request.param == "cupy" and not cupy_available():
        pytest.skip("CuPy with a usable CUDA device is not available")
    return get_backend(request.param)


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
