"""Per-user folders (platformdirs): downloaded datasets, the user's own digits, autosave, settings; and the one
atomic writer every save goes through."""
from __future__ import annotations

import errno
import os
import re
import shutil
import stat
from pathlib import Path
from typing import Mapping

import platformdirs

APP = "nnstudio"


def user_data_dir(create: bool = True) -> Path:
    """Root of user data; ``NNSTUDIO_DATA_DIR`` overrides it (tests point it at a temporary folder).

    With ``create`` (the default) the folder is made when missing, which raises OSError when it cannot be.
    """
    override = os.environ.get("NNSTUDIO_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP, appauthor=False))
    if create:
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


# -- atomic writes ------------------------------------------------------------------------------------------------
# Every file NN Studio writes (projects, weights, recovery copies, datasets it builds, exports) goes through
# the functions below: the new content goes to a temporary file beside the target, is flushed to disk, and
# then replaces the target in one ``os.replace``.  A target that is a symbolic link is followed, so the link
# stays a link and the file it points at gets the new content; a target that exists keeps its permission
# bits.  Temporary files are named ``.NAME.PID.tmp`` (``.bak`` for the copies kept while several files are
# replaced together), so one left by a save that was killed is recognised by its dead PID and removed at the
# next save of the same file (and by :func:`remove_stale_temporaries` at start).

_TEMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.(?:tmp|bak)$")


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether ``a`` and ``b`` name one file (through links, ``..`` and hard links); False when either is missing."""
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        try:
            return os.path.realpath(a) == os.path.realpath(b)
        except (OSError, ValueError):
            return False


def refuse_overwriting_inputs(output: str | os.PathLike, inputs: Mapping[str, str | os.PathLike | None],
                              what: str) -> None:
    """UserError when the file a command is about to write is one it reads (``inputs``: {name: path}).

    ``train p.nnproj --weights-out p.nnproj`` or ``export p.nnproj -o p.nnproj`` would replace the project
    with weights or a model: a typo must not cost the file the command was given.
    """
    from nnstudio.errors import UserError  # noqa: PLC0415

    for name, source in inputs.items():
        if source is not None and os.fspath(source) and same_file(output, source):
            raise UserError(f"{what} '{os.fspath(output)}' is {name} '{os.fspath(source)}' itself: writing it "
                            "would replace that file; choose another name (nothing was written)")


def write_target(path: str | os.PathLike) -> Path:
    """Where a write of ``path`` really lands: the file at the end of its symbolic links (or ``path`` itself)."""
    target = Path(path)
    if target.is_symlink():
        return Path(os.path.realpath(target))
    return target


def make_folders(folder: Path, for_path: Path | None = None) -> None:
    """Create ``folder`` and its missing parents; NotADirectoryError naming the file in the way when one of them
    is a file (mkdir said only "File exists" or "Not a directory").  ``for_path``: the file the folder is for,
    named as the error's file name."""
    blocking = file_in_the_way(folder)
    if blocking is not None:
        raise NotADirectoryError(errno.ENOTDIR, f"'{os.fspath(blocking)}' is a file, not a folder",
                                 os.fspath(for_path or folder))
    folder.mkdir(parents=True, exist_ok=True)


def file_in_the_way(folder: Path) -> Path | None:
    """The nearest of ``folder`` and its parents that exists and is not a folder (so ``folder`` cannot be made),
    or None."""
    for place in (folder, *folder.parents):
        if place.exists() or place.is_symlink():
            return None if place.is_dir() else place
    return None


def _make_parent(target: Path) -> None:
    make_folders(target.parent, target)


def _refuse_special(target: Path) -> None:
    """OSError when ``target`` exists and is not a regular file: replacing ``/dev/full`` or a FIFO with a
    regular file (which root may do) would destroy it rather than write to it."""
    try:
        mode = os.stat(target).st_mode
    except OSError:  # missing (a new file), or a dangling link: nothing there to destroy
        return
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "it is a folder", os.fspath(target))
    if not stat.S_ISREG(mode):
        raise OSError(errno.EEXIST, "it exists and is not a regular file (a device, pipe or socket)",
                      os.fspath(target))


def temporary_path(target: Path, suffix: str = "tmp") -> Path:
    """The temporary name this process uses beside ``target`` (``.NAME.PID.tmp``)."""
    return target.with_name(f".{target.name}.{os.getpid()}.{suffix}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's live process, or a number we cannot ask about: leave its file alone
    return True


def remove_stale_temporaries(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Delete the temporary files that saves killed before they finished left in ``folder``.

    Only files named like ours (``.NAME.PID.tmp`` / ``.bak``) whose process is no longer running are removed,
    and with ``name`` only those of that one target; returns what was removed.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_PATTERN.match(entry.name)
        if match is None or (name is not None and match.group("name") != name):
            continue
        if _pid_alive(int(match.group("pid"))):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def _write_temporary(target: Path, data: bytes, suffix: str = "tmp") -> Path:
    """``data`` in a fresh temporary file beside ``target``, on disk, with ``target``'s permission bits."""
    tmp = temporary_path(target, suffix)
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:  # a new file: the process's umask decides, as for any new file
        return tmp
    try:
        os.chmod(tmp, mode)
    except OSError:
        pass
    return tmp


def replace_file(source: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Move the finished file ``source`` over ``path`` as a save would: through ``path``'s symbolic links and
    keeping its permission bits.  Returns the file that was replaced."""
    target = write_target(path)
    _refuse_special(target)
    remove_stale_temporaries(target.parent, target.name)
    try:
        os.chmod(source, stat.S_IMODE(os.stat(target).st_mode))
    except OSError:
        pass
    os.replace(source, target)
    return target


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file beside it, fsync, then ``os.replace``."""
    target = write_target(path)
    _refuse_special(target)
    _make_parent(target)
    remove_stale_temporaries(target.parent, target.name)
    tmp = temporary_path(target)
    try:
        tmp = _write_temporary(target, data)
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
    temps: dict[Path, Path] = {}
    backups: dict[Path, Path] = {}
    done: list[Path] = []
    try:
        for target in map(write_target, files):
            _refuse_special(target)  # all of them before any is written
        for path, data in files.items():
            target = write_target(path)
            _make_parent(target)
            remove_stale_temporaries(target.parent, target.name)
            temps[target] = temporary_path(target)
            temps[target] = _write_temporary(target, data)
        for target, tmp in temps.items():
            if target.exists():
                backup = temporary_path(target, "bak")
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
