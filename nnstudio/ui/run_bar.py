"""The run bar: Train, Pause / Resume, Stop, Step, the playback speed and the progress, always in sight.

Why this exists: in a classroom the run controls and the progress are what everyone watches, so they sit in
a toolbar of their own under the main one, never below the fold of a dock.  The bar shows the training
controller's own actions (the same ``QAction`` objects as the Train menu, so their shortcuts, enabled states
and texts agree everywhere), a speed choice that slows small datasets down enough to watch the boundary form,
and the progress of the run: a bar and one line with the epoch, batch, samples/s and time left.
"""
from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QProgressBar, QToolBar, QWidget

from nnstudio.ui.elided_label import ElidedLabel
from nnstudio.ui.i18n import N_, tr

# Playback speeds: (label, the shortest time an epoch may take in seconds; 0 trains at full speed).
SPEEDS = ((N_("Full speed"), 0.0), (N_("0.2 s per epoch"), 0.2), (N_("1 s per epoch"), 1.0),
          (N_("3 s per epoch"), 3.0))


def format_duration(seconds: float | None) -> str:
    """1:05, 2:03:04, or "–" when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_text(epoch: int, epochs: int, step: int, steps: int | None, samples_per_s: float,
                  eta_s: float | None) -> str:
    batch = f"{step}/{steps}" if steps else str(step)
    return tr("epoch {epoch}/{epochs} · batch {batch} · {speed} samples/s · {left} left", epoch=epoch,
              epochs=epochs, batch=batch, speed=f"{samples_per_s:,.0f}", left=format_duration(eta_s))


class RunBar(QToolBar):
    """A toolbar over the controller's run actions, with the playback speed and the progress."""

    speed_changed = Signal(float)  # the shortest seconds per epoch (0: full speed)

    def __init__(self, actions: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(tr("Run"), parent)
        self.setObjectName("runToolbar")
        self.setMovable(False)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for key in ("train", "pause", "stop", "step", "step_epoch"):
            self.addAction(actions[key])
        self.addSeparator()
        self.speed = QComboBox()
        self.speed.setObjectName("runSpeed")
        self.speed.setToolTip(tr("Playback speed: slow a small dataset down to watch the network learn"))
        for label, seconds in SPEEDS:
            self.speed.addItem(tr(label), seconds)
        self.speed.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.speed.currentIndexChanged.connect(self._speed_chosen)
        self.addWidget(self.speed)
        self.addSeparator()
        self.progress = QProgressBar()
        self.progress.setObjectName("runProgress")
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(110)
        self.progress.setMaximumHeight(12)
        self.addWidget(self.progress)
        # The line may be long: it is cut, never allowed to widen the window, and its changing text (several
        # times a second) only repaints it (see ElidedLabel).
        self.progress_label = ElidedLabel("", min_width=280)
        self.progress_label.setObjectName("runProgressText")
        self.addWidget(self.progress_label)

    def speed_seconds(self) -> float:
        return float(self.speed.currentData() or 0.0)

    def _speed_chosen(self, _index: int) -> None:
        self.speed_changed.emit(self.speed_seconds())

    # -- progress ---------------------------------------------------------------------------------------------
    def show_progress(self, report: Any, epochs: int, steps_per_epoch: int | None) -> None:
        epoch, step = int(getattr(report, "epoch", 0)), int(getattr(report, "step", 0))
        if steps_per_epoch:
            done = ((epoch - 1) + min(step, steps_per_epoch) / steps_per_epoch) / max(epochs, 1)
            self.progress.setValue(int(1000 * min(max(done, 0.0), 1.0)))
        text = progress_text(epoch, epochs, step, steps_per_epoch, float(getattr(report, "samples_per_s", 0.0) or 0.0),
                             getattr(report, "eta_s", None))
        self.progress_label.setText(text)
        self.progress_label.setToolTip(text)

    def show_final_progress(self, report: Any, epochs: int, steps_per_epoch: int | None) -> None:
        """Where the run ended, without a time left (it is not running any more)."""
        self.show_progress(report, epochs, steps_per_epoch)
        epoch, step = int(getattr(report, "epoch", 0)), int(getattr(report, "step", 0))
        batch = f"{step}/{steps_per_epoch}" if steps_per_epoch else str(step)
        text = tr("ended at epoch {epoch}/{epochs} · batch {batch}", epoch=epoch, epochs=epochs, batch=batch)
        self.progress_label.setText(text)
        self.progress_label.setToolTip(text)

    def show_preparing(self, done: int, total: int, text: str) -> None:
        """Work before the first batch (making a generated dataset): its share done, and what it is."""
        self.progress.setValue(int(1000 * min(max(done / max(total, 1), 0.0), 1.0)))
        self.progress_label.setText(text)
        self.progress_label.setToolTip(text)

    def clear_progress(self) -> None:
        """No run to show: an empty bar and no progress line (a new project, reset weights, a new run)."""
        self.progress.setValue(0)
        self.progress_label.setText("")
        self.progress_label.setToolTip("")


__all__ = ["RunBar", "SPEEDS", "format_duration", "progress_text"]
