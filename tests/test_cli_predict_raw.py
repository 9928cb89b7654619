"""`nnstudio predict --raw`: each sample's whole output tensor, as text or JSON, equal to model.predict."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nnstudio.cli import main
from nnstudio.graph.compile import compile_graph
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, save_project


def _project(tmp_path: Path, name: str, shape: list[int], layers: list[tuple[str, dict]],
             loss: str) -> tuple[Path, Path]:
    nodes = [{"id": "in", "type": "Input", "params": {"shape": shape}, "position": [0, 0]}]
    edges, prev = [], "in"
    for i, (kind, params) in enumerate(layers, start=1):
        nodes.append({"id": f"n{i}", "type": kind, "params": params, "position": [150 * i, 0]})
        edges.append({"from": prev, "to": f"n{i}"})
        prev = f"n{i}"
    graph = Graph.from_dict({"nodes": nodes, "edges": edges})
    path = tmp_path / f"{name}.nnproj"
    save_project(Project(name=name, graph=graph, training={"dataset": "moons", "loss": loss}), path)
    weights = tmp_path / f"{name}.weights.npz"
    compile_graph(graph, "numpy", seed=3).save_npz(weights)
    return path, weights


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _expected(project: Path, weights: Path, x: np.ndarray) -> np.ndarray:
    from nnstudio.predictor import load_project_model  # noqa: PLC0415

    return load_project_model(project, weights).predict(x)


@pytest.mark.parametrize("kind", ["regression", "classifier", "conv"])
def test_predict_raw_json_is_the_whole_output(kind, tmp_path, capsys):
    rng = np.random.default_rng(0)
    if kind == "regression":  # two real-valued outputs, mse: today's predict shows argmaxes
        project, weights = _project(tmp_path, kind, [3], [("Dense", {"units": 8}), ("Activation", {"function": "tanh"}),
                                                          ("Dense", {"units": 2})], "mse")
        x = rng.normal(size=(4, 3)).astype(np.float32)
    elif kind == "classifier":
        project, weights = _project(tmp_path, kind, [2], [("Dense", {"units": 3}),
                                                          ("Activation", {"function": "softmax"})], "cross_entropy")
        x = rng.normal(size=(3, 2)).astype(np.float32)
    else:  # a feature map: (filters, height, width) per sample
        project, weights = _project(tmp_path, kind, [1, 5, 6], [("Conv2D", {"filters": 2, "kernel_size": 3})], "mse")
        x = rng.normal(size=(2, 1, 5, 6)).astype(np.float32)
    batch, single = tmp_path / "batch.npy", tmp_path / "one.npy"
    np.save(batch, x)
    np.save(single, x[1])
    code, out, err = _run(["predict", str(project), "--weights", str(weights), str(batch), str(single),
                           "--raw", "--json"], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert [r["input"] for r in rows] == [f"{batch}[{i}]" for i in range(len(x))] + [str(single)]
    assert all(set(r) == {"input", "output"} for r in rows)
    expected = _expected(project, weights, x)
    for row, want in zip(rows, list(expected) + [expected[1]]):
        got = np.asarray(row["output"], dtype=np.float64)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    if kind == "classifier":  # the softmax itself, not its argmax
        assert np.asarray(rows[0]["output"]).sum() == pytest.approx(1.0, abs=1e-5)

    code, out, err = _run(["predict", str(project), "--weights", str(weights), str(batch), "--raw"], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == len(x)
    for i, line in enumerate(lines):
        name, _, text = line.partition(": ")
        assert name == f"{batch}[{i}]"
        got = np.asarray(json.loads(text))  # nested brackets, 6 significant digits
        np.testing.assert_allclose(got, expected[i], rtol=1e-5, atol=1e-6)


def test_predict_without_raw_is_unchanged(tmp_path, capsys):
    project, weights = _project(tmp_path, "classifier", [2], [("Dense", {"units": 3}),
                                                              ("Activation", {"function": "softmax"})], "cross_entropy")
    x = np.array([[0.5, -1.0]], dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    code, out, err = _run(["predict", str(project), "--weights", str(weights), str(tmp_path / "x.npy"), "--json"],
                          capsys)
    assert code == 0, err
    row = json.loads(out)
    assert set(row) == {"input", "predicted", "probabilities"}
    assert row["predicted"] == int(np.argmax(_expected(project, weights, x)[0]))
