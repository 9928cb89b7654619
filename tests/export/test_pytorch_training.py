"""Outgrowing one machine: a design exported to PyTorch trains there on our data, also under torchrun/DDP,
and the trained weights come back into NN Studio.  The DDP script in docs/interop.md is the one we ship."""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from nnstudio.export import DDP_SCRIPT, export_pytorch, load_network, write_ddp_script
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, load_project
from nnstudio.resources_path import resource

torch = pytest.importorskip("torch")

DOCS = Path(__file__).resolve().parents[2] / "docs" / "interop.md"


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def small_cnn() -> Project:
    graph = Graph()
    for nid, block_type, params in (("image", "Input", {"shape": [1, 28, 28]}),
                                    ("conv", "Conv2D", {"filters": 4, "kernel_size": 5, "padding": "same"}),
                                    ("relu", "Activation", {"function": "relu"}),
                                    ("pool", "Pool2D", {"mode": "max", "size": 4}),
                                    ("classes", "Dense", {"units": 10}),
                                    ("probabilities", "Activation", {"function": "softmax"})):
        graph.add_node(block_type, params, node_id=nid)
    for src, dst in (("image", "conv"), ("conv", "relu"), ("relu", "pool"), ("pool", "classes"),
                     ("classes", "probabilities")):
        graph.connect(src, dst)
    return Project(name="Small CNN", graph=graph)


def small_example() -> Project:
    """The smallest shipped example trained on MNIST, or a small CNN while there are none."""
    folder = resource("examples")
    best: tuple[int, Project] | None = None
    for path in sorted(folder.glob("*.json")) + sorted(folder.glob("*.nnproj")) if folder.is_dir() else []:
        project = load_project(path)
        if project.training.get("dataset") != "mnist":
            continue
        try:
            count = load_network(project).model.param_count()
        except Exception:  # an example this test cannot use is checked by the example tests themselves
            continue
        if count < 150_000 and (best is None or count < best[0]):
            best = (count, project)
    return best[1] if best else small_cnn()


def mnist_slice(n: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        from nnstudio.data.registry import get_dataset
        data = get_dataset("mnist")
        return data.x_train[:n], data.y_train[:n]
    except ImportError:  # synthetic digits-like data: class k lights up block k of the image
        rng = np.random.default_rng(0)
        y = rng.integers(0, 10, n)
        x = rng.uniform(0, 0.2, (n, 1, 28, 28)).astype(np.float32)
        for k in range(10):
            x[y == k, 0, (k // 5) * 14:(k // 5) * 14 + 14, (k % 5) * 5:(k % 5) * 5 + 5] += 0.8
        return x, y.astype(np.int64)


def test_an_exported_example_trains_in_pytorch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    project = small_example()
    result = export_pytorch(project, None, tmp_path / "example.py")
    module = load_module(result.module_path)
    model = module.build_model(result.weights_path)
    x, y = mnist_slice(512)
    xt, yt = torch.from_numpy(np.array(x)), torch.from_numpy(np.array(y)).long()
    loss_fn = torch.nn.CrossEntropyLoss()

    def mean_loss() -> float:
        model.eval()
        with torch.no_grad():
            return loss_fn(model(xt, logits=True), yt).item()

    before = mean_loss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for epoch in range(3):
        model.train()
        for i in range(0, len(xt), 64):
            optimizer.zero_grad()
            loss_fn(model(xt[i:i + 64], logits=True), yt[i:i + 64]).backward()
            optimizer.step()
    after = mean_loss()
    assert after < 0.8 * before, (before, after)
    # The trained weights open in NN Studio and give the same predictions there.
    module.save_nnstudio_weights(model, tmp_path / "trained.npz")
    ours = load_network(project, tmp_path / "trained.npz").model.predict(x[:32])
    with torch.no_grad():
        theirs = model.eval()(xt[:32]).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def moons_project() -> Project:
    graph = Graph()
    for nid, block_type, params in (("points", "Input", {"shape": [2]}), ("hidden", "Dense", {"units": 16}),
                                    ("tanh", "Activation", {"function": "tanh"}),
                                    ("scores", "Dense", {"units": 2}),
                                    ("probabilities", "Activation", {"function": "softmax"})):
        graph.add_node(block_type, params, node_id=nid)
    for src, dst in (("points", "hidden"), ("hidden", "tanh"), ("tanh", "scores"), ("scores", "probabilities")):
        graph.connect(src, dst)
    return Project(name="Moons", graph=graph)


def test_the_ddp_script_trains_with_torchrun_on_two_processes(tmp_path: Path) -> None:
    if not torch.distributed.is_available():
        pytest.skip("this PyTorch build has no torch.distributed")
    from nnstudio.data.toy import make_toy
    data = make_toy("moons", n_train=256, n_test=16)
    np.savez(tmp_path / "data.npz", x_train=data.x_train, y_train=data.y_train)
    project = moons_project()
    result = export_pytorch(project, None, tmp_path / "moons.py")
    script = write_ddp_script(tmp_path)
    assert script.name == "train_ddp.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script),
         "--model", str(result.module_path), "--weights", str(result.weights_path), "--data",
         str(tmp_path / "data.npz"), "--epochs", "4", "--batch-size", "16", "--lr", "0.1",
         "--out", str(tmp_path / "trained.npz")],
        capture_output=True, text=True, timeout=240, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    losses = [float(v) for v in re.findall(r"epoch \d+: mean loss ([0-9.]+)", done.stdout)]
    assert len(losses) == 4 and losses[-1] < losses[0], done.stdout
    trained = load_network(project, tmp_path / "trained.npz").model
    accuracy = float((trained.predict(data.x_train).argmax(axis=1) == data.y_train).mean())
    assert accuracy > 0.75


def test_docs_show_the_shipped_ddp_script() -> None:
    text = DOCS.read_text(encoding="utf-8")
    blocks: list[Any] = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert DDP_SCRIPT in blocks, "docs/interop.md must show pytorch_export.DDP_SCRIPT verbatim"
    assert "torchrun --nproc_per_node" in text
