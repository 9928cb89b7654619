"""The curriculum examples: every one loads and validates against its dataset; the fast ones reach their goals."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from nnstudio.data.registry import dataset_info
from nnstudio.graph.compile import check_graph
from nnstudio.graph.project_file import load_project
from nnstudio.training.config import TrainingConfig

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "resources" / "examples").glob("*.json"))
REQUIRED = {"linear-regression", "logistic-regression", "perceptron-and", "perceptron-or", "perceptron-xor",
            "mlp-xor", "playground-spiral", "playground-features", "softmax-regression", "mnist-mlp", "mnist-cnn",
            "fashion-cnn", "captcha-cnn", "vanishing-gradients", "exploding-gradients", "dropout-overfitting"}


def _tool():
    spec = importlib.util.spec_from_file_location("check_examples", ROOT / "tools" / "check_examples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


check_examples = _tool()
FAST = check_examples.example_names(fast=True)


def test_all_curriculum_examples_are_shipped():
    assert REQUIRED <= {p.stem for p in EXAMPLES}
    assert {"perceptron-and", "perceptron-or", "perceptron-xor", "mlp-xor", "playground-spiral",
            "playground-features"} <= set(FAST)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_loads_and_validates(path: Path):
    project = load_project(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert project.name and len(project.description_en) > 60
    assert any("\u4e00" <= ch <= "\u9fff" for ch in project.description_zh)  # real Chinese
    config = TrainingConfig.from_dict(project.training)
    info = dataset_info(config.dataset, **config.dataset_options)
    report = check_graph(project.graph, sample_shape=info.sample_shape, loss=config.loss,
                         num_classes=info.num_classes)
    assert report.ok and not report.warnings, [m.text for m in report.messages]
    # Laid out like the editor's Auto-layout (tools/layout_examples.py): bands of left-to-right columns,
    # every node placed and no two on the same spot.
    nodes = project.graph.nodes
    assert all(n.position is not None for n in nodes.values())
    assert len({tuple(n.position) for n in nodes.values()}) == len(nodes)
    for e in project.graph.edges:  # within a band every wire points right
        src, dst = nodes[e.src].position, nodes[e.dst].position
        assert src[0] < dst[0] or dst[1] > src[1], (e.src, e.dst)
    assert "goal" in raw and raw["goal"]["metric"] in ("test_acc", "test_r2", "hint", "reason")


@pytest.mark.parametrize("name", FAST)
def test_fast_example_reaches_its_goal(name: str):
    with np.errstate(all="ignore"):  # exploding-gradients overflows on purpose
        outcome, finished, hints = check_examples.run_example(name)
    assert outcome.passed, f"{name}: measured {outcome.measured}, goal {outcome.goal}"


def test_perceptron_xor_never_learns_xor():
    _, finished, _ = check_examples.run_example("perceptron-xor", epochs=200)
    assert finished.reason == "completed" and finished.test_acc < 1.0


def test_perceptrons_learn_and_or_exactly():
    for name in ("perceptron-and", "perceptron-or"):
        _, finished, _ = check_examples.run_example(name)
        assert finished.test_acc == 1.0 and finished.test_loss == 0.0
