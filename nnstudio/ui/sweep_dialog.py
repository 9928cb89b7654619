"""The sweep dialog: one setting over a list of values, trained one after another, with the best marked.

Why this exists: "which learning rate?" is answered by trying several and reading one table.  The dialog
checks the setting and values with the same rules as ``nnstudio sweep`` (``nnstudio.runs.sweep``), trains
the trials through the Runs panel's :class:`~nnstudio.ui.runs_dock.TrialRunner` (each trial a run in the
history) and fills a results table as they finish; "Compare" overlays the trials' curves.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QComboBox, QDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from nnstudio.errors import UserError
from nnstudio.runs.sweep import best_trial, describe, parse_set, trial_changes
from nnstudio.ui.compare_view import end_name
from nnstudio.ui.i18n import tr

SUGGESTED = {"learning_rate": "0.001, 0.01, 0.1", "batch_size": "16, 64, 256", "optimizer": "sgd, momentum, adam",
             "epochs": "2, 5, 10", "weight_decay": "0, 0.0001, 0.001", "validation_split": "0.1, 0.2"}


def sweepable_keys(project: Any) -> list[str]:
    """The settings offered first, then each block parameter as NODE.PARAM."""
    from nnstudio.graph.catalogue import get_block  # noqa: PLC0415
    keys = ["learning_rate", "batch_size", "optimizer", "epochs", "weight_decay", "momentum", "schedule", "seed",
            "validation_split", "augment", "clip_norm"]
    for node in project.graph.nodes.values():
        if node.type == "Input":
            continue
        keys += [f"{node.id}.{name}" for name in get_block(node.type).param_names]
    return keys


class SweepDialog(QDialog):
    """Choose a setting and its values, train the trials, read the results (non-modal)."""

    def __init__(self, runs: Any, project: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Sweep a setting"))
        self.runs = runs
        self.project = project
        self.results: list[Any] = []
        self.trials: list[dict[str, Any]] = []
        self._active = False  # this dialog's trials are training (the runner also trains twin runs)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.setting = QComboBox()
        self.setting.setEditable(True)
        self.setting.addItems(sweepable_keys(project))
        form.addRow(tr("Setting:"), self.setting)
        self.values = QLineEdit(SUGGESTED["learning_rate"])
        self.values.setPlaceholderText(tr("values separated by commas"))
        form.addRow(tr("Values:"), self.values)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 100000)
        self.epochs.setValue(int(project.training.get("epochs", 3) or 3))
        form.addRow(tr("Epochs per trial:"), self.epochs)
        layout.addLayout(form)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #B91C1C")
        self.error.setWordWrap(True)
        layout.addWidget(self.error)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels([tr("Trial"), tr("Settings"), tr("Result"), tr("Time"), tr("Run")])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        layout.addWidget(self.table, 1)
        self.summary = QLabel("")
        layout.addWidget(self.summary)
        row = QHBoxLayout()
        self.start_button = QPushButton(tr("Start sweep"))
        self.stop_button = QPushButton(tr("Stop"))
        self.stop_button.setEnabled(False)
        self.compare_button = QPushButton(tr("Compare"))
        self.compare_button.setEnabled(False)
        close = QPushButton(tr("Close"))
        for button in (self.start_button, self.stop_button, self.compare_button):
            row.addWidget(button)
        row.addStretch(1)
        row.addWidget(close)
        layout.addLayout(row)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(runs.runner.stop)
        self.compare_button.clicked.connect(self.compare)
        close.clicked.connect(self.close)
        self.setting.currentTextChanged.connect(self._setting_changed)
        runs.runner.trial_finished.connect(self._trial_finished)
        runs.runner.finished.connect(self._finished)
        self.resize(560, 420)

    def _setting_changed(self, key: str) -> None:
        if key in SUGGESTED:
            self.values.setText(SUGGESTED[key])

    def start(self) -> bool:
        """Check the setting and values, then train the trials; False (with the message shown) when refused."""
        if self.runs.runner.is_running or self.runs.training.is_training:
            self.error.setText(tr("Wait for the current training to end."))
            return False
        key = self.setting.currentText().strip()
        text = f"{key}={self.values.text()}"
        try:
            sets = [parse_set(text, self.project)]
            self.trials = trial_changes(sets)
        except UserError as exc:
            # The refusal names the command line's "--set 'KEY=VALUES'"; here the user typed the values
            self.error.setText(str(exc).replace(f"--set '{text}'", tr("Values:").rstrip(":：")))
            return False
        self.error.setText("")
        self.results = []
        self.table.setRowCount(len(self.trials))
        for i, changes in enumerate(self.trials):
            for c, text in enumerate((str(i), describe(changes), "…", "", "")):
                self.table.setItem(i, c, QTableWidgetItem(text))
        self.summary.setText("")
        sweep = f"sweep-{key}"
        trials = [(changes, describe(changes), {"sweep": sweep, "trial": i, "changes": changes})
                  for i, changes in enumerate(self.trials)]
        started = self.runs.run_trials(self.project, trials, overrides={"epochs": self.epochs.value()})
        self._active = started
        if started:
            self.start_button.setEnabled(False)
            self.stop_button.setEnabled(True)
            self.compare_button.setEnabled(False)
        else:
            self.error.setText(self.runs.panel.status.text())
        return started

    def _trial_finished(self, result: Any) -> None:
        if not self._active or result.trial >= self.table.rowCount():
            return
        self.results.append(result)
        if result.value is None:
            value = end_name(result.reason)
        elif result.metric == "test_acc":
            value = tr("accuracy {value}", value=f"{result.value:.2%}")
        else:
            value = tr("loss {value}", value=f"{result.value:.4g}")
        for c, text in ((2, value), (3, f"{result.seconds:.1f} s"), (4, result.run_id or "—")):
            self.table.setItem(result.trial, c, QTableWidgetItem(text))
        self._mark_best()

    def _mark_best(self) -> None:
        best = best_trial(self.results)
        bold, plain = QFont(), QFont()
        bold.setBold(True)
        for r in range(self.table.rowCount()):
            for c in range(self.table.columnCount()):
                item = self.table.item(r, c)
                if item is not None:
                    item.setFont(plain)
            if self.table.item(r, 0) is not None:
                self.table.item(r, 0).setText(str(r))
        if best is None:
            return
        row = self.results[best].trial
        for c in range(self.table.columnCount()):
            item = self.table.item(row, c)
            if item is not None:
                item.setFont(bold)
        self.table.item(row, 0).setText(f"★ {row}")
        # Trials that reach the very same result (as shown) are a tie: the star alone would claim a winner
        best_value = self.results[best].value
        tied = sum(1 for r in self.results if r.value is not None and r.metric == self.results[best].metric
                   and abs(r.value - best_value) <= 1e-12)
        if tied > 1:
            self.summary.setText(tr("Best: {settings} (a tie: {count} trials reach the same result)",
                                    settings=describe(self.results[best].changes), count=tied))
        else:
            self.summary.setText(tr("Best: {settings}", settings=describe(self.results[best].changes)))

    def _finished(self, _results: list) -> None:
        if not self._active:
            return
        self._active = False
        self.start_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.compare_button.setEnabled(len([r for r in self.results if r.run_id]) >= 2)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)

    def compare(self) -> None:
        ids = [r.run_id for r in self.results if r.run_id]
        self.runs.panel.select(ids)
        self.runs.compare(self.runs.runs_by_id(ids))

    def best_row(self) -> int | None:
        best = best_trial(self.results)
        return None if best is None else self.results[best].trial

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        try:
            self.runs.runner.trial_finished.disconnect(self._trial_finished)
            self.runs.runner.finished.disconnect(self._finished)
        except (RuntimeError, TypeError):
            pass
        super().closeEvent(event)


__all__ = ["SweepDialog", "sweepable_keys"]
