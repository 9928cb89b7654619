"""Cross-check against PyTorch CPU (skipped when it is not installed): LeNet forward and all gradients."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.backend import to_host
from nnstudio.engine.layers import Activation, Conv2D, Dense, Flatten, Pool2D

torch = pytest.importorskip("torch")


def test_lenet_matches_torch_forward_and_backward(xp_backend):
    xp = xp_backend.xp
    rng = np.random.default_rng(0)
    ours = [Conv2D(6, 5, padding=2), Activation("relu"), Pool2D("max", 2), Conv2D(16, 5, stride=1),
            Activation("tanh"), Pool2D("avg", 3, 2), Flatten(), Dense(20), Activation("sigmoid"), Dense(10),
            Activation("softmax")]
    shape = (1, 28, 28)
    for layer in ours:
        layer.build(shape, xp, rng, np.float64)
        shape = layer.output_shape(shape)
    nn = torch.nn
    theirs = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
                           nn.Tanh(), nn.AvgPool2d(3, 2), nn.Flatten(), nn.Linear(16 * 4 * 4, 20), nn.Sigmoid(),
                           nn.Linear(20, 10), nn.Softmax(dim=1)).double()
    pairs = [(ours[0], theirs[0]), (ours[3], theirs[3]), (ours[7], theirs[7]), (ours[9], theirs[9])]
    with torch.no_grad():
        for mine, ref in pairs:
            w = to_host(mine.params["W"])
            ref.weight.copy_(torch.from_numpy(w if w.ndim == 4 else w.T.copy()))
            ref.bias.copy_(torch.from_numpy(rng.normal(size=ref.bias.shape)))
            mine.params["b"][...] = xp.asarray(ref.bias.numpy())
    x = rng.random((5, 1, 28, 28))
    g = rng.normal(size=(5, 10))
    h = xp.asarray(x)
    for layer in ours:
        h = layer.forward(h, training=True)
    grad = xp.asarray(g)
    for layer in reversed(ours):
        grad = layer.backward(grad)
    tx = torch.from_numpy(x).requires_grad_(True)
    tout = theirs(tx)
    tout.backward(torch.from_numpy(g))
    np.testing.assert_allclose(to_host(h), tout.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(to_host(grad), tx.grad.numpy(), rtol=1e-7, atol=1e-12)
    for mine, ref in pairs:
        w_grad = ref.weight.grad.numpy()
        np.testing.assert_allclose(to_host(mine.grads["W"]), w_grad if w_grad.ndim == 4 else w_grad.T,
                                   rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(to_host(mine.grads["b"]), ref.bias.grad.numpy(), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("stride,padding", [(2, 1), (3, 0), (1, 2)])
def test_strided_conv_matches_torch(stride, padding):
    rng = np.random.default_rng(1)
    layer = Conv2D(4, (3, 2), stride=stride, padding=padding)
    layer.build((3, 11, 10), np, rng, np.float64)
    x = rng.normal(size=(2, 3, 11, 10))
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(layer.params["W"]),
                                          torch.from_numpy(layer.params["b"]), stride=stride, padding=padding)
    np.testing.assert_allclose(layer.forward(x), expected.numpy(), rtol=1e-10, atol=1e-12)
