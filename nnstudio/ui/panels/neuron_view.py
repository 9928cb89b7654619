"""Every neuron of a small dense network on 2-D data, laid out like the network, live while it trains.

Why this exists: TensorFlow Playground shows each hidden unit's picture of the plane and the weights between
them; that is how a class sees a network build a curved boundary out of straight lines.  This panel draws
what :mod:`nnstudio.training.neuron_views` computes in the worker thread: one small heatmap per neuron
(orange negative, white zero, blue positive, as the boundary), one column per Dense layer, and the wires
between them, as thick as the weight is large and blue or orange by its sign.  Hovering a neuron shows its
formula with the current numbers at the point of the plane under the mouse; a click keeps it.

It is one ViewBox with one image item per neuron and one item that paints every wire and label, so a redraw
costs a few milliseconds (the dashboard paces it like the other panels).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy

from nnstudio.training.neuron_views import NeuronView, Unsupported, grid_cell, input_names, neuron_formula
from nnstudio.ui.i18n import tr
from nnstudio.ui.panels.boundary import PALETTE
from nnstudio.ui.panels.cells import PanelView
from nnstudio.ui.panels.export import ExportablePanel

COLUMN_STEP = 2.2  # a tile is 1 x 1; columns this far apart leave room for the wires
ROW_STEP = 1.25
NEGATIVE, POSITIVE = PALETTE[0], PALETTE[1]
BOUNDED = {"tanh": (-1.0, 1.0), "sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "sign": (-1.0, 1.0)}


def reason_text(reason: Unsupported) -> str:
    """The one-line explanation for a network the view cannot lay out."""
    v = reason.values
    if reason.code == "not_plane":
        return tr("The neuron view shows networks on 2-D data (points of the plane).")
    if reason.code == "branches":
        return tr("The neuron view shows networks that are one chain of blocks, without branches.")
    if reason.code == "block":
        return tr("The neuron view shows chains of Dense and Activation blocks; '{node}' is a {kind} block.",
                  node=v.get("node", ""), kind=v.get("kind", ""))
    if reason.code == "no_dense":
        return tr("The neuron view needs at least one Dense block.")
    if reason.code == "too_deep":
        return tr("The neuron view shows up to {most} hidden layers; this network has {found}.",
                  most=v.get("most", 0), found=v.get("found", 0))
    return tr("The neuron view shows up to {most} neurons per layer; '{node}' has {found}.",
              most=v.get("most", 0), node=v.get("node", ""), found=v.get("found", 0))


def signed_rgb(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(..., G, G) values on [lo, hi] -> (..., G, G, 3) uint8: orange below the middle, blue above, white at it."""
    mid, half = (lo + hi) / 2.0, max((hi - lo) / 2.0, 1e-12)
    t = np.clip((np.nan_to_num(np.asarray(values, dtype=np.float32)) - mid) / half, -1.0, 1.0)[..., None]
    colour = np.where(t >= 0, POSITIVE, NEGATIVE)
    rgb = 255.0 * (1.0 - np.abs(t)) + colour * np.abs(t)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def layer_range(maps: np.ndarray, activation: str) -> tuple[float, float]:
    """The colour range of a layer: its function's range when bounded, else symmetric about 0 (or 0..max)."""
    if activation in BOUNDED:
        return BOUNDED[activation]
    finite = np.nan_to_num(np.asarray(maps, dtype=np.float32))
    top = max(float(np.abs(finite).max()) if finite.size else 1.0, 1e-6)
    return (-top, top)


def tile_origin(column: int, unit: int, units: int) -> tuple[float, float]:
    """The lower-left corner of neuron ``unit`` (of ``units``, top to bottom) in column ``column``."""
    top = (units - 1) * ROW_STEP / 2.0
    return column * COLUMN_STEP, top - unit * ROW_STEP - 0.5


class WiresItem(pg.GraphicsObject):
    """The wires (one line per weight) and the labels, painted in one go below the neuron images."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[QPointF, QPointF, QColor, float]] = []
        self.labels: list[tuple[QPointF, str, bool]] = []  # position, text, above (else left of) the point
        self.selected: QRectF | None = None
        self._bounds = QRectF()

    def set_content(self, lines: list, labels: list, bounds: QRectF) -> None:
        if bounds != self._bounds:
            self.prepareGeometryChange()
            self._bounds = bounds
        self.lines, self.labels = lines, labels
        self.update()

    def set_selected(self, rect: QRectF | None) -> None:
        if rect != self.selected:
            self.selected = rect
            self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._bounds

    def shown_labels(self, transform: Any, metrics: QFontMetrics) -> list[tuple[QPointF, str, bool]]:
        """The labels there is room for at the view's scale ``transform``.  In a small panel (a 1024x768 window)
        they ran over each other and over the squares ("x1" on "x2", "ta…" on "d…"): the layers' names need
        columns at least two short words apart, the inputs' names rows a line apart, else that kind is left
        out (the formula line under the plane still names what the mouse is over)."""
        column = abs(transform.map(QPointF(COLUMN_STEP, 0.0)).x() - transform.map(QPointF(0.0, 0.0)).x())
        row = abs(transform.map(QPointF(0.0, ROW_STEP)).y() - transform.map(QPointF(0.0, 0.0)).y())
        layers = column >= 2 * metrics.horizontalAdvance("dense")
        inputs = row >= metrics.height()
        return [label for label in self.labels if (layers if label[2] else inputs)]

    def paint(self, painter: QPainter, *args: Any) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for start, end, colour, width in self.lines:
            pen = QPen(colour)
            pen.setWidthF(width)
            pen.setCosmetic(True)  # widths in pixels, whatever the zoom
            painter.setPen(pen)
            painter.drawLine(start, end)
        if self.selected is not None:
            pen = QPen(QColor("#111827"))
            pen.setWidthF(2.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawRect(self.selected)
        transform = painter.transform()
        painter.save()
        painter.resetTransform()  # upright text of a fixed size, whatever the view's scale
        font = QFont(painter.font())
        font.setPixelSize(11)
        painter.setFont(font)
        painter.setPen(QPen(QColor("#334155")))
        column = abs(transform.map(QPointF(COLUMN_STEP, 0.0)).x() - transform.map(QPointF(0.0, 0.0)).x())
        for point, text, above in self.shown_labels(transform, painter.fontMetrics()):
            at = transform.map(point)
            if above:  # a layer's name and function, two short lines no wider than a column
                width = max(column - 4.0, 24.0)
                painter.drawText(QRectF(at.x() - width / 2, at.y() - 32, width, 30),
                                 int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom),
                                 painter.fontMetrics().elidedText(text.split("\n")[0], Qt.TextElideMode.ElideRight,
                                                                  int(width))
                                 + "\n" + painter.fontMetrics().elidedText(text.split("\n")[-1],
                                                                          Qt.TextElideMode.ElideRight, int(width)))
            else:
                painter.drawText(QRectF(at.x() - 64, at.y() - 8, 60, 16),
                                 int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter), text)
        painter.restore()


class NeuronViewPanel(ExportablePanel):
    """Heatmaps of every neuron over the plane and the weighted wires between them."""

    export_name = "neurons"

    def __init__(self, parent: Any = None) -> None:
        super().__init__(tr("Neurons"), parent)
        self.view = PanelView()
        self.body.addWidget(self.view, 1)
        self.box = self.view.addViewBox(enableMenu=False, lockAspect=True)
        self.box.setMouseEnabled(x=False, y=False)
        self.wires = WiresItem()
        self.box.addItem(self.wires)
        self.images: list[list[pg.ImageItem]] = []  # per column, per neuron
        self.formula = QLabel("")
        self.formula.setWordWrap(True)
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.formula.setStyleSheet("font-family: monospace;")  # the theme's text colour (light or dark)
        self.formula.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.body.addWidget(self.formula)
        self.neurons: NeuronView | None = None
        self.reason: Unsupported | None = None
        self._shape: tuple[int, ...] = ()
        self._pinned: tuple[int, int, float, float] | None = None  # column, unit, x, y of a clicked neuron
        self._hover: tuple[int, int, float, float] | None = None
        self.view.scene().sigMouseMoved.connect(self._mouse_moved)
        self.view.scene().sigMouseClicked.connect(self._mouse_clicked)
        self._show_message(tr("Every neuron of a small network on 2-D data appears here while it trains."))

    def _show_message(self, text: str) -> None:
        """No neurons to draw: the empty plane goes away and ``text`` says why, once, wrapped in full."""
        self.view.setVisible(False)
        self.set_caption("")
        self.formula.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.formula.setStyleSheet("")
        self.formula.setText(text)

    def _show_plane(self) -> None:
        self.view.setVisible(True)
        self.formula.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.formula.setStyleSheet("font-family: monospace;")  # the theme's text colour (light or dark)

    def retranslate(self) -> None:
        """Captions and the formula line in the current language."""
        if self.neurons is None and self.reason is None:
            self._show_message(tr("Every neuron of a small network on 2-D data appears here while it trains."))
        else:
            self.redraw()

    # -- data --------------------------------------------------------------------------------------------
    def clear(self) -> None:
        self.neurons, self.reason, self._pinned, self._hover = None, None, None, None
        self._set_shape(())
        self.wires.set_content([], [], QRectF())
        self.wires.set_selected(None)
        self._show_message(tr("Every neuron of a small network on 2-D data appears here while it trains."))
        self.dirty = True

    def begin_run(self, info: Any = None, continuing: bool = False) -> None:
        self.clear()
        if info is not None and getattr(info, "points", None) is None:
            self._show_message(tr("The neuron view shows networks on 2-D data (points of the plane)."))

    def set_neurons(self, value: Any) -> None:
        """A NeuronView from the worker, or the reason it cannot lay this network out."""
        if isinstance(value, Unsupported):
            self.neurons, self.reason = None, value
        else:
            self.neurons, self.reason = value, None
        self.dirty = True

    # -- drawing -----------------------------------------------------------------------------------------
    def _columns(self) -> list[int]:
        view = self.neurons
        return [] if view is None else [view.inputs.shape[0]] + [nl.maps.shape[0] for nl in view.layers]

    def _set_shape(self, columns: tuple[int, ...]) -> None:
        """Create the image items for ``columns`` (units per column) when the network's shape changed."""
        if columns == self._shape:
            return
        for column in self.images:
            for item in column:
                self.box.removeItem(item)
        self.images = []
        for c, units in enumerate(columns):
            items = []
            for j in range(units):
                item = pg.ImageItem(axisOrder="row-major")
                self.box.addItem(item)
                items.append(item)
            self.images.append(items)
        self._shape = columns
        if columns:
            top = max(columns) * ROW_STEP / 2.0
            self.box.setRange(xRange=(-0.9, (len(columns) - 1) * COLUMN_STEP + 1.1), yRange=(-top - 0.2, top + 0.9),
                              padding=0.02)

    def redraw(self) -> None:
        self.dirty = False
        if self.reason is not None:
            self._set_shape(())
            self.wires.set_content([], [], QRectF())
            self._show_message(reason_text(self.reason))  # once, wrapped in full (a caption line would be cut)
            return
        view = self.neurons
        if view is None:
            return
        self._show_plane()
        columns = tuple(self._columns())
        self._set_shape(columns)
        pictures = [signed_rgb(view.inputs, *layer_range(view.inputs, "linear"))]
        pictures += [signed_rgb(nl.maps, *layer_range(nl.maps, nl.activation)) for nl in view.layers]
        for c, rgb in enumerate(pictures):
            for j, item in enumerate(self.images[c]):
                item.setImage(rgb[j], autoLevels=False, levels=(0, 255))
                x, y = tile_origin(c, j, len(self.images[c]))
                item.setRect(QRectF(x, y, 1.0, 1.0))  # after setImage: the rect scales the image's own size
        self.wires.set_content(*self._wires_and_labels(view, columns))
        self.set_caption(tr("Step {step}: each square is one neuron's output over the plane; wires: blue "
                            "positive, orange negative weights, thicker when larger.", step=view.step)
                         if view.step >= 0 else  # drawn from a project's saved weights, not during a run
                         tr("Saved weights: each square is one neuron's output over the plane; wires: blue "
                            "positive, orange negative weights, thicker when larger."))
        self._show_formula()

    def _wires_and_labels(self, view: NeuronView, columns: tuple[int, ...]) -> tuple[list, list, QRectF]:
        lines = []
        strongest = max((float(np.abs(nl.weights).max()) for nl in view.layers if nl.weights.size), default=1.0)
        for c, nl in enumerate(view.layers):
            n_in, n_out = columns[c], columns[c + 1]
            for i in range(n_in):
                xa, ya = tile_origin(c, i, n_in)
                for j in range(n_out):
                    w = float(nl.weights[i, j]) if np.isfinite(nl.weights[i, j]) else 0.0
                    xb, yb = tile_origin(c + 1, j, n_out)
                    size = abs(w) / max(strongest, 1e-12)
                    colour = QColor(*(int(v) for v in (POSITIVE if w >= 0 else NEGATIVE)))
                    colour.setAlphaF(0.25 + 0.75 * size)
                    lines.append((QPointF(xa + 1.0, ya + 0.5), QPointF(xb, yb + 0.5), colour, 0.5 + 5.5 * size))
        labels = []
        for i, name in enumerate(view.input_names):
            x, y = tile_origin(0, i, columns[0])
            labels.append((QPointF(x, y + 0.5), name, False))
        for c, nl in enumerate(view.layers, start=1):
            x, y = tile_origin(c, 0, columns[c])
            labels.append((QPointF(x + 0.5, y + 1.0), f"{nl.node_id}\n{nl.activation}", True))
        top = max(columns) * ROW_STEP / 2.0 + 1.0
        bounds = QRectF(-1.0, -top, len(columns) * COLUMN_STEP + 1.0, 2.0 * top)
        return lines, labels, bounds

    # -- the formula of the neuron under the mouse ------------------------------------------------------
    def neuron_at(self, scene_pos: QPointF) -> tuple[int, int, float, float] | None:
        """(column, unit, x, y of the plane) under ``scene_pos``, or None off every neuron."""
        view = self.neurons
        if view is None or not self._shape:
            return None
        p = self.box.mapSceneToView(scene_pos)
        column = int(np.floor((p.x() + 0.5 * (COLUMN_STEP - 1.0)) / COLUMN_STEP))
        if not 0 <= column < len(self._shape):
            return None
        for unit in range(self._shape[column]):
            x, y = tile_origin(column, unit, self._shape[column])
            if x <= p.x() <= x + 1.0 and y <= p.y() <= y + 1.0:
                x0, x1, y0, y1 = view.extent
                return column, unit, x0 + (p.x() - x) * (x1 - x0), y0 + (p.y() - y) * (y1 - y0)
        return None

    def formula_for(self, column: int, unit: int, x: float, y: float) -> str:
        """What the formula line says for neuron ``unit`` of ``column`` at the plane point (x, y)."""
        view = self.neurons
        if view is None:
            return ""
        row, col = grid_cell(view, x, y)
        where = tr("At (x1, x2) = ({x}, {y}):", x=f"{x:.2f}", y=f"{y:.2f}")
        if column == 0:
            return f"{where} {input_names(view, 0)[unit]} = {float(view.inputs[unit, row, col]):.3g}"
        name = f"{view.layers[column - 1].node_id}[{unit + 1}]"
        return f"{where} {name}\n{neuron_formula(view, column - 1, unit, row, col)}"

    def _show_formula(self) -> None:
        chosen = self._pinned or self._hover
        if chosen is None or self.neurons is None or chosen[0] >= len(self._shape) \
                or chosen[1] >= self._shape[chosen[0]]:
            self.wires.set_selected(None)
            self.formula.setText(tr("Hover over a neuron to see its formula with the current numbers; click "
                                    "to keep it.") if self.neurons is not None else "")
            return
        column, unit, x, y = chosen
        ox, oy = tile_origin(column, unit, self._shape[column])
        self.wires.set_selected(QRectF(ox, oy, 1.0, 1.0))
        self.formula.setText(self.formula_for(column, unit, x, y))

    def _mouse_moved(self, scene_pos: QPointF) -> None:
        self._hover = self.neuron_at(scene_pos)
        self._show_formula()

    def _mouse_clicked(self, event: Any) -> None:
        found = self.neuron_at(event.scenePos())
        self._pinned = None if found is None or (self._pinned is not None and self._pinned[:2] == found[:2]) \
            else found
        self._show_formula()

    def history(self) -> dict[str, np.ndarray]:
        view = self.neurons
        if view is None:
            return {}
        columns: dict[str, np.ndarray] = {}
        for nl in view.layers:
            for i in range(nl.weights.shape[0]):
                for j in range(nl.weights.shape[1]):
                    columns[f"{nl.node_id}/W[{i + 1},{j + 1}]"] = np.array([nl.weights[i, j]])
            for j in range(nl.bias.shape[0]):
                columns[f"{nl.node_id}/b[{j + 1}]"] = np.array([nl.bias[j]])
        return columns


__all__ = ["NeuronViewPanel", "layer_range", "reason_text", "signed_rgb", "tile_origin"]
