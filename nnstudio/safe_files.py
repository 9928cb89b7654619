"""Opening a file from outside without hanging: the one place that checks "is this a regular file?".

Why this exists: a project, a weights archive, an array or a dataset file chosen by a user may be a folder,
``/dev/zero`` or a FIFO.  Reading one would wait for a writer forever or fill the memory, so every reader
opens it here: without blocking, checked with ``fstat``, and refused with one message that names it.
"""
from __future__ import annotations

import os
import stat
from typing import BinaryIO

from nnstudio.errors import UserError
from nnstudio.i18n import _


def open_regular(path: str | os.PathLike, label: str, expected: str) -> tuple[BinaryIO, int]:
    """``path`` opened for binary reading, and its size; UserError unless it is a regular file.

    ``label`` names the file in messages ("project file 'a.nnproj'"); ``expected`` says what it should be
    ("a project file").
    """
    name = os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below.
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise UserError(_("{label} does not exist").format(label=label)) from None
    except IsADirectoryError:
        raise UserError(f"{label} is a folder, not {expected}") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{label} cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise UserError(f"{label} is a folder, not {expected}")
        raise UserError(f"{label} is not a regular file (a device, pipe or socket); expected {expected}")
    return os.fdopen(fd, "rb"), info.st_size


__all__ = ["open_regular"]
