"""The drawing page explains itself: a live map of what made it say the digit, and "not sure" for non-digits."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nnstudio.graph.project_file import Project  # noqa: E402
from nnstudio.predictor import DigitPredictor, default_predictor  # noqa: E402
from nnstudio.ui.digit_panel import DigitPanel  # noqa: E402
from tests.test_profile import lenet5  # noqa: E402


@pytest.fixture(autouse=True)
def user_data(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def panel(qtbot) -> DigitPanel:
    widget = DigitPanel(DigitPredictor(default_predictor().model, name="shipped"))
    qtbot.addWidget(widget)
    widget.show()
    return widget


SEVEN = [(70, 60), (210, 60), (120, 240)]


def test_a_drawn_seven_is_read_and_explained(panel) -> None:
    panel.canvas.add_stroke(SEVEN)
    panel.update_prediction()
    assert panel.current_prediction.top == 7
    assert panel.verdict.sure
    assert panel.top_label.text() == "7"
    assert panel.confidence_label.text().endswith("sure") and "Not" not in panel.confidence_label.text()
    view = panel.explanation
    assert view.map.has_map and view.caption.text() == "What made it say 7"
    assert view.method == "gradcam"  # the shipped LeNet has a Conv2D
    view.method_combo.setCurrentIndex(1)
    assert view.method == "saliency" and view.map.has_map


def test_a_scribble_and_a_dot_are_not_sure_and_clearing_empties_the_map(panel, qtbot) -> None:
    panel.canvas.add_stroke([(30, 40), (250, 220), (40, 230), (230, 30), (140, 250), (60, 120)])
    panel.update_prediction()
    # The comparison with training digits is computed in the background; the page judges again once it is ready
    qtbot.waitUntil(lambda: panel.explanation.doubt.ready, timeout=20_000)
    qtbot.waitUntil(lambda: panel.verdict is not None and not panel.verdict.sure, timeout=2_000)
    assert panel.top_label.text() == "?"
    assert panel.confidence_label.text().startswith("Not sure: this does not look like a digit")
    assert panel.bars.values is not None  # the network's answer is still shown
    panel.canvas.clear()
    panel.canvas.add_stroke([(140, 140), (146, 146)])
    panel.update_prediction()
    assert panel.confidence_label.text() == "Not sure: too small to read"
    panel.canvas.clear()
    panel.update_prediction()
    assert panel.verdict is None and not panel.explanation.map.has_map
    assert panel.confidence_label.text() == "Draw a digit"


def test_a_network_without_convolutions_gets_saliency(panel) -> None:
    from nnstudio.graph.compile import compile_graph
    from nnstudio.graph.document import Graph

    g = Graph()
    g.add_node("Input", {"shape": [784]}, node_id="input")
    g.add_node("Dense", {"units": 10}, node_id="dense")
    g.add_node("Activation", {"function": "softmax"}, node_id="softmax")
    g.connect("input", "dense")
    g.connect("dense", "softmax")
    panel.set_model(compile_graph(g, "numpy", seed=0), name="mlp")
    assert panel.explanation.method == "saliency"
    panel.canvas.add_stroke(SEVEN)
    panel.update_prediction()
    assert panel.explanation.map.has_map
    assert np.isfinite(panel.bars.values).all()


def test_the_feature_map_panel_shows_why_beside_the_input(qtbot) -> None:
    from nnstudio.training.views import probe
    from nnstudio.ui.panels.feature_maps import FeatureMapPanel

    panel = FeatureMapPanel()
    qtbot.addWidget(panel)
    model = default_predictor().model
    sample = np.zeros((1, 28, 28), np.float32)
    sample[0, 6:22, 13:16] = 1.0  # a "1"
    panel.set_probe(probe(model, sample, step=1))
    panel.redraw()
    assert "__why__" in panel.plots and panel.why_method == "gradcam"
    assert panel.why_image.image.shape == (28, 28)


def test_the_drawing_reaches_the_feature_maps_with_its_why_map(window) -> None:
    window.show_digit_canvas()
    window.digit_panel.canvas.add_stroke(SEVEN)
    window.digit_panel.update_prediction()
    probe = window.training.dashboard.feature_maps.probe
    assert probe is not None and probe.why_method == "gradcam"
    np.testing.assert_array_equal(probe.why, window.digit_panel.explanation.last_map)


def test_confusion_samples_show_why_with_the_project_network(window, qtbot) -> None:
    from nnstudio.graph.compile import compile_graph
    from nnstudio.graph.project_file import Project
    from nnstudio.ui.panels.confusion import SamplesDialog
    from tests.test_profile import lenet5

    window.set_project(Project(name="LeNet-5", graph=lenet5()))
    explainer = window.training.dashboard.confusion.explainer
    samples = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    assert explainer(samples) is None  # no trained weights yet
    window.training.weights = compile_graph(window.graph, "numpy", seed=1).state_dict()
    maps, method = explainer(samples)
    assert method == "gradcam" and maps.shape == (3, 28, 28)
    dialog = SamplesDialog("True 1, predicted 7", samples, ["#1", "#2", "#3"], None, explainer)
    qtbot.addWidget(dialog)
    plain = dialog.list.item(0).icon().pixmap(56, 56).toImage()
    dialog.why_box.setChecked(True)
    assert dialog.why_box.isChecked()
    assert dialog.list.item(0).icon().pixmap(56, 56).toImage() != plain  # coloured by the map
    dialog.why_box.setChecked(False)
    assert dialog.list.item(0).icon().pixmap(56, 56).toImage() == plain


def test_the_drawing_page_opens_with_its_canvas_verdict_and_map_in_view_at_1024x768(window, qtbot) -> None:
    """Docked under the inspector and training panels the page got about 110 pixels of height, the canvas and
    the verdict scrolled out of sight; it opens as its own window of the size it needs instead."""
    window.resize(1024, 768)
    window.set_project(Project(name="LeNet-5", graph=lenet5()))
    qtbot.wait(50)
    window.show_digit_canvas()
    qtbot.wait(50)
    panel = window.digit_panel
    dock = window.docks["draw_digit"]
    assert dock.isVisible()
    assert panel.canvas.visibleRegion().boundingRect().size() == panel.canvas.size()
    for widget in (panel.confidence_label, panel.top_label, panel.explanation):
        assert not widget.visibleRegion().isEmpty(), widget
    screen = window.screen().availableGeometry()
    assert screen.contains(dock.frameGeometry()), (dock.frameGeometry(), screen)
    # Asked again (the toolbar, the start page), it stays where the user left it
    dock.move(dock.x() + 5, dock.y())
    where = dock.pos()
    window.show_digit_canvas()
    assert dock.pos() == where


def test_the_view_menu_opens_the_digit_page_with_room_too(window, qtbot) -> None:
    """View > Panels > Draw a digit is the way in after training an MNIST network: it only showed the dock, in the
    right-hand column, about 100 pixels high with the canvas scrolled out of sight."""
    window.resize(1024, 768)
    window.set_project(Project(name="LeNet-5", graph=lenet5()))
    qtbot.wait(50)
    action = window.docks["draw_digit"].toggleViewAction()
    assert action in window.panels_menu.actions() and not action.isChecked()
    action.trigger()
    qtbot.wait(50)
    panel = window.digit_panel
    assert window.docks["draw_digit"].isVisible()
    assert panel.canvas.visibleRegion().boundingRect().size() == panel.canvas.size()
    action.trigger()  # and the same entry hides it again
    assert not window.docks["draw_digit"].isVisible()


def test_the_pen_width_slider_can_be_grabbed_in_english_and_chinese(qtbot) -> None:
    from nnstudio.ui.i18n import set_language
    for language in ("en", "zh"):
        set_language(language)
        try:
            widget = DigitPanel(DigitPredictor(default_predictor().model, name="shipped"))
            qtbot.addWidget(widget)
            widget.resize(widget.minimumSizeHint())
            widget.show()
            qtbot.wait(20)
            assert widget.width_slider.width() >= 60, (language, widget.width_slider.width())
        finally:
            set_language("en")
