"""The step-through panel: one batch, one node at a time, forward, backward (the chain rule) and update.

It drives a :class:`nnstudio.teaching.stepper.Stepper` on a float64 copy of the open network and, after
each step, shows the node's output (forward) or the gradient that reached it (backward) — shape, mean,
std, min, max and a small heatmap — then the weight update ``w ← w − lr·∂L/∂w`` with ‖Δw‖ per layer.
Each step emits :attr:`StepperPanel.node_focused` with the node id so the editor can select and centre
that block.  A step is one layer on a handful of samples, so it runs on the GUI thread without a pause.
"""
from __future__ import annotations

import html
from typing import Any, Callable, Iterator

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (QDoubleSpinBox, QGridLayout, QHeaderView, QLabel, QPushButton, QSpinBox,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from nnstudio.errors import UserError
from nnstudio.teaching import teaching_batch, teaching_model
from nnstudio.teaching.stepper import StepInfo, Stepper
from nnstudio.ui.flow_layout import scroll_into, wrapping_controls
from nnstudio.ui.i18n import tr

GraphProvider = Callable[[], tuple[Any, Any]]  # () -> (graph or None, training settings dict or None)
HEATMAP_SIZE = 180

PHASE_COLOURS = {"forward": "#5B9BF0", "backward": "#F0A35B", "update": "#3FB950"}


def _ramp(stops: list[tuple[float, tuple[int, int, int]]]) -> np.ndarray:
    """A 256-entry RGB lookup table interpolated between colour stops."""
    positions = np.array([p for p, _ in stops])
    colours = np.array([c for _, c in stops], dtype=np.float64)
    t = np.linspace(0.0, 1.0, 256)
    return np.stack([np.interp(t, positions, colours[:, k]) for k in range(3)], axis=1).astype(np.uint8)


# Activations: dark blue to yellow.  Gradients and weight steps: blue (negative), dark, orange (positive).
SEQUENTIAL = _ramp([(0.0, (20, 24, 60)), (0.35, (40, 90, 160)), (0.7, (80, 190, 150)), (1.0, (250, 230, 90))])
DIVERGING = _ramp([(0.0, (70, 140, 255)), (0.5, (28, 30, 38)), (1.0, (255, 150, 60))])


def heatmap_image(values: np.ndarray, diverging: bool) -> QImage:
    """``values`` (2-D, NaN for gaps) coloured through a lookup table, as an RGB QImage (vectorised)."""
    a = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(a)
    if diverging:
        scale = float(np.abs(a[finite]).max()) if finite.any() else 0.0
        norm = 0.5 + 0.5 * a / scale if scale > 0 else np.full(a.shape, 0.5)
        lut = DIVERGING
    else:
        lo = float(a[finite].min()) if finite.any() else 0.0
        hi = float(a[finite].max()) if finite.any() else 0.0
        norm = (a - lo) / (hi - lo) if hi > lo else np.full(a.shape, 0.5)
        lut = SEQUENTIAL
    index = np.clip(np.nan_to_num(norm, nan=0.0) * 255.0, 0, 255).astype(np.intp)
    rgb = lut[index]
    rgb[~finite] = (14, 16, 20)
    rgb = np.ascontiguousarray(rgb)
    h, w = a.shape
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return image.copy()  # own the pixels: ``rgb`` goes away with this frame


class StepperPanel(QWidget):
    """Start / next / run phase / reset buttons, what the current step shows, and the update table."""

    node_focused = Signal(str)  # the node the current step is about
    step_shown = Signal(object)  # the StepInfo just shown
    finished = Signal()

    def __init__(self, graph_provider: GraphProvider, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stepperPanel")
        self.graph_provider = graph_provider
        self.stepper: Stepper | None = None
        self._steps: Iterator[StepInfo] | None = None
        self.history: list[StepInfo] = []
        self.current: StepInfo | None = None

        self.start_button = QPushButton()
        self.start_button.setObjectName("stepperStart")
        self.next_button = QPushButton()
        self.next_button.setObjectName("stepperNext")
        self.phase_button = QPushButton()
        self.phase_button.setObjectName("stepperPhase")
        self.start_button.clicked.connect(self.start)
        self.next_button.clicked.connect(self.next_step)
        self.phase_button.clicked.connect(self.finish_phase)
        self.batch_label = QLabel()
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 64)
        self.batch_spin.setValue(4)
        self.lr_label = QLabel()
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(4)
        self.lr_spin.setRange(0.0001, 10.0)
        self.lr_spin.setSingleStep(0.01)
        self.lr_spin.setValue(0.1)

        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.explain.setTextFormat(Qt.TextFormat.RichText)
        self.stats = QLabel()
        self.stats.setTextFormat(Qt.TextFormat.RichText)
        self.stats.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.heatmap = QLabel()
        self.heatmap.setObjectName("stepperHeatmap")
        self.heatmap.setFixedSize(HEATMAP_SIZE, HEATMAP_SIZE)
        self.heatmap.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.heatmap.setStyleSheet("background:#14161B; border:1px solid #2D313B;")
        self.updates = QTableWidget(0, 3)
        self.updates.verticalHeader().setVisible(False)
        self.updates.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.updates.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.updates.setMinimumHeight(90)
        self.updates.setMaximumHeight(150)

        # The buttons and each label with its box wrap onto lines as the panel's width allows: in two fixed rows
        # the right-hand column of a 1024x768 window cut "Finish" and the learning rate off at its edge.
        controls_box = wrapping_controls([self.start_button, self.next_button, self.phase_button],
                                         [(self.batch_label, self.batch_spin), (self.lr_label, self.lr_spin)])
        view = QGridLayout()
        view.addWidget(self.heatmap, 0, 0, 2, 1)
        view.addWidget(self.stats, 0, 1)
        view.setColumnStretch(1, 1)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(controls_box)
        layout.addWidget(self.title)
        layout.addWidget(self.explain)
        layout.addLayout(view)
        layout.addWidget(self.updates)
        layout.addStretch(1)
        scroll_into(self, body)  # a short dock scrolls instead of squeezing the heatmap and the numbers
        self.retranslate()
        self._set_running(False)

    # -- texts ------------------------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.start_button.setText(tr("Start with one batch"))
        self.next_button.setText(tr("Next step"))
        self.phase_button.setText(tr("Finish this phase"))
        self.batch_label.setText(tr("Samples:"))
        self.lr_label.setText(tr("Learning rate:"))
        self.updates.setHorizontalHeaderLabels([tr("Layer"), tr("‖Δw‖ per parameter"), tr("Learning rate")])
        if self.current is not None:
            self._show(self.current)
        else:
            self.title.setText(f"<b>{tr('Step through one training step')}</b>")
            self.explain.setText(tr(
                "Takes one batch and runs the network one block at a time: the forward pass from input to "
                "output, the backward pass (the chain rule) from the loss back to the input, then the "
                "update of every weight."))
            self.stats.setText("")

    def _set_running(self, running: bool) -> None:
        self.next_button.setEnabled(running)
        self.phase_button.setEnabled(running)

    # -- driving ----------------------------------------------------------------------------------------
    @Slot()
    def start(self) -> bool:
        """Compile the open network in float64, take a batch and stop before the first step."""
        graph, training = self.graph_provider()
        if graph is None or not getattr(graph, "nodes", None):
            self.explain.setText(tr("Open or build a network first."))
            return False
        training = dict(training or {})
        try:
            model = teaching_model(graph.copy() if hasattr(graph, "copy") else graph,
                                   seed=int(training.get("seed", 0)))
            batch = teaching_batch(model, training, n=self.batch_spin.value())
            self.stepper = Stepper(model, batch.x, batch.y, str(training.get("loss", "cross_entropy")),
                                   lr=self.lr_spin.value())
        except UserError as exc:
            self.stepper = None
            self._set_running(False)
            self.explain.setText(f"<span style='color:#F05454'>{html.escape(tr('Cannot start: {message}', message=str(exc)))}</span>")
            return False
        self._steps = self.stepper.steps()
        self.history = []
        self.current = None
        self.updates.setRowCount(0)
        source = (tr("{count} samples of {dataset}", count=batch.x.shape[0], dataset=batch.source)
                  if batch.source != "random" else tr("{count} random samples", count=batch.x.shape[0]))
        self.title.setText(f"<b>{tr('Step through one training step')}</b> — {html.escape(source)}")
        self._set_running(True)
        return self.next_step() is not None

    @Slot()
    def next_step(self) -> StepInfo | None:
        """Run one more block; None (and the buttons off) when the step is complete."""
        if self._steps is None:
            return None
        try:
            info = next(self._steps)
        except StopIteration:
            self._finish()
            return None
        except UserError as exc:
            self._steps = None
            self._set_running(False)
            self.explain.setText(f"<span style='color:#F05454'>{html.escape(str(exc))}</span>")
            return None
        self.history.append(info)
        self.current = info
        self._show(info)
        self.node_focused.emit(info.node_id)
        self.step_shown.emit(info)
        return info

    @Slot()
    def finish_phase(self) -> None:
        """Run the remaining steps of the current phase (forward, backward or update)."""
        if self.current is None:
            return
        phase = self.current.phase
        while True:
            info = self.next_step()
            if info is None or info.phase != phase:
                return

    def run_to_end(self) -> list[StepInfo]:
        while self.next_step() is not None:
            pass
        return self.history

    def _finish(self) -> None:
        self._steps = None
        self._set_running(False)
        stepper = self.stepper
        if stepper is not None and stepper.loss_value is not None:
            after = ("" if stepper.loss_after is None else
                     tr(" After the update the same batch gives {after}.", after=f"{stepper.loss_after:.4f}"))
            self.explain.setText(tr("Done. The loss was {before}.", before=f"{stepper.loss_value:.4f}") + after)
        self.finished.emit()

    # -- showing ----------------------------------------------------------------------------------------
    def _explanation(self, info: StepInfo) -> str:
        node = html.escape(info.node_id)
        if info.phase == "forward":
            text = (tr("The batch enters the network at <b>{node}</b>.", node=node) if info.layer_type == "Input"
                    else tr("<b>{node}</b> ({type}) computes its output from its inputs.", node=node,
                            type=info.layer_type))
            if info.loss is not None:
                text += " " + tr("The loss on this batch is <b>{loss}</b>.", loss=f"{info.loss:.4f}")
            return text
        if info.phase == "backward":
            if info.fused:
                return tr("The loss and the {function} at <b>{node}</b> are differentiated together: "
                          "∂L/∂z = p − t, divided by the batch size.", function=info.fused, node=node)
            text = tr("∂L/∂(output of <b>{node}</b>): the gradient that reached it from every block it feeds "
                      "(chain rule; several consumers add up).", node=node)
            if info.param_norms:
                text += " " + tr("Its weight gradients: {norms}.", norms=", ".join(
                    f"‖∂L/∂{html.escape(k)}‖ = {v:.3g}" for k, v in info.param_norms.items()))
            return text
        text = tr("<b>{node}</b>: w ← w − lr · ∂L/∂w with lr = {lr}.", node=node, lr=f"{info.lr:g}")
        if info.loss_after is not None:
            text += " " + tr("Loss on the same batch after the update: <b>{loss}</b>.", loss=f"{info.loss_after:.4f}")
        return text

    def _show(self, info: StepInfo) -> None:
        colour = PHASE_COLOURS.get(info.phase, "#E3E6ED")
        phase = {"forward": tr("Forward"), "backward": tr("Backward"), "update": tr("Update")}[info.phase]
        total = self.stepper.count() if self.stepper is not None else 0
        self.title.setText(f"<span style='color:{colour}'><b>{phase}</b></span> · <b>{html.escape(info.node_id)}</b>"
                           f" ({html.escape(info.layer_type)}) — {tr('step {n} of {total}', n=info.index + 1, total=total)}")
        self.explain.setText(self._explanation(info))
        what = {"forward": tr("Output"), "backward": tr("Gradient ∂L/∂output"), "update": tr("Weight step Δw")}[info.phase]
        shape = "×".join(str(d) for d in info.shape)
        first = (tr("Weights"), shape) if info.phase == "update" else (tr("Shape"), shape)
        rows = [first, (tr("Mean"), f"{info.mean:.4g}"), (tr("Std"), f"{info.std:.4g}"),
                (tr("Min"), f"{info.min:.4g}"), (tr("Max"), f"{info.max:.4g}")]
        self.stats.setText(f"<b>{what}</b><table cellpadding='2'>" + "".join(
            f"<tr><td style='color:#9AA3B2'>{k}</td><td>{v}</td></tr>" for k, v in rows) + "</table>")
        image = heatmap_image(info.preview, diverging=info.phase != "forward")
        h, w = info.preview.shape
        # Long thin matrices (a Dense layer's weights, a batch of scores) are stretched to stay readable.
        aspect = (Qt.AspectRatioMode.KeepAspectRatio if max(h, w) <= 3 * min(h, w)
                  else Qt.AspectRatioMode.IgnoreAspectRatio)
        pixmap = QPixmap.fromImage(image).scaled(HEATMAP_SIZE - 4, HEATMAP_SIZE - 4, aspect,
                                                 Qt.TransformationMode.FastTransformation)
        self.heatmap.setPixmap(pixmap)
        if info.phase == "update":
            r = self.updates.rowCount()
            self.updates.insertRow(r)
            norms = ", ".join(f"{k}: {v:.3g}" for k, v in info.param_norms.items())
            for c, text in enumerate((info.node_id, norms, f"{info.lr:g}")):
                self.updates.setItem(r, c, QTableWidgetItem(text))
