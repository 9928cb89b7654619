"""ONNX import: exported networks come back block for block, foreign models match onnxruntime, and what
cannot be imported is refused with the operator or node named."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from nnstudio.errors import UserError  # noqa: E402
from nnstudio.export import build_onnx_model, export_onnx, import_onnx, import_onnx_model, load_network  # noqa: E402
from nnstudio.graph.compile import compile_graph  # noqa: E402


def engine_outputs(project: Any, state: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    model = compile_graph(project.graph, backend="numpy")
    model.load_state_dict(state)
    return model.predict(x)


def test_export_then_import_round_trips_every_case(case, tmp_path: Path) -> None:
    path = export_onnx(case.project, case.state, tmp_path / "m.onnx")
    project, state = import_onnx(path)
    original = load_network(case.project, case.state).model
    np.testing.assert_allclose(engine_outputs(project, state, case.x), original.predict(case.x),
                               rtol=1e-6, atol=1e-7)
    # Block for block: the same ids, types, parameters and wires.
    ours = {n.id: (n.type, n.params) for n in case.project.graph.nodes.values() if n.id in original.order}
    back = {n.id: (n.type, n.params) for n in project.graph.nodes.values()}
    assert back == ours
    wires = {(e.src, e.dst, e.port) for e in case.project.graph.edges if e.dst in original.order}
    assert {(e.src, e.dst, e.port) for e in project.graph.edges} == wires
    assert all(n.position is None for n in project.graph.nodes.values())
    assert project.name == case.project.name


def test_import_sets_a_loss_that_fits_the_output(graph_case) -> None:
    losses = {}
    for name in ("mlp", "cnn", "residual", "vectors"):
        case = graph_case(name)
        project, _ = import_onnx_model(build_onnx_model(case.project, case.state))
        losses[name] = project.training["loss"]
    assert losses == {"mlp": "cross_entropy", "cnn": "binary_cross_entropy", "residual": "perceptron",
                      "vectors": "mse"}


# -- foreign models, written the way other tools write them -----------------------------------------------

def make_model(nodes: list[Any], inputs: list[Any], outputs: list[Any], inits: dict[str, np.ndarray],
               opset: int = 17) -> Any:
    graph = helper.make_graph(nodes, "foreign", inputs, outputs,
                              initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    opsets = [helper.make_opsetid("", opset)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))


def value(name: str, *shape: Any) -> Any:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + sum(shape)).normal(0, 0.5, shape).astype(np.float32)


def assert_matches_onnxruntime(proto: Any, x: np.ndarray, input_name: str = "x") -> tuple[Any, dict]:
    project, state = import_onnx_model(proto)
    expected = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {input_name: x})[0]
    np.testing.assert_allclose(engine_outputs(project, state, x), expected, rtol=1e-5, atol=1e-6)
    return project, state


def test_a_pytorch_style_cnn_imports_and_matches_onnxruntime() -> None:
    shape = helper.make_tensor("shape", TensorProto.INT64, [4], [-1, 1, 6, 6])
    nodes = [
        helper.make_node("Constant", [], ["target"], value=shape),
        helper.make_node("Reshape", ["x", "target"], ["img"], name="/reshape/Reshape"),
        helper.make_node("Conv", ["img", "k1", "kb1"], ["c1"], name="/conv1/Conv", auto_pad="SAME_UPPER",
                         kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "k2"], ["c2"], name="/conv2/Conv", pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("MaxPool", ["c2"], ["p"], kernel_shape=[2, 2], strides=[1, 1]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["g"], name="/fc/Gemm", transB=1, alpha=0.5, beta=2.0),
        helper.make_node("Dropout", ["g", "ratio"], ["d"]),
        helper.make_node("MatMul", ["d", "w2"], ["m"], name="/head/MatMul"),
        helper.make_node("Add", ["m", "b2"], ["logits"], name="/head/Add"),
        helper.make_node("Softmax", ["logits"], ["y"], axis=1),
    ]
    inits = {"k1": rand(3, 1, 3, 3), "kb1": rand(3), "k2": rand(4, 3, 3, 3), "fc_w": rand(7, 16), "fc_b": rand(7),
             "ratio": np.array(0.25, dtype=np.float32), "w2": rand(7, 5), "b2": rand(5)}
    proto = make_model(nodes, [value("x", "batch", 36)], [value("y", "batch", 5)], inits, opset=13)
    x = np.random.default_rng(5).normal(size=(3, 36)).astype(np.float32)
    project, state = assert_matches_onnxruntime(proto, x)
    graph = project.graph
    types = [n.type for n in graph.nodes.values()]
    assert types == ["Input", "Reshape", "Conv2D", "Activation", "Conv2D", "Pool2D", "Flatten", "Dense", "Dropout",
                     "Dense", "Activation"]
    assert graph.nodes["conv1_Conv"].params["padding"] == "same"
    assert graph.nodes["conv2_Conv"].params["padding"] == 1
    assert graph.nodes["reshape_Reshape"].params["shape"] == [1, 6, 6]
    assert graph.nodes["head_MatMul"].params["use_bias"] is True  # MatMul + Add became one Dense
    assert state["fc_Gemm/W"].shape == (16, 7)
    np.testing.assert_allclose(state["fc_Gemm/b"], 2.0 * inits["fc_b"])
    assert [n.params["rate"] for n in graph.nodes.values() if n.type == "Dropout"] == [0.25]


def test_a_residual_model_with_batchnorm_and_concat_imports() -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[0, 0, 1, 1], kernel_shape=[2, 2]),
        helper.make_node("BatchNormalization", ["c", "g", "b", "m", "v"], ["bn"], name="bn", epsilon=1e-3),
        helper.make_node("LeakyRelu", ["bn"], ["lr"], alpha=0.2),
        helper.make_node("Add", ["lr", "c"], ["s"], name="skip"),
        helper.make_node("Concat", ["s", "x"], ["cat"], axis=-3),
        helper.make_node("AveragePool", ["cat"], ["ap"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Tanh", ["ap"], ["t"]),
        helper.make_node("Identity", ["t"], ["y"]),
    ]
    inits = {"w": rand(2, 2, 2, 2), "g": rand(2) + 1, "b": rand(2), "m": rand(2),
             "v": np.abs(rand(2)) + 0.5}
    proto = make_model(nodes, [value("x", "N", 2, 5, 5)], [value("y", "N", 4, 2, 2)], inits)
    x = np.random.default_rng(2).normal(size=(4, 2, 5, 5)).astype(np.float32)
    project, _ = assert_matches_onnxruntime(proto, x)
    params = {n.id: n.params for n in project.graph.nodes.values()}
    assert params["conv"]["padding"] == "same" and params["bn"]["eps"] == 1e-3
    assert [n.params for n in project.graph.nodes.values() if n.type == "Concat"] == [{"axis": 0}]


def test_unsupported_operators_are_all_named(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("LSTM", ["x", "W", "R"], ["seq"], hidden_size=2),
        helper.make_node("Gather", ["seq", "idx"], ["last"], axis=0),
        helper.make_node("Flatten", ["last"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fc"], ["y"]),
    ]
    inits = {"W": rand(1, 8, 3), "R": rand(1, 8, 2), "idx": np.array([0], dtype=np.int64), "fc": rand(4, 2)}
    proto = make_model(nodes, [value("x", 5, "N", 3)], [value("y", "N", 2)], inits)
    path = tmp_path / "model.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(UserError) as info:
        import_onnx(path)
    assert str(info.value) == f"{path} uses operators NN Studio does not support: LSTM (node #1), Gather (node #2)"


def single_op_model(node: Any, inits: dict[str, np.ndarray], in_shape: list[Any], out_shape: list[Any]) -> Any:
    return make_model([node], [value("x", *in_shape)], [value("y", *out_shape)], inits)


@pytest.mark.parametrize("node, inits, in_shape, out_shape, message", [
    (helper.make_node("Conv", ["x", "w"], ["y"], name="dil", dilations=[2, 2]), {"w": rand(2, 1, 3, 3)},
     ["N", 1, 8, 8], ["N", 2, 4, 4], r"Conv 'dil': dilated convolution"),
    (helper.make_node("Conv", ["x", "w"], ["y"], name="asym", pads=[1, 0, 0, 0]), {"w": rand(2, 1, 3, 3)},
     ["N", 1, 8, 8], ["N", 2, 7, 6], r"Conv 'asym': padding \[1, 0, 0, 0\]"),
    (helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=1), {}, ["N", 3, 4], ["N", 3, 4],
     r"Softmax 'sm': softmax over axis 1 of a rank-3 tensor"),
    (helper.make_node("Concat", ["x", "x"], ["y"], name="cat", axis=0), {}, ["N", 3], ["N", 3],
     r"Concat 'cat': joins along axis 0"),
    (helper.make_node("Add", ["x", "c"], ["y"], name="plus"), {"c": rand(3)}, ["N", 3], ["N", 3],
     r"Add 'plus': adds a constant"),
    (helper.make_node("Flatten", ["x"], ["y"], name="fl", axis=2), {}, ["N", 2, 3], ["N", 6],
     r"Flatten 'fl': flattens from axis 2"),
    (helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[2, 2], ceil_mode=1), {},
     ["N", 1, 5, 5], ["N", 1, 5, 5], r"MaxPool 'mp': ceil_mode=1"),
    (helper.make_node("Gemm", ["x", "w"], ["y"], name="g", transA=1), {"w": rand(3, 2)}, ["N", 3], ["N", 2],
     r"Gemm 'g': transA=1"),
], ids=["dilation", "asymmetric-pads", "softmax-axis", "concat-batch", "add-constant", "flatten-axis",
        "ceil-mode", "transA"])
def test_unsupported_uses_name_the_node(node: Any, inits: dict, in_shape: list, out_shape: list,
                                        message: str) -> None:
    with pytest.raises(UserError, match=message):
        import_onnx_model(single_op_model(node, inits, in_shape, out_shape), source="m.onnx")


def test_ordinary_sign_and_a_lone_comparison_are_refused() -> None:
    sign = single_op_model(helper.make_node("Sign", ["x"], ["y"]), {}, ["N", 3], ["N", 3])
    with pytest.raises(UserError, match="does not support: Sign"):
        import_onnx_model(sign)
    nodes = [helper.make_node("GreaterOrEqual", ["x", "zero"], ["c"], name="ge"),
             helper.make_node("Where", ["c", "x", "minus"], ["y"], name="w")]
    proto = make_model(nodes, [value("x", "N", 3)], [value("y", "N", 3)],
                       {"zero": np.array(0, np.float32), "minus": np.array(-1, np.float32)})
    with pytest.raises(UserError, match=r"Where 'w': only the sign construction"):
        import_onnx_model(proto)


def test_models_with_two_inputs_or_free_sample_sizes_are_refused() -> None:
    two = make_model([helper.make_node("Add", ["a", "b"], ["y"])], [value("a", "N", 3), value("b", "N", 3)],
                     [value("y", "N", 3)], {})
    with pytest.raises(UserError, match="exactly one input; this model has 2 \\(a, b\\)"):
        import_onnx_model(two)
    free = make_model([helper.make_node("Relu", ["x"], ["y"])], [value("x", "N", "F")], [value("y", "N", "F")], {})
    with pytest.raises(UserError, match="no fixed size at axis 1 \\('F'\\)"):
        import_onnx_model(free)


def test_unreadable_and_missing_files_are_user_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\xffnot a protobuf at all" * 10)
    with pytest.raises(UserError, match="bad.onnx"):
        import_onnx(bad)
    with pytest.raises(UserError, match="does not exist"):
        import_onnx(tmp_path / "missing.onnx")
