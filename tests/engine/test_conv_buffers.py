"""Conv2D reuses its column and gradient buffers between steps: results stay those of a fresh layer, across
batch sizes and modes, and nothing it hands out (outputs, input gradients) is overwritten later."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.layers import Conv2D


def _pair(padding, stride, seed=0):
    layers = []
    for _ in range(2):
        layer = Conv2D(5, 3, stride=stride, padding=padding)
        layer.build((3, 9, 8), np, np.random.default_rng(seed), np.float64)
        layers.append(layer)
    return layers


@pytest.mark.parametrize("padding,stride", [(1, 1), (0, 2), ("same", 1)])
def test_reused_buffers_give_the_results_of_a_fresh_layer(padding, stride):
    reused, _ = _pair(padding, stride)
    rng = np.random.default_rng(1)
    kept = []
    for batch, training in ((4, True), (4, True), (7, False), (4, True), (1, False), (4, True)):
        x = rng.normal(size=(batch, 3, 9, 8))
        fresh = _pair(padding, stride)[1]  # same weights, never used before
        out = reused.forward(x, training)
        np.testing.assert_allclose(out, fresh.forward(x, training), rtol=1e-12, atol=1e-12)
        g = rng.normal(size=out.shape)
        dx = reused.backward(g)
        np.testing.assert_allclose(dx, fresh.backward(g), rtol=1e-12, atol=1e-12)
        for name in ("W", "b"):
            np.testing.assert_allclose(reused.grads[name], fresh.grads[name], rtol=1e-12, atol=1e-12)
        kept.append((out, out.copy(), dx, dx.copy()))
    for out, out_then, dx, dx_then in kept:  # what the layer handed out earlier was not overwritten
        np.testing.assert_array_equal(out, out_then)
        np.testing.assert_array_equal(dx, dx_then)


def test_training_steps_at_one_batch_size_reuse_the_same_buffers():
    layer = _pair(1, 1)[0]
    x = np.random.default_rng(2).normal(size=(4, 3, 9, 8))
    layer.backward(np.ones_like(layer.forward(x, True)))
    buffers = [id(layer._col_buffer), id(layer._dcol_buffer), id(layer._grad_buffer), id(layer._dxpad_buffer)]
    layer.backward(np.ones_like(layer.forward(x, True)))
    assert [id(layer._col_buffer), id(layer._dcol_buffer), id(layer._grad_buffer),
            id(layer._dxpad_buffer)] == buffers
    layer.forward(x[:2], False)  # evaluation at another batch size keeps no columns of its own
    assert id(layer._col_buffer) == buffers[0]


def test_big_batches_take_the_tiled_copies_and_still_match_a_direct_convolution():
    # Sizes past the thresholds of copy_transposed and of the per-channel input-gradient copy.
    layer = Conv2D(16, 3, padding=1)
    layer.build((4, 32, 32), np, np.random.default_rng(3), np.float32)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(64, 4, 32, 32)).astype(np.float32)
    out = layer.forward(x, True)
    assert out.size >= 1 << 20
    w = layer.params["W"].astype(np.float64)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(xp, (3, 3), axis=(2, 3))  # (N, C, 32, 32, 3, 3)
    expected = np.einsum("nchwij,fcij->nfhw", windows, w) + layer.params["b"][None, :, None, None]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    g = rng.normal(size=out.shape).astype(np.float32)
    dx = layer.backward(g)
    # The input gradient of a stride-1 convolution is the full correlation with the flipped kernel.
    gp = np.pad(g.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    gwin = np.lib.stride_tricks.sliding_window_view(gp, (3, 3), axis=(2, 3))
    expected_dx = np.einsum("nfhwij,fcij->nchw", gwin, w[:, :, ::-1, ::-1])
    np.testing.assert_allclose(dx, expected_dx, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(layer.grads["W"], np.einsum("nchwij,nfhw->fcij", windows, g.astype(np.float64)),
                               rtol=1e-3, atol=1e-2)
