"""The Runs panel in the window: runs kept from the app, compared (overlay and table), deleted, a twin run,
a sweep from the dialog, scrubbing back through a run and continuing from a snapshot, and an unsaved
project's runs moving beside it when it is saved."""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402

from nnstudio.graph.project_file import Project, default_training  # noqa: E402
from nnstudio.runs import RunStore  # noqa: E402
from nnstudio.runs.sweep import Variation  # noqa: E402

_spec = importlib.util.spec_from_file_location("_nnstudio_toy_network", Path(__file__).with_name("toy_network.py"))
doubles = sys.modules.setdefault("_nnstudio_toy_network", importlib.util.module_from_spec(_spec))
if not hasattr(doubles, "toy_graph"):
    _spec.loader.exec_module(doubles)

main_window = pytest.importorskip("nnstudio.ui.main_window")


def toy_project(path: Path | None) -> Project:
    training = dict(default_training(), dataset="circle", learning_rate=0.05, batch_size=32, epochs=2,
                    backend="numpy", max_train_samples=300, max_test_samples=100)
    return Project(name="toy", graph=doubles.toy_graph(), training=training, path=path)


@pytest.fixture
def win(qtbot, tmp_path):
    w = main_window.MainWindow()
    qtbot.addWidget(w)
    w.set_project(toy_project(tmp_path / "toy.nnproj"))
    w.resize(1280, 860)
    w.show()
    yield w
    w.runs.runner.stop_and_wait()
    if w.training.is_training:
        w.training.stop_and_wait()
    w.undo_stack.setClean()


def train(qtbot, w) -> object:
    finished = []
    w.training.run_finished.connect(finished.append)
    assert w.training.train()
    qtbot.waitUntil(lambda: bool(finished), timeout=30000)
    w.training.run_finished.disconnect(finished.append)
    return finished[0]


def wait_trials(qtbot, w, timeout: int = 60000) -> list:
    done = []
    w.runs.runner.finished.connect(done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=timeout)
    w.runs.runner.finished.disconnect(done.append)
    return done[0]


def test_app_runs_are_kept_listed_compared_and_deleted(win, qtbot, tmp_path, monkeypatch):
    runs = win.runs
    assert runs.panel.status.text().startswith("No runs yet: each time you train")  # not an empty panel
    result = train(qtbot, win)
    assert result.run is not None and result.run.id == "0001"
    assert (tmp_path / "toy.runs" / "0001" / "run.json").is_file()
    panel = runs.panel
    assert panel.tree.topLevelItemCount() == 1 and "Kept as run 0001" in panel.status.text()
    item = panel.tree.topLevelItem(0)
    assert item.text(0).startswith("0001") and item.text(1).endswith("%") and not item.icon(0).isNull()
    assert "accuracy " + item.text(1) in item.toolTip(1)
    stored = RunStore(tmp_path / "toy.runs").get("0001")
    assert stored.meta["steps_per_epoch"] * 2 == len(stored.curves()["loss"])
    assert set(stored.gradients()) >= {"d1", "d2"}  # kept even though nobody asked the panel for them
    win.training.edit_setting("learning_rate", 0.5)
    train(qtbot, win)
    assert [r.id for r in panel.runs] == ["0001", "0002"]
    assert not panel.compare_button.isEnabled()
    panel.select(["0001", "0002"])
    assert panel.compare_button.isEnabled()
    win.training.docks["boundary"].raise_()  # a tab over the curves: the runs are drawn where one can see them
    panel.compare_button.click()
    curves = win.training.dashboard.curves
    assert runs.overlay.active and len(runs.overlay.items) >= 4
    qtbot.waitUntil(lambda: win.training.panel_visible("curves"), timeout=3000)
    assert not curves.items["loss_ema"].isVisible()
    labels = [label.text for _sample, label in runs.overlay.legend.items]
    assert labels == ["0001: learning_rate=0.05", "0002: learning_rate=0.5"]
    assert not curves.loss_plot.legend.isVisible()
    curves.resize(1400, 1000)  # however big the panel gets, the comparison keeps the live legend hidden
    qtbot.wait(20)
    assert not curves.loss_plot.legend.isVisible() and not curves.legend_wanted
    # The loss axis spans the compared runs, on a linear scale from 0 and on a log scale.
    from nnstudio.ui.compare_view import smoothed
    compared = np.concatenate([smoothed(r.curves()["loss"]) for r in runs.compare_view.runs])  # as drawn
    top = curves.loss_plot.getViewBox().viewRange()[1][1]
    assert curves.loss_plot.getViewBox().viewRange()[1][0] == 0.0 and top >= np.nanmax(compared) * 0.99
    curves.set_log_loss(True)
    low, high = curves.loss_plot.getViewBox().viewRange()[1]
    positive = compared[np.isfinite(compared) & (compared > 0)]
    assert low <= np.log10(positive.min()) and high >= np.log10(np.nanmax(compared))
    curves.set_log_loss(False)
    table = runs.compare_view.table
    rows = [table.verticalHeaderItem(r).text() for r in range(table.rowCount())]
    assert rows[0] == "learning_rate" and "test accuracy" in rows and "end" in rows
    assert [table.item(0, c).text() for c in range(2)] == ["0.05", "0.5"]
    best = runs.compare_view.best
    assert table.horizontalHeaderItem(best).text().startswith("★")
    runs.compare_view.back_button.click()
    assert not runs.overlay.active and curves.items["loss_ema"].isVisible()
    assert curves.legend_wanted and runs.overlay.legend is None  # it shows again wherever it fits
    assert [label.text for _s, label in curves.loss_plot.legend.items][0] == "batch"
    panel.select(["0001"])
    # The Delete button asks first (its clicked(False) used to land in confirm=False and delete at once)
    asked = []
    monkeypatch.delenv("NNSTUDIO_NO_DIALOGS", raising=False)
    monkeypatch.setattr(main_window.QMessageBox, "question", staticmethod(
        lambda *a, **k: asked.append(a) or main_window.QMessageBox.StandardButton.No))
    panel.delete_button.click()
    assert len(asked) == 1 and (tmp_path / "toy.runs" / "0001").exists()
    monkeypatch.setenv("NNSTUDIO_NO_DIALOGS", "1")  # (closing the window must not ask either)
    monkeypatch.setattr(main_window.QMessageBox, "question",
                        staticmethod(lambda *a, **k: main_window.QMessageBox.StandardButton.Discard))
    runs.delete_selected(confirm=False)
    assert [r.id for r in panel.runs] == ["0002"] and not (tmp_path / "toy.runs" / "0001").exists()
    assert runs.compare_view.runs == []  # the table no longer lists the deleted run (it did after "Back")


def test_a_twin_run_trains_both_and_opens_the_comparison(win, qtbot, tmp_path, monkeypatch):
    from nnstudio.ui import runs_dock
    runs = win.runs
    assert set(runs.actions) == {"twin", "sweep", "runs"}
    assert runs.actions["twin"] in win.train_menu.actions()
    runs.docks["runs"].hide()
    runs.actions["runs"].trigger()
    assert runs.docks["runs"].isVisible()
    # the panel's button opens the dialog (its clicked(False) used to land in the variation argument)
    opened = []
    monkeypatch.setattr(runs_dock.VariationDialog, "exec", lambda self: opened.append(self) or 0)
    runs.panel.twin_button.click()
    assert len(opened) == 1
    assert runs.try_variation(Variation("relu", {"a1.function": "relu"}))
    assert not runs.panel.twin_button.isEnabled()
    results = wait_trials(qtbot, win)
    assert [r.reason for r in results] == ["completed", "completed"]
    assert [r.run_id for r in results] == ["0001", "0002"]
    assert runs.overlay.active and [r.id for r in runs.compare_view.runs] == ["0001", "0002"]
    table = runs.compare_view.table
    assert table.verticalHeaderItem(0).text() == "a1.function"
    assert [table.item(0, c).text() for c in range(2)] == ["tanh", "relu"]
    stored = RunStore(tmp_path / "toy.runs").list()
    assert [r.meta["origin"]["role"] for r in stored] == ["original", "variation"]
    assert win.project.graph.node("a1").params["function"] == "tanh"  # the open project is not changed
    assert runs.panel.twin_button.isEnabled()


def test_the_sweep_dialog_trains_each_value_and_marks_the_best(win, qtbot, tmp_path):
    dialog = win.runs.open_sweep()
    qtbot.addWidget(dialog)
    dialog.setting.setCurrentText("learning_rate")
    dialog.values.setText("0.0001, abc")
    assert not dialog.start()
    assert "setting 'learning_rate' must be a number" in dialog.error.text()
    dialog.values.setText("0.0001,, 0.05")  # the dialog's words, not the command line's --set
    assert not dialog.start()
    assert dialog.error.text() == "Values: a value between commas is empty"
    dialog.values.setText("0.0001, 0.05, 0.2")
    dialog.epochs.setValue(1)
    assert dialog.start()
    wait_trials(qtbot, win)
    assert dialog.table.rowCount() == 3
    results = [dialog.table.item(r, 2).text() for r in range(3)]
    assert all(text.startswith("accuracy ") for text in results), results
    best = dialog.best_row()
    accs = [r.value for r in sorted(dialog.results, key=lambda r: r.trial)]
    assert best == accs.index(max(accs))
    assert dialog.table.item(best, 0).text() == f"★ {best}" and dialog.table.item(best, 0).font().bold()
    stored = RunStore(tmp_path / "toy.runs").list()
    assert [r.settings["learning_rate"] for r in stored] == [0.0001, 0.05, 0.2]
    assert all(r.meta["epochs_done"] == 1 for r in stored)
    assert dialog.compare_button.isEnabled()
    dialog.compare_button.click()
    assert len(win.runs.compare_view.runs) == 3
    dialog.close()


def test_scrubbing_shows_the_panels_as_they_were_and_continues_from_a_snapshot(win, qtbot, tmp_path):
    train(qtbot, win)
    runs = win.runs
    runs.panel.select(["0001"])
    runs.panel.scrub_button.click()
    scrub = runs.scrub
    run = RunStore(tmp_path / "toy.runs").get("0001")
    assert scrub.slider.maximum() == len(run.snapshots) - 1 and scrub.slider.value() == scrub.slider.maximum()
    boundary = win.training.dashboard.boundary
    last = boundary_values = np.array(scrub.current.boundary.values)
    followed = []  # the drawing canvas follows the snapshot's weights through live_weights
    win.training.live_weights.connect(followed.append)
    scrub.slider.setValue(0)
    qtbot.waitUntil(lambda: scrub.current.snapshot.step == 0, timeout=3000)
    assert "Before training" in scrub.position.text()
    first = np.array(scrub.current.boundary.values)
    assert not np.allclose(first, last)
    assert boundary.dirty or boundary_values is not None
    hist = win.training.dashboard.histograms.data
    assert hist.step == 0
    assert followed and followed[-1].weights is scrub.current.weights and followed[-1].epoch == 0
    assert win.training.dashboard.feature_maps.probe.step == 0
    # the initial snapshot is the trainer's initial weights
    from nnstudio.graph.compile import compile_graph
    fresh = compile_graph(run.project().graph, "numpy", seed=0).state_dict()
    assert all(np.array_equal(fresh[k], scrub.current.weights[k]) for k in fresh)
    scrub.slider.setValue(1)
    qtbot.waitUntil(lambda: scrub.current.snapshot.step == 1, timeout=3000)
    finished = []
    win.training.run_finished.connect(finished.append)
    assert scrub.continue_button.isEnabled()
    scrub.continue_button.click()
    # the live run takes the panels over: the scrub panel lets go of the snapshot it showed
    assert scrub.scrubber is None and scrub.marker is None and not scrub.continue_button.isEnabled()
    assert scrub.title.text() == "Select a run in the Runs panel and press Scrub."
    qtbot.waitUntil(lambda: bool(finished), timeout=30000)
    new = RunStore(tmp_path / "toy.runs").get("0002")
    assert new.meta["origin"] == {"continued_from": "0001", "step": 1}
    assert new.name == "continued from run 0001, step 1"


def test_an_unsaved_projects_runs_move_beside_it_when_saved(qtbot, tmp_path):
    w = main_window.MainWindow()
    qtbot.addWidget(w)
    w.set_project(toy_project(None))
    w.show()
    root = w.runs.root()
    assert root is not None and "unsaved" in root.name and str(root).startswith(str(tmp_path))
    train(qtbot, w)
    assert (root / "0001" / "run.json").is_file()
    assert w.save_as(tmp_path / "mine.nnproj")
    assert w.runs.root() == tmp_path / "mine.runs"
    assert [r.id for r in w.runs.panel.runs] == ["0001"] and not root.exists()
    meta = json.loads((tmp_path / "mine.runs" / "0001" / "run.json").read_text())
    assert meta["id"] == "0001"
    w.undo_stack.setClean()
    w.close()


def test_the_runs_panel_keeps_its_buttons_and_results_in_view_at_1024x768(qtbot, tmp_path):
    """At 1024 x 768 the Runs dock is about 240 pixels wide and 230 high: the result of each run and every
    button stay in view, also once the status line under the buttons says something."""
    w = main_window.MainWindow()
    qtbot.addWidget(w)
    w.set_project(toy_project(tmp_path / "toy.nnproj"))
    w.resize(1024, 768)
    w.show()
    w.runs.show_runs()
    panel = w.runs.panel
    store = RunStore.for_project(tmp_path / "toy.nnproj")
    train(qtbot, w)
    panel.status.setText("Kept as run 0001, a status line long enough to wrap onto a second line.")
    qtbot.wait(50)
    viewport = panel.parentWidget()
    for button in (panel.compare_button, panel.scrub_button, panel.delete_button, panel.twin_button,
                   panel.sweep_button):
        bottom = button.mapTo(viewport, button.rect().bottomLeft()).y()
        assert 0 <= bottom <= viewport.height(), (button.text(), bottom, viewport.height())
    tree = panel.tree
    right = tree.columnViewportPosition(1) + tree.columnWidth(1)
    assert right <= tree.viewport().width(), (right, tree.viewport().width())
    assert tree.columnWidth(0) >= 150
    # In a wider dock the name gets the room the result leaves
    dock = w.runs.docks["runs"]
    w.resizeDocks([dock], [420], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: tree.viewport().width() > 300, timeout=2000)
    qtbot.waitUntil(lambda: tree.columnWidth(0) == tree.viewport().width() - tree.columnWidth(1), timeout=2000)
    assert store.list()[0].id == "0001"
    w.undo_stack.setClean()


def test_the_variation_dialog_fits_a_1024_screen_with_many_blocks_changed(qtbot):
    from nnstudio.cli import example_paths  # noqa: PLC0415
    from nnstudio.graph.project_file import load_project  # noqa: PLC0415
    from nnstudio.ui.runs_dock import VariationDialog  # noqa: PLC0415
    project = load_project(example_paths()["vanishing-gradients"])
    dialog = VariationDialog(project)
    qtbot.addWidget(dialog)
    assert "sigmoid8.function=relu" in dialog.choice.itemData(0, Qt.ItemDataRole.ToolTipRole)
    assert dialog.sizeHint().width() <= 700, dialog.sizeHint()


def test_the_sweep_dialog_says_when_the_best_trials_tie(win, qtbot):
    from PySide6.QtWidgets import QTableWidgetItem
    from nnstudio.runs.sweep import TrialResult
    dialog = win.runs.open_sweep()
    qtbot.addWidget(dialog)
    dialog.table.setRowCount(3)
    for row in range(3):
        dialog.table.setItem(row, 0, QTableWidgetItem(str(row)))
    dialog._active = True  # as while its trials train
    for i, value in enumerate((0.49, 0.49)):
        dialog._trial_finished(TrialResult(i, {"learning_rate": 10.0 ** -i}, "completed", "test_acc", value, 0.1,
                                           f"000{i + 1}"))
    assert dialog.best_row() == 0 and dialog.table.item(0, 0).text() == "★ 0"
    assert dialog.summary.text() == "Best: learning_rate=1 (a tie: 2 trials reach the same result)"
    dialog._trial_finished(TrialResult(2, {"learning_rate": 0.01}, "completed", "test_acc", 0.5, 0.1, "0003"))
    assert dialog.summary.text() == "Best: learning_rate=0.01"
    dialog._active = False
