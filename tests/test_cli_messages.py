"""One line on stderr for every user error: `check` lists problems then sums up in one line, memory that will
not suffice is said plainly, and NumPy's RuntimeWarnings never come before the error."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from nnstudio import cli
from nnstudio.errors import UserError
from nnstudio.graph.compile import compile_graph
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, save_project


def _project(folder: Path, shape: list[int], layers: list[tuple[str, dict]], name: str = "p") -> Path:
    nodes = [{"id": "in", "type": "Input", "params": {"shape": shape}, "position": [0, 0]}]
    edges, prev = [], "in"
    for i, (kind, params) in enumerate(layers, start=1):
        nodes.append({"id": f"n{i}", "type": kind, "params": params, "position": [150 * i, 0]})
        edges.append({"from": prev, "to": f"n{i}"})
        prev = f"n{i}"
    path = folder / f"{name}.nnproj"
    save_project(Project(name=name, graph=Graph.from_dict({"nodes": nodes, "edges": edges}),
                         training={"dataset": "moons", "loss": "cross_entropy", "batch_size": 32}), path)
    return path


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_check_lists_every_problem_then_one_summary_line(tmp_path: Path, capsys):
    path = _project(tmp_path, [2], [("Conv2D", {"filters": 2, "kernel_size": 3}), ("Dense", {"units": 3})])
    code, out, err = _run(["check", str(path)], capsys)
    problems = [line for line in out.splitlines() if line.startswith("problem: ")]
    err_lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(problems) >= 1
    assert len(err_lines) == 1, err
    n = len(problems)
    assert err_lines[0].startswith(f"error: {path}: {n} problem{'s' if n != 1 else ''}: the network cannot be "
                                   "trained")  # the file first, as for every bad input


def test_check_warns_when_training_will_not_fit_in_memory(tmp_path: Path, capsys, monkeypatch):
    path = _project(tmp_path, [2], [("Dense", {"units": 2}), ("Activation", {"function": "softmax"})])
    monkeypatch.setattr("nnstudio.memory.available_bytes", lambda: 100)
    code, out, _ = _run(["check", str(path)], capsys)
    assert code == 0
    assert "warning: training this network at batch size 32 needs about" in out and "only 100 bytes is free" in out
    monkeypatch.setattr("nnstudio.memory.available_bytes", lambda: 2**40)
    code, out, _ = _run(["check", str(path)], capsys)
    assert code == 0 and "needs about" not in out


def test_a_four_billion_parameter_network_is_refused_cleanly(tmp_path: Path, capsys, monkeypatch):
    path = _project(tmp_path, [65536], [("Dense", {"units": 65536}), ("Activation", {"function": "softmax"})],
                    name="huge")
    monkeypatch.setattr("nnstudio.memory.available_bytes", lambda: 8 * 2**30)  # never really allocates
    from nnstudio.graph.project_file import load_project

    graph = load_project(path).graph
    with pytest.raises(UserError, match=r"the network's 4,295,032,832 parameters \(float32\) would need 16.0 GiB "
                                        r"of memory but only 8.0 GiB is free"):
        compile_graph(graph, "numpy")
    data = tmp_path / "wide.npz"
    np.savez(data, x=np.zeros((10, 65536), np.float32), y=np.array([*range(9), 65535]))
    code, _, err = _run(["train", str(path), "--epochs", "1", "--dataset", str(data)], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: ") and "parameters" in lines[0], err


def test_memory_error_while_building_is_a_user_error(tmp_path: Path, monkeypatch):
    path = _project(tmp_path, [2], [("Dense", {"units": 4})])
    from nnstudio.engine.model import Model
    from nnstudio.graph.project_file import load_project

    def no_memory(self, *args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(Model, "build", no_memory)
    with pytest.raises(UserError, match=r"the network's 12 parameters \(float32\) do not fit in memory"):
        compile_graph(load_project(path).graph, "numpy")


def test_runtime_warnings_never_precede_the_error_line(capsys, monkeypatch):
    def overflowing(args) -> int:
        np.float32(3e38) * np.float32(10)  # overflow: a RuntimeWarning unless silenced
        raise UserError("something the user can fix")

    monkeypatch.setattr(cli, "cmd_data_list", overflowing)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, err = _run(["data", "list"], capsys)
    assert code == 1 and err == "error: something the user can fix\n"
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
