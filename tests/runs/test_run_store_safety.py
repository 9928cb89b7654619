"""Damaged run.json files in a project's history: each is skipped and named in one line, and a Run's properties
give their documented types whatever its run.json holds."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnstudio.cli import main
from nnstudio.errors import UserError
from nnstudio.runs import RunStore
from nnstudio.runs.cli import run_row
from nnstudio.runs.compare import best_index, metric_rows
from nnstudio.runs.store import Run, load_run


def good_meta() -> dict[str, Any]:
    """A run.json as the recorder writes it, small."""
    return {
        "format": "nnstudio-run", "version": 1, "id": "0001", "name": "lr=0.1", "project": "net",
        "started": "2024-05-01T10:00:00+00:00", "finished": "2024-05-01T10:00:05+00:00", "backend": "numpy",
        "param_count": 42, "steps_per_epoch": 4, "epochs": 2, "n_train": 40, "n_val": 0, "n_test": 10,
        "layers": ["h1", "out"], "settings": {"dataset": "moons", "epochs": 2}, "origin": {},
        "graph": {"nodes": [], "edges": []}, "seconds": 5.25, "end_reason": "completed", "message": "",
        "metrics": {"test_loss": 0.5, "test_acc": 0.75, "train_loss": 0.4, "val_loss": None},
        "hints": [], "snapshots": [{"step": 0, "epoch": 0, "file": "snapshots/step-0000000.npz"},
                                   {"step": 8, "epoch": 2, "file": "snapshots/step-0000008.npz"}],
        "weights": "weights.npz", "preview_loss": [0.7, 0.5, None], "epochs_done": 2, "steps_done": 8,
    }


def write_run(root: Path, run_id: str, text: str) -> Path:
    folder = root / run_id
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(text, encoding="utf-8")
    return folder


def with_field(key: str, raw: str) -> str:
    """good_meta() as JSON text with field ``key`` holding the JSON text ``raw``."""
    meta = good_meta()
    meta[key] = "@@"
    return json.dumps(meta).replace('"@@"', raw)


def test_a_good_run_json_loads_with_its_fields(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path, "0001", json.dumps(good_meta())))
    assert (run.id, run.name, run.end_reason, run.seconds) == ("0001", "lr=0.1", "completed", 5.25)
    assert run.metric() == ("test_acc", 0.75) and [(s.step, s.epoch) for s in run.snapshots] == [(0, 0), (8, 2)]


@pytest.mark.parametrize(("key", "raw", "message"), [
    ("seconds", '"abc"', r'"seconds" must be a number of seconds from 0\. Received: \'abc\''),
    ("seconds", "[1]", r'"seconds" must be a number of seconds from 0\. Received: a list'),
    ("seconds", "{}", r'"seconds" must be a number of seconds from 0\. Received: an object'),
    ("seconds", "true", r'"seconds" must be a number of seconds from 0\. Received: true'),
    ("seconds", "-3", r'"seconds" must be a number of seconds from 0\. Received: -3'),
    ("seconds", "1" + "0" * 400, r'"seconds" must be a number of seconds from 0\. Received: a whole number of 401 '
                                 r"digits"),
    ("name", "1" + "0" * 5000, r"is not usable JSON: Exceeds the limit \(4300 digits\)"),
    ("metrics", '{"test_acc": 1' + "0" * 400 + "}", r'"metrics" holds a whole number of 401 digits'),
    ("metrics", '{"test_acc": "high"}', r'metric "test_acc" must be a number, a list of numbers or null'),
    ("metrics", "[0.5]", r'"metrics" must be a JSON object\. Received: list'),
    ("snapshots", '[{"step": "abc", "epoch": 0, "file": "a.npz"}]', r'snapshots\[0\]: "step" must be a whole number'),
    ("snapshots", '[{"step": 1, "epoch": 1.5, "file": "a.npz"}]', r'snapshots\[0\]: "epoch" must be a whole number'),
    ("snapshots", '[{"step": 1, "epoch": 0, "file": 7}]', r'snapshots\[0\]: "file" must be text'),
    ("snapshots", "[3]", r"snapshots\[0\] must be a JSON object"),
    ("end_reason", "[1, 2]", r'"end_reason" must be text\. Received: list'),
    ("started", "12", r'"started" must be text\. Received: whole number'),
    ("epochs", '"2"', r'"epochs" must be a whole number from 0'),
    ("epochs_done", "-1", r'"epochs_done" must be a whole number from 0'),
    ("preview_loss", "[1" + "0" * 400 + "]", r'"preview_loss" holds a whole number of 401 digits'),
    ("graph", '{"nodes": [{"params": {"units": 9' + "9" * 350 + "}}]}", r'"graph" holds a whole number of 351 digits'),
    ("origin", '"twin"', r'"origin" must be a JSON object'),
    ("format", '"x' + "y" * 100_000 + '"', r"is not an NN Studio run: expected \"format\": \"nnstudio-run\", found "
                                         r"'xyyy[y]*\.\.\.'$"),
    ("format", "[[1]]", r"is not an NN Studio run: .* found a list$"),
])
def test_a_damaged_run_is_skipped_and_named(tmp_path: Path, key: str, raw: str, message: str) -> None:
    root = tmp_path / "net.runs"
    write_run(root, "0001", json.dumps(good_meta()))
    write_run(root, "0002", with_field(key, raw))
    store = RunStore(root)
    assert [run.id for run in store.list()] == ["0001"]
    [problem] = store.problems
    assert problem.startswith(f"run file '{root / '0002' / 'run.json'}'")
    assert "\n" not in problem and len(problem) < 300
    assert re.search(message, problem), problem
    with pytest.raises(UserError, match=message):
        store.get("0002")


def test_the_runs_command_warns_about_a_damaged_run_and_lists_the_others(tmp_path: Path, capsys) -> None:
    project = tmp_path / "net.nnproj"
    project.write_text("{}")
    root = tmp_path / "net.runs"
    write_run(root, "0001", json.dumps(good_meta()))
    write_run(root, "0002", with_field("seconds", '"abc"'))
    write_run(root, "0003", with_field("metrics", '{"test_acc": 1' + "0" * 400 + "}"))
    assert main(["runs", str(project)]) == 0
    out, err = capsys.readouterr()
    assert "0001" in out and "0002" not in out and "0003" not in out
    assert "0002" in err and '"seconds" must be a number' in err and "0003" in err and "Traceback" not in err


def test_properties_of_a_run_made_in_memory_fall_back_on_wrong_types(tmp_path: Path) -> None:
    meta = {"id": 7, "name": ["x"], "started": 5, "end_reason": {"a": 1}, "seconds": "abc",
            "settings": [1], "graph": "g", "metrics": {"test_acc": 10**400, "test_loss": True, "val_acc": "0.5",
                                                    "train_loss": 0.25},
            "snapshots": [{"step": "abc", "file": "a.npz"}, {"step": 10**400, "file": "b.npz"},
                          {"step": 2.5, "file": "c.npz"}, {"step": 3, "epoch": -1, "file": "d.npz"},
                          {"step": 4, "epoch": 1, "file": "e.npz"}, "junk", {"step": 5}]}
    run = Run(tmp_path / "0007", meta)
    assert run.id == "0007" and run.name == "Run 0007" and run.started == "" and run.end_reason == ""
    assert run.seconds == 0.0 and run.settings == {} and run.graph_dict == {"nodes": [], "edges": []}
    assert run.metric() == ("train_loss", 0.25) and run.metric_text() == "0.25"
    assert [(s.step, s.epoch, s.file) for s in run.snapshots] == [(4, 1, "e.npz")]
    for seconds in ([1], {}, 10**400, float("inf"), float("nan"), None, -2.0):
        assert Run(tmp_path, {"seconds": seconds}).seconds == 0.0
    assert Run(tmp_path, {"metrics": [1]}).metric() == ("test_loss", None)
    assert Run(tmp_path, {"snapshots": {"step": 1}}).snapshots == []


# -- property test: whatever run.json holds, loading it is a Run that works or one line ---------------------------
FIELDS = sorted(good_meta())
_NUMBERS = st.one_of(st.integers(min_value=-10**400, max_value=10**400), st.floats(allow_nan=False),
                     st.integers(min_value=-3, max_value=10))
_JSON = st.recursive(st.none() | st.booleans() | _NUMBERS | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
                         st.sampled_from(["step", "epoch", "file", "test_acc", "test_loss", "nodes", "x"]), inner,
                         max_size=4),
                     max_leaves=12)


@settings(max_examples=200, deadline=3000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.dictionaries(st.sampled_from(FIELDS), _JSON, max_size=4), drop=st.sets(st.sampled_from(FIELDS)))
def test_any_run_json_loads_to_a_working_run_or_one_line(tmp_path_factory: pytest.TempPathFactory,
                                                        changes: dict[str, Any], drop: set[str]) -> None:
    meta = {k: v for k, v in good_meta().items() if k not in drop - {"format", "version"}}
    meta.update({k: v for k, v in changes.items() if k not in ("format", "version")})
    folder = write_run(tmp_path_factory.mktemp("runs"), "0001", json.dumps(meta))
    try:
        run = load_run(folder)
    except UserError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("run file '") and len(str(exc)) < 400
        return
    assert isinstance(run.name, str) and isinstance(run.started, str) and isinstance(run.end_reason, str)
    assert isinstance(run.seconds, float) and math.isfinite(run.seconds)
    assert isinstance(run.settings, dict) and isinstance(run.graph_dict, dict) and isinstance(run.metrics, dict)
    key, value = run.metric()
    assert isinstance(key, str) and (value is None or math.isfinite(value)) and run.metric_text()
    assert all(isinstance(s.step, int) and isinstance(s.epoch, int) and isinstance(s.file, str)
               for s in run.snapshots)
    np.array([s.step for s in run.snapshots], dtype=np.float64)
    json.dumps(run_row(run))
    metric_rows([run, run])
    best_index([run, run])
    preview = run.meta.get("preview_loss")
    if isinstance(preview, list):  # as the runs dock draws it
        np.array([v if isinstance(v, (int, float)) else np.nan for v in preview], dtype=np.float64)
