"""Loss and accuracy over training: per batch (raw and smoothed) and per epoch (train and validation).

Why this exists: the learning curve is the first thing to look at in any run.  The plot items are created
once; histories live in doubling NumPy buffers and are handed to ``setData(buf[:n])`` with pyqtgraph's
peak downsampling and clip-to-view, so a run of a million steps draws as fast as one of a hundred.  A
continued run (Train again) carries on the x axis where the previous one stopped.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics

from nnstudio.ui.i18n import tr
from nnstudio.ui.panels.buffers import SeriesTable
from nnstudio.ui.panels.cells import PanelView, fitted_decade_ticks, fitted_plot, round_up_125
from nnstudio.ui.panels.export import ExportablePanel

EMA_ALPHA = 0.95  # weight of the past in the smoothed curve
LEGEND_SHARE = 0.3  # the legend shows while it covers at most this share of the loss plot
COLOURS = {"raw": (59, 130, 246, 70), "ema": "#2563EB", "train": "#1D4ED8", "val": "#F97316"}

BATCH_COLUMNS = ("step", "epoch", "loss", "loss_smooth", "accuracy", "accuracy_smooth", "lr", "samples_per_s")
EPOCH_COLUMNS = ("epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")


def ema(values: np.ndarray, start: float, alpha: float = EMA_ALPHA) -> tuple[np.ndarray, float]:
    """Exponential moving average of ``values`` continuing from ``start`` (NaN: begin at the first finite
    value); non-finite inputs do not move the average.  Returns (averages, last average)."""
    out = np.empty(len(values))
    current = start
    for i, v in enumerate(values):  # over reports of one drain (a few dozen), not over samples
        if math.isfinite(v):
            current = v if not math.isfinite(current) else alpha * current + (1.0 - alpha) * v
        out[i] = current
    return out, current


def _field(report: Any, name: str) -> float:
    value = getattr(report, name, None)
    return float("nan") if value is None else float(value)


def configure_plot(plot: pg.PlotItem, left: str, bottom: str, *short_left: str) -> None:
    """Grid, titles (``short_left``: shorter forms of the left one, for a short axis), downsampling and clipping
    to the view, mouse on the x axis only, for a plot made by :func:`fitted_plot`."""
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.getAxis("left").set_title(left, *short_left)
    plot.setLabel("bottom", bottom)
    plot.setDownsampling(auto=True, mode="peak")
    plot.setClipToView(True)
    plot.getViewBox().setMouseEnabled(x=True, y=False)


def align_left_axes(*plots: pg.PlotItem, sample: str = "0.00") -> None:
    """Give the left axes of plots stacked in one column the same width, room for tick labels as wide as
    ``sample``, so their views start at the same pixel.  pyqtgraph sizes each axis to its own labels ("0.8"
    beside "1.5e+03"), and two x-linked plots of different widths then show different x ranges (the lower one
    started at step 20 instead of 0) and space their ticks differently.  Wider labels still show: they extend
    towards the axis title."""
    for plot in plots:
        axis = plot.getAxis("left")
        axis.setStyle(autoExpandTextSpace=False, tickTextWidth=QFontMetrics(axis.font()).horizontalAdvance(sample))


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 x 10^k at or above ``value`` (at least 1)."""
    return round_up_125(value) if math.isfinite(value) and value > 1 else 1.0


def round_span(values: np.ndarray) -> tuple[float, float]:
    """Round bounds for ``values``: [0, top] when none is negative, else symmetric [-top, top]."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0
    if float(finite.min()) >= 0.0:
        return 0.0, round_up_125(float(finite.max()))
    top = round_up_125(float(np.abs(finite).max()))
    return -top, top


def grow_x_range(plot: pg.PlotItem, last_x: float, *linked: pg.PlotItem) -> None:
    """Keep the x axis at [0, nice ceiling]: it changes a few times per run instead of at every step, so
    the axis (whose labels are costly to paint) is re-rendered rarely while training.  The x axis counts
    steps, whole numbers: up to 10 its ticks are every step (labelled every one or two), where pyqtgraph
    would label 0.5, 1.5, ... (the exploding-gradients lesson stops at step 6).  ``linked``: plots whose x
    axis follows ``plot``'s (their own tick labels get the same spacing)."""
    top = nice_ceiling(last_x)
    set_range_if_changed(plot, "x", 0.0, top)
    spacing = (1.0 if top <= 5 else 2.0, 1.0) if top <= 10 else None
    for each in (plot, *linked):
        axis = each.getAxis("bottom")
        if axis.property("step_spacing") != spacing:
            axis.setProperty("step_spacing", spacing)
            if spacing is None:
                axis.setTickSpacing()  # pyqtgraph's own choice again
            else:
                axis.setTickSpacing(*spacing)


def auto_step_ticks(*plots: pg.PlotItem) -> None:
    """Give the plots' step axes back to pyqtgraph's own tick spacing (a short run's "every step" spacing,
    kept on an axis that then spans hundreds of steps, wrote a label at each of them)."""
    for plot in plots:
        axis = plot.getAxis("bottom")
        if axis.property("step_spacing") is not None:
            axis.setProperty("step_spacing", None)
            axis.setTickSpacing()


def reset_step_axis(plot: pg.PlotItem, *linked: pg.PlotItem) -> None:
    """The step axis of an emptied panel: 0 to 1, as a new panel's, with pyqtgraph's own ticks."""
    auto_step_ticks(plot, *linked)
    set_range_if_changed(plot, "x", 0.0, 1.0)


def set_range_if_changed(plot: pg.PlotItem, axis: str, low: float, high: float) -> None:
    """Fix one axis of ``plot`` at [low, high], touching it (and repainting its labels) only on a change."""
    view = plot.getViewBox()
    index = 0 if axis == "x" else 1
    current = view.viewRange()[index]
    if view.autoRangeEnabled()[index] or abs(current[0] - low) > 1e-9 or abs(current[1] - high) > 1e-9:
        if axis == "x":
            view.enableAutoRange(x=False)
            plot.setXRange(low, high, padding=0.0)
        else:
            view.enableAutoRange(y=False)
            plot.setYRange(low, high, padding=0.0)


class DecadeAxis:
    """A plot's log10 left axis that spans whole decades of the values it is given (so it changes only when a
    value crosses one), with as many decades labelled as fit (:func:`cells.fitted_decade_ticks`).  New ticks
    repaint the axis's labels: they are given only when they change."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        self.decades: tuple[int, int] | None = None  # the span in powers of ten, as last ticked
        self.ticks: list[Any] | None = None  # the ticks last given to the axis

    def reset(self) -> None:
        """Forget the span and the ticks (the axis was given other ticks, or none)."""
        self.decades = self.ticks = None

    def span(self, values: np.ndarray, floor: float = 0.0) -> None:
        """Span the positive finite ``values`` (the smallest taken as at least ``floor``), or 1 to 10 when there
        is none, with room for the end labels."""
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values) & (values > 0)]
        low, high = (0, 1) if not len(values) else \
            (math.floor(math.log10(max(float(values.min()), floor))), math.ceil(math.log10(float(values.max()))))
        high = max(high, low + 1)
        if (low, high) != self.decades:
            self.decades = (low, high)
            self.refit()
        set_range_if_changed(self.plot, "y", low - 0.1, high + 0.1)

    def refit(self, *_args: Any) -> None:
        """The labelled decades for the axis's current height (call when the plot is resized)."""
        if self.decades is not None:
            ticks = fitted_decade_ticks(self.plot, *self.decades)
            if ticks != self.ticks:
                self.ticks = ticks
                self.plot.getAxis("left").setTicks(ticks)


class CurvesPanel(ExportablePanel):
    """Two stacked plots sharing the step axis: loss (top) and accuracy (bottom)."""

    export_name = "loss_accuracy"

    def __init__(self, parent: Any = None) -> None:
        super().__init__(tr("Loss and accuracy"), parent)
        self.view = PanelView()
        self.body.addWidget(self.view)
        self.loss_plot = fitted_plot(self.view, row=0, col=0)
        self.acc_plot = fitted_plot(self.view, row=1, col=0)
        self.acc_plot.setXLink(self.loss_plot)
        configure_plot(self.loss_plot, tr("loss"), "")
        configure_plot(self.acc_plot, tr("accuracy"), tr("step"))
        self.acc_plot.setYRange(0.0, 1.0, padding=0.02)
        align_left_axes(self.loss_plot, self.acc_plot)
        self._legend_wanted = True
        legend = self.legend = self.loss_plot.addLegend(offset=(-10, 10))
        legend.setBrush(pg.mkBrush(255, 255, 255, 200))
        self.loss_plot.getViewBox().sigResized.connect(self._fit_legend)
        self.items = {
            "loss_raw": self.loss_plot.plot(pen=pg.mkPen(COLOURS["raw"], width=1), name=tr("batch")),
            "loss_ema": self.loss_plot.plot(pen=pg.mkPen(COLOURS["ema"], width=2), name=tr("smoothed")),
            "loss_train": self.loss_plot.plot(pen=pg.mkPen(COLOURS["train"], width=2, style=pg.QtCore.Qt.PenStyle.DashLine),
                                              symbol="o", symbolSize=6, symbolBrush=COLOURS["train"],
                                              name=tr("train (epoch)")),
            "loss_val": self.loss_plot.plot(pen=pg.mkPen(COLOURS["val"], width=2), symbol="s", symbolSize=7,
                                            symbolBrush=COLOURS["val"], name=tr("validation (epoch)")),
            "acc_raw": self.acc_plot.plot(pen=pg.mkPen(COLOURS["raw"], width=1)),
            "acc_ema": self.acc_plot.plot(pen=pg.mkPen(COLOURS["ema"], width=2)),
            "acc_train": self.acc_plot.plot(pen=pg.mkPen(COLOURS["train"], width=2, style=pg.QtCore.Qt.PenStyle.DashLine),
                                            symbol="o", symbolSize=6, symbolBrush=COLOURS["train"]),
            "acc_val": self.acc_plot.plot(pen=pg.mkPen(COLOURS["val"], width=2), symbol="s", symbolSize=7,
                                          symbolBrush=COLOURS["val"]),
        }
        self.batches = SeriesTable(BATCH_COLUMNS)
        self.epochs = SeriesTable(EPOCH_COLUMNS, capacity=32)
        self._ema_loss = float("nan")
        self._ema_acc = float("nan")
        self._step_offset = 0.0
        self._epoch_offset = 0.0
        self._epochs_drawn = -1
        self.summary = self.title_label  # the header row carries the latest figures
        # On a linear axis from 0 to the run's largest loss, a loss still falling from 0.05 to 0.01 (the linear
        # regression lesson) or after a spike looks flat: the loss can be shown on a log scale instead.
        self.log_axis = DecadeAxis(self.loss_plot)
        self.shown_losses: np.ndarray | None = None  # what the loss axis spans while stored runs are compared
        self.menu_button.setToolTip(tr("Log scale and export"))
        menu = self.menu_button.menu()
        menu.addSeparator()
        self.log_action = menu.addAction(tr("Loss on a log scale"))
        self.log_action.setCheckable(True)
        self.log_action.toggled.connect(self.set_log_loss)
        self.loss_plot.getViewBox().sigResized.connect(self.log_axis.refit)

    def set_log_loss(self, on: bool) -> None:
        """Show the loss on a log10 axis (``on``) or a linear one from 0."""
        if self.log_action.isChecked() != on:
            self.log_action.setChecked(on)  # comes back here through toggled
            return
        axis = self.loss_plot.getAxis("left")
        view = self.loss_plot.getViewBox()
        steps = view.viewRange()[0]
        self.loss_plot.setLogMode(x=False, y=on)  # which turns auto-range back on for both axes
        set_range_if_changed(self.loss_plot, "x", *steps)  # the step axis stays where it was
        axis.enableAutoSIPrefix(not on)  # decades are labelled whole (0.01, 1e-05), with no scale in the title
        self.log_axis.reset()
        if not on:
            axis.setTicks(None)
        # Only the loss axis changes: a whole redraw while stored runs are compared would set the step axis and
        # the caption from the hidden live run.
        self.fit_loss_range(self._range_losses())

    def _range_losses(self) -> np.ndarray:
        """What the loss axis spans: the compared runs' losses, or the live run's batch and epoch losses
        (a validation loss is often below every batch's)."""
        if self.shown_losses is not None:
            return self.shown_losses
        e = self.epochs
        return np.concatenate([self.batches["loss"], e["train_loss"], e["val_loss"]])

    @property
    def log_loss(self) -> bool:
        return self.log_action.isChecked()

    def _fit_legend(self, *_args: Any) -> None:
        """Show the legend only while it covers at most LEGEND_SHARE of the loss plot (and less than its whole
        height): in a small panel (a 1024x768 window) its four rows hid most of the curves, which matter more.
        The lines' colours and styles are the same in every run, and the legend comes back when the panel
        is made bigger (at 1920x1080 it takes about a sixth of the plot)."""
        view = self.loss_plot.getViewBox()
        size = self.legend.boundingRect()
        area = max(view.width() * view.height(), 1.0)
        self.legend.setVisible(self._legend_wanted and size.width() * size.height() <= LEGEND_SHARE * area
                               and size.height() <= 0.8 * view.height())

    def set_legend_shown(self, shown: bool) -> None:
        """Whether the live curves' legend may show at all (a comparison of runs brings its own)."""
        self._legend_wanted = shown
        self._fit_legend()

    @property
    def legend_wanted(self) -> bool:
        """False while something else (a comparison of runs) has the legend hidden, whatever the size."""
        return self._legend_wanted

    # -- data in -------------------------------------------------------------------------------------------
    def clear(self) -> None:
        """Empty, for another project or fresh weights (whether the accuracy plot shows is left as it is: the
        training controller says so for each project, a run for its own task)."""
        self.batches.clear()
        self.epochs.clear()
        self._ema_loss = self._ema_acc = float("nan")
        self._step_offset = self._epoch_offset = 0.0
        self._epochs_drawn = -1
        self.set_caption("")
        self.show_notice("")
        # The step axis as a new panel's, not the last run's 0-200 (here, not in redraw: a comparison of stored
        # runs draws with no live steps and sets the axis itself)
        reset_step_axis(self.loss_plot, self.acc_plot)
        self.dirty = True

    @property
    def accuracy_shown(self) -> bool:
        return self.acc_plot in self.view.ci.items

    def set_accuracy_shown(self, shown: bool) -> None:
        """Show the accuracy plot under the loss, or only the loss, over the panel's whole height, with the step
        axis's title (a regression has no accuracy: its plot stayed empty under a squeezed loss plot)."""
        layout = self.view.ci
        if shown == (self.acc_plot in layout.items):
            return
        if shown:
            layout.addItem(self.acc_plot, row=1, col=0)
            self.acc_plot.show()
            self.loss_plot.setLabel("bottom", "")
        else:
            layout.removeItem(self.acc_plot)
            self.acc_plot.hide()
            self.loss_plot.setLabel("bottom", tr("step"))
        self.dirty = True

    def begin_run(self, info: Any = None, continuing: bool = False) -> None:
        """A new run starts: continue the axes after the last one, or start afresh."""
        self.set_accuracy_shown(getattr(info, "task", "classification") != "regression")
        if not continuing:
            self.clear()
            return
        steps = self.batches["step"]
        epochs = self.epochs["epoch"]
        self._step_offset = float(steps[-1]) if len(steps) else 0.0
        self._epoch_offset = float(epochs[-1]) if len(epochs) else 0.0

    def add_batches(self, reports: Sequence[Any]) -> None:
        if not reports:
            return
        step = np.array([_field(r, "global_step") for r in reports]) + self._step_offset
        loss = np.array([_field(r, "loss") for r in reports])
        acc = np.array([_field(r, "accuracy") for r in reports])
        loss_s, self._ema_loss = ema(loss, self._ema_loss)
        acc_s, self._ema_acc = ema(acc, self._ema_acc)
        self.batches.append_rows(step=step, epoch=np.array([_field(r, "epoch") for r in reports]) + self._epoch_offset,
                                 loss=loss, loss_smooth=loss_s, accuracy=acc, accuracy_smooth=acc_s,
                                 lr=np.array([_field(r, "lr") for r in reports]),
                                 samples_per_s=np.array([_field(r, "samples_per_s") for r in reports]))
        self.dirty = True

    def add_epoch(self, report: Any) -> None:
        steps = self.batches["step"]
        self.epochs.append_rows(epoch=_field(report, "epoch") + self._epoch_offset,
                                step=float(steps[-1]) if len(steps) else 0.0,
                                train_loss=_field(report, "train_loss"), train_acc=_field(report, "train_acc"),
                                val_loss=_field(report, "val_loss"), val_acc=_field(report, "val_acc"),
                                seconds=_field(report, "seconds"))
        self.dirty = True

    # -- drawing ---------------------------------------------------------------------------------------------
    def redraw(self) -> None:
        self.dirty = False
        b, e = self.batches, self.epochs
        x = b["step"]
        self.items["loss_raw"].setData(x, _finite_or_nan(b["loss"]), connect="finite")
        self.items["loss_ema"].setData(x, _finite_or_nan(b["loss_smooth"]), connect="finite")
        self.items["acc_raw"].setData(x, b["accuracy"], connect="finite")
        self.items["acc_ema"].setData(x, b["accuracy_smooth"], connect="finite")
        if self._epochs_drawn != len(e):  # the per-epoch points change once an epoch
            self._epochs_drawn = len(e)
            ex = e["step"]
            for key, col in (("loss_train", "train_loss"), ("loss_val", "val_loss"), ("acc_train", "train_acc"),
                             ("acc_val", "val_acc")):
                y = e[col]
                keep = np.isfinite(y)
                self.items[key].setData(ex[keep], y[keep])
        if len(x):
            grow_x_range(self.loss_plot, float(x[-1]), self.acc_plot)  # the accuracy plot follows through the x link
        self.fit_loss_range(self._range_losses())
        self.set_caption(self._summary_text())

    def fit_loss_range(self, losses: np.ndarray) -> None:
        """The loss axis spans ``losses``: from 0 to a round value above the largest, or on a log scale the
        whole decades around the positive ones (1 to 10 before there is any)."""
        losses = np.asarray(losses, dtype=np.float64)
        losses = losses[np.isfinite(losses)]
        if self.log_loss:
            self.log_axis.span(losses)
        else:
            set_range_if_changed(self.loss_plot, "y", 0.0, nice_ceiling(float(losses.max())) if len(losses) else 1.0)

    def _summary_text(self) -> str:
        b, e = self.batches, self.epochs
        if not len(b):
            return ""
        parts = [tr("loss {value}", value=f"{b['loss_smooth'][-1]:.4g}")]
        acc = b["accuracy_smooth"][-1]
        if math.isfinite(acc):
            parts.append(tr("accuracy {value}", value=f"{acc:.1%}"))
        if len(e) and math.isfinite(e["val_acc"][-1]):
            parts.append(tr("validation accuracy {value}", value=f"{e['val_acc'][-1]:.1%}"))
        if len(e) and math.isfinite(e["val_loss"][-1]):
            parts.append(tr("validation loss {value}", value=f"{e['val_loss'][-1]:.4g}"))
        return "  ·  ".join(parts)

    def history(self) -> dict[str, np.ndarray]:
        if not len(self.batches):
            return {}
        columns = self.batches.as_dict()
        for name, values in self.epochs.as_dict().items():
            columns[f"epoch_{name}" if not name.startswith(("train", "val")) else name] = values
        return columns


def _finite_or_nan(values: np.ndarray) -> np.ndarray:
    """Inf becomes NaN so one diverged batch does not stretch the axis to infinity."""
    if np.isfinite(values).all():
        return values
    return np.where(np.isfinite(values), values, np.nan)
