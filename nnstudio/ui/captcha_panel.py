"""Captcha mode: a freshly generated 4-digit captcha and what a trained captcha network reads in it.

Why this exists: after single digits, reading a whole code at once (one CNN, one 10-way softmax per
position) shows what a network can do beyond MNIST.  The panel generates a captcha with the same
generator as the ``captcha`` dataset (:func:`nnstudio.data.captcha_digits.generate_captchas`, at the size
the network reads), shows it, and shows each digit the network reads with its confidence, green when right
and red when wrong.  Given no network, it reads with the captcha CNN that ships trained in
``resources/models`` (so the panel works on first launch); without that either, it says so and still shows
captchas.
"""
from __future__ import annotations

import random
from functools import lru_cache
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from nnstudio.data import captcha_digits
from nnstudio.engine.model import Model
from nnstudio.errors import UserError
from nnstudio.predictor import CaptchaReader, CaptchaReading, load_project_model
from nnstudio.resources_path import resource
from nnstudio.ui.digit_panel import gray_qimage, titled_card
from nnstudio.ui.i18n import N_, tr

SHIPPED_MODEL = "captcha-cnn"  # resources/models/captcha-cnn.json and .npz
SHIPPED_MODEL_TITLE = N_("Captcha CNN (built in)")

RIGHT = QColor("#34D399")
WRONG = QColor("#F87171")
CARD_STYLE = "QFrame#captchaCard { background: #23262E; border: 1px solid #2F3440; border-radius: 10px; }"


def shipped_model_paths() -> tuple[Path, Path]:
    """The shipped captcha model: (project file, weights)."""
    return resource("models", f"{SHIPPED_MODEL}.json"), resource("models", f"{SHIPPED_MODEL}.npz")


@lru_cache(maxsize=1)
def _shipped_model() -> Model:
    project, weights = shipped_model_paths()
    if not project.is_file() or not weights.is_file():
        raise UserError(f"the shipped captcha model is missing ({project.name} / {weights.name} in "
                        f"{project.parent})")
    return load_project_model(project, weights)


def shipped_reader() -> CaptchaReader:
    """A reader with the shipped captcha CNN (read from disk once per process); UserError when it is missing."""
    return CaptchaReader(_shipped_model(), name=tr(SHIPPED_MODEL_TITLE))


class CaptchaImage(QWidget):
    """The captcha as the network receives it (bright ink on dark), enlarged."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self.setMinimumSize(300, 120)

    def set_image(self, image: np.ndarray | None) -> None:
        self._image = None if image is None else gray_qimage(image)
        if self._image is not None:
            ratio = self._image.width() / max(1, self._image.height())
            self.setMinimumSize(int(120 * ratio), 120)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        if self._image is not None:
            ratio = self._image.width() / max(1, self._image.height())
            w = min(self.width(), self.height() * ratio)
            h = w / ratio
            target = QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(target, self._image)
        painter.setPen(QPen(QColor("#3A3F4B"), 1.0))
        painter.drawRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5))
        painter.end()


class DigitTile(QWidget):
    """One read digit: large, with its confidence, coloured by whether it is right."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.digit: int | None = None
        self.confidence = 0.0
        self.correct: bool | None = None
        self.setMinimumSize(64, 86)

    def set_value(self, digit: int | None, confidence: float = 0.0, correct: bool | None = None) -> None:
        self.digit, self.confidence, self.correct = digit, float(confidence), correct
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        colour = QColor("#5B8CFF") if self.correct is None else (RIGHT if self.correct else WRONG)
        box = QRectF(self.rect()).adjusted(2, 2, -2, -2)
        painter.setPen(QPen(colour if self.digit is not None else QColor("#3A3F4B"), 1.5))
        painter.setBrush(QColor("#1A1D23"))
        painter.drawRoundedRect(box, 8, 8)
        if self.digit is not None:
            big = QFont(self.font())
            big.setPointSizeF(26)
            big.setBold(True)
            painter.setFont(big)
            painter.setPen(colour)
            painter.drawText(box.adjusted(0, 2, 0, -22), Qt.AlignmentFlag.AlignCenter, str(self.digit))
            painter.setFont(self.font())
            painter.setPen(QColor("#AEB6C4"))
            painter.drawText(box.adjusted(0, 0, 0, -6), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                             f"{self.confidence:.0%}")
            bar = QRectF(box.left() + 8, box.bottom() - 5, (box.width() - 16) * self.confidence, 2.5)
            painter.fillRect(bar, colour)
        painter.end()


class CaptchaPanel(QWidget):
    """A captcha, the true code, and the code the given network reads, digit by digit."""

    reading_changed = Signal(object)  # CaptchaReading or None

    def __init__(self, model: Model | CaptchaReader | None = None, parent: QWidget | None = None,
                 seed: int | None = None, shipped: bool = True) -> None:
        """``shipped``: with no ``model`` (now or after ``set_model(None)``), read with the shipped CNN."""
        super().__init__(parent)
        self._reader: CaptchaReader | None = None
        self._source: Model | None = None
        self._use_shipped = bool(shipped)
        self._seeds = random.Random(seed)
        self.image: np.ndarray | None = None  # uint8 (H, W), bright ink on dark
        self.true_digits: list[int] = []
        self.reading: CaptchaReading | None = None
        self._build()
        self.set_model(model)

    def _build(self) -> None:
        self.setStyleSheet(CARD_STYLE)
        self.picture = CaptchaImage()
        self.truth_label = QLabel()
        self.truth_label.setStyleSheet("color: #AEB6C4;")
        self.new_button = QPushButton(tr("New captcha"))
        self.new_button.clicked.connect(lambda: self.new_captcha())
        self.tiles = [DigitTile() for _ in range(captcha_digits.DIGITS)]
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.summary = QLabel()
        self.summary.setStyleSheet("font-weight: 600;")

        card, inner = titled_card("captchaCard", tr("What the network reads"))
        self._tile_row = QHBoxLayout()
        for tile in self.tiles:
            self._tile_row.addWidget(tile)
        inner.addLayout(self._tile_row)
        inner.addWidget(self.summary)
        inner.addWidget(self.message)

        head = QHBoxLayout()
        head.addWidget(self.truth_label, 1)
        head.addWidget(self.new_button)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 12, 12, 12)
        outer.addWidget(self.picture, 1)
        outer.addLayout(head)
        outer.addWidget(card)

    # -- model ----------------------------------------------------------------------------------------------
    @property
    def reader(self) -> CaptchaReader | None:
        return self._reader

    def set_model(self, model: Model | CaptchaReader | None, name: str = "") -> None:
        """Read captchas with ``model`` (a trained captcha network, output (4, 10)); None: the shipped
        network (no network when the panel was made with ``shipped=False`` or the shipped one is missing).

        Calling it again with the same Model copies its new weights (to follow a run live).  UserError when
        the network is not a captcha reader.
        """
        if model is None:
            self._reader, self._source = None, None
            if self._use_shipped:
                try:
                    self._reader = shipped_reader()
                except UserError:
                    self._reader = None  # the panel then says that no captcha network is trained
        elif isinstance(model, CaptchaReader):
            self._reader, self._source = model, None
        elif isinstance(model, Model):
            if model is self._source and self._reader is not None:
                self._reader.update_weights(model)
            else:
                self._reader, self._source = CaptchaReader(model, name=name or tr("the open project")), model
        else:
            raise UserError(f"Captcha: expected a network, found {type(model).__name__}")
        shape = self._shape()
        if self.image is None or self.image.shape != shape:
            self.new_captcha()
        else:
            self._read()

    def _shape(self) -> tuple[int, int]:
        return self._reader.image_shape if self._reader is not None else captcha_digits.DEFAULT_SHAPE

    # -- captchas -------------------------------------------------------------------------------------------
    def new_captcha(self, seed: int | None = None) -> None:
        """Generate another captcha (from ``seed`` when given) and read it."""
        seed = self._seeds.randrange(2**31) if seed is None else int(seed)
        try:
            images, labels = captcha_digits.generate_captchas(1, seed, "panel", self._shape())
        except UserError as exc:
            self.image, self.true_digits = None, []
            self.picture.set_image(None)
            self._set_message(str(exc), error=True)
            return
        self.image = images[0]
        self.true_digits = [int(d) for d in labels[0]]
        self.picture.set_image(self.image.astype(np.float32) / 255.0)
        self.truth_label.setText(tr("Captcha text: {code}", code="".join(map(str, self.true_digits))))
        self._read()

    def _read(self) -> None:
        self.reading = None
        if self._reader is None or self.image is None:
            for tile in self.tiles:
                tile.set_value(None)
            self.summary.setText("")
            if self._reader is None:
                no_model = tr("No captcha network is trained yet. Train the captcha-cnn example to read these.")
                self._set_message(no_model, error=False)
            self.reading_changed.emit(None)
            return
        reading = self._reader.read(self.image)
        self.reading = reading
        digits = reading.digits
        for i, tile in enumerate(self.tiles):
            if i < len(digits):
                right = i < len(self.true_digits) and digits[i] == self.true_digits[i]
                tile.set_value(digits[i], reading.confidences[i], right)
                tile.show()
            else:
                tile.hide()
        correct = sum(1 for a, b in zip(digits, self.true_digits) if a == b)
        self.summary.setText(tr("Read {code}: {correct} of {total} digits right",
                                code=reading.text, correct=correct, total=len(self.true_digits)))
        self._set_message(tr("Model: {name}", name=self._reader.name), error=False)
        self.reading_changed.emit(reading)

    def _set_message(self, text: str, error: bool) -> None:
        self.message.setStyleSheet("color: #FF8A8A;" if error else "color: #8A93A3;")
        self.message.setText(text)
