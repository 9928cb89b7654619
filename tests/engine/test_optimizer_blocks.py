"""Big NumPy parameters are updated block by block: same results as the plain whole-array formulas."""
from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import nnstudio.engine.optimizers as optimizers
from nnstudio.engine import blas1
from nnstudio.engine.optimizers import OPTIMIZERS, global_norm, make_optimizer

SETTINGS = {"sgd": {}, "momentum": {"momentum": 0.8}, "nesterov": {"momentum": 0.8},
            "adam": {"beta1": 0.8, "beta2": 0.99, "eps": 1e-3}, "rmsprop": {"rho": 0.7, "eps": 1e-3}}


def _reference(name: str, steps: list[tuple[np.ndarray, float]], w: np.ndarray, weight_decay: float,
               clip_norm: float | None) -> np.ndarray:
    """The update rules written out on whole float64 arrays, one parameter."""
    w = w.copy()
    kw = SETTINGS[name]
    state: dict[str, np.ndarray] = {}
    for t, (grad, lr) in enumerate(steps, start=1):
        g = grad.copy()
        if clip_norm is not None:
            norm = math.sqrt(float((grad * grad).sum()))
            if norm > clip_norm:
                g = g * (clip_norm / (norm + 1e-12))
        g = g + weight_decay * w
        if name == "sgd":
            w = w - lr * g
        elif name in ("momentum", "nesterov"):
            v = state["v"] = kw["momentum"] * state.get("v", 0.0) + g
            w = w - lr * (v if name == "momentum" else g + kw["momentum"] * v)
        elif name == "adam":
            b1, b2 = kw["beta1"], kw["beta2"]
            m = state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
            v = state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
            w = w - lr / (1 - b1 ** t) * m / (np.sqrt(v / (1 - b2 ** t)) + kw["eps"])
        else:
            s = state["s"] = kw["rho"] * state.get("s", 0.0) + (1 - kw["rho"]) * g * g
            w = w - lr * g / (np.sqrt(s) + kw["eps"])
    return w


def _steps(shape: tuple[int, ...], dtype: type = np.float64, count: int = 3) -> list[tuple[np.ndarray, float]]:
    rng = np.random.default_rng(7)
    return [(rng.standard_normal(shape).astype(dtype), 0.05 * (i + 1)) for i in range(count)]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("weight_decay, clip_norm", [(0.0, None), (0.03, None), (0.0, 10.0), (0.03, 10.0)])
def test_blocks_give_the_plain_formulas(monkeypatch, name, weight_decay, clip_norm):
    monkeypatch.setattr(optimizers, "CHUNK", 1000)
    shape = (7, 1429)  # 10003 elements: ten full blocks and a short one
    w0 = np.random.default_rng(3).standard_normal(shape)
    steps = _steps(shape)
    w = w0.copy()
    opt = make_optimizer(name, 0.05, weight_decay=weight_decay, clip_norm=clip_norm, **SETTINGS[name])
    for grad, lr in steps:
        before = grad.copy()
        opt.step([("w", w, grad)], lr)
        np.testing.assert_array_equal(grad, before)  # the gradient is left untouched
    expected = _reference(name, steps, w0, weight_decay, clip_norm)
    np.testing.assert_allclose(w, expected, rtol=1e-12, atol=1e-13)
    if clip_norm is not None:
        assert opt.last_grad_norm == pytest.approx(math.sqrt(float((steps[-1][0] ** 2).sum())), rel=1e-13)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_blocks_at_the_real_block_size(name):
    n = 2 * optimizers.CHUNK + 7
    w0 = np.random.default_rng(4).standard_normal(n)
    steps = _steps((n,), count=2)
    w = w0.copy()
    opt = make_optimizer(name, 0.05, weight_decay=0.01, **SETTINGS[name])
    for grad, lr in steps:
        opt.step([("w", w, grad)], lr)
    np.testing.assert_allclose(w, _reference(name, steps, w0, 0.01, None), rtol=1e-12, atol=1e-13)


def _float32_by_block_size(monkeypatch, name, weight_decay):
    shape = (33, 317)
    w0 = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    steps = _steps(shape, np.float32)
    results = []
    for chunk in (10 ** 9, 1000, 777):  # whole arrays, then two block sizes (777 leaves a short block)
        monkeypatch.setattr(optimizers, "CHUNK", chunk)
        w = w0.copy()
        opt = make_optimizer(name, 0.05, weight_decay=weight_decay, **SETTINGS[name])
        for grad, lr in steps:
            opt.step([("w", w, grad)], lr)
        assert w.dtype == np.float32
        results.append(w)
    return results


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_float32_results_do_not_depend_on_the_block_size(monkeypatch, name, weight_decay):
    """Blocks do the whole-array NumPy arithmetic element by element: bit-identical float32 results."""
    monkeypatch.setattr(blas1, "_routines", {})  # the NumPy passes only (see the next test for the BLAS)
    results = _float32_by_block_size(monkeypatch, name, weight_decay)
    np.testing.assert_array_equal(results[1], results[0])
    np.testing.assert_array_equal(results[2], results[0])


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_float32_blas_updates_agree_across_block_sizes_to_the_last_bits(monkeypatch, name, weight_decay):
    """The BLAS's own threads and vector loops round a few elements differently where a block (or a thread's
    share) starts: the same values but for a last bit or two."""
    if not blas1.fits(np.zeros(2, np.float32), np.zeros(2, np.float32)):
        pytest.skip("this NumPy's BLAS offers no axpy / axpby the engine can call")
    results = _float32_by_block_size(monkeypatch, name, weight_decay)
    for other in results[1:]:
        np.testing.assert_allclose(other, results[0], rtol=2e-6, atol=1e-7)


def test_parameters_that_cannot_be_cut_in_flat_blocks_are_updated_whole(monkeypatch):
    monkeypatch.setattr(optimizers, "CHUNK", 100)
    w0 = np.random.default_rng(6).standard_normal((40, 30))
    steps = _steps((30, 40))
    w = np.asfortranarray(w0).T.copy(order="F")  # a (30, 40) Fortran-ordered parameter
    w_plain = w0.T.copy()
    opt = make_optimizer("adam", 0.05, **SETTINGS["adam"])
    for grad, lr in steps:
        opt.step([("w", w, grad)], lr)
    assert not w.flags.c_contiguous
    np.testing.assert_allclose(w, _reference("adam", steps, w_plain, 0.0, None), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_a_step_allocates_nothing_the_size_of_the_parameter(name):
    n = 4 * optimizers.CHUNK + 5
    w = np.zeros(n, dtype=np.float32)
    grad = np.random.default_rng(8).standard_normal(n).astype(np.float32)
    opt = make_optimizer(name, 0.01, weight_decay=0.01, clip_norm=1.0, **SETTINGS[name])
    opt.step([("w", w, grad)])  # the first step creates the state
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        opt.step([("w", w, grad)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < w.nbytes // 2, (name, peak, w.nbytes)


def test_global_norm_of_big_arrays_sums_in_blocks(monkeypatch):
    monkeypatch.setattr(optimizers, "CHUNK", 1000)
    rng = np.random.default_rng(9)
    arrays = [rng.standard_normal((101, 99)), rng.standard_normal(7), rng.standard_normal((50, 40)).T]
    expected = math.sqrt(sum(float((a.astype(np.float64) ** 2).sum()) for a in arrays))
    assert global_norm(arrays) == pytest.approx(expected, rel=1e-13)
    small = [a.astype(np.float32) for a in arrays]
    assert global_norm(small) == pytest.approx(expected, rel=1e-6)
