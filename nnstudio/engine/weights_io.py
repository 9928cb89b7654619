"""Reading and writing weights files: the one place that touches a weights ``.npz``.

Why this exists: the CLI, the GUI's training controller, the model, the predictor and the exporters all read
or write the same ``node_id/param`` archives.  One reader means one set of checks on a file from outside
(not a zip, a renamed ``.npy``, object or string arrays, NaN weights), one message naming the file, and one
writer means every save is atomic and never stores non-finite weights as if they were good.
"""
from __future__ import annotations

import io
import os
import struct
import tokenize
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO, Mapping

import numpy as np

from nnstudio.errors import UserError
from nnstudio.safe_files import open_regular

WEIGHT_KINDS = "fiu"  # float, signed and unsigned integer arrays; anything else is not a weights file
NUMBER_KINDS = "biuf"  # what a dataset archive may hold: booleans and real numbers

# A zip member may expand far beyond its compressed size (a "zip bomb").  Members may declare in total the
# file's own size (stored arrays) plus this much expansion: generous for real weights, whose compressed
# form is rarely 100 times smaller, and never more than MAX_EXPANSION however large the file.
EXPANSION_FACTOR = 100
MIN_EXPANSION = 64 * 2**20
MAX_EXPANSION = 2 * 2**30
MAX_MEMBERS = 200_000
MAX_HEADER_BYTES = 10_000  # NumPy's own limit for a .npy header
NPY_MAGIC = b"\x93NUMPY"

# Exceptions a damaged or hostile archive can raise from zipfile, zlib and NumPy's header parser.
_BROKEN = (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError, MemoryError, struct.error, zlib.error,
           NotImplementedError, RuntimeError, OverflowError, SyntaxError, TypeError, IndexError,
           tokenize.TokenError)


def expansion_limit(file_size: int) -> int:
    """The most bytes the members of a ``file_size``-byte archive may declare in total."""
    return file_size + min(MAX_EXPANSION, max(MIN_EXPANSION, EXPANSION_FACTOR * file_size))


def read_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The arrays of the weights file ``path``; UserError naming the file when it cannot be used.

    See :func:`read_npz_arrays` for the checks.
    """
    return read_npz_arrays(path, f"weights file '{os.fspath(path)}'", WEIGHT_KINDS, "weights")


def read_starting_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """The weights a training run starts from (``--weights-in``, ``--continue``): as :func:`read_weights`, and
    refused when a value is NaN or infinite (the run would be NaN from its first step)."""
    weights = read_weights(path)
    bad = unusable_weight(weights)
    if bad is not None:
        raise UserError(f"weights file '{os.fspath(path)}': '{bad}' holds NaN or infinite values, or values beyond "
                        "float32's range (about 3.4e38); training cannot start from them")
    return weights


def unusable_weight(weights: Mapping[str, np.ndarray]) -> str | None:
    """The name of the first array with a value that is not finite once in float32, the engine's type (a float64
    1e300 is finite, and infinite in the network), else None."""
    for name, value in weights.items():
        value = np.asarray(value)
        if value.dtype.kind == "f":
            with np.errstate(over="ignore"):
                if not np.isfinite(value.astype(np.float32, copy=False)).all():
                    return str(name)
    return None


def read_npz_arrays(path: str | os.PathLike, label: str, kinds: str = NUMBER_KINDS,
                    what: str = "arrays") -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` file ``path`` (weights, a dataset, a cache); UserError starting with
    ``label`` when it cannot be used.  ``kinds`` are the NumPy dtype kinds accepted; ``what`` names the
    contents in messages ("weights", "arrays").

    Everything is checked before any array data is read: the path is a regular file (not a folder, a FIFO
    or ``/dev/zero``), it is a zip archive (a renamed ``.npy`` is named as such), every member is a ``.npy``
    array, stored or deflated, unencrypted and named once, whose header declares numbers (no strings,
    complex values, objects or records) in exactly as many bytes as the member holds, and the members
    together declare no more than :func:`expansion_limit` of the file's size.  Reading then stops at the
    declared size, so a lying header or a truncated stream cannot make it read or allocate more.
    """
    fh, size = _open_regular(path, label, ".npz")
    with fh:
        try:
            return _read_archive(fh, size, label, kinds, what)
        except UserError:
            raise
        except _BROKEN as exc:
            raise UserError(f"{label} is not a readable .npz file ({type(exc).__name__}: {exc})") from None


def _open_regular(path: str | os.PathLike, label: str, suffix: str) -> tuple[BinaryIO, int]:
    """``path`` opened for reading and its size; UserError unless it is a regular file."""
    return open_regular(path, label, f"an {suffix} file")


def _read_archive(fh: BinaryIO, size: int, label: str, kinds: str, what: str) -> dict[str, np.ndarray]:
    head = fh.read(len(NPY_MAGIC))
    fh.seek(0)
    if head == NPY_MAGIC:
        keyed = " keyed node/param" if what == "weights" else ""
        raise UserError(f"{label} holds a single array (a .npy file), not an .npz archive of {what}{keyed}")
    if not zipfile.is_zipfile(fh):
        raise UserError(f"{label} is not an .npz file: expected a zip archive of .npy arrays")
    fh.seek(0)
    with zipfile.ZipFile(fh) as archive:
        members = archive.infolist()
        if len(members) > MAX_MEMBERS:
            raise UserError(f"{label} has {len(members):,} members; expected at most {MAX_MEMBERS:,}")
        seen: set[str] = set()
        declared = 0
        for member in members:
            where = f"{label}, member '{member.filename}'"
            if not member.filename.endswith(".npy"):
                raise UserError(f"{where}: expected only .npy arrays in the archive")
            if member.filename in seen:
                raise UserError(f"{where} appears twice; expected each array once")
            seen.add(member.filename)
            if member.flag_bits & 0x1:
                raise UserError(f"{where} is encrypted; expected plain NumPy arrays")
            if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise UserError(f"{where} uses compression method {member.compress_type}; expected stored or "
                                "deflated, as NumPy writes")
            if member.compress_size > size or (member.compress_type == zipfile.ZIP_STORED
                                               and member.compress_size != member.file_size):
                raise UserError(f"{where} declares {member.compress_size:,} bytes in a {size:,}-byte file: "
                                "the file is truncated or damaged")
            declared += member.file_size
        limit = expansion_limit(size)
        if declared > limit:
            raise UserError(f"{label} would expand to {declared:,} bytes from {size:,}; refusing more than "
                            f"{limit:,} (a damaged file or a zip bomb)")
        return {member.filename[:-4]: _read_member(archive, member, label, kinds, what) for member in members}


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, label: str, kinds: str,
                 what: str) -> np.ndarray:
    where = f"{label}, array '{member.filename[:-4]}'"
    with archive.open(member) as fp:
        return _read_npy(fp, member.file_size, where, kinds, what, "the member")


def _read_npy(fp: BinaryIO, total: int, where: str, kinds: str, what: str, holder: str) -> np.ndarray:
    """One ``.npy`` array of ``total`` bytes from ``fp``: header checked, then exactly its data read."""
    version = np.lib.format.read_magic(fp)
    with warnings.catch_warnings():  # NumPy warns about old (Python 2) headers: not for the user's screen
        warnings.simplefilter("ignore")
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp, max_header_size=MAX_HEADER_BYTES)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp, max_header_size=MAX_HEADER_BYTES)
    if version not in ((1, 0), (2, 0)):
        raise UserError(f"{where}: .npy format version {version[0]}.{version[1]} is not used for {what}; "
                        "expected 1.0 or 2.0")
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
        expected = "float or integer" if "b" not in kinds else "float, integer or boolean"
        raise UserError(f"{where} must hold numbers ({expected}). Received: dtype {dtype}")
    count = 1
    for dim in shape:
        count *= int(dim)
    nbytes = count * dtype.itemsize
    header_bytes = fp.tell()
    if header_bytes + nbytes != total:
        raise UserError(f"{where}: its header declares shape {tuple(shape)} of {dtype} ({nbytes:,} bytes), "
                        f"but {holder} holds {total - header_bytes:,} bytes of data")
    data = bytearray(nbytes)
    view = memoryview(data)
    got = 0
    while got < nbytes:
        chunk = fp.read(min(nbytes - got, 1 << 24))
        if not chunk:
            raise UserError(f"{where} is truncated: {got:,} of {nbytes:,} bytes")
        view[got:got + len(chunk)] = chunk
        got += len(chunk)
    if fp.read(1):  # also lets zipfile check the CRC at the end of the member
        raise UserError(f"{where} holds more data than its header declares")
    array = np.frombuffer(data, dtype=dtype, count=count)
    array = array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False) if not dtype.isnative else array


def read_npy_array(path: str | os.PathLike, label: str, kinds: str = NUMBER_KINDS) -> np.ndarray:
    """The one array in the ``.npy`` file ``path`` with the same checks as :func:`read_npz_arrays`: a regular
    file, numbers only (no strings or objects), a header that agrees with the file's size; UserError
    starting with ``label`` otherwise."""
    fh, size = _open_regular(path, label, ".npy")
    with fh:
        try:
            return _read_npy(fh, size, label, kinds, "arrays", "the file")
        except UserError:
            raise
        except _BROKEN as exc:
            raise UserError(f"{label} is not a readable .npy file ({type(exc).__name__}: {exc})") from None


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


__all__ = ["check_writable", "last_good_path", "read_npy_array", "read_npz_arrays", "read_weights", "unusable_weight",
           "weights_are_finite", "weights_bytes", "write_weights"]
