"""Toy sets: shapes, dtypes, determinism from the seed, and that each is the shape it claims."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.data import get_dataset
from nnstudio.data.toy import TOY_NAMES, make_toy
from nnstudio.errors import UserError


@pytest.mark.parametrize("name", TOY_NAMES)
def test_shapes_dtypes_and_scale(name: str):
    ds = make_toy(name)
    assert ds.x_train.dtype == np.float32 and ds.x_test.dtype == np.float32
    assert ds.x_train.shape[1:] == ds.sample_shape
    if name in ("linear", "sine", "plane"):
        assert ds.sample_shape == ((2,) if name == "plane" else (1,))
        assert ds.task == "regression" and ds.num_classes == 0
        assert ds.y_train.dtype == np.float32 and ds.y_train.shape == (ds.n_train, 1)
    else:
        assert ds.sample_shape == (2,) and ds.task == "classification" and ds.num_classes == 2
        assert ds.y_train.dtype == np.int64 and set(np.unique(ds.y_train)) <= {0, 1}
    assert np.abs(ds.x_train).max() <= 1.5  # playground scale


@pytest.mark.parametrize("name", TOY_NAMES)
def test_deterministic_from_seed(name: str):
    a, b = make_toy(name, n_train=40, n_test=8, noise=0.1, seed=7), make_toy(name, n_train=40, n_test=8,
                                                                              noise=0.1, seed=7)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    c = make_toy(name, n_train=40, n_test=8, noise=0.1, seed=8)
    assert not np.array_equal(a.x_train, c.x_train)


def test_logic_gates_are_the_truth_tables():
    for name, outputs in (("and", [0, 0, 0, 1]), ("or", [0, 1, 1, 1]), ("xor", [0, 1, 1, 0])):
        ds = get_dataset(name)
        np.testing.assert_array_equal(ds.x_train, [[0, 0], [0, 1], [1, 0], [1, 1]])
        np.testing.assert_array_equal(ds.y_train, outputs)
        np.testing.assert_array_equal(ds.x_test, ds.x_train)
    noisy = make_toy("xor", n_train=400, noise=0.1)
    corner = np.rint(noisy.x_train).astype(int)
    np.testing.assert_array_equal(noisy.y_train, corner[:, 0] ^ corner[:, 1])
    assert 0.085 < (noisy.x_train - corner).std() < 0.115  # the noise that was asked for


def test_two_class_sets_are_balanced_and_separated_as_described():
    circle = make_toy("circle", n_train=1000, noise=0.0)
    radius = np.linalg.norm(circle.x_train, axis=1)
    assert radius[circle.y_train == 1].max() < radius[circle.y_train == 0].min()
    gauss = make_toy("gauss", n_train=1000)
    assert gauss.x_train[gauss.y_train == 1].mean(axis=0) == pytest.approx([0.4, 0.4], abs=0.05)
    assert gauss.x_train[gauss.y_train == 0].mean(axis=0) == pytest.approx([-0.4, -0.4], abs=0.05)
    for name in ("circle", "gauss", "spiral", "moons"):
        ds = make_toy(name, n_train=300)
        assert abs(int(ds.y_train.sum()) - 150) < 30


def test_regressions_follow_their_formula():
    linear = make_toy("linear", n_train=2000, noise=0.1)
    slope, intercept = np.polyfit(linear.x_train[:, 0], linear.y_train[:, 0], 1)
    assert slope == pytest.approx(2.0, abs=0.05) and intercept == pytest.approx(1.0, abs=0.02)
    sine = make_toy("sine", noise=0.0)
    np.testing.assert_allclose(sine.y_test[:, 0], np.sin(np.pi * sine.x_test[:, 0]), atol=1e-6)


def test_bad_options():
    with pytest.raises(UserError, match="n_train and n_test must be at least 1"):
        make_toy("moons", n_train=0)
    with pytest.raises(UserError, match="noise must be 0 or more"):
        make_toy("moons", noise=-1)
