"""The decision boundary of a model on 2-D data, drawn live over the training points.

Why this exists: for points in the plane (the toy sets: circle, xor, spiral, ...) the most telling picture
of learning is the model's answer everywhere, as in TensorFlow Playground.  The worker evaluates the model
on a small grid in its own thread and sends the host array; :func:`boundary_rgb` turns it into colours
(class colour weighted by the model's confidence, white where it is unsure) with array operations only.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from nnstudio.ui.i18n import N_, tr
from nnstudio.ui.panels.cells import PanelView
from nnstudio.ui.panels.export import ExportablePanel

# Playground's orange and blue first, then distinct hues for more classes.
PALETTE = np.array([[245, 147, 34], [8, 119, 189], [34, 160, 80], [200, 50, 120], [130, 80, 200],
                    [200, 170, 30], [20, 170, 170], [120, 120, 120], [220, 60, 40], [90, 140, 40]],
                   dtype=np.float32)


def class_colours(n: int) -> np.ndarray:
    reps = int(np.ceil(max(n, 1) / len(PALETTE)))
    return np.tile(PALETTE, (reps, 1))[:max(n, 1)]


def boundary_rgb(values: np.ndarray) -> np.ndarray:
    """(H, W, K) probabilities or (H, W) single outputs -> (H, W, 3) uint8 colours."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float32))
    white = np.float32(255.0)
    if values.ndim == 3:
        k = values.shape[-1]
        total = values.sum(axis=-1, keepdims=True)
        probs = values / np.where(total > 0, total, 1.0) if not np.allclose(total, 1.0, atol=1e-3) else values
        rgb = probs @ class_colours(k)
        confidence = (probs.max(axis=-1, keepdims=True) - 1.0 / k) / (1.0 - 1.0 / k)
    else:
        if values.min() >= 0.0 and values.max() <= 1.0:  # a probability of class 1
            p = values
        else:  # a score around 0 (perceptron, hinge, regression): squash its sign and size
            scale = max(float(np.abs(values).max()), 1e-6)
            p = 0.5 + 0.5 * values / scale
        rgb = p[..., None] * PALETTE[1] + (1.0 - p[..., None]) * PALETTE[0]
        confidence = np.abs(2.0 * p - 1.0)[..., None]
    confidence = np.clip(confidence, 0.0, 1.0) * 0.85
    mixed = white * (1.0 - confidence) + rgb * confidence
    return np.clip(mixed, 0, 255).astype(np.uint8)


PLACEHOLDER = N_("Shown for datasets with 2 features (the toy sets).")


class BoundaryPanel(ExportablePanel):
    """A heatmap of the model's output over the plane, with the training points on top."""

    export_name = "decision_boundary"

    def __init__(self, parent: Any = None) -> None:
        super().__init__(tr("Decision boundary"), parent)
        self.view = PanelView()
        self.body.addWidget(self.view, 1)
        self.plot = self.view.addPlot()
        self.plot.setAspectLocked(True)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.points = pg.ScatterPlotItem(size=7, pen=pg.mkPen("w", width=1))
        self.plot.addItem(self.points)
        # A caption line, not a TextItem in the plot: pyqtgraph's TextItem there repainted the view ~30 times
        # a second while idle (measured), which a training run pays for on the GUI thread.
        self.set_caption(tr(PLACEHOLDER))
        self.boundary: Any = None
        self.info: Any = None

    def clear(self) -> None:
        self.boundary = None
        self.image.clear()
        self.points.setData([])
        self.set_caption(tr(PLACEHOLDER))
        self.dirty = True

    def begin_run(self, info: Any = None, continuing: bool = False) -> None:
        self.info = info
        self.boundary = None
        self.image.clear()
        points = getattr(info, "points", None)
        if points is None:
            self.points.setData([])
            self.set_caption(tr(PLACEHOLDER))
            return
        self.set_caption("")
        labels = np.asarray(info.labels).reshape(len(points), -1)[:, 0]
        if info.num_classes >= 2:
            colours = class_colours(info.num_classes)[np.clip(labels.astype(int), 0, info.num_classes - 1)]
        else:
            colours = np.where((labels > 0)[:, None], PALETTE[1], PALETTE[0])
        brushes = [pg.mkBrush(*c) for c in colours.astype(int)]
        self.points.setData(pos=points, brush=brushes)
        x0, x1, y0, y1 = info.extent
        self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def set_boundary(self, boundary: Any) -> None:
        self.boundary = boundary
        self.dirty = True

    def redraw(self) -> None:
        self.dirty = False
        if self.boundary is None:
            return
        x0, x1, y0, y1 = self.boundary.extent
        self.image.setImage(boundary_rgb(self.boundary.values), autoLevels=False, levels=(0, 255))
        self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))

    def history(self) -> dict[str, np.ndarray]:
        if self.boundary is None:
            return {}
        values = np.asarray(self.boundary.values)
        h, w = values.shape[:2]
        x0, x1, y0, y1 = self.boundary.extent
        gx, gy = np.meshgrid(np.linspace(x0, x1, w), np.linspace(y0, y1, h))
        columns = {"x": gx.ravel(), "y": gy.ravel()}
        flat = values.reshape(h * w, -1)
        for k in range(flat.shape[1]):
            columns[f"output_{k}"] = flat[:, k]
        return columns
