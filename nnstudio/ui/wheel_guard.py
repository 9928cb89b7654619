"""The mouse wheel scrolls panels; it never changes a drop-down or a number box the user did not click.

Why this exists: in a form inside a scrolling dock, a wheel notch over a combo box or spin box changed its
value (one notch over the Optimizer box silently switched Adam to RMSprop).  :class:`WheelGuard`, installed
once on the application, lets such a widget take the wheel only while it has the keyboard focus (the user
clicked or tabbed into it); otherwise the event goes to the scroll area around it, which scrolls.

The guard watches only those widgets, not the whole application: an application event filter written in
Python runs (and takes the GIL) for every event of every object, about a thousand a second while a run
redraws its panels, each one a moment the training thread may have to hand the GIL over.  Each combo box
and spin box is given the filter when it is polished, which Qt does once for every widget through the
application's style (:class:`GuardStyle`, a proxy of the style in use: it draws nothing differently).
"""
from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox, QProxyStyle, QWidget

GUARDED = (QComboBox, QAbstractSpinBox)


class WheelGuard(QObject):
    """Event filter of each value widget: without focus it ignores the wheel (the panel around it scrolls)."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Wheel and isinstance(obj, GUARDED):
            widget: QWidget = obj
            if not widget.hasFocus():
                if widget.focusPolicy() == Qt.FocusPolicy.WheelFocus:
                    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel must not focus it either
                area = widget.parentWidget()
                while area is not None and not isinstance(area, QAbstractScrollArea):
                    area = area.parentWidget()
                if area is not None:  # the panel around it scrolls instead
                    QApplication.sendEvent(area.viewport(), event)
                return True
        return False


class GuardStyle(QProxyStyle):
    """The application's style unchanged, except that each combo box and spin box it polishes gets the guard."""

    def __init__(self, base: str, guard: WheelGuard) -> None:
        super().__init__(base)
        self.guard = guard

    def polish(self, target: Any) -> Any:  # Qt's overloads: a widget, a palette or the application
        if isinstance(target, GUARDED):
            target.installEventFilter(self.guard)  # installed once: Qt moves a filter installed again
        return super().polish(target)


def install_wheel_guard(app: QApplication | None = None) -> WheelGuard | None:
    """Guard every combo box and spin box of the application, now and later (once); returns the guard (None
    without an application)."""
    app = app or QApplication.instance()
    if app is None:
        return None
    guard = getattr(app, "_nnstudio_wheel_guard", None)
    if guard is None:
        guard = WheelGuard(app)
        app._nnstudio_wheel_guard = guard  # type: ignore[attr-defined]
    style = getattr(app, "_nnstudio_guard_style", None)
    if style is None or not shiboken6.isValid(style):  # never set, or another style replaced (and deleted) it
        # A style sheet hides the name of the style under it; the theme's is Fusion (nnstudio.ui.app).
        style = GuardStyle(app.style().name() or "Fusion", guard)
        app.setStyle(style)  # polishes every widget again: those already there get the guard too
        app._nnstudio_guard_style = style  # type: ignore[attr-defined]
    return guard


__all__ = ["GuardStyle", "WheelGuard", "install_wheel_guard"]
