"""The decision boundary of a model on 2-D data, drawn live over the training and test points.

Why this exists: for points in the plane (the toy sets: circle, xor, spiral, ...) the most telling picture
of learning is the model's answer everywhere, as in TensorFlow Playground.  The worker evaluates the model
on a small grid in its own thread and sends the host array; :func:`boundary_rgb` turns it into colours
(class colour weighted by the model's confidence, white where it is unsure) with array operations only.

The panel shows the data as soon as a 2-D project is open (:meth:`BoundaryPanel.show_data`), before any
run: training points as circles, test points as squares, each toggled by a check box, a legend, and the
view fitted to the data.  While and after a run, the points the model gets wrong carry a red cross (the
worker judges them with the trainer's own class decision), and a large epoch counter lets a class watch the
boundary form.  For a regression on the plane the heatmap is the predicted value on the targets' scale.
A click on the plane, while the data controls ask for it, emits :attr:`BoundaryPanel.plane_clicked`.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from nnstudio.ui.flow_layout import FlowLayout
from nnstudio.ui.i18n import N_, tr
from nnstudio.ui.panels.cells import PanelView
from nnstudio.ui.panels.export import ExportablePanel

# Playground's orange and blue first, then distinct hues for more classes.
PALETTE = np.array([[245, 147, 34], [8, 119, 189], [34, 160, 80], [200, 50, 120], [130, 80, 200],
                    [200, 170, 30], [20, 170, 170], [120, 120, 120], [220, 60, 40], [90, 140, 40]],
                   dtype=np.float32)
WRONG = "#DC2626"  # the cross over a misclassified point: red, a colour no class region uses
POINT_LIMIT = 1000  # training and test points shown (each), the same subsample as the worker's


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


def value_rgb(values: np.ndarray, scale: float, strength: float = 0.85) -> np.ndarray:
    """Regression values -> colours: orange for -scale, white for 0, blue for +scale (clipped).  The colour
    grows with the square root of the size, so small values (most of a noisy regression's) are still seen."""
    t = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float32)) / max(scale, 1e-6), -1.0, 1.0)[..., None]
    t = np.sign(t) * np.sqrt(np.abs(t))
    colour = np.where(t >= 0, PALETTE[1], PALETTE[0])
    mixed = 255.0 * (1.0 - strength * np.abs(t)) + colour * strength * np.abs(t)
    return np.clip(mixed, 0, 255).astype(np.uint8)


def misclassified(predicted: np.ndarray | None, labels: np.ndarray) -> np.ndarray:
    """Which points the model gets wrong (all False when there is no prediction for them)."""
    truth = np.asarray(labels).reshape(len(labels), -1)[:, 0].astype(np.int64)
    if predicted is None or len(predicted) != len(truth):
        return np.zeros(len(truth), dtype=bool)
    return np.asarray(predicted).reshape(-1).astype(np.int64) != truth


SMALL_PLOT = 260  # pixels: below this the points and the epoch counter get smaller
SIDE_MIN_PANEL_WIDTH = 520  # narrower panels start with the data controls hidden (the plot keeps the room)
PLACEHOLDER = N_("Shown for datasets with 2 features (the toy sets).")
SWATCH = '<span style="color:{colour}; font-size:14pt;">{symbol}</span>'


class BoundaryPanel(ExportablePanel):
    """A heatmap of the model's output over the plane, with the training and test points on top."""

    export_name = "decision_boundary"
    plane_clicked = Signal(float, float)  # a click on the plane while adding points (x1, x2)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(tr("Decision boundary"), parent)
        # The legend and the point toggles above the plot, wrapping in a narrow dock.
        self.top = QWidget()
        top = FlowLayout(self.top, spacing=8)
        self.legend_labels: list[QLabel] = []
        self.show_train = QCheckBox()
        self.show_test = QCheckBox()
        for box in (self.show_train, self.show_test):
            box.setChecked(True)
            box.toggled.connect(self._toggled)
        top.addWidget(self.show_train)
        top.addWidget(self.show_test)
        # The plot, and a slot beside it for the data controls.
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        column = QVBoxLayout()
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.top)
        self.view = PanelView()
        column.addWidget(self.view, 1)
        # The epoch counter, large, over the plot's corner (a widget above the view, not an item in its scene:
        # it costs the plot's repaints nothing).
        self.epoch_label = QLabel("", self.view)
        self.epoch_label.setStyleSheet("background: rgba(255, 255, 255, 215); color: #0F172A;"
                                       " border-radius: 4px; padding: 0px 6px;")
        font = self.epoch_label.font()
        font.setBold(True)
        font.setPointSize(13)
        self.epoch_label.setFont(font)
        self.epoch_label.move(6, 6)
        self.epoch_label.hide()
        self._set_texts()
        row.addLayout(column, 1)
        self.side = QVBoxLayout()
        self.side.setContentsMargins(0, 0, 0, 0)
        row.addLayout(self.side)
        self.body.addLayout(row, 1)
        self.plot = self.view.addPlot()
        self.plot.setMenuEnabled(False)
        self.plot.setAspectLocked(True)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.train_points = pg.ScatterPlotItem(size=7, pen=pg.mkPen("w", width=1), symbol="o")
        self.test_points = pg.ScatterPlotItem(size=7, pen=pg.mkPen("#1E293B", width=1), symbol="s")
        self.wrong = pg.ScatterPlotItem(size=10, pen=pg.mkPen(WRONG, width=2), brush=None, symbol="x")
        for item in (self.train_points, self.test_points, self.wrong):
            self.plot.addItem(item)
        self.points = self.train_points  # the name older callers use for the training points
        self.view.scene().sigMouseClicked.connect(self._clicked)
        # A caption line, not a TextItem in the plot: pyqtgraph's TextItem there repainted the view ~30 times
        # a second while idle (measured), which a training run pays for on the GUI thread.
        self.set_caption(tr(PLACEHOLDER))
        self.boundary: Any = None
        self.info: Any = None
        self.adding = False  # True while the data controls add clicked points
        self.data: dict[str, Any] | None = None  # the points shown: x/y of train and test, task, classes
        self.extent: tuple[float, float, float, float] | None = None
        self.epochs = 0
        self.epoch = 0
        self.value_scale = 1.0  # regression: the targets' largest size (the colour scale)

    def add_side_widget(self, widget: QWidget) -> None:
        """Put ``widget`` (the data controls) beside the plot, shown or hidden by a button in the header row
        (shown at first when the panel is wide enough, so a small screen keeps the plot large)."""
        from PySide6.QtWidgets import QToolButton  # noqa: PLC0415
        self.side_widget = widget
        self.side.addWidget(widget)
        self.side_button = QToolButton()
        self.side_button.setCheckable(True)
        self._set_texts()
        self.side_button.toggled.connect(self._side_toggled)
        head = self.layout().itemAt(0).layout()  # ExportablePanel's header row: title, export menu
        head.insertWidget(head.indexOf(self.menu_button), self.side_button)
        self._side_chosen = False  # True once the user pressed the button: the width no longer decides
        self._fit_side()

    def _set_texts(self) -> None:
        """The fixed texts (again after a language change)."""
        self.show_train.setText("● " + tr("Training"))
        self.show_train.setToolTip(tr("Show the training points (circles)"))
        self.show_test.setText("■ " + tr("Test"))
        self.show_test.setToolTip(tr("Show the test points (squares)"))
        self.epoch_label.setToolTip(tr("The epoch the boundary shows"))
        if getattr(self, "side_button", None) is not None:
            self.side_button.setText(tr("Data"))
            self.side_button.setToolTip(tr("Show or hide the data controls"))

    def retranslate(self) -> None:
        self._set_texts()
        self._draw_legend()
        self._show_epoch()
        if self.data is None:
            self.set_caption(tr(PLACEHOLDER))

    def set_side_active(self, active: bool) -> None:
        """The side widget applies (a 2-D set) or not: its button and column show only when it does."""
        if getattr(self, "side_widget", None) is None:
            return
        self.side_button.setVisible(active)
        self.side_widget.setVisible(active and self.side_button.isChecked())

    def _side_toggled(self, on: bool) -> None:
        if not self._fitting:
            self._side_chosen = True  # first: showing the column resizes the panel, which must not undo it
        if self.side_button.isVisible() or not on:
            self.side_widget.setVisible(on)

    _fitting = False

    def _fit_side(self) -> None:
        if getattr(self, "side_widget", None) is None or self._side_chosen or self._fitting:
            return
        self._fitting = True
        self.side_button.setChecked(self.width() >= SIDE_MIN_PANEL_WIDTH)
        self._fitting = False

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit_side()
        self._fit_to_view()

    def _fit_to_view(self) -> None:
        """Smaller points and epoch counter in a small plot, so the data and the counter stay readable."""
        small = min(self.view.width(), self.view.height()) < SMALL_PLOT
        size = 5 if small else 7
        if self.train_points.opts.get("size") != size:
            for item in (self.train_points, self.test_points):
                item.setSize(size)
            self.wrong.setSize(size + 3)
        font = self.epoch_label.font()
        points = 10 if small else 13
        if font.pointSize() != points:
            font.setPointSize(points)
            self.epoch_label.setFont(font)
            self.epoch_label.adjustSize()

    # -- data ------------------------------------------------------------------------------------------
    def clear(self) -> None:
        self.boundary = None
        self.image.clear()
        self.data = None
        self._draw_points()
        self._set_legend([])
        self._set_epoch("")
        self.set_caption(tr(PLACEHOLDER))
        self.dirty = True

    def show_data(self, dataset: Any) -> None:
        """Show the points of a 2-D dataset (before any run, or when its options change); None: no plane."""
        from nnstudio.training.views import is_plane, plane_extent, plane_sample  # noqa: PLC0415 - Qt-free core
        if dataset is None or not is_plane(dataset) or len(dataset.x_train) == 0:
            self.boundary = None
            self.image.clear()
            self.data = None
            self._draw_points()
            self._set_legend([])
            self.set_caption(tr(PLACEHOLDER))
            return
        x_tr, y_tr, x_te, y_te = plane_sample(dataset, POINT_LIMIT)
        old = self.data
        same = old is not None and all(np.array_equal(old[k], v) for k, v in
                                       (("x_train", x_tr), ("y_train", y_tr), ("x_test", x_te), ("y_test", y_te)))
        if not same and getattr(self.boundary, "point_predictions", None) is not None:
            self.boundary = replace(self.boundary, point_predictions=None)  # they judged other points
        self.data = {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te, "task": dataset.task,
                     "num_classes": int(dataset.num_classes), "class_names": list(dataset.class_names)}
        if dataset.task == "regression":
            targets = np.concatenate([np.asarray(y_tr).reshape(-1), np.asarray(y_te).reshape(-1)])
            self.value_scale = max(float(np.abs(targets).max()) if targets.size else 1.0, 1e-6)
        extent = plane_extent(dataset)
        if self.boundary is not None and tuple(self.boundary.extent) != tuple(extent):
            self.boundary = None  # a grid over another plane (the data changed): not this data's answer
            self.image.clear()
        self.extent = extent
        self._fit()
        self.set_caption("")
        self._draw_points()
        self._draw_legend()

    def begin_run(self, info: Any = None, continuing: bool = False) -> None:
        self.info = info
        self.boundary = None
        self.image.clear()
        self.epochs = int(getattr(info, "epochs", 0) or 0)
        self.epoch = 0
        data = getattr(info, "data", None)
        if getattr(info, "points", None) is None or data is None:
            if getattr(info, "points", None) is None:
                self.data = None
                self._draw_points()
                self._set_legend([])
                self._set_epoch("")
                self.set_caption(tr(PLACEHOLDER))
                return
            self._legacy_points(info)
            return
        self.show_data(data)
        self._show_epoch()

    def _legacy_points(self, info: Any) -> None:
        """A RunInfo without its dataset (tests that fake one): its training points and extent."""
        labels = np.asarray(info.labels).reshape(len(info.points), -1)[:, 0]
        self.data = {"x_train": np.asarray(info.points), "y_train": labels, "x_test": np.zeros((0, 2), np.float32),
                     "y_test": np.zeros(0), "task": getattr(info, "task", "classification"),
                     "num_classes": int(info.num_classes), "class_names": list(getattr(info, "class_names", []))}
        self.extent = tuple(info.extent)
        self._fit()
        self.set_caption("")
        self._draw_points()
        self._draw_legend()

    def add_batches(self, reports: list) -> None:
        """The run's progress: the epoch counter follows the newest batch."""
        if reports:
            epoch = int(getattr(reports[-1], "epoch", 0))
            if epoch != self.epoch:
                self.epoch = epoch
                self._show_epoch()

    def _show_epoch(self) -> None:
        if self.epochs and self.data is not None:  # no counter over an empty plane (MNIST has no boundary)
            self._set_epoch(tr("Epoch {epoch} / {epochs}", epoch=self.epoch, epochs=self.epochs))

    def set_boundary(self, boundary: Any) -> None:
        self.boundary = boundary
        self.dirty = True

    # -- drawing -----------------------------------------------------------------------------------------
    def _fit(self) -> None:
        if self.extent is None:
            return
        x0, x1, y0, y1 = self.extent
        self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        self.plot.disableAutoRange()  # the image and the points must not widen it again

    def _brushes(self, labels: np.ndarray) -> list:
        data = self.data or {}
        if data.get("task") == "regression":
            colours = value_rgb(np.asarray(labels).reshape(-1), self.value_scale, strength=1.0)
        else:
            k = int(data.get("num_classes", 2))
            flat = np.asarray(labels).reshape(len(labels), -1)[:, 0]
            if k >= 2:
                colours = class_colours(k)[np.clip(flat.astype(int), 0, k - 1)]
            else:
                colours = np.where((flat > 0)[:, None], PALETTE[1], PALETTE[0])
        return [pg.mkBrush(*c) for c in np.asarray(colours).astype(int)]

    def _draw_points(self) -> None:
        data = self.data
        if data is None:
            for item in (self.train_points, self.test_points, self.wrong):
                item.setData([])
            return
        # A pale point (a regression target near 0) needs a dark edge to be seen on the white plane.
        self.train_points.setPen(pg.mkPen("#334155" if data["task"] == "regression" else "w", width=1))
        for item, x, y, box in ((self.train_points, data["x_train"], data["y_train"], self.show_train),
                                (self.test_points, data["x_test"], data["y_test"], self.show_test)):
            if box.isChecked() and len(x):
                item.setData(pos=x, brush=self._brushes(y))
            else:
                item.setData([])
        self._draw_wrong()

    def wrong_points(self) -> np.ndarray:
        """(N, 2) points shown with a red cross: the shown ones whose predicted class is not their label."""
        data = self.data
        predicted = getattr(self.boundary, "point_predictions", None)
        if data is None or data.get("task") == "regression" or predicted is None:
            return np.zeros((0, 2), dtype=np.float32)
        n_train = len(data["x_train"])
        if len(predicted) != n_train + len(data["x_test"]):
            return np.zeros((0, 2), dtype=np.float32)
        parts = []
        if self.show_train.isChecked():
            parts.append(data["x_train"][misclassified(predicted[:n_train], data["y_train"])])
        if self.show_test.isChecked():
            parts.append(data["x_test"][misclassified(predicted[n_train:], data["y_test"])])
        return np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.float32)

    def _draw_wrong(self) -> None:
        wrong = self.wrong_points()
        self.wrong.setData(pos=wrong) if len(wrong) else self.wrong.setData([])

    def _draw_legend(self) -> None:
        data = self.data
        if data is None:
            self._set_legend([])
            return
        parts = []
        if data["task"] == "regression":
            scale = f"{self.value_scale:.2g}"
            parts.append(SWATCH.format(colour="rgb(245,147,34)", symbol="■") + f"&nbsp;−{scale}")
            parts.append(SWATCH.format(colour="rgb(8,119,189)", symbol="■") + f"&nbsp;+{scale}")
        else:
            names = data["class_names"] or [str(i) for i in range(max(data["num_classes"], 2))]
            for i, name in enumerate(names[:len(PALETTE)]):
                r, g, b = (int(v) for v in PALETTE[i])
                parts.append(SWATCH.format(colour=f"rgb({r},{g},{b})", symbol="■") + "&nbsp;"
                             + tr("class {name}", name=name))
        if data["task"] != "regression":
            parts.append(SWATCH.format(colour=WRONG, symbol="✕") + "&nbsp;" + tr("wrong"))
        self._set_legend(parts)

    def _set_legend(self, parts: list[str]) -> None:
        """One small label per legend entry (they wrap as whole entries), before the point toggles."""
        layout = self.top.layout()
        while len(self.legend_labels) < len(parts):
            label = QLabel()
            label.setTextFormat(Qt.TextFormat.RichText)
            layout.insertWidget(len(self.legend_labels), label)
            self.legend_labels.append(label)
        for i, label in enumerate(self.legend_labels):
            label.setVisible(i < len(parts))
            if i < len(parts):
                label.setText(parts[i])
        self.top.setVisible(bool(parts) or self.data is not None)
        layout.invalidate()

    def _set_epoch(self, text: str) -> None:
        self.epoch_label.setText(text)
        self.epoch_label.setVisible(bool(text))
        self.epoch_label.adjustSize()

    def _toggled(self, _checked: bool) -> None:
        self._draw_points()

    def redraw(self) -> None:
        self.dirty = False
        if self.boundary is None:
            return
        x0, x1, y0, y1 = self.boundary.extent
        values = np.asarray(self.boundary.values)
        regression = (self.data or {}).get("task") == "regression" and values.ndim == 2
        rgb = value_rgb(values, self.value_scale) if regression else boundary_rgb(values)
        self.image.setImage(rgb, autoLevels=False, levels=(0, 255))
        self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self._draw_wrong()

    # -- adding points -------------------------------------------------------------------------------
    def _clicked(self, event: Any) -> None:
        if not self.adding or event.button() != Qt.MouseButton.LeftButton:
            return
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        point = vb.mapSceneToView(event.scenePos())
        event.accept()
        self.plane_clicked.emit(float(point.x()), float(point.y()))

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
