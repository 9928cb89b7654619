"""The user's own handwriting: digits drawn on the canvas, saved so a model can be trained on them.

Why this exists: "does the network read MY handwriting?" is the question people ask after MNIST.  Each
drawn and labelled digit is appended to ``<user datasets>/mydigits.npz`` (``x`` uint8 (N, 28, 28),
``y`` uint8 (N,)), rewritten atomically, and the registry offers it as dataset ``mydigits`` once it holds
a digit.  The split is stable as the set grows: every fifth digit (index 4, 9, 14, ...) is a test
sample, the others train, so adding digits never moves an old one between the parts.
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from nnstudio import userdirs
from nnstudio.data.dataset import Dataset
from nnstudio.engine.weights_io import read_npz_arrays
from nnstudio.errors import UserError

FILE_NAME = "mydigits.npz"
TEST_EVERY = 5


def digits_path() -> Path:
    return userdirs.datasets_dir() / FILE_NAME


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """All saved digits: uint8 images (N, 28, 28) and uint8 labels (N,); empty arrays when none."""
    path = digits_path()
    if not path.exists():
        return np.zeros((0, 28, 28), np.uint8), np.zeros((0,), np.uint8)
    advice = "move the file away to start a new set"
    try:
        arrays = read_npz_arrays(path, "the file")
    except UserError as exc:
        raise UserError(f"{path}: your saved digits cannot be read ({exc}); {advice}") from None
    if set(arrays) != {"x", "y"}:
        raise UserError(f"{path}: your saved digits: expected arrays x and y, found {sorted(arrays) or 'none'}; "
                        f"{advice}")
    x, y = arrays["x"], arrays["y"]
    if x.dtype != np.uint8 or y.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28) \
            or y.shape != x.shape[:1]:
        raise UserError(f"{path}: your saved digits: expected x uint8 (N, 28, 28) and y uint8 (N,), found "
                        f"{x.dtype} {x.shape} and {y.dtype} {y.shape}; {advice}")
    if y.max(initial=0) > 9:
        where = int(np.argmax(y > 9))
        raise UserError(f"{path}: your saved digits: digit number {where} has label {int(y[where])}, expected "
                        f"0-9; {advice}")
    return x, y


def count_digits() -> int:
    return int(load_digits()[1].shape[0])


def _save(x: np.ndarray, y: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x=x.astype(np.uint8), y=y.astype(np.uint8))
    userdirs.atomic_write_bytes(digits_path(), buffer.getvalue())


def add_digit(image: np.ndarray, label: int) -> int:
    """Append one (28, 28) image (float in [0, 1], or uint8) with its label 0-9; return the new count."""
    image = np.asarray(image)
    if image.shape != (28, 28):
        raise UserError(f"my digits: expected a 28x28 image, found shape {image.shape}")
    if not (isinstance(label, (int, np.integer)) and 0 <= int(label) <= 9):
        raise UserError(f"my digits: the label must be a digit 0-9, found {label!r}")
    if image.dtype == np.uint8:
        pixels = image
    else:
        values = image.astype(np.float64)
        if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1:
            raise UserError("my digits: expected pixel values in [0, 1], found "
                            f"{np.nanmin(values):.3g}..{np.nanmax(values):.3g}")
        pixels = np.rint(values * 255).astype(np.uint8)
    x, y = load_digits()
    x = np.concatenate([x, pixels[None]])
    y = np.concatenate([y, np.array([int(label)], np.uint8)])
    _save(x, y)
    return int(y.shape[0])


def remove_digit(index: int) -> int:
    """Delete the digit at ``index`` (e.g. a mislabelled one); return the new count."""
    x, y = load_digits()
    if not -len(y) <= index < len(y):
        raise UserError(f"my digits: there is no digit number {index} (the set holds {len(y)})")
    keep = np.ones(len(y), bool)
    keep[index] = False
    _save(x[keep], y[keep])
    return int(keep.sum())


def load_mydigits() -> Dataset:
    x, y = load_digits()
    if y.shape[0] == 0:
        raise UserError("dataset 'mydigits' is empty: draw digits on the canvas and save them with their "
                        "labels first")
    is_test = (np.arange(y.shape[0]) % TEST_EVERY) == TEST_EVERY - 1
    images = x[:, None].astype(np.float32) * np.float32(1.0 / 255.0)
    labels = y.astype(np.int64)
    return Dataset("mydigits", images[~is_test], labels[~is_test], images[is_test], labels[is_test],
                   sample_shape=(1, 28, 28), num_classes=10, class_names=[str(i) for i in range(10)],
                   task="classification",
                   description=f"your own handwritten digits ({int((~is_test).sum())} train / "
                               f"{int(is_test.sum())} test)",
                   source=str(digits_path()))
