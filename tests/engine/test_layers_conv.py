"""Conv2D: forward against a naive loop convolution, backward against finite differences, shapes, errors."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.backend import to_host
from nnstudio.engine.gradcheck import check_layer
from nnstudio.engine.layers import Conv2D


def naive_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: int,
               pads: tuple[int, int, int, int]) -> np.ndarray:
    top, bottom, left, right = pads
    xp_ = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, _, hp, wp = xp_.shape
    f, _, kh, kw = w.shape
    ho, wo = (hp - kh) // stride + 1, (wp - kw) // stride + 1
    out = np.zeros((n, f, ho, wo))
    for s in range(n):
        for k in range(f):
            for i in range(ho):
                for j in range(wo):
                    patch = xp_[s, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
                    out[s, k, i, j] = (patch * w[k]).sum() + (0.0 if b is None else b[k])
    return out


CASES = [
    # (in_shape, filters, kernel, stride, padding)
    ((1, 6, 6), 2, 3, 1, 0),
    ((2, 7, 5), 3, 3, 2, 1),
    ((3, 5, 8), 2, (2, 3), 1, "same"),
    ((2, 9, 7), 4, 3, 2, "same"),
    ((1, 8, 8), 1, 4, 3, 2),
    ((2, 5, 5), 2, 5, 1, "valid"),
]


@pytest.mark.parametrize("in_shape,filters,kernel,stride,padding", CASES)
def test_forward_matches_naive_loop(xp_backend, in_shape, filters, kernel, stride, padding):
    rng = np.random.default_rng(1)
    layer = Conv2D(filters, kernel, stride=stride, padding=padding)
    layer.build(in_shape, xp_backend.xp, rng, np.float64)
    layer.params["b"][...] = xp_backend.xp.asarray(rng.normal(size=filters))
    x = rng.normal(size=(3,) + in_shape)
    out = to_host(layer.forward(xp_backend.xp.asarray(x)))
    expected = naive_conv(x, to_host(layer.params["W"]), to_host(layer.params["b"]), stride,
                          layer.pads(in_shape[1], in_shape[2]))
    assert out.shape == (3,) + layer.output_shape(in_shape)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("in_shape,filters,kernel,stride,padding", CASES)
def test_backward_matches_finite_differences(xp_backend, in_shape, filters, kernel, stride, padding):
    rng = np.random.default_rng(2)
    layer = Conv2D(filters, kernel, stride=stride, padding=padding)
    errors = check_layer(layer, in_shape, xp_backend.xp, rng, batch=2)
    assert set(errors) == {"input", "W", "b"}
    assert max(errors.values()) < 1e-6, errors


def test_no_bias_and_float32(xp_backend):
    xp = xp_backend.xp
    rng = np.random.default_rng(3)
    layer = Conv2D(3, 3, padding=1, use_bias=False)
    layer.build((2, 6, 6), xp, rng)
    assert set(layer.params) == {"W"} and layer.param_count() == 3 * 2 * 9
    x = xp.asarray(rng.normal(size=(4, 2, 6, 6)).astype(np.float32))
    out = layer.forward(x, training=True)
    assert out.dtype == np.float32 and out.shape == (4, 3, 6, 6)
    dx = layer.backward(xp.ones_like(out))
    assert dx.dtype == np.float32 and dx.shape == x.shape
    expected = naive_conv(to_host(x).astype(np.float64), to_host(layer.params["W"]).astype(np.float64), None, 1,
                          (1, 1, 1, 1))
    np.testing.assert_allclose(to_host(out), expected, rtol=1e-4, atol=1e-5)


def test_repeated_forward_reuses_padding_buffer_correctly(xp_backend):
    xp = xp_backend.xp
    rng = np.random.default_rng(4)
    layer = Conv2D(2, 3, padding=1)
    layer.build((1, 5, 5), xp, rng, np.float64)
    a, b = rng.normal(size=(2, 1, 5, 5)), rng.normal(size=(2, 1, 5, 5))
    first = to_host(layer.forward(xp.asarray(a)))
    layer.forward(xp.asarray(b))
    again = to_host(layer.forward(xp.asarray(a)))
    np.testing.assert_array_equal(first, again)


def test_skips_input_gradient_when_not_needed(xp_backend):
    xp = xp_backend.xp
    layer = Conv2D(2, 3)
    layer.build((1, 5, 5), xp, np.random.default_rng(0), np.float64)
    layer.needs_input_grad = False
    out = layer.forward(xp.ones((2, 1, 5, 5)))
    assert layer.backward(xp.ones_like(out)) is None
    assert float(abs(layer.grads["W"]).sum()) > 0


@pytest.mark.parametrize("h,stride", [(7, 1), (7, 2), (8, 2), (9, 3), (1, 2)])
def test_same_padding_output_size(h, stride):
    layer = Conv2D(4, 3, stride=stride, padding="same")
    assert layer.output_shape((2, h, h + 1)) == (4, -(-h // stride), -(-(h + 1) // stride))


def test_shape_errors_are_explained():
    with pytest.raises(ValueError, match="larger than the padded input 6x6"):
        Conv2D(2, 7, padding=1).output_shape((1, 4, 4))
    with pytest.raises(ValueError, match=r"\(channels, height, width\)"):
        Conv2D(2, 3).output_shape((784,))
    with pytest.raises(ValueError, match="filters must be a positive integer"):
        Conv2D(0, 3)
    with pytest.raises(ValueError, match="kernel_size must be a positive integer. Received: kernel_size=-3"):
        Conv2D(2, -3)
    with pytest.raises(ValueError, match="padding must be"):
        Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="unknown initialiser 'uniform'"):
        Conv2D(2, 3, init="uniform")


def test_config_rebuilds_and_params_use_fan_in():
    layer = Conv2D(6, 5, stride=1, padding=2, init="lecun")
    clone = Conv2D(**layer.config())
    assert clone.config() == layer.config()
    clone.build((1, 28, 28), np, np.random.default_rng(0))
    assert clone.param_count() == 6 * 25 + 6
    w = clone.params["W"]
    assert w.shape == (6, 1, 5, 5) and w.dtype == np.float32
    assert abs(float(w.std()) - (1 / 25) ** 0.5) < 0.06


def test_weight_gradient_on_large_images_uses_chunks_correctly(xp_backend):
    """Big images take the chunked weight-gradient GEMM; it must equal the plain sum over positions."""
    from nnstudio.engine.layers.conv import _chunk_count

    xp = xp_backend.xp
    rng = np.random.default_rng(5)
    layer = Conv2D(3, 3, padding=1)
    layer.build((2, 32, 32), xp, rng, np.float64)
    x = rng.normal(size=(20, 2, 32, 32))
    assert _chunk_count(32 * 32 * 20) > 1
    out = layer.forward(xp.asarray(x), training=True)
    g = rng.normal(size=out.shape)
    layer.backward(xp.asarray(g))
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.zeros((3, 2, 3, 3))
    for i in range(3):
        for j in range(3):
            expected[:, :, i, j] = np.einsum("nfhw,nchw->fc", g, padded[:, :, i:i + 32, j:j + 32])
    np.testing.assert_allclose(to_host(layer.grads["W"]), expected, rtol=1e-10)
    np.testing.assert_allclose(to_host(layer.grads["b"]), g.sum(axis=(0, 2, 3)), rtol=1e-10)


def test_one_by_one_kernel_and_batch_of_one(xp_backend):
    xp = xp_backend.xp
    rng = np.random.default_rng(6)
    errors = check_layer(Conv2D(3, 1), (4, 3, 5), xp, rng, batch=1)
    assert max(errors.values()) < 1e-6, errors
    layer = Conv2D(2, 3, stride=2, padding="same")
    layer.build((1, 9, 9), xp, rng, np.float64)
    x = rng.normal(size=(1, 1, 9, 9))
    out = to_host(layer.forward(xp.asarray(x)))
    expected = naive_conv(x, to_host(layer.params["W"]), to_host(layer.params["b"]), 2, layer.pads(9, 9))
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
