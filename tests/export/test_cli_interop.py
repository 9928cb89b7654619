"""The functions behind ``nnstudio export`` and ``nnstudio import``, driven through their argparse wiring."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from nnstudio.errors import UserError
from nnstudio.export import add_export_arguments, add_import_arguments, cli_export, cli_import, load_network
from nnstudio.graph.project_file import load_project, save_project, weights_path_for

pytest.importorskip("onnx")


def parse(add, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add(parser)
    return parser.parse_args(argv)


def test_export_uses_the_project_weights_and_import_writes_project_and_weights(graph_case, tmp_path: Path,
                                                                             capsys) -> None:
    case = graph_case("cnn")
    project_path = tmp_path / "cnn.nnproj"
    save_project(case.project, project_path)
    np.savez(weights_path_for(project_path), **case.state)

    assert cli_export(parse(add_export_arguments, [str(project_path), "-o", str(tmp_path / "cnn.onnx")])) == 0
    assert "cnn.weights.npz" in capsys.readouterr().out
    argv = [str(tmp_path / "cnn.onnx"), "-o", str(tmp_path / "back.nnproj")]
    assert cli_import(parse(add_import_arguments, argv)) == 0
    assert "back.nnproj" in capsys.readouterr().out

    back = load_project(tmp_path / "back.nnproj")
    ours = load_network(case.project, case.state).model.predict(case.x)
    theirs = load_network(back, tmp_path / "back.weights.npz").model.predict(case.x)
    np.testing.assert_allclose(theirs, ours, rtol=1e-6, atol=1e-7)

    args = parse(add_export_arguments, [str(project_path), "--format", "pytorch", "-o", str(tmp_path / "cnn.py"),
                                        "--ddp-script"])
    assert cli_export(args) == 0
    assert (tmp_path / "cnn.py").exists() and (tmp_path / "cnn.npz").exists() and (tmp_path / "train_ddp.py").exists()


def test_cli_errors_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        cli_export(parse(add_export_arguments, [str(tmp_path / "nope.nnproj"), "-o", str(tmp_path / "x.onnx")]))
    with pytest.raises(UserError, match="does not exist"):
        cli_import(parse(add_import_arguments, [str(tmp_path / "nope.onnx"), "-o", str(tmp_path / "x.nnproj")]))
