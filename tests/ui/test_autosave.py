"""Autosave per running instance: each window has its own autosave file and holds its lock; only autosaves whose
owner is gone are offered at start; a second window (or a second process) never restores or deletes a live one;
an autosave from a newer file format is kept; autosave failures are shown in the status bar."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QMessageBox

from nnstudio import userdirs
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import FORMAT_VERSION, Project, load_project, project_to_json
from nnstudio.ui import recovery

REPO = Path(__file__).resolve().parents[2]


def _project(name: str = "tiny") -> Project:
    g = Graph()
    g.add_node("Input", {"shape": [2]}, (0, 0))
    g.add_node("Dense", {"units": 8}, (260, 0))
    g.connect("input_1", "dense_1")
    return Project(name=name, graph=g)


def _window(qtbot):
    from nnstudio.ui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    return win


def _edited(qtbot, name: str):
    """A window with unsaved changes, autosaved once."""
    win = _window(qtbot)
    win.set_project(_project(name))
    win.scene.add_block("Dense", QPointF(0, 300))
    assert win.autosaver.autosave_now()
    return win


def _autosaves() -> list[str]:
    return sorted(p.name for p in userdirs.recovery_dir().glob("autosave*.nnproj"))


def test_each_window_has_its_own_autosave_and_a_second_never_takes_the_first_ones(qtbot):
    first = _edited(qtbot, "first")
    second = _edited(qtbot, "second")
    assert first.autosaver.slot.path != second.autosaver.slot.path and len(_autosaves()) == 2
    assert load_project(first.autosaver.slot.path).name == "first"
    assert recovery.pending_recoveries() == []  # both owners are running
    third = _window(qtbot)
    assert not third.offer_recovery(ask=False) and third.project is None
    assert third.close()
    assert len(_autosaves()) == 2  # a clean exit removes only its own files
    second.undo_stack.setClean()
    assert second.close()
    assert _autosaves() == [first.autosaver.slot.path.name]
    assert not second.autosaver.slot.lock_path.exists()


def test_a_live_autosave_of_another_process_is_left_alone_until_that_process_dies(qtbot, dialog_answers):
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
    code = ("import sys, time\n"
            "from nnstudio.graph.project_file import project_from_dict\n"
            "from nnstudio.ui.recovery import AutosaveSlot\n"
            "slot = AutosaveSlot()\n"
            f"slot.write(project_from_dict({json.loads(project_to_json(_project('other')))!r}))\n"
            "print(slot.path, flush=True)\n"
            "time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        path = Path(proc.stdout.readline().strip())
        assert path.is_file() and path.parent == userdirs.recovery_dir()
        win = _window(qtbot)
        dialog_answers.append(QMessageBox.StandardButton.No)  # would decline (and delete) if it were asked
        assert not win.offer_recovery(ask=True)
        assert dialog_answers, "the running process's autosave was offered"
        assert path.is_file() and path.with_suffix(".json").is_file()
        recovery.discard(recovery.RecoveryInfo(path, None, 0.0))  # asked to delete a live one: refuses
        assert path.is_file()
        proc.send_signal(signal.SIGKILL)  # it crashes: the kernel drops its lock
        proc.wait(timeout=30)
        infos = recovery.pending_recoveries()
        assert [info.path for info in infos] == [path]
        dialog_answers.clear()
        assert win.offer_recovery(ask=False)
        assert win.project.name == "other" and win.isWindowModified()
        assert not path.exists() and not path.with_suffix(".lock").exists()
        assert load_project(win.autosaver.slot.path).name == "other"  # now this window's own autosave
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_declining_deletes_only_the_stale_autosave(qtbot, dialog_answers):
    live = _edited(qtbot, "live")
    stale = recovery.write_recovery(_project("crashed"))
    assert [info.path for info in recovery.pending_recoveries()] == [stale]
    win = _window(qtbot)
    dialog_answers.append(QMessageBox.StandardButton.No)
    assert not win.offer_recovery()
    assert not stale.exists() and live.autosaver.slot.path.is_file()


def test_the_single_autosave_of_earlier_versions_is_offered(qtbot):
    legacy = userdirs.recovery_dir() / "autosave.nnproj"
    legacy.write_text(project_to_json(_project("old")), encoding="utf-8")
    win = _window(qtbot)
    assert win.offer_recovery(ask=False) and win.project.name == "old"
    assert not legacy.exists()


def test_an_autosave_from_a_newer_version_is_kept(qtbot, dialog_answers):
    path = recovery.write_recovery(_project("future"))
    data = json.loads(path.read_text(encoding="utf-8"))
    data["version"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(data), encoding="utf-8")
    win = _window(qtbot)
    dialog_answers.append(QMessageBox.StandardButton.No)
    assert not win.offer_recovery(ask=True)
    assert dialog_answers, "an autosave this version cannot open was offered"
    assert path.is_file() and path.with_suffix(".json").is_file()
    assert str(path) in win.statusBar().currentMessage() and "newer" in win.statusBar().currentMessage()
    assert recovery.pending_recovery() is None
    assert [info.newer_version for info in recovery.pending_recoveries()] == [FORMAT_VERSION + 1]


def test_an_autosave_failure_is_shown_until_one_works_again(qtbot, monkeypatch):
    win = _window(qtbot)
    win.set_project(_project())
    win.scene.add_block("Dense", QPointF(0, 300))
    real = recovery.atomic_write_bytes

    def disk_full(path, data):
        raise OSError(28, "No space left on device")

    failures: list[str] = []
    win.autosaver.failed.connect(failures.append)
    monkeypatch.setattr(recovery, "atomic_write_bytes", disk_full)
    assert not win.autosaver.autosave_now()
    assert not win.autosaver.autosave_now()  # the same reason again: said once
    label = win.autosaver.label
    assert len(failures) == 1 and "No space left on device" in failures[0]
    assert label.isVisibleTo(win) and label.text() == "Autosave failed"
    assert "No space left on device" in label.toolTip()
    assert "No space left on device" in win.statusBar().currentMessage()
    monkeypatch.setattr(recovery, "atomic_write_bytes", real)
    with qtbot.waitSignal(win.autosaver.recovered, timeout=1000):
        assert win.autosaver.autosave_now()
    assert not label.isVisibleTo(win) and win.autosaver.last_error == ""


def test_an_unusable_recovery_folder_is_reported_not_fatal(qtbot, tmp_path, monkeypatch):
    data_dir = tmp_path / "data-with-a-file"
    data_dir.mkdir()
    (data_dir / "recovery").write_text("not a folder")
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(data_dir))
    win = _window(qtbot)  # the window still opens
    assert not win.autosaver.slot.locked
    win.set_project(_project())
    win.scene.add_block("Dense", QPointF(0, 300))
    assert not win.autosaver.autosave_now()
    assert win.autosaver.label.isVisibleTo(win) and "recovery" in win.autosaver.last_error
    assert not win.offer_recovery(ask=False)


@pytest.mark.skipif(os.name != "posix", reason="flock")
def test_lock_is_held_sees_a_lock_of_this_process_and_not_a_dropped_one(tmp_path):
    slot = recovery.AutosaveSlot(tmp_path)
    assert slot.locked and recovery.lock_is_held(slot.lock_path)
    assert slot.lock_path.read_text(encoding="ascii").strip() == str(os.getpid())
    slot.drop_lock()
    assert not recovery.lock_is_held(slot.lock_path)
    assert not recovery.lock_is_held(tmp_path / "missing.lock")


@pytest.mark.parametrize("notes", ['{"original_path": "x", "saved_at": 1' + "0" * 400 + "}",
                                   '{"original_path": "x", "saved_at": NaN}', "[" * 100000, "pipe"])
def test_damaged_notes_beside_an_autosave_do_not_stop_the_start(qtbot, notes):
    """A 400-digit "saved_at" stopped the app at its start (OverflowError); a pipe in the notes' place hung it.
    The autosave is still offered, with its file's own time."""
    folder = userdirs.recovery_dir()
    stale = folder / "autosave-0123456789abcdef.nnproj"
    stale.write_text(project_to_json(_project("rescued")), encoding="utf-8")
    meta = stale.with_suffix(".json")
    if notes == "pipe":
        os.mkfifo(meta)
    else:
        meta.write_text(notes, encoding="utf-8")
    found = recovery.pending_recoveries()
    assert [info.path for info in found] == [stale]
    assert found[0].saved_at == pytest.approx(stale.stat().st_mtime)
    win = _window(qtbot)
    assert win.offer_recovery(ask=False) and win.project.name == "rescued"
