"""What each layer sees: feature maps of Conv2D / Pool2D outputs and Dense activations for one sample.

Why this exists: watching a convolution's filters turn into edge and stroke detectors during training is
the clearest picture of what a CNN learns.  The worker runs the model on the chosen sample (a test image by
index, or the canvas drawing) a few times a second and sends host arrays; this panel tiles each layer's
channels into one mosaic image (vectorised, one ImageItem per layer) and draws Dense outputs as bars.  Plot
items are rebuilt only when the set of layers changes, or a new size calls for another arrangement of them.
"""
from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QSpinBox

from nnstudio.ui.i18n import tr
from nnstudio.ui.panels.cells import Cell, PanelView, title_metrics
from nnstudio.ui.panels.curves import round_span
from nnstudio.ui.panels.export import ExportablePanel

MAX_MAPS = 16
MAX_UNITS = 64
# How the cells are arranged (see FeatureMapPanel._arrangement).  In one row, a 1024x768 window showed
# mnist-cnn's input, its Grad-CAM and the first convolution; the pooling and the second convolution the lesson
# asks students to watch were cut off past the panel's edge.
MIN_BAR_PX = 90  # the narrowest a bar chart gets before the bar charts wrap onto another row
MAPS_SHARE = 0.6  # of the height, for the maps when bar charts share the panel (the rest is the bars')
LONG_TITLE_PX = 130  # map cells narrower than this are titled with the node's id alone
CELL_MARGIN_PX = 8  # a cell's width that its image or title does not get (margins, spacing)


def tile_maps(maps: np.ndarray, max_maps: int = MAX_MAPS, gap: int = 1) -> np.ndarray:
    """(C, H, W) -> one 2-D mosaic of up to ``max_maps`` channels, each scaled to [0, 1], NaN gaps."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim == 2:
        maps = maps[None]
    maps = maps[:max_maps]
    c, h, w = maps.shape
    lo = maps.reshape(c, -1).min(axis=1)[:, None, None]
    hi = maps.reshape(c, -1).max(axis=1)[:, None, None]
    scaled = (maps - lo) / np.maximum(hi - lo, 1e-8)
    cols = int(math.ceil(math.sqrt(c)))
    rows = int(math.ceil(c / cols))
    padded = np.full((rows * cols, h + gap, w + gap), np.nan, dtype=np.float32)
    padded[:c, :h, :w] = scaled
    mosaic = padded.reshape(rows, cols, h + gap, w + gap).transpose(0, 2, 1, 3).reshape(rows * (h + gap), cols * (w + gap))
    return mosaic[:-gap or None, :-gap or None]


class FeatureMapPanel(ExportablePanel):
    """A mosaic per conv / pool layer and a bar chart per dense layer, refreshed during training."""

    export_name = "feature_maps"
    sample_changed = Signal(int)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(tr("Feature maps"), parent)
        row = QHBoxLayout()
        row.addWidget(QLabel(tr("Sample")))
        self.sample_box = QSpinBox()
        self.sample_box.setRange(0, 999999)
        self.sample_box.setToolTip(tr("Index of the test sample whose feature maps are shown"))
        self.sample_box.valueChanged.connect(self.sample_changed.emit)
        row.addWidget(self.sample_box)
        self.source_label = QLabel("")
        self.source_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row.addWidget(self.source_label, 1)
        self.body.addLayout(row)
        self.view = PanelView()
        self.body.addWidget(self.view, 1)
        self.cmap = pg.colormap.get("viridis")
        self.layer_ids: list[str] = []
        self.images: dict[str, pg.ImageItem] = {}
        self.bars: dict[str, pg.BarGraphItem] = {}
        self.plots: dict[str, Cell] = {}
        self.input_image: pg.ImageItem | None = None
        self.why_image: pg.ImageItem | None = None  # what made the network say its class (explain.py)
        self.why_method = ""
        self.probe: Any = None
        self._arrangement_used: tuple[int, int, bool] = (0, 0, False)  # see _arrangement
        self._brushes = (pg.mkBrush("#F97316"), pg.mkBrush("#3B82F6"))  # negative, positive: made once

    def clear(self) -> None:
        self.source_label.setText("")
        self.view.clear()
        self.layer_ids, self.images, self.bars, self.plots = [], {}, {}, {}
        self.input_image = self.why_image = None
        self.why_method = ""
        self.probe = None
        self.dirty = True

    def begin_run(self, info: Any = None, continuing: bool = False) -> None:
        if info is not None and not getattr(info, "is_image", False) and len(getattr(info, "sample_shape", ())) != 3:
            self.source_label.setText(tr("(dense network: activations as bars)"))
        else:
            self.source_label.setText("")

    def set_probe(self, probe: Any) -> None:
        self.probe = probe
        self.dirty = True

    def _rebuild(self, probe: Any) -> None:
        """Maps side by side in the first row (input, conv, pool, ...), vector outputs as bars below.

        Cells are light (:class:`Cell`), so a rebuild in the middle of a run does not stall the GUI."""
        self.view.clear()
        self.images, self.bars, self.plots = {}, {}, {}
        self.layer_ids = list(probe.activations)
        self._arrangement_used = map_columns, bar_columns, short = self._arrangement(probe)
        maps = [n for n in self.layer_ids if probe.activations[n].ndim == 3]
        vectors = [n for n in self.layer_ids if probe.activations[n].ndim != 3]
        sample = getattr(probe, "input", None)
        self.input_image = None
        top = self.view.addLayout(row=0, col=0)
        col = 0

        def place() -> tuple[int, int]:  # (row, column) of map cell number ``col``
            return divmod(col, map_columns)

        if sample is not None and np.asarray(sample).ndim == 3:
            shape = "×".join(map(str, np.asarray(sample).shape))
            title = tr("input") if short else f"{tr('input')}<br>{shape}"
            cell = Cell(top, *place(), title, lock_aspect=True, invert_y=True)
            self.input_image = pg.ImageItem(axisOrder="row-major")
            self.input_image.setColorMap(pg.colormap.get("CET-L1"))
            cell.view.addItem(self.input_image)
            self.plots["__input__"] = cell
            col += 1
        self.why_image, self.why_method = None, getattr(probe, "why_method", "")
        if getattr(probe, "why", None) is not None:
            title = tr("why: Grad-CAM") if self.why_method == "gradcam" else tr("why: saliency")
            room = self.view.width() / map_columns - CELL_MARGIN_PX
            if short and title_metrics(self).horizontalAdvance(title) > room:
                title = "Grad-CAM" if self.why_method == "gradcam" else title  # the method's name alone
            elif not short:
                title += "<br>&nbsp;"  # two lines, as every map's title, so the images of a row line up
            cell = Cell(top, *place(), title, lock_aspect=True, invert_y=True)
            self.why_image = pg.ImageItem(axisOrder="row-major")
            self.why_image.setColorMap(pg.colormap.get("inferno"))
            cell.view.addItem(self.why_image)
            self.plots["__why__"] = cell
            col += 1
        for nid in maps:
            value = probe.activations[nid]
            title = html.escape(nid) if short else self._title(nid, probe, value)
            cell = Cell(top, *place(), title, lock_aspect=True, invert_y=True)
            image = pg.ImageItem(axisOrder="row-major")
            image.setColorMap(self.cmap)
            cell.view.addItem(image)
            self.plots[nid], self.images[nid] = cell, image
            col += 1
        if vectors:
            self.view.ci.layout.setRowStretchFactor(0, round(10 * MAPS_SHARE))
            self.view.ci.layout.setRowStretchFactor(1, round(10 * (1 - MAPS_SHARE)))
            bottom = self.view.addLayout(row=1, col=0)
            for i, nid in enumerate(vectors):
                value = probe.activations[nid]
                cell = Cell(bottom, *divmod(i, bar_columns), self._title(nid, probe, value), axes=("left",))
                bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush="#3B82F6")
                cell.view.addItem(bars)
                self.plots[nid], self.bars[nid] = cell, bars

    @staticmethod
    def _title(nid: str, probe: Any, value: np.ndarray) -> str:
        """The node's id over its block and output shape (two short lines keep the cells narrow)."""
        kind = probe.kinds.get(nid, "")
        shape = "×".join(map(str, value.shape))
        return f"{html.escape(nid)}<br>{html.escape(kind)} {shape}"

    def _arrangement(self, probe: Any) -> tuple[int, int, bool]:
        """(map cells per row, bar charts per row, short titles) for ``probe`` in the view's current size.

        The bar charts sit side by side while each gets MIN_BAR_PX, and share the height with the maps
        (MAPS_SHARE for the maps); the map cells go in as many columns as make each map the biggest, so a
        narrow, short panel shows every layer's maps smaller rather than a few of them and the rest cut off.
        Cells narrower than LONG_TITLE_PX are titled with the node's id alone: a title's width is the least
        its cell takes."""
        width, height = max(self.view.width(), 1), max(self.view.height(), 1)
        acts = probe.activations
        sample = getattr(probe, "input", None)
        n_maps = sum(1 for v in acts.values() if np.asarray(v).ndim == 3) + int(getattr(probe, "why", None) is not None)
        n_maps += int(sample is not None and np.asarray(sample).ndim == 3)
        n_bars = sum(1 for v in acts.values() if np.asarray(v).ndim != 3)
        bar_columns = max(1, min(n_bars, int(width // MIN_BAR_PX)))
        maps_height = height * (MAPS_SHARE if n_bars else 1.0)
        line = title_metrics(self).lineSpacing()
        best, best_side = (1, bar_columns, False), -math.inf
        for columns in range(1, max(n_maps, 1) + 1):
            rows = math.ceil(n_maps / columns)
            short = width / columns < LONG_TITLE_PX
            side = min(width / columns - CELL_MARGIN_PX, maps_height / max(rows, 1) - (1 if short else 2) * line - 6)
            if side > best_side + 0.5:  # ties keep fewer columns
                best, best_side = (columns, bar_columns, short), side
        return best

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self.probe is not None and self._arrangement(self.probe) != self._arrangement_used:
            self.dirty = True  # laid out again at the next redraw, to fit the new size

    def redraw(self) -> None:
        self.dirty = False
        probe = self.probe
        if probe is None:
            return
        has_input = getattr(probe, "input", None) is not None and np.asarray(probe.input).ndim == 3
        why = getattr(probe, "why", None)
        if list(probe.activations) != self.layer_ids or (self.input_image is not None) != has_input \
                or (self.why_image is not None) != (why is not None) \
                or (why is not None and self.why_method != getattr(probe, "why_method", "")) \
                or self._arrangement(probe) != self._arrangement_used:
            self._rebuild(probe)
        if self.input_image is not None:
            self.input_image.setImage(np.asarray(probe.input)[0], autoLevels=True)
        if self.why_image is not None:
            self.why_image.setImage(np.asarray(why), levels=(0.0, 1.0))
        for nid, value in probe.activations.items():
            if nid in self.images:
                mosaic = tile_maps(value)
                self.images[nid].setImage(mosaic, levels=(0.0, 1.0))
                self.plots[nid].fit((0, mosaic.shape[1]), (0, mosaic.shape[0]))
            elif nid in self.bars:
                units = np.asarray(value, dtype=np.float64).reshape(-1)[:MAX_UNITS]
                negative, positive = self._brushes
                brushes = [positive if v >= 0 else negative for v in units.tolist()]
                self.bars[nid].setOpts(x=np.arange(units.size), height=units, brushes=brushes)
                self.plots[nid].fit((-0.6, units.size - 0.4), round_span(units))  # moves only in round steps

    def history(self) -> dict[str, np.ndarray]:
        if self.probe is None:
            return {}
        return {nid: np.asarray(v).reshape(-1) for nid, v in self.probe.activations.items()}
