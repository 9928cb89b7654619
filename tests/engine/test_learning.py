"""End to end: the engine actually learns (MLP on moons, perceptron, logistic unit, small CNN on images)."""
from __future__ import annotations

from typing import Any

import numpy as np

from nnstudio.engine.backend import to_host
from nnstudio.engine.layers import Activation, Conv2D, Dense, Flatten, Pool2D
from nnstudio.engine.losses import accuracy, get_loss
from nnstudio.engine.model import Model, ModelNode
from nnstudio.engine.optimizers import make_optimizer, make_schedule


def make_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles in 2-D, labels 0 / 1."""
    half = n // 2
    t = rng.uniform(0, np.pi, size=n)
    upper = np.stack([np.cos(t[:half]), np.sin(t[:half])], axis=1)
    lower = np.stack([1 - np.cos(t[half:]), 0.5 - np.sin(t[half:])], axis=1)
    x = np.concatenate([upper, lower]) + rng.normal(0, noise, size=(n, 2))
    y = np.concatenate([np.zeros(half, dtype=np.int64), np.ones(n - half, dtype=np.int64)])
    return ((x - x.mean(axis=0)) / x.std(axis=0)).astype(np.float32), y


def chain(*layers: Any, input_id: str = "in") -> Model:
    nodes, prev = [ModelNode(input_id, None, [])], input_id
    for i, layer in enumerate(layers):
        nodes.append(ModelNode(f"n{i}", layer, [prev]))
        prev = f"n{i}"
    return Model(nodes, input_id, prev)


def fit(model: Model, x: Any, y: Any, loss_name: str, optimizer: Any, epochs: int, batch: int,
        seed: int = 0, schedule: Any = None) -> list[float]:
    """Mini-batch training on device arrays; returns the mean loss of each epoch."""
    loss = get_loss(loss_name)
    rng = np.random.default_rng(seed)
    history, step = [], 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        values = []
        for i in range(0, len(x), batch):
            idx = model.xp.asarray(order[i:i + batch])
            lr = schedule(step) if schedule else None
            values.append(model.train_step(x[idx], y[idx], loss, optimizer, lr)[0])
            step += 1
        history.append(float(np.mean(values)))
    return history


def test_mlp_learns_two_moons(xp_backend):
    xp = xp_backend.xp
    x_host, y_host = make_moons(400, 0.1, np.random.default_rng(0))
    x, y = xp.asarray(x_host), xp.asarray(y_host)
    model = chain(Dense(32), Activation("relu"), Dense(32), Activation("relu"), Dense(2),
                  Activation("softmax")).build((2,), xp, seed=0)
    history = fit(model, x, y, "cross_entropy", make_optimizer("adam", 0.01), epochs=40, batch=32)
    assert history[-1] < 0.2 * history[0]
    result = accuracy(xp.asarray(model.predict(x_host)), y, "cross_entropy")
    assert result.value > 0.97, result


def test_logistic_output_with_fused_sigmoid_learns_moons(xp_backend):
    xp = xp_backend.xp
    x_host, y_host = make_moons(300, 0.1, np.random.default_rng(1))
    model = chain(Dense(24), Activation("tanh"), Dense(24), Activation("tanh"), Dense(1),
                  Activation("sigmoid")).build((2,), xp, seed=1)
    opt = make_optimizer("nesterov", 0.1, momentum=0.9)
    fit(model, xp.asarray(x_host), xp.asarray(y_host.astype(np.float32)), "binary_cross_entropy", opt,
        epochs=60, batch=30, schedule=make_schedule("cosine", 0.1, 600))
    probs = model.predict(x_host)
    assert probs.min() >= 0 and probs.max() <= 1
    assert accuracy(probs, y_host, "binary_cross_entropy").value > 0.97


def test_perceptron_with_sign_output_separates_linear_data(xp_backend):
    xp = xp_backend.xp
    rng = np.random.default_rng(2)
    x_host = rng.normal(size=(200, 3)).astype(np.float32)
    y_host = np.where(x_host @ np.array([1.0, -2.0, 0.5]) + 0.3 > 0, 1, -1)
    model = chain(Dense(1, init="zeros"), Activation("sign")).build((3,), xp, seed=0)
    fit(model, xp.asarray(x_host), xp.asarray(y_host), "perceptron", make_optimizer("sgd", 0.1),
        epochs=30, batch=20)
    assert accuracy(model.predict(x_host), y_host, "perceptron").value >= 0.98


def make_patterns(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-shaped (1, 28, 28) images of 4 classes: a horizontal bar, a vertical bar, a diagonal, a box,
    each at a random place, on noise."""
    y = rng.integers(0, 4, size=n)
    x = rng.normal(0, 0.3, size=(n, 1, 28, 28)).astype(np.float32)
    r = rng.integers(4, 20, size=n)
    c = rng.integers(4, 20, size=n)
    rows, cols = np.indices((28, 28))
    dr = rows[None] - r[:, None, None]
    dc = cols[None] - c[:, None, None]
    inside = (np.abs(dr) <= 4) & (np.abs(dc) <= 4)
    shapes = np.stack([inside & (np.abs(dr) <= 1),                                  # horizontal bar
                       inside & (np.abs(dc) <= 1),                                  # vertical bar
                       inside & (np.abs(dr - dc) <= 1),                             # diagonal
                       inside & ((np.abs(dr) == 4) | (np.abs(dc) == 4))])           # box outline
    x[:, 0] += 2.0 * shapes[y, np.arange(n)]
    return x, y


def test_small_cnn_learns_image_patterns(xp_backend):
    xp = xp_backend.xp
    x_host, y_host = make_patterns(256, np.random.default_rng(3))
    model = chain(Conv2D(6, 5, padding=2), Activation("relu"), Pool2D("max", 2),
                  Conv2D(8, 3), Activation("relu"), Pool2D("max", 2),
                  Flatten(), Dense(4), Activation("softmax")).build((1, 28, 28), xp, seed=0)
    before = accuracy(xp.asarray(model.predict(x_host)), xp.asarray(y_host), "cross_entropy").value
    history = fit(model, xp.asarray(x_host), xp.asarray(y_host), "cross_entropy",
                  make_optimizer("momentum", 0.02, momentum=0.9), epochs=6, batch=32)
    assert history[-1] < 0.5 * history[0], history
    x_test, y_test = make_patterns(128, np.random.default_rng(4))
    after = accuracy(model.predict(x_test), y_test, "cross_entropy").value
    assert after > 0.8 and after > before + 0.3, (before, after)
    assert np.all(np.isfinite(to_host(model.layer("n0").params["W"])))
