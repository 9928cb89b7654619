"""The drawing page's "what made it say 7": a heat map over the 28 x 28 the network sees, live as you draw.

Why this exists: the bars say what the network decided; this map says which pixels decided it (Grad-CAM for a
network with a Conv2D, else saliency, both from :mod:`nnstudio.explain`).  It also holds the page's
:class:`~nnstudio.digit_doubt.DigitDoubt`, which says when a drawing does not look like a digit at all.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QComboBox, QLabel, QVBoxLayout, QWidget

from nnstudio.digit_doubt import DigitDoubt, Verdict
from nnstudio.errors import UserError
from nnstudio.explain import explain, last_conv, overlay
from nnstudio.ui.i18n import tr

METHODS = ("gradcam", "saliency")


def rgb_qimage(pixels: np.ndarray) -> QImage:
    """An RGB888 QImage (its own copy) of an (H, W, 3) uint8 array."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    h, w, _ = pixels.shape
    return QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class PixelView(QWidget):
    """A small picture (the 28 x 28 the network sees, a heat map over it), enlarged with hard pixel edges on
    black, in a thin frame."""

    def __init__(self, side: int = 112, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self.setFixedSize(side, side)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            painter.drawImage(QRectF(self.rect()), self._image)
        painter.setPen(QPen(QColor("#3A3F4B"), 1.0))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.end()


class HeatMap(PixelView):
    """A heat map over the input."""

    @property
    def has_map(self) -> bool:
        return self._image is not None

    def set_map(self, image: np.ndarray | None, heat: np.ndarray | None = None) -> None:
        self._image = None if image is None or heat is None else rgb_qimage(overlay(image, heat))
        self.update()


class ExplanationView(QWidget):
    """The map, its caption ("What made it say 7") and the choice of method, for the page's current model.

    ``doubt_ready`` fires when the digit comparison (computed in a background thread) becomes ready, so the
    page can judge the drawing again."""

    doubt_ready = Signal()
    POLL_MS = 100

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._poll = QTimer(self)
        self._poll.setInterval(self.POLL_MS)
        self._poll.timeout.connect(self._check_ready)
        self.map = HeatMap()
        self.caption = QLabel()
        self.caption.setStyleSheet("color: #8A93A3;")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.method_combo = QComboBox()
        self.method_combo.addItem(tr("Grad-CAM"), "gradcam")
        self.method_combo.addItem(tr("Saliency"), "saliency")
        self.method_combo.setToolTip(tr("Grad-CAM: which regions of the last convolution's maps raised the "
                                        "class's score. Saliency: how strongly each pixel changes it."))
        self.method_combo.currentIndexChanged.connect(self._method_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.map, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.caption)
        layout.addWidget(self.method_combo, 0, Qt.AlignmentFlag.AlignHCenter)
        self._model: Any = None
        self.doubt: DigitDoubt | None = None
        self._last: tuple[Any, Any] | None = None
        self.last_map: np.ndarray | None = None  # the map shown, (28, 28) in [0, 1]; the feature maps show it too
        self.clear()

    # -- model ---------------------------------------------------------------------------------------------
    def set_model(self, model: Any) -> None:
        """The network the page predicts with (its private copy); Grad-CAM only when it has a Conv2D."""
        self._model = model
        self.doubt = DigitDoubt(model) if model is not None else None
        has_conv = model is not None and last_conv(model) is not None
        item = self.method_combo.model().item(0)
        item.setEnabled(has_conv)
        if not has_conv and self.method_combo.currentIndex() == 0:
            self.method_combo.setCurrentIndex(1)

    def weights_changed(self) -> None:
        if self.doubt is not None:
            self.doubt.invalidate()

    @property
    def method(self) -> str:
        return str(self.method_combo.currentData())

    # -- per drawing ---------------------------------------------------------------------------------------
    def judge(self, gray: np.ndarray | None, image28: np.ndarray, probabilities: np.ndarray) -> Verdict:
        if self.doubt is None:
            return Verdict(True)
        try:
            verdict = self.doubt.judge(gray, image28, probabilities, wait=False)
        except UserError:  # no built-in digits to compare with: say nothing rather than guess
            return Verdict(True)
        if not self.doubt.ready and not self._poll.isActive():
            self._poll.start()  # the comparison is being computed in the background
        return verdict

    def _check_ready(self) -> None:
        doubt = self.doubt
        if doubt is None or not (doubt.ready or doubt.busy):  # none, or it failed: the other checks apply
            self._poll.stop()
        elif doubt.ready:
            self._poll.stop()
            self.doubt_ready.emit()

    def show_for(self, image28: np.ndarray | None, top: int | None, top_name: str = "") -> None:
        """Explain the prediction ``top`` for the preprocessed drawing (None: nothing drawn)."""
        self._last = (image28, (top, top_name))
        if image28 is None or top is None or self._model is None:
            self.clear()
            return
        sample = np.asarray(image28, np.float32).reshape((1,) + tuple(self._model.input_shape))
        try:
            result = explain(self._model, sample, self.method, target=top)
        except UserError:
            self.clear()
            return
        self.last_map = result.maps[0].reshape(28, 28).astype(np.float32)
        self.map.set_map(np.asarray(image28).reshape(28, 28), self.last_map)
        self.caption.setText(tr("What made it say {digit}", digit=top_name))

    def clear(self) -> None:
        self.last_map = None
        self.map.set_map(None)
        self.caption.setText(tr("What made it say…"))

    def _method_changed(self, _index: int) -> None:
        if self._last is not None:
            image28, (top, name) = self._last
            self.show_for(image28, top, name)


class SampleExplainer:
    """Maps for samples picked in the confusion matrix: Grad-CAM (saliency without a Conv2D) with the open
    project's network and its latest weights (the last epoch's while it trains, else the trained ones).

    Installed as ``ConfusionPanel.explainer``; the network is compiled once per weights version."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self._live: dict[str, np.ndarray] | None = None
        self._model: Any = None
        self._key: tuple[int, int] | None = None
        window.training.live_weights.connect(self._live_weights)
        window.training.run_starting.connect(self._forget_live)
        window.project_opened.connect(self._forget_live)

    def _live_weights(self, snapshot: Any) -> None:
        self._live = getattr(snapshot, "weights", None)

    def _forget_live(self, *_args: Any) -> None:
        self._live, self._model, self._key = None, None, None

    def _network(self) -> Any:
        from nnstudio.graph.compile import compile_graph  # noqa: PLC0415

        graph = self.window.graph
        weights = self._live if self._live is not None else getattr(self.window.training, "weights", None)
        if graph is None or weights is None:
            return None
        key = (id(graph), id(weights))
        if key != self._key:
            model = compile_graph(graph, "numpy", seed=0)
            model.load_state_dict(weights, source=tr("the trained weights"))
            self._model, self._key = model, key
        return self._model

    def __call__(self, samples: np.ndarray) -> tuple[np.ndarray, str] | None:
        """(maps in [0, 1] on the samples' grid, method), or None when the network cannot explain them."""
        samples = np.asarray(samples, dtype=np.float32)
        try:
            model = self._network()
            if model is None or samples.ndim != 4 or tuple(model.input_shape) != samples.shape[1:]:
                return None
            method = "gradcam" if last_conv(model) is not None else "saliency"
            return explain(model, samples, method).maps, method
        except (UserError, ValueError):
            return None


def install_sample_explainer(window: Any) -> SampleExplainer:
    """Maps for the samples behind a confusion-matrix cell (the dialog's "Show why")."""
    explainer = SampleExplainer(window)
    window.training.dashboard.confusion.explainer = explainer
    return explainer

