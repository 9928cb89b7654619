"""L1 / L2 penalties: their gradients against finite differences in float64, only weights (never biases),
the training loss the trainer reports includes the penalty, L1 drives weights to zero, and the settings check."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.data.toy import make_toy
from nnstudio.engine.gradcheck import numerical_gradient, relative_error
from nnstudio.engine.losses import get_loss
from nnstudio.engine.regularization import Regularizer
from nnstudio.errors import UserError
from nnstudio.graph.compile import compile_graph
from nnstudio.graph.document import Graph
from nnstudio.training.config import TrainingConfig
from nnstudio.training.events import BatchReport
from nnstudio.training.trainer import Trainer


def chain(shape: list[int], layers: list[tuple[str, dict]]) -> Graph:
    nodes = [{"id": "in", "type": "Input", "params": {"shape": shape}}]
    nodes += [{"id": f"n{i}", "type": t, "params": p} for i, (t, p) in enumerate(layers, start=1)]
    ids = [n["id"] for n in nodes]
    return Graph.from_dict({"nodes": nodes, "edges": [{"from": a, "to": b} for a, b in zip(ids, ids[1:])]})


GRAPHS = {
    "mlp": (chain([3], [("Dense", {"units": 4}), ("Activation", {"function": "tanh"}), ("Dense", {"units": 3}),
                        ("Activation", {"function": "softmax"})]), (3,)),
    "cnn": (chain([1, 5, 5], [("Conv2D", {"filters": 2, "kernel_size": 3}), ("BatchNorm", {}),
                              ("Activation", {"function": "sigmoid"}), ("Flatten", {}), ("Dense", {"units": 3}),
                              ("Activation", {"function": "softmax"})]), (1, 5, 5)),
}


@pytest.mark.parametrize("name", sorted(GRAPHS))
@pytest.mark.parametrize("l1,l2", [(0.05, 0.0), (0.0, 0.07), (0.03, 0.02)])
def test_penalised_gradients_match_finite_differences(name, l1, l2):
    graph, shape = GRAPHS[name]
    model = compile_graph(graph, backend="numpy", seed=2, dtype=np.float64)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, *shape))
    y = rng.integers(0, 3, 5)
    loss = get_loss("cross_entropy")
    reg = Regularizer(l1, l2)

    def objective() -> float:
        value, _ = loss.value_and_grad(model.forward(x, training=False, logits=True), y, True)
        return float(value) + reg.penalty(model)

    _, grad = loss.value_and_grad(model.forward(x, training=False, logits=True), y, True)
    model.backward(grad)
    reg.add_gradients(model)
    analytic = {key: g.copy() for key, _, g in model.parameters()}
    for key, param, _ in model.parameters():
        numeric = numerical_gradient(objective, param)
        assert relative_error(analytic[key], numeric) < 1e-6, key


def test_only_weights_are_penalised_and_by_the_documented_amount():
    graph, shape = GRAPHS["cnn"]
    model = compile_graph(graph, backend="numpy", seed=3, dtype=np.float64)
    for _, _, g in model.parameters():
        g[...] = 0.0
    reg = Regularizer(0.1, 0.25)
    reg.add_gradients(model)
    weights = {key for key, _, _ in reg.weights(model)}
    assert weights == {"n1/W", "n5/W"}  # the Conv2D and Dense weights; no biases, no BatchNorm gamma / beta
    expected_penalty = 0.0
    for key, param, grad in model.parameters():
        if key in weights:
            np.testing.assert_allclose(grad, 0.1 * np.sign(param) + 0.5 * param)
            expected_penalty += 0.1 * np.abs(param).sum() + 0.25 * (param ** 2).sum()
        else:
            assert not grad.any(), key
    assert reg.penalty(model) == pytest.approx(expected_penalty)
    assert Regularizer().penalty(model) == 0.0 and not Regularizer().active


def _first_loss(graph: Graph, **settings) -> float:
    config = TrainingConfig(dataset="moons", loss="cross_entropy", optimizer="sgd", learning_rate=0.1,
                            batch_size=50, epochs=1, seed=0, validation_split=0.0, hints=False, **settings)
    data = make_toy("moons", n_train=100, n_test=20)
    return next(e.loss for e in Trainer(graph, data, config, "numpy").run() if isinstance(e, BatchReport))


def test_the_reported_training_loss_includes_the_penalty():
    graph = chain([2], [("Dense", {"units": 8}), ("Activation", {"function": "relu"}), ("Dense", {"units": 2}),
                        ("Activation", {"function": "softmax"})])
    plain = _first_loss(graph)
    start = compile_graph(graph, backend="numpy", seed=0)
    penalty = Regularizer(0.01, 0.2).penalty(start)
    assert penalty > 0.1
    assert _first_loss(graph, l1=0.01, l2=0.2) == pytest.approx(plain + penalty, rel=1e-5)


def test_l1_drives_weights_to_zero_where_l2_only_shrinks_them():
    graph = chain([2], [("Dense", {"units": 8}), ("Activation", {"function": "tanh"}), ("Dense", {"units": 2}),
                        ("Activation", {"function": "softmax"})])
    data = make_toy("gauss", n_train=200, n_test=20)

    def trained(**rates) -> np.ndarray:
        config = TrainingConfig(dataset="gauss", loss="cross_entropy", optimizer="sgd", learning_rate=0.05,
                                batch_size=20, epochs=40, seed=1, validation_split=0.0, hints=False, **rates)
        trainer = Trainer(graph, data, config, "numpy")
        list(trainer.run())
        return np.concatenate([trainer.state_dict()[k].ravel() for k in ("n1/W", "n3/W")])

    l1, l2 = trained(l1=0.05), trained(l2=0.05)
    near_zero = lambda w: int((np.abs(w) < 1e-2).sum())  # noqa: E731
    assert near_zero(l1) >= 12 and near_zero(l2) <= 1  # of 32 weights: L1 zeroes many, L2 only shrinks them


@pytest.mark.parametrize("field,value,expected", [("l1", -0.1, "at least 0 and at most 10"),
                                                   ("l2", 11, "at least 0 and at most 10"),
                                                   ("l1", "a lot", "a number")])
def test_rates_are_checked(field, value, expected):
    with pytest.raises(UserError, match=f"training.{field} must be {expected}. Received: {field}="):
        TrainingConfig.from_dict({field: value})
    assert TrainingConfig.from_dict({}).l1 == 0.0 and TrainingConfig.from_dict({}).l2 == 0.0
