"""The boundary panel's Qt-free views: the plane fitted to the data, the points it shows, and the model's
class decision at those points (what marks a point as misclassified)."""
from __future__ import annotations

import numpy as np

from nnstudio.data.toy import generate
from nnstudio.graph.compile import compile_graph
from nnstudio.graph.document import Graph
from nnstudio.training import views
from nnstudio.training.metrics import predicted_classes


def small_model(outputs: int = 2, softmax: bool = True):
    g = Graph()
    g.add_node("Input", {"shape": [2]}, node_id="in")
    g.add_node("Dense", {"units": 4}, node_id="d1")
    g.add_node("Activation", {"function": "tanh"}, node_id="a1")
    g.add_node("Dense", {"units": outputs}, node_id="d2")
    for a, b in (("in", "d1"), ("d1", "a1"), ("a1", "d2")):
        g.connect(a, b)
    if softmax:
        g.add_node("Activation", {"function": "softmax"}, node_id="out")
        g.connect("d2", "out")
    model = compile_graph(g, "numpy", seed=1)
    model.build((2,), np, seed=1)
    return model


def test_extent_fits_the_data_with_a_margin():
    ds = generate("circle", points=300, seed=2)
    x0, x1, y0, y1 = views.plane_extent(ds)
    both = np.concatenate([ds.x_train, ds.x_test])
    assert x0 < both[:, 0].min() < both[:, 0].max() < x1 and y0 < both[:, 1].min() < both[:, 1].max() < y1
    assert x1 - x0 < 1.5 * (both[:, 0].max() - both[:, 0].min())  # a margin, not a [-5, 5] box


def test_plane_sample_is_stable_and_split():
    ds = generate("moons", points=3000, train_ratio=0.5, seed=0)
    a = views.plane_sample(ds, limit=1000)
    b = views.plane_sample(ds, limit=1000)
    assert [len(v) for v in a] == [1000, 1000, 1000, 1000]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    rows = [np.flatnonzero((ds.x_test == p).all(axis=1))[0] for p in a[2][:20]]
    np.testing.assert_array_equal(ds.y_test[rows], a[3][:20])  # labels stay with their points


def test_boundary_judges_the_shown_points_as_the_metrics_do():
    ds = generate("gauss", points=200, seed=0)
    model = small_model()
    x_tr, y_tr, x_te, y_te = views.plane_sample(ds)
    points = np.concatenate([x_tr, x_te])
    labels = np.concatenate([y_tr, y_te])
    found = views.boundary(model, views.plane_extent(ds), 3, grid=8, points=points, labels=labels)
    assert found.values.shape == (8, 8, 2)
    expected = predicted_classes(model.predict(points), "cross_entropy", labels)
    np.testing.assert_array_equal(found.point_predictions, expected)
    assert len(found.point_predictions) == len(points)
    assert views.boundary(model, (0, 1, 0, 1), 3, grid=8).point_predictions is None


def test_regression_boundary_gives_the_output_at_each_point():
    ds = generate("plane", points=100, seed=0)
    model = small_model(outputs=1, softmax=False)
    points = ds.x_train[:10]
    found = views.boundary(model, views.plane_extent(ds), 1, grid=6, points=points, regression=True)
    assert found.values.shape == (6, 6)
    np.testing.assert_allclose(found.point_predictions, model.predict(points)[:, 0], rtol=1e-6)
