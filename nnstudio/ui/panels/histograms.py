"""Histograms of each layer's weights and of its activations on a probe batch.

Why this exists: weights that collapse to zero or spread without bound, and activations stuck at zero (dead
ReLUs) or saturated (sigmoid at 0 / 1), are visible at a glance as histograms.  The worker computes the
counts in its thread (a few dozen bins per layer, about once a second); this panel only draws them, one
row per layer: weights on the left, activations on the right.
"""
from __future__ import annotations

import html
from typing import Any

import numpy as np
import pyqtgraph as pg

from nnstudio.ui.i18n import tr
from nnstudio.ui.panels.cells import Cell, PanelView, round_up_125
from nnstudio.ui.panels.export import ExportablePanel
from nnstudio.ui.panels.curves import round_span

WEIGHT_COLOUR = (59, 130, 246, 160)
ACTIVATION_COLOUR = (249, 115, 22, 160)


class HistogramPanel(ExportablePanel):
    """One row per layer: the weight histogram and the activation histogram."""

    export_name = "histograms"

    def __init__(self, parent: Any = None) -> None:
        super().__init__(tr("Weight and activation histograms"), parent)
        self.view = PanelView()
        self.body.addWidget(self.view, 1)
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self.cells: dict[tuple[str, str], Cell] = {}
        self.keys: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())
        self.data: Any = None

    def clear(self) -> None:
        self.view.clear()
        self.curves, self.cells, self.keys, self.data = {}, {}, ((), ()), None
        self.dirty = True

    def begin_run(self, info: Any = None, continuing: bool = False) -> None:
        pass

    def set_histograms(self, histograms: Any) -> None:
        self.data = histograms
        self.dirty = True

    def _rebuild(self, weights: tuple[str, ...], activations: tuple[str, ...]) -> None:
        self.view.clear()
        self.curves, self.cells = {}, {}
        for col, (kind, names, colour) in enumerate((("weights", weights, WEIGHT_COLOUR),
                                                     ("activations", activations, ACTIVATION_COLOUR))):
            for row, name in enumerate(names):
                shown = html.escape(name)  # the title is rich text; a node's id is any text
                title = tr("{name} weights", name=shown) if kind == "weights" else tr("{name} output", name=shown)
                # The title inside the plot: at 1024x768 a title row left each of eight histograms 14 pixels.
                cell = Cell(self.view.ci, row, col, title, axes=("bottom",), title_inside=True)
                curve = pg.PlotDataItem(stepMode="center", fillLevel=0, brush=colour, pen=pg.mkPen(colour[:3], width=1))
                cell.view.addItem(curve)
                self.curves[(kind, name)] = curve
                self.cells[(kind, name)] = cell
        self.keys = (weights, activations)
        self.view.refit()

    def redraw(self) -> None:
        self.dirty = False
        data = self.data
        if data is None:
            return
        keys = (tuple(data.weights), tuple(data.activations))
        if keys != self.keys:
            self._rebuild(*keys)
        for kind, table in (("weights", data.weights), ("activations", data.activations)):
            for name, (counts, edges) in table.items():
                self.curves[(kind, name)].setData(edges, counts)
                # Round bounds that change only when the data outgrow them: an axis whose range changes is
                # re-rendered, which for eight small plots at every update was most of this panel's cost.
                top = float(np.nanmax(counts)) if len(counts) else 1.0
                self.cells[(kind, name)].fit(round_span(np.asarray(edges)), (0.0, round_up_125(top)))

    def history(self) -> dict[str, np.ndarray]:
        if self.data is None:
            return {}
        columns: dict[str, np.ndarray] = {}
        for kind, table in (("weights", self.data.weights), ("activations", self.data.activations)):
            for name, (counts, edges) in table.items():
                centres = 0.5 * (np.asarray(edges[:-1]) + np.asarray(edges[1:]))
                columns[f"{kind}:{name}:bin_centre"] = centres
                columns[f"{kind}:{name}:count"] = np.asarray(counts)
        return columns
