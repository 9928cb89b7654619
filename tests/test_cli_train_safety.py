"""`nnstudio train` never loses weights: failed runs keep the old file, signals save and exit 130 / 143.

A run that ends in NaN or out of memory must not replace a weights file with worse weights (its last good
weights go beside it), an output that cannot be written is refused before any training, and Ctrl-C or
SIGTERM finish the batch, save, print one line and exit with the shell's status for that signal.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nnstudio.cli import main
from nnstudio.engine.weights_io import last_good_path, read_weights
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, save_project, weights_path_for

REPO = Path(__file__).resolve().parents[1]


def moons_project(folder: Path, **training: object) -> Path:
    graph = Graph.from_dict({"nodes": [
        {"id": "in", "type": "Input", "params": {"shape": [2]}},
        {"id": "d1", "type": "Dense", "params": {"units": 8}},
        {"id": "t1", "type": "Activation", "params": {"function": "tanh"}},
        {"id": "d2", "type": "Dense", "params": {"units": 2}},
        {"id": "out", "type": "Activation", "params": {"function": "softmax"}},
    ], "edges": [{"from": "in", "to": "d1"}, {"from": "d1", "to": "t1"}, {"from": "t1", "to": "d2"},
                 {"from": "d2", "to": "out"}]})
    settings = {"dataset": "moons", "loss": "cross_entropy", "optimizer": "adam", "learning_rate": 0.02,
                "batch_size": 16, "epochs": 1, "validation_split": 0.0, "hints": False}
    settings.update(training)
    path = folder / "moons.nnproj"
    save_project(Project(name="moons", graph=graph, training=settings), path)
    return path


def error_lines(err: str) -> list[str]:
    assert "Traceback" not in err, err
    return [line for line in err.splitlines() if line.startswith("error: ")]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_nan_run_leaves_the_existing_weights_file_as_it_was(tmp_path: Path, capsys, monkeypatch) -> None:
    from nnstudio.engine.model import Model  # noqa: PLC0415

    project = moons_project(tmp_path)
    weights = weights_path_for(project)
    assert run(["train", str(project), "--max-samples", "64"], capsys)[0] == 0
    before = weights.read_bytes()
    calls = {"n": 0}
    real_forward = Model.forward

    def forward(self, x, training=False, **kwargs):  # the fifth training step's loss is NaN
        out = real_forward(self, x, training=training, **kwargs)
        calls["n"] += bool(training)
        return out * np.nan if training and calls["n"] == 5 else out

    monkeypatch.setattr(Model, "forward", forward)
    code, _, err = run(["train", str(project), "--continue", "--epochs", "3", "--max-samples", "64"], capsys)
    assert code == 1
    lines = error_lines(err)
    assert len(lines) == 1 and "NaN" in lines[0] and "was left as it was" in lines[0], err
    assert weights.read_bytes() == before
    kept = last_good_path(weights)
    assert kept.name == "moons.weights.lastgood.npz" and f"'{kept}'" in lines[0] and "after 4 steps" in lines[0]
    assert all(np.isfinite(v).all() for v in read_weights(kept).values())


def test_an_out_of_memory_run_keeps_its_last_good_weights_beside_the_file(tmp_path: Path, capsys,
                                                                          monkeypatch) -> None:
    from nnstudio.engine.model import Model  # noqa: PLC0415

    project = moons_project(tmp_path, epochs=2)
    weights = tmp_path / "w.npz"
    weights.write_bytes(b"the user's precious weights")
    calls = {"n": 0}
    real_backward = Model.backward

    def backward(self, *args, **kwargs):  # the third step runs out of memory
        calls["n"] += 1
        if calls["n"] == 3:
            raise MemoryError("simulated")
        return real_backward(self, *args, **kwargs)

    monkeypatch.setattr(Model, "backward", backward)
    code, out, err = run(["train", str(project), "--max-samples", "64", "--weights-out", str(weights), "--json"],
                         capsys)
    assert code == 1
    lines = error_lines(err)
    assert len(lines) == 1 and "memory" in lines[0] and "w.lastgood.npz" in lines[0], err
    assert weights.read_bytes() == b"the user's precious weights"
    kept = read_weights(tmp_path / "w.lastgood.npz")
    assert set(kept) == {"d1/W", "d1/b", "d2/W", "d2/b"}
    final = json.loads(out.splitlines()[-1])
    assert final["reason"] == "out_of_memory" and final["weights"] is None
    assert final["last_good_weights"] == str(tmp_path / "w.lastgood.npz")


@pytest.mark.parametrize("where", ["folder", "missing parent", "parent is a file"])
def test_an_unwritable_weights_out_is_refused_before_training(tmp_path: Path, capsys, where: str) -> None:
    project = moons_project(tmp_path)
    (tmp_path / "a file").write_text("x")
    target = {"folder": tmp_path, "missing parent": tmp_path / "nope" / "w.npz",
              "parent is a file": tmp_path / "a file" / "w.npz"}[where]
    started = time.perf_counter()
    code, out, err = run(["train", str(project), "--weights-out", str(target)], capsys)
    assert code == 1 and out == ""
    lines = error_lines(err)
    assert len(lines) == 1 and "weights file" in lines[0] and "training '" not in err, err
    assert time.perf_counter() - started < 5


def test_continue_starts_from_the_projects_weights_file(tmp_path: Path, capsys) -> None:
    project = moons_project(tmp_path, epochs=4)
    code, _, err = run(["train", str(project), "--continue"], capsys)
    assert code == 1 and "no weights to continue from" in error_lines(err)[0]
    assert run(["train", str(project), "--json"], capsys)[0] == 0
    trained = read_weights(weights_path_for(project))
    code, out, _ = run(["train", str(project), "--continue", "--epochs", "1", "--json", "--weights-out",
                        str(tmp_path / "more.npz")], capsys)
    assert code == 0
    code, fresh, _ = run(["train", str(project), "--epochs", "1", "--json", "--weights-out",
                          str(tmp_path / "fresh.npz")], capsys)
    assert json.loads(out.splitlines()[0])["train_loss"] < json.loads(fresh.splitlines()[0])["train_loss"]
    assert not all(np.array_equal(trained[k], v) for k, v in read_weights(tmp_path / "more.npz").items())
    code, _, err = run(["train", str(project), "--continue", "--weights-in", str(tmp_path / "fresh.npz")], capsys)
    assert code == 1 and "--continue" in error_lines(err)[0]


def test_help_explains_continue_and_the_signals(capsys) -> None:
    assert main(["train", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--continue" in text and "PROJECT.weights.npz" in text and "130" in text and "lastgood" in text


@pytest.mark.parametrize("sig,status,name", [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")])
def test_a_signal_finishes_the_batch_saves_and_exits_with_the_shells_status(tmp_path: Path, sig: int,
                                                                            status: int, name: str) -> None:
    project = moons_project(tmp_path, batch_size=8)
    weights = tmp_path / "w.npz"
    env = dict(os.environ, PYTHONPATH=str(REPO), NNSTUDIO_BACKEND="numpy")
    proc = subprocess.Popen([sys.executable, "-m", "nnstudio", "train", str(project), "--epochs", "100000",
                             "--max-samples", "200", "--weights-out", str(weights)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("epoch 1/") or not line:
                break
        assert line.startswith("epoch 1/"), proc.stderr.read()
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == status, err
    assert "Traceback" not in err and not error_lines(err), err
    last = [line for line in err.splitlines() if line.strip()][-1]
    assert last.startswith(f"stopped by {name} after ") and str(weights) in last, err
    assert "stopped after" in out  # the test metrics of what was learned
    assert set(read_weights(weights)) == {"d1/W", "d1/b", "d2/W", "d2/b"}


def test_starting_weights_beyond_float32_are_refused(tmp_path: Path, capsys) -> None:
    """A float64 1e300 is finite, so such a file passed, and the run ended in "loss became NaN at epoch 1, step
    1" (the engine computes in float32, where it is infinite)."""
    project = moons_project(tmp_path)
    assert run(["train", str(project)], capsys)[0] == 0
    weights = {k: v.astype(np.float64) for k, v in read_weights(weights_path_for(project)).items()}
    weights["d1/W"] = np.full_like(weights["d1/W"], 1e300)
    np.savez(tmp_path / "huge.npz", **weights)
    code, _, err = run(["train", str(project), "--weights-in", str(tmp_path / "huge.npz")], capsys)
    assert code == 1 and len(error_lines(err)) == 1, err
    assert "'d1/W'" in err and "float32" in err and "huge.npz" in err, err
