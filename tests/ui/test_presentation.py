"""Presentation mode: the interface scale chosen in Preferences enlarges the fonts, the editor's nodes and the
plots' text at once, is remembered, and keeps the window its size with every panel inside it, at 1024x768 and
1920x1080, in English and Chinese."""
from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication, QDockWidget, QToolBar, QWidget

from nnstudio.resources_path import resource
from nnstudio.ui import presentation
from nnstudio.ui.presentation import SCALES, apply_ui_scale, plot_factor, stored_scale

SIZES = [(1024, 768), (1920, 1080)]


def inside(widget: QWidget, window: QWidget) -> bool:
    top_left = widget.mapTo(window, QPoint(0, 0))
    return (top_left.x() >= 0 and top_left.y() >= 0 and top_left.x() + widget.width() <= window.width()
            and top_left.y() + widget.height() <= window.height())


def _axes(window):
    found = []
    for view in window.findChildren(pg.GraphicsView):
        if view.scene() is not None:
            found += [i for i in view.scene().items() if isinstance(i, pg.AxisItem)]
    return found


def _choose_scale(window, percent: int):
    dialog = window.teaching.show_preferences()
    combo = dialog.scale
    assert [combo.itemData(i) for i in range(combo.count())] == list(SCALES)
    combo.setCurrentIndex(combo.findData(percent))
    dialog.accept()
    QApplication.processEvents()
    return dialog


@pytest.fixture
def base_font_size(qapp):
    apply_ui_scale(100)
    size = QApplication.font().pointSizeF()
    yield size
    apply_ui_scale(100)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_scale_enlarges_text_nodes_and_plots_and_the_window_keeps_its_size(window, qtbot, base_font_size,
                                                                                 size, lang):
    from nnstudio.ui.i18n import set_language, tr
    set_language(lang)
    try:
        window.resize(size[0], size[1] - 30)
        assert window.open_example(resource("examples", "playground-spiral.json"))
        qtbot.wait(50)
        before = window.size()
        window.view.reset_zoom()
        assert window.view.zoom() == pytest.approx(1.0)
        dialog = _choose_scale(window, 200)
        assert (tr("Interface size (presentation):") == dialog.scale_label.text())
        qtbot.wait(100)
        QApplication.processEvents()
        assert QApplication.font().pointSizeF() == pytest.approx(2 * base_font_size)
        assert window.menuBar().fontInfo().pointSizeF() == pytest.approx(2 * base_font_size, rel=0.1)
        assert window.view.zoom() >= 0.6 * 2 - 1e-6, "fit to view keeps the nodes at least twice as large"
        window.view.reset_zoom()
        assert window.view.zoom() == pytest.approx(2.0), "actual size is the scale"
        axes = _axes(window)
        assert axes and all(a.style["tickFont"].pointSizeF() == pytest.approx(8.0 * plot_factor(200)) for a in axes)
        assert window.size() == before, (window.size(), before)
        chrome = [window.menuBar(), window.statusBar(), *window.findChildren(QToolBar), *window.findChildren(QDockWidget)]
        for widget in chrome:
            shown = widget.isVisible() and not widget.visibleRegion().isEmpty()  # a tab behind another is parked
            if shown and not (isinstance(widget, QDockWidget) and widget.isFloating()):
                assert inside(widget, window), widget.objectName()
        for widget in window.findChildren(QWidget):  # nothing the user sees is squeezed below its minimum
            if widget.isVisible() and not widget.visibleRegion().isEmpty():
                assert widget.width() >= widget.minimumWidth() and widget.height() >= widget.minimumHeight(), \
                    widget.objectName() or type(widget).__name__
        assert stored_scale() == 200
        _choose_scale(window, 100)
        assert QApplication.font().pointSizeF() == pytest.approx(base_font_size)
        assert all(a.style["tickFont"] is None for a in _axes(window))
        assert window.size() == before
        window.undo_stack.setClean()
    finally:
        set_language("en")


def test_the_scale_is_remembered_and_applied_to_the_next_window(qtbot, base_font_size):
    from nnstudio.ui.main_window import MainWindow
    presentation.store_scale(150)
    win = MainWindow()
    qtbot.addWidget(win)
    assert presentation.current_scale() == 150
    assert QApplication.font().pointSizeF() == pytest.approx(1.5 * base_font_size)
    assert win.view.ui_scale == pytest.approx(1.5)
    assert presentation.PLOT_TICK_POINTS * plot_factor(150) == pytest.approx(
        _axes(win)[0].style["tickFont"].pointSizeF())
    presentation.store_scale(100)


def test_a_stored_scale_this_version_does_not_offer_is_ignored(qapp):
    from nnstudio.ui.settings import make_settings
    settings = make_settings()
    settings.setValue(presentation.SCALE_KEY, "huge")
    assert stored_scale(settings) == 100
    settings.setValue(presentation.SCALE_KEY, 400)
    assert stored_scale(settings) == 100
    with pytest.raises(ValueError):
        apply_ui_scale(400)
