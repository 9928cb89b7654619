"""ONNX import of models exported by PyTorch itself (torch.onnx.export), not by our exporter: each imported
network must compute what PyTorch and onnxruntime compute, at several input shapes; what no block can express
is refused with the node named."""
from __future__ import annotations

import io
import warnings
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
nn = torch.nn

from nnstudio.errors import UserError  # noqa: E402
from nnstudio.export import import_onnx_model  # noqa: E402
from nnstudio.graph.compile import compile_graph  # noqa: E402


def export(module: Any, in_shape: tuple[int, ...]) -> Any:
    """``module`` (in eval mode) exported by PyTorch's TorchScript-based exporter, batch axis dynamic."""
    module.eval()
    x = torch.zeros((2, *in_shape))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice
        torch.onnx.export(module, (x,), buffer, dynamo=False, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, opset_version=17)
    return onnx.load_from_string(buffer.getvalue())


def compare(module: Any, in_shape: tuple[int, ...], batch: int = 3) -> Any:
    """Export, import and run on our engine; compare with PyTorch and onnxruntime to 1e-5. The project."""
    torch.manual_seed(0)
    with torch.no_grad():  # non-trivial BatchNorm statistics
        for m in module.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
    proto = export(module, in_shape)
    x = np.random.default_rng(sum(in_shape)).normal(size=(batch, *in_shape)).astype(np.float32)
    project, state = import_onnx_model(proto, source="torch.onnx")
    net = compile_graph(project.graph, backend="numpy")
    net.load_state_dict(state)
    ours = net.predict(x)
    with torch.no_grad():
        theirs = module(torch.from_numpy(x)).numpy()
    runtime = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    np.testing.assert_allclose(runtime, theirs, rtol=1e-5, atol=1e-5)  # the reference agrees with itself
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    return project


def block_types(project: Any) -> list[str]:
    return [n.type for n in project.graph.nodes.values()]


@pytest.mark.parametrize("in_shape", [(1, 9, 8), (2, 12, 15)])
def test_rectangular_convolutions_and_padded_pools(in_shape) -> None:
    c = in_shape[0]
    module = nn.Sequential(
        nn.Conv2d(c, 3, (3, 2), stride=(1, 2), padding=(1, 0)), nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.AvgPool2d((2, 3), stride=(1, 2), padding=(1, 1), count_include_pad=False),
        nn.Conv2d(3, 4, (1, 3), padding=(0, 1), bias=False), nn.Tanh(),
        nn.Flatten(), nn.LazyLinear(5, bias=False))
    module(torch.zeros((1, *in_shape)))  # materialise the lazy layer
    project = compare(module, in_shape)
    types = block_types(project)
    assert types.count("Conv2D") == 2 and types.count("Pool2D") == 2 and types[-1] == "Dense"
    convs = [n.params for n in project.graph.nodes.values() if n.type == "Conv2D"]
    assert (convs[0]["kernel_size"], convs[0]["stride"], convs[0]["padding"]) == ([3, 2], [1, 2], [1, 0])


@pytest.mark.parametrize("in_shape", [(6,), (13,)])
def test_mlp_with_bias_free_linear_and_every_activation(in_shape) -> None:
    module = nn.Sequential(nn.Linear(in_shape[0], 8, bias=False), nn.LeakyReLU(0.2), nn.Dropout(0.3),
                           nn.Linear(8, 7), nn.Sigmoid(), nn.Linear(7, 6), nn.Tanh(), nn.Linear(6, 5), nn.ReLU(),
                           nn.Linear(5, 4), nn.Softmax(dim=1))
    project = compare(module, in_shape)
    assert block_types(project).count("Dense") == 5


@pytest.mark.parametrize("in_shape", [(1, 8, 8), (3, 10, 6)])
def test_batchnorm_cnn_with_global_average_pool(in_shape) -> None:
    module = nn.Sequential(nn.Conv2d(in_shape[0], 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                           nn.Conv2d(4, 6, (3, 1), stride=(2, 1)), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                           nn.Linear(6, 3))
    project = compare(module, in_shape)
    # PyTorch's exporter folds the eval-mode BatchNorm into the convolution before it; the global pool is a
    # Pool2D over the whole (possibly rectangular) map.
    assert block_types(project) == ["Input", "Conv2D", "Activation", "Conv2D", "Activation", "Pool2D", "Flatten",
                                    "Dense"]


def test_average_pool_counting_padding_is_refused_naming_the_node() -> None:
    module = nn.Sequential(nn.AvgPool2d(3, stride=1, padding=1), nn.Flatten())  # count_include_pad=True
    with pytest.raises(UserError, match=r"^torch\.onnx: AveragePool .*count_include_pad=1 is not supported") as info:
        import_onnx_model(export(module, (1, 5, 5)), source="torch.onnx")
    assert "\n" not in str(info.value)
