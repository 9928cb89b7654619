"""Readers for data on disk: IDX files (MNIST format), ``.npz``, ``.csv`` and folders of images.

Why this exists: the built-in MNIST / Fashion-MNIST loaders and the user's own data ("user:<path>") share
one set of readers, and every way a file can be wrong turns into a :class:`UserError` that names the file,
what was expected and what was found, e.g. ``train-images-idx3-ubyte.gz: not an IDX file (magic
0x1f8b0800, expected 0x00000803)``.

Layouts understood by :func:`load_user_dataset`:

* a folder with the four standard IDX files (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte``,
  ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``; gzip or not; ``.`` instead of ``-`` before
  ``idx`` also accepted);
* ``.npz`` with ``x`` and ``y`` (split here) or ``x_train``, ``y_train``, ``x_test``, ``y_test``;
* ``.csv`` with a header row; the label column is ``label`` or else the first column, the others are
  numeric features (square counts of 0..255 integers such as ``pixel0..pixel783`` are read as images); at
  most :data:`MAX_CSV_BYTES` (256 MiB) are read;
* a folder of class sub-folders holding PNG/JPG/BMP/GIF images (or ``train/`` and ``test/`` folders that
  each hold the same class sub-folders).
"""
from __future__ import annotations

import csv
import gzip
import io
import math
import warnings
import zlib
from pathlib import Path

import numpy as np

from nnstudio.data.dataset import Dataset, split_indices
from nnstudio.engine.weights_io import read_npz_arrays
from nnstudio.errors import UserError
from nnstudio.safe_files import open_regular as safe_open
from nnstudio.memory import check_fits

IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
GZIP_MAGIC = b"\x1f\x8b"
MAX_IMAGE_PIXELS = 50_000_000  # one image; Pillow itself warns above 89 million and refuses above 179 million
MAX_CLASSES = 100_000  # more would be a mistake (or a regression target), and one-hot labels would not fit


# ----------------------------------------------------------------------------------------------- IDX
# An IDX file declares its sizes in its header; they are checked against the file before any array is
# allocated.  A gzip file cannot say its expanded size, so what it may declare is capped by how far deflate
# can expand (about 1,032 to 1) and by MAX_IDX_BYTES, and its data is read in chunks that stop at the
# declared size: a lying header or a gzip bomb cannot make the reader allocate or inflate more.
MAX_IDX_BYTES = 4 * 2**30  # one IDX file's data (the full MNIST training images are 47 MB)
GZIP_MAX_RATIO = 1100
_CHUNK = 1 << 22


def open_regular(path: Path, expected: str = "a file"):
    """``path`` opened for binary reading, refused (UserError) unless it is a regular file: a folder, a FIFO
    or ``/dev/zero`` where a data file is expected must not hang or fill the memory."""
    return safe_open(path, str(path), expected)


def _read_exactly(stream, n: int, path: Path, preallocate: bool) -> bytes | bytearray:
    """``n`` bytes from ``stream`` in chunks (UserError when it ends sooner); preallocated only when the
    file's size already vouched for them."""
    data = bytearray(n) if preallocate else bytearray()
    got = 0
    while got < n:
        chunk = stream.read(min(n - got, _CHUNK))
        if not chunk:
            raise UserError(f"{path.name}: the data ends after {got:,} of the {n:,} bytes its header declares; "
                            f"the file is truncated or damaged")
        if preallocate:
            data[got:got + len(chunk)] = chunk
        else:
            data += chunk
        got += len(chunk)
    return data


def read_idx(path: str | Path, expected_ndim: int | None = None) -> np.ndarray:
    """Read one IDX file (gzip-compressed or not, sniffed from its content) into a native-order array."""
    path = Path(path)
    fh, size = open_regular(path, "an IDX file")
    with fh:
        try:
            compressed = fh.read(2) == GZIP_MAGIC
            fh.seek(0)
            stream = gzip.GzipFile(fileobj=fh, mode="rb") if compressed else fh
            return _read_idx_stream(stream, path, size, compressed, expected_ndim)
        except (OSError, EOFError, zlib.error) as exc:
            raise UserError(f"{path.name}: the gzip data is damaged or incomplete ({exc}); "
                            f"delete the file and download it again") from None


def _read_idx_stream(stream, path: Path, size: int, compressed: bool, expected_ndim: int | None) -> np.ndarray:
    expected = f"0x000008{expected_ndim:02x}" if expected_ndim else "0x000008NN"
    head = stream.read(4)
    if len(head) < 4:
        raise UserError(f"{path.name}: not an IDX file (only {len(head)} bytes, expected a 4-byte magic "
                        f"{expected} and a header)")
    magic = int.from_bytes(head, "big")
    code, ndim = head[2], head[3]
    if head[:2] != b"\x00\x00" or code not in IDX_DTYPES or ndim == 0:
        raise UserError(f"{path.name}: not an IDX file (magic 0x{magic:08x}, expected {expected})")
    if expected_ndim is not None and ndim != expected_ndim:
        raise UserError(f"{path.name}: IDX file with {ndim} dimensions (magic 0x{magic:08x}), "
                        f"expected {expected_ndim} (magic {expected})")
    header_end = 4 + 4 * ndim
    dims_bytes = stream.read(4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise UserError(f"{path.name}: IDX header is cut short ({4 + len(dims_bytes)} bytes, expected {header_end})")
    dims = tuple(int(d) for d in np.frombuffer(dims_bytes, dtype=">u4"))
    dtype = np.dtype(IDX_DTYPES[code])
    needed = math.prod(dims) * dtype.itemsize
    shape = " x ".join(str(d) for d in dims)
    if compressed:
        limit = min(MAX_IDX_BYTES, GZIP_MAX_RATIO * size)
        if needed > limit:
            raise UserError(f"{path.name}: IDX header says {shape} values ({needed:,} bytes of data), more than "
                            f"a {size:,}-byte gzip file can hold (at most {limit:,}); the file is damaged")
    else:
        found = size - header_end
        if found != needed:
            raise UserError(f"{path.name}: IDX header says {shape} values ({needed:,} bytes of data) but the "
                            f"file holds {found:,} bytes; the file is truncated or damaged")
        if needed > MAX_IDX_BYTES:
            raise UserError(f"{path.name}: IDX data of {needed:,} bytes; at most {MAX_IDX_BYTES:,} is read")
    data = _read_exactly(stream, needed, path, preallocate=not compressed)
    if stream.read(1):  # for gzip this also checks the CRC at the end of the stream
        raise UserError(f"{path.name}: IDX header says {shape} values ({needed:,} bytes of data) but the file "
                        f"holds more; the file is damaged")
    array = np.frombuffer(data, dtype=dtype).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=False) if not dtype.isnative else array


def find_idx_files(folder: str | Path) -> dict[str, Path] | None:
    """The four standard IDX files in ``folder`` (gz or not), or None when any one is missing."""
    folder = Path(folder)
    found: dict[str, Path] = {}
    for key, stem in IDX_NAMES.items():
        dotted = stem.replace("-idx", ".idx")
        for name in (stem + ".gz", stem, dotted + ".gz", dotted):
            if (folder / name).is_file():
                found[key] = folder / name
                break
        else:
            return None
    return found


def images_to_float(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W) or (N, C, H, W) -> float32 (N, C, H, W) in [0, 1]."""
    if images.ndim == 3:
        images = images[:, None, :, :]
    out = images.astype(np.float32)
    out *= np.float32(1.0 / 255.0)
    return out


def read_idx_dataset(folder: str | Path, name: str, class_names: list[str] | None = None,
                     description: str = "", source: str = "") -> Dataset:
    """A classification dataset from the four standard IDX files in ``folder``."""
    folder = Path(folder)
    files = find_idx_files(folder)
    if files is None:
        wanted = ", ".join(f"{n}[.gz]" for n in IDX_NAMES.values())
        raise UserError(f"{folder}: expected the four IDX files {wanted}")
    parts = {}
    for split in ("train", "test"):
        images = read_idx(files[f"{split}_images"], expected_ndim=3)
        labels = read_idx(files[f"{split}_labels"], expected_ndim=1)
        if images.dtype != np.uint8 or labels.dtype != np.uint8:
            raise UserError(f"{files[f'{split}_images'].name}: expected unsigned-byte IDX data, found "
                            f"{images.dtype} images and {labels.dtype} labels")
        if images.shape[0] != labels.shape[0]:
            raise UserError(f"{files[f'{split}_labels'].name}: {labels.shape[0]} labels but "
                            f"{files[f'{split}_images'].name} holds {images.shape[0]} images")
        if images.shape[0] == 0 or images.shape[1] == 0 or images.shape[2] == 0:
            raise UserError(f"{files[f'{split}_images'].name}: holds no images (shape {images.shape}); expected "
                            f"at least one")
        if class_names is not None and labels.max(initial=0) >= len(class_names):
            where = int(np.argmax(labels >= len(class_names)))
            raise UserError(f"{files[f'{split}_labels'].name}: label {int(labels[where])} at position {where}; "
                            f"expected 0..{len(class_names) - 1} ({len(class_names)} classes)")
        parts[split] = (images, labels.astype(np.int64))
    if parts["train"][0].shape[1:] != parts["test"][0].shape[1:]:
        raise UserError(f"{files['test_images'].name}: test images are {parts['test'][0].shape[1:]} but "
                        f"{files['train_images'].name} holds {parts['train'][0].shape[1:]}; expected one size")
    n_values = sum(images.size for images, _ in parts.values())
    check_fits(n_values * 4, f"the images in {folder} ({n_values:,} values as float32)")
    parts = {split: (images_to_float(images), labels) for split, (images, labels) in parts.items()}
    num_classes = int(max(parts["train"][1].max(initial=0), parts["test"][1].max(initial=0))) + 1
    names = class_names if class_names is not None else [str(i) for i in range(num_classes)]
    return Dataset(name, parts["train"][0], parts["train"][1], parts["test"][0], parts["test"][1],
                   sample_shape=parts["train"][0].shape[1:], num_classes=max(num_classes, len(names)),
                   class_names=list(names), task="classification",
                   description=description or f"IDX files in {folder}", source=source or str(folder))


# ------------------------------------------------------------------------------------- labels, arrays
def _labels_task(y: np.ndarray, where: str) -> tuple[np.ndarray, str, int]:
    """Decide (labels, task, num_classes) from label values: integers -> classes, else regression."""
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.size and not np.issubdtype(y.dtype, np.number) and y.dtype != np.bool_:
        raise UserError(f"{where}: labels must be numbers, found dtype {y.dtype}")
    if y.dtype.kind == "c":
        raise UserError(f"{where}: labels must be real numbers, found dtype {y.dtype}")
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        bad = int(np.argmax(~np.isfinite(y.reshape(-1))))
        raise UserError(f"{where}: labels must be finite numbers, found {y.reshape(-1)[bad]} at position {bad}")
    if y.ndim == 1:
        if y.size == 0 or np.all(np.mod(y, 1) == 0):
            if y.size and y.min() < 0:
                raise UserError(f"{where}: class labels must be 0 or more, found {y.min():.0f}")
            if y.size and y.max() >= MAX_CLASSES:
                raise UserError(f"{where}: class label {y.max():.0f} is out of range; expected class numbers "
                                f"0..{MAX_CLASSES - 1:,} (labels with a fractional part are read as regression "
                                "targets)")
            yi = y.astype(np.int64)
            return yi, "classification", int(yi.max(initial=-1)) + 1
        return y.astype(np.float32).reshape(-1, 1), "regression", 0
    if y.ndim == 2 and np.all(np.mod(y, 1) == 0) and y.min(initial=0) >= 0 and y.max(initial=0) <= 9:
        return y.astype(np.int64), "multi_digit", 10
    raise UserError(f"{where}: labels shaped {y.shape} are not understood; expected (N,) class numbers, "
                    f"(N,) or (N, 1) real values, or (N, K) digits 0-9")


def _features(x: np.ndarray, where: str) -> np.ndarray:
    """Samples as float32: uint8 images scaled to [0, 1], (N, H, W) given a channel axis, NHWC -> NCHW."""
    if (not np.issubdtype(x.dtype, np.number) and x.dtype != np.bool_) or x.dtype.kind == "c":
        raise UserError(f"{where}: samples must be real numbers, found dtype {x.dtype}")
    if x.ndim < 2 or x.ndim > 4:
        raise UserError(f"{where}: samples must be shaped (N, features), (N, H, W) or (N, C, H, W), found "
                        f"shape {x.shape}")
    if 0 in x.shape[1:]:
        raise UserError(f"{where}: each sample must hold at least one value, found shape {x.shape}")
    check_fits(x.size * 4, f"{where} ({x.size:,} values as float32)")
    scale = np.issubdtype(x.dtype, np.integer) and x.ndim >= 3 and x.max(initial=0) > 1
    out = x.astype(np.float32)
    if scale:
        out *= np.float32(1.0 / 255.0)
    if out.ndim == 3:
        out = out[:, None]
    elif out.ndim == 4 and out.shape[1] not in (1, 3, 4) and out.shape[3] in (1, 3, 4):
        out = np.ascontiguousarray(out.transpose(0, 3, 1, 2))
    if not np.all(np.isfinite(out)):
        raise UserError(f"{where}: samples contain NaN or infinite values")
    return out


def _check_splits(where: str, n_train: int, n_test: int) -> None:
    """Training needs at least one training and one test sample."""
    if n_train == 0 or n_test == 0:
        raise UserError(f"{where}: expected at least one training and one test sample, found {n_train} training "
                        f"and {n_test} test samples")


def _class_names(num_classes: int) -> list[str]:
    return [str(i) for i in range(num_classes)]


def read_npz(path: str | Path, name: str, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    path = Path(path)
    arrays = read_npz_arrays(path, path.name)
    keys = set(arrays)
    for key in keys & {"y", "y_train", "y_test"}:
        if arrays[key].ndim == 0:
            raise UserError(f"{path.name}: '{key}' is a single number; expected one label per sample")
    if {"x_train", "y_train", "x_test", "y_test"} <= keys:
        x_tr, y_tr = _features(arrays["x_train"], f"{path.name} x_train"), arrays["y_train"]
        x_te, y_te = _features(arrays["x_test"], f"{path.name} x_test"), arrays["y_test"]
    elif {"x", "y"} <= keys:
        x, y = _features(arrays["x"], f"{path.name} x"), arrays["y"]
        if x.shape[0] != y.shape[0]:
            raise UserError(f"{path.name}: x has {x.shape[0]} samples but y has {y.shape[0]} labels")
        train, test = split_indices(x.shape[0], test_fraction, seed)
        x_tr, y_tr, x_te, y_te = x[train], y[train], x[test], y[test]
    else:
        raise UserError(f"{path.name}: expected arrays 'x' and 'y' (or x_train, y_train, x_test, y_test), "
                        f"found {sorted(keys) or 'none'}")
    for split, xs, ys in (("train", x_tr, y_tr), ("test", x_te, y_te)):
        if xs.shape[0] != ys.shape[0]:
            raise UserError(f"{path.name}: x_{split} has {xs.shape[0]} samples but y_{split} has "
                            f"{ys.shape[0]} labels")
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise UserError(f"{path.name}: train samples are {x_tr.shape[1:]} but test samples are {x_te.shape[1:]}")
    _check_splits(path.name, x_tr.shape[0], x_te.shape[0])
    y_tr, y_te = (y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y for y in (y_tr, y_te))
    if y_tr.shape[1:] != y_te.shape[1:]:
        raise UserError(f"{path.name}: y_train is shaped {y_tr.shape} but y_test is shaped {y_te.shape}; expected "
                        f"labels of one shape, (N,) class numbers or values, or (N, K) digits")
    y_all, task, num_classes = _labels_task(np.concatenate([y_tr, y_te]), path.name)
    y_tr, y_te = y_all[: len(y_tr)], y_all[len(y_tr):]
    return Dataset(name, x_tr, y_tr, x_te, y_te, sample_shape=x_tr.shape[1:], num_classes=num_classes,
                   class_names=_class_names(num_classes), task=task,
                   description=f"{path.name}: {x_tr.shape[0]} train / {x_te.shape[0]} test samples",
                   source=str(path))


# ------------------------------------------------------------------------------------------------ CSV
# A CSV file is read whole and held as Python strings while it is parsed (some 20 times its size in memory), so
# it is capped: MNIST's 60,000 training digits as CSV are 110 MB.  Larger data belongs in an .npz file.
MAX_CSV_BYTES = 256 * 2**20


def _to_float(cells: np.ndarray, columns: list[str], path: Path, first_data_row: int) -> np.ndarray:
    try:
        return cells.astype(np.float32)
    except ValueError:
        pass
    # Error path only: find the first cell that is not a number, to name it.
    for (row, col), cell in np.ndenumerate(cells):
        try:
            float(cell)
        except ValueError:
            raise UserError(f"{path.name}: row {row + first_data_row}, column '{columns[col]}': expected a "
                            f"number, found {str(cell)!r}") from None
    raise UserError(f"{path.name}: feature values are not numbers")  # pragma: no cover


def _read_csv_rows(path: Path) -> list[list[str]]:
    """The non-blank rows of the CSV file ``path``; UserError when it is not a regular file, holds more than
    :data:`MAX_CSV_BYTES` or is not UTF-8 CSV text."""
    fh, size = open_regular(path, "a CSV file")
    with fh:
        if size > MAX_CSV_BYTES:
            raise UserError(f"{path.name}: CSV file of {size:,} bytes; at most {MAX_CSV_BYTES:,} are read (save "
                            f"larger data as .npz)")
        try:
            data = fh.read(MAX_CSV_BYTES + 1)  # the file may have grown since it was measured
        except OSError as exc:
            raise UserError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_CSV_BYTES:
        raise UserError(f"{path.name}: CSV file of more than {MAX_CSV_BYTES:,} bytes; at most {MAX_CSV_BYTES:,} "
                        f"are read (save larger data as .npz)")
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    try:
        return [row for row in csv.reader(text) if row and any(c.strip() for c in row)]
    except UnicodeDecodeError as exc:
        raise UserError(f"{path.name}: cannot be read as CSV text (not UTF-8: {exc.reason} at byte "
                        f"{exc.start})") from None
    except csv.Error as exc:
        raise UserError(f"{path.name}: cannot be read as CSV text ({exc})") from None


def read_csv(path: str | Path, name: str, label_column: str | None = None, test_fraction: float = 0.2,
             seed: int = 0) -> Dataset:
    path = Path(path)
    rows = _read_csv_rows(path)
    if len(rows) < 2:
        raise UserError(f"{path.name}: expected a header row and at least one data row, found {len(rows)} rows")
    header = [h.strip() for h in rows[0]]
    if len(header) < 2:
        raise UserError(f"{path.name}: expected a label column and at least one feature column, "
                        f"found {len(header)} column(s)")
    bad = next((i for i, r in enumerate(rows[1:]) if len(r) != len(header)), None)
    if bad is not None:
        raise UserError(f"{path.name}: row {bad + 2} has {len(rows[bad + 1])} values, the header has "
                        f"{len(header)} columns")
    lowered = [h.lower() for h in header]
    if label_column is not None:
        if label_column not in header:
            raise UserError(f"{path.name}: no column '{label_column}'; columns are {', '.join(header)}")
        li = header.index(label_column)
    else:
        li = lowered.index("label") if "label" in lowered else 0
    stripped = [[c.strip() for c in r] for r in rows[1:]]
    widest = max((len(c) for r in stripped for c in r), default=1)
    n_cells = len(stripped) * len(header)
    check_fits(n_cells * max(widest, 1) * 4, f"{path.name} ({n_cells:,} cells of up to {widest:,} characters)")
    cells = np.array(stripped, dtype=str)
    del stripped
    feature_cols = [i for i in range(len(header)) if i != li]
    x = _to_float(cells[:, feature_cols], [header[i] for i in feature_cols], path, first_data_row=2)
    if not np.all(np.isfinite(x)):
        raise UserError(f"{path.name}: features contain NaN or infinite values")
    raw_labels = cells[:, li]
    class_names: list[str] | None = None
    try:
        y_num = raw_labels.astype(np.float64)
    except ValueError:
        class_names = sorted(set(raw_labels.tolist()))
        y_num = np.searchsorted(np.array(class_names), raw_labels).astype(np.float64)
    y, task, num_classes = _labels_task(y_num, f"{path.name} column '{header[li]}'")
    n_feat = x.shape[1]
    side = math.isqrt(n_feat)
    if side * side == n_feat and side >= 8 and np.all(np.mod(x, 1) == 0) and x.min() >= 0 and x.max() > 1 \
            and x.max() <= 255:
        x = (x / np.float32(255.0)).reshape(-1, 1, side, side)  # e.g. label,pixel0..pixel783
    train, test = split_indices(x.shape[0], test_fraction, seed)
    _check_splits(path.name, len(train), len(test))
    names = class_names if class_names is not None else _class_names(num_classes)
    return Dataset(name, x[train], y[train], x[test], y[test], sample_shape=x.shape[1:],
                   num_classes=num_classes, class_names=names, task=task,
                   description=f"{path.name}: {x.shape[0]} rows, label column '{header[li]}'",
                   source=str(path))


# -------------------------------------------------------------------------------------- image folders
def _class_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def open_image(path: Path, load: bool = True):
    """A Pillow image from ``path``, its pixels decoded when ``load``; UserError naming the file when it is
    not an image, is damaged, or is larger than :data:`MAX_IMAGE_PIXELS` (a decompression bomb: a small file
    that would decode to gigabytes).  The size is checked from the header, before any pixel is decoded."""
    from PIL import Image  # noqa: PLC0415 - Pillow only when images are read

    # A FIFO or a device named like an image would block Image.open or never end: refused by the opener.
    if not path.exists():
        raise UserError(f"{path}: no such image file")
    if path.is_dir():
        raise UserError(f"{path}: is a folder, expected an image file")
    stream, _ = safe_open(path, f"image file '{path}'", "an image file")
    try:
        return _open_image_stream(path, stream, load)
    except BaseException:
        stream.close()
        raise


def _open_image_stream(path: Path, stream, load: bool):
    from PIL import Image  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(stream)
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                image.close()
                raise UserError(f"{path.name}: image of {width:,} x {height:,} pixels in {path.parent}; at most "
                                f"{MAX_IMAGE_PIXELS:,} pixels are read (a damaged file or a decompression bomb)")
            if load:
                image.load()
            return image
        except UserError:
            raise
        except FileNotFoundError:
            raise UserError(f"{path}: no such image file") from None
        except IsADirectoryError:
            raise UserError(f"{path}: is a folder, expected an image file") from None
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise UserError(f"{path.name}: image too large to decode safely in {path.parent} ({exc})") from None
        except MemoryError:
            raise UserError(f"{path.name}: image too large for the memory free in {path.parent}") from None
        except Image.UnidentifiedImageError:
            raise UserError(f"{path.name}: not a readable image in {path.parent}: not PNG, JPEG, BMP, GIF, TIFF "
                            "or another image format") from None
        except Exception as exc:  # noqa: BLE001 - Pillow's decoders raise many types on damaged files
            raise UserError(f"{path.name}: not a readable image in {path.parent} "
                            f"({type(exc).__name__}: {exc})") from None


def _is_gray(image) -> bool:
    if image.mode in ("1", "L", "LA", "I", "I;16", "F"):
        return True
    if image.mode == "P":
        palette = image.convert("RGB")
        rgb = np.asarray(palette)
        return bool(np.all(rgb[..., 0] == rgb[..., 1]) and np.all(rgb[..., 1] == rgb[..., 2]))
    return False


def _image_array(path: Path, mode: str, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image  # noqa: PLC0415

    image = open_image(path)
    try:
        if image.mode in ("I", "I;16", "F") and mode == "L":
            values = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
            top = 65535.0 if values.max(initial=0) > 255 else 255.0
            image = Image.fromarray(np.clip(values / top * 255.0, 0, 255).astype(np.uint8))
        image = image.convert(mode)
        if image.size != (size[1], size[0]):
            image = image.resize((size[1], size[0]), Image.Resampling.LANCZOS)
        array = np.asarray(image, dtype=np.uint8)
    except Exception as exc:  # noqa: BLE001 - unusual modes Pillow cannot convert
        raise UserError(f"{path.name}: image in mode {image.mode} cannot be converted to "
                        f"{'gray' if mode == 'L' else 'RGB'} ({type(exc).__name__}: {exc}) in {path.parent}") from None
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def read_image_folder(folder: str | Path, name: str, size: tuple[int, int] | int | None = None,
                      color: str = "auto", test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Classes from sub-folder names; images converted to one colour mode and one size.

    ``color``: "gray", "rgb" or "auto" (gray when every image is gray).  ``size``: (H, W) or a side;
    by default the most common image size in the folder.
    """
    folder = Path(folder)
    if color not in ("auto", "gray", "rgb"):
        raise UserError(f"image folder {folder}: option color must be auto, gray or rgb, found {color!r}")
    top = {p.name.lower(): p for p in _class_dirs(folder)}
    splits = {"train": top["train"], "test": top["test"]} if {"train", "test"} <= set(top) else {"all": folder}
    class_names = sorted({d.name for root in splits.values() for d in _class_dirs(root)})
    if not class_names:
        raise UserError(f"{folder}: expected one sub-folder of images per class, found no sub-folders")
    files: dict[str, list[tuple[Path, int]]] = {}
    for split, root in splits.items():
        files[split] = [(f, class_names.index(d.name)) for d in _class_dirs(root) for f in _image_files(d)]
    everything = [f for entries in files.values() for f, _ in entries]
    if not everything:
        raise UserError(f"{folder}: the class sub-folders ({', '.join(class_names)}) hold no PNG/JPG images")
    sizes: dict[tuple[int, int], int] = {}
    gray = True
    for f in everything:  # headers only: Pillow reads size and mode without decoding the pixels
        with open_image(f, load=False) as image:
            hw = (image.size[1], image.size[0])
            try:
                gray = gray and (_is_gray(image) if color == "auto" else True)
            except Exception as exc:  # noqa: BLE001 - a palette image's pixels are decoded here
                raise UserError(f"{f.name}: not a readable image in {f.parent} ({type(exc).__name__}: {exc})") \
                    from None
        sizes[hw] = sizes.get(hw, 0) + 1
    if size is None:
        target = max(sizes.items(), key=lambda kv: (kv[1], kv[0]))[0]
    elif isinstance(size, int):
        target = (size, size)
    else:
        target = (int(size[0]), int(size[1]))
    if min(target) < 1:
        raise UserError(f"image folder {folder}: size must be at least 1x1, found {target}")
    mode = "L" if (color == "gray" or (color == "auto" and gray)) else "RGB"
    values = len(everything) * (1 if mode == "L" else 3) * target[0] * target[1]
    check_fits(values * 5, f"the images in {folder} ({len(everything):,} x {target[0]} x {target[1]} "
                           f"{'gray' if mode == 'L' else 'RGB'}, as float32)")

    def stack(entries: list[tuple[Path, int]]) -> tuple[np.ndarray, np.ndarray]:
        channels = 1 if mode == "L" else 3
        x = np.empty((len(entries), channels, *target), dtype=np.uint8)
        for i, (f, _) in enumerate(entries):
            x[i] = _image_array(f, mode, target)
        return images_to_float(x), np.array([label for _, label in entries], dtype=np.int64)

    if "all" in files:
        x, y = stack(files["all"])
        train, test = split_indices(x.shape[0], test_fraction, seed)
        x_tr, y_tr, x_te, y_te = x[train], y[train], x[test], y[test]
    else:
        x_tr, y_tr = stack(files["train"])
        x_te, y_te = stack(files["test"])
    _check_splits(str(folder), x_tr.shape[0], x_te.shape[0])
    return Dataset(name, x_tr, y_tr, x_te, y_te, sample_shape=x_tr.shape[1:], num_classes=len(class_names),
                   class_names=class_names, task="classification",
                   description=f"images in {folder.name}/: {len(class_names)} classes, "
                               f"{'gray' if mode == 'L' else 'RGB'} {target[0]}x{target[1]}",
                   source=str(folder))


# ------------------------------------------------------------------------------------------- dispatch
def load_user_dataset(path: str | Path, name: str | None = None, **options) -> Dataset:
    """Read the user's own data, choosing the reader from what ``path`` is (see the module docstring)."""
    path = Path(path).expanduser()
    name = name or f"user:{path}"
    try:
        exists = path.exists()
    except (OSError, ValueError) as exc:  # e.g. a NUL character or a name too long for the system
        raise UserError(f"{path}: not a usable path ({exc})") from None
    if not exists:
        raise UserError(f"{path}: no such file or folder (expected a folder of IDX files or of class "
                        f"sub-folders, a .npz or a .csv file)")
    split_opts = {k: options.pop(k) for k in ("test_fraction", "seed") if k in options}
    fraction = split_opts.get("test_fraction", 0.2)
    if not 0 < fraction < 1:  # also refuses NaN
        raise UserError(f"{path.name}: option test_fraction must be between 0 and 1 (exclusive), found {fraction}")
    if path.is_dir():
        if find_idx_files(path) is not None:
            _reject(options, path, set())
            return read_idx_dataset(path, name)
        if any(p.is_dir() for p in path.iterdir()):
            _reject(options, path, {"size", "color"})
            return read_image_folder(path, name, **options, **split_opts)
        raise UserError(f"{path}: expected the four IDX files or one sub-folder of images per class, "
                        f"found neither")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        _reject(options, path, set())
        return read_npz(path, name, **split_opts)
    if suffix == ".csv":
        _reject(options, path, {"label_column"})
        return read_csv(path, name, **options, **split_opts)
    raise UserError(f"{path.name}: unsupported data file '{suffix or path.name}'; expected .npz, .csv, a folder "
                    f"of IDX files or a folder of class sub-folders with images")


def _reject(options: dict, path: Path, allowed: set[str]) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        accepted = ", ".join(sorted(allowed | {"test_fraction", "seed"}))
        raise UserError(f"{path.name}: unknown option(s) {', '.join(unknown)} for this kind of data; "
                        f"accepted: {accepted}")
