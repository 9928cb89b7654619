"""Backpropagation agrees with finite differences on every example project and on typical graphs.

This is what the GUI's gradient-check table does (compile in float64, a small batch, zero biases moved off
ReLU's kink), run on the shipped examples so an engine bug or a broken example shows up here first.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnstudio.engine.gradcheck import check_model
from nnstudio.engine.losses import get_loss
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import load_project
from nnstudio.resources_path import resource
from nnstudio.teaching import (THRESHOLD, behind_step_function, gradient_check, move_off_kinks, random_targets,
                               teaching_batch, teaching_model)


def _examples() -> list[Path]:
    folder = resource("examples")
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def _check(graph: Graph, training: dict, batch: int = 3) -> list[tuple[str, str, float]]:
    model = teaching_model(graph)
    move_off_kinks(model)
    data = teaching_batch(model, training, n=batch)
    loss = get_loss(training.get("loss", "cross_entropy"))
    return check_model(model, model.xp.asarray(data.x), model.xp.asarray(data.y), loss, max_entries=6,
                       logits=loss.fuses_with or False)


def _chain(*blocks: tuple[str, dict]) -> Graph:
    g = Graph()
    ids = []
    for i, (kind, params) in enumerate(blocks):
        ids.append(g.add_node(kind, params, node_id=f"n{i}").id)
    for a, b in zip(ids, ids[1:]):
        g.connect(a, b)
    return g


def _residual() -> Graph:
    g = Graph()
    g.add_node("Input", {"shape": [2]}, node_id="x")
    g.add_node("Dense", {"units": 6}, node_id="d1")
    g.add_node("Activation", {"function": "tanh"}, node_id="t1")
    g.add_node("Dense", {"units": 6}, node_id="d2")
    g.add_node("Add", {}, node_id="add")
    g.add_node("BatchNorm", {}, node_id="bn")
    g.add_node("Dense", {"units": 3}, node_id="out")
    g.add_node("Activation", {"function": "softmax"}, node_id="sm")
    for a, b in [("x", "d1"), ("d1", "t1"), ("t1", "d2"), ("t1", "add"), ("d2", "add"), ("add", "bn"),
                 ("bn", "out"), ("out", "sm")]:
        g.connect(a, b)
    return g


BUILT = {
    "lenet_on_mnist": (_chain(("Input", {"shape": [1, 28, 28]}),
                              ("Conv2D", {"filters": 3, "kernel_size": 5, "padding": 2}),
                              ("Activation", {"function": "relu"}), ("Pool2D", {"mode": "max"}),
                              ("Conv2D", {"filters": 4, "kernel_size": 3}), ("Activation", {"function": "relu"}),
                              ("Pool2D", {"mode": "avg"}), ("Flatten", {}), ("Dropout", {"rate": 0.3}),
                              ("Dense", {"units": 10}), ("Activation", {"function": "softmax"})),
                       {"dataset": "mnist", "loss": "cross_entropy"}),
    "logistic": (_chain(("Input", {"shape": [2]}), ("Dense", {"units": 1}), ("Activation", {"function": "sigmoid"})),
                 {"dataset": "no-such-dataset", "loss": "binary_cross_entropy"}),
    "regression": (_chain(("Input", {"shape": [1]}), ("Dense", {"units": 8}), ("Activation", {"function": "tanh"}),
                          ("Dense", {"units": 1})), {"loss": "mse"}),
    "residual": (_residual(), {"loss": "cross_entropy"}),
}


@pytest.mark.parametrize("name", sorted(BUILT))
def test_gradient_check_passes_on_typical_graphs(name: str) -> None:
    graph, training = BUILT[name]
    results = _check(graph, training)
    assert results, "every graph here has weights"
    bad = [(n, p, e) for n, p, e in results if not e < THRESHOLD]
    assert not bad, f"{name}: gradients disagree: {bad}"


def test_gradient_check_catches_a_wrong_backward() -> None:
    graph, training = BUILT["regression"]
    model = teaching_model(graph)
    dense = model.layer("n1")
    original = dense.backward

    def broken(grad):  # forgets half the weight gradient: the check must notice
        out = original(grad)
        dense.grads["W"] *= 0.5
        return out

    dense.backward = broken
    data = teaching_batch(model, training, n=3)
    results = check_model(model, data.x, data.y, get_loss("mse"), max_entries=6)
    errors = {(n, p): e for n, p, e in results}
    assert errors[("n1", "W")] > 0.1
    assert errors[("n3", "W")] < THRESHOLD


def test_teaching_batch_uses_the_dataset_when_it_fits_else_random() -> None:
    graph, training = BUILT["lenet_on_mnist"]
    model = teaching_model(graph)
    data = teaching_batch(model, training, n=5)
    assert data.source == "mnist" and data.x.shape == (5, 1, 28, 28) and data.x.dtype == np.float64
    assert data.y.shape == (5,)
    graph, training = BUILT["logistic"]
    model = teaching_model(graph)
    data = teaching_batch(model, training, n=4)
    assert data.source == "random" and "no-such-dataset" in data.reason
    assert set(np.unique(data.y)) <= {0.0, 1.0} and data.y.shape == (4, 1)


def test_random_targets_fit_each_loss() -> None:
    rng = np.random.default_rng(0)
    assert random_targets("cross_entropy", (4, 10), 3, rng).shape == (3, 4)
    assert set(np.unique(random_targets("perceptron", (1,), 50, rng))) == {-1.0, 1.0}
    assert random_targets("mse", (2,), 3, rng).dtype == np.float64


@pytest.mark.skipif(not _examples(), reason="no example projects installed in resources/examples")
@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.stem)
def test_gradient_check_passes_on_every_example_project(path: Path) -> None:
    project = load_project(path)
    result = gradient_check(project.graph, project.training, batch=3, max_entries=6)
    assert result.rows, f"{path.name} has no weights"
    bad = [r for r in result.rows if not r.passed]
    assert not bad, f"{path.name}: gradients disagree: {bad}"
    assert result.checked or all(not r.applicable for r in result.rows)


def test_tiny_gradients_pass_with_the_larger_step_and_sign_steps_are_not_judged() -> None:
    # Seven sigmoid layers: the first layers' gradients are so small that ε = 1e-6 drowns in rounding.
    blocks: list[tuple[str, dict]] = [("Input", {"shape": [2]})]
    for _ in range(7):
        blocks += [("Dense", {"units": 8, "init": "glorot"}), ("Activation", {"function": "sigmoid"})]
    blocks += [("Dense", {"units": 2}), ("Activation", {"function": "softmax"})]
    graph = _chain(*blocks)
    small_step_only = _check(graph, {"loss": "cross_entropy"})
    assert max(e for _, _, e in small_step_only) > THRESHOLD
    result = gradient_check(graph, {"loss": "cross_entropy"}, batch=3, max_entries=6)
    assert result.passed and len(result.checked) == 16
    perceptron = _chain(("Input", {"shape": [2]}), ("Dense", {"units": 1}), ("Activation", {"function": "sign"}))
    model = teaching_model(perceptron)
    assert behind_step_function(model) == {"n1"}
    result = gradient_check(perceptron, {"loss": "perceptron"}, batch=4)
    assert [r.applicable for r in result.rows] == [False, False] and result.passed and not result.checked
