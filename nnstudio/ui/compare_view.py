"""Comparing runs: their curves overlaid in the loss/accuracy and gradient panels, and a table of what differs.

Why this exists: "sigmoid against ReLU" is read from two curves on one axis and one line saying what was
changed.  :class:`RunOverlay` puts stored runs (``nnstudio.runs.Run``) into the dashboard's existing panels,
one colour per run, with a legend naming what differs, and hides the live curves until it is cleared (a new
run clears it).  :class:`CompareView` is the table: the settings and blocks that differ, the final metrics,
the end of each run and its duration, with the best run marked.
"""
from __future__ import annotations

import html
import math
from typing import Any, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from nnstudio.runs.compare import best_index, format_value, grouped_differences, legend_labels, metric_rows
from nnstudio.ui.i18n import tr
from nnstudio.ui.panels.curves import auto_step_ticks, ema, set_range_if_changed

RUN_COLOURS = ("#2563EB", "#DC2626", "#16A34A", "#9333EA", "#EA580C", "#0891B2", "#DB2777", "#65A30D")
GRADIENT_FLOOR = 1e-12


def run_colour(index: int) -> str:
    return RUN_COLOURS[index % len(RUN_COLOURS)]


def smoothed(values: np.ndarray) -> np.ndarray:
    return ema(np.asarray(values, dtype=np.float64), float("nan"))[0] if len(values) else np.zeros(0)


def _metric_name(key: str) -> str:
    names = {"test_acc": tr("test accuracy"), "test_loss": tr("test loss"), "test_mse": tr("test MSE"),
             "test_r2": tr("test R²"), "val_acc": tr("validation accuracy"), "val_loss": tr("validation loss"),
             "train_acc": tr("training accuracy"), "train_loss": tr("training loss")}
    return names.get(key, key)


def _metric_text(key: str, value: Any) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        return "—"
    return f"{float(value):.2%}" if key.endswith("_acc") else f"{float(value):.4g}"


def end_name(reason: str) -> str:
    """How a run ended, in words (the trainer's RunFinished.reason)."""
    names = {"completed": tr("completed"), "stopped": tr("stopped"), "nan": tr("loss became NaN"),
             "out_of_memory": tr("out of memory"), "error": tr("failed")}
    return names.get(reason, reason or "—")


def _top(values: Any) -> float:
    """The largest finite value (0 when there is none)."""
    arr = np.asarray(values if values is not None else [], dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.max()) if arr.size else 0.0


class RunOverlay:
    """Stored runs drawn over the dashboard's loss/accuracy and gradient panels (see the module docstring)."""

    def __init__(self, curves: Any, gradients: Any) -> None:
        self.curves = curves
        self.gradients = gradients
        self.items: list[tuple[Any, Any]] = []  # (plot, item) added by the overlay
        self.hidden: list[Any] = []  # the panels' own items, hidden while the overlay shows
        self.legend: Any = None
        self._accuracy_was_shown = True  # the live panel's accuracy plot before a comparison
        self.labels: list[str] = []
        self.runs: list[Any] = []
        self._grad_last = 0.0

    @property
    def active(self) -> bool:
        return bool(self.runs)

    def show(self, runs: Sequence[Any]) -> list[str]:
        """Overlay ``runs`` (one colour each); returns the legend labels."""
        self.clear()
        self.runs = list(runs)
        self.labels = legend_labels(self.runs)
        self._grad_last = 0.0
        c = self.curves
        for item in list(c.items.values()):
            if item.isVisible():
                item.setVisible(False)
                self.hidden.append(item)
        c.set_legend_shown(False)  # the live curves' legend; the runs get their own
        # The accuracy plot is back while runs are compared (a regression run had it out of the panel): the runs'
        # accuracy and their legend are drawn there.
        self._accuracy_was_shown = c.accuracy_shown
        c.set_accuracy_shown(True)
        # In the accuracy plot's top left, where a learning run's curve has not yet arrived.
        self.legend = pg.LegendItem(offset=(6, 4), brush=pg.mkBrush(255, 255, 255, 210), labelTextSize="8pt")
        self.legend.setParentItem(c.acc_plot.getViewBox())
        self.legend.anchor((0, 0), (0, 0), offset=(4, 2))
        for i, (run, label) in enumerate(zip(self.runs, self.labels)):
            colour = run_colour(i)
            curves = run.curves()
            steps = curves.get("global_step", np.zeros(0))
            loss = curves.get("loss", np.zeros(0))
            acc = curves.get("accuracy", np.zeros(0))
            finite = np.where(np.isfinite(loss), loss, np.nan)
            item = c.loss_plot.plot(steps, smoothed(finite), pen=pg.mkPen(colour, width=2), connect="finite")
            self.items.append((c.loss_plot, item))
            self.legend.addItem(item, html.escape(label))  # rich text: a name from a run's file stays text
            if len(acc) and np.isfinite(acc).any():
                item = c.acc_plot.plot(steps, smoothed(acc), pen=pg.mkPen(colour, width=2), connect="finite")
                self.items.append((c.acc_plot, item))
            epochs = run.epochs()
            val = epochs.get("val_loss", np.zeros(0))
            if len(val) and np.isfinite(val).any():
                keep = np.isfinite(val)
                item = c.loss_plot.plot(epochs["global_step"][keep], val[keep], pen=None, symbol="s", symbolSize=6,
                                        symbolBrush=colour, symbolPen=pg.mkPen(colour))
                self.items.append((c.loss_plot, item))
            self._gradients(run, colour)
        # Fixed ranges from the data: auto-range with clip-to-view would keep a stale view of an empty panel.
        last_step = max((_top(r.curves().get("global_step")) for r in self.runs), default=1.0)
        auto_step_ticks(c.loss_plot, c.acc_plot, self.gradients.plot)  # not a short live run's "every step"
        set_range_if_changed(c.loss_plot, "x", 0.0, max(last_step, 1.0))
        # The loss axis spans the runs' curves, on the scale the panel shows (linear from 0, or log).
        c.shown_losses = np.concatenate(
            [np.zeros(0)] + [smoothed(np.asarray(r.curves().get("loss", np.zeros(0)), dtype=np.float64))
                             for r in self.runs]
            + [np.asarray(r.epochs().get("val_loss", np.zeros(0)), dtype=np.float64) for r in self.runs])
        c.fit_loss_range(c.shown_losses)
        set_range_if_changed(c.acc_plot, "y", 0.0, 1.0)
        if self._grad_last:
            set_range_if_changed(self.gradients.plot, "x", 0.0, max(self._grad_last, 1.0))
        c.set_caption(tr("Comparing {count} runs", count=len(self.runs)))
        return self.labels

    def _gradients(self, run: Any, colour: str) -> None:
        """The first and the last layer's gradient norm (solid, dashed): where a gradient vanishes shows."""
        g = self.gradients
        columns = run.gradients()
        layers = [k for k in columns if k != "global_step"]
        if not layers:
            return
        if not self.hidden or g.bars not in self.hidden:
            for item in [*g.lines.values(), g.bars]:
                if item.isVisible():
                    item.setVisible(False)
                    self.hidden.append(item)
        steps = columns["global_step"]
        chosen = [layers[0]] + ([layers[-1]] if len(layers) > 1 else [])
        for layer, style in zip(chosen, (Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine)):
            norms = np.maximum(np.where(np.isfinite(columns[layer]), columns[layer], np.nan), GRADIENT_FLOOR)
            item = g.plot.plot(steps, smoothed(norms), pen=pg.mkPen(colour, width=2, style=style), connect="finite")
            self.items.append((g.plot, item))
        self._grad_last = max(self._grad_last, _top(steps))
        g.plot.getViewBox().enableAutoRange(y=True)
        g.set_caption(tr("solid: first layer · dashed: last layer"))

    def clear(self) -> None:
        """Back to the live curves."""
        for plot, item in self.items:
            plot.removeItem(item)
        self.items = []
        for item in self.hidden:
            item.setVisible(True)
        self.hidden = []
        if self.legend is not None:
            if self.legend.scene() is not None:
                self.legend.scene().removeItem(self.legend)
            self.legend = None
        self.curves.shown_losses = None
        if self.runs:
            self.curves.set_accuracy_shown(self._accuracy_was_shown)
            self.curves.set_legend_shown(True)
            self.curves.set_caption("")
            self.gradients.set_caption("")
            self.curves.dirty = True
            self.gradients.dirty = True
        self.runs = []
        self.labels = []


class CompareView(QWidget):
    """The comparison table: what differs between the runs, their final metrics and how each ended."""

    back_requested = Signal()  # "Back to the live curves"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.heading = QLabel(tr("Select two or more runs in the Runs panel and press Compare."))
        self.heading.setWordWrap(True)
        layout.addWidget(self.heading)
        self.legend = QLabel("")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.legend)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(22)
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.back_button = QPushButton(tr("Back to the live curves"))
        self.back_button.setEnabled(False)
        self.back_button.clicked.connect(self.back_requested)
        row.addWidget(self.back_button)
        layout.addLayout(row)
        self.runs: list[Any] = []
        self.best: int | None = None

    def show_runs(self, runs: Sequence[Any], labels: Sequence[str]) -> None:
        self.runs = list(runs)
        self.best = best_index(self.runs)
        self.heading.setText(tr("{count} runs compared. The best is marked ★.", count=len(self.runs)))
        self.legend.setText("<br>".join(
            f"<span style='color:{run_colour(i)}'>&#9632;</span> {html.escape(label)}" for i, label in enumerate(labels)))
        diffs = grouped_differences(self.runs)
        rows: list[tuple[str, list[str], bool]] = []
        if not diffs:
            rows.append((tr("differences"), [tr("same settings and network")] * len(self.runs), False))
        for d in diffs:
            rows.append((d.key, [format_value(v) for v in d.values], False))
        for m in metric_rows(self.runs):
            rows.append((_metric_name(m.key), [_metric_text(m.key, v) for v in m.values], True))
        rows.append((tr("end"), [end_name(r.end_reason) for r in self.runs], False))
        rows.append((tr("duration"), [f"{r.seconds:.1f} s" for r in self.runs], False))
        rows.append((tr("epochs"), [str(r.meta.get("epochs_done", "—")) for r in self.runs], False))
        table = self.table
        table.clear()
        table.setColumnCount(len(self.runs))
        table.setRowCount(len(rows))
        headers = []
        for i, run in enumerate(self.runs):
            headers.append(("★ " if i == self.best else "") + f"{run.id} {run.name}")
        table.setHorizontalHeaderLabels(headers)
        table.setVerticalHeaderLabels([name for name, _v, _m in rows])
        bold = QFont()
        bold.setBold(True)
        for r, (_name, values, is_metric) in enumerate(rows):
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setForeground(QBrush(QColor(run_colour(c))))
                if is_metric and c == self.best:
                    item.setFont(bold)
                table.setItem(r, c, item)
        table.resizeColumnsToContents()
        self.back_button.setEnabled(True)

    def clear(self) -> None:
        self.runs = []
        self.best = None
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.legend.setText("")
        self.heading.setText(tr("Select two or more runs in the Runs panel and press Compare."))
        self.back_button.setEnabled(False)


__all__ = ["CompareView", "RunOverlay", "end_name", "run_colour"]
