"""The BLAS's axpy / axpby as the optimizers call them: found in NumPy's own OpenBLAS, the same answers as
NumPy, refused for arrays they cannot take, and switched off cleanly (the NumPy passes then do the work)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from nnstudio.engine import blas1
from nnstudio.engine.optimizers import make_optimizer

FOUND = blas1.fits(np.zeros(2, np.float32), np.zeros(2, np.float32))


def test_numpys_own_openblas_offers_both_routines_for_both_float_types():
    # NumPy's wheels (what CI installs) bundle OpenBLAS with the 64_ symbol suffix: if this fails, the
    # optimizers silently fell back to their NumPy passes, which is correct but slower.
    from threadpoolctl import threadpool_info
    if not any(i.get("internal_api") == "openblas" for i in threadpool_info()):
        pytest.skip("NumPy runs on a BLAS other than OpenBLAS here")
    assert set(blas1._available()) == {np.dtype(np.float32), np.dtype(np.float64)}


@pytest.mark.skipif(not FOUND, reason="this NumPy's BLAS offers no axpy / axpby the engine can call")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 7, 64, 1001, 300_001])
def test_axpy_and_axpby_give_numpys_answers(dtype, n):
    rng = np.random.default_rng(n)
    x = rng.standard_normal(n).astype(dtype)
    y0 = rng.standard_normal(n).astype(dtype)
    y = y0.copy()
    blas1.axpby(0.3, x, 0.9, y)
    tol = {"rtol": 2e-6, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-14, "atol": 1e-14}
    np.testing.assert_allclose(y, 0.3 * x.astype(np.float64) + 0.9 * y0, **tol)
    y1 = y.copy()
    blas1.axpy(-0.05, x, y)
    np.testing.assert_allclose(y, y1 - 0.05 * x.astype(np.float64), **tol)
    assert y.dtype == dtype


@pytest.mark.skipif(not FOUND, reason="this NumPy's BLAS offers no axpy / axpby the engine can call")
def test_only_contiguous_float_arrays_of_one_type_and_size_fit():
    a = np.zeros((4, 6), np.float32)
    assert blas1.fits(a, np.ones((4, 6), np.float32), np.ones(24, np.float32))  # shapes may differ, sizes not
    assert not blas1.fits(a, np.ones((4, 6), np.float64))
    assert not blas1.fits(a, np.ones(25, np.float32))
    assert not blas1.fits(a[:, ::2], np.ones((4, 3), np.float32))
    assert not blas1.fits(np.asfortranarray(a), a)
    assert not blas1.fits(np.zeros(5, np.float16), np.zeros(5, np.float16))
    assert not blas1.fits(np.zeros(5, np.int32), np.zeros(5, np.int32))
    assert not blas1.fits([0.0] * 5, np.zeros(5, np.float32))


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam", "rmsprop"])
def test_the_updates_are_the_numpy_passes_to_the_last_bits(monkeypatch, name):
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal((50, 41)).astype(np.float32)
    grads = [rng.standard_normal(w0.shape).astype(np.float32) for _ in range(6)]
    results = []
    for routines in (blas1._available(), {}):
        monkeypatch.setattr(blas1, "_routines", routines)
        w = w0.copy()
        opt = make_optimizer(name, 0.05, weight_decay=0.01, **({"momentum": 0.8} if name in ("momentum", "nesterov") else {}))
        for g in grads:
            before = g.copy()
            opt.step([("w", w, g)], None)
            np.testing.assert_array_equal(g, before)  # gradients are never modified
        results.append(w)
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-6)
    assert not np.array_equal(results[0], w0)


def test_the_environment_switch_leaves_the_numpy_passes():
    code = ("import numpy as np\nfrom nnstudio.engine import blas1\n"
            "print(blas1.fits(np.zeros(3, np.float32), np.zeros(3, np.float32)), blas1._available())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "NNSTUDIO_NUMPY_UPDATES": "1"}).stdout
    assert out.strip() == "False {}"


def test_a_library_whose_routines_give_wrong_answers_is_not_used():
    def wrong_axpby(n, alpha, x, incx, beta, y, incy):
        pass  # leaves y alone

    def axpy(n, alpha, x, incx, y, incy):
        pass

    assert not blas1._passes_check({np.dtype(np.float32): (axpy, wrong_axpby)})
    assert blas1._passes_check({})
