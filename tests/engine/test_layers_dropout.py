"""Dropout: statistics of the mask, identity in evaluation, reproducibility, gradient through the mask."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.backend import to_host
from nnstudio.engine.gradcheck import check_layer
from nnstudio.engine.layers import Dropout


def built(rate: float, xp, seed: int = 0, dtype=np.float32) -> Dropout:
    layer = Dropout(rate)
    layer.build((100, 100), xp, np.random.default_rng(seed), dtype)
    return layer


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_train_statistics(xp_backend, rate):
    xp = xp_backend.xp
    layer = built(rate, xp)
    x = xp.ones((8, 100, 100), dtype=np.float32)
    out = to_host(layer.forward(x, training=True))
    assert out.dtype == np.float32
    zeroed = float((out == 0).mean())
    assert abs(zeroed - rate) < 0.01
    assert abs(float(out.mean()) - 1.0) < 0.03  # inverted dropout keeps the expected activation
    np.testing.assert_allclose(np.unique(out), [0.0, 1 / (1 - rate)], rtol=1e-6)


def test_eval_is_identity_and_rate_zero_is_identity(xp_backend):
    xp = xp_backend.xp
    x = xp.asarray(np.random.default_rng(0).normal(size=(4, 100, 100)).astype(np.float32))
    layer = built(0.5, xp)
    assert layer.forward(x, training=False) is x
    assert layer.backward(x) is x
    assert built(0.0, xp).forward(x, training=True) is x


def test_same_seed_same_masks_and_masks_change_between_steps(xp_backend):
    xp = xp_backend.xp
    x = xp.ones((2, 100, 100), dtype=np.float32)
    a, b, c = built(0.5, xp, seed=7), built(0.5, xp, seed=7), built(0.5, xp, seed=8)
    first_a, first_b = to_host(a.forward(x, True)), to_host(b.forward(x, True))
    np.testing.assert_array_equal(first_a, first_b)
    np.testing.assert_array_equal(to_host(a.forward(x, True)), to_host(b.forward(x, True)))
    assert not np.array_equal(first_a, to_host(a.forward(x, True)))
    assert not np.array_equal(first_a, to_host(c.forward(x, True)))


def test_backward_uses_the_forward_mask(xp_backend):
    xp = xp_backend.xp
    layer = Dropout(0.3)
    # Reseed before every forward so each finite-difference pass sees the same mask.
    errors = check_layer(layer, (4, 5), xp, np.random.default_rng(1), training=True,
                         before_forward=lambda: layer.reseed(123))
    assert errors["input"] < 1e-6
    layer.reseed(5)
    out = to_host(layer.forward(xp.ones((2, 4, 5)), training=True))
    grad = to_host(layer.backward(xp.ones((2, 4, 5))))
    np.testing.assert_array_equal(grad, out)  # same mask and scale as the forward pass


def test_errors_and_config():
    for bad in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError, match="rate must be at least 0 and below 1"):
            Dropout(bad)
    assert Dropout(**Dropout(0.25).config()).config() == {"rate": 0.25}
    assert Dropout(0.1).output_shape((3, 4, 4)) == (3, 4, 4)
