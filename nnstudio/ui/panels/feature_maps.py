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
# asks students to watch were cut off past the panel's edge.  And with a fixed share of the height for the maps,
# the same window showed mnist-mlp's input 20 pixels high and its four bar charts 13 pixels high, in two rows
# under three rows of two-line titles: the height is now shared out by what each row needs.
MIN_BAR_PX = 56  # the narrowest a bar chart gets before the bar charts wrap onto another row
BAR_HEIGHT = 0.5  # a bar chart's height as a share of a map's, when they compete for the height
LONG_TITLE_PX = 130  # map cells narrower than this are titled with the node's id alone
CELL_MARGIN_PX = 18  # a cell's width that its title's text does not get (the label's padding, margins, spacing)
PLOT_MARGIN_PX = 10  # a cell's width that its image or plot does not get (margins, spacing)
ROW_MARGIN_PX = 10  # a row of cells' height that its title and plots do not get (margins, spacing)
VIEW_MARGIN_PX = 24  # the height the view's own margins and the space between maps and bar charts take
TITLE_PAD_PX = 8  # a title's height beyond its lines
LONG_TITLES = 0.85  # cells keep two-line titles while that leaves them this share of the size they would get
#                     with one-line titles


def _tiles(channels: int) -> tuple[int, int]:
    """(rows, columns) of the mosaic of ``channels`` maps."""
    cols = int(math.ceil(math.sqrt(channels)))
    return int(math.ceil(channels / cols)), cols


def mosaic_height_per_width(shape: tuple[int, ...], max_maps: int = MAX_MAPS, gap: int = 1) -> float:
    """Height over width of what :func:`tile_maps` makes of maps shaped ``shape`` (C, H, W) or (H, W)."""
    h, w = shape[-2:]
    rows, cols = _tiles(min(shape[0], max_maps) if len(shape) == 3 else 1)
    return (rows * (h + gap) - gap) / max(cols * (w + gap) - gap, 1)


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
    rows, cols = _tiles(c)
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
        self._arrangement_used: tuple[int, int, bool, bool] = (0, 0, False, False)  # see _arrangement
        self._maps_share = 1.0  # of the height, for the rows of maps (see _arrangement)
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
        self._arrangement_used = map_columns, bar_columns, short, short_bars = self._arrangement(probe)
        maps = [n for n in self.layer_ids if probe.activations[n].ndim == 3]
        vectors = [n for n in self.layer_ids if probe.activations[n].ndim != 3]
        sample = getattr(probe, "input", None)
        self.input_image = None
        top = self.view.addLayout(row=0, col=0)
        top.layout.setContentsMargins(0, 0, 0, 0)  # the view has margins already
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
            title = html.escape(nid) if short else self._title(nid, probe)
            cell = Cell(top, *place(), title, lock_aspect=True, invert_y=True)
            image = pg.ImageItem(axisOrder="row-major")
            image.setColorMap(self.cmap)
            cell.view.addItem(image)
            self.plots[nid], self.images[nid] = cell, image
            col += 1
        if vectors:
            bottom = self.view.addLayout(row=1, col=0)
            bottom.layout.setContentsMargins(0, 0, 0, 0)
            self._share_height()
            for i, nid in enumerate(vectors):
                value = probe.activations[nid]
                title = html.escape(nid) if short_bars else self._title(nid, probe)
                cell = Cell(bottom, *divmod(i, bar_columns), title, axes=("left",))
                bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush="#3B82F6")
                cell.view.addItem(bars)
                self.plots[nid], self.bars[nid] = cell, bars
        self.view.refit()

    @staticmethod
    def _title_lines(nid: str, probe: Any) -> tuple[str, str]:
        """The node's id, and its block and output shape: a cell's title, as plain text."""
        kind = probe.kinds.get(nid, "")
        shape = "×".join(map(str, np.shape(probe.activations[nid])))
        return nid, f"{kind} {shape}"

    @classmethod
    def _title(cls, nid: str, probe: Any) -> str:
        """The node's id over its block and output shape (two short lines keep the cells narrow)."""
        return "<br>".join(html.escape(text) for text in cls._title_lines(nid, probe))

    def _arrangement(self, probe: Any) -> tuple[int, int, bool, bool]:
        """(map cells per row, bar charts per row, short map titles, short bar titles) for ``probe`` in the
        view's current size; it also sets the share of the height the rows of maps get.

        Every arrangement is tried: the map cells in 1 to all columns, the bar charts in 1 to all (each at least
        MIN_BAR_PX wide; no last row with one cell under fuller rows), their titles on one line or two.  The
        height left after the titles goes to the maps and the bar charts so that a chart is BAR_HEIGHT of a
        map's height (a map no wider than its column, for its shape, the charts then taking the rest; charts
        alone no taller than wide), and the arrangement whose maps (or charts, with no maps) come out biggest
        wins.  So a narrow, short panel shows every layer smaller rather than a few of them and the rest cut
        off.  No cell is narrower than its title, which is the least it takes.  Map cells narrower than
        LONG_TITLE_PX are titled with the node's id alone; other cells keep their two-line titles unless one
        line makes them clearly bigger (LONG_TITLES)."""
        # The view's margins take 18 pixels of the width; a cell's share of the spacing between cells is in
        # CELL_MARGIN_PX and PLOT_MARGIN_PX, which the last cell of a row does not need.
        width, height = max(self.view.width() - 12, 1), max(self.view.height(), 1) - VIEW_MARGIN_PX
        acts = probe.activations
        sample = getattr(probe, "input", None)
        map_ids = [nid for nid, v in acts.items() if np.ndim(v) == 3]
        bar_ids = [nid for nid, v in acts.items() if np.ndim(v) != 3]
        n_maps = len(map_ids) + int(getattr(probe, "why", None) is not None)
        n_maps += int(sample is not None and np.ndim(sample) == 3)
        n_bars = len(bar_ids)
        metrics = title_metrics(self)
        line = metrics.lineSpacing()
        # The least width a cell takes is its title's (a bar chart's spans its axis and its bars; MIN_BAR_PX
        # at least): a row of cells wider than the panel ran past its edge.

        def widest(lines: list[str]) -> float:
            return max([0] + [metrics.horizontalAdvance(text) + CELL_MARGIN_PX for text in lines])

        least = {short: max(MIN_BAR_PX, widest([text for nid in bar_ids
                                                for text in self._title_lines(nid, probe)[:1 if short else 2]]))
                 for short in (False, True)}
        why_method = getattr(probe, "why_method", "")
        whys = [] if getattr(probe, "why", None) is None else \
            [tr("why: Grad-CAM") if why_method == "gradcam" else tr("why: saliency")]
        inputs = [] if sample is None or np.ndim(sample) != 3 else [tr("input")]
        least_map = {False: widest(inputs + whys + [t for nid in map_ids for t in self._title_lines(nid, probe)]),
                     True: widest(inputs + (["Grad-CAM"] if why_method == "gradcam" else whys) + map_ids)}

        def title(lines: int) -> float:
            return lines * line + TITLE_PAD_PX + ROW_MARGIN_PX

        # The tallest map for its width (the captcha example's are 2.5 times as wide as high): a row of maps
        # needs no more height than that map takes at the column's width.
        shapes = [np.shape(acts[nid]) for nid in map_ids]
        shapes += [np.shape(sample)[-2:]] if inputs else []
        shapes += [np.shape(probe.why)] if whys else []
        tallest = max([mosaic_height_per_width(shape) for shape in shapes if min(shape[-2:], default=0) > 0]
                      or [1.0])

        def balanced(n: int) -> list[int]:  # columns that leave no last row with one cell under fuller rows
            return [c for c in range(1, max(n, 1) + 1) if c == 1 or c == n or n % c != 1]

        best: tuple[float, float, tuple[int, int, bool, bool], float] | None = None
        for columns in balanced(n_maps):
            map_rows = math.ceil(n_maps / columns)
            room = width / columns - PLOT_MARGIN_PX
            long_fits = width / columns >= LONG_TITLE_PX
            for short in (False, True):
                if (not short and not long_fits) or (columns > 1 and width / columns < least_map[short]):
                    continue
                for bar_columns in reversed(balanced(n_bars)):
                    bar_rows = math.ceil(n_bars / bar_columns)
                    for short_bars in (False, True):
                        if bar_columns > 1 and width / bar_columns < least[short_bars]:
                            continue
                        map_titles, bar_titles = title(1 if short else 2), title(1 if short_bars else 2)
                        free = height - map_rows * map_titles - bar_rows * bar_titles
                        if n_maps and n_bars:
                            side = min(room * tallest, free / (map_rows + BAR_HEIGHT * bar_rows))
                        elif n_maps:
                            side = min(room * tallest, free / map_rows)
                        else:  # bar charts alone: as tall as they are wide at most (thin charts read badly)
                            side = min(free / max(bar_rows, 1), width / bar_columns - PLOT_MARGIN_PX)
                        maps_height = map_rows * (map_titles + side) if n_maps else 0.0
                        # A short title is worth it only where it makes the cells clearly bigger.
                        size = side * (LONG_TITLES if short and long_fits else 1.0) \
                            * (LONG_TITLES if short_bars and n_bars else 1.0)
                        key = (size, -columns)  # ties: fewer map columns, then more bar columns, long titles
                        if best is None or key > best[:2]:
                            best = (*key, (columns, bar_columns, short, short_bars), maps_height)
        assert best is not None
        self._maps_share = min(max(best[3] / max(height, 1), 0.0), 1.0) if n_bars else 1.0
        return best[2]

    def _share_height(self) -> None:
        """Give the rows of maps their share of the height, the bar charts the rest (see _arrangement).
        (Stretch factors would not do: the grid shares out only what is left above the rows' preferred sizes.)"""
        layout = self.view.ci.layout
        if layout.rowCount() > 1:
            layout.setRowFixedHeight(0, max(1.0, self._maps_share * (self.view.height() - VIEW_MARGIN_PX)))
            # The view fitted its layout before this (resizeEvent): with the old, taller row it could not
            # shrink, and the bar charts stayed cut off at the bottom.
            self.view.refit()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self.probe is not None:
            if self._arrangement(self.probe) != self._arrangement_used:
                self.dirty = True  # laid out again at the next redraw, to fit the new size
            else:
                self._share_height()

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
