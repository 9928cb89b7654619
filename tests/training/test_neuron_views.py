"""The neuron view's data: every Dense unit's output over the plane, its weights, and its formula."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.graph.compile import compile_graph
from nnstudio.graph.document import Graph
from nnstudio.training.neuron_views import (NeuronLayout, Unsupported, grid_cell, neuron_formula, neuron_layout,
                                            neuron_view, plane_grid)


def chain(*blocks, shape=(2,)) -> Graph:
    g = Graph()
    g.add_node("Input", {"shape": list(shape)}, node_id="in")
    previous = "in"
    for i, (kind, params) in enumerate(blocks):
        nid = f"n{i}"
        g.add_node(kind, params, node_id=nid)
        g.connect(previous, nid)
        previous = nid
    return g


def built(graph: Graph, shape=(2,)):
    model = compile_graph(graph, "numpy", seed=3)
    model.build(shape, np, seed=3, dtype=np.float64)
    return model


def test_maps_are_each_units_output_over_the_plane():
    model = built(chain(("Dense", {"units": 3}), ("Activation", {"function": "tanh"}),
                        ("Dense", {"units": 2}), ("Activation", {"function": "softmax"})))
    extent = (-1.0, 1.0, -0.5, 0.5)
    view = neuron_view(model, extent, step=7, grid=5)
    assert view is not None and view.step == 7 and view.grid == 5
    assert [nl.node_id for nl in view.layers] == ["n0", "n2"]
    assert [nl.activation for nl in view.layers] == ["tanh", "softmax"]
    assert view.layers[0].maps.shape == (3, 5, 5) and view.layers[1].maps.shape == (2, 5, 5)
    # Reference: the same network by hand at each grid point, row-major from y0 (row 0) to y1.
    pts = plane_grid(extent, 5).astype(np.float64)
    w1, b1 = model.layer("n0").params["W"], model.layer("n0").params["b"]
    w2, b2 = model.layer("n2").params["W"], model.layer("n2").params["b"]
    h = np.tanh(pts @ w1 + b1)
    z = h @ w2 + b2
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(view.layers[0].maps, h.T.reshape(3, 5, 5), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(view.layers[1].maps, p.T.reshape(2, 5, 5), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(view.layers[0].weights, w1, rtol=1e-6)
    assert view.inputs[0, 0, 0] == pytest.approx(-1.0) and view.inputs[1, 0, 0] == pytest.approx(-0.5)
    assert view.inputs[0, 4, 4] == pytest.approx(1.0) and view.inputs[1, 4, 4] == pytest.approx(0.5)
    assert model.activations == {}  # nothing kept on the model


def test_formula_has_the_current_numbers_and_adds_up():
    model = built(chain(("Dense", {"units": 2}), ("Activation", {"function": "relu"}), ("Dense", {"units": 1})))
    view = neuron_view(model, (-1.0, 1.0, -1.0, 1.0), step=1, grid=9)
    row, col = grid_cell(view, 0.5, -0.25)
    assert (row, col) == (3, 6)
    x1, x2 = view.inputs[0, row, col], view.inputs[1, row, col]
    w, b = view.layers[0].weights[:, 1], view.layers[0].bias[1]
    text = neuron_formula(view, 0, 1, row, col)
    first, second = text.split("\n")
    assert "·x1" in first and "·x2" in first
    total = float(w[0] * x1 + w[1] * x2 + b)

    def m(v: float) -> str:  # as the formula writes a number: 3 digits, a minus sign
        return f"{v:.3g}".replace("-", "−")
    general, numbers, result = first.split(" = ")
    assert result == m(total)
    assert general == f"{m(w[0])}·x1 {'−' if w[1] < 0 else '+'} {m(abs(w[1]))}·x2 + {m(b)}"
    assert f"·{m(x1)}" in numbers and f"·({m(x2)})" in numbers  # a negative value in parentheses
    assert second == f"relu({m(total)}) = {m(max(total, 0.0))}"
    out = neuron_formula(view, 1, 0, row, col)  # the output unit reads the hidden units, no activation
    assert "·h1_1" in out and "·h1_2" in out and "\n" not in out


@pytest.mark.parametrize("blocks, code", [
    ([("Dense", {"units": 9}), ("Activation", {"function": "relu"}), ("Dense", {"units": 2})], "too_wide"),
    ([("Dense", {"units": 2}), ("Activation", {"function": "relu"})] * 5 + [("Dense", {"units": 1})], "too_deep"),
])
def test_large_networks_get_a_reason(blocks, code):
    layout = neuron_layout(built(chain(*blocks)))
    assert isinstance(layout, Unsupported) and layout.code == code
    assert neuron_view(built(chain(*blocks)), (0, 1, 0, 1), 0) is None


def test_other_inputs_get_a_reason():
    model = built(chain(("Dense", {"units": 2}), shape=(3,)), shape=(3,))
    assert neuron_layout(model) == Unsupported("not_plane")
    ok = neuron_layout(built(chain(("Dense", {"units": 4}), ("Dropout", {"rate": 0.2}),
                                   ("Activation", {"function": "tanh"}), ("Dense", {"units": 1}))))
    assert isinstance(ok, NeuronLayout) and [d for d, _a in ok.dense] == ["n0", "n3"]


def test_a_features_block_feeds_the_view_with_its_own_names():
    model = built(chain(("Features", {"features": ["x1_sq", "x2_sq", "x1x2"]}), ("Dense", {"units": 1}),
                        ("Activation", {"function": "sigmoid"})))
    view = neuron_view(model, (-1.0, 1.0, -1.0, 1.0), step=0, grid=5)
    assert view.input_names == ["x1²", "x2²", "x1·x2"]
    x1 = plane_grid((-1.0, 1.0, -1.0, 1.0), 5)[:, 0].reshape(5, 5)
    np.testing.assert_allclose(view.inputs[0], x1 ** 2, rtol=1e-6)  # the x1² picture over the plane
    text = neuron_formula(view, 0, 0, 0, 0)
    assert "·x1²" in text and "·x2²" in text and "·x1·x2" in text and "\nsigmoid(" in text
