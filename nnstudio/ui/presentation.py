"""Presentation mode: one interface scale (100 to 200 %) for projectors and the back of a classroom.

The scale, chosen in Edit > Preferences and stored in QSettings under ``ui/scale``, enlarges three things at
once, without a restart:

* the application font (every label, menu, button and table that does not set its own size);
* the editor's nodes: the canvas zoom is measured against the scale, so "Actual size" (and the most "Fit to
  view" zooms in, and the least it zooms out) show the nodes that much larger;
* the plots' text: pyqtgraph draws its axes, axis titles and panel titles with its own fonts, so each one in
  the window is given a larger size (half the interface's growth, :func:`plot_factor`, so that titles still
  fit beside their plots), and so are plots made later, when a project opens or a run starts.

The window keeps its size: docks scroll and wrap rather than grow, as at 100 %.
"""
from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication

from nnstudio.ui.settings import make_settings

SCALE_KEY = "ui/scale"
SCALES = (100, 125, 150, 175, 200)
_BASE_POINT_SIZE = "nnstudio_base_point_size"
PLOT_TICK_POINTS = 8.0  # pyqtgraph's tick labels at 100 % are about this size
PLOT_LABEL_POINTS = 9.0  # and its axis titles
_current = 100
_CHROME_MARK = "\n/* presentation mode */\n"
# Larger text needs taller menus, dock titles and tabs; thinner padding around them keeps the window's panels
# their room (at 200 % on a 1024x768 screen the window would otherwise need 16 pixels more than it has).
TIGHT_CHROME = """QMenuBar::item { padding: 2px 8px; }
QDockWidget::title { padding: 2px 6px; }
QTabBar::tab { padding: 2px 10px; }
QToolBar { padding: 1px 4px; }
QToolBar QToolButton { padding: 2px; }
"""


def stored_scale(settings: QSettings | None = None) -> int:
    """The remembered scale in percent (100 when none or a value this version does not offer)."""
    settings = settings or make_settings()
    try:
        value = int(settings.value(SCALE_KEY, 100))
    except (TypeError, ValueError):
        return 100
    return value if value in SCALES else 100


def store_scale(percent: int, settings: QSettings | None = None) -> None:
    if percent not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}; received {percent!r}")
    settings = settings or make_settings()
    settings.setValue(SCALE_KEY, int(percent))
    settings.sync()


def current_scale() -> int:
    return _current


def apply_font_scale(percent: int, app: QApplication | None = None) -> None:
    """The application font at ``percent`` of the size it had before any scaling."""
    app = app or QApplication.instance()  # type: ignore[assignment]
    if app is None:
        return
    font = QFont(app.font())
    base = app.property(_BASE_POINT_SIZE)
    if not base:
        base = font.pointSizeF() if font.pointSizeF() > 0 else 10.0
        app.setProperty(_BASE_POINT_SIZE, base)
    size = float(base) * percent / 100.0
    if abs(font.pointSizeF() - size) > 1e-6:
        font.setPointSizeF(size)
        app.setFont(font)
        # Widgets styled by the application's style sheet keep their polished font until they are polished
        # again; setting the sheet (with or without the tighter chrome) re-polishes every widget.
        base_sheet = app.styleSheet().split(_CHROME_MARK)[0]
        app.setStyleSheet(base_sheet + (_CHROME_MARK + TIGHT_CHROME if percent > 100 else ""))


def plot_factor(percent: int) -> float:
    """How much plot text grows: half as fast as the interface (200 % -> 1.5x), because a plot's text shares
    a small panel with the curves it labels; full-size axis titles would cover the plot they name."""
    return 1.0 + (percent - 100) / 200.0


def _scaled_size(base: Any, factor: float, default: float) -> str | None:
    """A pyqtgraph size string ("8pt") times ``factor``; at 100 % the original (None keeps pyqtgraph's own)."""
    if factor == 1.0:
        return base
    match = re.fullmatch(r"\s*([0-9.]+)\s*pt\s*", str(base or ""))
    points = float(match.group(1)) if match else default
    return f"{points * factor:.3g}pt"


def scale_plot_text(root: Any, percent: int) -> int:
    """Give every pyqtgraph axis, axis title and label under the widget ``root`` the scaled font; returns how
    many items it touched (for tests)."""
    import pyqtgraph as pg  # noqa: PLC0415 - only the UI's plotting needs it

    factor = plot_factor(percent)
    touched = 0
    views = root.findChildren(pg.GraphicsView) if hasattr(root, "findChildren") else []
    if isinstance(root, pg.GraphicsView):
        views.append(root)
    for view in views:
        scene = view.scene()
        if scene is None:
            continue
        for item in scene.items():
            if isinstance(item, pg.AxisItem):
                if not hasattr(item, "_nn_label_size"):
                    item._nn_label_size = item.labelStyle.get("font-size")  # type: ignore[attr-defined]
                tick = None
                if factor != 1.0:
                    tick = QFont(QApplication.font())
                    tick.setPointSizeF(PLOT_TICK_POINTS * factor)
                item.setTickFont(tick)
                size = _scaled_size(item._nn_label_size, factor, PLOT_LABEL_POINTS)  # type: ignore[attr-defined]
                if size is None:
                    item.labelStyle.pop("font-size", None)
                else:
                    item.labelStyle["font-size"] = size
                item._updateLabel()  # pyqtgraph's own refresh of the title (and the space it takes)
                touched += 1
            elif isinstance(item, pg.LabelItem):
                if not hasattr(item, "_nn_size"):
                    item._nn_size = item.opts.get("size")  # type: ignore[attr-defined]
                size = _scaled_size(item._nn_size, factor, PLOT_LABEL_POINTS)  # type: ignore[attr-defined]
                if size is None:
                    item.opts.pop("size", None)
                    item.setText(item.text)
                else:
                    item.setText(item.text, size=size)
                touched += 1
    return touched


def scale_editor(window: Any, percent: int) -> None:
    """The canvas shows nodes at ``percent`` of their size at "Actual size", and fits them again."""
    view = getattr(window, "view", None)
    if view is None or not hasattr(view, "ui_scale"):
        return
    before = view.ui_scale
    view.ui_scale = percent / 100.0
    if view.ui_scale != before:
        view.zoom_by(view.ui_scale / before)  # keep what was in sight, at the new size
        if getattr(window, "project", None) is not None:
            view.fit_all()


def apply_ui_scale(percent: int, window: Any = None, app: QApplication | None = None) -> None:
    """Apply ``percent`` to the fonts, and to ``window``'s editor and plots when given."""
    global _current
    if percent not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}; received {percent!r}")
    _current = percent
    apply_font_scale(percent, app)
    if window is not None:
        scale_editor(window, percent)
        scale_plot_text(window, percent)


class PresentationMode(QObject):
    """Applies the remembered scale to a main window and to the plots it creates later."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window

    def install(self) -> "PresentationMode":
        apply_ui_scale(stored_scale(), self.window)
        self.window.project_opened.connect(self.refresh_plots)
        training = getattr(self.window, "training", None)
        if training is not None:
            training.run_starting.connect(self.refresh_plots)
        return self

    def refresh_plots(self, *_: Any) -> None:
        """Plots made since the scale was applied (panels fill in per project or run) get it too."""
        if _current != 100:
            scale_plot_text(self.window, _current)

    def set_scale(self, percent: int) -> None:
        store_scale(percent)
        apply_ui_scale(percent, self.window)


def install_presentation(window: Any) -> PresentationMode:
    mode = PresentationMode(window).install()
    window.presentation = mode
    return mode
