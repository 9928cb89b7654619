"""Turn a drawing (or a photo of a digit) into an MNIST-like 28 x 28 input.

Why this exists: a network trained on MNIST only reads digits that look like MNIST digits, which were
made like this: white ink on black, the ink's bounding box scaled to fit 20 x 20 with its aspect ratio
kept (anti-aliased), then placed in a 28 x 28 field so that the ink's centre of mass is at the centre.
:func:`preprocess_drawing` repeats those steps for the canvas; :func:`load_image_as_input` reads an
image file for ``nnstudio predict``.

The centre, precisely: pixel (row i, column j) has coordinates (i, j); the centre of mass is the
intensity-weighted mean of those coordinates.  MNIST puts it at (14.0, 14.0) in these coordinates (the
shipped digits average 13.99 / 14.00, spread 0.29 px; that is half a pixel past the geometric centre
13.5), so we do too: the glyph is placed at whole-pixel offsets rounded from
the exact sub-pixel offset, which leaves its centre of mass within 0.5 px of (14, 14) on each axis.  Run
on MNIST digits, this function gives back the same digits.  Only ink so lopsided that centring it would
push part of it out of the field is moved less, so that it stays whole.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nnstudio.errors import UserError

FIELD = 28
BOX = 20
CENTRE = 14.0  # MNIST's centre-of-mass position, see the module docstring
INK_THRESHOLD = 0.1  # after background removal, a drawing needs a pixel above this to count as ink
BOX_FLOOR = 0.02  # pixels above this belong to the ink's bounding box (below: paper noise)


def _to_unit_gray(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        unit = 255.0 if a.dtype == np.uint8 else 1.0
        if a.shape[2] == 4 and np.ptp(a[..., 3]) > 0:
            # A canvas with a transparent background: what was drawn is what is opaque.
            a = a[..., 3].astype(np.float64) / unit
        else:
            a = (a[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])) / unit
    elif a.ndim != 2:
        raise UserError(f"drawing: expected a 2-D grayscale image, found shape {a.shape}")
    elif a.dtype == np.uint8:
        a = a.astype(np.float64) / 255.0
    else:
        a = a.astype(np.float64)
    if a.size == 0 or min(a.shape) < 1:
        raise UserError(f"drawing: the image is empty (shape {a.shape})")
    if not np.all(np.isfinite(a)):
        raise UserError("drawing: the image contains NaN or infinite values")
    top = a.max()
    if top > 1.0:  # 0..255 given as floats or ints
        a = a / (255.0 if top <= 255.0 else top)
    return np.clip(a, 0.0, 1.0)


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])


def ink_image(image: np.ndarray) -> np.ndarray:
    """Bright ink on a black background, in [0, 1]: inverted when the paper is light (border median
    above 0.5), then the paper level subtracted so a grey background becomes 0."""
    a = _to_unit_gray(image)
    paper = float(np.median(_border(a)))
    if paper > 0.5:
        a = 1.0 - a
        paper = 1.0 - paper
    if paper > 0:
        a = np.clip((a - paper) / (1.0 - paper), 0.0, 1.0)
    return a


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """Intensity-weighted mean (row, column) with pixel (i, j) at coordinates (i, j)."""
    total = float(image.sum())
    if total <= 0:
        raise ValueError("centre of mass of an image without ink")
    rows = np.arange(image.shape[0], dtype=np.float64)
    cols = np.arange(image.shape[1], dtype=np.float64)
    return float(image.sum(axis=1) @ rows) / total, float(image.sum(axis=0) @ cols) / total


def preprocess_drawing(image: np.ndarray) -> np.ndarray | None:
    """A (28, 28) float32 MNIST-like image in [0, 1], or None when there is no ink to read."""
    from PIL import Image  # noqa: PLC0415 - Pillow's resampling does the anti-aliasing

    a = ink_image(image)
    if not (a > INK_THRESHOLD).any():
        return None
    mask = a > BOX_FLOOR
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    glyph = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    glyph = glyph / glyph.max()  # stroke intensity like MNIST's: the strongest ink becomes 1
    h, w = glyph.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, min(BOX, int(round(h * scale)))), max(1, min(BOX, int(round(w * scale))))
    resized = Image.fromarray(glyph.astype(np.float32)).resize((new_w, new_h), Image.Resampling.LANCZOS)
    glyph = np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)
    if glyph.max() <= 0:
        return None
    cy, cx = centre_of_mass(glyph)
    top = int(np.floor(CENTRE - cy + 0.5))
    left = int(np.floor(CENTRE - cx + 0.5))
    top = min(max(top, 0), FIELD - new_h)
    left = min(max(left, 0), FIELD - new_w)
    out = np.zeros((FIELD, FIELD), dtype=np.float32)
    out[top:top + new_h, left:left + new_w] = glyph
    return out


def load_image_as_input(path: str | Path, sample_shape: tuple[int, ...], as_drawing: bool = False) -> np.ndarray:
    """Read an image file as one model input shaped ``sample_shape`` (float32 in [0, 1]).

    ``sample_shape`` is (C, H, W) with C 1 (gray) or 3 (RGB), or a flat (F,) with F a square (gray side x
    side).  ``as_drawing`` runs :func:`preprocess_drawing` first (for photos or scans of a handwritten
    digit fed to an MNIST model); it needs a 28 x 28 gray input.
    """
    from PIL import Image  # noqa: PLC0415

    from nnstudio.data.readers import open_image  # noqa: PLC0415 - Pillow and the readers only when needed

    path = Path(path)
    sample_shape = tuple(int(s) for s in sample_shape)
    if len(sample_shape) == 3 and sample_shape[0] in (1, 3):
        channels, height, width = sample_shape
    elif len(sample_shape) == 1 and int(np.sqrt(sample_shape[0])) ** 2 == sample_shape[0]:
        channels, height, width = 1, int(np.sqrt(sample_shape[0])), int(np.sqrt(sample_shape[0]))
    else:
        raise UserError(f"{path.name}: the model's Input shape {sample_shape} is not an image shape; expected "
                        f"(1, H, W), (3, H, W) or a square number of features such as (784,)")
    if height * width > 50_000_000:
        raise UserError(f"{path.name}: the model's Input {sample_shape} is too large to read an image into")
    with open_image(path) as picture:  # UserError for missing, damaged and decompression-bomb images
        try:
            if as_drawing:
                gray = np.asarray(picture.convert("L"), dtype=np.uint8)
            else:
                converted = picture.convert("L" if channels == 1 else "RGB")
                if converted.size != (width, height):
                    converted = converted.resize((width, height), Image.Resampling.LANCZOS)
                pixels = np.asarray(converted, dtype=np.float32) / 255.0
        except Exception as exc:  # noqa: BLE001 - unusual modes Pillow cannot convert
            raise UserError(f"{path.name}: image in mode {picture.mode} cannot be converted "
                            f"({type(exc).__name__}: {exc})") from None
    if as_drawing:
        if (channels, height, width) != (1, FIELD, FIELD):
            raise UserError(f"{path.name}: as_drawing makes a 28x28 gray digit, but the model's Input is "
                            f"{sample_shape}")
        digit = preprocess_drawing(gray)
        if digit is None:
            raise UserError(f"{path.name}: no ink found (the image is one flat colour)")
        return digit.reshape(sample_shape)
    array = pixels[None] if channels == 1 else pixels.transpose(2, 0, 1)
    return np.ascontiguousarray(array, dtype=np.float32).reshape(sample_shape)
