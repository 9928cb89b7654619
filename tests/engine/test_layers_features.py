"""Features: each feature's value, shapes, the order of outputs, errors, and the backward against finite
differences in float64."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.backend import to_host
from nnstudio.engine.gradcheck import check_layer
from nnstudio.engine.layers import LAYER_TYPES, Features
from nnstudio.engine.layers.features import FEATURES

REFERENCE = {
    "x1": lambda a, b: a, "x2": lambda a, b: b, "x1_sq": lambda a, b: a ** 2, "x2_sq": lambda a, b: b ** 2,
    "x1x2": lambda a, b: a * b, "sin_x1": lambda a, b: np.sin(a), "sin_x2": lambda a, b: np.sin(b),
}


def test_every_feature_against_its_formula(xp_backend):
    xp = xp_backend.xp
    host = np.random.default_rng(0).normal(size=(5, 2))
    layer = Features(list(FEATURES))
    layer.build((2,), xp, np.random.default_rng(0), np.float64)
    out = to_host(layer.forward(xp.asarray(host)))
    expected = np.stack([REFERENCE[f](host[:, 0], host[:, 1]) for f in FEATURES], axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert layer.output_shape((2,)) == (7,) and layer.param_count((2,)) == 0 and not layer.params


def test_outputs_follow_the_catalogue_order_whatever_the_chosen_order():
    layer = Features(["sin_x2", "x1x2", "x1"])
    assert layer.features == ("x1", "x1x2", "sin_x2") and layer.config() == {"features": ["x1", "x1x2", "sin_x2"]}
    assert LAYER_TYPES["Features"](**layer.config()).config() == layer.config()
    assert Features().config() == {"features": ["x1", "x2"]}


@pytest.mark.parametrize("chosen", [["x1"], ["x1_sq", "x2_sq"], ["x1x2"], ["sin_x1", "sin_x2", "x2"], list(FEATURES)])
def test_backward_matches_finite_differences(xp_backend, chosen):
    errors = check_layer(Features(chosen), (2,), xp_backend.xp, np.random.default_rng(3), batch=6)
    assert set(errors) == {"input"} and errors["input"] < 1e-7


@pytest.mark.parametrize(("features", "message"), [
    ([], "at least one feature"),
    (["x1", "x3"], "features must be among x1, x2, x1_sq"),
    (["x1", "x1"], "must not repeat"),
    ("x1", "must be a list of feature names"),
])
def test_bad_feature_lists(features, message):
    with pytest.raises(ValueError, match=message):
        Features(features)


def test_needs_two_inputs():
    with pytest.raises(ValueError, match=r"needs 2 input values \(x1, x2\) per sample; it gets \(3,\)"):
        Features().output_shape((3,))
    with pytest.raises(ValueError, match=r"it gets \(1, 2\)"):
        Features().output_shape((1, 2))
