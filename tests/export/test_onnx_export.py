"""ONNX export: the model passes the full checker and onnxruntime computes what the engine computes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from nnstudio.errors import UserError  # noqa: E402
from nnstudio.export import build_onnx_model, export_onnx, load_network  # noqa: E402
from nnstudio.graph.document import Graph  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6


def run_ort(proto: object, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"input": x})[0]


def test_every_case_passes_the_checker_and_matches_the_engine(case, tmp_path: Path) -> None:
    path = export_onnx(case.project, case.state, tmp_path / f"{case.name}.onnx")
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    ours = load_network(case.project, case.state).model.predict(case.x)
    theirs = run_ort(proto, case.x)
    assert theirs.shape == ours.shape
    np.testing.assert_allclose(theirs, ours, rtol=RTOL, atol=ATOL)


def test_interface_is_input_and_output_with_a_dynamic_batch(graph_case) -> None:
    case = graph_case("cnn")
    proto = build_onnx_model(case.project, case.state)
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert inp.name == "input" and out.name == "output"
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [1, 12, 12]
    assert out.type.tensor_type.shape.dim[0].dim_param == "N"
    assert proto.opset_import[0].version == 17
    # A batch size never seen at export time runs.
    x = np.random.default_rng(3).normal(size=(1, 1, 12, 12)).astype(np.float32)
    assert run_ort(proto, x).shape == (1, 3)


def test_every_block_uses_only_standard_operators(graph_case) -> None:
    ops: set[str] = set()
    for name in ("mlp", "cnn", "residual", "vectors"):
        case = graph_case(name)
        ops |= {n.op_type for n in build_onnx_model(case.project, case.state).graph.node}
        assert all(n.domain == "" for n in build_onnx_model(case.project, case.state).graph.node)
    assert {"Gemm", "Conv", "MaxPool", "AveragePool", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Softmax",
            "Identity", "BatchNormalization", "Flatten", "Reshape", "Add", "Concat", "Where",
            "GreaterOrEqual"} <= ops
    assert "Sign" not in ops and "Dropout" not in ops  # sign(0) must be +1; dropout is the identity


def test_sign_maps_zero_to_plus_one_exactly() -> None:
    graph = Graph()
    graph.add_node("Input", {"shape": [5]}, node_id="in")
    graph.add_node("Activation", {"function": "relu"}, node_id="relu")
    graph.add_node("Activation", {"function": "sign"}, node_id="sign")
    graph.connect("in", "relu")
    graph.connect("relu", "sign")
    x = np.array([[-2.0, -0.0, 0.0, 1e-30, 3.0]], dtype=np.float32)
    out = run_ort(build_onnx_model(graph), x)
    np.testing.assert_array_equal(out, [[1.0, 1.0, 1.0, 1.0, 1.0]])  # relu gives zeros, sign(0) = +1
    direct = Graph()
    direct.add_node("Input", {"shape": [5]}, node_id="in")
    direct.add_node("Activation", {"function": "sign"}, node_id="sign")
    direct.connect("in", "sign")
    np.testing.assert_array_equal(run_ort(build_onnx_model(direct), x), [[-1.0, 1.0, 1.0, 1.0, 1.0]])


def test_dense_on_an_image_gets_a_flatten_and_same_padding_is_explicit(graph_case) -> None:
    case = graph_case("residual")
    nodes = {n.name: n for n in build_onnx_model(case.project, case.state).graph.node}
    assert nodes["head/flatten"].op_type == "Flatten" and nodes["head"].op_type == "Gemm"
    assert list(nodes["head"].input)[0] == nodes["head/flatten"].output[0]
    stem = {a.name: list(a.ints) for a in nodes["stem"].attribute}
    assert stem["pads"] == [1, 1, 1, 1] and stem["kernel_shape"] == [3, 3]
    assert nodes["sum"].op_type == "Add" and nodes["sum/add1"].op_type == "Add"  # 3 inputs: a chain
    assert next(a.i for a in nodes["cat"].attribute if a.name == "axis") == 1  # channels, after the batch
    case = graph_case("cnn")
    nodes = {n.name: n for n in build_onnx_model(case.project, case.state).graph.node}
    pads = next(list(a.ints) for a in nodes["c2"].attribute if a.name == "pads")
    assert pads == [0, 0, 1, 1]  # "same" with stride 2 on 6x6: the extra row and column at the end


@pytest.mark.parametrize("opset", [13, 14, 18])
def test_other_opsets_also_match(graph_case, opset: int) -> None:
    case = graph_case("vectors")
    proto = build_onnx_model(case.project, case.state, opset=opset)
    assert proto.opset_import[0].version == opset
    ours = load_network(case.project, case.state).model.predict(case.x)
    np.testing.assert_allclose(run_ort(proto, case.x), ours, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("opset", [12, 99, "17", True])
def test_unsupported_opset_is_a_user_error(graph_case, opset: object) -> None:
    case = graph_case("mlp")
    with pytest.raises(UserError, match="opset must be a whole number from 13"):
        build_onnx_model(case.project, case.state, opset=opset)


def test_weights_that_do_not_fit_are_a_user_error(graph_case, tmp_path: Path) -> None:
    case = graph_case("mlp")
    bad = dict(case.state)
    bad["d1/W"] = np.zeros((3, 3), dtype=np.float32)
    with pytest.raises(UserError, match=r"d1/W"):
        export_onnx(case.project, bad, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_weights_can_come_from_an_npz_file_and_default_to_the_seeded_start(graph_case, tmp_path: Path) -> None:
    case = graph_case("mlp")
    np.savez(tmp_path / "w.npz", **case.state)
    from_file = run_ort(build_onnx_model(case.project, tmp_path / "w.npz"), case.x)
    from_dict = run_ort(build_onnx_model(case.project, case.state), case.x)
    np.testing.assert_array_equal(from_file, from_dict)
    initial = run_ort(build_onnx_model(case.project, None), case.x)
    assert not np.allclose(initial, from_dict)  # the perturbed biases change the outputs
    with pytest.raises(UserError, match="does not exist"):
        build_onnx_model(case.project, tmp_path / "missing.npz")


def test_an_invalid_graph_is_a_user_error() -> None:
    graph = Graph()
    graph.add_node("Input", {"shape": [4]}, node_id="in")
    graph.add_node("Conv2D", {}, node_id="conv")
    graph.connect("in", "conv")
    with pytest.raises(UserError, match="conv"):
        build_onnx_model(graph)
