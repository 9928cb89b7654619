"""The 2-D lab's data options: points / train_ratio / noise / seed / added_points, their checks and the plane."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnstudio.data import get_dataset, toy
from nnstudio.data.registry import dataset_info
from nnstudio.errors import UserError
from nnstudio.training.validation import validate_project


def test_points_and_ratio_split_the_same_generated_set_as_n_train_and_n_test():
    a = toy.make_toy("spiral", n_train=400, n_test=200, noise=0.1, seed=3)
    b = toy.generate("spiral", points=600, train_ratio=2 / 3, noise=0.1, seed=3)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    c = toy.generate("moons", points=101, train_ratio=0.3)
    assert (c.n_train, c.n_test) == (30, 71)


@pytest.mark.parametrize("name", toy.TWO_D)
def test_generate_is_deterministic_for_a_seed_and_follows_noise(name: str):
    args = dict(noise=0.2, train_ratio=0.5, points=200, added_points=[[0.5, -0.5, 1]])
    a, b = toy.generate(name, seed=11, **args), toy.generate(name, seed=11, **args)
    for left, right in ((a.x_train, b.x_train), (a.y_train, b.y_train), (a.x_test, b.x_test), (a.y_test, b.y_test)):
        np.testing.assert_array_equal(left, right)
    assert not np.array_equal(a.x_train, toy.generate(name, seed=12, **args).x_train)
    assert a.x_train.shape == (101, 2) and a.x_test.shape == (100, 2) and a.x_train.dtype == np.float32
    clean = toy.generate(name, seed=11, noise=0.0, train_ratio=0.5, points=200)
    spread = float(np.abs(a.x_train[:100] - clean.x_train).mean()) if name not in ("plane",) else \
        float(np.abs(a.y_train[:100] - clean.y_train).mean())
    assert 0.05 < spread < 0.5  # noise 0.2 moved the points (or the targets) by about that much


def test_the_plane_is_a_2d_regression():
    plane = toy.generate("plane", points=3000, noise=0.0)
    assert plane.task == "regression" and plane.num_classes == 0 and plane.sample_shape == (2,)
    assert plane.y_train.dtype == np.float32 and plane.y_train.shape == (plane.n_train, 1)
    np.testing.assert_allclose(plane.y_train[:, 0], plane.x_train.sum(axis=1) / 2, atol=1e-6)
    assert np.abs(plane.x_train).max() <= 1.0
    info = dataset_info("plane")
    assert (info.sample_shape, info.num_classes, info.task) == ((2,), 0, "regression")


def test_added_points_join_the_training_set_with_their_class():
    base = toy.generate("circle", points=60)
    ds = get_dataset("circle", points=60, added_points=[[0.9, 0.9, 1], [0.0, 0.0, 0]])
    assert ds.n_train == base.n_train + 2 and ds.n_test == base.n_test
    np.testing.assert_allclose(ds.x_train[-2:], [[0.9, 0.9], [0.0, 0.0]], rtol=1e-6)
    np.testing.assert_array_equal(ds.y_train[-2:], [1, 0])
    assert ds.y_train.dtype == np.int64
    typed = get_dataset("circle", points="60", added_points="[[0.9, 0.9, 1], [0, 0, 0]]")  # as the CLI gives them
    np.testing.assert_array_equal(typed.x_train, ds.x_train)
    plane = toy.generate("plane", points=20, added_points=[[0.1, 0.2, -3.5]])
    assert plane.y_train[-1, 0] == pytest.approx(-3.5)


@pytest.mark.parametrize(("options", "message"), [
    ({"noise": -0.1}, "noise must be 0 or more"),
    ({"noise": 5}, "noise must be at most 1"),
    ({"noise": "a lot"}, "option noise must be float"),
    ({"points": 1}, "points must be between 2 and 100000"),
    ({"points": 2.5}, "option points must be int"),
    ({"train_ratio": 0}, "train_ratio must be above 0 and below 1"),
    ({"train_ratio": 0.999, "points": 10}, "train_ratio 0.999 of 10 points leaves 10 training and 0 test"),
    ({"points": 10, "n_train": 5}, "either points and train_ratio or n_train and n_test"),
    ({"seed": -1}, "seed must be between 0"),
    ({"added_points": [[0, 0, 2]]}, r"added_points\[0\] class must be 0 or 1, found 2"),
    ({"added_points": [[0, 0, 1], [0, "x", 1]]}, r"added_points\[1\] must be \[x1, x2, class\]"),
    ({"added_points": [[0, 1e9, 1]]}, r"added_points\[0\] must be"),
    ({"added_points": "[[0, 0, 1"}, "added_points must be a list"),
    ({"added_points": {"x": 1}}, "added_points must be a list"),
    ({"added_points": "[" * 100_000}, r"added_points must be a list of \[x1, x2, class\], found '\[\[\["),
    ({"added_points": "[" * 900 + "]" * 900}, r"added_points\[0\] must be \[x1, x2, class\]"),
    ({"added_points": [[10**400, 0, 1]]}, r"added_points\[0\] must be \[x1, x2, class\] with finite numbers"),
    ({"added_points": "[[0, 0, 1" + "0" * 400 + "]]"}, r"added_points\[0\] must be \[x1, x2, class\]"),
    ({"added_points": [list(range(10_000))]}, r"added_points\[0\] must be .*, found \[0, 1, 2, 3, 4, 5, \.\.\.\]$"),
])
def test_bad_options_are_one_line_naming_the_field(options, message):
    with pytest.raises(UserError, match=message) as info:
        dataset_info("circle", **options)
    assert "\n" not in str(info.value) and str(info.value).startswith("dataset 'circle': ")
    with pytest.raises(UserError, match=message):
        get_dataset("circle", **options)


def test_hostile_added_points_text_from_a_project_is_one_line_naming_the_field(tmp_path):
    """Brackets nested 100,000 deep in a project's added_points: a message from train and check, no RecursionError."""
    from nnstudio.cli import main
    from nnstudio.graph.project_file import load_project

    project = tmp_path / "p.nnproj"
    assert main(["new", "playground-spiral", "-o", str(project)]) == 0
    data = load_project(project)
    data.training["dataset_options"] = {"added_points": "[" * 100_000}
    validation = validate_project(data.graph, data.training)
    assert not validation.ok
    [message] = [m.text for m in validation.report.errors if "added_points" in m.text]
    assert message.startswith("dataset 'spiral': added_points must be a list of [x1, x2, class], found '[[[")
    assert "\n" not in message and len(message) < 200
    with pytest.raises(UserError, match="dataset 'spiral': added_points must be a list"):
        get_dataset("spiral", **data.training["dataset_options"])


_JSON_TEXT = st.text(alphabet='[]{},:"0123456789.-eE naINftrule', max_size=300)
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**500, max_value=10**500) | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=20)


@settings(max_examples=200, deadline=3000)
@given(value=st.one_of(_JSON_TEXT, _JSON_VALUES, st.just("[" * 5000)))
def test_any_added_points_are_points_or_one_line_user_error(value):
    try:
        points = toy.parse_added_points(value, "spiral")
    except UserError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("dataset 'spiral': added_points") and len(str(exc)) < 300
    else:
        assert all(len(p) == 3 and all(isinstance(v, float) and np.isfinite(v) for v in p) for p in points)


def test_added_points_are_refused_for_1d_sets():
    with pytest.raises(UserError, match="added_points apply to 2-D sets only"):
        toy.make_toy("linear", added_points=[[0, 0, 1]])
    with pytest.raises(UserError, match="unknown 2-D dataset 'linear'"):
        toy.generate("linear")


def test_check_reports_a_bad_option_of_the_project():
    from nnstudio.graph.document import Graph

    graph = Graph()
    graph.add_node("Input", {"shape": [2]})
    validation = validate_project(graph, {"dataset": "moons", "dataset_options": {"train_ratio": 1.5}})
    assert not validation.ok
    assert any("dataset 'moons': train_ratio must be above 0 and below 1" in m.text for m in validation.report.errors)


def test_the_2d_sets_list_their_facts():
    facts = {f.name: f for f in toy.two_d_sets()}
    assert list(facts) == ["circle", "xor-quadrants", "gauss", "spiral", "moons", "plane"]
    for f in facts.values():
        data = toy.generate(f.name, noise=0.0, points=400)
        assert data.num_classes == f.num_classes and data.task == f.task
        x1_lo, x1_hi, x2_lo, x2_hi = f.extent
        x = np.concatenate([data.x_train, data.x_test])
        assert x1_lo - 0.05 <= x[:, 0].min() and x[:, 0].max() <= x1_hi + 0.05  # the view can fit the data
        assert x2_lo - 0.05 <= x[:, 1].min() and x[:, 1].max() <= x2_hi + 0.05
        assert f.title and f.title_zh and f.default_points >= 2 and 0 < f.default_train_ratio < 1
        default = toy.generate(f.name)
        assert default.n_train + default.n_test == f.default_points


def test_xor_quadrants_is_the_exclusive_or_of_the_signs_on_the_plane():
    data = toy.generate("xor-quadrants", noise=0.0, points=2000)
    x = np.concatenate([data.x_train, data.x_test])
    y = np.concatenate([data.y_train, data.y_test])
    np.testing.assert_array_equal(y, (x[:, 0] > 0) ^ (x[:, 1] > 0))
    assert abs(y.mean() - 0.5) < 0.01 and 0.05 < np.abs(x).min() and np.abs(x).max() <= 1.0
    assert toy.make_toy("xor").n_train == 4  # the truth table keeps its name for the perceptron lessons


def test_an_option_too_large_for_a_float_is_one_short_line():
    """A 400-digit "noise" raised OverflowError in the option conversion, before the toy set could check it."""
    from nnstudio.data.registry import get_dataset
    from nnstudio.errors import UserError
    with pytest.raises(UserError, match="option noise must be float") as info:
        get_dataset("spiral", noise=10**400)
    assert len(str(info.value)) < 200
