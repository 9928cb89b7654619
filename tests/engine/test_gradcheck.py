"""The gradient checker itself: it must agree with known derivatives and must catch a wrong backward."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from nnstudio.engine.backend import to_host
from nnstudio.engine.gradcheck import check_layer, check_model, numerical_gradient, relative_error
from nnstudio.engine.layers import Activation, Dense, Layer


def test_numerical_gradient_of_a_known_function(xp_backend):
    xp = xp_backend.xp
    x = xp.asarray(np.array([[0.5, -1.0, 2.0], [3.0, 0.0, -0.25]]))
    grad = numerical_gradient(lambda: float((x ** 3).sum()), x)
    np.testing.assert_allclose(grad, 3 * to_host(x) ** 2, rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(to_host(x), [[0.5, -1.0, 2.0], [3.0, 0.0, -0.25]])  # restored
    some = numerical_gradient(lambda: float((x ** 3).sum()), x, indices=[0, 4])
    np.testing.assert_allclose(some, [0.75, 0.0], atol=1e-8)


def test_numerical_gradient_refuses_float32_and_non_contiguous():
    with pytest.raises(ValueError, match="float64"):
        numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="contiguous"):
        numerical_gradient(lambda: 0.0, np.zeros((4, 4)).T[:, :2])


def test_relative_error():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == 0.0
    assert relative_error(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(2 ** 0.5)


class WrongDense(Dense):
    """A Dense whose backward forgets the transpose's scale: the checker must notice."""

    def backward(self, grad_out: Any) -> Any:
        dx = super().backward(grad_out)
        self.grads["W"] *= 1.01
        return dx * 0.5


def test_check_layer_catches_a_wrong_backward(xp_backend):
    errors = check_layer(WrongDense(3), (4,), xp_backend.xp, np.random.default_rng(0))
    assert errors["input"] > 0.1 and errors["W"] > 1e-3
    assert errors["b"] < 1e-6


def test_check_layer_refuses_a_float32_layer():
    layer = Dense(2)
    layer.build((3,), np, np.random.default_rng(0))
    with pytest.raises(ValueError, match="float64"):
        check_layer(layer, (3,), np, np.random.default_rng(0))


# -- a minimal sequential stand-in for the engine's Model contract -----------------------------------
@dataclass
class Node:
    id: str
    layer: Layer


class ChainModel:
    """parameters() / forward(x, training, logits) / backward(grad), as the Model contract describes."""

    def __init__(self, nodes: list[Node], in_shape: tuple[int, ...], xp: Any) -> None:
        self.nodes = nodes
        rng = np.random.default_rng(0)
        shape = in_shape
        for node in nodes:
            node.layer.build(shape, xp, rng, np.float64)
            shape = node.layer.output_shape(shape)
        self._skip_last = False

    def forward(self, x: Any, training: bool = False, capture: bool = False, logits: bool = False) -> Any:
        last = self.nodes[-1].layer
        self._skip_last = logits and isinstance(last, Activation) and last.function == "softmax"
        for node in self.nodes[:-1] if self._skip_last else self.nodes:
            x = node.layer.forward(x, training)
        return x

    def backward(self, grad: Any) -> Any:
        for node in reversed(self.nodes[:-1] if self._skip_last else self.nodes):
            grad = node.layer.backward(grad)
        return grad

    def parameters(self) -> list[tuple[str, Any, Any]]:
        return [(f"{n.id}/{k}", p, n.layer.grads[k]) for n in self.nodes for k, p in n.layer.params.items()]


class MSE:
    name, fuses_with = "mse", None

    def forward(self, out: Any, target: Any) -> tuple[float, Any]:
        diff = out - target
        return float((diff * diff).mean()), 2 * diff / diff.size


class SoftmaxCrossEntropy:
    name, fuses_with = "cross_entropy", "softmax"

    def forward(self, logits: Any, target: Any) -> tuple[float, Any]:
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        p = e / e.sum(axis=1, keepdims=True)
        n = logits.shape[0]
        loss = -float(np.log(p[np.arange(n), target]).mean())
        grad = p.copy()
        grad[np.arange(n), target] -= 1
        return loss, grad / n


def test_check_model_on_a_small_network():
    model = ChainModel([Node("d1", Dense(5)), Node("a1", Activation("tanh")), Node("d2", Dense(2))], (3,), np)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    rows = check_model(model, x, y, MSE(), max_entries=6)
    assert [(r[0], r[1]) for r in rows] == [("d1", "W"), ("d1", "b"), ("d2", "W"), ("d2", "b")]
    assert all(err < 1e-6 for _, _, err in rows), rows


def test_check_model_fused_softmax_loss_and_a_wrong_gradient():
    model = ChainModel([Node("d1", Dense(3)), Node("sm", Activation("softmax"))], (4,), np)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(5, 4)), rng.integers(0, 3, size=5)
    rows = check_model(model, x, y, SoftmaxCrossEntropy(), max_entries=0)
    assert all(err < 1e-6 for _, _, err in rows), rows
    broken = ChainModel([Node("d1", WrongDense(3))], (4,), np)
    rows = check_model(broken, x, rng.normal(size=(5, 3)), MSE())
    errors = dict(((node, name), err) for node, name, err in rows)
    assert errors[("d1", "W")] > 1e-3 and errors[("d1", "b")] < 1e-6


def test_check_model_real_model_fused_softmax_cross_entropy():
    """The whole-model check agrees with backprop on a real Model ending in softmax + cross-entropy."""
    from nnstudio.engine.layers import Activation, Dense
    from nnstudio.engine.losses import get_loss
    from nnstudio.engine.model import InputLayer, Model, ModelNode
    from nnstudio.engine.gradcheck import check_model

    nodes = [ModelNode("in", InputLayer(), []), ModelNode("d1", Dense(5), ["in"]),
             ModelNode("a1", Activation("tanh"), ["d1"]), ModelNode("d2", Dense(3), ["a1"]),
             ModelNode("out", Activation("softmax"), ["d2"])]
    model = Model(nodes, "in", "out").build((4,), np, seed=1, dtype=np.float64)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(6, 4))
    y = rng.integers(0, 3, size=6)
    results = check_model(model, x, y, get_loss("cross_entropy"), max_entries=0)
    assert results and max(err for _, _, err in results) < 1e-6
