"""The one-line label for text that changes during a run: a new text repaints it without asking the window
to lay out its docks again (a QLabel does), long texts are cut with an ellipsis, and the run bar and the
panels' captions use it."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QEvent, QObject, Qt  # noqa: E402
from PySide6.QtGui import QFont  # noqa: E402
from PySide6.QtWidgets import QDockWidget, QHBoxLayout, QLabel, QMainWindow, QWidget  # noqa: E402

from nnstudio.ui.elided_label import ElidedLabel  # noqa: E402
from nnstudio.ui.panels.curves import CurvesPanel  # noqa: E402
from nnstudio.ui.run_bar import RunBar  # noqa: E402


class LayoutRequests(QObject):
    """Counts the LayoutRequest events a widget receives."""

    def __init__(self, widget: QWidget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, _obj, event):  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def main_window(qtbot) -> QMainWindow:
    window = QMainWindow()
    window.setCentralWidget(QWidget())
    qtbot.addWidget(window)
    return window


def shown(window: QMainWindow, qtbot) -> QMainWindow:
    """``window`` shown and settled."""
    window.resize(900, 500)
    window.show()
    qtbot.waitExposed(window)
    qtbot.wait(50)
    return window


def window_with(widget: QWidget, qtbot) -> QMainWindow:
    """``widget`` in a dock of a main window that is shown and settled."""
    window = main_window(qtbot)
    dock = QDockWidget("dock")
    holder = QWidget()
    QHBoxLayout(holder).addWidget(widget)
    dock.setWidget(holder)
    window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    return shown(window, qtbot)


def requests_after_new_texts(widget: QWidget, window: QMainWindow, qtbot, texts) -> int:
    counter = LayoutRequests(window)
    for text in texts:
        widget.setText(text)
        qtbot.wait(5)  # posted events are delivered
    return counter.count


TEXTS = [f"epoch 1/3 · batch {i}/938 · {1000 + 37 * i:,} samples/s · 0:{i:02d} left" for i in range(1, 30, 3)]


def test_a_new_text_does_not_lay_the_window_out_again(qtbot):
    label = ElidedLabel("start", min_width=120)
    window = window_with(label, qtbot)
    assert requests_after_new_texts(label, window, qtbot, TEXTS) == 0
    assert label.text() == label.accessibleName() == TEXTS[-1]


def test_a_qlabel_in_the_same_place_does(qtbot):
    """What the label avoids: the same texts in a QLabel make the main window redo its layout."""
    label = QLabel("start")
    window = window_with(label, qtbot)
    assert requests_after_new_texts(label, window, qtbot, TEXTS) > 0


def test_long_text_is_cut_with_an_ellipsis_and_the_size_does_not_follow_the_text(qtbot):
    label = ElidedLabel("", min_width=60)
    qtbot.addWidget(label)
    hint = label.sizeHint()
    label.setText("a long line " * 40)
    assert label.sizeHint() == hint  # the text never asks for more room
    label.resize(100, hint.height())
    cut = label.shown_text()
    assert cut.endswith("…") and label.text().startswith(cut[:-1])
    assert label.fontMetrics().horizontalAdvance(cut) <= 100
    label.setText("short")
    assert label.shown_text() == "short"
    label.grab()  # paints without error


def test_a_larger_font_makes_the_line_taller(qtbot):
    label = ElidedLabel("text")
    qtbot.addWidget(label)
    before = label.height()
    font = QFont(label.font())
    font.setPointSizeF(font.pointSizeF() * 2.5)
    label.setFont(font)
    assert label.height() > before and label.sizeHint().height() == label.height()


def test_the_run_bar_progress_line_does_not_lay_the_window_out_again(qtbot):
    window = main_window(qtbot)
    actions = {key: window.menuBar().addAction(key) for key in ("train", "pause", "stop", "step", "step_epoch")}
    bar = RunBar(actions)
    window.addToolBar(bar)
    counter = LayoutRequests(shown(window, qtbot))
    for i in range(1, 20):
        report = SimpleNamespace(epoch=1, step=i, samples_per_s=1000.0 + 97 * i, eta_s=100.0 - i)
        bar.show_progress(report, 3, 938)
        qtbot.wait(5)
    assert counter.count == 0
    assert "19/938" in bar.progress_label.text() and bar.progress_label.toolTip() == bar.progress_label.text()


def test_a_panel_caption_is_one_line_with_the_whole_text_in_its_tooltip(qtbot):
    panel = CurvesPanel()
    qtbot.addWidget(panel)
    panel.set_caption("loss 0.1234  ·  accuracy 97.0%")
    assert panel.title_label.text() == panel.title_label.toolTip() == "loss 0.1234  ·  accuracy 97.0%"
    assert not panel.title_label.isHidden()
    panel.set_caption("")
    assert panel.title_label.isHidden()
