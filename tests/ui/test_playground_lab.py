"""The 2-D lab in the window: the boundary panel shows the data before training (legend, point toggles,
fitted view), marks misclassified points after a run, the data controls change the project's dataset options
as undoable edits, clicks add points, and the neuron view lays out a small network or says why it cannot."""
from __future__ import annotations

import importlib.util
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
from nnstudio.training.neuron_views import Unsupported  # noqa: E402
from nnstudio.ui.training_controller import install_training  # noqa: E402


@pytest.fixture
def lab(qtbot, tmp_path):
    win = main_window.MainWindow()
    qtbot.addWidget(win)
    training = dict(default_training(), dataset="circle", learning_rate=0.05, batch_size=32, epochs=2,
                    backend="numpy", dataset_options={"points": 300, "train_ratio": 0.5})
    project = Project(name="toy", graph=doubles.toy_graph(), training=training, path=tmp_path / "toy.nnproj")
    controller = install_training(win)
    win.set_project(project)
    win.resize(1400, 900)
    win.show()
    controller.docks["boundary"].setFloating(True)  # in sight, whatever tab is in front
    controller.docks["boundary"].resize(900, 600)
    yield win, controller
    if controller.is_training:
        controller.stop_and_wait()
    win.undo_stack.setClean()


def test_data_shows_before_training_with_legend_toggles_and_a_fitted_view(lab, qtbot):
    win, controller = lab
    panel = controller.dashboard.boundary
    assert controller.info is None  # no run yet
    assert len(panel.train_points.data) == 150 and len(panel.test_points.data) == 150
    legend = " ".join(label.text() for label in panel.legend_labels if not label.isHidden())
    assert "class 0" in legend and "class 1" in legend and "wrong" in legend
    (x0, x1), (y0, y1) = panel.plot.getViewBox().viewRange()
    assert -1.6 < x0 < -0.8 and 0.8 < x1 < 1.6 and -1.6 < y0 < -0.8 and 0.8 < y1 < 1.6  # circle data in [-1, 1]
    panel.show_test.setChecked(False)
    assert len(panel.test_points.data) == 0 and len(panel.train_points.data) == 150
    panel.show_train.setChecked(False)
    assert len(panel.train_points.data) == 0
    panel.show_train.setChecked(True)
    panel.show_test.setChecked(True)
    assert len(panel.test_points.data) == 150


def test_a_run_marks_misclassified_points_and_ends_with_its_boundary(lab, qtbot):
    win, controller = lab
    panel = controller.dashboard.boundary
    finished = []
    assert controller.train()
    controller.session.finished.connect(finished.append)
    qtbot.waitUntil(lambda: bool(finished), timeout=30000)
    assert finished[0].reason == "completed"
    controller.dashboard.redraw_all()
    boundary = panel.boundary
    assert boundary is not None and boundary.point_predictions is not None
    assert boundary.step == 2 * controller.info.steps_per_epoch  # the final boundary, past its throttle
    data = panel.data
    truth = np.concatenate([data["y_train"], data["y_test"]])
    wrong = boundary.point_predictions != truth
    assert len(panel.wrong.data) == int(wrong.sum())
    np.testing.assert_allclose(np.sort(panel.wrong_points()[:, 0]),
                               np.sort(np.concatenate([data["x_train"], data["x_test"]])[wrong][:, 0]))
    assert panel.epoch_label.text() == "Epoch 2 / 2"
    panel.show_test.setChecked(False)  # the crosses follow the toggles
    assert len(panel.wrong.data) == int(wrong[:len(data["x_train"])].sum())


def test_data_controls_edit_the_projects_options_and_undo(lab, qtbot):
    win, controller = lab
    controls = controller.data_controls
    project = win.project
    assert controls.active and controls.points.value() == 300 and controls.ratio.value() == 50
    controls.points.setValue(400)
    assert project.training["dataset_options"] == {"points": 400, "train_ratio": 0.5}
    panel = controller.dashboard.boundary
    assert len(panel.train_points.data) == 200  # the plane follows at once
    controls.noise.setValue(20)  # of 100 steps up to 0.5
    assert project.training["dataset_options"]["noise"] == pytest.approx(0.1)
    controls.ratio.setValue(80)
    assert project.training["dataset_options"]["train_ratio"] == pytest.approx(0.8)
    assert len(panel.train_points.data) == 320
    controls.new_sample()
    assert project.training["dataset_options"]["seed"] == 1
    win.undo_stack.undo()  # seed
    win.undo_stack.undo()  # ratio
    assert "seed" not in project.training["dataset_options"]
    assert project.training["dataset_options"]["train_ratio"] == 0.5 and controls.ratio.value() == 50
    assert len(panel.train_points.data) == 200
    # Another set: one undo step takes back the set and its options together.
    controls.buttons["moons"].click()
    assert project.training["dataset"] == "moons"
    assert project.training["dataset_options"] == {"points": 400, "train_ratio": 0.5}
    win.undo_stack.undo()
    assert project.training["dataset"] == "circle" and project.training["dataset_options"]["noise"] == pytest.approx(0.1)


def test_clicks_add_points_of_the_chosen_class(lab, qtbot):
    win, controller = lab
    controls, panel, project = controller.data_controls, controller.dashboard.boundary, win.project
    assert not panel.adding
    controls.add_button.setChecked(True)
    assert panel.adding
    controls.add_class.setCurrentIndex(1)
    panel.plane_clicked.emit(0.25, -0.5)
    assert project.training["dataset_options"]["added_points"] == [[0.25, -0.5, 1.0]]
    assert len(panel.train_points.data) == 151  # the added point is a training point on the plane
    controls.remove_added()
    assert "added_points" not in project.training["dataset_options"]
    win.undo_stack.undo()
    assert project.training["dataset_options"]["added_points"] == [[0.25, -0.5, 1.0]]
    controls.add_button.setChecked(False)
    assert not panel.adding


def test_controls_show_only_for_two_d_sets(lab, qtbot):
    win, controller = lab
    controller.edit_setting("dataset", "mnist")
    assert not controller.data_controls.active and controller.dashboard.boundary.data is None
    assert controller.dashboard.boundary.side_button.isHidden()
    win.undo_stack.undo()
    assert controller.data_controls.active and controller.dashboard.boundary.data is not None
    controller.edit_setting("dataset", "xor")  # the truth table (half of the 300 points): no controls, points show
    assert not controller.data_controls.active and len(controller.dashboard.boundary.train_points.data) == 150


def test_neuron_view_explains_a_network_it_cannot_lay_out(qtbot):
    from nnstudio.ui.panels.neuron_view import NeuronViewPanel
    panel = NeuronViewPanel()
    qtbot.addWidget(panel)
    panel.set_neurons(Unsupported("too_wide", {"most": 8, "node": "dense1", "found": 32}))
    panel.redraw()
    # Said once, wrapped in full, where the plane would be (no empty white plane, no second, cut-off caption).
    assert panel.formula.text() == "The neuron view shows up to 8 neurons per layer; 'dense1' has 32."
    assert panel.view.isHidden() and not panel.title_label.text()
    assert panel.images == []


def test_neuron_view_draws_each_neuron_and_shows_its_formula_under_the_mouse(qtbot):
    from PySide6.QtCore import QPointF

    from nnstudio.graph.compile import compile_graph
    from nnstudio.training.neuron_views import neuron_view
    from nnstudio.ui.panels.neuron_view import NeuronViewPanel, tile_origin
    model = compile_graph(doubles.toy_graph(), "numpy", seed=0)
    model.build((2,), np, seed=0)
    view = neuron_view(model, (-1.0, 1.0, -1.0, 1.0), step=5, grid=8)
    panel = NeuronViewPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 500)
    panel.show()
    panel.set_neurons(view)
    panel.redraw()
    assert [len(c) for c in panel.images] == [2, 8, 2]
    assert panel.images[1][3].image.shape == (8, 8, 3)
    assert len(panel.wires.lines) == 2 * 8 + 8 * 2
    widest = max(w for *_, w in panel.wires.lines)
    strongest = max(np.abs(model.layer("d1").params["W"]).max(), np.abs(model.layer("d2").params["W"]).max())
    assert widest == pytest.approx(0.5 + 5.5 * 1.0) and strongest > 0  # the largest weight is the thickest wire
    x, y = tile_origin(1, 3, 8)
    scene = panel.box.mapViewToScene(QPointF(x + 0.99, y + 0.01))  # the lower right of neuron 4 in d1
    column, unit, px, py = panel.neuron_at(scene)
    assert (column, unit) == (1, 3) and px == pytest.approx(0.98, abs=0.01) and py == pytest.approx(-0.98, abs=0.01)
    panel._mouse_moved(scene)
    text = panel.formula.text()
    assert text.startswith("At (x1, x2) = (0.98, -0.98): d1[4]") and "·x1" in text and "\ntanh(" in text
    assert panel.neuron_at(panel.box.mapViewToScene(QPointF(x + 1.5, y))) is None  # between the columns


def test_neuron_labels_are_left_out_where_they_would_run_into_each_other(qtbot):
    """mlp-xor's neuron view at 1024x768 drew "x1" over "x2" and the layers' names over each other; a big panel
    keeps them all."""
    from PySide6.QtGui import QFont, QFontMetrics

    from nnstudio.graph.compile import compile_graph
    from nnstudio.training.neuron_views import neuron_view
    from nnstudio.ui.panels.neuron_view import NeuronViewPanel
    model = compile_graph(doubles.toy_graph(), "numpy", seed=0)
    model.build((2,), np, seed=0)
    panel = NeuronViewPanel()
    qtbot.addWidget(panel)
    panel.show()
    panel.set_neurons(neuron_view(model, (-1.0, 1.0, -1.0, 1.0), step=5, grid=8))
    font = QFont()
    font.setPixelSize(11)
    metrics = QFontMetrics(font)
    shown = {}
    for size in ((700, 500), (260, 110)):
        panel.resize(*size)
        qtbot.wait(50)
        panel.redraw()
        qtbot.wait(50)
        labels = panel.wires.shown_labels(panel.wires.deviceTransform(panel.view.viewportTransform()), metrics)
        shown[size] = [text for _, text, _ in labels]
    assert len(shown[(700, 500)]) == len(panel.wires.labels) == 2 + 2  # x1, x2 and the two layers
    assert shown[(260, 110)] == []


def test_a_real_click_on_the_plane_adds_the_point_under_the_mouse(lab, qtbot):
    from PySide6.QtCore import QPoint, QPointF, Qt
    win, controller = lab
    controls, panel, project = controller.data_controls, controller.dashboard.boundary, win.project
    controls.add_button.setChecked(True)
    vb = panel.plot.getViewBox()
    scene = vb.mapViewToScene(QPointF(0.5, 0.25))
    pixel = panel.view.mapFromScene(scene)
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pixel.x(), pixel.y()))
    added = project.training["dataset_options"].get("added_points")
    assert added is not None and len(added) == 1
    x, y, label = added[0]
    assert abs(x - 0.5) < 0.05 and abs(y - 0.25) < 0.05 and label == 0.0
    controls.add_button.setChecked(False)
    qtbot.mouseClick(panel.view.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(pixel.x(), pixel.y()))
    assert len(project.training["dataset_options"]["added_points"]) == 1  # clicks add only while asked to


def test_the_lab_follows_a_language_switch(lab, qtbot):
    from nnstudio.ui import i18n
    win, controller = lab
    panel, controls = controller.dashboard.boundary, controller.data_controls
    try:
        i18n.set_language("zh")
        assert panel.show_train.text() == "● 训练" and panel.side_button.text() == "数据"
        assert controls.regenerate.text() == "重新生成" and "类别 0" in " ".join(l.text() for l in panel.legend_labels)
        assert controls.set_title.text() == "圆形"
    finally:
        i18n.set_language("en")
    assert panel.show_train.text() == "● Training" and controls.regenerate.text() == "Regenerate"


def test_data_options_save_with_the_project(lab, qtbot):
    from nnstudio.graph.project_file import load_project
    win, controller = lab
    controller.data_controls.points.setValue(250)
    controller.data_controls.new_sample()
    assert win.save()
    saved = load_project(win.project.path).training["dataset_options"]
    assert saved == {"points": 250, "train_ratio": 0.5, "seed": 1}


def test_no_epoch_counter_over_an_empty_plane(qtbot):
    from types import SimpleNamespace

    from nnstudio.ui.panels.boundary import BoundaryPanel
    panel = BoundaryPanel()
    qtbot.addWidget(panel)
    panel.begin_run(SimpleNamespace(points=None, data=None, epochs=12))  # an image dataset: no plane
    panel.add_batches([SimpleNamespace(epoch=3)])
    assert panel.epoch_label.isHidden()
