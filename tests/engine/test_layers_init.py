"""Initialisers: distributions, reproducibility, errors; and the LAYER_TYPES registry."""
from __future__ import annotations

import math

import numpy as np
import pytest

from nnstudio.engine import layers
from nnstudio.engine.init import INITIALIZERS, initialize


@pytest.mark.parametrize("name,expected_std", [
    ("he", math.sqrt(2 / 200)),
    ("lecun", math.sqrt(1 / 200)),
    ("glorot", math.sqrt(6 / 300) / math.sqrt(3)),  # uniform(-a, a) has std a / sqrt(3)
    ("normal", 0.05),
])
def test_distributions(name, expected_std):
    w = initialize(name, (200, 100), 200, 100, np.random.default_rng(0), std=0.05)
    assert w.shape == (200, 100) and w.dtype == np.float64
    assert abs(w.mean()) < 0.05 * expected_std * 10
    assert abs(w.std() / expected_std - 1) < 0.03
    if name == "glorot":
        assert np.abs(w).max() <= math.sqrt(6 / 300)


def test_zeros_reproducible_and_errors():
    assert not initialize("zeros", (3, 4), 3, 4, np.random.default_rng(0)).any()
    a = initialize("he", (5, 5), 5, 5, np.random.default_rng(9))
    np.testing.assert_array_equal(a, initialize("he", (5, 5), 5, 5, np.random.default_rng(9)))
    with pytest.raises(ValueError, match="expected one of he, glorot, lecun, normal, zeros"):
        initialize("orthogonal", (2, 2), 2, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="fan_in"):
        initialize("he", (2, 2), 0, 2, np.random.default_rng(0))
    assert INITIALIZERS == ("he", "glorot", "lecun", "normal", "zeros")


def test_layer_types_registry():
    assert set(layers.LAYER_TYPES) == {"Dense", "Conv2D", "Pool2D", "Dropout", "Flatten", "Reshape", "Activation",
                                       "Add", "Concat", "BatchNorm", "Features"}
    for name, cls in layers.LAYER_TYPES.items():
        assert cls.type_name == name and issubclass(cls, layers.Layer)
    examples = [layers.Dense(3), layers.Conv2D(2, 3, padding="same"), layers.Pool2D("avg"), layers.Dropout(0.1),
                layers.Flatten(), layers.Reshape([2, 2]), layers.Activation("tanh"), layers.Add(),
                layers.Concat(1), layers.BatchNorm(), layers.Features(["x1_sq", "x2_sq"])]
    for layer in examples:
        rebuilt = layers.LAYER_TYPES[layer.type_name](**layer.config())
        assert rebuilt.config() == layer.config() and repr(rebuilt) == repr(layer)
