"""A one-line label for text that changes while training runs: the run bar's progress, a panel's caption.

Why this exists: a ``QLabel`` asks the layouts around it to be redone every time its text changes, and
each layout passes the request on to its parent, up to the main window.  The main window then lays out
every dock again and, with an animating style, starts (and deletes) an animation per dock: about 2 ms of
the GUI thread each time, and the progress line and the curves' caption change several times a second while
a run uses every core (measured during a training run: 40 main-window layouts and 1,100 dock animations in
8 s).  This label never changes size with its text: it is one line high, as wide as its layout gives it,
and a new text only repaints it, cut with an ellipsis when it does not fit (the tooltip keeps the whole line).
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget


class ElidedLabel(QWidget):
    """One line of plain text, elided on the right to the width the layout gives it."""

    MARGIN = 1  # pixels above and below the line

    def __init__(self, text: str = "", parent: QWidget | None = None, *, bold: bool = False,
                 min_width: int = 0) -> None:
        super().__init__(parent)
        self._text = str(text)
        self.setAccessibleName(self._text)
        self._min_width = int(min_width)
        if bold:
            font = self.font()
            font.setBold(True)
            self.setFont(font)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(self._min_width)
        self._fit_height()

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 - QLabel's name, so callers need not care
        text = str(text)
        if text != self._text:
            self._text = text
            self.setAccessibleName(text)  # what a screen reader reads, as for a QLabel
            self.update()  # a repaint only: the size does not depend on the text

    def shown_text(self) -> str:
        """The text as painted at the current width: cut with an ellipsis when it does not fit."""
        return self.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideRight, self.contentsRect().width())

    def _line_height(self) -> int:
        return self.fontMetrics().height() + 2 * self.MARGIN

    def _fit_height(self) -> None:
        self.setFixedHeight(self._line_height())

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(max(self._min_width, 1), self._line_height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(self._min_width, self._line_height())

    def changeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.FontChange:  # a new font (the classroom's larger text) may be taller
            self._fit_height()
            self.updateGeometry()
        super().changeEvent(event)

    def paintEvent(self, _event: Any) -> None:  # noqa: N802 - Qt's name
        if not self._text:
            return
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.drawText(self.contentsRect(), int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                         self.shown_text())
        painter.end()
