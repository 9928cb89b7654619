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


def _channel_major(x: np.ndarray) -> np.ndarray:
    """The same (N, C, H, W) batch laid out in memory as (C, H, W, N), as a convolution hands it on."""
    return np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("in_shape,size,stride", CASES + [((3, 8, 6), (2, 3), None)])
def test_max_pooling_of_a_channel_major_batch_reads_views_and_agrees_with_nchw(in_shape, size, stride, ties):
    rng = np.random.default_rng(5)
    shape = (4,) + in_shape
    x = np.zeros(shape) if ties else distinct_inputs(rng, shape)
    results = []
    for batch in (x, _channel_major(x)):
        layer = Pool2D("max", size, stride)
        layer.build(in_shape, np, rng, np.float64)
        out = layer.forward(batch, training=True)
        assert (layer._winner is not None) == (batch is not x)  # the channel-major batch took the views
        g = np.random.default_rng(6).normal(size=out.shape)
        results.append((np.array(out), np.array(layer.backward(g if batch is x else _channel_major(g)))))
    (out_a, dx_a), (out_b, dx_b) = results
    np.testing.assert_array_equal(out_b, out_a)
    np.testing.assert_array_equal(dx_b, dx_a)  # the same winner per window, ties included
    kh, kw = _pairs(size)
    sh, sw = _pairs(stride or size)
    if kh == kw and sh == sw:
        np.testing.assert_allclose(out_b, naive_pool(x, "max", kh, sh), rtol=0)


@pytest.mark.parametrize("in_shape,size,stride", CASES)
def test_max_pooling_by_views_matches_finite_differences(in_shape, size, stride):
    rng = np.random.default_rng(7)
    x = distinct_inputs(rng, (3,) + in_shape)
    layer = Pool2D("max", size, stride)
    layer.build(in_shape, np, rng, np.float64)
    out = layer.forward(_channel_major(x), training=True)
    assert layer._winner is not None
    proj = rng.normal(size=out.shape)
    dx = np.array(layer.backward(_channel_major(proj)))
    numeric = np.zeros_like(x)
    eps = 1e-6
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        numeric[idx] = (np.sum(layer.forward(_channel_major(up)) * proj)
                        - np.sum(layer.forward(_channel_major(down)) * proj)) / (2 * eps)
    np.testing.assert_allclose(dx, numeric, rtol=1e-6, atol=1e-8)


def test_max_pooling_of_a_channel_major_batch_outside_training_still_back_propagates():
    """A saliency map: a forward pass outside training (maxima only), then a backward pass."""
    rng = np.random.default_rng(8)
    x = distinct_inputs(rng, (5, 3, 8, 8))
    ours, reference = Pool2D("max", 2), Pool2D("max", 2)
    for layer in (ours, reference):
        layer.build((3, 8, 8), np, rng, np.float64)
    out = ours.forward(_channel_major(x), training=False)
    assert ours._winner is None and ours._input is not None  # no winners recorded outside training
    np.testing.assert_array_equal(out, reference.forward(x, training=True))
    g = rng.normal(size=out.shape)
    np.testing.assert_array_equal(ours.backward(_channel_major(g)), reference.backward(g))
