"""Gradient magnitudes per layer, with warnings for vanishing and exploding gradients.

Why this exists: whether each layer still learns is visible in the L2 norm of its weight gradient.  The
panel draws one line per layer on a log axis (history in doubling buffers) and bars for the latest step.
When the trainer's hint monitor judges the run (``RunInfo.trainer_hints``, on unless a run turns hints off),
its Hint events are the panel's only advice: the monitor calls gradients exploding only while the loss rises
too, and a healthy run's gradients often spike tenfold near the end (a spiral learned to 99 % was told its
gradients were exploding, lower the learning rate).  Otherwise :func:`detect_gradient_problems` looks at the
latest norms itself: a layer far below the others or under 1e-7 is vanishing, a norm that grew tenfold, or
became Inf / NaN, is exploding, each with a fix to try.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics

from nnstudio.ui.i18n import tr
from nnstudio.ui.panels.buffers import GrowingBuffer
from nnstudio.ui.panels.curves import (DecadeAxis, align_left_axes, configure_plot, grow_x_range, reset_step_axis,
                                      set_range_if_changed)
from nnstudio.ui.panels.cells import PanelView, fitted_plot, pick_labels
from nnstudio.ui.panels.export import ExportablePanel

VANISHING_ABSOLUTE = 1e-7
VANISHING_RELATIVE = 1e-3  # a layer this far below the median of the others
EXPLODING_FACTOR = 10.0
RECENT = 10  # steps averaged for "now"
REFERENCE = 50  # steps before those, averaged for "before"
FLOOR = 1e-12  # log axis floor for zero gradients
CHECK_INTERVAL_S = 0.5  # the vanishing / exploding check runs at most this often


@dataclass(frozen=True)
class GradientProblem:
    layer: str
    kind: str  # "vanishing" or "exploding"
    message: str


def vanishing_message(layer: str, norm: float) -> str:
    return tr("Layer '{layer}': its gradient is vanishing (norm {norm}). Try ReLU with He initialisation, "
              "add BatchNorm, or use fewer layers.", layer=layer, norm=f"{norm:.1e}")


def exploding_message(layer: str, norm: float) -> str:
    return tr("Layer '{layer}': its gradient is exploding (norm {norm}). Lower the learning rate, enable "
              "gradient clipping, or add BatchNorm.", layer=layer, norm=f"{norm:.1e}")


def detect_gradient_problems(recent: Mapping[str, float], before: Mapping[str, float] | None = None) -> list[GradientProblem]:
    """Problems in ``recent`` {layer: norm} (e.g. the median of the last few steps), compared with the
    other layers and with ``before`` (the same layers some steps earlier)."""
    problems: list[GradientProblem] = []
    finite = {k: v for k, v in recent.items() if math.isfinite(v)}
    for layer, norm in recent.items():
        if not math.isfinite(norm):
            problems.append(GradientProblem(layer, "exploding", exploding_message(layer, norm)))
            continue
        others = [v for k, v in finite.items() if k != layer]
        median_others = float(np.median(others)) if others else float("nan")
        if norm < VANISHING_ABSOLUTE or (others and median_others > 0 and norm < VANISHING_RELATIVE * median_others):
            problems.append(GradientProblem(layer, "vanishing", vanishing_message(layer, norm)))
            continue
        old = (before or {}).get(layer)
        if old is not None and math.isfinite(old) and old > 0 and norm > EXPLODING_FACTOR * old:
            problems.append(GradientProblem(layer, "exploding", exploding_message(layer, norm)))
    return problems


class GradientPanel(ExportablePanel):
    """Lines of per-layer gradient norms on a log axis, plus bars of the latest step."""

    export_name = "gradients"

    def __init__(self, parent: Any = None) -> None:
        super().__init__(tr("Gradient magnitudes"), parent)
        self._bar_bounds: tuple | None = None  # (layer names, y from, y to) last applied to the bar axes
        self._ticks: dict[str, list[Any]] = {}  # the ticks last given to the bars' names
        self.view = PanelView()
        self.body.addWidget(self.view)
        self.plot = fitted_plot(self.view, row=0, col=0)
        self.log_axis = DecadeAxis(self.plot)
        configure_plot(self.plot, tr("gradient L2 norm"), tr("step"), tr("L2 norm"))
        self.plot.setLogMode(x=False, y=True)
        # The log axis's ticks are labelled with their decades (decade_label); pyqtgraph would also scale the
        # title by the range's SI prefix ("gradient L2 norm (x1e+18)" beside ticks of 1e20).
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        # No legend: the bars below name each layer in its line's colour, and a legend box sat on the lines.
        self.bar_plot = fitted_plot(self.view, row=1, col=0)
        # No grid here: its lines span the plot, so every bar update repainted them (half the panel's paint
        # time, measured); the axis labels are enough for a handful of bars.
        self.bar_plot.getAxis("left").set_title(tr("log10 norm (latest)"), tr("log10 norm"))
        self.bar_plot.getViewBox().setMouseEnabled(x=False, y=False)
        self.view.ci.layout.setRowStretchFactor(0, 3)
        self.view.ci.layout.setRowStretchFactor(1, 2)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.6, brushes=[])
        self.bar_plot.addItem(self.bars)
        align_left_axes(self.plot, self.bar_plot, sample="0.001")  # the widest decade label (decade_label)
        self.plot.getViewBox().sigResized.connect(self._fit_ticks)
        self.bar_plot.getViewBox().sigResized.connect(self._fit_ticks)
        self.layers: list[str] = []
        self.steps: dict[str, GrowingBuffer] = {}
        self.norms: dict[str, GrowingBuffer] = {}
        self.lines: dict[str, pg.PlotDataItem] = {}
        self.problems: list[GradientProblem] = []
        self.trainer_hints: list[str] = []
        self._reported: set[tuple[str, str]] = set()
        self._step_offset = 0.0
        self._checked_at = -1e9
        self._unchecked = False
        self._own_checks = True  # False while the trainer's hint monitor judges the run
        self._empty_log_axis()

    def clear(self) -> None:
        """Forget every layer (another project, or a fresh run: its layers may differ)."""
        for line in self.lines.values():
            self.plot.removeItem(line)
        self.layers, self.steps, self.norms, self.lines = [], {}, {}, {}
        self.bars.setOpts(x=[], height=[], brushes=[], pens=None, pen=None)
        self.bar_plot.getAxis("bottom").setTicks([[]])
        self._ticks = {}
        self.log_axis.reset()
        self.problems, self.trainer_hints, self._reported = [], [], set()
        self._step_offset = 0.0
        self._bar_bounds = None
        self._checked_at = -1e9
        self._unchecked = False
        self._empty_log_axis()
        # The axes as a new panel's, not the last run's steps and decades (here, not in redraw: a comparison of
        # stored runs draws with no live norms and sets the step axis itself)
        reset_step_axis(self.plot)
        set_range_if_changed(self.bar_plot, "x", 0.0, 1.0)
        set_range_if_changed(self.bar_plot, "y", 0.0, 1.0)
        self.show_notice("")
        self.dirty = True

    def _empty_log_axis(self) -> None:
        """Before any norm arrives the log axis shows the decades 1 and 10, labelled as they will be: left to
        pyqtgraph, a short empty panel wrote its minor labels 2 ... 8 over each other."""
        self.log_axis.span(np.zeros(0))

    def begin_run(self, info: Any = None, continuing: bool = False) -> None:
        if not continuing:
            self.clear()
        else:
            self._step_offset = max((self.steps[l].last(0.0) for l in self.layers), default=0.0)
        self._own_checks = not getattr(info, "trainer_hints", False)
        for layer in getattr(info, "layers", []) or []:
            self._ensure(layer)

    def _ensure(self, layer: str) -> None:
        if layer in self.lines:
            return
        self.layers.append(layer)
        self.steps[layer] = GrowingBuffer()
        self.norms[layer] = GrowingBuffer()
        colour = pg.intColor(len(self.layers) - 1, hues=9, values=1, maxValue=220)
        self.lines[layer] = self.plot.plot(pen=pg.mkPen(colour, width=2), name=layer)

    def add_batches(self, reports: Sequence[Any]) -> None:
        got = False
        for report in reports:  # one dict per report; a drain holds a few dozen
            norms = getattr(report, "grad_norms", None)
            if not norms:
                continue
            step = float(getattr(report, "global_step", 0)) + self._step_offset
            for layer, value in norms.items():
                self._ensure(layer)
                self.steps[layer].append(step)
                self.norms[layer].append(float(value))
            got = True
        if got:
            self.dirty = True
            self._unchecked = True
            if time.perf_counter() - self._checked_at >= CHECK_INTERVAL_S:
                self._check()

    def clear_hints(self) -> None:
        """Forget the hints shown (a new run starts); the curves stay when it continues the last one."""
        self.problems, self.trainer_hints, self._reported = [], [], set()
        self.show_notice("")

    def add_hint(self, hint: Any) -> None:
        """A Hint event from the trainer: shown instead of the panel's own detection."""
        message = str(getattr(hint, "message", "") or hint)
        if message and message not in self.trainer_hints:
            self.trainer_hints.append(message)
            self.show_notice("\n".join(reversed(self.trainer_hints[-3:])))  # the newest first: a long notice scrolls

    def _window(self, layer: str, start: int, stop: int) -> float | None:
        values = self.norms[layer].view()
        n = len(values)
        part = values[max(n - start, 0):max(n - stop, 0)]
        if part.size == 0:
            return None
        if not np.isfinite(part).all():
            return float(part[~np.isfinite(part)][0])
        return float(np.median(part))

    def _check(self) -> None:
        self._checked_at = time.perf_counter()
        self._unchecked = False
        if self.trainer_hints or not self._own_checks:  # the trainer's own hints are shown instead
            return
        recent = {l: v for l in self.layers if (v := self._window(l, RECENT, 0)) is not None}
        before = {l: v for l in self.layers if len(self.norms[l]) >= RECENT + REFERENCE
                  and (v := self._window(l, RECENT + REFERENCE, RECENT)) is not None}
        found = detect_gradient_problems(recent, before)
        new = [p for p in found if (p.layer, p.kind) not in self._reported]
        if new:
            self._reported.update((p.layer, p.kind) for p in new)
            self.problems.extend(new)
            self.show_notice("\n".join(p.message for p in reversed(self.problems[-3:])))  # the newest first

    def redraw(self) -> None:
        self.dirty = False
        if self._unchecked:
            self._check()
        heights, names = [], []
        for layer in self.layers:
            norms = self.norms[layer].view()
            self.lines[layer].setData(self.steps[layer].view(), np.clip(np.nan_to_num(norms, nan=FLOOR, posinf=1e30), FLOOR, None))
            if len(norms):
                names.append(layer)
                last = norms[-1]
                heights.append(math.log10(max(last, FLOOR)) if math.isfinite(last) else 30.0)
        if heights:
            base = math.floor(min(heights)) - 1
            colours = [pg.intColor(self.layers.index(n), hues=9, values=1, maxValue=220) for n in names]
            self.bars.setOpts(x=np.arange(len(heights)), height=np.array(heights) - base, y0=base,
                              brushes=colours, pens=colours)
            # Axis changes repaint the axis labels, which is costly: only when the layers or the whole
            # decades spanned change, not at every step.
            bounds = (tuple(names), base, math.ceil(max(heights) + 0.5))
            if bounds != self._bar_bounds:
                self._bar_bounds = bounds
                self.bar_plot.setYRange(base, bounds[2], padding=0)
                self.bar_plot.setXRange(-0.6, len(heights) - 0.4, padding=0)
                self._fit_ticks()
        steps = [self.steps[l].view() for l in self.layers if len(self.steps[l])]
        if steps:
            grow_x_range(self.plot, float(max(s[-1] for s in steps)))
            # The log axis spans whole decades, so it changes only when a norm crosses one.
            norms = np.concatenate([self.norms[l].view() for l in self.layers])
            if (np.isfinite(norms) & (norms > 0)).any():
                self.log_axis.span(norms, floor=FLOOR)

    def _fit_ticks(self, *_args: Any) -> None:
        """Label as many decades of the log axis, and as many layer names under the bars, as fit the plots'
        sizes without running into each other or past the axes' ends (in a short or narrow panel, a 1024x768
        window, every other decade or bar, say); called when the spans change and when the plots are
        resized.  An axis is given new ticks only when they change: each change repaints its labels."""
        self.log_axis.refit()
        if self._bar_bounds is not None:
            names = self._bar_bounds[0]
            axis = self.bar_plot.getAxis("bottom")
            metrics = QFontMetrics(axis.font())
            widest = max((metrics.horizontalAdvance(name) for name in names), default=0)
            width = self.bar_plot.getViewBox().width()
            step = width / (len(names) + 0.2)  # the x range runs from -0.6 to len - 0.4
            shown = set(pick_labels(len(names), 0.6 * step, step, width, widest + 0.5 * metrics.averageCharWidth(),
                                    0.5 * widest))
            ticks = [[(i, name if i in shown else "") for i, name in enumerate(names)]]
            if ticks != self._ticks.get("bottom"):
                self._ticks["bottom"] = ticks
                axis.setTicks(ticks)

    def history(self) -> dict[str, np.ndarray]:
        if not self.layers or not any(len(self.norms[l]) for l in self.layers):
            return {}
        first = self.layers[0]
        columns = {"step": self.steps[first].view()}
        for layer in self.layers:
            columns[layer] = self.norms[layer].view()
        return columns
