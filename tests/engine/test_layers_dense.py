"""Dense: forward against x @ W + b, finite differences on vectors and images, errors and config."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.backend import to_host
from nnstudio.engine.gradcheck import check_layer
from nnstudio.engine.layers import Dense


@pytest.mark.parametrize("in_shape", [(5,), (2, 3, 3), (1,)])
@pytest.mark.parametrize("use_bias", [True, False])
def test_backward_matches_finite_differences(xp_backend, in_shape, use_bias):
    layer = Dense(4, use_bias=use_bias)
    errors = check_layer(layer, in_shape, xp_backend.xp, np.random.default_rng(0), batch=3)
    assert set(errors) == ({"input", "W", "b"} if use_bias else {"input", "W"})
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_forward_flattens_and_matches_reference(xp_backend, dtype):
    xp = xp_backend.xp
    rng = np.random.default_rng(1)
    layer = Dense(3)
    layer.build((2, 2, 2), xp, rng, dtype)
    layer.params["b"][...] = xp.asarray(np.array([1.0, -2.0, 0.5], dtype=dtype))
    x = rng.normal(size=(5, 2, 2, 2)).astype(dtype)
    out = layer.forward(xp.asarray(x), training=True)
    assert out.dtype == dtype and out.shape == (5, 3)
    expected = x.reshape(5, 8) @ to_host(layer.params["W"]) + to_host(layer.params["b"])
    np.testing.assert_allclose(to_host(out), expected, rtol=1e-5 if dtype == np.float32 else 1e-12)
    dx = layer.backward(xp.ones((5, 3), dtype=dtype))
    assert dx.shape == (5, 2, 2, 2) and dx.dtype == dtype


def test_shapes_config_and_errors():
    layer = Dense(10, init="glorot")
    assert layer.output_shape((1, 28, 28)) == (10,)
    layer.build((1, 28, 28), np, np.random.default_rng(0))
    assert layer.params["W"].shape == (784, 10) and layer.param_count() == 7850
    assert Dense(**layer.config()).config() == {"units": 10, "use_bias": True, "init": "glorot"}
    with pytest.raises(ValueError, match="units must be a positive integer. Received: units=0"):
        Dense(0)
    with pytest.raises(ValueError, match="units must be a positive integer"):
        Dense(2.5)
    with pytest.raises(ValueError, match="unknown initialiser 'xavier'; expected one of he, glorot"):
        Dense(3, init="xavier")
    with pytest.raises(ValueError, match="positive integer"):
        Dense(3).output_shape((0, 4))


def test_same_seed_same_weights():
    a, b = Dense(7), Dense(7)
    a.build((5,), np, np.random.default_rng(42))
    b.build((5,), np, np.random.default_rng(42))
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
