"""Outside training, small batches take shortcuts (ReLU as one maximum, max pooling over strided views of tiling
windows); outputs and any later backward pass (a saliency map) are exactly those of the ordinary path."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.layers import Activation, Pool2D


def _pool(size, stride=None, padding=0, shape=(2, 3, 12, 12)) -> Pool2D:
    layer = Pool2D("max", size, stride, padding)
    layer.build(shape[1:], np, np.random.default_rng(0))
    return layer


def _tied(shape, seed=0) -> np.ndarray:
    """Few distinct values, so windows hold ties (the gradient goes to the first maximum), and a NaN."""
    x = np.random.default_rng(seed).integers(-2, 3, shape).astype(np.float32)
    x.reshape(-1)[5] = np.nan
    return x


@pytest.mark.parametrize("size", [2, 3, (2, 3), 1, (1, 2)])
def test_max_pooling_of_tiles_is_the_gathered_pooling(size):
    shape = (2, 3, 12, 12)
    x = _tied(shape)
    g = np.random.default_rng(1).standard_normal(_pool(size, shape=shape).forward(x, True).shape).astype(np.float32)
    ordinary = _pool(size, shape=shape)
    want = ordinary.forward(x, training=True)
    want_dx = ordinary.backward(g)
    short = _pool(size, shape=shape)
    got = short.forward(x, training=False)
    assert short._input is x and short._windows is None  # the shortcut was taken
    np.testing.assert_array_equal(got, want)
    assert got.flags.c_contiguous and got.dtype == np.float32
    np.testing.assert_array_equal(short.backward(g), want_dx)  # windows gathered for the saliency map
    assert short._input is None


@pytest.mark.parametrize("kwargs, shape", [({"size": 2, "stride": 1}, (1, 2, 8, 8)),  # overlapping windows
                                           ({"size": 2, "padding": 1}, (1, 2, 8, 8)),  # padding
                                           ({"size": 2}, (1, 2, 9, 8)),  # rows left over
                                           ({"size": 2}, (1, 4, 512, 512))])  # too big to gain
def test_other_poolings_keep_the_gathered_path(kwargs, shape):
    layer = _pool(shape=shape, **kwargs)
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    layer.forward(x, training=False)
    assert layer._input is None and layer._windows is not None


def test_a_transposed_batch_keeps_the_gathered_path():
    x = np.random.default_rng(3).standard_normal((6, 6, 2, 4)).astype(np.float32).transpose(3, 2, 0, 1)
    layer = _pool(2, shape=x.shape)
    np.testing.assert_array_equal(layer.forward(x, training=False), _pool(2, shape=x.shape).forward(x, True))
    assert layer._input is None


def test_relu_outside_training_is_one_maximum_with_the_same_gradient():
    x = np.random.default_rng(4).standard_normal((3, 50)).astype(np.float32)
    x[0, :4] = [0.0, -0.0, np.nan, np.inf]
    g = np.random.default_rng(5).standard_normal(x.shape).astype(np.float32)
    training, evaluating = Activation("relu"), Activation("relu")
    for layer in (training, evaluating):
        layer.build((50,), np, np.random.default_rng(0))
    want = training.forward(x, training=True)
    got = evaluating.forward(x, training=False)
    np.testing.assert_array_equal(got, want)
    assert evaluating._kept.dtype == np.float32  # the output, the mask read from it in backward
    np.testing.assert_array_equal(evaluating.backward(g), training.backward(g))
