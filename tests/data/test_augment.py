"""Batch augmentation: shape, dtype, determinism, exact shifts, a correct rotation sampler."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.data.augment import _warp, augment_images
from nnstudio.errors import UserError


def _batch(n: int = 16, c: int = 1, h: int = 28, w: int = 28) -> np.ndarray:
    x = np.zeros((n, c, h, w), dtype=np.float32)
    x[:, :, 8:20, 10:18] = np.random.default_rng(0).random((n, c, 12, 8))
    return x


def test_shape_dtype_range_and_input_untouched():
    x = _batch(c=3, h=20, w=24)
    before = x.copy()
    out = augment_images(x, np.random.default_rng(0))
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(x, before)
    assert not np.array_equal(out, x)


def test_deterministic_from_rng():
    x = _batch()
    a = augment_images(x, np.random.default_rng(42))
    b = augment_images(x, np.random.default_rng(42))
    c = augment_images(x, np.random.default_rng(43))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_no_augmentation_is_identity():
    x = _batch()
    np.testing.assert_array_equal(augment_images(x, np.random.default_rng(0), 0, 0, 0), x)


def _shifted(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(img)
    h, w = img.shape[-2:]
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        img[..., max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def test_pure_shifts_move_whole_pixels():
    x = _batch(n=64)
    out = augment_images(x, np.random.default_rng(1), shift=2, rotate_degrees=0, noise=0)
    seen = set()
    for sample, result in zip(x, out):  # checking only: which of the 25 shifts was applied
        matches = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                   if np.array_equal(_shifted(sample, dy, dx), result)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 10  # shifts vary per sample


def test_rotation_sampler_matches_a_quarter_turn():
    x = np.random.default_rng(3).random((2, 2, 9, 9)).astype(np.float32)
    out = _warp(x, np.array([np.pi / 2, -np.pi / 2]), np.zeros(2, np.int64), np.zeros(2, np.int64))
    np.testing.assert_allclose(out[0], np.rot90(x[0], k=-1, axes=(1, 2)), atol=1e-5)
    np.testing.assert_allclose(out[1], np.rot90(x[1], k=1, axes=(1, 2)), atol=1e-5)


def test_small_rotations_keep_most_of_the_ink():
    x = _batch(n=32)
    out = augment_images(x, np.random.default_rng(2), shift=0, rotate_degrees=10, noise=0)
    ratio = out.sum(axis=(1, 2, 3)) / x.sum(axis=(1, 2, 3))
    assert np.all(np.abs(ratio - 1) < 0.05)
    assert not np.array_equal(out, x)


def test_noise_level():
    x = np.full((8, 1, 28, 28), 0.5, np.float32)
    out = augment_images(x, np.random.default_rng(0), shift=0, rotate_degrees=0, noise=0.05)
    assert (out - x).std() == pytest.approx(0.05, rel=0.05)


def test_rejects_non_image_batches():
    with pytest.raises(UserError, match=r"\(N, C, H, W\); found shape \(10, 2\)"):
        augment_images(np.zeros((10, 2), np.float32), np.random.default_rng(0))
    with pytest.raises(UserError, match="must be 0 or more"):
        augment_images(_batch(), np.random.default_rng(0), shift=-1)


def _reference_warp(x: np.ndarray, angle: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Pixel by pixel, in float64: bilinear sampling at R(-angle)(p - centre - shift) + centre, 0 outside."""
    n, c, h, w = x.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    out = np.zeros(x.shape)

    def pixel(s: int, ch: int, r: int, q: int) -> float:
        return float(x[s, ch, r, q]) if 0 <= r < h and 0 <= q < w else 0.0

    for s in range(n):
        cos, sin = np.cos(angle[s]), np.sin(angle[s])
        for r in range(h):
            for q in range(w):
                ry, rx = r - cy - dy[s], q - cx - dx[s]
                sy, sx = cos * ry - sin * rx + cy, sin * ry + cos * rx + cx
                y0, x0 = int(np.floor(sy)), int(np.floor(sx))
                fy, fx = sy - y0, sx - x0
                for ch in range(c):
                    top = pixel(s, ch, y0, x0) * (1 - fx) + pixel(s, ch, y0, x0 + 1) * fx
                    bottom = pixel(s, ch, y0 + 1, x0) * (1 - fx) + pixel(s, ch, y0 + 1, x0 + 1) * fx
                    out[s, ch, r, q] = top * (1 - fy) + bottom * fy
    return out


@pytest.mark.parametrize("shape", [(6, 1, 9, 11), (3, 3, 7, 5)])
def test_warp_matches_a_pixel_by_pixel_sampler_also_far_off_the_image(shape):
    rng = np.random.default_rng(7)
    x = rng.random(shape).astype(np.float32)
    n = shape[0]
    angle = rng.uniform(-np.pi, np.pi, n)
    dy = rng.integers(-12, 13, n)  # some samples leave the image entirely
    dx = rng.integers(-12, 13, n)
    dy[0] = dx[0] = 0
    out = _warp(x, angle, dy, dx)
    assert out.shape == x.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, _reference_warp(x, angle, dy, dx), atol=2e-5)


def test_whole_pixel_shifts_stay_exact_on_an_image_past_float32_integers():
    """The offset into a padded image is computed in float32 only while that is exact (below 2**24 pixels);
    a 4100x4100 image shifted by a row read the wrong pixels when it always was."""
    x = np.random.default_rng(0).random((1, 1, 4100, 4100)).astype(np.float32)
    out = _warp(x, np.zeros(1), np.array([1]), np.array([0]))
    np.testing.assert_array_equal(out[0, 0, 1:], x[0, 0, :-1])
    assert not out[0, 0, 0].any()
