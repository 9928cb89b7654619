"""The project's L1 / L2 penalty travels with the PyTorch export: regularization_penalty(model) over the same
weights gives the engine's penalty, and the loss and gradients of a training step agree with the engine's."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from nnstudio.engine.losses import get_loss
from nnstudio.engine.regularization import Regularizer
from nnstudio.export import export_pytorch, load_network
from nnstudio.graph.compile import compile_graph
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project

torch = pytest.importorskip("torch")


def project(l1: float, l2: float) -> Project:
    graph = Graph()
    for nid, block_type, params in (("img", "Input", {"shape": [1, 6, 6]}),
                                    ("conv", "Conv2D", {"filters": 2, "kernel_size": 3}),
                                    ("act", "Activation", {"function": "tanh"}),
                                    ("norm", "BatchNorm", {}),
                                    ("fc", "Dense", {"units": 3}),
                                    ("soft", "Activation", {"function": "softmax"})):
        graph.add_node(block_type, params, node_id=nid)
    for src, dst in (("img", "conv"), ("conv", "act"), ("act", "norm"), ("norm", "fc"), ("fc", "soft")):
        graph.connect(src, dst)
    return Project(name="Penalised", graph=graph, training={"dataset": "mnist", "l1": l1, "l2": l2})


@pytest.mark.parametrize("l1,l2", [(0.01, 0.0), (0.0, 0.03), (0.02, 0.05)])
def test_exported_penalty_matches_the_engine_in_loss_and_gradients(l1, l2, tmp_path: Path):
    proj = project(l1, l2)
    result = export_pytorch(proj, None, tmp_path / "penalised.py")
    spec = importlib.util.spec_from_file_location("penalised", result.module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (module.L1, module.L2) == (l1, l2) and module.PENALISED == ("conv.weight", "fc.weight")
    net = module.build_model(result.weights_path).double().eval()

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 1, 6, 6)), rng.integers(0, 3, 4)
    data_loss = torch.nn.functional.cross_entropy(net(torch.tensor(x), logits=True), torch.tensor(y))
    total = data_loss + module.regularization_penalty(net)
    total.backward()

    engine = compile_graph(proj.graph, backend="numpy", dtype=np.float64)
    engine.load_state_dict(load_network(proj).model.state_dict())
    reg = Regularizer(l1, l2)
    value, grad = get_loss("cross_entropy").value_and_grad(engine.forward(x, logits=True), y, True)
    engine.backward(grad)
    reg.add_gradients(engine)
    assert float(total.detach()) == pytest.approx(float(value) + reg.penalty(engine), rel=1e-9)
    grads = {key: g for key, _, g in engine.parameters()}
    np.testing.assert_allclose(net.conv.weight.grad.numpy(), grads["conv/W"], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(net.fc.weight.grad.numpy().T, grads["fc/W"], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(net.fc.bias.grad.numpy(), grads["fc/b"], rtol=1e-7, atol=1e-10)


def test_without_rates_the_penalty_is_zero(tmp_path: Path):
    graph = project(0.0, 0.0).graph
    result = export_pytorch(graph, None, tmp_path / "plain.py")
    spec = importlib.util.spec_from_file_location("plain", result.module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.L1 == 0.0 and module.L2 == 0.0
    assert float(module.regularization_penalty(module.build_model())) == 0.0
