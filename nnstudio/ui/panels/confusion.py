"""The confusion matrix on the validation split after each epoch, and the samples behind each cell.

Why this exists: accuracy says how often the model is wrong, the confusion matrix says which classes it
mixes up, and the samples in a cell say why (a 4 that looks like a 9).  The matrix comes from the trainer's
EpochReport (or is counted here from the worker's validation predictions with one ``bincount``); clicking a
cell opens :class:`SamplesDialog` with thumbnails of those samples.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QVBoxLayout, QWidget)

from nnstudio.ui.i18n import tr
from nnstudio.ui.panels.cells import CellTexts, PanelView, fitted_plot
from nnstudio.ui.panels.export import ExportablePanel

MAX_LABELLED = 20  # classes up to which every cell shows its count
MAX_THUMBNAILS = 200


def confusion_from_predictions(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Counts[i, j] = samples of class i predicted as j."""
    t = np.clip(np.asarray(y_true, dtype=np.int64).reshape(-1), 0, k - 1)
    p = np.clip(np.asarray(y_pred, dtype=np.int64).reshape(-1), 0, k - 1)
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def cell_at(x: float, y: float, k: int) -> tuple[int, int] | None:
    """The (true, predicted) cell under view coordinates (x = predicted column, y = true row)."""
    col, row = int(np.floor(x)), int(np.floor(y))
    if 0 <= row < k and 0 <= col < k:
        return row, col
    return None


def thumbnail(sample: np.ndarray, size: int = 56) -> QPixmap:
    """A (C, H, W) float image in [0, 1] as a pixmap (grey for one channel, RGB for three)."""
    img = np.asarray(sample, dtype=np.float32)
    img = np.clip(img * 255.0, 0, 255).astype(np.uint8)
    if img.shape[0] == 3:
        rgb = np.ascontiguousarray(img.transpose(1, 2, 0))
        qimage = QImage(rgb.data, rgb.shape[1], rgb.shape[0], rgb.strides[0], QImage.Format.Format_RGB888)
    else:
        grey = np.ascontiguousarray(img[0])
        qimage = QImage(grey.data, grey.shape[1], grey.shape[0], grey.strides[0], QImage.Format.Format_Grayscale8)
    return QPixmap.fromImage(qimage.copy()).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                                   Qt.TransformationMode.FastTransformation)


class SamplesDialog(QDialog):
    """The samples of one confusion cell: thumbnails for images, feature values otherwise."""

    def __init__(self, title: str, samples: np.ndarray, captions: list[str], parent: QWidget | None = None,
                 explainer: Callable[[np.ndarray], Any] | None = None) -> None:
        super().__init__(parent)
        self.samples, self.explainer = samples, explainer
        self.setWindowTitle(title)
        self.resize(560, 420)
        layout = QVBoxLayout(self)
        head = QHBoxLayout()
        head.addWidget(QLabel(tr("{count} samples", count=len(captions))), 1)
        self.why_box = QCheckBox(tr("Show why"))
        self.why_box.setToolTip(tr("Colour each sample by what made the network predict its class (Grad-CAM, or "
                                   "saliency for a network without a Conv2D)"))
        self.why_box.toggled.connect(self._show_why)
        head.addWidget(self.why_box)
        layout.addLayout(head)
        self.list = QListWidget()
        images = samples.ndim == 4
        self.why_box.setVisible(images and explainer is not None)
        if images:
            self.list.setViewMode(QListWidget.ViewMode.IconMode)
            self.list.setIconSize(QSize(56, 56))
            self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        for sample, caption in zip(samples[:MAX_THUMBNAILS], captions):
            if images:
                item = QListWidgetItem(QIcon(thumbnail(sample)), caption)
            else:
                values = ", ".join(f"{v:.3g}" for v in np.asarray(sample).reshape(-1)[:8])
                item = QListWidgetItem(f"{caption}: [{values}]")
            self.list.addItem(item)
        layout.addWidget(self.list, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _show_why(self, on: bool) -> None:
        """Thumbnails with the heat map of what made the network say its class over them, or plain again."""
        found = self.explainer(self.samples[:self.list.count()]) if on and self.explainer is not None else None
        if on and found is None:
            self.why_box.setChecked(False)
            self.why_box.setToolTip(tr("The network cannot explain these samples (no trained weights yet)"))
            return
        from nnstudio.explain import overlay  # noqa: PLC0415

        for i in range(self.list.count()):
            sample = self.samples[i]
            if found is None:
                icon = QIcon(thumbnail(sample))
            else:
                rgb = overlay(sample, found[0][i].reshape(sample.shape[1:]))
                icon = QIcon(thumbnail(rgb.transpose(2, 0, 1).astype(np.float32) / 255.0))
            self.list.item(i).setIcon(icon)


class ConfusionPanel(ExportablePanel):
    """Rows: true class, columns: predicted class; colour by row share, counts written in the cells."""

    export_name = "confusion_matrix"
    cell_clicked = Signal(int, int)

    def __init__(self, parent: Any = None, dataset_getter: Callable[[], Any] | None = None) -> None:
        super().__init__(tr("Confusion matrix (validation)"), parent)
        self.dataset_getter = dataset_getter
        self.explainer: Callable[[np.ndarray], Any] | None = None  # maps for the dialog's "Show why" (set outside)
        self.view = PanelView()
        self.body.addWidget(self.view, 1)
        self.plot = fitted_plot(self.view, bottom=True)
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)
        self.plot.setLabel("left", tr("true class"))
        self.plot.setLabel("bottom", tr("predicted class"))
        self.plot.getViewBox().setMouseEnabled(x=False, y=False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get("CET-L12"))
        self.plot.addItem(self.image)
        self.counts = CellTexts()  # the count in each cell, painted in one go
        self.plot.addItem(self.counts)
        self.matrix: np.ndarray | None = None
        self.class_names: list[str] = []
        self.predictions: Any = None
        self.epoch = 0
        self._trainer_epoch = -1
        self.view.scene().sigMouseClicked.connect(self._clicked)
        self.cell_clicked.connect(self.show_samples)
        self.dialog: SamplesDialog | None = None

    def clear(self) -> None:
        self.matrix, self.predictions = None, None
        self.image.clear()
        self.counts.set_cells([], np.zeros((0, 0), dtype=bool))
        self.dirty = True

    def begin_run(self, info: Any = None, continuing: bool = False) -> None:
        names = list(getattr(info, "class_names", []) or [])
        k = int(getattr(info, "num_classes", 0) or 0)
        self.class_names = names if len(names) == k else [str(i) for i in range(k)]
        if not self.class_names:
            self.show_notice(tr("The confusion matrix is shown for classification datasets."))
        else:
            self.show_notice("")
        self.view.setVisible(bool(self.class_names))  # no empty plot (axes from -500 to 500) under that notice

    def add_epoch(self, report: Any) -> None:
        confusion = getattr(report, "confusion", None)
        self.epoch = int(getattr(report, "epoch", 0))
        if confusion is not None:
            self.matrix = np.asarray(confusion, dtype=np.int64)
            self._trainer_epoch = self.epoch
            self.dirty = True

    def set_predictions(self, predictions: Any) -> None:
        self.predictions = predictions
        k = max(len(self.class_names), int(predictions.y_true.max(initial=0)) + 1, int(predictions.y_pred.max(initial=0)) + 1)
        if self.matrix is None or self._trainer_epoch != predictions.epoch:
            self.matrix = confusion_from_predictions(predictions.y_true, predictions.y_pred, k)
            self.epoch = predictions.epoch
        self.dirty = True

    def redraw(self) -> None:
        self.dirty = False
        m = self.matrix
        if m is None:
            return
        k = m.shape[0]
        rows = m.sum(axis=1, keepdims=True)
        share = m / np.maximum(rows, 1)
        self.image.setImage(share, levels=(0.0, 1.0))
        self.image.setRect(0, 0, k, k)
        if k <= MAX_LABELLED:
            self.counts.set_cells([[str(int(v)) if v else "" for v in row] for row in m.tolist()], share > 0.5)
        else:
            self.counts.set_cells([], np.zeros((0, 0), dtype=bool))
        names = self.class_names if len(self.class_names) == k else [str(i) for i in range(k)]
        ticks = [[(i + 0.5, n[:6]) for i, n in enumerate(names)]]
        self.plot.getAxis("bottom").setTicks(ticks)
        self.plot.getAxis("left").setTicks(ticks)
        self.plot.setRange(xRange=(0, k), yRange=(0, k), padding=0.02)
        total = int(m.sum())
        if total:
            self.set_caption(tr("epoch {epoch}: {correct} of {total} right", epoch=self.epoch,
                                correct=int(np.trace(m)), total=total))

    def _clicked(self, event: Any) -> None:
        if self.matrix is None:
            return
        point = self.plot.getViewBox().mapSceneToView(event.scenePos())
        cell = cell_at(point.x(), point.y(), self.matrix.shape[0])
        if cell is not None:
            self.cell_clicked.emit(*cell)

    def samples_in(self, true_class: int, predicted: int) -> tuple[np.ndarray, np.ndarray]:
        """(dataset row indices, samples) of validation samples of ``true_class`` predicted as ``predicted``."""
        p = self.predictions
        dataset = self.dataset_getter() if self.dataset_getter else None
        if p is None or dataset is None:
            return np.zeros(0, dtype=np.int64), np.zeros((0,))
        rows = p.indices[(p.y_true == true_class) & (p.y_pred == predicted)]
        x = dataset.x_train if p.source == "train" else dataset.x_test
        return rows, np.asarray(x[rows[:MAX_THUMBNAILS]])

    def show_samples(self, true_class: int, predicted: int) -> None:
        rows, samples = self.samples_in(true_class, predicted)
        names = self.class_names
        title = tr("True {true}, predicted {pred}", true=names[true_class] if true_class < len(names) else true_class,
                   pred=names[predicted] if predicted < len(names) else predicted)
        if len(rows) == 0:
            self.show_notice(tr("No validation samples in this cell (or the epoch's predictions are not in yet)."))
            return
        self.dialog = SamplesDialog(title, samples, [f"#{int(r)}" for r in rows[:MAX_THUMBNAILS]], self,
                                    self.explainer)
        self.dialog.show()

    def history(self) -> dict[str, np.ndarray]:
        if self.matrix is None:
            return {}
        k = self.matrix.shape[0]
        return {"true": np.repeat(np.arange(k), k), "predicted": np.tile(np.arange(k), k),
                "count": self.matrix.reshape(-1)}
