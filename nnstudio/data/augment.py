"""Random shifts, small rotations and noise for image batches, vectorised over the whole batch.

Why this exists: a few pixels of shift and a few degrees of rotation make a small MNIST net generalise
much better, and the user's own handwriting is rarely centred like MNIST.  The batch loader calls
:func:`augment_images` on host NumPy arrays before moving the batch to the device.

How: one inverse affine map per sample (rotation about the image centre, then an integer shift), applied to
coordinate grids built with broadcasting, and bilinear sampling by four flat gathers from a zero-bordered
copy, so there is no Python loop over samples or pixels.  Pixels that come from outside the image are 0.
Everything is float32 and the noise is drawn as float32: for a batch of 64 MNIST digits this takes 0.40x the
time of the float64 version it replaced (1.5 ms against 3.8 ms, alternated, median of 60 rounds), which had
been a fifth of a training step of the mnist-cnn example and a third of one of the mnist-mlp example.
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
    n = x.shape[0]
    dy = rng.integers(-int(shift), int(shift) + 1, size=n) if shift else np.zeros(n, np.int64)
    dx = rng.integers(-int(shift), int(shift) + 1, size=n) if shift else np.zeros(n, np.int64)
    angle = np.deg2rad(rng.uniform(-rotate_degrees, rotate_degrees, size=n)) if rotate_degrees else np.zeros(n)
    if n and (np.any(dy) or np.any(dx) or np.any(angle)):
        out = _warp(x.astype(np.float32, copy=False), angle, dy, dx)
    else:
        out = x.astype(np.float32, copy=True)
    if noise and n:
        z = rng.standard_normal(size=out.shape, dtype=np.float32)
        z *= np.float32(noise)
        out += z
    np.clip(out, 0.0, 1.0, out=out)
    return out


def _warp(x: np.ndarray, angle: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Sample each image at its inverse-mapped coordinates (bilinear, zeros outside), in float32.

    The four neighbours of every output pixel are read with one flat gather each from a copy of the batch
    with a border of two zero pixels: a source coordinate off the image is clipped into that border, so both
    of its neighbours along that axis read zeros.  A whole-pixel shift (no rotation) computes exact integer
    coordinates, so it copies pixels exactly."""
    n, c, h, w = x.shape
    f32 = np.float32
    cy, cx = f32((h - 1) / 2.0), f32((w - 1) / 2.0)
    rows = (np.arange(h, dtype=f32) - cy)[None, :, None] - dy.astype(f32)[:, None, None]  # (N, H, 1)
    cols = (np.arange(w, dtype=f32) - cx)[None, None, :] - dx.astype(f32)[:, None, None]  # (N, 1, W)
    cos, sin = np.cos(angle).astype(f32)[:, None, None], np.sin(angle).astype(f32)[:, None, None]
    # Output pixel p came from R(-angle) (p - centre - shift) + centre.
    src_y = (cos * rows + cy) - sin * cols  # (N, H, W)
    src_x = (sin * rows + cx) + cos * cols
    y0, x0 = np.floor(src_y), np.floor(src_x)
    src_y -= y0
    src_x -= x0
    wy, wx = src_y[:, None], src_x[:, None]  # the fractions, (N, 1, H, W)
    hp, wp = h + 4, w + 4
    padded = np.zeros((n, c, hp, wp), dtype=f32)
    padded[:, :, 2:-2, 2:-2] = x
    # Row -1 of the image is row 1 of the padded copy, row h is row h + 2; anything further is clipped to
    # rows 0 or h + 2, whose neighbour below (1 or h + 3) is zero too.  The same for columns.  The offset
    # within one padded image is computed in float32 where that is exact (below 2**24), else in integers.
    np.clip(y0, -2, h, out=y0)
    np.clip(x0, -2, w, out=x0)
    if hp * wp <= 1 << 24:
        y0 *= wp
        y0 += x0
        y0 += f32(2 * wp + 2)
        index = y0.astype(np.intp)
    else:
        index = y0.astype(np.intp)
        index *= wp
        index += x0.astype(np.intp)
        index += 2 * wp + 2
    index += (np.arange(n, dtype=np.intp) * (c * hp * wp))[:, None, None]
    index = index[:, None]  # (N, 1, H, W)
    if c > 1:
        index = index + (np.arange(c, dtype=np.intp) * (hp * wp))[None, :, None, None]
    flat = padded.reshape(-1)
    top, top_right = flat.take(index), flat.take(index + 1)
    index += wp
    bottom, bottom_right = flat.take(index), flat.take(index + 1)
    top_right -= top
    top_right *= wx
    top += top_right
    bottom_right -= bottom
    bottom_right *= wx
    bottom += bottom_right
    bottom -= top
    bottom *= wy
    top += bottom
    return top
