"""Small generated datasets for first lessons: logic gates, 2-D point clouds and 1-D regression.

Why this exists: a perceptron learning AND, or a two-layer net bending its decision boundary around a
circle, are the clearest first pictures of what training does.  Every set here is generated from a seed
(same seed, same arrays), in a playground-like scale: features roughly in [-1, 1] so the decision-boundary
panel can use one fixed view.

* ``and``, ``or``, ``xor``: the truth table on inputs {0, 1}; with the defaults (4 samples, no noise) the
  train and test sets are exactly the 4 rows.  Larger ``n_train`` repeats the rows with Gaussian ``noise``.
  Labels are 0/1 ints (a perceptron's loss maps them to -1/+1 itself).
* ``circle`` (1 = inside), ``gauss`` (two blobs), ``spiral`` (two arms), ``moons`` (two half circles):
  2-D, two balanced classes.
* ``linear`` (y = 2x + 1 + noise) and ``sine`` (y = sin(pi x) + noise): 1-D x in [-1, 1], float32 (N, 1)
  targets, ``num_classes == 0``.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnstudio.data.dataset import Dataset
from nnstudio.errors import UserError

LOGIC = {"and": np.array([0, 0, 0, 1]), "or": np.array([0, 1, 1, 1]), "xor": np.array([0, 1, 1, 0])}
CORNERS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def _check(name: str, n_train: int, n_test: int, noise: float) -> None:
    if int(n_train) < 1 or int(n_test) < 1:
        raise UserError(f"dataset '{name}': n_train and n_test must be at least 1, found {n_train} and {n_test}")
    if not noise >= 0:
        raise UserError(f"dataset '{name}': noise must be 0 or more, found {noise}")


def _logic(name: str, n_train: int, n_test: int, noise: float, seed: int) -> Dataset:
    _check(name, n_train, n_test, noise)
    rng = np.random.default_rng(seed)

    def part(n: int) -> tuple[np.ndarray, np.ndarray]:
        rows = np.arange(n) % 4
        x = CORNERS[rows] + rng.normal(0.0, noise, size=(n, 2)) if noise > 0 else CORNERS[rows]
        return x.astype(np.float32), LOGIC[name][rows].astype(np.int64)

    x_tr, y_tr = part(n_train)
    x_te, y_te = part(n_test)
    return Dataset(name, x_tr, y_tr, x_te, y_te, sample_shape=(2,), num_classes=2, class_names=["0", "1"],
                   task="classification",
                   description=f"{name.upper()} truth table on inputs 0/1 ({n_train} train / {n_test} test)",
                   source="generated")


def _circle(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    # Inside: radius up to 0.42; outside: a ring from 0.58 to 0.83 (playground's 0.5 r and 0.7..1 r of 5/6).
    n = y.size
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(y == 1, rng.uniform(0.0, 0.42, n), rng.uniform(0.58, 0.83, n))
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)


def _gauss(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    centre = np.where(y[:, None] == 1, 0.4, -0.4)
    return centre + rng.normal(0.0, 0.18, size=(y.size, 2))


def _spiral(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    t = rng.uniform(0.02, 1.0, y.size)
    angle = 1.75 * 2 * np.pi * t + np.pi * y
    radius = 0.9 * t
    return np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)


def _moons(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    theta = rng.uniform(0.0, np.pi, y.size)
    upper = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    lower = np.stack([1.0 - np.cos(theta), 0.5 - np.sin(theta)], axis=1)
    points = np.where(y[:, None] == 0, upper, lower)
    return (points - np.array([0.5, 0.25])) / 1.6


SHAPES: dict[str, tuple[Callable[[np.random.Generator, np.ndarray], np.ndarray], float, str]] = {
    "circle": (_circle, 0.05, "points inside (1) or outside (0) a circle"),
    "gauss": (_gauss, 0.0, "two Gaussian blobs"),
    "spiral": (_spiral, 0.03, "two interleaved spiral arms"),
    "moons": (_moons, 0.05, "two interleaving half circles"),
}


def _two_class(name: str, n_train: int, n_test: int, noise: float, seed: int) -> Dataset:
    _check(name, n_train, n_test, noise)
    make, _, text = SHAPES[name]
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    y = rng.permutation(np.arange(n) % 2)
    x = make(rng, y)
    if noise > 0:
        x = x + rng.normal(0.0, noise, size=x.shape)
    x = x.astype(np.float32)
    y = y.astype(np.int64)
    return Dataset(name, x[:n_train], y[:n_train], x[n_train:], y[n_train:], sample_shape=(2,), num_classes=2,
                   class_names=["0", "1"], task="classification",
                   description=f"{text} ({n_train} train / {n_test} test, noise {noise:g})", source="generated")


REGRESSIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], float, str]] = {
    "linear": (lambda x: 2.0 * x + 1.0, 0.1, "y = 2x + 1 + noise"),
    "sine": (lambda x: np.sin(np.pi * x), 0.05, "y = sin(pi x) + noise"),
}


def _regression(name: str, n_train: int, n_test: int, noise: float, seed: int) -> Dataset:
    _check(name, n_train, n_test, noise)
    func, _, text = REGRESSIONS[name]
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    x = rng.uniform(-1.0, 1.0, size=(n, 1))
    y = func(x) + (rng.normal(0.0, noise, size=(n, 1)) if noise > 0 else 0.0)
    x, y = x.astype(np.float32), y.astype(np.float32)
    return Dataset(name, x[:n_train], y[:n_train], x[n_train:], y[n_train:], sample_shape=(1,), num_classes=0,
                   class_names=[], task="regression",
                   description=f"{text}, x in [-1, 1] ({n_train} train / {n_test} test)", source="generated")


def default_noise(name: str) -> float:
    if name in LOGIC:
        return 0.0
    if name in SHAPES:
        return SHAPES[name][1]
    return REGRESSIONS[name][1]


def make_toy(name: str, n_train: int | None = None, n_test: int | None = None, noise: float | None = None,
             seed: int = 0) -> Dataset:
    """Generate toy set ``name``; None options take that set's defaults."""
    if name in LOGIC:
        maker, size = _logic, (4, 4)
    elif name in SHAPES:
        maker, size = _two_class, (400, 200)
    elif name in REGRESSIONS:
        maker, size = _regression, (200, 100)
    else:
        raise UserError(f"unknown toy dataset {name!r}; toy sets are {', '.join(TOY_NAMES)}")
    return maker(name, int(size[0] if n_train is None else n_train), int(size[1] if n_test is None else n_test),
                 float(default_noise(name) if noise is None else noise), int(seed))


TOY_NAMES = (*LOGIC, *SHAPES, *REGRESSIONS)
TOY_DESCRIPTIONS = {
    **{k: f"{k.upper()} truth table (perceptron lessons)" for k in LOGIC},
    **{k: f"2-D: {v[2]}" for k, v in SHAPES.items()},
    **{k: f"1-D regression: {v[2]}" for k, v in REGRESSIONS.items()},
}
