"""Shape inference: shapes, parameter counts and the messages people read."""
from __future__ import annotations

import pytest

from nnstudio.engine.layers import LAYER_TYPES
from nnstudio.engine.losses import LOSSES
from nnstudio.graph.compile import layer_kwargs
from nnstudio.graph.document import Edge, Graph, Node
from nnstudio.graph.shapes import LOSS_NAMES, infer_shapes


def build(nodes: list[tuple[str, str, dict]], edges: list[tuple]) -> Graph:
    g = Graph()
    for nid, t, p in nodes:
        g.add_node(t, p, node_id=nid)
    for e in edges:
        g.connect(*e)
    return g


def lenet() -> Graph:
    return build([("in", "Input", {}), ("c1", "Conv2D", {"filters": 6, "kernel_size": 5, "padding": 2}),
                  ("a1", "Activation", {}), ("p1", "Pool2D", {}), ("c2", "Conv2D", {"filters": 16, "kernel_size": 5}),
                  ("a2", "Activation", {}), ("p2", "Pool2D", {}), ("f", "Flatten", {}),
                  ("d1", "Dense", {"units": 120}), ("d2", "Dense", {"units": 84}), ("d3", "Dense", {"units": 10}),
                  ("out", "Activation", {"function": "softmax"})],
                 [("in", "c1"), ("c1", "a1"), ("a1", "p1"), ("p1", "c2"), ("c2", "a2"), ("a2", "p2"), ("p2", "f"),
                  ("f", "d1"), ("d1", "d2"), ("d2", "d3"), ("d3", "out")])


def texts(report) -> list[str]:
    return [m.text for m in report.messages]


def test_lenet_shapes_and_counts():
    r = infer_shapes(lenet(), sample_shape=(1, 28, 28), loss="cross_entropy", num_classes=10)
    assert r.ok and r.messages == []
    assert r.shapes["c1"] == (6, 28, 28) and r.shapes["p1"] == (6, 14, 14) and r.shapes["c2"] == (16, 10, 10)
    assert r.shapes["p2"] == (16, 5, 5) and r.shapes["f"] == (400,) and r.shapes["out"] == (10,)
    assert r.param_counts["c1"] == 6 * 25 + 6 and r.param_counts["d1"] == 400 * 120 + 120
    assert r.total_params == 61706  # the classic LeNet-5 count
    assert r.output_id == "out" and r.input_id == "in"


def test_loss_names_match_the_engine():
    assert set(LOSS_NAMES) == set(LOSSES)


def test_conv_needs_an_image():
    g = build([("in", "Input", {"shape": [784]}), ("d", "Dense", {"units": 120}), ("c2", "Conv2D", {})],
              [("in", "d"), ("d", "c2")])
    r = infer_shapes(g)
    assert not r.ok
    assert "Conv2D 'c2' needs an input shaped (channels, height, width); it gets (120,)" in texts(r)[0]
    assert r.shapes["c2"] is None and r.shapes["d"] == (120,)
    assert r.messages[0].node_id == "c2"


def test_kernel_larger_than_input():
    g = build([("in", "Input", {"shape": [1, 4, 4]}), ("c2", "Conv2D", {"kernel_size": 5})], [("in", "c2")])
    assert "Conv2D 'c2': the kernel 5x5 is larger than the padded input 4x4 (input 4x4)" in texts(infer_shapes(g))[0]


def test_same_padding_and_strides_match_the_engine():
    for pad, stride, size in [("same", 1, 28), ("same", 2, 28), ("same", 3, 7), (1, 2, 9), (0, 1, 5)]:
        g = build([("in", "Input", {"shape": [3, size, size]}),
                   ("c", "Conv2D", {"kernel_size": 3, "stride": stride, "padding": pad})], [("in", "c")])
        r = infer_shapes(g)
        layer = LAYER_TYPES["Conv2D"](**layer_kwargs(g.nodes["c"]))
        assert r.shapes["c"] == layer.output_shape((3, size, size))


def test_pool_window_too_large_and_uneven_warning():
    g = build([("in", "Input", {"shape": [1, 1, 1]}), ("p", "Pool2D", {})], [("in", "p")])
    assert "Pool2D 'p': the window 2x2 is larger than the input 1x1" in texts(infer_shapes(g))[0]
    g = build([("in", "Input", {"shape": [1, 5, 5]}), ("p", "Pool2D", {})], [("in", "p")])
    r = infer_shapes(g)
    assert r.ok and r.shapes["p"] == (1, 2, 2) and r.warnings and "do not cover" in r.warnings[0].text


def test_cycle_message():
    g = Graph()
    g.nodes = {"in": Node("in", "Input", {"shape": [4]}), "a": Node("a", "Add", {}),
               "b": Node("b", "Dense", {"units": 4, "use_bias": True, "init": "he"})}
    g.edges = [Edge("in", "a", 0), Edge("a", "b", 0), Edge("b", "a", 1)]
    r = infer_shapes(g)
    assert "the graph has a cycle through 'a' -> 'b' -> 'a'" in texts(r)
    assert r.shapes["a"] is None and r.shapes["b"] is None and not r.ok


def test_unconnected_port_and_outputs():
    g = build([("in", "Input", {}), ("d0", "Dense", {}), ("d1", "Dense", {})], [("in", "d0")])
    r = infer_shapes(g)
    assert "Dense 'd1': input port 0 is not connected" in texts(r)
    assert "the graph has 2 output nodes ('d0', 'd1'); exactly one node must have no consumers" in texts(r)
    assert r.output_id is None


def test_no_input_and_two_inputs():
    r = infer_shapes(build([("d", "Dense", {})], []))
    assert any(t.startswith("no Input node") for t in texts(r))
    g = build([("a", "Input", {}), ("b", "Input", {}), ("s", "Add", {})], [("a", "s"), ("b", "s")])
    assert any("2 Input nodes" in t for t in texts(infer_shapes(g)))


def test_only_an_input_is_not_a_network():
    r = infer_shapes(build([("in", "Input", {})], []))
    assert not r.ok and "no layers" in texts(r)[0]


def test_sample_shape_mismatch():
    g = build([("in", "Input", {}), ("d", "Dense", {})], [("in", "d")])
    r = infer_shapes(g, sample_shape=(784,))
    assert texts(r)[0].startswith("the dataset has samples shaped (784,) but Input 'in' expects (1, 28, 28)")
    assert infer_shapes(g, sample_shape=[1, 28, 28]).ok


def test_add_and_concat_mismatches():
    g = build([("in", "Input", {"shape": [1, 8, 8]}), ("c1", "Conv2D", {"filters": 4, "padding": 1}),
               ("c2", "Conv2D", {"filters": 6, "padding": 1}), ("c3", "Conv2D", {"filters": 4}),
               ("sum", "Add", {}), ("cat", "Concat", {}), ("cat2", "Concat", {"axis": 1}), ("top", "Concat", {})],
              [("in", "c1"), ("in", "c2"), ("in", "c3"), ("c1", "sum"), ("c2", "sum"), ("c1", "cat"),
               ("c2", "cat"), ("c1", "cat2"), ("c3", "cat2"), ("sum", "top"), ("cat", "top"), ("cat2", "top")])
    r = infer_shapes(g)
    assert ("Add 'sum': all inputs must have the same shape; input 1 is (4, 8, 8) but input 2 is "
            "(6, 8, 8)") in texts(r)
    assert r.shapes["cat"] == (10, 8, 8)
    assert any(t.startswith("Concat 'cat2': inputs may differ only along axis 1") for t in texts(r))
    merge_one = build([("in", "Input", {}), ("s", "Add", {})], [("in", "s")])
    assert "Add 's' needs at least 2 inputs; it has 1" in texts(infer_shapes(merge_one))


def test_reshape_and_batchnorm():
    g = build([("in", "Input", {"shape": [784]}), ("r", "Reshape", {"shape": [-1, 28, 28]}),
               ("bn", "BatchNorm", {}), ("r2", "Reshape", {"shape": [5, 5]})],
              [("in", "r"), ("r", "bn"), ("bn", "r2")])
    r = infer_shapes(g)
    assert r.shapes["r"] == (1, 28, 28) and r.param_counts["bn"] == 2
    assert "Reshape 'r2': the target shape [5, 5] holds 25 values but the input (1, 28, 28) has 784" in texts(r)[0]


@pytest.mark.parametrize("units,act,loss,classes,expected", [
    (1, "sigmoid", "cross_entropy", 2,
     "cross-entropy needs a multi-class output; the output 'out' has 1 unit with sigmoid: use binary cross-entropy"),
    (2, "softmax", "cross_entropy", 10, "the dataset has 10 classes but the output 'out' has 2 units"),
    (10, "softmax", "cross_entropy", 0, "cross-entropy is a classification loss but the dataset is a regression"),
    (1, "sigmoid", "binary_cross_entropy", 10, "binary cross-entropy with 1 output unit separates two classes"),
    (3, "linear", "mse", 10, "mean squared error (MSE) on a 10-class dataset needs 1 output unit or one per class (10)"),
    (1, "sign", "perceptron", 3, "the perceptron loss with 1 output unit separates two classes, but the dataset has 3"),
    (4, "linear", "nope", None, "unknown loss 'nope'"),
])
def test_loss_output_mismatches(units, act, loss, classes, expected):
    g = build([("in", "Input", {"shape": [2]}), ("d", "Dense", {"units": units}),
               ("out", "Activation", {"function": act})], [("in", "d"), ("d", "out")])
    r = infer_shapes(g, loss=loss, num_classes=classes)
    assert not r.ok and any(t.startswith(expected) for t in texts(r)), texts(r)


@pytest.mark.parametrize("units,act,loss,classes", [
    (10, "softmax", "cross_entropy", 10), (10, "linear", "cross_entropy", 10), (1, "sigmoid", "binary_cross_entropy", 2),
    (1, "linear", "mse", 0), (1, "sign", "perceptron", 2), (3, "linear", "hinge", 3), (4, "sigmoid", "mse", None),
])
def test_matching_losses_pass(units, act, loss, classes):
    g = build([("in", "Input", {"shape": [2]}), ("d", "Dense", {"units": units}),
               ("out", "Activation", {"function": act})], [("in", "d"), ("d", "out")])
    r = infer_shapes(g, loss=loss, num_classes=classes)
    assert r.ok and not r.warnings, texts(r)


def test_odd_output_activation_is_a_warning():
    g = build([("in", "Input", {"shape": [2]}), ("d", "Dense", {"units": 3}),
               ("out", "Activation", {"function": "sigmoid"})], [("in", "d"), ("d", "out")])
    r = infer_shapes(g, loss="cross_entropy", num_classes=3)
    assert r.ok and "applies sigmoid" in r.warnings[0].text


@pytest.mark.parametrize("units,act,loss,classes", [
    (1, "sigmoid", "cross_entropy", 2), (10, "relu", "cross_entropy", 10), (10, "softmax", "binary_cross_entropy", 10),
    (1, "linear", "binary_cross_entropy", 0), (3, "linear", "mse", 10), (1, "softmax", "perceptron", 3),
    (1, "leaky_relu", "cross_entropy", 2),
])
def test_training_messages_use_the_names_people_read(units, act, loss, classes):
    """Problems say "cross-entropy" and "ReLU", never the file's identifiers cross_entropy and relu."""
    g = build([("in", "Input", {"shape": [2]}), ("d", "Dense", {"units": units}),
               ("out", "Activation", {"function": act})], [("in", "d"), ("d", "out")])
    r = infer_shapes(g, loss=loss, num_classes=classes)
    assert r.messages, "expected a message"
    for text in texts(r):
        for identifier in ("cross_entropy", "binary_cross_entropy", "leaky_relu", "relu", "mse "):
            assert identifier not in text, text
    if act == "relu":
        assert any("applies ReLU" in t for t in texts(r)), texts(r)


def test_corrupted_documents_give_reports():
    g = Graph()
    g.nodes = {"a": Node("a", "Input", {"shape": "x"}), "b": Node("b", "Bogus", {}),
               "c": Node("c", "Dense", {"units": -5}), "k": "not a node"}
    g.edges = [Edge("a", "zz"), "junk", Edge("a", "c", -1)]
    r = infer_shapes(g)
    assert not r.ok and r.total_params == 0
    joined = "\n".join(texts(r))
    assert "Input 'a': shape must be" in joined and "unknown block type 'Bogus'" in joined
    assert "Dense 'c': units must be at least 1" in joined and "no node 'zz'" in joined
    assert infer_shapes(None).messages and infer_shapes(object()).ok is False
