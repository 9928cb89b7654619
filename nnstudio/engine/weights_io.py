"""Reading and writing weights files: the one place that touches a weights ``.npz``.

Why this exists: the CLI, the GUI's training controller, the model, the predictor and the exporters all read
or write the same ``node_id/param`` archives.  One reader means one set of checks on a file from outside
(not a zip, a renamed ``.npy``, object or string arrays, NaN weights), one message naming the file, and one
writer means every save is atomic and never stores non-finite weights as if they were good.
"""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Mapping

import numpy as np

from nnstudio.errors import UserError

WEIGHT_KINDS = "fiu"  # float, signed and unsigned integer arrays; anything else is not a weights file


def read_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of the weights file ``path``; UserError naming the file when it cannot be used."""
    name = os.fspath(path)
    try:
        with np.load(name, allow_pickle=False) as data:
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise UserError(f"weights file '{name}' holds a single array, not an .npz archive of weights "
                                "keyed node/param")
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise UserError(f"weights file '{name}' does not exist") from None
    except IsADirectoryError:
        raise UserError(f"weights file '{name}' is a folder, not an .npz file") from None
    except UserError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError, MemoryError) as exc:
        raise UserError(f"weights file '{name}' is not a readable .npz file ({exc})") from None
    for key, value in arrays.items():
        if value.dtype.kind not in WEIGHT_KINDS:
            raise UserError(f"weights file '{name}': array '{key}' must hold numbers. Received: dtype {value.dtype}")
    return arrays


def weights_are_finite(weights: Mapping[str, np.ndarray]) -> bool:
    """Whether every value is finite (NaN or infinite weights are never a good state to keep)."""
    return all(np.isfinite(np.asarray(v)).all() for v in weights.values() if np.asarray(v).dtype.kind == "f")


def weights_bytes(weights: Mapping[str, np.ndarray]) -> bytes:
    """The ``.npz`` archive of ``weights`` in memory (written by :func:`write_weights`)."""
    buffer = io.BytesIO()
    np.savez(buffer, **{str(k): np.asarray(v) for k, v in weights.items()})
    return buffer.getvalue()


def write_weights(path: str | os.PathLike, weights: Mapping[str, np.ndarray]) -> None:
    """Write ``weights`` to ``path`` atomically; refuses non-finite weights (UserError) rather than store them."""
    from nnstudio.userdirs import atomic_write_bytes  # noqa: PLC0415

    if not weights_are_finite(weights):
        raise UserError(f"weights for '{os.fspath(path)}' contain NaN or infinite values: not saved")
    try:
        atomic_write_bytes(path, weights_bytes(weights))
    except IsADirectoryError:
        raise UserError(f"weights file '{os.fspath(path)}' is a folder: choose a file name") from None
    except OSError as exc:
        raise UserError(f"weights file '{os.fspath(path)}' cannot be written ({exc.strerror or exc})") from None


def last_good_path(path: str | os.PathLike) -> Path:
    """Where a failed run keeps its last good weights: ``net.weights.npz`` -> ``net.weights.lastgood.npz``.

    Beside the real file, never over it: a run that ended in NaN or out of memory must not replace weights
    that were fine, yet what it learned before failing is worth keeping.
    """
    p = Path(path)
    return p.with_name(p.stem + ".lastgood" + p.suffix) if p.suffix else p.with_name(p.name + ".lastgood.npz")


def check_writable(path: str | os.PathLike) -> Path:
    """``path`` if a weights file can be written there; UserError saying why not (checked before training).

    An hour of training must not end in "cannot be written": a folder, a missing or read-only parent folder
    or a special file are refused up front.
    """
    p = Path(path)
    name = os.fspath(path)
    if p.is_dir():
        raise UserError(f"weights file '{name}' is a folder: choose a file name")
    if p.exists() and not p.is_file():
        raise UserError(f"weights file '{name}' exists and is not a regular file: choose another name")
    parent = p.parent
    if not parent.exists():
        raise UserError(f"weights file '{name}' cannot be written: the folder '{os.fspath(parent)}' does not exist")
    if not parent.is_dir():
        raise UserError(f"weights file '{name}' cannot be written: '{os.fspath(parent)}' is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserError(f"weights file '{name}' cannot be written: no permission to write in the folder "
                        f"'{os.fspath(parent)}'")
    return p


__all__ = ["check_writable", "last_good_path", "read_weights", "weights_are_finite", "weights_bytes",
           "write_weights"]
