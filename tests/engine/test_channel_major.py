"""The channel-major batch layout: a layer gives the same outputs and gradients whether its (N, C, H, W) input is
laid out in memory as NCHW or as (C, H, W, N), and a convolution chain stays channel-major until it is
flattened (so no layer in between transposes)."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.layers import Activation, BatchNorm, Conv2D, Dense, Dropout, Flatten, Pool2D, Reshape
from nnstudio.engine.layers.layout import batch_view, channel_major, flat_batch, is_channel_major, like_layout
from nnstudio.engine.model import Model, ModelNode


def _cm(x):
    """The same batch, laid out channel-major."""
    return batch_view(np.ascontiguousarray(x.transpose(1, 2, 3, 0)))


def test_helpers_convert_views_and_copies_exactly():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 3, 4, 6))
    cm = _cm(x)
    assert is_channel_major(cm) and not is_channel_major(x)
    assert np.shares_memory(channel_major(cm), cm)  # already channel-major: a view
    np.testing.assert_array_equal(channel_major(x), x.transpose(1, 2, 3, 0))
    flat = flat_batch(cm)
    assert flat.flags.c_contiguous and flat.shape == (5, 72)
    np.testing.assert_array_equal(flat, x.reshape(5, -1))
    back = like_layout(x, True)
    assert is_channel_major(back)
    np.testing.assert_array_equal(back, x)
    assert like_layout(x, False) is x
    big = rng.normal(size=(64, 16, 40, 30)).astype(np.float32)  # large enough for the tiled copies
    np.testing.assert_array_equal(flat_batch(_cm(big)), big.reshape(64, -1))
    np.testing.assert_array_equal(channel_major(big), big.transpose(1, 2, 3, 0))


def _layers():
    return [
        ("conv-same", lambda: Conv2D(4, 3, padding=1)),
        ("conv-valid-stride", lambda: Conv2D(4, (3, 2), stride=(2, 1), padding=0)),
        ("bn", lambda: BatchNorm()),
        ("relu", lambda: Activation("relu")),
        ("tanh", lambda: Activation("tanh")),
        ("max2", lambda: Pool2D("max", 2)),
        ("max3s2p1", lambda: Pool2D("max", 3, 2, 1)),
        ("avg2", lambda: Pool2D("avg", 2)),
        ("avg3s1p1", lambda: Pool2D("avg", 3, 1, 1)),
        ("dropout", lambda: Dropout(0.4)),
        ("dense", lambda: Dense(5)),
        ("flatten", lambda: Flatten()),
        ("reshape", lambda: Reshape([-1, 6])),
    ]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("name,make", _layers(), ids=[n for n, _ in _layers()])
def test_each_layer_agrees_across_layouts(name, make, training):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 3, 8, 6))
    if name.startswith("max"):
        x = x + np.arange(x.size).reshape(x.shape) * 1e-3  # no ties: one winner per window either way
    results = []
    for layout in ("nchw", "cm"):
        layer = make()
        layer.build((3, 8, 6), np, np.random.default_rng(7), np.float64)
        layer.needs_input_grad = True
        inp = x if layout == "nchw" else _cm(x)
        out = layer.forward(inp, training)
        g = np.random.default_rng(2).normal(size=out.shape)
        dx = layer.backward(g if layout == "nchw" or g.ndim != 4 else _cm(g))
        results.append((out, dx, {k: v.copy() for k, v in layer.grads.items()}))
    (out_a, dx_a, grads_a), (out_b, dx_b, grads_b) = results
    assert out_a.shape == out_b.shape and dx_a.shape == dx_b.shape == x.shape
    np.testing.assert_allclose(out_b, out_a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx_b, dx_a, rtol=1e-12, atol=1e-12)
    for key in grads_a:
        np.testing.assert_allclose(grads_b[key], grads_a[key], rtol=1e-12, atol=1e-12)


def _cnn(batchnorm=True):
    nodes = [ModelNode("conv1", Conv2D(4, 3, padding=1), ["input"])]
    prev = "conv1"
    if batchnorm:
        nodes.append(ModelNode("bn1", BatchNorm(), [prev]))
        prev = "bn1"
    nodes += [ModelNode("relu1", Activation("relu"), [prev]),
              ModelNode("pool1", Pool2D("max", 2), ["relu1"]),
              ModelNode("conv2", Conv2D(6, 3, padding=0), ["pool1"]),
              ModelNode("relu2", Activation("relu"), ["conv2"]),
              ModelNode("flat", Flatten(), ["relu2"]),
              ModelNode("dense", Dense(3), ["flat"])]
    return Model(nodes, "input", "dense").build((2, 10, 10), np, seed=3, dtype=np.float64)


def test_a_convolution_chain_stays_channel_major_until_it_is_flattened():
    model = _cnn()
    x = np.random.default_rng(4).normal(size=(5, 2, 10, 10))
    model.forward(x, training=True, capture=True)
    for nid in ("conv1", "bn1", "relu1", "pool1", "conv2", "relu2"):
        assert is_channel_major(model.activations[nid]), nid
    assert model.activations["flat"].flags.c_contiguous


@pytest.mark.parametrize("batchnorm", [True, False])
def test_the_network_matches_one_run_layer_by_layer_in_nchw(batchnorm):
    """Every layer fed ordinary NCHW copies of its inputs gives the same outputs and gradients as the model,
    whose layers pass channel-major views along."""
    model, reference = _cnn(batchnorm), _cnn(batchnorm)
    x = np.random.default_rng(5).normal(size=(4, 2, 10, 10))
    out = model.forward(x, training=True)
    g = np.random.default_rng(6).normal(size=out.shape)
    dx = model.backward(g, need_input_grad=True)
    values = {"input": x}
    for nid in reference.order[1:]:
        node = reference.nodes[nid]
        values[nid] = np.ascontiguousarray(node.layer.forward(np.ascontiguousarray(values[node.inputs[0]]), True))
    np.testing.assert_allclose(out, values["dense"], rtol=1e-12, atol=1e-12)
    reference.set_input_grad(True)
    grad = g
    for nid in reversed(reference.order[1:]):
        grad = np.ascontiguousarray(reference.nodes[nid].layer.backward(np.ascontiguousarray(grad)))
    np.testing.assert_allclose(dx, grad, rtol=1e-12, atol=1e-12)
    for (key, _p, got), (_k, _q, want) in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, err_msg=key)
