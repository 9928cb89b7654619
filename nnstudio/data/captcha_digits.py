"""4-digit captcha images (PyPI package ``captcha``), generated reproducibly from a seed and cached.

Why this exists: reading a whole 4-digit code with one CNN and four 10-way softmax heads is a good
"beyond MNIST" exercise, and generated data needs no download.

Reproducibility: ``captcha.image`` (0.5+) draws all its randomness from the standard ``secrets`` module,
which cannot be seeded.  While an image is generated we replace the module's ``secrets`` name with a
seeded :class:`random.Random` that offers the same three calls (``randbelow``, ``randbits``, ``choice``),
and we also seed (then restore) Python's global ``random`` in case a later version uses it.  A lock makes
this safe across threads.  Each sample ``i`` of a split has its own seed string, so the first 1,000 images
of a 6,000-image set equal a 1,000-image set with the same seed.

Images: the package renders 150 x 60 RGB (ratio 2.5, fonts sized for a 60 px height); we convert to
grayscale, invert (ink bright on dark, like MNIST), box-filter down to ``(1, 40, 100)`` by default and
stretch each image's contrast (paper 0, brightest ink 1, since the package picks random ink colours):
small enough for a CPU-trained CNN, large enough to keep the digits readable.  Labels are int64 (N, 4),
the digits left to right.  Generated arrays are cached as ``.npz`` under
``<user datasets>/captcha/`` keyed by seed, sizes, shape and the package version.
"""
from __future__ import annotations

import contextlib
import io
import random
import threading
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import numpy as np

from nnstudio import userdirs
from nnstudio.data.dataset import Dataset
from nnstudio.engine.weights_io import read_npz_arrays
from nnstudio.errors import UserError

DIGITS = 4
RENDER_SIZE = (150, 60)  # (width, height) handed to ImageCaptcha
DEFAULT_SHAPE = (40, 100)  # (height, width) of the samples
CACHE_FORMAT = 1  # bump when the image processing changes, so old caches are not reused
_LOCK = threading.Lock()


class _SeededSecrets:
    """The part of the ``secrets`` API that ``captcha.image`` calls, backed by a seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def randbelow(self, n: int) -> int:
        return self._rng.randrange(n)

    def randbits(self, k: int) -> int:
        return self._rng.getrandbits(k)

    def choice(self, seq):
        return self._rng.choice(seq)


@contextlib.contextmanager
def _seeded_captcha(module, seed: str) -> Iterator[random.Random]:
    rng = random.Random(seed)
    saved_secrets = module.secrets
    saved_state = random.getstate()
    module.secrets = _SeededSecrets(rng)
    random.seed(seed)
    try:
        yield rng
    finally:
        module.secrets = saved_secrets
        random.setstate(saved_state)


def _captcha_version() -> str:
    try:
        return metadata.version("captcha")
    except metadata.PackageNotFoundError:
        return "unknown"


def generate_captchas(n: int, seed: int, split: str, shape: tuple[int, int] = DEFAULT_SHAPE
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images uint8 (n, H, W) (ink bright) and labels int64 (n, 4), deterministic from the seed."""
    try:
        import captcha.image as captcha_image  # noqa: PLC0415 - only needed when generating
    except ImportError as exc:
        raise UserError("dataset 'captcha' needs the Python package 'captcha' (pip install captcha)") from exc
    from PIL import Image, ImageOps  # noqa: PLC0415

    height, width = shape
    generator = captcha_image.ImageCaptcha(width=RENDER_SIZE[0], height=RENDER_SIZE[1])
    images = np.empty((n, height, width), dtype=np.uint8)
    labels = np.empty((n, DIGITS), dtype=np.int64)
    with _LOCK:
        for i in range(n):  # one Pillow rendering per image; there is no batched form
            with _seeded_captcha(captcha_image, f"nnstudio-captcha:{seed}:{split}:{i}") as rng:
                digits = [rng.randrange(10) for _ in range(DIGITS)]
                picture = generator.generate_image("".join(map(str, digits)))
            gray = ImageOps.invert(picture.convert("L")).resize((width, height), Image.Resampling.BOX)
            images[i] = np.asarray(gray, dtype=np.uint8)
            labels[i] = digits
    return _stretch_contrast(images), labels


def _stretch_contrast(images: np.ndarray) -> np.ndarray:
    """Per image: the paper (median) becomes 0 and the brightest ink 255, whatever colours were drawn."""
    flat = images.reshape(images.shape[0], -1).astype(np.float32)
    paper = np.median(flat, axis=1, keepdims=True)
    ink = flat.max(axis=1, keepdims=True)
    stretched = (flat - paper) / np.maximum(ink - paper, 1.0)
    return np.rint(np.clip(stretched, 0.0, 1.0) * 255.0).astype(np.uint8).reshape(images.shape)


def cache_path(seed: int, n_train: int, n_test: int, shape: tuple[int, int]) -> Path:
    version = _captcha_version().replace("/", "_")
    return (userdirs.datasets_dir() / "captcha" /
            f"captcha-f{CACHE_FORMAT}-v{version}-seed{seed}-n{n_train}-{n_test}-{shape[0]}x{shape[1]}.npz")


def _read_cache(path: Path, n_train: int, n_test: int, shape: tuple[int, int]) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when the cache is damaged or does not hold what its name says."""
    try:
        arrays = read_npz_arrays(path, str(path), kinds="ui")
    except UserError:
        return None
    expected = {"x_train": (n_train, *shape), "y_train": (n_train, DIGITS), "x_test": (n_test, *shape),
                "y_test": (n_test, DIGITS)}
    if set(arrays) != set(expected) or any(arrays[k].shape != s for k, s in expected.items()):
        return None
    if arrays["x_train"].dtype != np.uint8 or arrays["x_test"].dtype != np.uint8:
        return None
    if any(arrays[k].min(initial=0) < 0 or arrays[k].max(initial=0) > 9 for k in ("y_train", "y_test")):
        return None
    return arrays


def load_captcha(n_train: int = 6000, n_test: int = 1000, seed: int = 0, height: int = DEFAULT_SHAPE[0],
                 width: int = DEFAULT_SHAPE[1]) -> Dataset:
    if n_train < 1 or n_test < 1:
        raise UserError(f"dataset 'captcha': n_train and n_test must be at least 1, found {n_train} and {n_test}")
    if not (12 <= height <= 120 and 30 <= width <= 300):
        raise UserError(f"dataset 'captcha': height must be 12..120 and width 30..300, found {height}x{width}")
    shape = (int(height), int(width))
    path = cache_path(seed, n_train, n_test, shape)
    arrays = _read_cache(path, n_train, n_test, shape) if path.exists() else None
    if arrays is None:  # not generated yet, or a damaged cache: generate (again)
        x_tr, y_tr = generate_captchas(n_train, seed, "train", shape)
        x_te, y_te = generate_captchas(n_test, seed, "test", shape)
        arrays = {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        userdirs.atomic_write_bytes(path, buffer.getvalue())
    scale = np.float32(1.0 / 255.0)
    x_train = arrays["x_train"][:, None].astype(np.float32) * scale
    x_test = arrays["x_test"][:, None].astype(np.float32) * scale
    return Dataset("captcha", x_train, arrays["y_train"].astype(np.int64), x_test,
                   arrays["y_test"].astype(np.int64), sample_shape=(1, *shape), num_classes=10,
                   class_names=[str(i) for i in range(10)], task="multi_digit",
                   description=f"4-digit captchas, gray {shape[0]}x{shape[1]} ({n_train} train / {n_test} test)",
                   source=f"generated with the 'captcha' package {_captcha_version()} (seed {seed})")
