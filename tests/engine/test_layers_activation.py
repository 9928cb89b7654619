"""Activation: each function against a NumPy formula, backward against finite differences, stability."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.backend import to_host
from nnstudio.engine.gradcheck import check_layer
from nnstudio.engine.layers import ACTIVATION_FUNCTIONS, Activation


def reference(function: str, x: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    if function == "relu":
        return np.where(x > 0, x, 0.0)
    if function == "leaky_relu":
        return np.where(x > 0, x, alpha * x)
    if function == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if function == "tanh":
        return np.tanh(x)
    if function == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    if function == "sign":
        return np.where(x >= 0, 1.0, -1.0)
    return x


def away_from_kinks(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Normal values with |x| >= 0.05, so a nudge never crosses relu's or leaky_relu's corner."""
    x = rng.normal(size=shape)
    return np.where(np.abs(x) < 0.05, np.sign(x + 1e-12) * 0.05 + x, x)


@pytest.mark.parametrize("function", [f for f in ACTIVATION_FUNCTIONS if f != "sign"])
@pytest.mark.parametrize("in_shape", [(7,), (2, 3, 5)])
def test_backward_matches_finite_differences(xp_backend, function, in_shape):
    rng = np.random.default_rng(0)
    layer = Activation(function, alpha=0.2)
    x = away_from_kinks(rng, (3,) + in_shape) * 2
    errors = check_layer(layer, in_shape, xp_backend.xp, rng, inputs=x)
    assert errors["input"] < 1e-6, errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("function", ACTIVATION_FUNCTIONS)
def test_forward_matches_reference(xp_backend, function, dtype):
    xp = xp_backend.xp
    layer = Activation(function, alpha=0.1)
    layer.build((4, 6), xp, np.random.default_rng(0), dtype)
    x = np.random.default_rng(1).normal(size=(3, 4, 6)).astype(dtype) * 3
    x[0, 0, 0] = 0.0
    out = layer.forward(xp.asarray(x))
    assert out.dtype == dtype and out.shape == x.shape
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(to_host(out), reference(function, x.astype(np.float64), 0.1), rtol=tol, atol=tol)


def test_sign_is_a_step_with_straight_through_gradient(xp_backend):
    xp = xp_backend.xp
    layer = Activation("sign")
    layer.build((4,), xp, np.random.default_rng(0), np.float64)
    out = layer.forward(xp.asarray([[-2.0, -0.0, 0.0, 3.0]]))
    np.testing.assert_array_equal(to_host(out), [[-1.0, 1.0, 1.0, 1.0]])
    g = xp.asarray([[0.5, -1.0, 2.0, 4.0]])
    np.testing.assert_array_equal(to_host(layer.backward(g)), to_host(g))


def test_sigmoid_and_softmax_are_stable_for_huge_inputs(xp_backend):
    xp = xp_backend.xp
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        sig = Activation("sigmoid")
        sig.build((3,), xp, np.random.default_rng(0), np.float32)
        out = to_host(sig.forward(xp.asarray(np.array([[-1000.0, 0.0, 1000.0]], dtype=np.float32))))
        np.testing.assert_allclose(out, [[0.0, 0.5, 1.0]], atol=1e-7)
        soft = Activation("softmax")
        soft.build((3,), xp, np.random.default_rng(0), np.float32)
        out = to_host(soft.forward(xp.asarray(np.array([[1000.0, 1000.0, -1000.0]], dtype=np.float32))))
        np.testing.assert_allclose(out, [[0.5, 0.5, 0.0]], atol=1e-7)


def test_softmax_backward_is_the_full_jacobian_product(xp_backend):
    xp = xp_backend.xp
    rng = np.random.default_rng(3)
    x, g = rng.normal(size=(2, 5)), rng.normal(size=(2, 5))
    layer = Activation("softmax")
    layer.build((5,), xp, rng, np.float64)
    y = reference("softmax", x)
    layer.forward(xp.asarray(x))
    dx = to_host(layer.backward(xp.asarray(g)))
    for row in range(2):
        jacobian = np.diag(y[row]) - np.outer(y[row], y[row])
        np.testing.assert_allclose(dx[row], jacobian @ g[row], rtol=1e-12, atol=1e-14)


def test_errors_and_config():
    with pytest.raises(ValueError, match="unknown function 'gelu'; expected one of relu, leaky_relu"):
        Activation("gelu")
    layer = Activation("leaky_relu", alpha=0.3)
    assert Activation(**layer.config()).config() == {"function": "leaky_relu", "alpha": 0.3}
    assert layer.output_shape((3, 4)) == (3, 4) and layer.param_count() == 0
