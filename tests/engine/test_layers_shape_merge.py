"""Flatten, Reshape, Add and Concat: shapes, list inputs and gradients, errors."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.backend import to_host
from nnstudio.engine.gradcheck import check_layer
from nnstudio.engine.layers import Add, Concat, Flatten, Reshape


def test_flatten_and_reshape_round_trip(xp_backend):
    xp = xp_backend.xp
    x = xp.asarray(np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5))
    flat = Flatten()
    flat.build((3, 4, 5), xp, np.random.default_rng(0), np.float64)
    y = flat.forward(x)
    assert y.shape == (2, 60) and flat.output_shape((3, 4, 5)) == (60,)
    assert flat.backward(y).shape == (2, 3, 4, 5)
    back = Reshape([3, -1, 5])
    assert back.output_shape((60,)) == (3, 4, 5)
    back.build((60,), xp, np.random.default_rng(0), np.float64)
    np.testing.assert_array_equal(to_host(back.forward(y)), to_host(x))
    assert back.backward(x).shape == (2, 60)
    assert check_layer(Reshape((4, 15)), (3, 4, 5), xp, np.random.default_rng(1))["input"] < 1e-6
    assert check_layer(Flatten(), (2, 3), xp, np.random.default_rng(1))["input"] < 1e-6


def test_reshape_errors():
    with pytest.raises(ValueError, match=r"holds 700 values but the input \(784,\) has 784"):
        Reshape([1, 28, 25]).output_shape((784,))
    with pytest.raises(ValueError, match="not a multiple of 9"):
        Reshape([-1, 3, 3]).output_shape((10,))
    with pytest.raises(ValueError, match="at most one -1"):
        Reshape([-1, -1])
    with pytest.raises(ValueError, match="list of sizes"):
        Reshape("abc")
    assert Reshape(**Reshape((1, 28, 28)).config()).config() == {"shape": [1, 28, 28]}


@pytest.mark.parametrize("count", [2, 3])
def test_add_forward_backward(xp_backend, count):
    xp = xp_backend.xp
    rng = np.random.default_rng(2)
    shapes = [(3, 4, 2)] * count
    layer = Add()
    assert layer.output_shape(shapes) == (3, 4, 2)
    errors = check_layer(layer, shapes, xp, rng)
    assert set(errors) == {f"input{i}" for i in range(count)} and max(errors.values()) < 1e-6
    xs = [rng.normal(size=(2, 3, 4, 2)) for _ in range(count)]
    out = to_host(layer.forward([xp.asarray(x) for x in xs]))
    np.testing.assert_allclose(out, sum(xs), rtol=1e-12)
    grads = layer.backward(xp.ones((2, 3, 4, 2)))
    assert isinstance(grads, list) and len(grads) == count
    grads[1] += 1  # adding into one branch's gradient must not change the others
    assert float(grads[0].sum()) == 2 * 3 * 4 * 2


@pytest.mark.parametrize("shapes,axis,expected", [
    ([(2, 4, 4), (3, 4, 4)], 0, (5, 4, 4)),
    ([(5,), (2,), (1,)], 0, (8,)),
    ([(2, 4, 3), (2, 4, 1)], -1, (2, 4, 4)),
    ([(2, 1, 3), (2, 2, 3)], 1, (2, 3, 3)),
])
def test_concat_forward_backward(xp_backend, shapes, axis, expected):
    xp = xp_backend.xp
    rng = np.random.default_rng(3)
    layer = Concat(axis)
    assert layer.output_shape(shapes) == expected
    errors = check_layer(layer, shapes, xp, rng)
    assert max(errors.values()) < 1e-6
    xs = [rng.normal(size=(2,) + s) for s in shapes]
    out = layer.forward([xp.asarray(x) for x in xs])
    assert out.shape == (2,) + expected
    np.testing.assert_array_equal(to_host(out), np.concatenate(xs, axis=(axis % len(expected)) + 1))
    grads = layer.backward(out)
    assert [g.shape for g in grads] == [x.shape for x in xs]
    for g, x in zip(grads, xs):
        np.testing.assert_array_equal(to_host(g), x)


def test_merge_errors():
    with pytest.raises(ValueError, match=r"same shape; input 1 is \(3,\) but input 2 is \(4,\)"):
        Add().output_shape([(3,), (4,)])
    with pytest.raises(ValueError, match="at least 2 inputs"):
        Add().output_shape([(3,)])
    with pytest.raises(ValueError, match="differ only along axis 0"):
        Concat(0).output_shape([(2, 4, 4), (2, 5, 4)])
    with pytest.raises(ValueError, match="same rank"):
        Concat(0).output_shape([(2, 4, 4), (8,)])
    with pytest.raises(ValueError, match="axis 3 is out of range for inputs of rank 3"):
        Concat(3).output_shape([(2, 4, 4), (2, 4, 4)])
    assert Add.n_inputs == -1 and Concat.n_inputs == -1
    assert Concat(**Concat(1).config()).config() == {"axis": 1}
