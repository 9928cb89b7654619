"""The neuron view names what a Features block feeds the first Dense layer (x1², sin(x2), ...), so a hovered
neuron's formula reads w1·x1² + w2·x2² + b."""
from __future__ import annotations

import numpy as np

from nnstudio.graph.compile import compile_graph
from nnstudio.graph.document import Graph
from nnstudio.training.neuron_views import input_names, neuron_formula, neuron_view


def test_inputs_after_a_features_block_carry_the_features_names():
    g = Graph()
    for nid, kind, params in (("in", "Input", {"shape": [2]}), ("f", "Features", {"features": ["x1_sq", "x2_sq",
                                                                                               "sin_x2"]}),
                              ("d", "Dense", {"units": 1}), ("s", "Activation", {"function": "sigmoid"})):
        g.add_node(kind, params, node_id=nid)
    for src, dst in (("in", "f"), ("f", "d"), ("d", "s")):
        g.connect(src, dst)
    model = compile_graph(g, "numpy", seed=0)
    view = neuron_view(model, (-1.0, 1.0, -1.0, 1.0), step=1, grid=5)
    assert view is not None and view.input_names == ["x1²", "x2²", "sin(x2)"]
    assert input_names(view, 0) == ["x1²", "x2²", "sin(x2)"]
    grid_x = np.linspace(-1.0, 1.0, 5)
    np.testing.assert_allclose(view.inputs[0][0], grid_x ** 2, rtol=1e-6)  # the x1² map over the first row
    formula = neuron_formula(view, 0, 0, 2, 3)
    assert "x1²" in formula and "sin(x2)" in formula
