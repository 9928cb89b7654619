"""Random shifts, small rotations and noise for image batches, vectorised over the whole batch.

Why this exists: a few pixels of shift and a few degrees of rotation make a small MNIST net generalise
much better, and the user's own handwriting is rarely centred like MNIST.  The batch loader calls
:func:`augment_images` on host NumPy arrays before moving the batch to the device.

How: one inverse affine map per sample (rotation about the image centre, then an integer shift), applied to
coordinate grids built with broadcasting, and bilinear sampling by fancy indexing into a zero-padded copy,
so there is no Python loop over samples or pixels.  Pixels that come from outside the image are 0.
"""
from __future__ import annotations

import numpy as np

from nnstudio.errors import UserError


def augment_images(x: np.ndarray, rng: np.random.Generator, shift: int = 2, rotate_degrees: float = 10.0,
                   noise: float = 0.05) -> np.ndarray:
    """Return a new float32 batch like ``x`` (N, C, H, W): each sample shifted by integers in
    [-shift, shift] on both axes, rotated by an angle uniform in [-rotate_degrees, rotate_degrees] and given
    Gaussian noise of standard deviation ``noise``, clipped to [0, 1].  Deterministic for a given ``rng``
    state; ``x`` is not changed.
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise UserError(f"augmentation works on image batches shaped (N, C, H, W); found shape {x.shape}")
    if shift < 0 or rotate_degrees < 0 or noise < 0:
        raise UserError(f"augmentation: shift, rotate_degrees and noise must be 0 or more; found "
                        f"shift={shift}, rotate_degrees={rotate_degrees}, noise={noise}")
    n, c, h, w = x.shape
    out = x.astype(np.float32, copy=True)
    if n == 0:
        return out
    dy = rng.integers(-int(shift), int(shift) + 1, size=n) if shift else np.zeros(n, np.int64)
    dx = rng.integers(-int(shift), int(shift) + 1, size=n) if shift else np.zeros(n, np.int64)
    angle = np.deg2rad(rng.uniform(-rotate_degrees, rotate_degrees, size=n)) if rotate_degrees else np.zeros(n)
    if np.any(dy) or np.any(dx) or np.any(angle):
        out = _warp(out, angle, dy, dx)
    if noise:
        out += rng.normal(0.0, noise, size=out.shape).astype(np.float32)
    np.clip(out, 0.0, 1.0, out=out)
    return out


def _warp(x: np.ndarray, angle: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Sample each image at its inverse-mapped coordinates (bilinear, zeros outside)."""
    n, c, h, w = x.shape
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    rows = np.arange(h, dtype=np.float64)[None, :, None] - cy - dy[:, None, None]  # (N, H, 1)
    cols = np.arange(w, dtype=np.float64)[None, None, :] - cx - dx[:, None, None]  # (N, 1, W)
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    # Output pixel p came from R(-angle) (p - centre - shift) + centre.
    src_y = cos * rows - sin * cols + cy  # (N, H, W)
    src_x = sin * rows + cos * cols + cx
    # Snap values within float noise of an integer, so pure shifts copy pixels exactly.
    src_y = np.where(np.abs(src_y - np.rint(src_y)) < 1e-9, np.rint(src_y), src_y)
    src_x = np.where(np.abs(src_x - np.rint(src_x)) < 1e-9, np.rint(src_x), src_x)
    padded = np.zeros((n, h + 2, w + 2, c), dtype=np.float32)  # channels last for the gather below
    padded[:, 1:-1, 1:-1, :] = x.transpose(0, 2, 3, 1)
    y0 = np.floor(src_y)
    x0 = np.floor(src_x)
    wy = (src_y - y0).astype(np.float32)[..., None]
    wx = (src_x - x0).astype(np.float32)[..., None]
    # Index into the padded image: -1 and h map to the zero border, anything further is clipped onto it.
    y0i = np.clip(y0.astype(np.int64) + 1, 0, h + 1)
    y1i = np.clip(y0.astype(np.int64) + 2, 0, h + 1)
    x0i = np.clip(x0.astype(np.int64) + 1, 0, w + 1)
    x1i = np.clip(x0.astype(np.int64) + 2, 0, w + 1)
    batch = np.arange(n)[:, None, None]
    top = padded[batch, y0i, x0i] * (1 - wx) + padded[batch, y0i, x1i] * wx  # (N, H, W, C)
    bottom = padded[batch, y1i, x0i] * (1 - wx) + padded[batch, y1i, x1i] * wx
    result = top * (1 - wy) + bottom * wy
    return np.ascontiguousarray(result.transpose(0, 3, 1, 2))
