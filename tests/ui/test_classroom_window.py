"""A window that fits a projector: the run bar always in sight, the Train menu telling the run's state, a
playback speed and step-one-epoch, a layout that never grows the window, View > Reset layout, and a mouse
wheel that scrolls instead of changing values."""
from __future__ import annotations

import importlib.util
import sys
import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QDockWidget, QWidget

from nnstudio.graph.project_file import Project, default_training
from nnstudio.resources_path import resource
from nnstudio.ui.worker import RunControl

_spec = importlib.util.spec_from_file_location("_nnstudio_toy_network", Path(__file__).with_name("toy_network.py"))
toy = sys.modules.setdefault("_nnstudio_toy_network", importlib.util.module_from_spec(_spec))
if not hasattr(toy, "toy_graph"):
    _spec.loader.exec_module(toy)

SIZES = [(1024, 768), (1920, 1080)]


def toy_project(**training) -> Project:
    return Project(name="toy", graph=toy.toy_graph(),
                   training=dict(default_training(), **{**toy.SETTINGS, "epochs": 2, **training}))


def inside(widget: QWidget, window: QWidget) -> bool:
    top_left = widget.mapTo(window, QPoint(0, 0))
    return (top_left.x() >= 0 and top_left.y() >= 0 and top_left.x() + widget.width() <= window.width()
            and top_left.y() + widget.height() <= window.height())


def train_to_end(qtbot, window) -> object:
    done = []
    assert window.training.train(), window.training.panel.status.text()
    window.training.session.finished.connect(done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=60000)
    return done[0]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_controls_are_visible_and_the_window_never_grows(window, qtbot, monkeypatch, size, lang):
    from nnstudio.ui.i18n import set_language
    set_language(lang)
    try:
        window.resize(*size)
        qtbot.wait(50)
        before = window.size()
        assert before.width() <= size[0] and before.height() <= size[1]
        bar = window.training.run_bar
        assert bar.isVisible() and inside(bar, window)
        for key in ("train", "pause", "stop", "step", "step_epoch"):
            button = bar.widgetForAction(window.training.actions[key])
            assert button is not None and button.isVisible() and inside(button, window), key
        assert inside(bar.progress, window)
        assert window.open_example(resource("examples", "playground-spiral.json"))
        window.project.training.set("epochs", 2)
        assert train_to_end(qtbot, window).ok
        window.show_digit_canvas()
        window.teaching.hints.add_hint(type("Hint", (), {"message": "a long hint " * 30, "fix": {}})())
        window.teaching._show_dock("hints")
        window.training.dashboard.gradients.show_notice("a long notice that must wrap, not widen " * 10)
        qtbot.wait(100)
        QApplication.processEvents()
        assert window.size() == before, (window.size(), before)
        for dock in window.findChildren(QDockWidget):
            if dock.isVisible() and not dock.isFloating():
                assert dock.width() <= window.width() and dock.height() <= window.height(), dock.objectName()
        window.training.weights_saved = True
        window.undo_stack.setClean()
    finally:
        set_language("en")


def test_the_train_menu_and_run_bar_follow_the_run(window, qtbot):
    window.set_project(toy_project(epochs=2000))
    actions = window.training.actions
    assert actions["train"].isEnabled() and not actions["pause"].isEnabled() and not actions["stop"].isEnabled()
    assert window.training.train()
    assert not actions["train"].isEnabled() and actions["pause"].isEnabled() and actions["stop"].isEnabled()
    qtbot.waitUntil(lambda: "left" in window.training.run_bar.progress_label.text(), timeout=20000)
    actions["pause"].trigger()
    qtbot.waitUntil(lambda: actions["pause"].isChecked(), timeout=3000)
    assert "Resume" in actions["pause"].text() and actions["step"].isEnabled()
    actions["pause"].trigger()
    qtbot.waitUntil(lambda: not actions["pause"].isChecked(), timeout=3000)
    assert "Pause" in actions["pause"].text() and not actions["step"].isEnabled()
    actions["stop"].trigger()
    qtbot.waitUntil(lambda: not window.training.is_training, timeout=20000)
    text = window.training.run_bar.progress_label.text()
    assert text and "left" not in text  # no time left once the run has stopped
    assert actions["train"].isEnabled() and not actions["stop"].isEnabled()
    window.training.weights_saved = True


def test_step_one_epoch_trains_exactly_one_epoch_then_pauses(window, qtbot):
    window.set_project(toy_project(epochs=50))
    batches = []
    window.training.step_epoch()
    window.training.session.batches.connect(batches.extend)
    qtbot.waitUntil(lambda: window.training.info is not None, timeout=20000)
    steps = window.training.info.steps_per_epoch
    qtbot.waitUntil(lambda: len(batches) >= steps, timeout=20000)
    qtbot.wait(400)
    assert len(batches) == steps and batches[-1].epoch == 1 and window.training.session.is_paused
    window.training.step_epoch()
    qtbot.waitUntil(lambda: len(batches) >= 2 * steps, timeout=20000)
    qtbot.wait(400)
    assert len(batches) == 2 * steps and batches[-1].epoch == 2
    window.training.stop()
    qtbot.waitUntil(lambda: not window.training.is_training, timeout=20000)
    window.training.weights_saved = True


def test_playback_holds_each_batch_for_its_share_of_the_epoch():
    control = RunControl(False, set(), 0, None, epoch_seconds=0.5)
    started = time.perf_counter()
    control.wait_after(True, False, steps_per_epoch=5, batch_seconds=0.0)
    assert time.perf_counter() - started >= 0.09  # 0.5 s per epoch over 5 batches: 0.1 s each
    control.set_playback(0.0)
    started = time.perf_counter()
    for _ in range(100):
        control.wait_after(True, False, steps_per_epoch=5, batch_seconds=0.0)
    assert time.perf_counter() - started < 0.5  # full speed holds nothing (a generous bound)
    control.set_playback(30.0)
    threading.Timer(0.05, control.stop).start()
    started = time.perf_counter()
    control.wait_after(True, False, steps_per_epoch=1, batch_seconds=0.0)
    assert time.perf_counter() - started < 2.0  # Stop ends the hold early (a hold lasts up to 5 s)


def test_the_speed_choice_reaches_a_running_session(window, qtbot):
    window.set_project(toy_project(epochs=2000))
    assert window.training.train()
    bar = window.training.run_bar
    bar.speed.setCurrentIndex(bar.speed.count() - 1)
    assert window.training.session.control.epoch_seconds == bar.speed_seconds() > 0
    window.training.stop()
    qtbot.waitUntil(lambda: not window.training.is_training, timeout=20000)
    window.training.weights_saved = True


def test_reset_layout_brings_hidden_panels_back(window, qtbot):
    window.docks["palette"].hide()
    window.docks["training_curves"].hide()
    window.reset_layout()
    qtbot.wait(50)
    assert window.docks["palette"].isVisible() and window.docks["training_curves"].isVisible()
    assert window.act_reset_layout in window.view_menu.actions()


def test_the_wheel_scrolls_the_panel_instead_of_changing_an_unfocused_box(window, qtbot):
    window.set_project(toy_project())
    window.docks["training"].show()
    window.docks["training"].raise_()
    qtbot.wait(50)
    panel = window.training.panel
    box = panel.optimizer
    before = box.currentData()
    center = QPointF(box.width() / 2, box.height() / 2)
    event = QWheelEvent(center, box.mapToGlobal(center), QPoint(0, 0), QPoint(0, -120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(box, event)
    assert box.currentData() == before and window.project.training["optimizer"] == before
    spin = panel.learning_rate
    value = spin.value()
    QApplication.sendEvent(spin, QWheelEvent(center, spin.mapToGlobal(center), QPoint(0, 0), QPoint(0, -120),
                                             Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                                             Qt.ScrollPhase.NoScrollPhase, False))
    assert spin.value() == value


def test_no_leftover_tab_bar_floats_over_the_panels(window, qtbot):
    from PySide6.QtWidgets import QTabBar
    for size in ((1024, 738), (1920, 1050), (1280, 800)):
        window.resize(*size)
        qtbot.wait(100)
        bars = [b for b in window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly)
                if b.isVisible() and b.geometry().intersects(window.rect())]  # Qt parks unused ones outside
        groups = [tuple(b.tabText(i) for i in range(b.count())) for b in bars]
        assert len(groups) == len(set(groups)), groups  # one tab bar per tabbed group of docks
        for bar in bars:
            assert bar.geometry().bottom() <= window.height(), bar.geometry()


def test_fit_to_view_keeps_node_text_readable(window, qtbot):
    from nnstudio.ui.editor.view import FIT_MIN_ZOOM
    window.resize(1024, 738)
    assert window.open_example(resource("examples", "mnist-cnn.json"))
    qtbot.wait(50)
    window.view.fit_all()
    assert window.view.zoom() >= FIT_MIN_ZOOM - 1e-6
    first = window.scene.node_items["input"]  # the start of the network is in sight
    visible = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
    assert visible.intersects(first.sceneBoundingRect())


def test_the_fitted_network_stays_in_sight_when_the_view_is_resized(window, qtbot):
    # Docks that open or close after a project opens resize the canvas: the fit follows (the start of a big
    # network stays whole in sight) until the person zooms or pans, whose choice a resize then keeps.
    window.resize(1024, 738)
    assert window.open_example(resource("examples", "playground-spiral.json"))
    qtbot.wait(50)
    view = window.view
    for width, height in ((700, 500), (420, 240), (600, 300)):
        view.resize(width, height)
        qtbot.wait(10)
        visible = view.mapToScene(view.viewport().rect()).boundingRect()
        first = window.scene.node_items["input"].sceneBoundingRect()
        assert visible.contains(first), (width, height, visible, first)
    view.zoom_by(1.5)
    zoom = view.zoom()
    view.resize(500, 400)
    qtbot.wait(10)
    assert abs(view.zoom() - zoom) < 1e-9 and not view.auto_fit


def test_the_panels_in_front_speak_about_the_open_project(window, qtbot):
    # An MNIST network opens with the loss curves in front, not an empty decision boundary; a set of points
    # of the plane opens with its boundary panel (its data show before training), whatever was in front.
    window.resize(1024, 738)
    docks = window.training.docks
    for example, front, behind in (("mnist-cnn", "curves", "boundary"), ("playground-spiral", "boundary", "curves"),
                                   ("mnist-mlp", "curves", "boundary")):
        assert window.open_example(resource("examples", f"{example}.json"))
        qtbot.wait(20)
        assert not docks[front].visibleRegion().isEmpty(), example
        assert docks[behind].visibleRegion().isEmpty(), example


def test_a_first_start_fits_the_screen_and_lays_the_panels_out_for_it(qtbot):
    """On a screen smaller than the usual 1440 x 900 (a projector), the first window fits the screen's available
    area; and when it first shows the start page, the panels get their share of its height once a project opens
    (they used to come back in the layout from before the window was sized: about 200 of 720 pixels)."""
    from nnstudio.ui.main_window import FIRST_SIZE, FRAME_ROOM, MainWindow
    win = MainWindow()
    qtbot.addWidget(win)
    area = win.screen().availableGeometry()
    least = win.minimumSize()  # what the window keeps to (the offscreen screen is 800 x 800)
    assert win.width() <= max(area.width() - FRAME_ROOM[0], least.width())
    assert win.height() <= max(area.height() - FRAME_ROOM[1], least.height())
    assert area.width() < FIRST_SIZE[0] or win.width() == FIRST_SIZE[0]  # the offscreen screen is smaller
    win.show()
    qtbot.waitExposed(win)
    assert win.stack.currentWidget() is win.start_page
    qtbot.wait(50)
    assert win.open_example(resource("examples", "perceptron-xor.json"))
    curves = win.training.docks["boundary"]
    qtbot.waitUntil(lambda: curves.height() >= 0.35 * win.height(), timeout=3000)


def test_a_short_window_gives_the_inspector_the_column_when_a_block_is_selected(qtbot):
    """At 1024x768 the Inspector and the Training panel shared about 270 pixels: a selected Dense showed its
    title and no parameter.  In a short window they are tabs of one column (the History under Problems), and
    selecting a block brings the Inspector to the front."""
    from nnstudio.ui.main_window import MainWindow
    from nnstudio.ui.training_controller import SHORT_WINDOW
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert win.height() < SHORT_WINDOW  # the offscreen screen is 800 pixels high
    assert win.open_example(resource("examples", "mnist-mlp.json"))
    docks = win.docks
    qtbot.waitUntil(lambda: docks["training"] in win.tabifiedDockWidgets(docks["inspector"]), timeout=3000)
    assert docks["history"] in win.tabifiedDockWidgets(docks["problems"])
    qtbot.waitUntil(lambda: win.training.panel_visible("training"), timeout=3000)
    dense = next(n for n, node in win.scene.graph.nodes.items() if node.type == "Dense")
    win.scene.select_nodes([dense])
    qtbot.waitUntil(lambda: not docks["inspector"].visibleRegion().isEmpty(), timeout=3000)
    units = win.inspector.editors["units"]
    assert units.visibleRegion().boundingRect().height() == units.height()  # the whole field, not scrolled away


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_training_panel_fits_its_column_without_scrolling_sideways(window, qtbot, lang):
    """At 1024x768 and 1440x900 the Training panel was wider than the right-hand column: "Open data..." was cut
    at the edge and the whole form scrolled sideways."""
    from nnstudio.ui.i18n import set_language
    set_language(lang)
    try:
        window.resize(1024, 738)
        assert window.open_example(resource("examples", "mnist-mlp.json"))
        window.training.docks["training"].raise_()
        qtbot.waitUntil(lambda: window.training.panel_visible("training"), timeout=3000)
        scroller = window.training.docks["training"].widget()
        assert not scroller.horizontalScrollBar().isVisible()
        button = window.training.panel.open_data
        assert button.visibleRegion().boundingRect().width() == button.width()
    finally:
        set_language("en")
