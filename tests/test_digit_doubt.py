"""The canvas's "not sure" rule on fixed inputs: dots, scribbles and letters are flagged, drawn digits are not."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from nnstudio.data.drawing import preprocess_drawing
from nnstudio.digit_doubt import DigitDoubt, ink_extent
from nnstudio.predictor import default_predictor
from tests.test_explain import DRAWN, draw


@pytest.fixture(scope="module")
def judge():
    predictor = default_predictor()
    doubt = DigitDoubt(predictor.model)

    def verdict(gray: np.ndarray):
        image28 = preprocess_drawing(gray)
        return doubt.judge(gray, image28, predictor.predict_image(image28).probabilities)

    verdict.doubt = doubt
    return verdict


def _canvas(lines=(), dots=(), text: str | None = None, width: int = 20) -> np.ndarray:
    image = Image.new("L", (280, 280), 0)
    pen = ImageDraw.Draw(image)
    for line in lines:
        pen.line(line, fill=255, width=width, joint="curve")
    for cx, cy, r in dots:
        pen.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    if text:
        pen.text((140, 140), text, fill=255, font=ImageFont.load_default(size=200), anchor="mm")
    return np.asarray(image)


def _rendered(strokes) -> np.ndarray:
    image = Image.new("L", (280, 280), 0)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pen.line([(float(x), float(y)) for x, y in stroke], fill=255, width=20, joint="curve")
    return np.asarray(image)


def test_a_dot_is_too_small_to_read(judge) -> None:
    dot = _canvas(dots=[(140, 140, 8)])
    assert ink_extent(dot) < 0.1
    verdict = judge(dot)
    assert not verdict.sure and verdict.reason == "too_small"


def test_scribbles_and_letters_are_not_digits(judge) -> None:
    scribble = _canvas(lines=[[(30, 40), (250, 220), (40, 230), (230, 30), (140, 250), (60, 120)]])
    hatch = _canvas(lines=[[(40 + 30 * i, 40), (40 + 30 * i, 240)] for i in range(7)] + [[(40, 140), (240, 140)]])
    for gray in (scribble, hatch, _canvas(text="M"), _canvas(text="K")):
        verdict = judge(gray)
        assert not verdict.sure and verdict.reason == "unlike_digits", verdict
        assert verdict.distance > verdict.threshold


def test_drawn_digits_are_read_with_confidence(judge) -> None:
    for digit, strokes in DRAWN.items():
        verdict = judge(_rendered(strokes))
        assert verdict.sure, (digit, verdict)


def test_threshold_lets_most_training_digits_through(judge) -> None:
    doubt = judge.doubt
    doubt.distance(draw(DRAWN[7]))  # builds the bank
    assert 0.0 < doubt.threshold < 1.0
    doubt.invalidate()
    assert doubt.threshold is None


def test_the_bank_can_be_computed_in_the_background() -> None:
    predictor = default_predictor()
    doubt = DigitDoubt(predictor.model)
    scribble = _canvas(lines=[[(30, 40), (250, 220), (40, 230), (230, 30), (140, 250), (60, 120)]])
    image28 = preprocess_drawing(scribble)
    probabilities = predictor.predict_image(image28).probabilities
    first = doubt.judge(scribble, image28, probabilities, wait=False)
    assert first.distance is None  # not compared yet: only the ink and confidence checks applied
    assert doubt.wait(30.0)
    later = doubt.judge(scribble, image28, probabilities, wait=False)
    assert not later.sure and later.reason == "unlike_digits"
    doubt.invalidate()  # new weights: a result for the old ones would be dropped
    assert not doubt.ready and not doubt.busy
