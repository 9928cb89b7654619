"""`nnstudio import -o` replaces nothing without --force and writes the project and its weights together."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from nnstudio.cli import main
from nnstudio.export import export_onnx
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, load_project
from nnstudio.userdirs import atomic_write_files

pytest.importorskip("onnx")


@pytest.fixture
def onnx_file(tmp_path: Path) -> Path:
    graph = Graph()
    graph.add_node("Input", {"shape": [4]}, node_id="in")
    graph.add_node("Dense", {"units": 3}, node_id="dense")
    graph.connect("in", "dense")
    return export_onnx(Project(name="small", graph=graph), None, tmp_path / "small.onnx")


def one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("which", ["project", "weights", "both"])
def test_existing_files_are_refused_without_force(onnx_file: Path, tmp_path: Path, capsys, which: str) -> None:
    project, weights = tmp_path / "net.nnproj", tmp_path / "net.weights.npz"
    if which in ("project", "both"):
        project.write_text("my project")
    if which in ("weights", "both"):
        weights.write_bytes(b"my weights")
    assert main(["import", str(onnx_file), "-o", str(project)]) == 1
    line = one_error(capsys.readouterr().err)
    assert "--force" in line and "nothing was written" in line
    there = {"project": [project], "weights": [weights], "both": [project, weights]}[which]
    for path, text in ((project, b"my project"), (weights, b"my weights")):
        if path in there:
            assert path.read_bytes() == text and f"'{path}'" in line
        else:
            assert not path.exists()


def test_force_replaces_both(onnx_file: Path, tmp_path: Path, capsys) -> None:
    project, weights = tmp_path / "net.nnproj", tmp_path / "net.weights.npz"
    project.write_text("old")
    weights.write_bytes(b"old")
    assert main(["import", str(onnx_file), "-o", str(project), "--force"]) == 0
    assert load_project(project).name == "small"
    assert weights.read_bytes()[:2] == b"PK"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.nnproj", "net.weights.npz", "small.onnx"]


def test_a_folder_as_output_is_refused(onnx_file: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "dir.nnproj").mkdir()
    assert main(["import", str(onnx_file), "-o", str(tmp_path / "dir.nnproj"), "--force"]) == 1
    assert "is a folder" in one_error(capsys.readouterr().err)


def test_a_failed_second_write_leaves_both_files_as_they_were(onnx_file: Path, tmp_path: Path, capsys,
                                                              monkeypatch) -> None:
    project, weights = tmp_path / "net.nnproj", tmp_path / "net.weights.npz"
    project.write_text("old project")
    weights.write_bytes(b"old weights")
    real_replace = os.replace

    def replace(src, dst):  # the second file cannot be put in place
        if Path(dst) == weights:
            raise PermissionError(13, "Permission denied", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    assert main(["import", str(onnx_file), "-o", str(project), "--force"]) == 1
    line = one_error(capsys.readouterr().err)
    assert "neither was changed" in line and "Permission denied" in line
    assert project.read_text() == "old project" and weights.read_bytes() == b"old weights"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.nnproj", "net.weights.npz", "small.onnx"]


def test_a_failed_write_of_new_files_leaves_nothing_behind(tmp_path: Path, monkeypatch) -> None:
    real_replace = os.replace
    second = tmp_path / "b"

    def replace(src, dst):
        if Path(dst) == second:
            raise OSError(28, "No space left on device", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError):
        atomic_write_files({tmp_path / "a": b"1", second: b"2"})
    assert list(tmp_path.iterdir()) == []
