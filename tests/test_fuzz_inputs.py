"""A seeded slice of tools/fuzz_inputs.py: bad files, bad arguments and kill -9 during saves, each run through
the CLI in its own process; none may print a traceback, hang or lose a file.  The full run (about 1,200 cases)
is `python tools/fuzz_inputs.py`."""
from __future__ import annotations

import importlib.util
import os
import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or not hasattr(os, "mkfifo"),
                                reason="the fuzzer forks its cases and makes FIFOs (POSIX)")


def _fuzzer():
    spec = importlib.util.spec_from_file_location("fuzz_inputs", ROOT / "tools" / "fuzz_inputs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_inputs"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fuzz(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "userdata"))
    monkeypatch.setenv("NNSTUDIO_BACKEND", "numpy")
    monkeypatch.setenv("NNSTUDIO_LANG", "en")
    return _fuzzer()


def test_a_seeded_slice_of_the_fuzzer_finds_no_traceback_hang_or_lost_data(fuzz, tmp_path):
    lines: list[str] = []
    results = fuzz.run_all(45, seed=1234, jobs=1, only=list(fuzz.KINDS), spawn=False, work=tmp_path / "work",
                           memory_bytes=6 * 2**30, log=lines.append, bomb_mib=8)
    counts = fuzz.summary(results)
    assert counts["tried"] >= 40 and set(r.case.kind for r in results) == set(fuzz.KINDS)
    bad = [f"{r.outcome}: {r.case.label}: {r.detail} (nnstudio {' '.join(r.case.argv)})\n{r.stderr[-1500:]}"
           for r in results if r.outcome in ("traceback", "hang", "data lost")]
    assert not bad, "\n".join(bad)
    assert counts["clean"] + counts["accepted"] >= counts["tried"] - 3, lines  # almost all give one clean line


def test_the_judge_tells_the_outcomes_apart(fuzz, tmp_path):
    kept = tmp_path / "kept.nnproj"
    kept.write_text("{}")
    case = fuzz.Case("cli", "x", ["check", "kept.nnproj"], names=["kept.nnproj"], protected=[kept])
    before = {kept: fuzz._digest(kept)}
    assert fuzz.judge(case, 1, "error: kept.nnproj: not a project\n", before, False).outcome == "clean"
    assert fuzz.judge(case, 1, "error: something\n", before, False).outcome == "unclear"
    assert fuzz.judge(case, 1, "hint: x\nerror: kept.nnproj: bad\n", before, False).outcome == "unclear"
    assert fuzz.judge(case, 0, "", before, False).outcome == "accepted"
    assert fuzz.judge(case, 1, "Traceback (most recent call last):\n  ...\nKeyError: 1\n", before,
                      False).outcome == "traceback"
    assert fuzz.judge(case, None, "", before, True).outcome == "hang"
    kept.write_text("{ changed")
    assert fuzz.judge(case, 1, "error: kept.nnproj: bad\n", before, False).outcome == "data lost"


def test_byte_mutations_are_seeded(fuzz):
    data = bytes(range(256)) * 4
    first = [fuzz.mutate_bytes(data, random.Random(7)) for _ in range(3)]
    again = [fuzz.mutate_bytes(data, random.Random(7)) for _ in range(3)]
    assert first == again and any(out != data for out, _ in first)


# -- what the fuzzer found, kept as regression tests -----------------------------------------------------------

def _one_error(capsys, argv: list[str]) -> str:
    from nnstudio import cli

    code = cli.main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def trained(tmp_path, monkeypatch, capsys):
    from nnstudio import cli

    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "userdata"))
    project = tmp_path / "xor.nnproj"
    weights = tmp_path / "xor.weights.npz"
    assert cli.main(["new", "mlp-xor", "-o", str(project)]) == 0
    assert cli.main(["train", str(project), "--epochs", "1", "--no-history", "--weights-out", str(weights)]) == 0
    capsys.readouterr()
    return project, weights


def test_a_fifo_named_like_an_image_is_refused_instead_of_waiting_forever(tmp_path, capsys, monkeypatch):
    from nnstudio import cli

    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "userdata"))
    project, weights = tmp_path / "digits.nnproj", tmp_path / "digits.weights.npz"
    assert cli.main(["new", "softmax-regression", "-o", str(project)]) == 0
    assert cli.main(["train", str(project), "--epochs", "1", "--max-samples", "64", "--no-history",
                     "--weights-out", str(weights)]) == 0
    capsys.readouterr()
    fifo = tmp_path / "digit.png"
    os.mkfifo(fifo)  # nobody ever writes to it: opening it for reading used to block for good
    line = _one_error(capsys, ["predict", str(project), "--weights", str(weights), str(fifo)])
    assert "digit.png" in line and "not a regular file" in line


def test_weights_to_start_from_are_named_when_they_do_not_fit_or_are_not_finite(tmp_path, capsys, trained):
    import numpy as np

    from nnstudio.engine.weights_io import read_weights, write_weights

    project, weights = trained
    state = read_weights(weights)
    key = sorted(state)[0]
    wrong = tmp_path / "wrong.npz"
    write_weights(wrong, {**state, key: np.zeros(state[key].size + 1, np.float32)})
    out = tmp_path / "out.npz"
    line = _one_error(capsys, ["train", str(project), "--weights-in", str(wrong), "--epochs", "1", "--no-history",
                               "--weights-out", str(out)])
    assert f"weights file '{wrong}'" in line and key in line and not out.exists()
    nan = tmp_path / "nan.npz"
    bad = dict(state)
    bad[key] = np.full_like(state[key], np.nan)
    np.savez(nan, **bad)  # write_weights refuses NaN; a file made elsewhere may still hold it
    line = _one_error(capsys, ["train", str(project), "--weights-in", str(nan), "--epochs", "1", "--no-history",
                               "--weights-out", str(out)])
    assert f"weights file '{nan}'" in line and "NaN" in line and key in line


def test_an_empty_user_dataset_path_is_refused(capsys, trained):
    project, _ = trained
    line = _one_error(capsys, ["train", str(project), "--dataset", "user:", "--no-history"])
    assert "'user:' names no file or folder" in line


def test_a_network_too_big_for_memory_names_its_largest_layer(monkeypatch):
    from nnstudio.errors import UserError
    from nnstudio.graph.compile import compile_graph
    from nnstudio.graph.document import Graph

    graph = Graph.from_dict({"nodes": [{"id": "in", "type": "Input", "params": {"shape": [60000]}},
                                       {"id": "wide", "type": "Dense", "params": {"units": 60000}},
                                       {"id": "out", "type": "Dense", "params": {"units": 2}}],
                             "edges": [{"from": "in", "to": "wide"}, {"from": "wide", "to": "out"}]})
    monkeypatch.setattr("nnstudio.memory.available_bytes", lambda: 2**30)  # never really allocates
    with pytest.raises(UserError, match=r"would need 13.4 GiB of memory but only 1.0 GiB is free; the largest "
                                        r"layer is 'wide' \(3,600,060,000 parameters\)"):
        compile_graph(graph, "numpy")


def test_no_command_writes_over_the_file_it_reads(tmp_path, capsys, trained):
    import numpy as np

    project, weights = trained
    before = {p: p.read_bytes() for p in (project, weights)}
    data = tmp_path / "data.npz"
    np.savez(data, x=np.random.default_rng(0).random((20, 2)).astype(np.float32), y=np.arange(20) % 2)
    onnx_model = tmp_path / "m.onnx"
    from nnstudio import cli

    assert cli.main(["export", str(project), "--weights", str(weights), "-o", str(onnx_model)]) == 0
    capsys.readouterr()
    model_bytes = onnx_model.read_bytes()
    link = tmp_path / "link.nnproj"
    link.symlink_to(project)
    for argv, named in (
            (["train", str(project), "--no-history", "--weights-out", str(project)], "the project file"),
            (["train", str(project), "--no-history", "--weights-out", str(link)], "the project file"),
            (["train", str(project), "--no-history", "--dataset", str(data), "--weights-out", str(data)],
             "the dataset"),
            (["export", str(project), "--weights", str(weights), "-o", str(project)], "the project file"),
            (["export", str(project), "--weights", str(weights), "-o", str(weights)], "the weights file"),
            (["export", str(project), "--weights", str(weights), "--format", "pytorch",
              "-o", str(weights.with_suffix(".py"))], "the weights file"),
            (["import", str(onnx_model), "-o", str(onnx_model), "--force"], "the ONNX model")):
        line = _one_error(capsys, argv)
        assert f"{named} '" in line and "nothing was written" in line, line
    assert {p: p.read_bytes() for p in (project, weights)} == before and onnx_model.read_bytes() == model_bytes
    assert data.is_file()


def test_evaluate_refuses_a_negative_sample_count(capsys, trained):
    project, weights = trained
    line = _one_error(capsys, ["evaluate", str(project), "--weights", str(weights), "--max-samples", "-3"])
    assert "max_test_samples" in line and "-3" in line  # it used to score all test samples but the last 3
