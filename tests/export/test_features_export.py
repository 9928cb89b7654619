"""The Features block through every exporter: ONNX (onnxruntime agrees, elementary operators only, and it
imports back as the same block), PyTorch (outputs and gradients agree with the engine), and the project file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnstudio.errors import UserError
from nnstudio.export import export_onnx, export_pytorch, import_onnx, load_network
from nnstudio.graph.compile import compile_graph
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, load_project, save_project
from nnstudio.graph.shapes import infer_shapes

ALL = ["x1", "x2", "x1_sq", "x2_sq", "x1x2", "sin_x1", "sin_x2"]


def features_project(features: list[str], units: int = 3, final: str = "softmax") -> Project:
    graph = Graph()
    for nid, block_type, params in (("points", "Input", {"shape": [2]}), ("feat", "Features", {"features": features}),
                                    ("hidden", "Dense", {"units": units}),
                                    ("act", "Activation", {"function": final})):
        graph.add_node(block_type, params, node_id=nid)
    for src, dst in (("points", "feat"), ("feat", "hidden"), ("hidden", "act")):
        graph.connect(src, dst)
    return Project(name="Features", graph=graph)


def points(n: int = 9) -> np.ndarray:
    return np.random.default_rng(4).uniform(-2.0, 2.0, (n, 2)).astype(np.float32)


@pytest.mark.parametrize("features", [ALL, ["x1_sq", "x2_sq"], ["x2"], ["x1x2", "sin_x2"]])
def test_onnx_matches_the_engine_uses_elementary_operators_and_imports_back(features, tmp_path: Path):
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    project = features_project(features)
    path = export_onnx(project, None, tmp_path / "f.onnx")
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    ops = {n.op_type for n in proto.graph.node}
    assert ops <= {"Slice", "Mul", "Sin", "Concat", "Gemm", "Softmax"} and "Concat" in ops
    x = points()
    ours = load_network(project).model.predict(x)
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(["output"], {"input": x})[0], ours, rtol=1e-5, atol=1e-6)
    back, state = import_onnx(path)
    assert {n.id: (n.type, n.params) for n in back.graph.nodes.values()} == \
        {n.id: (n.type, n.params) for n in project.graph.nodes.values()}
    model = compile_graph(back.graph, backend="numpy")
    model.load_state_dict(state)
    np.testing.assert_allclose(model.predict(x), ours, rtol=1e-6, atol=1e-7)


def test_slice_or_sin_outside_the_features_construction_is_refused(tmp_path: Path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    inits = [numpy_helper.from_array(np.array([v], dtype=np.int64), n)
             for n, v in (("s", 0), ("e", 1), ("a", 1))]
    nodes = [helper.make_node("Slice", ["input", "s", "e", "a"], ["col"], name="cut"),
             helper.make_node("Sin", ["col"], ["output"], name="wave")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 1])],
                              initializer=inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(proto, str(tmp_path / "foreign.onnx"))
    with pytest.raises(UserError, match=r"Slice 'cut'.*only inside the Features construction"):
        import_onnx(tmp_path / "foreign.onnx")


@pytest.mark.parametrize("features", [ALL, ["x1_sq", "x2_sq"], ["sin_x1", "x1x2"]])
def test_pytorch_matches_the_engine_in_outputs_and_gradients(features, tmp_path: Path):
    torch = pytest.importorskip("torch")
    import importlib.util
    project = features_project(features, units=2, final="linear")
    result = export_pytorch(project, None, tmp_path / "features_net.py")
    spec = importlib.util.spec_from_file_location("features_net", result.module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.build_model(result.weights_path).double()
    x = points().astype(np.float64)
    target = np.random.default_rng(5).normal(size=(len(x), 2))
    xt = torch.tensor(x, requires_grad=True)
    out = net(xt)
    loss = ((out - torch.tensor(target)) ** 2).mean()
    loss.backward()
    engine = compile_graph(project.graph, backend="numpy", dtype=np.float64)
    engine.load_state_dict(load_network(project).model.state_dict())
    ours = engine.forward(x, training=True)
    np.testing.assert_allclose(out.detach().numpy(), ours, rtol=1e-6, atol=1e-7)
    grad_in = engine.backward(2.0 * (ours - target) / ours.size, need_input_grad=True)
    np.testing.assert_allclose(net.hidden.weight.grad.numpy().T, dict((k, g) for k, _, g in engine.parameters())
                               ["hidden/W"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(xt.grad.numpy(), grad_in, rtol=1e-6, atol=1e-9)


def test_features_survive_a_project_file_and_shape_inference_names_the_node(tmp_path: Path):
    project = features_project(["x2_sq", "x1_sq"])
    assert project.graph.nodes["feat"].params == {"features": ["x1_sq", "x2_sq"]}  # stored in output order
    save_project(project, tmp_path / "f.nnproj")
    again = load_project(tmp_path / "f.nnproj")
    assert again.graph.nodes["feat"].params == {"features": ["x1_sq", "x2_sq"]}
    report = infer_shapes(again.graph)
    assert report.ok and report.shapes["feat"] == (2,) and report.param_counts.get("feat", 0) == 0
    again.graph.set_param("points", "shape", [3])
    report = infer_shapes(again.graph)
    assert not report.ok
    assert any("Features 'feat'" in m.text and "needs 2 input values (x1, x2)" in m.text for m in report.errors)
    with pytest.raises(UserError, match="features must be a non-empty list of x1, x2"):
        again.graph.set_param("feat", "features", ["x3"])
