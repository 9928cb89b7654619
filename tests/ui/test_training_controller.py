"""Training inside the main window: docks and menu entries, settings as undoable project edits, a real run
with the panels filling up, continue / reset / evaluate, the NaN message, closing during a run, and a
screenshot of the dashboard (written to /tmp/train.png)."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from nnstudio.graph.project_file import Project, default_training  # noqa: E402

_spec = importlib.util.spec_from_file_location("_nnstudio_toy_network", Path(__file__).with_name("toy_network.py"))
doubles = sys.modules.setdefault("_nnstudio_toy_network", importlib.util.module_from_spec(_spec))
if not hasattr(doubles, "toy_graph"):
    _spec.loader.exec_module(doubles)

main_window = pytest.importorskip("nnstudio.ui.main_window")
from nnstudio.ui.training_controller import install_training  # noqa: E402


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "data"))
    # never block on a modal question in a headless run
    monkeypatch.setattr(main_window.QMessageBox, "question",
                        staticmethod(lambda *a, **k: main_window.QMessageBox.StandardButton.Discard))
    win = main_window.MainWindow()
    qtbot.addWidget(win)
    training = dict(default_training(), dataset="circle", learning_rate=0.05, batch_size=32, epochs=2,
                    backend="numpy")
    project = Project(name="toy", graph=doubles.toy_graph(), training=training, path=tmp_path / "toy.nnproj")
    controller = install_training(win)  # the window may have installed it already: the same one comes back
    win.set_project(project)
    win.resize(1400, 900)
    win.show()
    yield win, controller
    if controller.is_training:
        controller.stop_and_wait()
    win.undo_stack.setClean()


def run_to_end(qtbot, controller, timeout=30000):
    finished = []
    assert controller.train()
    controller.session.finished.connect(finished.append)
    qtbot.waitUntil(lambda: bool(finished), timeout=timeout)
    return finished[0]


def test_install_adds_docks_menu_and_shows_project_settings(window):
    win, controller = window
    for name in ("training", "training_curves", "training_gradients", "training_feature_maps",
                 "training_histograms", "training_boundary", "training_confusion"):
        assert name in win.docks
    texts = [a.text() for a in win.train_menu.actions()]
    assert "&Train" in texts and "&Stop" in texts
    assert controller.panel.dataset.currentData() == "circle"
    assert controller.panel.batch_size.value() == 32
    assert win.training_controller is controller and install_training(win) is controller


def test_settings_edits_are_undoable(window):
    win, controller = window
    controller.panel.epochs.setValue(7)
    assert win.project.training["epochs"] == 7
    win.undo_stack.undo()
    assert win.project.training["epochs"] == 2 and controller.panel.epochs.value() == 2
    win.undo_stack.redo()
    assert controller.panel.epochs.value() == 7


def test_hidden_panels_cost_nothing_while_training_and_show_how_the_run_ended(window, qtbot, monkeypatch):
    win, controller = window
    from nnstudio.ui import worker
    made = []
    real = worker.views.histograms
    monkeypatch.setattr(worker.views, "histograms", lambda *a, **k: made.append(1) or real(*a, **k))
    qtbot.waitUntil(lambda: controller.panel_visible("gradients"), timeout=3000)
    assert not controller.panel_visible("histograms")  # a tab behind the gradients
    run_to_end(qtbot, controller)
    board = controller.dashboard
    assert board.curves.batches["loss"].size > 0
    assert len(made) == 1  # not during the run: once, as it ended
    data = board.histograms.data
    assert data is not None and data.step == 2 * controller.info.steps_per_epoch
    controller.docks["histograms"].raise_()
    qtbot.waitUntil(lambda: not board.histograms.dirty and bool(board.histograms.curves), timeout=3000)


def test_a_panel_raised_as_a_short_run_starts_shows_its_end(window, qtbot, monkeypatch):
    """The neuron view is raised when a run on points of the plane starts, which a run of a few steps may have
    finished by then: the view still shows the run's last weights, not "appears here while it trains"."""
    win, controller = window
    win.project.training.set("epochs", 1)
    controller.docks["curves"].raise_()
    controller.docks["feature_maps"].raise_()
    assert not controller.panel_visible("neurons")
    # the window raises nothing while the run goes on: as when a run has ended before its start is shown
    monkeypatch.setattr(controller, "_started", lambda info: setattr(controller, "info", info))
    result = run_to_end(qtbot, controller)
    assert result.reason == "completed"
    neurons = controller.dashboard.neurons
    assert neurons.neurons is not None and neurons.neurons.step == controller.info.steps_per_epoch
    controller.docks["neurons"].raise_()
    qtbot.waitUntil(lambda: not neurons.dirty, timeout=3000)
    assert neurons.view.isVisible() and "while it trains" not in neurons.formula.text()


def test_train_fills_panels_saves_weights_and_continues(window, qtbot):
    win, controller = window
    for name in ("boundary", "histograms", "confusion", "neurons"):  # float the tabs behind: all visible
        controller.docks[name].setFloating(True)
    qtbot.waitUntil(lambda: all(controller.panel_visible(n) for n in controller.docks), timeout=3000)
    result = run_to_end(qtbot, controller)
    assert result.reason == "completed", result.message
    board = controller.dashboard
    board.redraw_all()
    steps = controller.info.steps_per_epoch
    assert steps == 12  # 400 points, 10% kept for validation, batches of 32
    assert len(board.curves.items["loss_raw"].xData) == 2 * steps
    assert len(board.curves.items["loss_val"].yData) == 2
    assert len(board.gradients.lines["d1"].xData) == 2 * steps
    assert board.boundary.image.image is not None and board.boundary.image.image.shape[:2] == (64, 64)
    assert board.confusion.matrix is not None and board.confusion.matrix.sum() > 0
    assert board.histograms.curves
    assert "d1" in board.feature_maps.bars
    # the neuron view got every neuron of the run's last weights: 2 inputs, 8 tanh units, 2 softmax outputs
    neurons = board.neurons.neurons
    assert neurons is not None and neurons.step == 2 * steps
    assert [nl.maps.shape[0] for nl in neurons.layers] == [8, 2] and neurons.layers[0].activation == "tanh"
    assert len(board.neurons.images) == 3 and board.neurons.images[1][0].image is not None
    # the weights are project state: the project is modified until Save writes them beside it
    weights_file = Path(win.project.path).with_name("toy.weights.npz")
    assert controller.weights is not None and not weights_file.exists()
    assert win.is_modified() and win.isWindowModified()
    assert win.save() and weights_file.is_file() and not win.is_modified()
    # Train again continues the curves
    run_to_end(qtbot, controller)
    board.redraw_all()
    assert board.curves.items["loss_raw"].xData[-1] == 4 * steps
    figures = controller.evaluate()
    assert figures is not None and figures["accuracy"] > 0.8
    assert "Test set" in controller.panel.status.text()
    controller.reset_weights()
    assert controller.weights is None and len(board.curves.batches) == 0
    assert win.is_modified() and weights_file.exists()  # a reset is an unsaved change like any other
    assert win.save() and not weights_file.exists()


def test_editing_is_refused_while_training(window, qtbot):
    win, controller = window
    win.project.training.set("epochs", 1000)
    assert controller.edit_refusal() is None
    controller.train()
    assert controller.is_training
    assert "Stop the training first" in controller.edit_refusal()
    assert not win.view.isInteractive() and not controller.actions["train"].isEnabled()
    controller.pause()
    qtbot.waitUntil(lambda: controller.actions["pause"].isChecked(), timeout=2000)
    controller.stop()
    qtbot.waitUntil(lambda: not controller.is_training, timeout=10000)
    assert controller.last_result.reason == "stopped"
    assert win.view.isInteractive() and controller.actions["train"].isEnabled()


def test_nan_is_shown_to_the_user(window, qtbot):
    win, controller = window
    win.set_project(Project(name="diverges", graph=doubles.toy_graph(softmax=False),
                            training=dict(default_training(), dataset="circle", learning_rate=10.0, optimizer="sgd",
                                          loss="mse", epochs=20, backend="numpy")))
    with np.errstate(all="ignore"):
        result = run_to_end(qtbot, controller)
    assert result.reason == "nan", result.message
    assert "loss became NaN" in controller.panel.status.text()
    assert controller.weights is None and not win.is_modified()  # a failed run never becomes the project's weights


def test_a_failed_run_keeps_the_previous_weights(window, qtbot):
    win, controller = window
    win.set_project(Project(name="regression", graph=doubles.toy_graph(softmax=False),
                            training=dict(default_training(), dataset="circle", learning_rate=0.01, loss="mse",
                                          epochs=1, backend="numpy")))
    assert run_to_end(qtbot, controller).ok
    good = {k: v.copy() for k, v in controller.weights.items()}
    win.project.training.set("learning_rate", 10.0)
    win.project.training.set("optimizer", "sgd")
    win.project.training.set("epochs", 20)
    with np.errstate(all="ignore"):
        result = run_to_end(qtbot, controller)
    assert result.reason == "nan", result.message
    assert all(np.array_equal(good[k], controller.weights[k]) for k in good)
    assert "kept" in controller.panel.status.text()


def test_step_from_idle_trains_one_batch(window, qtbot):
    win, controller = window
    controller.step()
    qtbot.waitUntil(lambda: len(controller.dashboard.curves.batches) == 1, timeout=10000)
    qtbot.wait(300)
    assert len(controller.dashboard.curves.batches) == 1 and controller.is_training
    controller.step()
    qtbot.waitUntil(lambda: len(controller.dashboard.curves.batches) == 2, timeout=10000)
    controller.stop()
    qtbot.waitUntil(lambda: not controller.is_training, timeout=10000)


def test_closing_the_window_during_training_stops_it(window, qtbot):
    win, controller = window
    win.project.training.set("epochs", 1000)
    controller.train()
    qtbot.waitUntil(lambda: len(controller.dashboard.curves.batches) > 0 or controller.info is not None, timeout=10000)
    session = controller.session
    win.undo_stack.setClean()
    win.close()
    assert not controller.is_training
    assert session.result.reason == "stopped"


def test_dashboard_screenshot_after_a_short_real_run(qtbot, tmp_path, monkeypatch):
    """The mnist-cnn example trains briefly; the window with every panel is saved to /tmp/train.png."""
    from nnstudio.graph.project_file import load_project
    from nnstudio.resources_path import resource
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "data"))
    win = main_window.MainWindow()
    qtbot.addWidget(win)
    project = load_project(resource("examples", "mnist-cnn.json"))
    project.training.update(epochs=2, max_train_samples=1500, max_test_samples=300, backend="numpy")
    controller = install_training(win)
    win.set_project(project)
    win.resize(1600, 1000)
    win.show()
    controller.docks["training"].raise_()
    finished = []
    controller.train()
    controller.session.finished.connect(finished.append)
    qtbot.waitUntil(lambda: bool(finished), timeout=120000)
    assert finished[0].reason == "completed", finished[0].message
    board = controller.dashboard
    qtbot.wait(200)
    board.redraw_all()
    assert board.feature_maps.images and board.confusion.matrix.shape == (10, 10)
    path = Path(os.environ.get("NNSTUDIO_SCREENSHOT", str(tmp_path / "train.png")))
    assert win.grab().save(str(path))
    assert path.stat().st_size > 10000
    win.undo_stack.setClean()


def _slow_captcha_project(win, monkeypatch, n_train=60, pause=0.05):
    """The captcha example with a small set, rendered here a little slowly (so the window's timer sees the
    count move), counted every 10 images."""
    import json
    import time

    from nnstudio.cli import example_paths
    from nnstudio.data import captcha_digits
    from nnstudio.graph.project_file import load_project

    monkeypatch.setattr(captcha_digits, "REPORT_EVERY", 10)
    monkeypatch.setattr(captcha_digits, "PARALLEL_MIN", 10**9)
    real = captcha_digits.render

    def slowly(*args, **kwargs):
        tick = kwargs.get("tick")
        if tick is not None:
            kwargs["tick"] = lambda done: (tick(done), time.sleep(pause))
        return real(*args, **kwargs)

    monkeypatch.setattr(captcha_digits, "render", slowly)
    data = json.loads(example_paths()["captcha-cnn"].read_text(encoding="utf-8"))
    data["training"].update(dataset_options={"n_train": n_train, "n_test": 20}, epochs=1, backend="numpy")
    copy = Path(os.environ["NNSTUDIO_DATA_DIR"]).parent / "captcha.json"
    copy.write_text(json.dumps(data), encoding="utf-8")
    win.set_project(load_project(copy))


def test_the_window_counts_the_captchas_it_makes_before_a_run(window, qtbot, monkeypatch):
    """The captcha example's first run showed "Preparing the data and the network..." for 45 s while its
    21,000 captchas were made; the status now counts them."""
    win, controller = window
    _slow_captcha_project(win, monkeypatch)
    shown: list[str] = []
    real_status = controller.panel.show_status
    monkeypatch.setattr(controller.panel, "show_status",
                        lambda text, *a, **k: (shown.append(text), real_status(text, *a, **k)))
    seen_on_bar: list[str] = []  # the run bar over the window: seen when the Training dock is scrolled away
    real_preparing = controller.run_bar.show_preparing
    monkeypatch.setattr(controller.run_bar, "show_preparing",
                        lambda done, total, text: (seen_on_bar.append(text), real_preparing(done, total, text)))
    result = run_to_end(qtbot, controller, timeout=60000)
    assert result.reason == "completed", result.message
    counts = [text for text in shown if text.startswith("Making the training captchas:")]
    assert len(set(counts)) >= 2 and counts[-1].endswith("of 60..."), shown  # it moved
    assert any(text.startswith("Making the test captchas:") for text in shown), shown
    training = [i for i, text in enumerate(shown) if text.startswith("Training on captcha")]
    assert training and shown.index(counts[0]) < training[0], shown
    assert not any(text.startswith("Making") for text in shown[training[0]:]), shown  # the run's status stays
    assert any(text.startswith("Making the training captchas:") for text in seen_on_bar), seen_on_bar


def test_stop_ends_the_making_of_a_dataset(window, qtbot, monkeypatch):
    """Stop did nothing while a first run made its captchas (45 s for the example's); now it ends it, nothing
    is trained or kept, and the next run makes them again."""
    win, controller = window
    _slow_captcha_project(win, monkeypatch, n_train=2000)
    bar_texts: list[str] = []
    real_preparing = controller.run_bar.show_preparing
    monkeypatch.setattr(controller.run_bar, "show_preparing",
                        lambda done, total, text: (bar_texts.append(text), real_preparing(done, total, text)))
    finished = []
    assert controller.train()
    controller.session.finished.connect(finished.append)
    qtbot.waitUntil(lambda: bool(bar_texts), timeout=20000)
    controller.stop()
    qtbot.waitUntil(lambda: bool(finished), timeout=20000)
    result = finished[0]
    assert result.reason == "stopped" and result.weights is None
    assert "nothing was trained" in result.message
    assert controller.weights is None and not controller.is_training
    assert controller.run_bar.progress_label.text() == ""
    assert not list((Path(os.environ["NNSTUDIO_DATA_DIR"]) / "datasets" / "captcha").glob("*.npz"))
    assert controller.panel.status.text() == "Stopped while the data was being made: nothing was trained."
    import captcha.image
    import secrets
    assert captcha.image.secrets is secrets  # the package's own randomness is put back after the interruption


def test_weights_beyond_float32_beside_a_project_are_not_loaded(window, qtbot, tmp_path):
    """A float64 1e300 is finite, so the window said "Loaded trained weights", and the next Train ended in NaN at
    its first step (it is infinite in the network)."""
    win, controller = window
    assert run_to_end(qtbot, controller).reason == "completed"
    path = tmp_path / "toy.nnproj"
    assert win.save_as(path)
    weights_file = path.with_name("toy.weights.npz")
    huge = {k: v.astype(np.float64) for k, v in controller.weights.items()}
    first = sorted(huge)[0]
    huge[first] = np.full_like(huge[first], 1e300)
    np.savez(weights_file, **huge)
    assert win.open_project(path)
    assert controller.weights is None
    assert "was not loaded" in controller.panel.status.text() and first in controller.panel.status.text()
    controller.weights = huge  # as a snapshot of the run history would hand them over
    assert not controller.train()
    assert "Cannot train from these weights" in controller.panel.status.text()
    controller.weights, controller.weights_saved = None, True


def test_a_view_that_fails_as_the_run_ends_loses_nothing(window, qtbot, monkeypatch):
    """The views made for every panel as a run ends: one that cannot be made (memory, say) is left out, and the
    run still ends completed with its weights."""
    win, controller = window
    from nnstudio.ui import worker

    def fails(*_args, **_kwargs):
        raise MemoryError("no room for the histograms")

    monkeypatch.setattr(worker.views, "histograms", fails)
    result = run_to_end(qtbot, controller)
    assert result.reason == "completed", result.message
    assert controller.weights is not None and controller.dashboard.boundary.boundary is not None


def test_a_regression_projects_loss_panel_has_no_accuracy_plot_from_its_opening(window, qtbot):
    from nnstudio.resources_path import resource
    win, controller = window
    curves = controller.dashboard.curves
    assert win.open_example(resource("examples", "linear-regression.json"))
    assert not curves.accuracy_shown
    controller.reset_weights()  # fresh weights: still a regression
    assert not curves.accuracy_shown
    assert win.open_example(resource("examples", "perceptron-and.json"))
    assert curves.accuracy_shown
