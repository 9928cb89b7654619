"""Crash safety: each running window writes its open project to its own autosave file every minute while it has
unsaved changes.

Why per instance: two NN Studio windows (two processes, or two windows of one) must never share one recovery
file, or the second restores and then deletes the first's live work.  Each autosave slot is three files in the
recovery folder, ``autosave-ID.nnproj`` (the normal project format), ``autosave-ID.json`` (the project's own
path, so a restored project can still be saved where it belongs) and ``autosave-ID.lock``, which the owner holds
locked (``fcntl.flock``, or the owner's PID where there is no flock) for as long as it runs.  The kernel drops
the lock when the process dies, however it dies, so at start only *stale* autosaves (nobody holds their lock)
are offered for recovery; a live one is never restored or deleted by anyone but its owner.  A clean exit (or a
save) removes the owner's files.  An autosave written by a newer NN Studio (a newer project format) is kept,
not deleted: this version cannot read it and a newer one still can.  Failures to autosave (a full disk, an
unwritable folder) are shown in the window's status bar until an autosave works again.
"""
from __future__ import annotations

import json
import math
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel, QStatusBar

from nnstudio.errors import UserError
from nnstudio.graph.project_file import FORMAT_VERSION, Project, load_project, project_to_json
from nnstudio.safe_files import open_regular
from nnstudio.ui.i18n import tr
from nnstudio.userdirs import atomic_write_bytes, recovery_dir, remove_stale_temporaries, user_data_dir

try:  # POSIX: a lock the kernel releases when its process dies
    import fcntl
except ImportError:  # pragma: no cover - Windows: the PID in the lock file says whether the owner runs
    fcntl = None  # type: ignore[assignment]

AUTOSAVE_INTERVAL_MS = 60_000
PREFIX = "autosave"
META_MAX_BYTES = 1 << 20  # an autosave's notes (where it came from, when) are a few hundred bytes
LEGACY_NAME = "autosave.nnproj"  # the one shared file of earlier versions: never locked, so always stale


@dataclass(frozen=True)
class RecoveryInfo:
    """An autosave left by an instance that is no longer running."""

    path: Path
    original_path: Path | None
    saved_at: float
    newer_version: int | None = None  # the file's format version when this NN Studio cannot read it

    @property
    def meta_path(self) -> Path:
        return self.path.with_suffix(".json")

    @property
    def lock_path(self) -> Path:
        return self.path.with_suffix(".lock")


def _pid_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError, ValueError):
        return True
    return True


def lock_is_held(lock_path: Path) -> bool:
    """Whether a running instance (this process included) holds ``lock_path``."""
    if fcntl is None:  # pragma: no cover
        try:
            return _pid_running(int(lock_path.read_text(encoding="ascii").split()[0]))
        except (OSError, ValueError, IndexError):
            return False
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except OSError:  # no lock file (or not ours to open): nobody holds it
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True  # someone holds it
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class AutosaveSlot:
    """This instance's autosave file, its side file and the lock that says its owner is running."""

    def __init__(self, folder: Path | None = None) -> None:
        self.error = ""
        self._lock: IO[bytes] | None = None
        self._fixed_folder = folder
        self.folder = folder or _intended_recovery_dir()
        self.path = self.folder / f"{PREFIX}-{os.getpid()}-{secrets.token_hex(4)}.nnproj"
        try:
            self._ensure_folder()
        except OSError as exc:  # an unusable user folder: the window still works, autosaving says why not
            self.error = str(exc.strerror or exc)
            return
        remove_stale_temporaries(self.folder)  # the leftovers of autosaves killed mid-write
        self._take_lock()

    def _ensure_folder(self) -> None:
        if self._fixed_folder is None:
            recovery_dir()  # creates it; OSError when it cannot
        elif not self.folder.is_dir():
            self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def meta_path(self) -> Path:
        return self.path.with_suffix(".json")

    @property
    def lock_path(self) -> Path:
        return self.path.with_suffix(".lock")

    def _take_lock(self) -> None:
        try:
            fh = open(self.lock_path, "wb")  # noqa: SIM115 - held open for the life of the window
        except OSError as exc:
            self.error = str(exc.strerror or exc)
            return
        try:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            fh.write(f"{os.getpid()}\n".encode("ascii"))
            fh.flush()
        except OSError as exc:
            fh.close()
            self.error = str(exc.strerror or exc)
            return
        self._lock = fh

    @property
    def locked(self) -> bool:
        return self._lock is not None

    def write(self, project: Project) -> Path:
        """Write ``project`` (and its side file) atomically; OSError / ValueError when it cannot be written."""
        if self._lock is None:
            self._ensure_folder()  # OSError while it still cannot be used
            self._take_lock()  # the folder may have become usable since the start
            if self._lock is None:
                raise OSError(self.error or "the autosave lock cannot be taken")
        data = project_to_json(project).encode("utf-8")
        atomic_write_bytes(self.path, data)
        meta = {"original_path": str(project.path) if project.path else None, "saved_at": time.time(),
                "pid": os.getpid(), "version": FORMAT_VERSION}
        atomic_write_bytes(self.meta_path, json.dumps(meta).encode("utf-8"))
        return self.path

    def discard(self) -> None:
        """Remove the autosave (after a save: nothing unsaved is left); the lock stays held."""
        for path in (self.path, self.meta_path):
            try:
                path.unlink()
            except OSError:
                pass

    def release(self) -> None:
        """A clean exit: remove the autosave and the lock file, and let the lock go."""
        self.discard()
        if self._lock is not None:
            try:
                self.lock_path.unlink()
            except OSError:
                pass
            self.drop_lock()

    def drop_lock(self) -> None:
        """Let the lock go without removing anything, as a process that dies does."""
        if self._lock is not None:
            self._lock.close()  # closing the descriptor releases the flock
            self._lock = None


def _intended_recovery_dir() -> Path:
    """Where the recovery folder belongs, without creating it (creating it may be what fails)."""
    return user_data_dir(create=False) / "recovery"


def _file_version(path: Path) -> int | None:
    """The format version a project file declares (None when it cannot be read as one)."""
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read(64 * 1024 * 1024))
    except (OSError, ValueError, RecursionError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def _info(path: Path) -> RecoveryInfo:
    original: Path | None = None
    try:
        saved_at = path.stat().st_mtime
    except OSError:
        saved_at = 0.0
    # The notes beside an autosave are read with care: a damaged one (a 400-digit "saved_at", a pipe in its
    # place) stopped the app at its start or hung it.  A note that cannot be read is left out.
    try:
        handle, size = open_regular(path.with_suffix(".json"), f"autosave notes '{path.with_suffix('.json')}'",
                                    "a text file")
        with handle:
            if size > META_MAX_BYTES:
                raise ValueError("too big")
            meta = json.loads(handle.read(META_MAX_BYTES).decode("utf-8"))
        original = Path(meta["original_path"]) if meta.get("original_path") else None
        when = float(meta.get("saved_at", saved_at))
        if math.isfinite(when):
            saved_at = when
    except (UserError, OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError):
        pass
    version = _file_version(path)
    newer = version if version is not None and version > FORMAT_VERSION else None
    return RecoveryInfo(path, original, saved_at, newer)


def pending_recoveries(folder: Path | None = None) -> list[RecoveryInfo]:
    """The autosaves of instances that are no longer running, newest first (live ones are left alone)."""
    try:
        folder = folder or recovery_dir()
        candidates = sorted(folder.glob(f"{PREFIX}*.nnproj"))
    except OSError:
        return []
    found = []
    for path in candidates:
        if not (path.name == LEGACY_NAME or path.name.startswith(f"{PREFIX}-")) or not path.is_file():
            continue
        if path.name != LEGACY_NAME and lock_is_held(path.with_suffix(".lock")):
            continue  # its window is still open: its owner's, not ours
        found.append(_info(path))
    return sorted(found, key=lambda info: info.saved_at, reverse=True)


def pending_recovery(folder: Path | None = None) -> RecoveryInfo | None:
    """The newest stale autosave that this version can read, if there is one."""
    return next((info for info in pending_recoveries(folder) if info.newer_version is None), None)


def load_recovery(info: RecoveryInfo) -> Project:
    """The recovered project, with its path set back to the file it came from (UserError when unreadable)."""
    project = load_project(info.path)
    project.path = info.original_path
    return project


def discard(info: RecoveryInfo) -> None:
    """Delete a stale autosave (restored into a window, declined or unreadable); never a live one."""
    if info.path.name != LEGACY_NAME and lock_is_held(info.lock_path):
        return
    for path in (info.path, info.meta_path, info.lock_path):
        try:
            path.unlink()
        except OSError:
            pass


def write_recovery(project: Project, folder: Path | None = None) -> Path:
    """An autosave as a crashed instance leaves it (no running owner); for tests and tools."""
    slot = AutosaveSlot(folder)
    path = slot.write(project)
    slot.drop_lock()
    return path


class Autosaver(QObject):
    """Every ``interval_ms``, writes ``project()`` to this window's autosave slot when ``is_modified()`` says so.

    ``failed(message)`` is emitted when an autosave fails (and again only when the reason changes);
    ``recovered()`` when one works again.  With ``status_bar`` the failure stays visible there meanwhile.
    """

    failed = Signal(str)
    recovered = Signal()

    def __init__(self, project: Callable[[], Project | None], is_modified: Callable[[], bool],
                 interval_ms: int = AUTOSAVE_INTERVAL_MS, parent: Any = None,
                 status_bar: QStatusBar | None = None, folder: Path | None = None) -> None:
        super().__init__(parent)
        self._project = project
        self._is_modified = is_modified
        self.slot = AutosaveSlot(folder)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.autosave_now)
        self.timer.start()
        self.last_error = ""
        self.label: QLabel | None = None
        if status_bar is not None:
            self.label = QLabel()
            self.label.setObjectName("autosaveProblem")
            self.label.setStyleSheet("color: #b00020;")
            self.label.hide()
            status_bar.addPermanentWidget(self.label)

    def autosave_now(self) -> bool:
        """Write the autosave if there are unsaved changes; True when written."""
        project = self._project()
        if project is None or not self._is_modified():
            return False
        try:
            self.slot.write(project)
        except Exception as exc:  # noqa: BLE001 - autosave must never take the editor down; it is shown instead
            self._failed(getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)
            return False
        if self.last_error:
            self.last_error = ""
            if self.label is not None:
                self.label.hide()
            self.recovered.emit()
        return True

    def _failed(self, reason: str) -> None:
        message = tr("Autosave failed: {error} (folder {folder})", error=reason, folder=str(self.slot.folder))
        if message == self.last_error:
            return
        self.last_error = message
        if self.label is not None:
            self.label.setText(tr("Autosave failed"))
            self.label.setToolTip(message)
            self.label.show()
            bar = self.label.parentWidget()
            if isinstance(bar, QStatusBar):
                bar.showMessage(message, 15000)
        self.failed.emit(message)

    def discard(self) -> None:
        self.slot.discard()

    def release(self) -> None:
        self.timer.stop()
        self.slot.release()


__all__ = ["AUTOSAVE_INTERVAL_MS", "AutosaveSlot", "Autosaver", "RecoveryInfo", "discard", "load_recovery",
           "lock_is_held", "pending_recoveries", "pending_recovery", "write_recovery"]
