"""Small generated datasets for first lessons: logic gates, 2-D point clouds and 1-D regression.

Why this exists: a perceptron learning AND, or a two-layer net bending its decision boundary around a
circle, are the clearest first pictures of what training does.  Every set here is generated from a seed
(same seed, same arrays), in a playground-like scale: features roughly in [-1, 1] so the decision-boundary
panel can use one fixed view.

* ``and``, ``or``, ``xor``: the truth table on inputs {0, 1}; with the defaults (4 samples, no noise) the
  train and test sets are exactly the 4 rows.  Larger ``n_train`` repeats the rows with Gaussian ``noise``.
  Labels are 0/1 ints (a perceptron's loss maps them to -1/+1 itself).
* ``circle`` (1 = inside), ``gauss`` (two blobs), ``spiral`` (two arms), ``moons`` (two half circles),
  ``xor-quadrants`` (Playground's XOR: class 1 where x1 and x2 have different signs): 2-D, two balanced classes.
* ``linear`` (y = 2x + 1 + noise) and ``sine`` (y = sin(pi x) + noise): 1-D x in [-1, 1], float32 (N, 1)
  targets, ``num_classes == 0``.
* ``plane``: 2-D regression, y = (x1 + x2) / 2 + noise for x uniform in [-1, 1]^2.

Sizes are given either as ``n_train`` / ``n_test`` or, as in TensorFlow Playground, as ``points`` (the total)
and ``train_ratio`` (the training share); both forms split one generated set, so 600 points at 2/3 are the
same arrays as 400 / 200.  ``added_points`` (a list of ``[x1, x2, class]``, the class being the target value
for ``plane``) are appended to the training set of a 2-D set: the points a student clicks onto the plane.

:func:`generate` is the Qt-free call the 2-D lab uses, :func:`two_d_sets` lists those sets with their facts.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnstudio.data.dataset import Dataset
from nnstudio.errors import UserError, finite_float, shown_value
from nnstudio.i18n import _

LOGIC = {"and": np.array([0, 0, 0, 1]), "or": np.array([0, 1, 1, 1]), "xor": np.array([0, 1, 1, 0])}
CORNERS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def _check(name: str, n_train: int, n_test: int, noise: float) -> None:
    if int(n_train) < 1 or int(n_test) < 1:
        raise UserError(_("dataset '{name}': n_train and n_test must be at least 1, found {n_train} and {n_test}")
                        .format(name=name, n_train=n_train, n_test=n_test))
    if not noise >= 0:
        raise UserError(_("dataset '{name}': noise must be 0 or more, found {noise}").format(name=name, noise=noise))


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


def _quadrants(rng: np.random.Generator, y: np.ndarray) -> np.ndarray:
    # Playground's XOR: uniform points kept a little off the axes; class 1 where the signs of x1 and x2
    # differ, i.e. (x1 > 0) XOR (x2 > 0), the truth table's rule on the whole plane.
    n = y.size
    first = rng.choice([-1.0, 1.0], n)
    second = np.where(y == 1, -first, first)
    magnitude = rng.uniform(0.06, 1.0, size=(n, 2))
    return np.stack([first, second], axis=1) * magnitude


SHAPES: dict[str, tuple[Callable[[np.random.Generator, np.ndarray], np.ndarray], float, str]] = {
    "circle": (_circle, 0.05, "points inside (1) or outside (0) a circle"),
    "gauss": (_gauss, 0.0, "two Gaussian blobs"),
    "spiral": (_spiral, 0.03, "two interleaved spiral arms"),
    "moons": (_moons, 0.05, "two interleaving half circles"),
    "xor-quadrants": (_quadrants, 0.0, "exclusive or on the plane: class 1 where x1 and x2 have different signs"),
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


def _plane(name: str, n_train: int, n_test: int, noise: float, seed: int) -> Dataset:
    _check(name, n_train, n_test, noise)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    x = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = x.sum(axis=1, keepdims=True) / 2.0 + (rng.normal(0.0, noise, size=(n, 1)) if noise > 0 else 0.0)
    x, y = x.astype(np.float32), y.astype(np.float32)
    return Dataset(name, x[:n_train], y[:n_train], x[n_train:], y[n_train:], sample_shape=(2,), num_classes=0,
                   class_names=[], task="regression",
                   description=f"{PLANE_TEXT}, x in [-1, 1]^2 ({n_train} train / {n_test} test, noise {noise:g})",
                   source="generated")


PLANE_TEXT = "y = (x1 + x2) / 2 + noise"
MAX_NOISE = 1.0
MAX_POINTS = 100_000
MAX_ADDED = 10_000
MAX_COORD = 100.0


def default_noise(name: str) -> float:
    if name in LOGIC:
        return 0.0
    if name in SHAPES:
        return SHAPES[name][1]
    if name == "plane":
        return 0.0
    return REGRESSIONS[name][1]


def default_sizes(name: str) -> tuple[int, int]:
    """(n_train, n_test) when no size is given."""
    if name in LOGIC:
        return 4, 4
    if name in SHAPES:
        return 400, 200
    return 200, 100


def _number(name: str, field: str, value: Any) -> float:
    number = finite_float(value)
    if number is None:
        raise UserError(_("dataset '{name}': {field} must be a number, found {value}").format(
            name=name, field=field, value=shown_value(value)))
    return number


def _whole(name: str, field: str, value: Any) -> int:
    v = _number(name, field, value)
    if not v.is_integer():
        raise UserError(_("dataset '{name}': {field} must be a whole number, found {value}").format(
            name=name, field=field, value=repr(value)))
    return int(v)


def parse_added_points(value: Any, dataset: str = "toy") -> tuple[tuple[float, float, float], ...]:
    """``added_points`` as a tuple of (x1, x2, class) floats; a JSON text (from the command line) is read too.

    The class is checked against the set in :func:`make_toy` (0 or 1, or any target for a regression).
    """
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else []
        except (ValueError, RecursionError):  # RecursionError: brackets nested thousands deep
            raise UserError(_("dataset '{name}': added_points must be a list of [x1, x2, class], found {value}")
                            .format(name=dataset, value=repr(value[:60]))) from None
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        raise UserError(_("dataset '{name}': added_points must be a list of [x1, x2, class], found {value}")
                        .format(name=dataset, value=shown_value(value)))
    if len(value) > MAX_ADDED:
        raise UserError(_("dataset '{name}': added_points may hold at most {most} points, found {count}").format(
            name=dataset, most=MAX_ADDED, count=len(value)))
    out = []
    for i, point in enumerate(value):
        numbers_in = [finite_float(v) for v in point] if isinstance(point, (list, tuple)) and len(point) == 3 else [None]
        if None in numbers_in or max(abs(numbers_in[0]), abs(numbers_in[1])) > MAX_COORD:
            raise UserError(_("dataset '{name}': added_points[{index}] must be [x1, x2, class] with finite numbers "
                              "and |x| <= {most}, found {point}").format(name=dataset, index=i, most=f"{MAX_COORD:g}",
                                                                       point=shown_value(point)))
        out.append((numbers_in[0], numbers_in[1], numbers_in[2]))
    return tuple(out)


@dataclass(frozen=True)
class ToySize:
    """The checked options of one toy set: how many train and test samples, noise, seed, added points."""

    n_train: int
    n_test: int
    noise: float
    seed: int
    added_points: tuple[tuple[float, float, float], ...] = ()


def resolve_options(name: str, n_train: Any = None, n_test: Any = None, noise: Any = None, seed: Any = 0,
                    train_ratio: Any = None, points: Any = None, added_points: Any = None) -> ToySize:
    """Check toy set ``name``'s options (one-line UserError naming the field) and fill in its defaults."""
    if name not in TOY_NAMES:
        raise UserError(_("unknown toy dataset {name}; toy sets are {names}").format(
            name=repr(name), names=", ".join(TOY_NAMES)))
    noise = default_noise(name) if noise is None else _number(name, "noise", noise)
    if not noise >= 0:
        raise UserError(_("dataset '{name}': noise must be 0 or more, found {noise}").format(name=name,
                                                                                             noise=f"{noise:g}"))
    if noise > MAX_NOISE:
        raise UserError(_("dataset '{name}': noise must be at most {most}, found {noise}").format(
            name=name, most=f"{MAX_NOISE:g}", noise=f"{noise:g}"))
    seed = _whole(name, "seed", 0 if seed is None else seed)
    if not 0 <= seed <= 2**32 - 1:
        raise UserError(_("dataset '{name}': seed must be between 0 and {most}, found {seed}").format(
            name=name, most=2**32 - 1, seed=seed))
    train_default, test_default = default_sizes(name)
    if points is not None or train_ratio is not None:
        if n_train is not None or n_test is not None:
            raise UserError(_("dataset '{name}': give either points and train_ratio or n_train and n_test, "
                              "not both").format(name=name))
        total = train_default + test_default if points is None else _whole(name, "points", points)
        if not 2 <= total <= MAX_POINTS:
            raise UserError(_("dataset '{name}': points must be between 2 and {most}, found {points}").format(
                name=name, most=MAX_POINTS, points=total))
        ratio = train_default / (train_default + test_default) if train_ratio is None else \
            _number(name, "train_ratio", train_ratio)
        if not 0.0 < ratio < 1.0:
            raise UserError(_("dataset '{name}': train_ratio must be above 0 and below 1, found {ratio}").format(
                name=name, ratio=f"{ratio:g}"))
        n_train = int(round(total * ratio))
        n_test = total - n_train
        if n_train < 1 or n_test < 1:
            raise UserError(_("dataset '{name}': train_ratio {ratio} of {points} points leaves {n_train} training "
                              "and {n_test} test points; each needs at least 1").format(
                name=name, ratio=f"{ratio:g}", points=total, n_train=n_train, n_test=n_test))
    else:
        n_train = train_default if n_train is None else _whole(name, "n_train", n_train)
        n_test = test_default if n_test is None else _whole(name, "n_test", n_test)
    _check(name, n_train, n_test, noise)
    if n_train + n_test > MAX_POINTS:
        raise UserError(_("dataset '{name}': at most {most} points in all, found {points}").format(
            name=name, most=MAX_POINTS, points=n_train + n_test))
    added = parse_added_points(added_points, name)
    if added:
        if name in REGRESSIONS:
            raise UserError(_("dataset '{name}': added_points apply to 2-D sets only ({names})").format(
                name=name, names=", ".join(TWO_D)))
        if name != "plane":
            for i, (_x1, _x2, label) in enumerate(added):
                if label not in (0.0, 1.0):
                    raise UserError(_("dataset '{name}': added_points[{index}] class must be 0 or 1, found {label}")
                                    .format(name=name, index=i, label=f"{label:g}"))
    return ToySize(int(n_train), int(n_test), float(noise), int(seed), added)


def _with_added(ds: Dataset, added: tuple[tuple[float, float, float], ...]) -> Dataset:
    if not added:
        return ds
    points = np.asarray(added, dtype=np.float64)
    x = np.concatenate([ds.x_train, points[:, :2].astype(np.float32)])
    if ds.task == "regression":
        y = np.concatenate([ds.y_train, points[:, 2:].astype(np.float32)])
    else:
        y = np.concatenate([ds.y_train, points[:, 2].astype(np.int64)])
    ds.x_train, ds.y_train = x, y
    ds.description += f", {len(added)} added point{'s' if len(added) != 1 else ''}"
    ds.extra["added_points"] = len(added)
    return ds


def make_toy(name: str, n_train: int | None = None, n_test: int | None = None, noise: float | None = None,
             seed: int = 0, train_ratio: float | None = None, points: int | None = None,
             added_points: Any = None) -> Dataset:
    """Generate toy set ``name``; None options take that set's defaults (see the module docstring)."""
    size = resolve_options(name, n_train, n_test, noise, seed, train_ratio, points, added_points)
    if name in LOGIC:
        maker = _logic
    elif name in SHAPES:
        maker = _two_class
    elif name == "plane":
        maker = _plane
    else:
        maker = _regression
    ds = maker(name, size.n_train, size.n_test, size.noise, size.seed)
    return _with_added(ds, size.added_points)


def generate(name: str, noise: float | None = None, train_ratio: float | None = None, points: int | None = None,
             seed: int = 0, added_points: Sequence[Sequence[float]] | None = None) -> Dataset:
    """One of the 2-D lab's sets, as the lab's controls describe it (None takes the set's default).

    Returns a :class:`Dataset` whose ``x_train`` / ``y_train`` / ``x_test`` / ``y_test`` are the train and test
    arrays (float32 (N, 2) points; int64 classes, or float32 (N, 1) targets for ``plane``); the same
    arguments give the same arrays.  ``added_points`` are appended to the training arrays.
    """
    if name not in TWO_D:
        raise UserError(_("unknown 2-D dataset {name}; the 2-D sets are {names}").format(
            name=repr(name), names=", ".join(TWO_D)))
    return make_toy(name, noise=noise, train_ratio=train_ratio, points=points, seed=seed,
                    added_points=added_points)


@dataclass(frozen=True)
class ToySetFacts:
    """What the 2-D lab shows about one set before generating it."""

    name: str
    title: str
    title_zh: str
    description: str
    task: str  # "classification" or "regression"
    num_classes: int  # 0 for a regression
    default_noise: float
    default_points: int
    default_train_ratio: float
    extent: tuple[float, float, float, float]  # x1 min, x1 max, x2 min, x2 max of the noise-free data


_TWO_D_TITLES = {
    "circle": ("Circle", "圆形", (-0.83, 0.83, -0.83, 0.83)),
    "xor-quadrants": ("Exclusive or", "异或", (-1.0, 1.0, -1.0, 1.0)),
    "gauss": ("Two Gaussians", "两个高斯团", (-1.0, 1.0, -1.0, 1.0)),
    "spiral": ("Spiral", "螺旋", (-0.9, 0.9, -0.9, 0.9)),
    "moons": ("Two moons", "双月牙", (-0.94, 0.94, -0.47, 0.47)),
    "plane": ("Plane (regression)", "平面（回归）", (-1.0, 1.0, -1.0, 1.0)),
}


def two_d_sets() -> list[ToySetFacts]:
    """The 2-D lab's sets in the order the picker shows them, each with its defaults and extent."""
    out = []
    for name in TWO_D:
        title, title_zh, extent = _TWO_D_TITLES[name]
        n_train, n_test = default_sizes(name)
        out.append(ToySetFacts(name, title, title_zh, TOY_DESCRIPTIONS[name],
                               "regression" if name == "plane" else "classification", 0 if name == "plane" else 2,
                               default_noise(name), n_train + n_test, n_train / (n_train + n_test), extent))
    return out


def sample_shape_of(name: str) -> tuple[int, ...]:
    return (1,) if name in REGRESSIONS else (2,)


def num_classes_of(name: str) -> int:
    return 0 if name in REGRESSIONS or name == "plane" else 2


TWO_D = ("circle", "xor-quadrants", "gauss", "spiral", "moons", "plane")
TOY_NAMES = (*LOGIC, *SHAPES, *REGRESSIONS, "plane")
TOY_DESCRIPTIONS = {
    **{k: f"{k.upper()} truth table (perceptron lessons)" for k in LOGIC},
    **{k: f"2-D: {v[2]}" for k, v in SHAPES.items()},
    **{k: f"1-D regression: {v[2]}" for k, v in REGRESSIONS.items()},
    "plane": f"2-D regression: {PLANE_TEXT}",
}
