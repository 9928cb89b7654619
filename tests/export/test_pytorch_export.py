"""PyTorch export: the generated module is standalone, matches the engine and trains."""
from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from nnstudio.errors import UserError
from nnstudio.export import export_pytorch, load_network
from nnstudio.export.pytorch_export import class_name_for, pytorch_source
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project

RTOL, ATOL = 1e-5, 1e-6


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_source_imports_only_torch_and_the_standard_library(graph_case) -> None:
    for name in ("mlp", "cnn", "residual", "vectors"):
        case = graph_case(name)
        source, _ = pytorch_source(load_network(case.project, case.state))
        tree = ast.parse(source)
        roots = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots.add((node.module or "").split(".")[0])
        assert roots <= {"__future__", "ast", "sys", "zipfile", "pathlib", "torch"}, roots


def test_every_case_matches_the_engine_in_pytorch(case, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    result = export_pytorch(case.project, case.state, tmp_path / "net.py")
    module = load_module(result.module_path)
    model = module.build_model(result.weights_path).eval()
    with torch.no_grad():
        theirs = model(torch.from_numpy(case.x)).numpy()
    ours = load_network(case.project, case.state).model.predict(case.x)
    np.testing.assert_allclose(theirs, ours, rtol=RTOL, atol=ATOL)


def test_layers_are_named_after_node_ids_and_weights_transpose(graph_case, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    case = graph_case("cnn")
    result = export_pytorch(case.project, case.state, tmp_path / "cnn.py")
    model = load_module(result.module_path).build_model(result.weights_path)
    assert isinstance(model.c1, torch.nn.Conv2d) and isinstance(model.bn1, torch.nn.BatchNorm2d)
    assert isinstance(model.fc, torch.nn.Linear)
    np.testing.assert_array_equal(model.fc.weight.detach().numpy(), case.state["fc/W"].T)
    np.testing.assert_array_equal(model.bn1.running_var.numpy(), case.state["bn1/running_var"])
    assert result.class_name == "TestCnn"


def test_a_training_step_runs_and_lowers_the_loss(graph_case, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    for name in ("cnn", "residual", "mlp"):
        case = graph_case(name)
        result = export_pytorch(case.project, case.state, tmp_path / f"{name}.py")
        model = load_module(result.module_path).build_model(result.weights_path).train()
        x = torch.from_numpy(np.random.default_rng(1).normal(size=(16, *case.x.shape[1:])).astype(np.float32))
        with torch.no_grad():
            target = torch.randn_like(model.eval()(x))
        model.train()
        before = {k: v.detach().clone() for k, v in model.named_parameters()}
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        losses = []
        for _ in range(5):
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), target)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        changed = [k for k, v in model.named_parameters() if not torch.equal(v, before[k])]
        assert changed, name
        if name != "residual":  # the sign output is piecewise constant: its loss need not move in 5 steps
            assert losses[-1] < losses[0], (name, losses)


def test_logits_skip_the_final_softmax(graph_case, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    case = graph_case("mlp")
    result = export_pytorch(case.project, case.state, tmp_path / "mlp.py")
    model = load_module(result.module_path).build_model(result.weights_path).eval()
    x = torch.from_numpy(case.x)
    with torch.no_grad():
        np.testing.assert_allclose(torch.softmax(model(x, logits=True), dim=-1).numpy(), model(x).numpy(),
                                   rtol=1e-6, atol=1e-7)


def test_batchnorm_training_updates_running_statistics_like_the_engine(graph_case, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    case = graph_case("cnn")
    net = load_network(case.project, case.state)
    result = export_pytorch(case.project, case.state, tmp_path / "cnn.py")
    model = load_module(result.module_path).build_model(result.weights_path).train()
    with torch.no_grad():
        model(torch.from_numpy(case.x))
    net.model.forward(case.x, training=True)
    ours = net.model.state_dict()
    np.testing.assert_allclose(model.bn1.running_mean.numpy(), ours["bn1/running_mean"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.bn1.running_var.numpy(), ours["bn1/running_var"], rtol=1e-5, atol=1e-6)


def test_weights_saved_from_pytorch_load_back_into_nn_studio(graph_case, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    case = graph_case("vectors")
    result = export_pytorch(case.project, case.state, tmp_path / "v.py")
    module = load_module(result.module_path)
    model = module.build_model(result.weights_path)
    with torch.no_grad():
        model.dense.weight.mul_(2.0)
    module.save_nnstudio_weights(model, tmp_path / "back.npz")
    net = load_network(case.project, tmp_path / "back.npz")
    state = net.model.state_dict()
    np.testing.assert_array_equal(state["dense/W"], 2.0 * case.state["dense/W"])
    np.testing.assert_array_equal(state["vbn/running_var"], case.state["vbn/running_var"])
    with np.load(tmp_path / "back.npz") as data:  # NumPy reads what the torch-only writer wrote
        assert set(data.files) == set(case.state)


def test_the_main_demo_runs(graph_case, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    case = graph_case("mlp")
    result = export_pytorch(case.project, case.state, tmp_path / "demo.py")
    done = subprocess.run([sys.executable, str(result.module_path)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "loaded" in done.stdout and "output shape: (4, 5)" in done.stdout


def test_awkward_node_ids_become_safe_identifiers(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    graph = Graph()
    graph.add_node("Input", {"shape": [3]}, node_id="input")
    graph.add_node("Dense", {"units": 2}, node_id="train")
    graph.add_node("Dense", {"units": 2}, node_id="2 layer-x")
    graph.add_node("Activation", {"function": "sign"}, node_id="class")
    graph.connect("input", "train")
    graph.connect("train", "2 layer-x")
    graph.connect("2 layer-x", "class")
    project = Project(name="3 odd names!", graph=graph)
    result = export_pytorch(project, None, tmp_path / "odd.py")
    model = load_module(result.module_path).build_model(result.weights_path)
    model.train()  # still the nn.Module method, not the layer named "train"
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    with torch.no_grad():
        out = model.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(out, load_network(project).model.predict(x))
    assert result.class_name == class_name_for("3 odd names!") == "Net3OddNames"


def test_output_must_be_a_python_file(graph_case, tmp_path: Path) -> None:
    case = graph_case("mlp")
    with pytest.raises(UserError, match=r"must end in \.py"):
        export_pytorch(case.project, case.state, tmp_path / "model.pt")
