"""The window trains on the GPU backend: every panel, the evaluation and the drawing canvas work from a run on
device arrays (a stand-in for CuPy, see tests/fake_cupy.py) and agree with the same run on NumPy."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from tests.conftest import fake_cupy_module  # noqa: E402

fake_cupy = fake_cupy_module()

main_window = pytest.importorskip("nnstudio.ui.main_window")
from nnstudio.graph.project_file import load_project  # noqa: E402
from nnstudio.resources_path import resource  # noqa: E402
from nnstudio.ui.training_controller import install_training  # noqa: E402


def _train(qtbot, tmp_path, monkeypatch, example, backend, **training):
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(main_window.QMessageBox, "question",
                        staticmethod(lambda *a, **k: main_window.QMessageBox.StandardButton.Discard))
    win = main_window.MainWindow()
    qtbot.addWidget(win)
    project = load_project(resource("examples", f"{example}.json"))
    project.training.update(backend=backend, **training)
    controller = install_training(win)
    win.set_project(project)
    win.resize(1400, 900)
    win.show()
    for name in controller.docks:  # every panel visible, so every panel asks for its data
        controller.docks[name].setFloating(True)
    qtbot.waitUntil(lambda: all(controller.panel_visible(n) for n in controller.docks), timeout=3000)
    finished = []
    assert controller.train()
    controller.session.finished.connect(finished.append)
    qtbot.waitUntil(lambda: bool(finished), timeout=120000)
    controller.dashboard.redraw_all()
    return win, controller, finished[0]


def _snapshot(controller) -> dict:
    board = controller.dashboard
    figures = controller.evaluate()
    return {
        "loss": np.array(board.curves.items["loss_raw"].yData, dtype=float),
        "gradients": {k: np.array(line.yData, dtype=float) for k, line in board.gradients.lines.items()},
        "confusion": None if board.confusion.matrix is None else np.array(board.confusion.matrix),
        "maps": {k: np.array(item.image, dtype=float) for k, item in board.feature_maps.images.items()
                 if item.image is not None},
        "figures": figures,
    }


@pytest.mark.parametrize("example, training", [
    ("mnist-cnn", dict(epochs=1, max_train_samples=640, max_test_samples=200)),
    ("playground-features", dict(epochs=2)),
])
def test_the_window_trains_on_the_device_as_on_numpy(qtbot, tmp_path, monkeypatch, example, training):
    seen = {}
    with fake_cupy.installed():  # which also checks no NumPy function was handed a device array
        for name in ("numpy", "cupy"):
            win, controller, result = _train(qtbot, tmp_path / name, monkeypatch, example, name, **training)
            assert result.reason == "completed", result.message
            assert controller.info.backend.startswith("CuPy · Stand-in GPU" if name == "cupy" else "NumPy")
            board = controller.dashboard
            if example == "playground-features":  # the 2-D panels: the decision boundary and every neuron's map
                boundary = np.array(board.boundary.image.image, dtype=float)
                neurons = [np.array(layer.maps) for layer in board.neurons.neurons.layers]
            seen[name] = _snapshot(controller)
            if example == "mnist-cnn":  # the drawing canvas predicts with the weights just trained
                win.show_digit_canvas()
                panel = win.digit_panel
                panel.canvas.add_stroke([(140, 40), (140, 240)], width=18)
                panel.update_prediction()
                assert "this project" in panel.predictor.name
                seen[name]["drawn"] = np.array(panel.current_prediction.probabilities)
            if example == "playground-features":
                seen[name].update(boundary=boundary, neurons=neurons)
            win.undo_stack.setClean()
            win.close()
    host, device = seen["numpy"], seen["cupy"]
    assert len(device["loss"]) == len(host["loss"]) > 0
    np.testing.assert_allclose(device["loss"], host["loss"], rtol=1e-4)
    assert device["gradients"].keys() == host["gradients"].keys() and host["gradients"]
    for key, values in host["gradients"].items():
        np.testing.assert_allclose(device["gradients"][key], values, rtol=1e-3, err_msg=key)
    np.testing.assert_array_equal(device["confusion"], host["confusion"])
    assert device["maps"].keys() == host["maps"].keys()
    if example == "mnist-cnn":
        assert host["maps"]
    for key, image in host["maps"].items():
        np.testing.assert_allclose(device["maps"][key], image, rtol=1e-3, atol=1e-3, err_msg=key)
    assert device["figures"]["accuracy"] == host["figures"]["accuracy"]
    assert device["figures"]["loss"] == pytest.approx(host["figures"]["loss"], rel=1e-4)
    if example == "mnist-cnn":
        np.testing.assert_allclose(device["drawn"], host["drawn"], rtol=1e-4, atol=1e-6)
    if example == "playground-features":
        np.testing.assert_allclose(device["boundary"], host["boundary"], atol=1e-4)
        for mine, theirs in zip(device["neurons"], host["neurons"]):
            np.testing.assert_allclose(mine, theirs, atol=1e-4)
