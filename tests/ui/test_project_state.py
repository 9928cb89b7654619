"""One owner for the project, its settings, its weights and its runs: what a user sees stays true.

Save As writes the weights and reopening evaluates them; quitting, opening or starting anew with unsaved
trained weights asks first; changing a setting re-validates; the Problems panel and the Train action agree;
nothing of the previous project stays on screen; the canvas reads with the open project's network."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, default_training, load_project
from nnstudio.resources_path import resource

_spec = importlib.util.spec_from_file_location("_nnstudio_toy_network", Path(__file__).with_name("toy_network.py"))
toy = sys.modules.setdefault("_nnstudio_toy_network", importlib.util.module_from_spec(_spec))
if not hasattr(toy, "toy_graph"):
    _spec.loader.exec_module(toy)

Button = QMessageBox.StandardButton


def toy_project(path=None, **training) -> Project:
    settings = dict(default_training(), **{**toy.SETTINGS, "epochs": 2, **training})
    return Project(name="toy", graph=toy.toy_graph(), training=settings, path=path)


def train(qtbot, window, timeout=60000):
    controller = window.training
    done = []
    assert controller.train(), controller.panel.status.text()
    controller.session.finished.connect(done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=timeout)
    return done[0]


def problems_errors(window) -> list[str]:
    report = window.scene.validate_now()
    return [m.text for m in report.errors]


# -- trained weights are project state ------------------------------------------------------------------

def test_save_as_writes_the_weights_and_reopening_evaluates_them(window, qtbot, tmp_path):
    window.set_project(toy_project())  # like an example: never saved anywhere
    assert train(qtbot, window).ok
    assert window.is_modified() and window.isWindowModified()  # training marked the project modified
    target = tmp_path / "spiral.nnproj"
    assert window.save_as(str(target))
    weights_file = target.with_name("spiral.weights.npz")
    assert weights_file.is_file() and not window.is_modified()
    trained = {k: v.copy() for k, v in window.training.weights.items()}
    window.new_project()
    assert window.training.weights is None
    assert window.open_project(str(target))
    assert set(window.training.weights) == set(trained)
    assert all(np.array_equal(window.training.weights[k], trained[k]) for k in trained)
    figures = window.training.evaluate()
    assert figures is not None and figures["accuracy"] > 0.7, window.training.panel.status.text()


def test_quitting_with_unsaved_trained_weights_asks(window, qtbot, dialog_answers, tmp_path):
    window.set_project(toy_project(tmp_path / "toy.nnproj"))
    window.save()
    assert train(qtbot, window).ok
    assert window.undo_stack.isClean() and window.is_modified()  # only the weights are new
    asked = []
    real_question = QMessageBox.question

    def question(*args, **kwargs):
        asked.append(args[2])
        return Button.Cancel
    QMessageBox.question = staticmethod(question)
    try:
        window.close()
        assert window.isVisible() and asked and "trained weights" in asked[-1]
        assert not window.open_example(resource("examples", "mlp-xor.json"))  # cancelled: the project stays
        window.new_project()
        assert window.project.name == "toy" and len(asked) == 3
    finally:
        QMessageBox.question = real_question
    dialog_answers.append(Button.Save)
    window.close()
    assert not window.isVisible() and tmp_path.joinpath("toy.weights.npz").is_file()


# -- settings are document state, and one validation serves every view --------------------------------------

def test_changing_the_loss_revalidates_and_undo_restores(window, qtbot):
    window.set_project(toy_project())
    assert problems_errors(window) == []
    window.training.panel.loss.setCurrentIndex(window.training.panel.loss.findData("mse"))
    assert window.project.training["loss"] == "mse"
    window.training.panel.loss.setCurrentIndex(window.training.panel.loss.findData("binary_cross_entropy"))
    qtbot.waitUntil(lambda: window.problems.warnings > 0 or window.problems.errors > 0, timeout=3000)
    assert any("binary cross-entropy" in m for m in window.problems.messages())
    window.undo_stack.undo()
    assert window.project.training["loss"] == "mse"
    assert window.training.panel.loss.currentData() == "mse"  # the panel is a view of the document
    window.undo_stack.undo()
    qtbot.waitUntil(lambda: window.problems.errors == 0 and window.problems.warnings == 0, timeout=3000)
    assert window.project.training["loss"] == "cross_entropy"


@pytest.mark.parametrize("case", ["dataset_shape", "classes", "unknown_dataset", "bad_setting", "unwired"])
def test_problems_and_train_agree_where_train_refuses(window, qtbot, case):
    project = toy_project()
    if case == "dataset_shape":  # an imported 2-input network with the mnist dataset
        project.training["dataset"] = "mnist"
    elif case == "classes":
        graph = toy.toy_graph()
        graph.set_param("d2", "units", 3)
        project.graph = graph
    elif case == "unknown_dataset":
        project.training["dataset"] = "no-such-dataset"
    elif case == "bad_setting":
        project.training["batch_size"] = 0
    else:
        graph = Graph()
        graph.add_node("Input", {"shape": [2]}, node_id="in")
        graph.add_node("Dense", {"units": 2}, node_id="lonely")
        project.graph = graph
    window.set_project(project)
    errors = problems_errors(window)
    assert errors, "the Problems panel must list why this network cannot train"
    assert "ready to train" not in " ".join(window.problems.messages())
    assert not window.training.train()
    status = window.training.panel.status.text()
    assert errors[0] in status, (errors, status)
    assert window.training.evaluate() is None  # no traceback: a message, as the panel says


def test_a_setting_fixed_in_the_panel_makes_the_network_trainable(window, qtbot):
    project = toy_project()
    project.training["dataset"] = "mnist"
    window.set_project(project)
    assert problems_errors(window)
    panel = window.training.panel
    panel.dataset.setCurrentIndex(panel.dataset.findData("circle"))
    qtbot.waitUntil(lambda: window.problems.errors == 0, timeout=3000)
    assert problems_errors(window) == []
    assert train(qtbot, window).ok


# -- nothing of the previous project stays on screen ---------------------------------------------------------

def test_panels_progress_and_hints_are_empty_after_opening_another_project(window, qtbot):
    window.set_project(toy_project())
    window.training.dashboard.feature_maps.sample_box.setValue(0)
    assert train(qtbot, window).ok
    board = window.training.dashboard
    board.redraw_all()
    assert board.confusion.matrix is not None and board.gradients.layers
    assert window.training.run_bar.progress_label.text() and "left" not in window.training.run_bar.progress_label.text()
    window.teaching.hints.add_hint(type("Hint", (), {"message": "a hint of the toy run", "fix": {}})())
    board.gradients.add_hint(type("Hint", (), {"message": "a hint of the toy run"})())
    window.undo_stack.setClean()
    window.training.weights_saved = True
    assert window.open_example(resource("examples", "perceptron-and.json"))
    board.redraw_all()
    assert board.confusion.matrix is None
    assert board.gradients.layers == [] and not board.gradients.plot.listDataItems()  # no bars of the old net
    assert len(board.gradients.bars.opts["height"]) == 0
    assert board.feature_maps.source_label.text() == ""
    assert board.gradients.trainer_hints == [] and not board.gradients.notice.text()
    assert board.curves.batches["loss"].size == 0
    assert board.feature_maps.probe is None and board.histograms.data is None
    assert window.training.run_bar.progress_label.text() == "" and window.training.run_bar.progress.value() == 0
    assert window.teaching.hints.cards == []
    assert window.training.weights is None and window.training.info is None


def test_a_new_run_clears_the_previous_runs_hints(window, qtbot):
    window.set_project(toy_project())
    window.teaching.hints.add_hint(type("Hint", (), {"message": "stale advice", "fix": {}})())
    window.training.dashboard.gradients.add_hint(type("Hint", (), {"message": "stale advice"})())
    assert train(qtbot, window).ok
    assert all("stale advice" not in c.hint.message for c in window.teaching.hints.cards)
    assert "stale advice" not in window.training.dashboard.gradients.trainer_hints


# -- the canvas follows the open project --------------------------------------------------------------------

def test_the_canvas_uses_the_trained_project_model_and_falls_back(window, qtbot):
    panel = window.digit_panel
    assert "built in" in panel.model_label.text()
    project = load_project(resource("examples", "softmax-regression.json"))
    project.training.update(epochs=1, max_train_samples=600, max_test_samples=100, backend="numpy")
    window.set_project(project)
    assert "built in" in panel.model_label.text()  # not trained yet: the built-in model reads
    assert train(qtbot, window).ok
    assert "this project" in panel.model_label.text(), panel.model_label.text()
    assert panel.predictor.model.param_count() == sum(w.size for w in window.training.weights.values())
    window.show_digit_canvas()
    panel.canvas.add_stroke([(140, 40), (140, 240)], width=18)
    panel.update_prediction()
    assert panel.current_prediction is not None
    qtbot.waitUntil(lambda: window.training.dashboard.feature_maps.probe is not None, timeout=3000)
    maps = window.training.dashboard.feature_maps
    assert "this project" in maps.source_label.text()
    assert not any(k in ("Conv2D", "Pool2D") for k in maps.probe.kinds.values())  # the project's layers
    window.training.weights_saved = True
    window.undo_stack.setClean()
    window.set_project(toy_project())
    assert "built in" in panel.model_label.text()


def test_a_fix_that_changes_activations_resets_the_weights_and_shows_its_settings(window, qtbot):
    from nnstudio.training.events import Hint
    window.set_project(toy_project())
    assert train(qtbot, window).ok and window.training.weights is not None
    fix = {"nodes": {"a1": {"function": "relu"}}, "clip_norm": 1.0, "reset_weights": True}
    window.teaching.hints.add_hint(Hint("vanishing_gradients", "d1", "vanishing gradients in 'd1'", fix))
    card = window.teaching.hints.cards[0]
    qtbot.mouseClick(card.apply_button, Qt.MouseButton.LeftButton)
    assert window.project.graph.nodes["a1"].params["function"] == "relu"
    assert window.training.weights is None  # the next run starts from the fix, not the old weights
    assert "reset" in window.teaching.hints.status.text()
    assert window.training.panel.clip_norm.value() == 1.0  # every setting a fix changes is on screen
    window.undo_stack.undo()
    assert window.project.graph.nodes["a1"].params["function"] == "tanh"
    assert window.training.panel.clip_norm.value() == 0.0
