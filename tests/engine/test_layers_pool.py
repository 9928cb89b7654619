"""Pool2D: max and average pooling against a naive loop, finite differences, one winner per max window."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.backend import to_host
from nnstudio.engine.gradcheck import check_layer
from nnstudio.engine.layers import Pool2D


def naive_pool(x: np.ndarray, mode: str, k: int, s: int) -> np.ndarray:
    n, c, h, w = x.shape
    ho, wo = (h - k) // s + 1, (w - k) // s + 1
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            window = x[:, :, i * s:i * s + k, j * s:j * s + k]
            out[:, :, i, j] = window.max(axis=(2, 3)) if mode == "max" else window.mean(axis=(2, 3))
    return out


def distinct_inputs(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Values at least 0.01 apart, so a finite-difference nudge never changes which element is the max."""
    return rng.permutation(np.arange(int(np.prod(shape)))).reshape(shape) * 0.01 - 1.0


CASES = [  # (in_shape, size, stride)
    ((2, 4, 6), 2, None),   # tiling fast path
    ((3, 5, 7), 2, None),   # tiling with leftover row/column
    ((2, 7, 7), 3, 2),      # overlapping windows
    ((1, 6, 5), 2, 3),      # gaps between windows
    ((2, 5, 5), 3, 1),
]


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("in_shape,size,stride", CASES)
def test_forward_matches_naive_and_output_shape(xp_backend, mode, in_shape, size, stride):
    rng = np.random.default_rng(0)
    layer = Pool2D(mode, size, stride)
    layer.build(in_shape, xp_backend.xp, rng, np.float64)
    x = rng.normal(size=(3,) + in_shape)
    out = to_host(layer.forward(xp_backend.xp.asarray(x)))
    assert out.shape == (3,) + layer.output_shape(in_shape)
    np.testing.assert_allclose(out, naive_pool(x, mode, size, stride or size), rtol=1e-12)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("in_shape,size,stride", CASES)
def test_backward_matches_finite_differences(xp_backend, mode, in_shape, size, stride):
    rng = np.random.default_rng(1)
    x = distinct_inputs(rng, (2,) + in_shape)
    errors = check_layer(Pool2D(mode, size, stride), in_shape, xp_backend.xp, rng, inputs=x)
    assert errors["input"] < 1e-6, errors


@pytest.mark.parametrize("size,stride", [(2, None), (3, 2)])
def test_max_routes_to_one_winner_per_window_on_ties(xp_backend, size, stride):
    xp = xp_backend.xp
    layer = Pool2D("max", size, stride)
    layer.build((1, 7, 7), xp, np.random.default_rng(0), np.float64)
    out = layer.forward(xp.zeros((2, 1, 7, 7)))  # every element ties
    dx = to_host(layer.backward(xp.ones_like(out)))
    assert dx.sum() == out.size  # each window's gradient went to exactly one input
    assert set(np.unique(dx)) <= {0.0, 1.0, 2.0}


def test_float32_and_errors(xp_backend):
    xp = xp_backend.xp
    layer = Pool2D()
    layer.build((3, 8, 8), xp, np.random.default_rng(0))
    x = xp.asarray(np.random.default_rng(1).normal(size=(2, 3, 8, 8)).astype(np.float32))
    out = layer.forward(x, training=True)
    assert out.dtype == np.float32 and layer.backward(out).dtype == np.float32
    with pytest.raises(ValueError, match="window 3x3 is larger than the input 2x5"):
        Pool2D("max", 3).output_shape((1, 2, 5))
    with pytest.raises(ValueError, match='mode must be "max" or "avg"'):
        Pool2D("min")
    with pytest.raises(ValueError, match=r"\(channels, height, width\)"):
        Pool2D().output_shape((10,))
    assert Pool2D(**Pool2D("avg", 3).config()).config() == {"mode": "avg", "size": 3, "stride": None}
    config = Pool2D("max", (3, 2), (1, 2), padding=(1, 0)).config()
    assert config == {"mode": "max", "size": [3, 2], "stride": (1, 2), "padding": [1, 0]}
    assert Pool2D(**config).config() == config
    assert Pool2D().param_count() == 0


def naive_padded_pool(x: np.ndarray, mode: str, k: tuple[int, int], s: tuple[int, int],
                      p: tuple[int, int]) -> np.ndarray:
    """The definition, one window at a time: max ignores padding, avg divides by the real pixels only."""
    n, c, h, w = x.shape
    ho, wo = (h + 2 * p[0] - k[0]) // s[0] + 1, (w + 2 * p[1] - k[1]) // s[1] + 1
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            top, left = i * s[0] - p[0], j * s[1] - p[1]
            window = x[:, :, max(top, 0):top + k[0], max(left, 0):left + k[1]]
            out[:, :, i, j] = window.max(axis=(2, 3)) if mode == "max" else window.mean(axis=(2, 3))
    return out


PADDED_CASES = [  # (in_shape, size, stride, padding): rectangular windows, unequal strides, padding
    ((2, 5, 5), 3, 2, 1),
    ((1, 6, 7), (3, 2), (1, 2), (1, 0)),
    ((2, 7, 6), (2, 4), (2, 1), (1, 2)),
    ((1, 4, 4), 2, 1, 1),
    ((3, 5, 4), (5, 3), 1, (2, 1)),
]


def _pairs(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (v, v)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("in_shape,size,stride,padding", PADDED_CASES)
def test_padded_and_rectangular_forward_matches_definition(xp_backend, mode, in_shape, size, stride, padding):
    rng = np.random.default_rng(2)
    layer = Pool2D(mode, size, stride, padding)
    layer.build(in_shape, xp_backend.xp, rng, np.float64)
    x = rng.normal(size=(2,) + in_shape)
    out = to_host(layer.forward(xp_backend.xp.asarray(x)))
    assert out.shape == (2,) + layer.output_shape(in_shape)
    expected = naive_padded_pool(x, mode, _pairs(size), _pairs(stride), _pairs(padding))
    np.testing.assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("in_shape,size,stride,padding", PADDED_CASES)
def test_padded_and_rectangular_backward_matches_finite_differences(xp_backend, mode, in_shape, size, stride,
                                                                     padding):
    rng = np.random.default_rng(3)
    x = distinct_inputs(rng, (2,) + in_shape)
    errors = check_layer(Pool2D(mode, size, stride, padding), in_shape, xp_backend.xp, rng, inputs=x)
    assert errors["input"] < 1e-6, errors


def test_padded_pool_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.normal(size=(2, 3, 7, 6))
    for mode in ("max", "avg"):
        ours = Pool2D(mode, (3, 2), (2, 1), (1, 1))
        ours.build((3, 7, 6), np, rng, np.float64)
        if mode == "max":
            theirs = torch.nn.MaxPool2d((3, 2), (2, 1), (1, 1))
        else:
            theirs = torch.nn.AvgPool2d((3, 2), (2, 1), (1, 1), count_include_pad=False)
        xt = torch.tensor(x, requires_grad=True)
        yt = theirs(xt)
        g = rng.normal(size=tuple(yt.shape))
        yt.backward(torch.tensor(g))
        y = ours.forward(x)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.backward(g), xt.grad.numpy(), rtol=1e-12)


def test_padding_limits_and_messages():
    with pytest.raises(ValueError, match="padding can be at most half the window"):
        Pool2D("max", 2, padding=2)
    with pytest.raises(ValueError, match="padding must be a non-negative integer"):
        Pool2D("max", 2, padding=-1)
    with pytest.raises(ValueError, match=r"size must be one integer or two \(height, width\)"):
        Pool2D("max", (2, 2, 2))
    with pytest.raises(ValueError, match=r"window 5x3 is larger than the input 2x2 \(padded to 4x4\)"):
        Pool2D("max", (5, 3), padding=1).output_shape((1, 2, 2))
