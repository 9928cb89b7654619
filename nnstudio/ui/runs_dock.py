"""The Runs panel: the project's run history in the window, and everything started from it.

Why this exists: every run is kept (``nnstudio.runs``); this panel lists them (name, date, result, a mini
curve), compares the selected ones (curves overlaid in the dashboard, a table of what differs), deletes
them, trains a twin ("Try a variation") or a sweep, and scrubs back through one run.

Where runs go: a saved project's runs live in ``NAME.runs/`` beside it.  An unsaved project's runs are kept
in the user data folder (``runs/unsaved-<process id>``) and moved beside the project when it is first saved;
they are deleted when another project is opened without saving this one (as its unsaved edits would be).

:class:`RunsController` is the training controller's ``history``: it tells each run where it is kept
(:meth:`prepare`).  Twin runs and sweeps train in one background thread (:class:`TrialRunner`, the recipe of
:mod:`nnstudio.ui.threads`), trial after trial, without the live panels.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QMessageBox, QPushButton, QSizePolicy, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from nnstudio.errors import UserError
from nnstudio.runs.store import RunStore, keeps_history, runs_dir_for
from nnstudio.runs.sweep import TrialResult, Variation, check_change, describe, suggested_variations, train_trial
from nnstudio.ui.compare_view import CompareView, RunOverlay, end_name, run_colour
from nnstudio.ui.i18n import tr
from nnstudio.ui.threads import end_worker, start_worker

Area = Qt.DockWidgetArea
MINI_CURVE = QSize(72, 22)


def mini_curve(values: np.ndarray, colour: str = "#2563EB") -> QIcon:
    """A small picture of a loss curve (the list's first column)."""
    pixmap = QPixmap(MINI_CURVE)
    pixmap.fill(QColor(0, 0, 0, 0))
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) >= 2:
        if len(values) > 60:  # the picture is 72 pixels wide
            values = values[np.linspace(0, len(values) - 1, 60).astype(int)]
        lo, hi = float(values.min()), float(values.max())
        span = hi - lo if hi > lo else 1.0
        w, h = MINI_CURVE.width() - 2, MINI_CURVE.height() - 4
        xs = 1 + np.arange(len(values)) * w / (len(values) - 1)
        ys = 2 + (hi - values) / span * h
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(QColor(colour), 1.5))
        for i in range(1, len(values)):
            painter.drawLine(int(xs[i - 1]), int(ys[i - 1]), int(xs[i]), int(ys[i]))
        painter.end()
    return QIcon(pixmap)


def run_preview(run: Any) -> np.ndarray:
    """The loss curve of a run's mini picture: ``preview_loss`` from its run.json (no CSV to read), else its
    curves."""
    values = run.meta.get("preview_loss")
    if isinstance(values, list):
        return np.array([v if isinstance(v, (int, float)) else np.nan for v in values], dtype=np.float64)
    try:
        return np.asarray(run.curves().get("loss", np.zeros(0)), dtype=np.float64)
    except UserError:
        return np.zeros(0)


# -- training trials off the GUI thread ------------------------------------------------------------------------

class TrialWorker(QObject):
    """Trains a list of trials one after another (lives in its own QThread)."""

    done = Signal()
    trial_started = Signal(int, str)
    trial_finished = Signal(object)  # TrialResult
    epoch_done = Signal(int, int, int)  # trial, epoch, epochs

    def __init__(self, project: Any, trials: list[tuple[dict[str, Any], str, dict[str, Any]]], root: Path,
                 overrides: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.project = project
        self.trials = trials
        self.root = root
        self.overrides = dict(overrides or {})
        self.stopped = False
        self._trial = 0
        self._epochs = int(self.overrides.get("epochs") or project.training.get("epochs", 1) or 1)

    def run(self) -> None:
        from nnstudio.ui.priority import lower_training_priority  # noqa: PLC0415
        lower_training_priority()
        try:
            store = RunStore(self.root)
            for i, (changes, name, origin) in enumerate(self.trials):
                if self.stopped:
                    break
                self._trial = i
                self.trial_started.emit(i, name)
                try:
                    result = train_trial(self.project, changes, store, i, name=name, origin=origin,
                                         overrides=self.overrides, on_event=self._event,
                                         should_stop=self._should_stop)
                except UserError as exc:
                    result = TrialResult(i, dict(changes), "error", "test_acc", None, 0.0, None, str(exc))
                except Exception as exc:  # noqa: BLE001 - a failed trial is reported, the others still run
                    result = TrialResult(i, dict(changes), "error", "test_acc", None, 0.0, None,
                                         f"{type(exc).__name__}: {exc}")
                self.trial_finished.emit(result)
        finally:
            self.done.emit()

    def _should_stop(self) -> bool:
        return self.stopped

    def _event(self, event: Any) -> None:
        if type(event).__name__ == "EpochReport":
            self.epoch_done.emit(self._trial, int(event.epoch), self._epochs)


class TrialRunner(QObject):
    """Runs one :class:`TrialWorker` at a time from the GUI thread; collects its results."""

    trial_started = Signal(int, str)
    trial_finished = Signal(object)
    epoch_done = Signal(int, int, int)
    finished = Signal(list)  # the TrialResults, in order

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.thread: Any = None
        self.worker: TrialWorker | None = None
        self.results: list[TrialResult] = []

    @property
    def is_running(self) -> bool:
        return self.worker is not None

    def start(self, project: Any, trials: list[tuple[dict[str, Any], str, dict[str, Any]]], root: Path,
              overrides: dict[str, Any] | None = None) -> bool:
        if self.is_running:
            return False
        self.results = []
        self.worker = TrialWorker(project, trials, root, overrides)
        self.worker.trial_started.connect(self.trial_started)
        self.worker.trial_finished.connect(self._trial_finished)
        self.worker.epoch_done.connect(self.epoch_done)
        self.thread = start_worker(self.worker, self.worker.done, "nnstudio-trials", self._thread_finished)
        return True

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stopped = True

    def stop_and_wait(self) -> None:
        if self.worker is not None and self.thread is not None:
            self.worker.stopped = True
            self.thread.wait()
            self._thread_finished()

    def _trial_finished(self, result: TrialResult) -> None:
        self.results.append(result)
        self.trial_finished.emit(result)

    def _thread_finished(self) -> None:
        if self.worker is None:
            return
        end_worker(self.thread)
        self.worker = None
        self.thread = None
        self.finished.emit(list(self.results))


# -- the panel ------------------------------------------------------------------------------------------------

class RunsPanel(QWidget):
    """The list of runs and the buttons that act on the selected ones."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(5)
        self.tree.setHeaderLabels([tr("Run"), tr("Result"), tr("End"), tr("Time"), tr("Date")])
        self.tree.setRootIsDecorated(False)
        self.tree.setIconSize(MINI_CURVE)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setToolTip(tr("Ctrl+click or Shift+click to select several runs, then Compare"))
        self.tree.setMinimumHeight(50)
        layout.addWidget(self.tree, 1)
        row = QHBoxLayout()
        row.setSpacing(2)
        self.compare_button = QPushButton(tr("Compare"))
        self.compare_button.setToolTip(tr("Overlay the selected runs' curves and list what differs"))
        self.scrub_button = QPushButton(tr("Scrub"))
        self.scrub_button.setToolTip(tr("Look back through the selected run's training"))
        self.delete_button = QPushButton(tr("Delete"))
        for button in (self.compare_button, self.scrub_button, self.delete_button):
            row.addWidget(button)
        layout.addLayout(row)
        row = QHBoxLayout()
        row.setSpacing(2)
        self.twin_button = QPushButton(tr("Try a variation…"))
        self.twin_button.setToolTip(tr("Train the project and a copy with one change, then compare them"))
        self.sweep_button = QPushButton(tr("Sweep…"))
        self.sweep_button.setToolTip(tr("Train once per value of a setting and compare the results"))
        row.addWidget(self.twin_button)
        row.addWidget(self.sweep_button)
        layout.addLayout(row)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        for button in (self.compare_button, self.scrub_button, self.delete_button, self.twin_button,
                       self.sweep_button):
            # Narrow buttons: the panel shares the left column, about 240 pixels wide at 1024 x 768.
            button.setMinimumWidth(40)
            button.setStyleSheet("padding: 3px 4px")
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.runs: list[Any] = []
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self._selection_changed()

    def set_runs(self, runs: Sequence[Any]) -> None:
        selected = {r.id for r in self.selected_runs()}
        self.runs = list(runs)
        self.tree.clear()
        for run in reversed(self.runs):  # the newest first
            key, value = run.metric()
            if value is None:
                result = "—"
            elif key.endswith("acc"):
                result = tr("accuracy {value}", value=run.metric_text())
            else:
                result = tr("loss {value}", value=run.metric_text())
            # An accuracy is its bare percentage in the column, so it shows in the narrow dock at 1024 x 768;
            # the tooltip of every cell says the whole line.
            shown = run.metric_text() if value is not None and key.endswith("acc") else result
            texts = [f"{run.id}  {run.name}", shown, end_name(run.end_reason), f"{run.seconds:.1f} s",
                     run.started.replace("T", " ")[:16]]
            item = QTreeWidgetItem(texts)
            item.setIcon(0, mini_curve(run_preview(run)))
            item.setData(0, Qt.ItemDataRole.UserRole, run.id)
            tip = f"{run.id}  {run.name}\n{result} · {texts[2]} · {texts[3]} · {texts[4]}"
            for column in range(5):
                item.setToolTip(column, tip)
            self.tree.addTopLevelItem(item)
            if run.id in selected:
                item.setSelected(True)
        for column in range(1, 5):
            self.tree.resizeColumnToContents(column)
        self._fit_name_column()
        self._selection_changed()

    def _fit_name_column(self) -> None:
        """The name column takes what the result beside it leaves of the list's width (at least 150 pixels;
        longer names are elided, their tooltips say them whole)."""
        room = self.tree.viewport().width() - self.tree.columnWidth(1)
        self.tree.setColumnWidth(0, max(150, room))

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_name_column()

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        """The least height at this width: the dock's scroll area asks it (the wrapped status line gives the
        panel a height-for-width) and would otherwise get the list's full height, pushing the buttons out of
        a short dock; so the list shrinks instead, and the panel scrolls only below its minimum."""
        return self.layout().minimumHeightForWidth(width)

    def selected_runs(self) -> list[Any]:
        ids = {item.data(0, Qt.ItemDataRole.UserRole) for item in self.tree.selectedItems()}
        return [r for r in self.runs if r.id in ids]

    def select(self, run_ids: Sequence[str]) -> None:
        wanted = set(run_ids)
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            item.setSelected(item.data(0, Qt.ItemDataRole.UserRole) in wanted)

    def _selection_changed(self) -> None:
        n = len(self.tree.selectedItems())
        self.compare_button.setEnabled(n >= 2)
        self.scrub_button.setEnabled(n == 1)
        self.delete_button.setEnabled(n >= 1)


def variation_title(variation: Variation) -> str:
    """A suggested variation's title in the interface language (a typed change shows as written)."""
    titles = {"activation sigmoid -> relu": tr("Activation: sigmoid → ReLU"),
              "activation relu -> sigmoid": tr("Activation: ReLU → sigmoid"),
              "dropout off": tr("Dropout off"), "dropout on (0.5)": tr("Dropout on (0.5)"),
              "learning rate x10": tr("Learning rate × 10"), "learning rate /10": tr("Learning rate ÷ 10")}
    return titles.get(variation.title, variation.title)


class VariationDialog(QDialog):
    """Choose the one change of a twin run: a suggestion, or any setting or block parameter."""

    def __init__(self, project: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("Try a variation"))
        self.project = project
        self.suggestions = suggested_variations(project)
        form = QFormLayout(self)
        intro = QLabel(tr("The project is trained twice, as it is and with one change, and the two runs are "
                          "compared."))
        intro.setWordWrap(True)
        form.addRow(intro)
        self.choice = QComboBox()
        # A change of many blocks is a long line: the box keeps a sensible width (the dialog stays on the
        # screen) and elides it; the item's tooltip says it whole.
        self.choice.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.choice.setMinimumContentsLength(36)
        for v in self.suggestions:
            self.choice.addItem(f"{variation_title(v)}  ({describe(v.changes)})", v)
            self.choice.setItemData(self.choice.count() - 1, describe(v.changes), Qt.ItemDataRole.ToolTipRole)
        self.choice.addItem(tr("Another change…"), None)
        form.addRow(tr("Change:"), self.choice)
        self.key = QLineEdit()
        self.key.setPlaceholderText(tr("learning_rate, or a block parameter such as h1.function"))
        self.value = QLineEdit()
        self.value.setPlaceholderText(tr("the new value"))
        form.addRow(tr("Setting:"), self.key)
        form.addRow(tr("Value:"), self.value)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #B91C1C")
        self.error.setWordWrap(True)
        form.addRow(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(tr("Train both"))
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.choice.currentIndexChanged.connect(self._choice_changed)
        self._choice_changed()
        self.variation: Variation | None = None

    def _choice_changed(self) -> None:
        custom = self.choice.currentData() is None
        self.key.setEnabled(custom)
        self.value.setEnabled(custom)

    def chosen(self) -> Variation | None:
        """The variation as chosen now (UserError when the typed change is not valid)."""
        variation = self.choice.currentData()
        if variation is not None:
            return variation
        from nnstudio.runs.sweep import _value  # noqa: PLC0415
        key = self.key.text().strip()
        if not key:
            raise UserError(tr("Name a setting or a block parameter to change."))
        value = check_change(self.project, key, _value(self.value.text()))
        return Variation(f"{key}={value}", {key: value})

    def _accept(self) -> None:
        try:
            self.variation = self.chosen()
        except UserError as exc:
            self.error.setText(str(exc))
            return
        self.accept()


class RunsController(QObject):
    """The run history of the window's project (see the module docstring)."""

    runs_changed = Signal()
    comparison_shown = Signal(list)

    def __init__(self, window: Any, training: Any) -> None:
        super().__init__(window)
        self.window = window
        self.training = training
        self.panel = RunsPanel()
        self.compare_view = CompareView()
        self.overlay = RunOverlay(training.dashboard.curves, training.dashboard.gradients)
        self.runner = TrialRunner(self)
        self.scrub: Any = None
        self.docks: dict[str, Any] = {}
        self.next_name: str | None = None
        self.next_origin: dict[str, Any] | None = None
        self._project: Any = None
        self._unsaved_root = None
        self._pending_compare = False
        self.last_results: list[TrialResult] = []

    def install(self) -> "RunsController":
        from nnstudio.ui.scrub_panel import ScrubPanel  # noqa: PLC0415
        w = self.window
        self.scrub = ScrubPanel(self)
        self.docks["runs"] = w.add_dock(self.panel, tr("Runs"), Area.LeftDockWidgetArea, "runs", scroll=True)
        self.docks["compare"] = w.add_dock(self.compare_view, tr("Comparison"), Area.BottomDockWidgetArea, "compare")
        self.docks["scrub"] = w.add_dock(self.scrub, tr("Scrub through a run"), Area.RightDockWidgetArea, "scrub",
                                         scroll=True)
        palette = getattr(w, "docks", {}).get("palette")
        if palette is not None:  # the left column is the tallest at 1024 x 768: room for the list
            w.tabifyDockWidget(palette, self.docks["runs"])
            palette.raise_()
        # Beside the panels they drive, in groups with few tabs (every tab widens the window's minimum).
        for behind, front in (("compare", "feature_maps"), ("scrub", "training")):
            dock = self.training.docks.get(front)
            if dock is not None:
                w.tabifyDockWidget(dock, self.docks[behind])
                dock.raise_()
        p = self.panel
        p.compare_button.clicked.connect(self.compare_selected)
        # Not the methods themselves: clicked(checked=False) would land in their first argument (Delete then
        # deleted without asking, Try a variation… failed on a bool instead of its dialog)
        p.delete_button.clicked.connect(lambda _checked=False: self.delete_selected())
        p.scrub_button.clicked.connect(self.scrub_selected)
        p.twin_button.clicked.connect(lambda _checked=False: self.try_variation())
        p.sweep_button.clicked.connect(self.open_sweep)
        self.compare_view.back_requested.connect(self.back_to_live)
        menu = getattr(w, "train_menu", None)
        if menu is not None:  # the same actions as the panel's buttons, where the other run actions are
            menu.addSeparator()
            self.actions = {}
            for key, text, slot in (("twin", tr("Try a &variation…"), self._menu_variation),
                                    ("sweep", tr("S&weep a setting…"), self.open_sweep),
                                    ("runs", tr("Show the &runs"), self.show_runs)):
                action = QAction(text, w)
                action.triggered.connect(slot)
                menu.addAction(action)
                self.actions[key] = action
        self.runner.trial_started.connect(self._trial_started)
        self.runner.epoch_done.connect(self._trial_epoch)
        self.runner.finished.connect(self._trials_finished)
        self.training.history = self
        self.training.run_finished.connect(self._run_finished)
        self.training.run_starting.connect(self._run_starting)
        self.training.weights_changed.connect(self._maybe_move_unsaved)
        if hasattr(w, "project_opened"):
            w.project_opened.connect(self.project_opened)
        if getattr(w, "project", None) is not None:
            self.project_opened(w.project)
        return self

    # -- where runs are kept ----------------------------------------------------------------------------------
    @property
    def project(self) -> Any:
        return getattr(self.window, "project", None)

    def root(self) -> Path | None:
        """The folder the open project's runs are kept in (None: this project keeps none)."""
        project = self.project
        if project is None:
            return None
        path = getattr(project, "path", None)
        if path is not None:
            self._maybe_move_unsaved()
            return runs_dir_for(path) if keeps_history(path) else None
        if self._unsaved_root is None:
            from nnstudio.runs.store import remove_stale_unsaved  # noqa: PLC0415
            from nnstudio.userdirs import user_data_dir  # noqa: PLC0415
            remove_stale_unsaved(user_data_dir() / "runs")  # left by a crash
            self._unsaved_root = user_data_dir() / "runs" / f"unsaved-{os.getpid()}-{id(self) % 100000}"
        return self._unsaved_root

    def store(self) -> RunStore | None:
        root = self.root()
        return RunStore(root) if root is not None else None

    def _maybe_move_unsaved(self) -> None:
        """The project was saved: its runs so far move beside it."""
        project = self.project
        unsaved = self._unsaved_root
        if unsaved is None or project is None or getattr(project, "path", None) is None:
            return
        self._unsaved_root = None
        if project is not self._project or not unsaved.is_dir() or not keeps_history(project.path):
            shutil.rmtree(unsaved, ignore_errors=True)
            return
        try:
            RunStore(unsaved).move_to(runs_dir_for(project.path))
        except (OSError, UserError) as exc:
            self.panel.status.setText(tr("The runs could not be moved beside the project: {reason}", reason=str(exc)))
        self.refresh()

    def prepare(self, request: Any) -> None:
        """Called by the training controller for each run it starts."""
        request.runs_root = self.root()
        request.run_name, request.run_origin = self.next_name, self.next_origin
        self.next_name = self.next_origin = None

    def project_opened(self, project: Any) -> None:
        if project is not self._project and self._unsaved_root is not None:
            shutil.rmtree(self._unsaved_root, ignore_errors=True)  # unsaved runs go with the unsaved project
            self._unsaved_root = None
        self._project = project
        self.back_to_live()
        self.compare_view.clear()
        if self.scrub is not None:
            self.scrub.clear()
        self.panel.status.setText("")
        self.refresh()
        if project is not None and not self.panel.runs and not self.panel.status.text():
            self.panel.status.setText(tr("No runs yet: each time you train, the run is kept here to compare and "
                                         "look back through.") if self.root() is not None else
                                      tr("This project keeps no run history (it is one of the shipped examples): "
                                         "save it as your own project first."))

    def refresh(self) -> None:
        store = self.store()
        runs = store.list() if store is not None else []
        self.panel.set_runs(runs)
        if store is not None and store.problems:
            self.panel.status.setText(store.problems[0])
        self.runs_changed.emit()

    # -- events of the main training run -----------------------------------------------------------------------
    def _run_starting(self, _continuing: bool) -> None:
        self.back_to_live()
        # The panels show the new run from now on: the scrub panel no longer claims an old snapshot (its marker
        # on the loss plot goes too)
        if self.scrub is not None and self.scrub.scrubber is not None:
            self.scrub.clear()

    def _run_finished(self, result: Any) -> None:
        problem = getattr(result, "history_problem", None)
        run = getattr(result, "run", None)
        if problem:
            self.panel.status.setText(problem)
        elif run is not None:
            self.panel.status.setText(tr("Kept as run {id}.", id=run.id))
        self.refresh()

    # -- actions ---------------------------------------------------------------------------------------------
    def runs_by_id(self, run_ids: Sequence[str]) -> list[Any]:
        by_id = {r.id: r for r in self.panel.runs}
        return [by_id[i] for i in run_ids if i in by_id]

    def compare(self, runs: Sequence[Any]) -> None:
        runs = list(runs)
        if len(runs) < 2:
            return
        labels = self.overlay.show(runs)
        self.compare_view.show_runs(runs, labels)
        for name in ("compare",):
            if name in self.docks:
                self.docks[name].show()
                self.docks[name].raise_()
        for name in ("curves", "gradients"):  # where the runs are drawn (the decision boundary may be in front)
            dock = self.training.docks.get(name)
            if dock is not None:
                dock.raise_()
        self.training.dashboard.redraw_all()
        self.comparison_shown.emit([r.id for r in runs])

    def compare_selected(self) -> None:
        self.compare(self.panel.selected_runs())

    def back_to_live(self) -> None:
        if self.overlay.active:
            self.overlay.clear()
            self.compare_view.back_button.setEnabled(False)
            self.training.dashboard.redraw_all()

    def delete_selected(self, confirm: bool = True) -> None:
        runs = self.panel.selected_runs()
        store = self.store()
        if not runs or store is None:
            return
        if confirm and not os.environ.get("NNSTUDIO_NO_DIALOGS"):
            answer = QMessageBox.question(self.window, tr("Delete runs"),
                                          tr("Delete {count} run(s) and their files?", count=len(runs)))
            if answer != QMessageBox.StandardButton.Yes:
                return
        shown = {r.id for r in self.overlay.runs} | {r.id for r in self.compare_view.runs}  # drawn, or in the table
        if shown & {r.id for r in runs}:
            self.back_to_live()
            self.compare_view.clear()
        for run in runs:
            try:
                store.delete(run.id)
            except UserError as exc:
                self.panel.status.setText(str(exc))
        self.refresh()

    def scrub_selected(self) -> None:
        runs = self.panel.selected_runs()
        if len(runs) == 1 and self.scrub is not None:
            self.scrub.set_run(runs[0])
            if "scrub" in self.docks:
                self.docks["scrub"].show()
                self.docks["scrub"].raise_()

    def _menu_variation(self) -> None:
        self.try_variation()

    def show_runs(self) -> None:
        dock = self.docks.get("runs")
        if dock is not None:
            dock.show()
            dock.raise_()

    def _busy(self) -> bool:
        if self.runner.is_running or self.training.is_training:
            self.panel.status.setText(tr("Wait for the current training to end."))
            return True
        return False

    def _trainable(self) -> Any:
        """The project if it can be trained now (its problems shown otherwise)."""
        from nnstudio.training.validation import validate_project  # noqa: PLC0415
        project = self.project
        if project is None or not getattr(project.graph, "nodes", None):
            self.panel.status.setText(tr("Open or create a network first."))
            return None
        refusal = validate_project(project.graph, dict(project.training)).refusal()
        if refusal is not None:
            self.panel.status.setText(tr("Cannot train: {reason}", reason=refusal.split("\n")[0]))
            return None
        return project

    def try_variation(self, variation: Variation | None = None) -> bool:
        """Train the project as it is and with one change, then compare the two runs."""
        if self._busy():
            return False
        project = self._trainable()
        if project is None:
            return False
        if variation is None:
            dialog = VariationDialog(project, self.window)
            if dialog.exec() != QDialog.DialogCode.Accepted or dialog.variation is None:
                return False
            variation = dialog.variation
        tag = f"twin-{len(self.panel.runs) + 1}"
        trials = [({}, tr("as it is"), {"twin": tag, "role": "original"}),
                  (dict(variation.changes), variation_title(variation),
                   {"twin": tag, "role": "variation", "changes": variation.changes})]
        return self.run_trials(project, trials, compare=True)

    def run_trials(self, project: Any, trials: list[tuple[dict[str, Any], str, dict[str, Any]]],
                   overrides: dict[str, Any] | None = None, compare: bool = False) -> bool:
        root = self.root()
        if root is None:
            self.panel.status.setText(tr("This project keeps no run history (it is one of the shipped examples): "
                                         "save it as your own project first."))
            return False
        from nnstudio.graph.project_file import Project  # noqa: PLC0415
        snapshot = Project(name=project.name, graph=project.graph.copy(), training=dict(project.training))
        self._pending_compare = compare
        self._set_busy(True)
        self.runner.start(snapshot, trials, root, overrides)
        return True

    def _set_busy(self, busy: bool) -> None:
        for button in (self.panel.twin_button, self.panel.sweep_button):
            button.setEnabled(not busy)

    def _trial_started(self, index: int, name: str) -> None:
        self.panel.status.setText(tr("Training {name}…", name=name))

    def _trial_epoch(self, index: int, epoch: int, epochs: int) -> None:
        self.panel.status.setText(tr("Trial {trial}: epoch {epoch} of {epochs}", trial=index + 1, epoch=epoch,
                                     epochs=epochs))

    def _trials_finished(self, results: list) -> None:
        self._set_busy(False)
        self.last_results = list(results)
        self.refresh()
        failed = [r for r in results if r.reason not in ("completed", "stopped")]
        if failed:
            self.panel.status.setText(failed[0].message or tr("A trial failed."))
        else:
            self.panel.status.setText(tr("{count} runs trained.", count=len(results)))
        ids = [r.run_id for r in results if r.run_id]
        if self._pending_compare and len(ids) >= 2:
            self.panel.select(ids)
            self.compare(self.runs_by_id(ids))
        self._pending_compare = False

    def open_sweep(self) -> Any:
        from nnstudio.ui.sweep_dialog import SweepDialog  # noqa: PLC0415
        project = self._trainable()
        if project is None or self._busy():
            return None
        dialog = SweepDialog(self, project, self.window)
        dialog.show()
        return dialog

    def continue_from(self, run: Any, weights: dict[str, np.ndarray], step: int) -> bool:
        """Train the open project on from a snapshot's weights, as a new run."""
        if self._busy():
            return False
        project = self.project
        if project is None or not self.training._weights_fit(project.graph, weights):
            self.panel.status.setText(tr("The network changed since run {id}: its snapshot does not fit it.",
                                         id=run.id))
            return False
        self.training.adopt_weights(weights)
        self.next_name = tr("continued from run {id}, step {step}", id=run.id, step=step)
        self.next_origin = {"continued_from": run.id, "step": int(step)}
        started = self.training.train()
        if not started:
            self.next_name = self.next_origin = None
        return started

    def window_closing(self) -> None:
        """The window closes: trials stop (those done are kept) and an unsaved project's runs are deleted."""
        self.runner.stop_and_wait()
        if self._unsaved_root is not None:
            shutil.rmtree(self._unsaved_root, ignore_errors=True)
            self._unsaved_root = None
        self.back_to_live()


def install_runs(window: Any, training: Any) -> RunsController:
    """The Runs, Comparison and Scrub panels of ``window`` (after the training controller)."""
    return RunsController(window, training).install()


__all__ = ["RunsController", "RunsPanel", "TrialRunner", "TrialWorker", "VariationDialog", "install_runs",
           "mini_curve"]
