"""Crash safety: the open project is written to a recovery file every minute while it has unsaved changes.

A clean exit (or saving) removes the file, so finding one at the next start means the app did not close
properly; the window then offers to restore it.  The recovery copy is the normal project format plus a
small side file naming the project's own path, so a restored project can still be saved where it belongs.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer

from nnstudio.graph.project_file import Project, load_project, project_to_json
from nnstudio.userdirs import atomic_write_bytes, recovery_dir

AUTOSAVE_INTERVAL_MS = 60_000
RECOVERY_NAME = "autosave.nnproj"
META_NAME = "autosave.json"


@dataclass(frozen=True)
class RecoveryInfo:
    """A recovery file left by a previous run."""

    path: Path
    original_path: Path | None
    saved_at: float


def recovery_file() -> Path:
    return recovery_dir() / RECOVERY_NAME


def _meta_file() -> Path:
    return recovery_dir() / META_NAME


def pending_recovery() -> RecoveryInfo | None:
    """The recovery file of a run that did not exit cleanly, if there is one."""
    path = recovery_file()
    if not path.is_file():
        return None
    original: Path | None = None
    saved_at = path.stat().st_mtime
    try:
        meta = json.loads(_meta_file().read_text(encoding="utf-8"))
        original = Path(meta["original_path"]) if meta.get("original_path") else None
        saved_at = float(meta.get("saved_at", saved_at))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return RecoveryInfo(path, original, saved_at)


def load_recovery(info: RecoveryInfo) -> Project:
    """The recovered project, with its path set back to the file it came from (UserError when unreadable)."""
    project = load_project(info.path)
    project.path = info.original_path
    return project


def write_recovery(project: Project) -> Path:
    path = recovery_file()
    atomic_write_bytes(path, project_to_json(project).encode("utf-8"))
    meta = {"original_path": str(project.path) if project.path else None, "saved_at": time.time()}
    atomic_write_bytes(_meta_file(), json.dumps(meta).encode("utf-8"))
    return path


def discard_recovery() -> None:
    for path in (recovery_file(), _meta_file()):
        try:
            path.unlink()
        except FileNotFoundError:
            pass


class Autosaver(QObject):
    """Every ``interval_ms``, writes ``project()`` to the recovery file when ``is_modified()`` says so."""

    def __init__(self, project: Callable[[], Project | None], is_modified: Callable[[], bool],
                 interval_ms: int = AUTOSAVE_INTERVAL_MS, parent: Any = None) -> None:
        super().__init__(parent)
        self._project = project
        self._is_modified = is_modified
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.autosave_now)
        self.timer.start()
        self.last_error = ""

    def autosave_now(self) -> bool:
        """Write the recovery file if there are unsaved changes; True when written."""
        project = self._project()
        if project is None or not self._is_modified():
            return False
        try:
            write_recovery(project)
        except Exception as exc:  # noqa: BLE001 - autosave must never take the editor down
            self.last_error = str(exc)
            return False
        self.last_error = ""
        return True
