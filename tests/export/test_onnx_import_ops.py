"""ONNX import, operator by operator: small models built with onnx.helper at a few shapes, imported, run on
the engine and compared with onnxruntime; what a block cannot express is refused with the node named."""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from nnstudio.errors import UserError  # noqa: E402
from nnstudio.export import import_onnx_model  # noqa: E402
from nnstudio.graph.compile import compile_graph  # noqa: E402


def rand(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed + 7 * len(shape) + sum(shape)).normal(0, 0.5, shape).astype(np.float32)


def model(nodes: list[Any], in_shape: list[Any], inits: dict[str, np.ndarray], opset: int = 17) -> Any:
    """A model from ``nodes`` reading "x" (batch axis free) and writing "y", whose shape the checker infers."""
    graph = helper.make_graph(nodes, "ops", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *in_shape])],
                              [], initializer=[numpy_helper.from_array(v, k) for k, v in inits.items()])
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))
    inferred = onnx.shape_inference.infer_shapes(proto, strict_mode=True)
    y = next(v for v in inferred.graph.value_info if v.name == "y")
    proto.graph.output.append(y)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def check(proto: Any, in_shape: list[int], batch: int = 3) -> Any:
    """Import ``proto``, run it on the engine and on onnxruntime, and compare to 1e-5; the project."""
    x = np.random.default_rng(len(in_shape) + sum(in_shape)).normal(size=(batch, *in_shape)).astype(np.float32)
    project, state = import_onnx_model(proto, source="m.onnx")
    net = compile_graph(project.graph, backend="numpy")
    net.load_state_dict(state)
    ours = net.predict(x)
    expected = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    assert ours.shape == expected.shape
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)
    return project


re_escape = re.escape


def types(project: Any) -> list[str]:
    return [n.type for n in project.graph.nodes.values()]


def refused(proto: Any, message: str) -> None:
    with pytest.raises(UserError, match=message) as info:
        import_onnx_model(proto, source="m.onnx")
    assert "\n" not in str(info.value) and str(info.value).startswith("m.onnx: ")


# -- Conv ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("in_shape, filters, k, stride, pad, bias", [
    ([1, 5, 5], 2, 3, 1, 0, True),
    ([2, 7, 9], 3, 3, 2, 1, False),
    ([3, 8, 8], 4, 5, 2, 2, True),
    ([2, 6, 5], 2, 1, 3, 0, True),
])
def test_conv_kernels_strides_and_symmetric_padding(in_shape, filters, k, stride, pad, bias) -> None:
    inputs = ["x", "w", "b"] if bias else ["x", "w"]
    inits = {"w": rand(filters, in_shape[0], k, k), "b": rand(filters)}
    node = helper.make_node("Conv", inputs, ["y"], name="conv", kernel_shape=[k, k], strides=[stride, stride],
                            pads=[pad] * 4)
    project = check(model([node], in_shape, inits if bias else {"w": inits["w"]}), in_shape)
    params = project.graph.nodes["conv"].params
    assert (params["kernel_size"], params["stride"], params["padding"]) == (k, stride, pad)


@pytest.mark.parametrize("in_shape", [[1, 5, 5], [2, 6, 7]])
def test_conv_same_upper_padding(in_shape) -> None:
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", auto_pad="SAME_UPPER", strides=[2, 2])
    project = check(model([node], in_shape, {"w": rand(3, in_shape[0], 3, 3), "b": rand(3)}), in_shape)
    assert project.graph.nodes["conv"].params["padding"] == "same"


@pytest.mark.parametrize("in_shape, kernel, strides, pads, expected", [
    ([1, 8, 8], (3, 2), [1, 1], [0, 0, 0, 0], ([3, 2], 1, 0)),
    ([2, 9, 7], (3, 3), [1, 2], [1, 1, 1, 1], (3, [1, 2], 1)),
    ([1, 7, 10], (5, 3), [2, 3], [2, 1, 2, 1], ([5, 3], [2, 3], [2, 1])),
    ([3, 6, 6], (1, 4), [3, 1], [0, 2, 0, 2], ([1, 4], [3, 1], [0, 2])),
])
def test_rectangular_kernels_unequal_strides_and_per_axis_padding(in_shape, kernel, strides, pads, expected) -> None:
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", strides=strides, pads=pads)
    project = check(model([node], in_shape, {"w": rand(3, in_shape[0], *kernel), "b": rand(3)}), in_shape)
    params = project.graph.nodes["conv"].params
    assert (params["kernel_size"], params["stride"], params["padding"]) == expected


@pytest.mark.parametrize("in_shape", [[1, 6, 5], [2, 7, 8]])
def test_rectangular_same_upper_padding(in_shape) -> None:
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", auto_pad="SAME_UPPER", strides=[2, 1])
    project = check(model([node], in_shape, {"w": rand(2, in_shape[0], 3, 2)}), in_shape)
    assert project.graph.nodes["conv"].params["padding"] == "same"


@pytest.mark.parametrize("pads", [[1, 0, 2, 0], [0, 1, 0, 0]])
def test_asymmetric_conv_padding_is_refused(pads) -> None:
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=pads)
    pads_text = re_escape(str(pads))
    refused(model([node], [1, 8, 8], {"w": rand(2, 1, 3, 3)}), rf"Conv 'conv': padding {pads_text} is not symmetric")


# -- Gemm, MatMul + Add -------------------------------------------------------------------------------------
@pytest.mark.parametrize("n_in, n_out, trans_b, alpha, beta, c_shape", [
    (3, 4, 0, 1.0, 1.0, "vector"),
    (5, 2, 1, 0.5, 2.0, "row"),
    (8, 6, 1, -1.5, 0.25, "scalar"),
    (4, 3, 0, 2.0, 0.0, "none"),
])
def test_gemm_trans_b_alpha_beta_fold_into_the_weights(n_in, n_out, trans_b, alpha, beta, c_shape) -> None:
    w = rand(n_out, n_in) if trans_b else rand(n_in, n_out)
    c = {"vector": rand(n_out), "row": rand(1, n_out), "scalar": np.array(0.75, np.float32), "none": None}[c_shape]
    inits = {"w": w} if c is None else {"w": w, "c": c}
    node = helper.make_node("Gemm", ["x", "w", "c"] if c is not None else ["x", "w"], ["y"], name="fc",
                            transB=trans_b, alpha=alpha, beta=beta)
    project = check(model([node], [n_in], inits), [n_in])
    assert types(project) == ["Input", "Dense"]
    assert project.graph.nodes["fc"].params["units"] == n_out


@pytest.mark.parametrize("n_in, n_out, alpha, beta, perm", [(3, 4, 1.0, 1.0, [1, 0]), (6, 2, 0.5, 2.0, None),
                                                         (5, 5, -2.0, 0.5, [1, 0])])
def test_gemm_trans_a_of_a_transposed_data_input(n_in, n_out, alpha, beta, perm) -> None:
    # A = Transpose(x) is (n_in, N); transA=1 turns it back, so the pair is a Dense on x.
    attrs = {} if perm is None else {"perm": perm}
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], name="t", **attrs),
             helper.make_node("Gemm", ["xt", "w", "c"], ["y"], name="fc", transA=1, transB=1, alpha=alpha, beta=beta)]
    project = check(model(nodes, [n_in], {"w": rand(n_out, n_in), "c": rand(n_out)}), [n_in])
    assert types(project) == ["Input", "Dense"]


def test_gemm_with_a_transposed_data_input_is_refused() -> None:
    node = helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transA=1)
    refused(model([node], [3], {"w": rand(3, 2)}), r"Gemm 'fc': transA=1 reads the data input A with the batch on "
                                                   r"its second axis")


@pytest.mark.parametrize("n_in, n_out, bias_first", [(3, 4, False), (6, 2, True), (10, 7, False)])
def test_matmul_plus_add_is_one_dense(n_in, n_out, bias_first) -> None:
    add_inputs = ["b", "m"] if bias_first else ["m", "b"]
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"), helper.make_node("Add", add_inputs, ["y"])]
    project = check(model(nodes, [n_in], {"w": rand(n_in, n_out), "b": rand(n_out)}), [n_in])
    assert types(project) == ["Input", "Dense"] and project.graph.nodes["mm"].params["use_bias"] is True


# -- constants computed at import ---------------------------------------------------------------------------
@pytest.mark.parametrize("n_in, n_out", [(3, 4), (7, 5)])
def test_transposed_and_scaled_initializers_are_folded(n_in, n_out) -> None:
    nodes = [
        helper.make_node("Transpose", ["wt"], ["w0"], perm=[1, 0]),  # (out, in) -> (in, out)
        helper.make_node("Mul", ["w0", "scale"], ["w1"]),
        helper.make_node("Sub", ["w1", "shift"], ["w"]),
        helper.make_node("Div", ["bias_raw", "two"], ["b0"]),
        helper.make_node("Neg", ["b0"], ["b"]),
        helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
        helper.make_node("Add", ["m", "b"], ["y"]),
    ]
    inits = {"wt": rand(n_out, n_in), "scale": rand(1, n_out) + 1, "shift": np.array(0.1, np.float32),
             "bias_raw": rand(n_out), "two": np.array(2.0, np.float32)}
    project = check(model(nodes, [n_in], inits), [n_in])
    assert types(project) == ["Input", "Dense"]


@pytest.mark.parametrize("in_shape, filters", [([1, 6, 6], 2), ([3, 5, 5], 4)])
def test_folded_batchnorm_style_conv_weights(in_shape, filters) -> None:
    """W * gamma / sqrt(var + eps), reshaped to (F, 1, 1, 1), then flattened and reshaped for the bias."""
    c = in_shape[0]
    nodes = [
        helper.make_node("Add", ["var", "eps"], ["ve"]),
        helper.make_node("Sqrt", ["ve"], ["std"]),
        helper.make_node("Div", ["gamma", "std"], ["g"]),
        helper.make_node("Reshape", ["g", "col"], ["g4"]),
        helper.make_node("Mul", ["w_raw", "g4"], ["w"]),
        helper.make_node("Flatten", ["bias3d"], ["bias_flat"], axis=-1),
        helper.make_node("Reshape", ["bias_flat", "vec"], ["bias1"]),
        helper.make_node("Identity", ["bias1"], ["bias"]),
        helper.make_node("Conv", ["x", "w", "bias"], ["y"], name="conv", pads=[1, 1, 1, 1]),
    ]
    inits = {"var": np.abs(rand(filters)) + 0.5, "eps": np.array(1e-3, np.float32), "gamma": rand(filters) + 1,
             "col": np.array([-1, 1, 1, 1], np.int64), "w_raw": rand(filters, c, 3, 3),
             "bias3d": rand(1, 1, filters), "vec": np.array([0], np.int64) + filters}
    project = check(model(nodes, in_shape, inits), in_shape)
    assert types(project) == ["Input", "Conv2D"]


def test_arithmetic_or_transpose_on_the_data_is_refused_naming_the_node() -> None:
    refused(model([helper.make_node("Mul", ["x", "s"], ["y"], name="scale")], [3], {"s": rand(3)}),
            r"Mul 'scale': applies Mul to the data")
    refused(model([helper.make_node("Transpose", ["x"], ["y"], name="tr", perm=[0, 2, 1])], [2, 3], {}),
            r"Transpose 'tr': reorders the axes of the data \(perm=\[0, 2, 1\]\)")
    refused(model([helper.make_node("Sub", ["x", "x"], ["y"], name="diff")], [3], {}),
            r"Sub 'diff': applies Sub to the data")


def test_a_constant_that_cannot_be_computed_is_refused_naming_the_node() -> None:
    nodes = [helper.make_node("Add", ["a", "b"], ["w"], name="bad_add"),
             helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    graph = helper.make_graph(nodes, "ops", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])],
                              initializer=[numpy_helper.from_array(rand(3, 2), "a"),
                                           numpy_helper.from_array(rand(4, 5), "b")])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    refused(proto, r"Add 'bad_add': cannot be computed on its constant inputs")


def test_data_identity_transpose_is_kept() -> None:
    project = check(model([helper.make_node("Transpose", ["x"], ["t"], perm=[0, 1]),
                           helper.make_node("Relu", ["t"], ["y"])], [4], {}), [4])
    assert types(project) == ["Input", "Activation", "Activation"]


# -- pooling ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("in_shape, pools", [([3, 1, 1], 1), ([2, 5, 5], 1), ([4, 7, 7], 1), ([2, 28, 28], 2),
                                             ([1, 32, 32], 2)])
def test_global_pools_are_pool2d_over_the_whole_map(op, in_shape, pools) -> None:
    nodes = [helper.make_node(op, ["x"], ["p"], name="gp"), helper.make_node("Flatten", ["p"], ["y"])]
    project = check(model(nodes, in_shape, {}), in_shape)
    pool_nodes = [n for n in project.graph.nodes.values() if n.type == "Pool2D"]
    assert len(pool_nodes) == pools and pool_nodes[0].id == "gp"
    assert {n.params["mode"] for n in pool_nodes} == {"avg" if op == "GlobalAveragePool" else "max"}


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("in_shape, pools", [([2, 4, 6], 1), ([1, 3, 32], 2), ([2, 20, 5], 2)])
def test_global_pools_over_rectangular_maps(op, in_shape, pools) -> None:
    nodes = [helper.make_node(op, ["x"], ["p"], name="gp"), helper.make_node("Flatten", ["p"], ["y"])]
    project = check(model(nodes, in_shape, {}), in_shape)
    assert len([n for n in project.graph.nodes.values() if n.type == "Pool2D"]) == pools


@pytest.mark.parametrize("in_shape, message", [([2, 17, 17], r"pools a 17x17 map; .* at most 16 pixels on a side"),
                                                ([5], r"only 2-D pooling")])
def test_global_pools_that_pool2d_cannot_express_are_refused(in_shape, message) -> None:
    refused(model([helper.make_node("GlobalAveragePool", ["x"], ["y"], name="gp")], in_shape, {}),
            r"GlobalAveragePool 'gp': " + message)


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("in_shape, kernel, strides, pads, expected", [
    ([1, 5, 5], [3, 3], [2, 2], [1, 1, 1, 1], (3, 2, 1)),
    ([2, 7, 6], [3, 2], [1, 2], [1, 0, 1, 0], ([3, 2], [1, 2], [1, 0])),
    ([3, 8, 9], [2, 4], [2, 3], [0, 2, 0, 2], ([2, 4], [2, 3], [0, 2])),
    ([1, 6, 6], [2, 2], [1, 1], [1, 1, 1, 1], (2, 1, 1)),
    ([2, 9, 4], [5, 1], [2, 1], [0, 0, 0, 0], ([5, 1], [2, 1], 0)),
])
def test_pools_with_padding_rectangular_windows_and_unequal_strides(op, in_shape, kernel, strides, pads,
                                                                    expected) -> None:
    node = helper.make_node(op, ["x"], ["y"], name="pool", kernel_shape=kernel, strides=strides, pads=pads)
    project = check(model([node], in_shape, {}), in_shape)
    params = project.graph.nodes["pool"].params
    stride = 0 if expected[1] == expected[0] else expected[1]
    assert (params["size"], params["stride"], params.get("padding", 0)) == (expected[0], stride, expected[2])


@pytest.mark.parametrize("op, attrs, message", [
    ("MaxPool", {"kernel_shape": [3, 3], "pads": [1, 0, 0, 0]}, r"pads \[1, 0, 0, 0\] are not symmetric"),
    ("MaxPool", {"kernel_shape": [2, 2], "pads": [2, 2, 2, 2]}, r"pads \[2, 2, 2, 2\] are more than half the window 2x2"),
    ("AveragePool", {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1},
     r"count_include_pad=1 is not supported"),
    ("MaxPool", {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER"}, r"auto_pad=SAME_UPPER is not supported"),
])
def test_pool_padding_pool2d_cannot_express_is_refused(op, attrs, message) -> None:
    refused(model([helper.make_node(op, ["x"], ["y"], name="pool", **attrs)], [1, 6, 6], {}), f"{op} 'pool': " + message)


# -- Dropout, BatchNormalization, activations, Flatten / Reshape on the data --------------------------------
@pytest.mark.parametrize("opset, in_shape", [(12, [4]), (13, [2, 3, 3]), (17, [6])])
def test_dropout_is_the_identity_at_inference(opset, in_shape) -> None:
    inputs, inits = (["x", "ratio"], {"ratio": np.array(0.3, np.float32)}) if opset >= 13 else (["x"], {})
    nodes = [helper.make_node("Dropout", inputs, ["d"], name="drop"), helper.make_node("Tanh", ["d"], ["y"])]
    project = check(model(nodes, in_shape, inits, opset=opset), in_shape)
    assert project.graph.nodes["drop"].type == "Dropout"


@pytest.mark.parametrize("in_shape", [[3, 4, 4], [2, 5, 3], [5]])
def test_batchnormalization(in_shape) -> None:
    c = in_shape[0]
    inits = {"g": rand(c) + 1, "b": rand(c), "m": rand(c), "v": np.abs(rand(c)) + 0.3}
    node = helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["y"], name="bn", epsilon=1e-4)
    project = check(model([node], in_shape, inits), in_shape)
    assert types(project) == ["Input", "BatchNorm"]


@pytest.mark.parametrize("op, attrs", [("Relu", {}), ("LeakyRelu", {"alpha": 0.1}), ("LeakyRelu", {}),
                                       ("Sigmoid", {}), ("Tanh", {}), ("Softmax", {}), ("Softmax", {"axis": -1})])
@pytest.mark.parametrize("in_shape", [[5], [2, 3, 4]])
def test_activations(op, attrs, in_shape) -> None:
    project = check(model([helper.make_node(op, ["x"], ["y"], name="act", **attrs)], in_shape, {}), in_shape)
    assert types(project) == ["Input", "Activation"]


@pytest.mark.parametrize("in_shape, target", [([2, 3, 4], [0, -1]), ([12], [-1, 3, 2, 2]), ([2, 2, 3], [0, 3, 4])])
def test_flatten_and_reshape_of_the_data(in_shape, target) -> None:
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape"),
             helper.make_node("Flatten", ["r"], ["f"], name="flat"), helper.make_node("Relu", ["f"], ["y"])]
    project = check(model(nodes, in_shape, {"shape": np.array(target, np.int64)}), in_shape)
    assert types(project) == ["Input", "Reshape", "Flatten", "Activation"]


def test_an_imported_feature_extractor_predicts_raw_outputs_like_onnxruntime(tmp_path, capsys) -> None:
    """nnstudio import, then nnstudio predict --raw --json: the pooled features onnxruntime computes."""
    import json  # noqa: PLC0415

    from nnstudio.cli import main  # noqa: PLC0415

    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["y"], name="gap")]
    proto = model(nodes, [2, 6, 6], {"w": rand(4, 2, 3, 3), "b": rand(4)})
    onnx.save(proto, str(tmp_path / "features.onnx"))
    assert main(["import", str(tmp_path / "features.onnx"), "-o", str(tmp_path / "features.nnproj")]) == 0
    x = np.random.default_rng(1).normal(size=(2, 2, 6, 6)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "features.nnproj"), "--weights", str(tmp_path / "features.weights.npz"),
                 str(tmp_path / "x.npy"), "--raw", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    expected = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]
    np.testing.assert_allclose(np.array([r["output"] for r in rows]), expected, rtol=1e-5, atol=1e-5)
