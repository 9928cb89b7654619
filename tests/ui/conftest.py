"""GUI test fixtures: headless Qt, isolated user data and settings, and mouse helpers for the canvas.

Every test gets its own ``NNSTUDIO_DATA_DIR`` and settings file, so nothing touches the real user folders;
``NNSTUDIO_NO_DIALOGS`` keeps error boxes out of unattended runs, and the close-time question is answered
"Discard" unless a test says otherwise.
"""
from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "userdata"))
    monkeypatch.setenv("NNSTUDIO_SETTINGS_FILE", str(tmp_path / "settings.ini"))
    monkeypatch.setenv("NNSTUDIO_NO_DIALOGS", "1")
    monkeypatch.setenv("NNSTUDIO_LANG", "en")
    answers: list[Any] = []
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: answers.pop(0) if answers else QMessageBox.StandardButton.Discard))
    return answers


@pytest.fixture(autouse=True)
def close_leftover_windows(qapp):
    """Close top-level windows a test left open, so they cannot cover the next test's widgets."""
    yield
    from PySide6.QtWidgets import QApplication
    for widget in QApplication.topLevelWidgets():
        if widget.isVisible():
            if hasattr(widget, "undo_stack"):
                widget.undo_stack.setClean()
            widget.close()
    QApplication.clipboard().clear()  # mime data left on the clipboard crashes Qt's teardown at exit
    QApplication.processEvents()
    # Delete what the test scheduled for deletion and collect its Python wrappers now, while the
    # application is in a known state, rather than at a random point of a later test.
    from PySide6.QtCore import QCoreApplication, QEvent
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    gc.collect()


@pytest.fixture
def dialog_answers(isolated_user_dirs):
    """Push QMessageBox.StandardButton values here to answer the next questions the window asks."""
    return isolated_user_dirs


@pytest.fixture
def window(qtbot):
    from nnstudio.ui.main_window import MainWindow
    win = MainWindow()
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.undo_stack.setClean()


@dataclass
class CanvasDriver:
    """Drives the canvas with real mouse and drop events, the way a person would."""

    window: Any
    qtbot: Any

    @property
    def view(self):
        return self.window.view

    @property
    def scene(self):
        return self.window.scene

    def to_view(self, scene_point: QPointF) -> QPoint:
        return self.view.mapFromScene(scene_point)

    def drop_block(self, block_type: str, view_point: QPoint) -> str:
        """Drop a palette block at a point of the viewport; returns the new node's id."""
        before = set(self.window.scene.graph.nodes)
        mime = QMimeData()
        mime.setData("application/x-nnstudio-block", block_type.encode("utf-8"))
        args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        viewport = self.view.viewport()
        enter = QDragEnterEvent(view_point, *args)
        QApplication.sendEvent(viewport, enter)
        assert enter.isAccepted(), "the canvas refused the dragged block"
        QApplication.sendEvent(viewport, QDragMoveEvent(view_point, *args))
        QApplication.sendEvent(viewport, QDropEvent(QPointF(view_point), *args))
        added = [n for n in self.window.scene.graph.nodes if n not in before]
        assert len(added) == 1, f"dropping {block_type} added {added}"
        return added[0]

    def port_point(self, node_id: str, direction: str, index: int = 0) -> QPoint:
        item = self.scene.node_items[node_id]
        port = item.output_port if direction == "out" else item.input_ports[index]
        return self.to_view(port.scenePos())

    def drag(self, start: QPoint, end: QPoint, button=Qt.MouseButton.LeftButton) -> None:
        viewport = self.view.viewport()
        self.qtbot.mousePress(viewport, button, pos=start)
        mid = QPoint((start.x() + end.x()) // 2, (start.y() + end.y()) // 2)
        self.qtbot.mouseMove(viewport, mid)
        self.qtbot.mouseMove(viewport, end)
        self.qtbot.mouseRelease(viewport, button, pos=end)

    def wire(self, src: str, dst: str, port: int = 0) -> None:
        self.drag(self.port_point(src, "out"), self.port_point(dst, "in", port))


@pytest.fixture
def canvas(window, qtbot):
    window.new_project()
    window.view.resetTransform()
    window.view.centerOn(QPointF(600, 250))
    return CanvasDriver(window, qtbot)
