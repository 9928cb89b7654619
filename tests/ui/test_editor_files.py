"""Files and safety: save and reopen, bad files, the unsaved marker, closing, autosave and recovery,
remembered window layout and recent projects."""
from __future__ import annotations

import json

from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QLabel, QMessageBox

from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, load_project, project_to_dict
from nnstudio.ui import recovery


def _small_project() -> Project:
    g = Graph()
    g.add_node("Input", {"shape": [2]}, (0, 0))
    g.add_node("Dense", {"units": 8}, (260, 0))
    g.add_node("Activation", {"function": "tanh"}, (520, 0))
    g.connect("input_1", "dense_1")
    g.connect("dense_1", "activation_1")
    return Project(name="tiny", graph=g)


def test_save_and_reopen_gives_the_same_project(window, tmp_path):
    window.set_project(_small_project())
    window.scene.add_block("Dense", QPointF(900, 0))
    assert window.isWindowModified()
    path = tmp_path / "tiny.nnproj"
    assert window.save_as(path)
    assert not window.isWindowModified()
    assert "tiny.nnproj" in window.windowTitle()
    saved = project_to_dict(window.project)
    window.new_project()
    assert window.open_project(path)
    assert project_to_dict(window.project) == saved
    assert project_to_dict(load_project(path)) == saved
    assert window.undo_stack.count() == 0 and not window.isWindowModified()
    assert str(path.resolve()) in window.settings.value("recent/projects")


def test_bad_or_newer_file_leaves_the_open_project_untouched(window, tmp_path):
    window.set_project(_small_project())
    window.scene.add_block("Dense", QPointF(900, 0))
    before = window.project.graph.to_dict()
    project = window.project
    broken = tmp_path / "broken.nnproj"
    broken.write_text("{ not json", encoding="utf-8")
    newer = tmp_path / "newer.nnproj"
    newer.write_text(json.dumps({"format": "nnstudio.project", "version": 999, "name": "x",
                                 "graph": {"nodes": [], "edges": []}}), encoding="utf-8")
    bad_node = tmp_path / "bad_node.nnproj"
    bad_node.write_text(json.dumps({"format": "nnstudio.project", "version": 1, "name": "x",
                                    "graph": {"nodes": [{"id": "d", "type": "Dense", "params": {"units": -3}}],
                                              "edges": []}}), encoding="utf-8")
    for path, needle in ((broken, "not valid JSON"), (newer, "999"), (bad_node, "units")):
        assert not window.open_project(path)
        assert window.project is project
        assert window.project.graph.to_dict() == before
        assert needle in window.last_error, window.last_error
        assert window.undo_stack.count() == 1  # the history survives too


def test_a_broken_example_is_reported_and_opens_nothing(window, tmp_path):
    broken = tmp_path / "broken-example.json"
    broken.write_text("{ not json", encoding="utf-8")
    assert not window.open_example(broken)
    assert window.project is None
    assert "not valid JSON" in window.last_error and "broken-example.json" in window.last_error, window.last_error


def test_close_with_unsaved_changes_asks(window, dialog_answers, tmp_path):
    window.set_project(_small_project())
    window.scene.add_block("Dense", QPointF(900, 0))
    dialog_answers.append(QMessageBox.StandardButton.Cancel)
    assert not window.close()
    assert window.isVisible()
    target = tmp_path / "kept.nnproj"
    window.project.path = target
    dialog_answers.append(QMessageBox.StandardButton.Save)
    assert window.close()
    assert load_project(target).graph.to_dict() == window.project.graph.to_dict()


def test_autosave_writes_only_when_modified_and_restore_after_crash(qtbot, tmp_path):
    from nnstudio.ui.main_window import MainWindow
    first = MainWindow()
    qtbot.addWidget(first)
    first.set_project(_small_project())
    assert not first.autosaver.autosave_now()          # nothing unsaved yet
    assert recovery.pending_recovery() is None
    first.scene.add_block("Conv2D", QPointF(0, 300))
    assert first.autosaver.timer.interval() == 60_000 and first.autosaver.timer.isActive()
    first.autosaver.timer.timeout.emit()                # as if a minute had passed
    assert first.autosaver.slot.path.is_file()
    assert recovery.pending_recovery() is None          # its window is open: not anyone's to recover
    expected = first.project.graph.to_dict()
    # a crash: the window never closes cleanly, so the recovery file stays, and its lock goes with the process
    first.autosaver.timer.stop()
    first.autosaver.slot.drop_lock()
    first.undo_stack.setClean()

    second = MainWindow()
    qtbot.addWidget(second)
    assert second.offer_recovery(ask=False)
    assert second.project.graph.to_dict() == expected
    assert second.isWindowModified()                    # restored work still needs saving
    second.undo_stack.setClean()
    assert second.close()                               # a clean exit removes the recovery file
    assert recovery.pending_recovery() is None
    third = MainWindow()
    qtbot.addWidget(third)
    assert not third.offer_recovery(ask=False)


def test_declining_recovery_discards_it(window, dialog_answers):
    recovery.write_recovery(_small_project())
    dialog_answers.append(QMessageBox.StandardButton.No)
    assert not window.offer_recovery()
    assert recovery.pending_recovery() is None
    assert window.project is None


def test_window_layout_and_geometry_are_remembered(qtbot):
    from nnstudio.ui.main_window import MainWindow
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    first.set_project(_small_project())  # the start page hides the panels; a project brings them back
    first.docks["problems"].hide()
    first.undo_stack.setClean()
    first._show_start_page()  # View > Start page: the panels go, their layout is kept
    hint = first.minimumSizeHint()  # the docks set a floor; stay just above it and within the screen
    width, height = max(731, hint.width()), max(547, hint.height() + 11)
    first.resize(width, height)
    size = first.size()
    assert (size.width(), size.height()) == (width, height)
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    second.show()
    assert second.size() == size
    assert second.docks["palette"].isHidden(), "the start page has the whole window"
    second.set_project(_small_project())
    assert second.docks["problems"].isHidden()
    assert not second.docks["palette"].isHidden()
    second.undo_stack.setClean()


def test_add_dock_is_listed_and_remembered(qtbot):
    from nnstudio.ui.main_window import MainWindow
    first = MainWindow()
    qtbot.addWidget(first)
    first.show()
    dock = first.add_dock(QLabel("curves"), "Training curves", Qt.DockWidgetArea.BottomDockWidgetArea, "curves")
    assert dock.toggleViewAction() in first.panels_menu.actions()
    dock.hide()
    first.close()
    second = MainWindow()
    qtbot.addWidget(second)
    second.show()
    later = second.add_dock(QLabel("curves"), "Training curves", Qt.DockWidgetArea.BottomDockWidgetArea, "curves")
    assert later.isHidden()


def test_start_page_lists_recent_projects_and_examples(window, tmp_path, monkeypatch):
    examples = tmp_path / "examples"
    examples.mkdir()
    (examples / "xor.json").write_text(json.dumps({"format": "nnstudio.project", "version": 1, "name": "XOR",
                                                   "description_en": "two inputs", "graph": {"nodes": [], "edges": []}}),
                                       encoding="utf-8")
    import nnstudio.ui.start_page as start_page
    monkeypatch.setattr(start_page, "resource", lambda *parts: tmp_path.joinpath(*parts))
    path = tmp_path / "mine.nnproj"
    window.set_project(_small_project())
    assert window.save_as(path)
    window._show_start_page()
    page = window.start_page
    assert page.recent_list.item(0).text().startswith("mine.nnproj")
    assert page.gallery.names() == ["XOR"]  # an example without a lesson, under "More examples"
    fired = []
    window.draw_digit_requested.connect(lambda: fired.append(True))
    page.draw_button.click()
    assert fired == [True]
    page.example_requested.emit(str(examples / "xor.json"))
    assert window.project.name == "XOR" and window.project.path is None


def test_run_gui_opens_the_given_project_and_returns_the_exit_code(tmp_path):
    """run_gui in its own process (it runs and ends the application's event loop)."""
    import json
    import os
    import subprocess
    import sys

    from nnstudio.graph.project_file import save_project

    path = tmp_path / "given.nnproj"
    save_project(_small_project(), path)
    script = """
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from nnstudio.ui.app import create_application, run_gui
from nnstudio.ui.main_window import MainWindow
seen = {}
def finish():
    windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
    seen["titles"] = [w.windowTitle() for w in windows]
    seen["nodes"] = [len(w.project.graph.nodes) for w in windows if w.project is not None]
    for w in windows:
        w.close()
    QApplication.instance().exit(0)
create_application()
QTimer.singleShot(300, finish)
code = run_gui(sys.argv[1])
print("SEEN", json.dumps(seen))
sys.exit(code)
"""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.split("SEEN", 1)[1])
    assert any("given.nnproj" in t for t in seen["titles"])
    assert seen["nodes"] == [3]
