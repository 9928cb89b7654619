"""Saving what a panel shows: a PNG of the widget and its history as CSV.

Why this exists: every training panel offers the same two exports, and both must write atomically (a
half-written file is worse than none).  PNGs come from ``QWidget.grab()`` rather than pyqtgraph's exporters
so a panel made of several plots, labels and images is saved exactly as it looks; SVG is not offered (it is
unreliable with this Qt).  CSV is plain text with a header row, one column per series, NaN left empty.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt
from PySide6.QtWidgets import QFileDialog, QFrame, QScrollArea, QSizePolicy, QWidget

from nnstudio.errors import UserError
from nnstudio.ui.elided_label import ElidedLabel
from nnstudio.ui.i18n import tr
from nnstudio.userdirs import atomic_write_bytes


def widget_png_bytes(widget: QWidget) -> bytes:
    """The widget rendered as PNG bytes (works offscreen)."""
    pixmap = widget.grab()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not pixmap.save(buffer, "PNG"):
        raise UserError(f"Could not render '{widget.objectName() or type(widget).__name__}' as PNG")
    buffer.close()
    return bytes(data.data())


def save_widget_png(widget: QWidget, path: str | os.PathLike) -> Path:
    """Write the widget as it looks now to ``path`` (a .png suffix is added when missing)."""
    target = Path(path)
    if target.suffix.lower() != ".png":
        target = target.with_name(target.name + ".png")
    atomic_write_bytes(target, widget_png_bytes(widget))
    return target


def csv_text(columns: Mapping[str, Sequence[float] | np.ndarray]) -> str:
    """Columns as CSV text with a header; shorter columns are padded, NaN becomes an empty cell."""
    names = list(columns)
    arrays = [np.asarray(columns[n], dtype=np.float64).reshape(-1) for n in names]
    rows = max((a.size for a in arrays), default=0)
    table = np.full((rows, len(names)), np.nan)
    for j, a in enumerate(arrays):
        table[:a.size, j] = a
    out = io.StringIO()
    out.write(",".join(_quote(n) for n in names) + "\n")
    for row in table:
        out.write(",".join("" if np.isnan(v) else _number(v) for v in row) + "\n")
    return out.getvalue()


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"' if any(c in name for c in ',"\n') else name


def save_csv(columns: Mapping[str, Sequence[float] | np.ndarray], path: str | os.PathLike) -> Path:
    target = Path(path)
    if target.suffix.lower() != ".csv":
        target = target.with_name(target.name + ".csv")
    atomic_write_bytes(target, csv_text(columns).encode("utf-8"))
    return target


def ask_png_path(parent: QWidget, default_name: str) -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, tr("Export as PNG"), default_name + ".png",
                                          tr("PNG images (*.png)"))
    return path or None


def ask_csv_path(parent: QWidget, default_name: str) -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, tr("Export history as CSV"), default_name + ".csv",
                                          tr("CSV files (*.csv)"))
    return path or None


class ExportablePanel(QWidget):
    """Base of the training panels: a title row with a notice line and an export menu, and a dirty flag.

    The title is hidden by default (a dock already shows it).  Subclasses fill ``self.body`` (a QVBoxLayout), mark ``self.dirty = True`` when their data changed,
    redraw in :meth:`redraw` (called by the dashboard's screen-rate timer only when dirty) and describe
    their history for CSV in :meth:`history`.
    """

    export_name = "panel"
    # The smallest a panel gets in a dock: plots stay readable, and no caption or notice can make a dock
    # (and with it the window) wider than the screen.
    MIN_WIDTH, MIN_HEIGHT = 220, 170
    NOTICE_SHARE = 0.35  # a notice may take at most this share of the panel's height before it scrolls

    def __init__(self, title: str, parent: QWidget | None = None, show_title: bool = False) -> None:
        super().__init__(parent)
        from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QToolButton, QVBoxLayout  # noqa: PLC0415
        self.setObjectName(self.export_name)
        self.dirty = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(4, 2, 4, 4)
        outer.setSpacing(2)
        head = QHBoxLayout()
        # One line, cut with an ellipsis: a caption changes with every redraw of some panels (the curves'
        # latest figures), and an ElidedLabel's new text does not make the window lay out its docks again.
        self.title_label = ElidedLabel(title if show_title else "", bold=show_title)
        self.title_label.setVisible(show_title)
        self.notice = QLabel("")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #F59E0B;")  # amber reads on light and dark themes
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # The notice scrolls within at most NOTICE_SHARE of the panel's height (see _fit_notice).
        self.notice_area = QScrollArea()
        self.notice_area.setWidget(self.notice)
        self.notice_area.setWidgetResizable(True)
        self.notice_area.setFrameShape(QFrame.Shape.NoFrame)
        self.notice_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.notice_area.setStyleSheet("QScrollArea, QScrollArea > QWidget > QWidget { background: transparent; }")
        self.notice_area.hide()
        self.menu_button = QToolButton()
        self.menu_button.setText("⋯")
        self.menu_button.setToolTip(tr("Export"))
        self.menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.menu_button)
        self.png_action = menu.addAction(tr("Export as PNG..."), self._ask_png)
        self.csv_action = menu.addAction(tr("Export history as CSV..."), self._ask_csv)
        self.menu_button.setMenu(menu)
        self.notice_area.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # wraps, never widens
        self.setMinimumSize(self.MIN_WIDTH, self.MIN_HEIGHT)
        head.addWidget(self.title_label, 1)
        head.addWidget(self.menu_button)
        outer.addLayout(head)
        outer.addWidget(self.notice_area)
        self.body = QVBoxLayout()
        self.body.setContentsMargins(0, 0, 0, 0)
        outer.addLayout(self.body, 1)
        outer.addStretch(0)  # takes the room only while the body shows nothing: the header stays on top

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # Plots need room; docks take their first size from this.
        return QSize(460, 380)

    def set_caption(self, text: str) -> None:
        """A one-line summary in the header row (where the title would be)."""
        self.title_label.setText(text)
        self.title_label.setToolTip(text)
        self.title_label.setVisible(bool(text))

    def show_notice(self, text: str) -> None:
        """An amber note above the plots (advice, a warning): wrapped, and scrolling when it is long."""
        self.notice.setText(text)
        self.notice_area.setVisible(bool(text))
        self._fit_notice()

    def notice_shown(self) -> bool:
        """Whether a notice is showing (the panel itself may be hidden)."""
        return not self.notice_area.isHidden()

    def _fit_notice(self) -> None:
        """As tall as the notice's text, but at most NOTICE_SHARE of the panel (and never under two lines):
        on a 1024x768 screen three hints in Chinese took three quarters of the gradients panel and left its
        plot a sliver, with the last line cut off.  The rest of a long notice scrolls."""
        if self.notice_area.isHidden():
            return
        margins = self.layout().contentsMargins()
        width = max(1, self.width() - margins.left() - margins.right()
                    - self.notice_area.verticalScrollBar().sizeHint().width())
        wanted = self.notice.heightForWidth(width)
        if wanted < 0:
            wanted = self.notice.sizeHint().height()
        line = self.notice.fontMetrics().lineSpacing()
        lines = max(2, int(self.height() * self.NOTICE_SHARE) // line)  # whole lines: none shows cut in half
        self.notice_area.setFixedHeight(min(wanted, lines * line) + 2)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit_notice()

    def history(self) -> dict[str, np.ndarray]:
        """Columns for CSV export (empty when the panel has no history)."""
        return {}

    def redraw(self) -> None:
        self.dirty = False

    def export_png(self, path: str | os.PathLike) -> Path:
        if self.dirty:
            self.redraw()
        return save_widget_png(self, path)

    def export_csv(self, path: str | os.PathLike) -> Path:
        columns = self.history()
        if not columns:
            raise UserError(tr("The panel '{name}' has no history to export yet: train first.",
                               name=self.export_name))
        return save_csv(columns, path)

    def _ask_png(self) -> None:
        path = ask_png_path(self, self.export_name)
        if path:
            self._guard(lambda: self.export_png(path))

    def _ask_csv(self) -> None:
        path = ask_csv_path(self, self.export_name)
        if path:
            self._guard(lambda: self.export_csv(path))

    def _guard(self, action: Callable[[], object]) -> None:
        from PySide6.QtWidgets import QMessageBox  # noqa: PLC0415
        try:
            action()
        except (UserError, OSError) as exc:
            QMessageBox.warning(self, tr("Export"), str(exc))
