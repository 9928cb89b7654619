"""The run history: runs stored by the trainer's recorder, reloaded lazily, compared, pruned and deleted."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nnstudio.cli import main
from nnstudio.engine.weights_io import read_weights
from nnstudio.errors import UserError
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, load_project, save_project
from nnstudio.runs import RunRecorder, RunStore, runs_dir_for
from nnstudio.runs.compare import best_index, differences, legend_labels, metric_rows
from nnstudio.runs.recorder import snapshot_steps
from nnstudio.runs.sweep import apply_changes, suggested_variations, train_trial
from nnstudio.training.trainer import Trainer, load_dataset
from nnstudio.training.config import TrainingConfig


def blobs_project(tmp_path: Path, function: str = "sigmoid", epochs: int = 3) -> Path:
    nodes = [{"id": "in", "type": "Input", "params": {"shape": [2]}},
             {"id": "h1", "type": "Dense", "params": {"units": 8}},
             {"id": "a1", "type": "Activation", "params": {"function": function}},
             {"id": "d1", "type": "Dropout", "params": {"rate": 0.2}},
             {"id": "out", "type": "Dense", "params": {"units": 2}},
             {"id": "sm", "type": "Activation", "params": {"function": "softmax"}}]
    ids = [n["id"] for n in nodes]
    graph = Graph.from_dict({"nodes": nodes, "edges": [{"from": a, "to": b} for a, b in zip(ids, ids[1:])]})
    project = Project(name="blobs net", graph=graph,
                      training={"dataset": "moons", "loss": "cross_entropy", "optimizer": "adam",
                                "learning_rate": 0.01, "batch_size": 64, "epochs": epochs,
                                "validation_split": 0.2, "max_train_samples": 400, "max_test_samples": 200})
    path = tmp_path / "net.nnproj"
    save_project(project, path)
    return path


def test_a_cli_run_is_stored_beside_the_project_and_reloads(tmp_path: Path, capsys) -> None:
    path = blobs_project(tmp_path)
    assert main(["train", str(path)]) == 0
    assert "kept as run 0001" in capsys.readouterr().err
    store = RunStore.for_project(path)
    assert store.root == tmp_path / "net.runs" == runs_dir_for(path)
    [run] = store.list()
    assert run.id == "0001" and run.end_reason == "completed" and run.seconds > 0
    assert not [p for p in store.root.iterdir() if p.name.startswith(".")]  # no half-written folder left
    meta = json.loads((run.path / "run.json").read_text())
    assert meta["settings"]["learning_rate"] == 0.01 and meta["graph"]["nodes"][2]["params"]["function"] == "sigmoid"
    steps = meta["steps_per_epoch"]
    # per batch and per epoch curves, as many rows as batches and epochs
    curves, epochs = run.curves(), run.epochs()
    assert len(curves["loss"]) == 3 * steps and list(curves["global_step"]) == list(range(1, 3 * steps + 1))
    assert list(epochs["epoch"]) == [1, 2, 3] and np.isfinite(epochs["val_loss"]).all()
    assert run.curves() is curves  # read once
    grads = run.gradients()
    assert set(grads) >= {"global_step", "h1", "out"} and len(grads["h1"]) == 3 * steps
    # the final weights are the ones the CLI saved as the project's weights
    saved = read_weights(tmp_path / "net.weights.npz")
    kept = run.weights()
    assert set(saved) == set(kept) and all(np.array_equal(saved[k], kept[k]) for k in saved)
    # snapshots at the promised steps, the last one equal to the final weights
    assert [s.step for s in run.snapshots] == snapshot_steps(3, steps)
    last = run.snapshot_weights(run.snapshots[-1])
    assert all(np.array_equal(last[k], kept[k]) for k in kept)
    first = run.snapshot_weights(run.snapshots[0])
    assert not np.array_equal(first["h1/W"], kept["h1/W"])  # step 0 holds the initial weights
    key, value = run.metric()
    assert key == "test_acc" and 0.5 < value <= 1.0
    # the mini curve of lists comes from run.json: the loss averaged over equal slices
    from nnstudio.runs.recorder import preview
    assert len(meta["preview_loss"]) == min(60, 3 * steps)
    assert np.allclose(meta["preview_loss"], preview(curves["loss"]), atol=1e-6)
    assert preview(np.array([1.0, np.nan, 3.0, 5.0]), points=2) == [1.0, 4.0] and preview(np.zeros(0)) == []
    assert run.project().graph.node("a1").params["function"] == "sigmoid"


def test_no_history_flag_and_listing(tmp_path: Path, capsys) -> None:
    path = blobs_project(tmp_path, epochs=1)
    assert main(["train", str(path), "--no-history"]) == 0
    assert not (tmp_path / "net.runs").exists()
    assert main(["runs", str(path)]) == 0
    assert "no runs yet" in capsys.readouterr().err
    assert main(["train", str(path), "--epochs", "2"]) == 0
    assert main(["train", str(path), "--epochs", "1", "--learning-rate", "0.1"]) == 0
    capsys.readouterr()
    assert main(["runs", str(path), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == ["0001", "0002"] and [r["epochs_done"] for r in rows] == [2, 1]
    assert all(r["metric"] == "test_acc" and r["end_reason"] == "completed" for r in rows)
    assert main(["runs", str(path)]) == 0
    out = capsys.readouterr().out
    assert "0001" in out and "0002" in out and "completed" in out
    assert main(["runs", str(path), "--delete", "0001"]) == 0
    assert [r.id for r in RunStore.for_project(path).list()] == ["0002"]
    assert main(["runs", str(path), "--delete", "0001"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: run '0001' does not exist in '{tmp_path / 'net.runs'}' (runs: 0002)"


def test_damaged_and_newer_runs_are_named_not_fatal(tmp_path: Path, capsys) -> None:
    path = blobs_project(tmp_path, epochs=1)
    assert main(["train", str(path)]) == 0
    root = tmp_path / "net.runs"
    (root / "0007").mkdir()
    (root / "0007" / "run.json").write_text("{not json")
    (root / "0008").mkdir()
    (root / "0008" / "run.json").write_text(json.dumps({"format": "nnstudio-run", "version": 99}))
    capsys.readouterr()
    assert main(["runs", str(path), "--json"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["0001"]
    assert "0007" in err and "not usable JSON" in err and "newer NN Studio" in err


def _train(path: Path, store: RunStore, **changes) -> RunRecorder:
    project = apply_changes(load_project(path), changes)
    config = TrainingConfig.from_dict(project.training)
    trainer = Trainer(project.graph, load_dataset(config), config)
    trainer.recorder = RunRecorder(store, name=None, project_name=project.name)
    list(trainer.run())
    return trainer.recorder


def test_budget_prunes_the_oldest_runs_but_never_the_newest(tmp_path: Path) -> None:
    path = blobs_project(tmp_path, epochs=1)
    store = RunStore.for_project(path, budget_bytes=10**9)
    for _ in range(3):
        _train(path, store)
    sizes = [r.size_bytes() for r in store.list()]
    assert len(sizes) == 3
    store.budget_bytes = int(2.5 * max(sizes))  # room for two runs, not three (their sizes differ a little)
    _train(path, store)
    assert [r.id for r in store.list()] == ["0003", "0004"]
    store.budget_bytes = 1  # nothing fits: the newest still stays
    _train(path, store)
    assert [r.id for r in store.list()] == ["0005"]


def test_a_stopped_run_keeps_its_last_moment_and_an_abandoned_one_is_marked(tmp_path: Path) -> None:
    path = blobs_project(tmp_path, epochs=3)
    project = load_project(path)
    config = TrainingConfig.from_dict(project.training)
    store = RunStore.for_project(path)
    trainer = Trainer(project.graph, load_dataset(config), config)
    trainer.recorder = RunRecorder(store, name="stopped early")
    for event in trainer.run():
        if type(event).__name__ == "BatchReport" and event.global_step == 3:
            trainer.request_stop()
    run = store.get("0001")
    assert run.end_reason == "stopped" and run.name == "stopped early"
    assert run.snapshots[-1].step == 3 and run.meta["steps_done"] == 3
    # a consumer that gives up mid-run (an exception in a front end) still leaves a listed, marked run
    trainer = Trainer(project.graph, load_dataset(config), config)
    trainer.recorder = RunRecorder(store)
    events = trainer.run()
    for event in events:
        if type(event).__name__ == "BatchReport":
            break
    events.close()
    run = store.get("0002")
    assert run.end_reason == "error" and len(run.curves()["loss"]) == 1


def test_comparing_runs_names_what_differs(tmp_path: Path) -> None:
    path = blobs_project(tmp_path, epochs=2)
    store = RunStore.for_project(path)
    base = load_project(path)
    twins = {v.title: v for v in suggested_variations(base)}
    assert set(twins) == {"activation sigmoid -> relu", "dropout off", "learning rate x10", "learning rate /10"}
    assert twins["activation sigmoid -> relu"].changes == {"a1.function": "relu"}
    a = train_trial(base, {}, store, 0, name="sigmoid")
    b = train_trial(base, twins["activation sigmoid -> relu"].changes, store, 1, name="relu")
    c = train_trial(base, {"learning_rate": 0.1}, store, 2)
    assert (a.run_id, b.run_id, c.run_id) == ("0001", "0002", "0003")
    runs = store.list()
    diffs = {d.key: d.values for d in differences(runs)}
    assert diffs == {"learning_rate": [0.01, 0.01, 0.1], "a1.function": ["sigmoid", "relu", "sigmoid"]}
    labels = legend_labels(runs)
    assert labels[1] == "0002: learning_rate=0.01, a1.function=relu"
    assert labels[2] == "0003: learning_rate=0.1, a1.function=sigmoid"
    assert legend_labels(runs[:1]) == ["0001: sigmoid"]
    # blocks changed together read as one difference
    d = train_trial(base, {"a1.function": "relu", "h1.init": "glorot", "out.init": "glorot"}, store, 3)
    pair = [runs[0], store.get(d.run_id)]
    assert legend_labels(pair) == ["0001: init (×2)=he, a1.function=sigmoid", "0004: init (×2)=glorot, a1.function=relu"]
    metrics = {d.key: d.values for d in metric_rows(runs)}
    assert len(metrics["test_acc"]) == 3 and "val_loss" in metrics
    accs = [r.metrics["test_acc"] for r in runs]
    assert best_index(runs) == accs.index(max(accs))
    assert base.graph.node("a1").params["function"] == "sigmoid"  # variations never touch the original


def test_sweep_cli_prints_one_object_per_trial_and_a_summary(tmp_path: Path, capsys) -> None:
    path = blobs_project(tmp_path, epochs=1)
    code = main(["sweep", str(path), "--set", "learning_rate=0.0001,0.05", "--set", "a1.function=sigmoid,relu",
                 "--epochs", "2", "--json"])
    out = capsys.readouterr().out
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    trials, summary = lines[:-1], lines[-1]
    assert [t["trial"] for t in trials] == [0, 1, 2, 3]
    assert [t["settings"] for t in trials] == [
        {"learning_rate": 0.0001, "a1.function": "sigmoid"}, {"learning_rate": 0.0001, "a1.function": "relu"},
        {"learning_rate": 0.05, "a1.function": "sigmoid"}, {"learning_rate": 0.05, "a1.function": "relu"}]
    assert all(0 <= t["test_acc"] <= 1 and t["seconds"] > 0 for t in trials)
    accs = [t["test_acc"] for t in trials]
    assert summary["summary"] is True and summary["best"] == accs.index(max(accs))
    assert summary["best_settings"] == trials[summary["best"]]["settings"]
    runs = RunStore.for_project(path).list()  # the trials are runs in the history
    assert [r.id for r in runs] == [t["run"] for t in trials]
    assert [r.meta["epochs_done"] for r in runs] == [2, 2, 2, 2]
    assert runs[3].settings["learning_rate"] == 0.05 and runs[3].graph_dict["nodes"][2]["params"]["function"] == "relu"
    assert runs[1].meta["origin"]["trial"] == 1
    assert main(["sweep", str(path), "--set", "learning_rate=0.01", "--epochs", "1"]) == 0
    text = capsys.readouterr().out
    assert "<- best" in text and "learning_rate=0.01" in text


@pytest.mark.parametrize("argument, fragment", [
    ("learnin_rate=0.1", "setting 'learnin_rate' is not a training setting"),
    ("learning_rate=-1", "setting 'learning_rate' must be above 0"),
    ("batch_size=abc", "setting 'batch_size' must be a whole number. Received: batch_size='abc'"),
    ("a1.function=swish", "setting 'a1.function': function must be one of"),
    ("zz.units=3", "setting 'zz.units': there is no block 'zz'"),
    ("learning_rate", "--set 'learning_rate': expected SETTING=VALUE"),
    ("learning_rate=", "setting 'learning_rate' has no values"),
    ("learning_rate=0.1,,0.2", "--set 'learning_rate=0.1,,0.2': a value between commas is empty"),
    ("learning_rate=,0.1", "a value between commas is empty"),
    ("learning_rate=0.1,0.10", "--set 'learning_rate=0.1,0.10': the value 0.10 is listed twice"),
    ("a1.units=3", "setting 'a1.units': Activation 'a1' has no parameter 'units'"),
])
def test_a_bad_set_is_one_line_naming_the_setting(tmp_path: Path, capsys, argument: str, fragment: str) -> None:
    path = blobs_project(tmp_path, epochs=1)
    assert main(["sweep", str(path), "--set", argument]) == 1
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err
    assert not (tmp_path / "net.runs").exists()


def test_an_unwritable_history_does_not_stop_training(tmp_path: Path, capsys) -> None:
    path = blobs_project(tmp_path, epochs=1)
    (tmp_path / "net.runs").write_text("a file where the runs folder belongs")
    assert main(["train", str(path)]) == 0
    err = capsys.readouterr().err
    assert "this run is not kept in the history" in err and (tmp_path / "net.weights.npz").is_file()
    with pytest.raises(UserError):
        RunStore.for_project(path).begin()


def test_the_shipped_examples_keep_no_history(tmp_path: Path, capsys) -> None:
    from nnstudio.resources_path import resource
    from nnstudio.runs.store import keeps_history
    example = resource("examples", "mlp-xor.json")
    assert not keeps_history(example) and keeps_history(tmp_path / "mine.nnproj")
    assert main(["train", str(example), "--epochs", "1", "--weights-out", str(tmp_path / "w.npz")]) == 0
    assert not runs_dir_for(example).exists()


def test_scrubbing_recomputes_the_views_at_each_snapshot(tmp_path: Path) -> None:
    from nnstudio.graph.compile import compile_graph
    from nnstudio.runs.scrub import Scrubber
    from nnstudio.training import views
    path = blobs_project(tmp_path, epochs=2)
    store = RunStore.for_project(path)
    _train(path, store)
    run = store.get("0001")
    dataset = load_dataset(TrainingConfig.from_dict(run.settings))
    scrubber = Scrubber(run, dataset)
    assert scrubber.extent is not None and len(scrubber.snapshots) == len(run.snapshots) >= 3
    last = scrubber.views_at(len(scrubber.snapshots) - 1)
    first = scrubber.views_at(0)
    assert first.snapshot.step == 0 and last.snapshot.step == run.meta["steps_done"]
    # the views are exactly what the live panels would have shown with those weights
    model = compile_graph(run.project().graph, "numpy", seed=0)
    model.load_state_dict(run.weights())
    expected = views.boundary(model, scrubber.extent, last.snapshot.step)
    assert np.allclose(last.boundary.values, expected.values)
    assert not np.allclose(first.boundary.values, last.boundary.values)
    assert set(first.probe.activations) == set(last.probe.activations) and first.histograms.step == 0
    assert scrubber.nearest(10**6) == len(scrubber.snapshots) - 1 and scrubber.nearest(0) == 0
    only = scrubber.views_at(1, wanted={"boundary"})
    assert only.probe is None and only.histograms is None and only.boundary is not None
    # "continue from here": a new run from a snapshot's weights, its origin recorded
    snap = run.snapshots[1]
    project = load_project(path)
    config = TrainingConfig.from_dict(project.training)
    trainer = Trainer(project.graph, dataset, config, None, run.snapshot_weights(snap))
    trainer.recorder = RunRecorder(store, "continued", {"continued_from": run.id, "step": snap.step})
    list(trainer.run())
    new = store.get("0002")
    assert new.meta["origin"] == {"continued_from": "0001", "step": snap.step}
    start = new.snapshot_weights(new.snapshots[0])
    assert all(np.array_equal(start[k], run.snapshot_weights(snap)[k]) for k in start)


def test_unsaved_run_folders_of_ended_processes_are_removed(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    from nnstudio.runs.store import remove_stale_unsaved
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(ended.stdout)
    for name in (f"unsaved-{dead}-1", f"unsaved-{os.getpid()}-2", f"unsaved-{os.getppid()}-3", "unsaved-x", "keep"):
        (tmp_path / name / "0001").mkdir(parents=True)
    assert remove_stale_unsaved(tmp_path) == [f"unsaved-{dead}-1"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"unsaved-{os.getpid()}-2", f"unsaved-{os.getppid()}-3", "unsaved-x", "keep"])


def test_runs_and_sweep_tables_speak_chinese_and_line_up(tmp_path: Path, capsys) -> None:
    """`nnstudio --lang zh runs` and `sweep`: headings and how each run ended were left in English."""
    from nnstudio import i18n  # noqa: PLC0415
    from nnstudio.runs.cli import _columns  # noqa: PLC0415
    path = blobs_project(tmp_path, epochs=1)
    try:
        assert main(["--lang", "zh", "sweep", str(path), "--set", "learning_rate=0.05,0.1", "--epochs", "1"]) == 0
        out = capsys.readouterr().out.splitlines()
        assert all("已完成" in line and "completed" not in line for line in out[:2]), out
        heading, first = out[3], out[4]
        assert heading.startswith("试验") and "设置" in heading and heading.endswith("秒数")
        assert _columns(heading) == _columns(first.replace("  <- 最佳", "")), (heading, first)
        assert main(["--lang", "zh", "runs", str(path)]) == 0
        heading, row = capsys.readouterr().out.splitlines()[:2]
        assert "开始时间" in heading and "结束方式" in heading and "已完成" in row and "completed" not in row
        assert _columns(heading[:heading.index("用时") + 2]) == _columns(row[:row.index("s  ") + 1])
    finally:
        i18n.set_language("en")


def test_a_run_without_a_name_is_named_in_the_interface_language(tmp_path: Path, capsys) -> None:
    from nnstudio import i18n  # noqa: PLC0415
    path = blobs_project(tmp_path, epochs=1)
    try:
        assert main(["--lang", "zh", "train", str(path)]) == 0
        assert main(["--lang", "en", "train", str(path)]) == 0
    finally:
        i18n.set_language("en")
    assert [r.name for r in RunStore.for_project(path).list()] == ["运行 1", "Run 2"]


@pytest.mark.parametrize("argument, chinese", [
    ("learnin_rate=0.1", "设置 'learnin_rate' 既不是训练设置，也不是块参数"),
    ("learning_rate=abc", "设置 'learning_rate' 的取值应为"),
    ("zz.units=3", "设置 'zz.units'：网络中没有块 'zz'"),
    ("a1.units=3", "设置 'a1.units'：激活函数 'a1' 没有参数 'units'"),
    ("learning_rate", "--set 'learning_rate'：应为 SETTING=VALUE,VALUE,..."),
    ("learning_rate=", "设置 'learning_rate' 没有取值"),
    ("learning_rate=0.1,,0.2", "逗号之间有一个空值"),
    ("learning_rate=0.1,0.1", "取值 0.1 列出了两次"),
])
def test_a_bad_set_is_refused_in_chinese(tmp_path: Path, capsys, argument: str, chinese: str) -> None:
    """The sweep's own refusals were English in a Chinese terminal (and in the app's sweep dialog)."""
    from nnstudio import i18n  # noqa: PLC0415
    path = blobs_project(tmp_path, epochs=1)
    try:
        assert main(["--lang", "zh", "sweep", str(path), "--set", argument]) == 1
        assert main(["--lang", "zh", "runs", str(tmp_path)]) == 1
        assert main(["--lang", "zh", "runs", str(path), "--delete", "0009"]) == 1
    finally:
        i18n.set_language("en")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and chinese in lines[0], lines
    assert lines[1] == f"错误：“{tmp_path}”是一个文件夹；应为项目文件（.nnproj）"
    assert lines[2].startswith("错误：运行 '0009' 不存在于")


def test_runs_names_a_folder_given_instead_of_a_project(tmp_path: Path, capsys) -> None:
    assert main(["runs", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == f"error: '{tmp_path}' is a folder; expected a project file (.nnproj)"


def test_a_trailing_comma_in_a_set_is_harmless(tmp_path: Path) -> None:
    from nnstudio.runs.sweep import parse_set  # noqa: PLC0415
    project = load_project(blobs_project(tmp_path, epochs=1))
    assert parse_set("learning_rate=0.01, 0.1,", project) == ("learning_rate", [0.01, 0.1])


def test_a_sweep_trial_that_cannot_train_is_named(tmp_path: Path, capsys) -> None:
    path = blobs_project(tmp_path, epochs=1)
    assert main(["sweep", str(path), "--set", "out.units=2,3", "--epochs", "1"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("error: trial 1 (out.units=3): the network cannot be trained"), lines
