"""The mouse wheel scrolls panels; it never changes a drop-down or a number box the user did not click.

Why this exists: in a form inside a scrolling dock, a wheel notch over a combo box or spin box changed its
value (one notch over the Optimizer box silently switched Adam to RMSprop).  :class:`WheelGuard`, installed
once on the application, lets such a widget take the wheel only while it has the keyboard focus (the user
clicked or tabbed into it); otherwise the event goes to the scroll area around it, which scrolls.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox, QWidget


class WheelGuard(QObject):
    """Application event filter: value widgets without focus ignore the wheel (their parent scrolls)."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Wheel and isinstance(obj, (QComboBox, QAbstractSpinBox)):
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


def install_wheel_guard(app: QApplication | None = None) -> WheelGuard | None:
    """Install the guard on the application once; returns it (None without an application)."""
    app = app or QApplication.instance()
    if app is None:
        return None
    guard = getattr(app, "_nnstudio_wheel_guard", None)
    if guard is None:
        guard = WheelGuard(app)
        app.installEventFilter(guard)
        app._nnstudio_wheel_guard = guard  # type: ignore[attr-defined]
    return guard


__all__ = ["WheelGuard", "install_wheel_guard"]
