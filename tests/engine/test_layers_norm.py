"""BatchNorm: train vs eval, running statistics, finite differences in both modes."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.backend import to_host
from nnstudio.engine.gradcheck import check_layer
from nnstudio.engine.layers import BatchNorm


@pytest.mark.parametrize("in_shape", [(4,), (3, 4, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_backward_matches_finite_differences(xp_backend, in_shape, training):
    xp = xp_backend.xp
    rng = np.random.default_rng(0)
    layer = BatchNorm()
    layer.build(in_shape, xp, rng, np.float64)
    layer.params["gamma"][...] = xp.asarray(rng.uniform(0.5, 1.5, size=in_shape[0]))
    layer.params["beta"][...] = xp.asarray(rng.normal(size=in_shape[0]))
    layer.buffers["running_mean"][...] = xp.asarray(rng.normal(size=in_shape[0]))
    layer.buffers["running_var"][...] = xp.asarray(rng.uniform(0.5, 2.0, size=in_shape[0]))
    errors = check_layer(layer, in_shape, xp, rng, batch=4, training=training)
    assert set(errors) == {"input", "gamma", "beta"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_train_normalises_per_channel_and_updates_running_stats(xp_backend, dtype):
    xp = xp_backend.xp
    rng = np.random.default_rng(1)
    layer = BatchNorm(momentum=0.9)
    layer.build((3, 4, 4), xp, rng, dtype)
    x = (rng.normal(size=(16, 3, 4, 4)) * np.array([1.0, 2.0, 5.0])[:, None, None]
         + np.array([0.0, 3.0, -1.0])[:, None, None]).astype(dtype)
    out = to_host(layer.forward(xp.asarray(x), training=True))
    assert out.dtype == dtype
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=tol)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1.0, atol=1e-3)
    m = x.astype(np.float64).mean(axis=(0, 2, 3))
    v = x.astype(np.float64).var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(to_host(layer.buffers["running_mean"]), 0.1 * m, rtol=1e-5)
    np.testing.assert_allclose(to_host(layer.buffers["running_var"]), 0.9 + 0.1 * v, rtol=1e-5)


def test_eval_uses_running_stats_and_leaves_them(xp_backend):
    xp = xp_backend.xp
    layer = BatchNorm(eps=1e-5)
    layer.build((2,), xp, np.random.default_rng(0), np.float64)
    layer.buffers["running_mean"][...] = xp.asarray([1.0, -2.0])
    layer.buffers["running_var"][...] = xp.asarray([4.0, 0.25])
    layer.params["gamma"][...] = xp.asarray([2.0, 1.0])
    layer.params["beta"][...] = xp.asarray([0.5, 0.0])
    x = np.array([[3.0, -2.0], [1.0, -1.5]])
    out = to_host(layer.forward(xp.asarray(x), training=False))
    expected = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5) * [2.0, 1.0] + [0.5, 0.0]
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_array_equal(to_host(layer.buffers["running_mean"]), [1.0, -2.0])
    # Training on a constant batch moves the running mean towards it.
    layer.forward(xp.asarray([[10.0, 10.0], [10.0, 10.0]]), training=True)
    np.testing.assert_allclose(to_host(layer.buffers["running_mean"]), [0.9 + 1.0, -1.8 + 1.0])


def test_batch_of_one_does_not_divide_by_zero_and_config():
    layer = BatchNorm()
    layer.build((3,), np, np.random.default_rng(0), np.float64)
    with np.errstate(all="raise"):
        out = layer.forward(np.ones((1, 3)), training=True)
    assert np.all(np.isfinite(out))
    assert layer.param_count() == 6 and set(layer.buffers) == {"running_mean", "running_var"}
    assert BatchNorm(**BatchNorm(0.8, 1e-3).config()).config() == {"momentum": 0.8, "eps": 1e-3}
    with pytest.raises(ValueError, match="momentum must be at least 0 and below 1"):
        BatchNorm(momentum=1.0)
    with pytest.raises(ValueError, match="eps must be positive"):
        BatchNorm(eps=0)
