"""Per-user folders (platformdirs): downloaded datasets, the user's own digits, autosave, settings."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Mapping

import platformdirs

APP = "nnstudio"


def user_data_dir() -> Path:
    """Root of user data; ``NNSTUDIO_DATA_DIR`` overrides it (tests point it at a temporary folder)."""
    override = os.environ.get("NNSTUDIO_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def datasets_dir() -> Path:
    path = user_data_dir() / "datasets"
    path.mkdir(parents=True, exist_ok=True)
    return path


def recovery_dir() -> Path:
    path = user_data_dir() / "recovery"
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file beside it, fsync, then ``os.replace``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write_files(files: Mapping[Path, bytes]) -> None:
    """Write several files so that either all of them change or none does (a project and its weights).

    Every new content goes to a temporary file first, so a full disk or a missing permission changes
    nothing.  Each existing target is kept as a hard link (or a copy) until all are replaced, and put
    back if a later one fails, so a project is never left beside weights that belong to something else.
    """
    pid = os.getpid()
    temps: dict[Path, Path] = {}
    backups: dict[Path, Path] = {}
    done: list[Path] = []
    try:
        for target, data in files.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{pid}.tmp")
            temps[target] = tmp
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        for target, tmp in temps.items():
            if target.exists():
                backup = target.with_name(f".{target.name}.{pid}.bak")
                try:
                    os.link(target, backup)
                except OSError:  # no hard links on this file system
                    shutil.copy2(target, backup)
                backups[target] = backup
            os.replace(tmp, target)
            done.append(target)
    except BaseException:
        for target in reversed(done):  # undo: the earlier files get their old content back
            try:
                if target in backups:
                    os.replace(backups.pop(target), target)
                else:
                    target.unlink()
            except OSError:
                pass
        raise
    finally:
        for leftover in (*temps.values(), *backups.values()):
            try:
                leftover.unlink()
            except OSError:
                pass
