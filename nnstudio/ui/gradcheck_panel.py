"""The gradient-check panel: backpropagation's gradients next to finite differences, layer by layer.

Why this exists: it shows a learner that backpropagation is not magic — nudging a weight by ±ε and
watching the loss gives the same slope the chain rule computed — and it catches engine bugs.  The open
graph is compiled in float64 (finite differences drown in float32 rounding) on a small batch of its
dataset, or random data of the Input shape when there is none, and
:func:`nnstudio.teaching.gradient_check` compares a few entries of every parameter (zero biases moved off
ReLU's kink, two finite-difference step sizes; parameters behind a sign step are shown as "n/a", since
training passes a straight-through gradient there that no finite difference can confirm).  The work runs in
a QThread so the window stays responsive; the result table colours each row pass (green) or fail (red)
against the threshold.
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (QHeaderView, QLabel, QPushButton, QSpinBox, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from nnstudio.errors import UserError
from nnstudio.teaching import THRESHOLD, GradCheckResult, GradRow, gradient_check
from nnstudio.ui.flow_layout import scroll_into, wrapping_controls
from nnstudio.ui.threads import end_worker, start_worker
from nnstudio.ui.i18n import tr

PASS_COLOUR = "#3FB950"
FAIL_COLOUR = "#F05454"
NA_COLOUR = "#9AA3B2"

GraphProvider = Callable[[], tuple[Any, Any]]  # () -> (graph or None, training settings dict or None)


class _CheckWorker(QObject):
    """Runs :func:`gradient_check` in a worker thread and reports back through signals."""

    finished = Signal(object)  # GradCheckResult
    failed = Signal(str)
    done = Signal()  # after either: ends the thread (nnstudio.ui.threads)

    def __init__(self, graph: Any, training: dict[str, Any] | None, batch: int, max_entries: int) -> None:
        super().__init__()
        self.graph, self.training, self.batch, self.max_entries = graph, training, batch, max_entries

    @Slot()
    def run(self) -> None:
        try:
            self.finished.emit(gradient_check(self.graph, self.training, self.batch, self.max_entries))
        except UserError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - a crash in the check must reach the user, not kill the thread
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        finally:
            self.done.emit()


class GradCheckPanel(QWidget):
    """Run button, batch and entries choices, and the result table (node, parameter, error, pass/fail)."""

    finished = Signal(object)  # GradCheckResult, after the table is filled
    failed = Signal(str)
    node_activated = Signal(str)  # a row was double-clicked: the editor can select that node

    COLUMN_COUNT = 5

    def __init__(self, graph_provider: GraphProvider, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("gradCheckPanel")
        self.graph_provider = graph_provider
        self.result: GradCheckResult | None = None
        self._thread: QThread | None = None
        self._worker: _CheckWorker | None = None

        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.intro.setTextFormat(Qt.TextFormat.RichText)
        self.run_button = QPushButton()
        self.run_button.setObjectName("gradCheckRun")
        self.run_button.clicked.connect(self.run_check)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 64)
        self.batch_spin.setValue(4)
        self.entries_spin = QSpinBox()
        self.entries_spin.setRange(1, 200)
        self.entries_spin.setValue(10)
        self.batch_label = QLabel()
        self.entries_label = QLabel()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(0, self.COLUMN_COUNT)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.cellDoubleClicked.connect(self._row_activated)

        # The button and each label with its box wrap onto lines as the panel's width allows: in one row the
        # right-hand column of a 1024x768 window cut the button to "dien" and the labels to their first word.
        controls_box = wrapping_controls([self.run_button], [(self.batch_label, self.batch_spin),
                                                             (self.entries_label, self.entries_spin)], spacing=10)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.intro)
        layout.addWidget(controls_box)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        self.table.setMinimumHeight(110)  # a header and a few rows, whatever the dock's height
        scroll_into(self, body)  # a short dock scrolls instead of squeezing the controls over each other
        self.retranslate()

    def retranslate(self) -> None:
        self.intro.setText(tr(
            "Backpropagation computes ∂L/∂w for every weight in one backward pass. The check nudges a few "
            "weights by ±ε and measures the slope (L(w+ε) − L(w−ε)) / 2ε. Relative errors below {threshold} "
            "mean the two agree.", threshold=f"{THRESHOLD:g}"))
        self.run_button.setText(tr("Run gradient check"))
        self.batch_label.setText(tr("Samples:"))
        self.entries_label.setText(tr("Weights per parameter:"))
        self.table.setHorizontalHeaderLabels([tr("Node"), tr("Layer"), tr("Parameter"), tr("Relative error"),
                                              tr("Result")])
        if self.result is not None:
            self._show(self.result)

    def is_running(self) -> bool:
        return self._thread is not None

    @Slot()
    def run_check(self) -> bool:
        """Start a check of the current graph in a worker thread; False when one is running or no graph."""
        if self._thread is not None:
            return False
        graph, training = self.graph_provider()
        if graph is None or not getattr(graph, "nodes", None):
            self.status.setText(tr("Open or build a network first."))
            return False
        copy = graph.copy() if hasattr(graph, "copy") else graph  # edits during the check cannot reach it
        worker = _CheckWorker(copy, dict(training or {}), self.batch_spin.value(), self.entries_spin.value())
        worker.finished.connect(self._done)
        worker.failed.connect(self._fail)
        self.run_button.setEnabled(False)
        self.status.setText(tr("Checking gradients…"))
        self._worker = worker  # held while it runs; released in _cleanup once its thread has ended
        self._thread = start_worker(worker, worker.done, "nnstudio-gradient-check", self._cleanup)
        return True

    @Slot()
    def _cleanup(self) -> None:
        """The thread ended: free the worker and the thread here, in the GUI thread (nnstudio.ui.threads)."""
        end_worker(self._thread)
        self._thread = self._worker = None
        self.run_button.setEnabled(True)

    @Slot(object)
    def _done(self, result: GradCheckResult) -> None:
        self.result = result
        self._show(result)
        self.finished.emit(result)

    @Slot(str)
    def _fail(self, message: str) -> None:
        self.table.setRowCount(0)
        self.status.setText(f"<span style='color:{FAIL_COLOUR}'>{tr('Cannot check: {message}', message=message)}</span>")
        self.failed.emit(message)

    def _show(self, result: GradCheckResult) -> None:
        self.table.setRowCount(len(result.rows))
        for r, row in enumerate(result.rows):
            colour = QColor(NA_COLOUR if not row.applicable else PASS_COLOUR if row.passed else FAIL_COLOUR)
            verdict = tr("n/a (sign step)") if not row.applicable else tr("pass") if row.passed else tr("FAIL")
            cells = (row.node_id, row.layer_type, row.param, f"{row.rel_error:.2e}", verdict)
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c >= 3:
                    item.setForeground(QBrush(colour))
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.table.setItem(r, c, item)
        source = (tr("{count} samples of {dataset}", count=result.batch, dataset=result.source)
                  if result.source != "random" else
                  tr("{count} random samples ({reason})", count=result.batch, reason=result.reason)
                  if result.reason else tr("{count} random samples", count=result.batch))
        if not result.rows:
            verdict = tr("This network has no weights to check.")
            colour = NA_COLOUR
        elif not result.checked:
            verdict = tr("Every weight feeds a sign step, whose true derivative is 0: training passes the "
                         "gradient straight through, so finite differences cannot confirm it.")
            colour = NA_COLOUR
        elif result.passed:
            verdict = tr("All {count} gradients agree (largest relative error {worst}).",
                         count=len(result.checked), worst=f"{result.worst:.1e}")
            colour = PASS_COLOUR
        else:
            failed = sum(not r.passed for r in result.rows)
            verdict = tr("{failed} of {count} gradients disagree with finite differences.",
                         failed=failed, count=len(result.checked))
            colour = FAIL_COLOUR
        self.status.setText(f"<span style='color:{colour}'><b>{verdict}</b></span> — {source}")

    def _row_activated(self, row: int, column: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.node_activated.emit(item.text())

    def shutdown(self) -> None:
        """Wait for a running check (call before the window closes)."""
        if self._thread is not None:
            self._thread.wait(10000)  # the check cannot be interrupted; it ends by itself


__all__ = ["GradCheckPanel", "GradCheckResult", "GradRow", "THRESHOLD", "gradient_check"]
