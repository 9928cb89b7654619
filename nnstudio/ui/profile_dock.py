"""View > Layer costs: what each node costs, as badges on the cards and a sortable table in a dock.

Why this exists: while building a network people want to see where its parameters, its arithmetic and its
memory go, and which layer is slowest.  The counts (:func:`nnstudio.profile.count_costs`, from shape inference
alone) are recomputed on every edit while the view is on; the times (:func:`nnstudio.profile.measure_times`)
take a second or more, so they are measured on request, in a worker thread on a copy of the graph, and
dropped when the graph changes.  The table keeps its total row at the bottom whatever the sort, and the node
with the most multiply-accumulates is highlighted in the table and on its card.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QFont
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QPushButton, QSpinBox, QStyle, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from nnstudio.errors import UserError
from nnstudio.memory import human_bytes
from nnstudio.profile import LayerCost, Profile, count_costs, measure_times, timing_fits
from nnstudio.ui.editor.node_item import format_count
from nnstudio.ui.i18n import N_, tr
from nnstudio.ui.threads import end_worker, start_worker

RECOUNT_DELAY_MS = 60  # edits in quick succession (a drag of a spin box) are counted once
LARGEST = QColor("#5A4610")
# (header, the LayerCost attribute it sorts by); share sorts like MACs
COLUMNS = ((N_("Node"), "node"), (N_("Type"), "type"), (N_("Parameters"), "params"), (N_("MACs"), "macs"),
           (N_("Activation memory"), "activation_bytes"), (N_("Forward ms"), "forward_ms"),
           (N_("Backward ms"), "backward_ms"), (N_("Share"), "macs"))


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def type_name(block_type: str) -> str:
    """The Type column: the block's type as the cards and the palette name it (二维卷积层 in Chinese)."""
    from nnstudio.graph.catalogue import BLOCKS  # noqa: PLC0415
    from nnstudio.i18n import current_language  # noqa: PLC0415
    spec = BLOCKS.get(block_type)
    return spec.title(current_language()) if spec is not None and current_language() == "zh" else block_type


def badge_text(profile: Profile, row: LayerCost) -> str:
    """"1.28M MACs (75%) · 800 KiB": a weighted layer's arithmetic and share, then its activations per batch."""
    memory = human_bytes(row.activation_bytes)
    if row.macs:
        return tr("{macs} MACs ({share}) · {memory}", macs=format_count(row.macs),
                  share=f"{profile.share(row):.0%}", memory=memory)
    return memory


class CostTable(QWidget):
    """The table, the batch size and the Measure times button."""

    measure_requested = Signal()
    batch_changed = Signal(int)
    retranslated = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.profile: Profile | None = None
        self._sort = (3, Qt.SortOrder.DescendingOrder)  # by MACs, largest first
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 65536)
        self.batch_spin.setValue(64)
        self.batch_spin.setToolTip(tr("Activation memory and times are for a batch of this many samples"))
        self.batch_spin.valueChanged.connect(self.batch_changed)
        self.measure_button = QPushButton(tr("Measure times"))
        self.measure_button.setToolTip(tr("Time each layer's forward and backward pass on one batch of random "
                                          "inputs (median of 5)"))
        self.measure_button.clicked.connect(self.measure_requested)
        self.status = QLabel()
        self.status.setStyleSheet("color: #8A93A3;")
        self.status.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(QLabel(tr("Batch")))
        controls.addWidget(self.batch_spin)
        controls.addWidget(self.measure_button)
        controls.addStretch(1)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([tr(title) for title, _ in COLUMNS])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSortIndicatorShown(True)
        header.setSectionsClickable(True)
        header.sectionClicked.connect(self._header_clicked)
        self.table.setToolTip(tr("MACs: multiply-accumulates per sample in the forward pass. Activations: each "
                                 "node's output for one batch. Share: part of the network's MACs. Click a "
                                 "heading to sort."))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(controls)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)

    # -- content ---------------------------------------------------------------------------------------------
    def set_profile(self, profile: Profile | None) -> None:
        self.profile = profile
        self._fill()

    def sorted_rows(self) -> list[LayerCost]:
        if self.profile is None:
            return []
        column, order = self._sort
        key = COLUMNS[column][1]

        def value(row: LayerCost) -> Any:
            v = getattr(row, key)
            return (v is None, v if v is not None else 0) if not isinstance(v, str) else (False, v.casefold())

        rows = sorted(self.profile.rows, key=value, reverse=order == Qt.SortOrder.DescendingOrder)
        if order == Qt.SortOrder.DescendingOrder:  # unmeasured values last either way
            rows = [r for r in rows if getattr(r, key) is not None] + [r for r in rows if getattr(r, key) is None]
        return rows

    def _fill(self) -> None:
        profile = self.profile
        rows = self.sorted_rows()
        self.table.setRowCount(len(rows) + (1 if profile is not None else 0))
        largest = profile.largest("macs") if profile is not None else None
        bold = QFont(self.table.font())
        bold.setBold(True)
        for i, row in enumerate(rows):
            texts = (row.node, type_name(row.type), f"{row.params:,}", f"{row.macs:,}", human_bytes(row.activation_bytes),
                     _ms(row.forward_ms), _ms(row.backward_ms), f"{profile.share(row):.1%}")
            self._set_row(i, texts, highlight=row is largest, font=bold if row is largest else None)
        if profile is not None:
            timed = profile.backend is not None
            texts = (tr("Total"), "", f"{profile.total_params:,}", f"{int(profile.total('macs')):,}",
                     human_bytes(profile.total("activation_bytes")),
                     _ms(profile.total("forward_ms") if timed else None),
                     _ms(profile.total("backward_ms") if timed else None), "100%" if profile.total("macs") else "–")
            self._set_row(len(rows), texts, font=bold)
        column, order = self._sort
        self.table.horizontalHeader().setSortIndicator(column, order)

    def _set_row(self, i: int, texts: tuple[str, ...], highlight: bool = False, font: QFont | None = None) -> None:
        for j, text in enumerate(texts):
            item = QTableWidgetItem(text)
            if j >= 2:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if highlight:
                item.setBackground(LARGEST)
            if font is not None:
                item.setFont(font)
            self.table.setItem(i, j, item)

    def _header_clicked(self, column: int) -> None:
        current, order = self._sort
        if column == current:
            order = (Qt.SortOrder.AscendingOrder if order == Qt.SortOrder.DescendingOrder
                     else Qt.SortOrder.DescendingOrder)
        else:
            order = Qt.SortOrder.AscendingOrder if column < 2 else Qt.SortOrder.DescendingOrder
        self._sort = (column, order)
        self._fill()

    def retranslate(self) -> None:
        """The language changed (Preferences): headings and the total row in the new language; the window's
        live-language pass calls this on every widget that has it."""
        self.table.setHorizontalHeaderLabels([tr(title) for title, _ in COLUMNS])
        self._fill()
        self.retranslated.emit()

    def sort_by(self, column: int, order: Qt.SortOrder) -> None:
        self._sort = (column, order)
        self._fill()


class TimingWorker(QObject):
    """Times every layer of a copy of the graph in a worker thread; ``done(profile or message)``."""

    done = Signal(object)

    def __init__(self, graph: Any, batch: int, backend: str | None) -> None:
        super().__init__()
        self.graph, self.batch, self.backend = graph, batch, backend

    def run(self) -> None:
        try:
            counted = count_costs(self.graph, batch=self.batch)
            if not timing_fits(counted)[0]:  # refused before it fills the memory (the machine would swap or kill)
                raise MemoryError
            result: Any = measure_times(self.graph, counted, self.backend)
        except UserError as exc:
            result = str(exc)
        except MemoryError:
            result = tr("Not enough memory to time a batch of {batch}", batch=self.batch)
        self.done.emit(result)


class ProfileController(QObject):
    """Owns the Layer costs dock, its View-menu and toolbar action, and the cost badges on the cards."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.view = CostTable()
        self.profile: Profile | None = None
        self._thread: Any = None
        self._worker: TimingWorker | None = None
        self._edits = 0  # graph edits so far: a timing started before an edit is stale when it ends
        self._timed_at = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.recount)

    def install(self) -> "ProfileController":
        window = self.window
        self.dock = window.add_dock(self.view, tr("Layer costs"), Qt.DockWidgetArea.BottomDockWidgetArea,
                                    name="layer_costs")
        beside = window.docks.get("training_curves")
        if beside is not None:  # a tab beside the loss curves: the window does not grow for it
            window.tabifyDockWidget(beside, self.dock)
        self.dock.hide()
        self.action = QAction(window.style().standardIcon(QStyle.StandardPixmap.SP_FileDialogDetailedView),
                              tr("&Layer costs"), window)
        self.action.setCheckable(True)
        self.action.setToolTip(tr("Show what each layer costs: parameters, MACs, memory and time"))
        self.action.toggled.connect(self.set_enabled)
        self.dock.visibilityChanged.connect(self._dock_visibility)
        window.view_menu.addAction(self.action)
        window.toolbar.addSeparator()
        window.toolbar.addAction(self.action)
        window.graph_changed.connect(self.schedule_recount)
        window.project_opened.connect(self._project_opened)
        self.view.batch_changed.connect(self.schedule_recount)
        self.view.measure_requested.connect(self.measure)
        self.view.retranslated.connect(self._retranslated)
        return self

    def _retranslated(self) -> None:
        if self.enabled:
            self._badges(self.profile)

    @property
    def enabled(self) -> bool:
        return self.action.isChecked()

    def set_enabled(self, on: bool) -> None:
        if self.action.isChecked() != on:
            self.action.setChecked(on)  # comes back here through toggled
            return
        if on:
            self.dock.show()
            self.dock.raise_()
            self.recount()
        else:
            self.dock.hide()
            self._badges(None)

    def _dock_visibility(self, _visible: bool) -> None:
        # The dock's own close button, View > Panels or a restored layout open or close the whole view
        # (badges too); a dock merely hidden behind another tab stays open.
        opened = not self.dock.isHidden()
        if opened != self.enabled:
            self.action.setChecked(opened)

    def _project_opened(self, project: Any) -> None:
        batch = int(getattr(project, "training", {}).get("batch_size", 64) or 64)
        self.view.batch_spin.blockSignals(True)
        self.view.batch_spin.setValue(max(1, batch))
        self.view.batch_spin.blockSignals(False)
        self.schedule_recount()

    def schedule_recount(self, *_args: Any) -> None:
        self._edits += 1
        if self.enabled:
            self._timer.start(RECOUNT_DELAY_MS)

    def recount(self) -> None:
        """Count again from the document (times are dropped: they belonged to the graph before the edit)."""
        self._timer.stop()
        graph = self.window.graph
        if graph is None or not self.enabled:
            return
        self.profile = count_costs(graph, batch=self.view.batch_spin.value())
        self.view.set_profile(self.profile)
        self._badges(self.profile)
        problems = len(self.profile.problems)
        self.view.status.setText(tr("The network has problems: only the nodes whose shape is known are counted.")
                                 if problems else tr("Times: press Measure times."))

    def _badges(self, profile: Profile | None) -> None:
        items = getattr(self.window.scene, "node_items", {})
        largest = profile.largest("macs") if profile is not None else None
        for node_id, item in items.items():
            row = profile.row(node_id) if profile is not None else None
            item.set_cost("" if row is None else badge_text(profile, row), largest is not None and row is largest)

    # -- timing ----------------------------------------------------------------------------------------------
    def measure(self) -> None:
        graph = self.window.graph
        if graph is None or self._thread is not None:
            return
        project = self.window.project
        backend = project.training.get("backend") if project is not None else None
        self.view.measure_button.setEnabled(False)
        self.view.status.setText(tr("Measuring each layer…"))
        self._timed_at = self._edits
        self._worker = TimingWorker(graph.copy(), self.view.batch_spin.value(), backend)
        self._worker.done.connect(self._measured, Qt.ConnectionType.QueuedConnection)
        self._thread = start_worker(self._worker, self._worker.done, "layer-times", self._thread_finished)

    def _measured(self, result: Any) -> None:
        self.view.measure_button.setEnabled(True)
        if isinstance(result, str):
            self.view.status.setText(result)
            return
        current = self.profile
        if current is None or self._edits != self._timed_at or [r.node for r in current.rows] != \
                [r.node for r in result.rows]:
            self.view.status.setText(tr("The network changed while it was timed; press Measure times again."))
            return
        for mine, timed in zip(current.rows, result.rows):
            mine.forward_ms, mine.backward_ms = timed.forward_ms, timed.backward_ms
        current.backend = result.backend
        self.view.set_profile(current)
        self.view.status.setText(tr("Times per batch of {batch} on {backend}, median of 5 runs.",
                                    batch=result.batch, backend=result.backend))

    def _thread_finished(self) -> None:
        end_worker(self._thread)
        self._thread, self._worker = None, None

    def window_closing(self) -> None:
        """Wait for a timing still running (a second or two at most), so its thread ends before the window."""
        if self._thread is not None:
            self._thread.wait()


def install_profile(window: Any) -> ProfileController:
    """The Layer costs view of ``window``: a dock, a View-menu and toolbar toggle, and cost badges."""
    return ProfileController(window).install()


__all__ = ["COLUMNS", "CostTable", "ProfileController", "TimingWorker", "badge_text", "install_profile"]
