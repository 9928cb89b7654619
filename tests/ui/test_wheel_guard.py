"""The wheel guard watches the combo and spin boxes themselves (given the guard as they are polished), not
every event of the application, and still lets an unfocused box pass the wheel to the panel around it."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QComboBox, QScrollArea, QSpinBox, QVBoxLayout, QWidget

from nnstudio.ui.wheel_guard import GuardStyle, install_wheel_guard


def wheel(widget: QWidget) -> None:
    center = QPointF(widget.width() / 2, widget.height() / 2)
    QApplication.sendEvent(widget, QWheelEvent(center, widget.mapToGlobal(center), QPoint(0, 0), QPoint(0, -120),
                                               Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                                               Qt.ScrollPhase.NoScrollPhase, False))


def test_boxes_made_after_the_guard_ignore_the_wheel_without_focus(qtbot):
    guard = install_wheel_guard()
    assert install_wheel_guard() is guard  # once per application
    assert isinstance(QApplication.instance()._nnstudio_guard_style, GuardStyle)
    area = QScrollArea()
    inner = QWidget()
    column = QVBoxLayout(inner)
    combo, spin = QComboBox(), QSpinBox()
    combo.addItems(["adam", "sgd", "rmsprop"])
    spin.setRange(0, 100)
    spin.setValue(50)
    column.addWidget(combo)
    column.addWidget(spin)
    for _ in range(40):
        column.addWidget(QSpinBox())
    area.setWidget(inner)
    area.resize(200, 150)
    qtbot.addWidget(area)
    area.show()
    qtbot.waitExposed(area)
    wheel(combo)
    wheel(spin)
    assert combo.currentIndex() == 0 and spin.value() == 50
    assert area.verticalScrollBar().value() > 0  # the panel scrolled instead
    spin.setFocus()
    qtbot.waitUntil(spin.hasFocus, timeout=2000)
    wheel(spin)  # a box the user clicked into takes the wheel
    assert spin.value() != 50


def test_a_style_set_later_is_guarded_again(qtbot):
    """The theme sets its own style (replacing the guard's); installing the guard again wraps the new one."""
    install_wheel_guard()
    app = QApplication.instance()
    app.setStyle("Fusion")
    guard = install_wheel_guard()
    assert isinstance(app._nnstudio_guard_style, GuardStyle)
    spin = QSpinBox()
    spin.setRange(0, 10)
    spin.setValue(5)
    qtbot.addWidget(spin)
    spin.show()
    qtbot.waitExposed(spin)
    wheel(spin)
    assert spin.value() == 5 and guard is install_wheel_guard()
