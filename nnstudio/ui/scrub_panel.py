"""Scrub through a run: a slider over its weight snapshots that puts the panels back to that moment.

Why this exists: how a network learned is seen by going back: the decision boundary at step 4 and at epoch
10, the first layer's feature maps before and after.  A stored run keeps snapshots of its weights (more
often early, see ``nnstudio.runs.recorder``); moving the slider loads one into a private model
(``nnstudio.runs.scrub.Scrubber``) and shows its feature maps, histograms and decision boundary in the
dashboard's panels, and hands its weights to the drawing canvas (which reads with them when the project is a
28 x 28 classifier).  "Continue from here" starts a new run of the project from that snapshot.
"""
from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from nnstudio.errors import UserError
from nnstudio.ui.i18n import tr

SCRUB_DELAY_MS = 60  # a dragged slider shows the snapshot it rests on, not every one it passes


class ScrubPanel(QWidget):
    """The slider over one run's timeline (see the module docstring)."""

    def __init__(self, runs: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs = runs
        self.training = runs.training
        self.dashboard = runs.training.dashboard
        self.scrubber: Any = None
        self.current: Any = None  # the ScrubViews on screen
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.title = QLabel(tr("Select a run in the Runs panel and press Scrub."))
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        layout.addWidget(self.slider)
        row = QHBoxLayout()
        self.position = QLabel("")
        self.position.setWordWrap(True)
        row.addWidget(self.position, 1)
        self.continue_button = QPushButton(tr("Continue from here"))
        self.continue_button.setToolTip(tr("Train the project on from these weights, as a new run"))
        self.continue_button.setEnabled(False)
        row.addWidget(self.continue_button)
        layout.addLayout(row)
        layout.addStretch(1)
        self.marker: Any = None  # a vertical line on the loss plot at the snapshot's step
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SCRUB_DELAY_MS)
        self._timer.timeout.connect(self.show_current)
        self.slider.valueChanged.connect(self._moved)
        self.continue_button.clicked.connect(self.continue_from_here)

    def set_run(self, run: Any) -> bool:
        """Scrub ``run``; False (with the reason shown) when it cannot be."""
        from nnstudio.runs.scrub import Scrubber  # noqa: PLC0415
        from nnstudio.training.trainer import load_dataset  # noqa: PLC0415
        from nnstudio.training.config import TrainingConfig  # noqa: PLC0415
        self.clear()
        if not run.snapshots:
            self.title.setText(tr("Run {id} kept no snapshots.", id=run.id))
            return False
        try:
            config = TrainingConfig.from_dict(run.settings, source=f"run {run.id}")
            self.scrubber = Scrubber(run, load_dataset(config))
        except UserError as exc:
            self.title.setText(str(exc))
            return False
        self.title.setText(tr("Run {id}: {name}", id=run.id, name=run.name))
        if self.scrubber.extent is not None:
            self.dashboard.boundary.show_data(self.scrubber.dataset)
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(run.snapshots) - 1)
        self.slider.setValue(len(run.snapshots) - 1)
        self.slider.blockSignals(False)
        self.slider.setEnabled(True)
        self.show_current()
        return True

    def clear(self) -> None:
        self.scrubber = None
        self.current = None
        self.slider.setEnabled(False)
        self.continue_button.setEnabled(False)
        self.position.setText("")
        self.title.setText(tr("Select a run in the Runs panel and press Scrub."))
        self._remove_marker()

    def _remove_marker(self) -> None:
        if self.marker is not None:
            self.dashboard.curves.loss_plot.removeItem(self.marker)
            self.marker = None

    def _moved(self, _value: int) -> None:
        self._timer.start()

    def show_current(self) -> None:
        """Put the panels back to the snapshot under the slider."""
        if self.scrubber is None:
            return
        if self.training.is_training:
            self.position.setText(tr("Training is running: the panels show it; scrub again when it ends."))
            return
        index = self.slider.value()
        feature_maps = self.dashboard.feature_maps
        try:
            found = self.scrubber.views_at(index, probe_index=feature_maps.sample_box.value(),
                                           probe_input=self.training.probe_drawing)
        except UserError as exc:
            self.position.setText(str(exc))
            return
        self.current = found
        snapshot = found.snapshot
        if snapshot.step == 0:
            text = tr("Before training (initial weights)")
        else:
            text = tr("Step {step} (epoch {epoch}) · snapshot {index} of {count}", step=snapshot.step,
                      epoch=snapshot.epoch, index=index + 1, count=len(self.scrubber.snapshots))
        self.position.setText(text)
        if found.probe is not None:
            feature_maps.set_probe(found.probe)
        if found.histograms is not None:
            self.dashboard.histograms.set_histograms(found.histograms)
        if found.boundary is not None:
            boundary = self.dashboard.boundary
            boundary.set_boundary(found.boundary)
            if hasattr(boundary, "_show_epoch"):  # its "Epoch e / n" label tells the moment shown
                boundary.epochs = int(self.scrubber.run.meta.get("epochs") or 0)
                boundary.epoch = int(snapshot.epoch)
                boundary._show_epoch()
        from nnstudio.ui.worker import WeightsSnapshot  # noqa: PLC0415
        self.training.live_weights.emit(WeightsSnapshot(snapshot.epoch, found.weights))  # the drawing canvas
        self._remove_marker()
        if self.runs.overlay.active or self.scrubber.run.id == self._last_run_id():
            self.marker = pg.InfiniteLine(pos=snapshot.step, angle=90, pen=pg.mkPen("#64748B", width=1,
                                                                                  style=Qt.PenStyle.DashLine))
            self.dashboard.curves.loss_plot.addItem(self.marker)
        self.continue_button.setEnabled(True)
        self.dashboard.redraw_all()

    def _last_run_id(self) -> str | None:
        runs = self.runs.panel.runs
        return runs[-1].id if runs else None

    def continue_from_here(self) -> bool:
        if self.current is None or self.scrubber is None:
            return False
        return self.runs.continue_from(self.scrubber.run, self.current.weights, self.current.snapshot.step)


__all__ = ["ScrubPanel"]
