"""The "Draw a digit" page: a canvas, the network's live class probabilities and the 28 x 28 it sees.

Why this exists: it is the quickest way to meet a trained network.  On every stroke update the page runs
the shared preprocessing (:func:`nnstudio.data.drawing.preprocess_drawing`) and one forward pass, at most
about 30 times a second: updates are coalesced by a single-shot timer, and when it fires the latest drawing
wins.  It works on first launch with the shipped LeNet model; :meth:`DigitPanel.set_model` switches to the
open project's network (again and again while it trains, to follow it live).  The drawing can be added to
the user's own digits (:mod:`nnstudio.data.userdigits`), and :meth:`DigitPanel.activations_for_drawing`
gives the feature-map panel every layer's output for the current drawing.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton,
                               QSizePolicy, QSlider, QVBoxLayout, QWidget)

from nnstudio.data import userdigits
from nnstudio.engine.model import Model
from nnstudio.errors import UserError
from nnstudio.predictor import DEFAULT_MODEL_TITLE, DigitPredictor, Prediction, default_predictor
from nnstudio.ui.canvas import DrawingCanvas, MAX_STROKE_WIDTH, MIN_STROKE_WIDTH
from nnstudio.ui.explain_view import ExplanationView, PixelView
from nnstudio.ui.i18n import tr

PREDICT_INTERVAL_MS = 33  # at most ~30 predictions a second
ACCENT = QColor("#5B8CFF")
BAR = QColor("#6B7487")
TRACK = QColor("#2A2E38")
SHOW_VALUE_FROM = 0.03  # other bars get their percentage too once they reach 3 %
TEXT = QColor("#E3E6ED")
MUTED = QColor("#8A93A3")
CARD_STYLE = "QFrame#digitCard { background: #23262E; border: 1px solid #2F3440; border-radius: 10px; }"


def format_percent(value: float) -> str:
    """"97%", and "> 99%" rather than a rounded "100%" that a softmax never really reaches."""
    return "> 99%" if value >= 0.995 else f"{value:.0%}"


def titled_card(object_name: str, title: str) -> tuple[QFrame, QVBoxLayout]:
    """A framed card (styled by its object name in the theme) with a bold title; add the rest to the layout."""
    card = QFrame()
    card.setObjectName(object_name)
    layout = QVBoxLayout(card)
    layout.setContentsMargins(14, 12, 14, 12)
    heading = QLabel(title)
    heading.setStyleSheet("font-weight: 600; font-size: 11pt;")
    layout.addWidget(heading)
    return card, layout


def gray_qimage(image: np.ndarray) -> QImage:
    """A Grayscale8 QImage (its own copy) of a 2-D array in [0, 1]."""
    pixels = np.ascontiguousarray(np.clip(np.asarray(image) * 255.0 + 0.5, 0, 255).astype(np.uint8))
    h, w = pixels.shape
    return QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


class ProbabilityBars(QWidget):
    """One vertical bar per class with its label; the most likely class is highlighted with its percentage."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._values: np.ndarray | None = None
        self._names: list[str] = [str(i) for i in range(10)]
        self.setMinimumSize(300, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    @property
    def values(self) -> np.ndarray | None:
        """The probabilities shown, or None when there are no bars (nothing drawn)."""
        return self._values

    def set_values(self, values: np.ndarray | None, names: list[str] | None = None) -> None:
        self._values = None if values is None else np.asarray(values, dtype=np.float64).copy()
        if names is not None:
            self._names = list(names)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        n = len(self._names)
        label_h, value_h, pad = 22.0, 18.0, 6.0
        area = QRectF(pad, value_h, self.width() - 2 * pad, self.height() - value_h - label_h)
        slot = area.width() / max(n, 1)
        bar_w = max(4.0, slot * 0.62)
        top = -1 if self._values is None else int(np.argmax(self._values))
        small = QFont(self.font())
        small.setPointSizeF(max(7.5, self.font().pointSizeF() - 0.5))
        for i, name in enumerate(self._names):
            x = area.left() + slot * i + (slot - bar_w) / 2.0
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(TRACK)
            painter.drawRoundedRect(QRectF(x, area.top(), bar_w, area.height()), 3.0, 3.0)
            if self._values is not None:
                value = float(np.clip(self._values[i], 0.0, 1.0))
                h = value * area.height()
                if h > 0.5:
                    painter.setBrush(ACCENT if i == top else BAR)
                    painter.drawRoundedRect(QRectF(x, area.bottom() - h, bar_w, h), 3.0, 3.0)
                if i == top or value >= SHOW_VALUE_FROM:
                    painter.setPen(TEXT if i == top else MUTED)
                    painter.setFont(small)
                    painter.drawText(QRectF(x - slot / 2, area.bottom() - h - value_h, bar_w + slot, value_h),
                                     Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                                     format_percent(value))
            painter.setFont(self.font())
            painter.setPen(TEXT if i == top else MUTED)
            painter.drawText(QRectF(area.left() + slot * i, area.bottom() + 3, slot, label_h - 3),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, name)
        painter.end()


class InputPreview(PixelView):
    """The 28 x 28 image the network receives, enlarged with hard pixel edges."""

    def __init__(self, side: int = 112, parent: QWidget | None = None) -> None:
        super().__init__(side, parent)
        self.setToolTip(tr("The 28x28 image the network receives: your drawing, scaled and centred like MNIST."))

    def set_image(self, image: np.ndarray | None) -> None:
        self._image = None if image is None else gray_qimage(image)
        self.update()


class DigitPanel(QWidget):
    """Canvas + live prediction.  Signals: ``input_changed(np.ndarray)`` with each new preprocessed 28 x 28
    (all zeros when the canvas is cleared) and ``prediction_changed(object)`` with the
    :class:`~nnstudio.predictor.Prediction` or None."""

    input_changed = Signal(object)
    prediction_changed = Signal(object)

    def __init__(self, predictor: DigitPredictor | None = None, parent: QWidget | None = None,
                 interval_ms: int = PREDICT_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._predictor: DigitPredictor | None = None
        self._source: Model | None = None  # the project model the predictor copies, for live updates
        self._input: np.ndarray | None = None
        self._prediction: Prediction | None = None
        self._gray: np.ndarray | None = None  # the canvas as last predicted
        self.verdict: Any = None  # the digit_doubt Verdict of the current drawing
        self._last_run = 0.0
        self._label_chosen = False
        self.prediction_count = 0
        self.last_timings: dict[str, float] = {}
        self._interval_s = interval_ms / 1000.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.update_prediction)
        self._build()
        if predictor is None:
            try:
                predictor = default_predictor()
            except UserError as exc:
                self._set_status(str(exc), error=True)
        if predictor is not None:
            self._use(predictor, None)

    # -- construction --------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.setStyleSheet(CARD_STYLE)
        self.canvas = DrawingCanvas(self)
        self.canvas.drawing_changed.connect(self.schedule_prediction)

        self.undo_button = QPushButton(tr("Undo"))
        self.undo_button.setToolTip(tr("Remove the last stroke (Ctrl+Z)"))
        self.undo_button.clicked.connect(self.canvas.undo)
        self.clear_button = QPushButton(tr("Clear"))
        self.clear_button.setToolTip(tr("Start again (Esc)"))
        self.clear_button.clicked.connect(self.canvas.clear)
        self.save_button = QPushButton(tr("Save PNG…"))
        self.save_button.clicked.connect(self._save_png)
        self.width_slider = QSlider(Qt.Orientation.Horizontal)
        self.width_slider.setRange(int(MIN_STROKE_WIDTH), int(MAX_STROKE_WIDTH))
        self.width_slider.setValue(int(self.canvas.stroke_width))
        self.width_slider.setToolTip(tr("Stroke width"))
        self.width_slider.setMinimumWidth(64)  # squeezed to a dot beside the buttons under the canvas otherwise
        self.width_slider.valueChanged.connect(lambda v: self.canvas.set_stroke_width(float(v)))
        tools = QHBoxLayout()
        tools.addWidget(self.undo_button)
        tools.addWidget(self.clear_button)
        tools.addSpacing(8)
        tools.addWidget(QLabel(tr("Pen")))
        tools.addWidget(self.width_slider, 1)
        tools.addWidget(self.save_button)

        left = QVBoxLayout()
        left.addWidget(self.canvas, 0, Qt.AlignmentFlag.AlignHCenter)
        left.addLayout(tools)

        self.model_label = QLabel()
        self.model_label.setStyleSheet("color: #8A93A3;")
        self.model_label.setWordWrap(True)
        self.top_label = QLabel("–")
        big = QFont(self.font())
        big.setPointSizeF(44)
        big.setBold(True)
        self.top_label.setFont(big)
        self.top_label.setStyleSheet("color: #7FA6FF;")
        self.top_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.top_label.setMinimumWidth(90)
        self.confidence_label = QLabel(tr("Draw a digit"))
        self.confidence_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.confidence_label.setWordWrap(True)  # "Not sure: ..." wraps instead of widening the card
        self.confidence_label.setStyleSheet("color: #AEB6C4;")
        self.preview = InputPreview()
        preview_caption = QLabel(tr("What the network sees (28x28)"))
        preview_caption.setStyleSheet("color: #8A93A3;")
        preview_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.bars = ProbabilityBars()
        self.explanation = ExplanationView()
        self.explanation.doubt_ready.connect(self._judge_again)  # with the digit comparison, now ready

        head = QGridLayout()
        head.addWidget(self.top_label, 0, 0)
        head.addWidget(self.confidence_label, 1, 0)
        head.addWidget(self.preview, 0, 1, Qt.AlignmentFlag.AlignRight)
        head.addWidget(preview_caption, 1, 1, Qt.AlignmentFlag.AlignRight)
        head.addWidget(self.explanation, 0, 2, 3, 1, Qt.AlignmentFlag.AlignTop)
        head.setColumnStretch(0, 1)

        card, right = titled_card("digitCard", tr("Prediction"))
        right.addLayout(head)
        right.addWidget(self.bars, 1)
        right.addWidget(self.model_label)

        self.label_combo = QComboBox()
        self.label_combo.addItems([str(i) for i in range(10)])
        self.label_combo.setToolTip(tr("The digit you meant to draw"))
        self.label_combo.activated.connect(self._on_label_chosen)
        self.add_button = QPushButton(tr("Add to my digits"))
        self.add_button.setToolTip(tr("Save this drawing and its label to your own digit set (mydigits)"))
        self.add_button.clicked.connect(self.add_to_my_digits)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        mine = QHBoxLayout()
        mine.addWidget(QLabel(tr("This is a")))
        mine.addWidget(self.label_combo)
        mine.addWidget(self.add_button)
        mine.addWidget(self.status_label, 1)

        columns = QHBoxLayout()
        columns.addLayout(left)
        columns.addSpacing(10)
        columns.addWidget(card, 1)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 12, 12, 12)
        outer.addLayout(columns, 1)
        outer.addLayout(mine)
        self._show(None, None)

    # -- model ----------------------------------------------------------------------------------------------
    @property
    def predictor(self) -> DigitPredictor | None:
        return self._predictor

    def set_model(self, model_or_predictor: Model | DigitPredictor | None, name: str = "",
                  class_names: list[str] | None = None) -> None:
        """Predict with a project's network (a built Model or a DigitPredictor); None: the shipped model.

        Calling it again with the same Model (e.g. after each epoch of a run) copies its new weights, so the
        bars follow the training live.  UserError when the network cannot read 28 x 28 drawings.
        """
        if model_or_predictor is None:
            self._use(default_predictor(), None)
        elif isinstance(model_or_predictor, DigitPredictor):
            self._use(model_or_predictor, None)
        elif isinstance(model_or_predictor, Model):
            if model_or_predictor is self._source and self._predictor is not None:
                self._predictor.update_weights(model_or_predictor)
                self.explanation.weights_changed()
                self.update_prediction()
            else:
                self._use(DigitPredictor(model_or_predictor, class_names, name=name or tr("the open project")),
                          model_or_predictor)
        else:
            raise UserError(f"Draw a digit: expected a network or a predictor, found "
                            f"{type(model_or_predictor).__name__}")

    def set_weights(self, state: dict[str, np.ndarray]) -> None:
        """New weights (keyed ``node/param``) for the current network, e.g. a snapshot from a running trainer."""
        if self._predictor is None:
            return
        self._predictor.update_weights(state)
        self.explanation.weights_changed()
        self.update_prediction()

    def _use(self, predictor: DigitPredictor, source: Model | None) -> None:
        self._predictor = predictor
        self._source = source
        self.explanation.set_model(predictor.model)
        name = predictor.name or tr("the open project")
        if name == DEFAULT_MODEL_TITLE:
            name = tr("LeNet digits (built in)")
        self.model_label.setText(tr("Model: {name}", name=name))
        self.update_prediction()

    # -- prediction ---------------------------------------------------------------------------------------
    def schedule_prediction(self) -> None:
        """Coalesce updates: at most one prediction per interval, always on the latest drawing."""
        if self._timer.isActive():
            return  # the pending run will read the canvas as it is then
        wait = self._last_run + self._interval_s - time.perf_counter()
        self._timer.start(max(0, int(wait * 1000.0 + 0.5)))

    def update_prediction(self) -> None:
        """Preprocess the current drawing, predict and refresh the bars now."""
        self._timer.stop()
        started = time.perf_counter()
        self._last_run = started
        if self._predictor is None:
            return
        self._gray = self.canvas.to_uint8()
        result = self._predictor.predict_drawing(self._gray)
        predicted = time.perf_counter()
        if result is None:
            self._show(None, None)
        else:
            self._show(*result)
        self.prediction_count += 1
        self.last_timings = {"predict_s": predicted - started, "show_s": time.perf_counter() - predicted}

    def _show(self, image28: np.ndarray | None, prediction: Prediction | None) -> None:
        self._input, self._prediction = image28, prediction
        if prediction is None:
            self.bars.set_values(None)
            self.top_label.setText("–")
            self.confidence_label.setText(tr("Draw a digit"))
            self.preview.set_image(None)
            self.verdict = None
            self.explanation.show_for(None, None)
        else:
            self.bars.set_values(prediction.probabilities, prediction.class_names)
            self._judge(image28, prediction)
            self.preview.set_image(image28)
            self.explanation.show_for(image28, prediction.top, prediction.top_name)
            if not self._label_chosen and prediction.top < self.label_combo.count():
                self.label_combo.setCurrentIndex(prediction.top)  # a good guess for "Add to my digits"
        if image28 is None:
            self._label_chosen = False
        self.add_button.setEnabled(image28 is not None)
        self.input_changed.emit(image28 if image28 is not None else np.zeros((28, 28), np.float32))
        self.prediction_changed.emit(prediction)

    def _judge(self, image28: np.ndarray, prediction: Prediction) -> None:
        """Whether to trust the prediction: the big label shows the digit or "?", the line below says why."""
        self.verdict = self.explanation.judge(self._gray, image28, prediction.probabilities)
        self.top_label.setText(prediction.top_name if self.verdict.sure else "?")
        self.confidence_label.setText(self._confidence_text(prediction))

    def _judge_again(self) -> None:
        if self._input is not None and self._prediction is not None:
            self._judge(self._input, self._prediction)

    def _confidence_text(self, prediction: Prediction) -> str:
        """"97% sure", or why the page is not sure (the bars still show what the network says)."""
        reason = "" if self.verdict is None or self.verdict.sure else self.verdict.reason
        if reason == "too_small":
            return tr("Not sure: too small to read")
        if reason == "unlike_digits":
            return tr("Not sure: this does not look like a digit ({percent} {digit})",
                      percent=format_percent(prediction.confidence), digit=prediction.top_name)
        if reason:
            return tr("Not sure: {percent} at most", percent=format_percent(prediction.confidence))
        return tr("{percent} sure", percent=format_percent(prediction.confidence))

    @property
    def current_input(self) -> np.ndarray | None:
        """The preprocessed 28 x 28 of the drawing as last predicted, or None when the canvas is empty."""
        return self._input

    @property
    def current_prediction(self) -> Prediction | None:
        return self._prediction

    def activations_for_drawing(self) -> dict[str, np.ndarray]:
        """Every layer's output (host arrays, no batch axis, keyed by node id) for the current drawing;
        empty when nothing is drawn or no model is loaded."""
        if self._timer.isActive():
            self.update_prediction()
        if self._input is None or self._predictor is None:
            return {}
        return self._predictor.activations(self._input)

    def _on_label_chosen(self, _index: int) -> None:
        self._label_chosen = True  # the user's choice; stop following the prediction until cleared

    # -- actions --------------------------------------------------------------------------------------------
    def add_to_my_digits(self) -> int | None:
        """Store the current 28 x 28 with the chosen label; returns the new number of saved digits."""
        self.update_prediction()
        if self._input is None:
            self._set_status(tr("Draw a digit first."), error=True)
            return None
        label = int(self.label_combo.currentText())
        try:
            count = userdigits.add_digit(self._input, label)
        except UserError as exc:
            self._set_status(str(exc), error=True)
            return None
        self._set_status(tr("Saved as {label}: {count} digits in your set.", label=label, count=count))
        return count

    def _save_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, tr("Save drawing"), "digit.png", tr("PNG images (*.png)"))
        if not path:
            return
        try:
            saved = self.canvas.save_png(path)
        except UserError as exc:
            self._set_status(str(exc), error=True)
            return
        self._set_status(tr("Saved {file}", file=saved.name))

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setStyleSheet("color: #FF8A8A;" if error else "color: #6EE7B7;")
        self.status_label.setText(text)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Esc anywhere on the page clears
        if event.key() == Qt.Key.Key_Escape:
            self.canvas.clear()
            event.accept()
        else:
            super().keyPressEvent(event)
