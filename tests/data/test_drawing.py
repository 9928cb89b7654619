"""Canvas drawing -> MNIST-like 28 x 28 input, and image files -> model inputs."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from nnstudio.data import get_dataset
from nnstudio.data.drawing import CENTRE, centre_of_mass, load_image_as_input, preprocess_drawing
from nnstudio.errors import UserError


def _canvas(size: tuple[int, int] = (280, 280), light: bool = False, strokes=None, width: int = 18) -> np.ndarray:
    """A drawing like the app's canvas makes: thick strokes, white on black (or black on white)."""
    image = Image.new("L", (size[1], size[0]), 255 if light else 0)
    draw = ImageDraw.Draw(image)
    for stroke in strokes or [[(150, 40), (150, 240)], [(110, 80), (150, 40)]]:  # a "1" off to the right
        draw.line(stroke, fill=0 if light else 255, width=width, joint="curve")
    return np.asarray(image)


def _ink_box(img: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero((img > 0).any(axis=1))
    cols = np.flatnonzero((img > 0).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


SHAPES = {
    "one": [[(150, 40), (150, 240)], [(110, 80), (150, 40)]],
    "seven": [[(60, 50), (220, 50)], [(220, 50), (120, 250)]],
    "zero_wide": [[(20, 100), (260, 100)], [(260, 100), (260, 180)], [(260, 180), (20, 180)], [(20, 180), (20, 100)]],
    "dot_corner": [[(250, 250), (262, 262)]],
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_centre_of_mass_and_box(shape: str):
    out = preprocess_drawing(_canvas(strokes=SHAPES[shape]))
    assert out.shape == (28, 28) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() == pytest.approx(1.0)
    cy, cx = centre_of_mass(out)
    assert abs(cy - CENTRE) <= 0.5 + 1e-4 and abs(cx - CENTRE) <= 0.5 + 1e-4
    h, w = _ink_box(out)
    assert max(h, w) <= 20 and max(h, w) >= 19  # scaled so the longer side fills the 20 px box


def test_lopsided_ink_is_kept_whole_rather_than_centred_exactly():
    # An L's mass sits near its corner: centring it exactly would push its arms out of the 28 x 28 field.
    out = preprocess_drawing(_canvas(strokes=[[(40, 40), (40, 240)], [(40, 240), (240, 240)]]))
    h, w = _ink_box(out)
    assert (h, w) == (20, 20)
    rows = np.flatnonzero(out.any(axis=1))
    cols = np.flatnonzero(out.any(axis=0))
    assert rows[0] == 0 and cols[-1] == 27  # moved as far towards the centre as the field allows
    cy, cx = centre_of_mass(out)
    assert abs(cy - CENTRE) < 1.0 and abs(cx - CENTRE) < 1.0


def test_aspect_ratio_is_kept():
    out = preprocess_drawing(_canvas(strokes=SHAPES["zero_wide"]))  # 260 x 100 px of ink, wide
    h, w = _ink_box(out)
    assert w >= 19 and 7 <= h <= 11


def test_light_background_is_inverted():
    dark = preprocess_drawing(_canvas(strokes=SHAPES["seven"]))
    light = preprocess_drawing(_canvas(strokes=SHAPES["seven"], light=True))
    np.testing.assert_allclose(light, dark, atol=1e-5)
    assert light[0, 0] == 0.0 and light.max() == pytest.approx(1.0)


def test_grey_paper_and_float_input():
    canvas = _canvas(strokes=SHAPES["one"]).astype(np.float64) / 255.0
    photo = 0.7 - 0.5 * canvas  # dark-grey ink on light-grey paper, floats
    out = preprocess_drawing(photo)
    ref = preprocess_drawing(canvas)
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_empty_canvas_gives_none():
    assert preprocess_drawing(np.zeros((280, 280), np.uint8)) is None
    assert preprocess_drawing(np.ones((100, 60))) is None
    assert preprocess_drawing(np.full((50, 50), 0.03)) is None


def test_rejects_bad_arrays():
    with pytest.raises(UserError, match="expected a 2-D grayscale image"):
        preprocess_drawing(np.zeros((2, 3, 4, 5)))
    with pytest.raises(UserError, match="NaN"):
        preprocess_drawing(np.full((5, 5), np.nan))


def test_the_centre_is_where_mnist_puts_it():
    ds = get_dataset("mnist")
    coms = np.array([centre_of_mass(d) for d in ds.x_train[:1000, 0]])
    assert np.allclose(coms.mean(axis=0), CENTRE, atol=0.05)
    assert np.all(np.abs(coms - CENTRE) <= 1.0)


def test_mnist_digits_are_left_nearly_unchanged():
    ds = get_dataset("mnist")
    digits = ds.x_test[:50, 0]
    correlations = []
    for digit in digits:  # checking only: a few dozen images
        again = preprocess_drawing(digit)
        correlations.append(np.corrcoef(again.ravel(), digit.ravel())[0, 1])
    assert np.median(correlations) > 0.999 and min(correlations) > 0.99  # same digits back


def test_load_image_as_input(tmp_path: Path):
    canvas = _canvas(strokes=SHAPES["seven"], light=True)
    Image.fromarray(canvas).save(tmp_path / "seven.png")
    gray = load_image_as_input(tmp_path / "seven.png", (1, 28, 28))
    assert gray.shape == (1, 28, 28) and gray.dtype == np.float32 and gray.max() <= 1.0
    assert gray[0, 0, 0] == pytest.approx(1.0)  # plain resize keeps the white paper
    digit = load_image_as_input(tmp_path / "seven.png", (1, 28, 28), as_drawing=True)
    np.testing.assert_allclose(digit[0], preprocess_drawing(canvas), atol=1e-6)
    flat = load_image_as_input(tmp_path / "seven.png", (784,), as_drawing=True)
    assert flat.shape == (784,)
    Image.fromarray(np.stack([canvas] * 3, axis=-1)).save(tmp_path / "rgb.jpg")
    rgb = load_image_as_input(tmp_path / "rgb.jpg", (3, 32, 40))
    assert rgb.shape == (3, 32, 40)


def test_load_image_errors(tmp_path: Path):
    (tmp_path / "x.png").write_bytes(b"definitely not an image")
    with pytest.raises(UserError, match="x.png: not a readable image"):
        load_image_as_input(tmp_path / "x.png", (1, 28, 28))
    with pytest.raises(UserError, match="no such image file"):
        load_image_as_input(tmp_path / "missing.png", (1, 28, 28))
    Image.new("L", (40, 40), 255).save(tmp_path / "blank.png")
    with pytest.raises(UserError, match="blank.png: no ink found"):
        load_image_as_input(tmp_path / "blank.png", (1, 28, 28), as_drawing=True)
    with pytest.raises(UserError, match=r"Input shape \(2,\) is not an image shape"):
        load_image_as_input(tmp_path / "blank.png", (2,))
    with pytest.raises(UserError, match="as_drawing makes a 28x28 gray digit"):
        load_image_as_input(tmp_path / "blank.png", (3, 28, 28), as_drawing=True)
