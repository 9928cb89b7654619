"""Glue between the main window and training: docks, Train menu entries, the run's life cycle, weights.

Why this exists: the main window knows nothing about training; :func:`install_training` adds everything
from outside (the training panel, the live panels as docks, entries in the Train menu) and returns the
:class:`TrainingController` that owns the current run.  The controller keeps the trained weights between
runs (Train again continues from them until Reset weights), writes them beside the project file, refuses
graph edits while a run is going (``is_training`` / ``edit_refusal()``; the run compiles a copy of the
graph anyway) and stops the run cleanly when the window closes.
"""
from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QUndoCommand
from PySide6.QtWidgets import QApplication, QScrollArea

from nnstudio.errors import UserError
from nnstudio.ui.i18n import tr
from nnstudio.ui.panels import Dashboard
from nnstudio.ui.training_panel import TrainingPanel
from nnstudio.ui.worker import (RunInfo, RunResult, TrainingRequest, TrainingSession, default_load_dataset,
                                default_make_trainer)
from nnstudio.userdirs import atomic_write_bytes

Area = Qt.DockWidgetArea
STOP_WAIT_MS = 5000
PROGRESS_INTERVAL_S = 0.2  # the progress bar and its text change at most 5 times a second

# (dashboard attribute, dock name, title) of the live panels, docked at the bottom as tabs.
PANEL_DOCKS = (("curves", "training_curves", "Loss and accuracy"),
               ("gradients", "training_gradients", "Gradients"),
               ("feature_maps", "training_feature_maps", "Feature maps"),
               ("histograms", "training_histograms", "Histograms"),
               ("boundary", "training_boundary", "Decision boundary"),
               ("confusion", "training_confusion", "Confusion matrix"))


class SetTrainingSetting(QUndoCommand):
    """One edit of the project's training section (undoable like any graph edit)."""

    def __init__(self, controller: "TrainingController", key: str, old: Any, new: Any) -> None:
        super().__init__(tr("Set training {key}", key=key))
        self.controller, self.key, self.old, self.new = controller, key, old, new

    def redo(self) -> None:
        self.controller.apply_setting(self.key, self.new)

    def undo(self) -> None:
        self.controller.apply_setting(self.key, self.old)


class TrainingController(QObject):
    """Owns the training run of the window's project and the panels that show it."""

    hint_received = Signal(object)  # the trainer's Hint events, for other panels (teaching, hints)
    run_finished = Signal(object)  # RunResult

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.dataset: Any = None
        self.weights: dict[str, np.ndarray] | None = None
        self.weights_saved = True
        self.session: TrainingSession | None = None
        self.last_result: RunResult | None = None
        self.info: RunInfo | None = None
        self._latest_report: Any = None  # the newest BatchReport (the progress bar shows it at most 5 times a second)
        self._progress_shown_at = 0.0
        self.make_trainer: Callable[[TrainingRequest, Any], Any] = default_make_trainer
        self.load_dataset: Callable[[str], Any] = default_load_dataset
        self.probe_drawing: np.ndarray | None = None
        self.panel = TrainingPanel()
        self.dashboard = Dashboard(dataset_getter=lambda: self.dataset, parent=self)
        self.docks: dict[str, Any] = {}
        self._connect_panel()

    # -- installation --------------------------------------------------------------------------------------
    def install(self) -> "TrainingController":
        w = self.window
        scroller = QScrollArea()  # the form scrolls rather than forcing a tall window
        scroller.setWidget(self.panel)
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QScrollArea.Shape.NoFrame)
        self.docks["training"] = w.add_dock(scroller, tr("Training"), Area.RightDockWidgetArea, "training")
        for attr, name, title in PANEL_DOCKS:
            dock = w.add_dock(self.dashboard.panels[attr], tr(title), Area.BottomDockWidgetArea, name)
            self.docks[attr] = dock
            dock.visibilityChanged.connect(lambda _v: self._update_views())
        # Three columns at the bottom, each with a second panel as a tab behind it.
        d = self.docks
        w.splitDockWidget(d["curves"], d["gradients"], Qt.Orientation.Horizontal)
        w.splitDockWidget(d["gradients"], d["feature_maps"], Qt.Orientation.Horizontal)
        for front, behind in (("curves", "boundary"), ("gradients", "histograms"), ("feature_maps", "confusion")):
            w.tabifyDockWidget(d[front], d[behind])
            d[front].raise_()
        self._sized = False
        menu = w.train_menu
        menu.addSeparator()
        self.actions = {
            "train": self._action(menu, tr("&Train"), self.train, "Ctrl+T"),
            "pause": self._action(menu, tr("&Pause / Resume"), self.toggle_pause, "Ctrl+P"),
            "stop": self._action(menu, tr("&Stop"), self.stop),
            "step": self._action(menu, tr("Train one &batch"), self.step),
            "reset": self._action(menu, tr("&Reset weights"), self.reset_weights),
            "evaluate": self._action(menu, tr("&Evaluate on test set"), self.evaluate),
        }
        menu.addSeparator()
        self._action(menu, tr("Show training &dashboard"), self.show_dashboard)
        if hasattr(w, "project_opened"):
            w.project_opened.connect(self.project_opened)
        if hasattr(w, "graph_changed"):
            w.graph_changed.connect(self._graph_changed)
        undo = getattr(w, "undo_stack", None)
        if undo is not None:
            undo.cleanChanged.connect(self._clean_changed)
        w.installEventFilter(self)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        if getattr(w, "project", None) is not None:
            self.project_opened(w.project)
        self._set_state("idle")
        return self

    def _action(self, menu: Any, text: str, slot: Callable[[], Any], shortcut: str | None = None) -> QAction:
        action = QAction(text, self.window)
        if shortcut:
            action.setShortcut(shortcut)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def _connect_panel(self) -> None:
        p = self.panel
        p.setting_edited.connect(self.edit_setting)
        p.train_clicked.connect(self.train)
        p.pause_toggled.connect(lambda paused: self.pause() if paused else self.resume())
        p.stop_clicked.connect(self.stop)
        p.step_clicked.connect(self.step)
        p.reset_clicked.connect(self.reset_weights)
        p.evaluate_clicked.connect(self.evaluate)
        self.dashboard.feature_maps.sample_changed.connect(self._probe_index_changed)

    # -- project and settings ----------------------------------------------------------------------------------
    @property
    def project(self) -> Any:
        return getattr(self.window, "project", None)

    def settings(self) -> dict[str, Any]:
        project = self.project
        merged = self.panel.settings()
        if project is not None and isinstance(project.training, dict):
            merged.update(project.training)
        return merged

    def project_opened(self, project: Any) -> None:
        if self.is_training:
            self.stop_and_wait()
        self.panel.set_settings(project.training if isinstance(project.training, dict) else {})
        self.weights, self.weights_saved, self.dataset, self.info = None, True, None, None
        self.dashboard.clear()
        path = self.weights_path()
        if path is not None and path.is_file():
            try:
                with np.load(path, allow_pickle=False) as data:
                    self.weights = {k: data[k] for k in data.files}
                self.panel.show_status(tr("Loaded trained weights from {path}.", path=path.name))
            except (OSError, ValueError) as exc:
                self.panel.show_status(tr("Could not read the weights file {path}: {error}", path=str(path),
                                          error=exc), error=True)
        else:
            self.panel.show_status(tr("Ready."))

    def edit_setting(self, key: str, value: Any) -> None:
        project = self.project
        if project is None:
            return
        old = project.training.get(key)
        if old == value:
            return
        undo = getattr(self.window, "undo_stack", None)
        if undo is not None:
            undo.push(SetTrainingSetting(self, key, old, value))
        else:
            self.apply_setting(key, value)

    def apply_setting(self, key: str, value: Any) -> None:
        project = self.project
        if project is None:
            return
        if value is None:
            project.training.pop(key, None)
        else:
            project.training[key] = value
        if key == "loss" and hasattr(self.window, "scene"):
            self.window.scene.loss = value
        self.panel.set_settings(project.training)

    def weights_path(self) -> Path | None:
        """``<project>.weights.npz`` beside the saved project; None when unsaved or a shipped resource."""
        project = self.project
        path = getattr(project, "path", None)
        if not path:
            return None
        from nnstudio.resources_path import resources_root  # noqa: PLC0415
        if Path(path).resolve().is_relative_to(Path(resources_root()).resolve()):
            return None  # an example opened in place: never write into the installed resources
        from nnstudio.graph.project_file import weights_path_for  # noqa: PLC0415
        return weights_path_for(path)

    def save_weights(self) -> Path | None:
        """Write the current weights beside the project file (when it has been saved somewhere)."""
        path = self.weights_path()
        if path is None or self.weights is None:
            return None
        buffer = io.BytesIO()
        np.savez(buffer, **self.weights)
        atomic_write_bytes(path, buffer.getvalue())
        self.weights_saved = True
        return path

    def _clean_changed(self, clean: bool) -> None:
        if clean and not self.weights_saved:
            self._save_weights_reporting()

    def _save_weights_reporting(self) -> None:
        try:
            self.save_weights()
        except OSError as exc:
            self.panel.show_status(tr("Could not save the weights: {error}", error=exc), error=True)

    # -- editing guard -------------------------------------------------------------------------------------------
    @property
    def is_training(self) -> bool:
        return self.session is not None and self.session.is_running

    def edit_refusal(self) -> str | None:
        """Why the network cannot be edited now (None: it can)."""
        if self.is_training:
            return tr("The network cannot be changed while it trains. Stop the training first.")
        return None

    def _set_editing(self, enabled: bool) -> None:
        w = self.window
        setter = getattr(w, "_set_editing_enabled", None)
        if callable(setter) and getattr(w, "project", None) is not None:
            setter(enabled)
        view = getattr(w, "view", None)
        if view is not None and hasattr(view, "setInteractive"):
            view.setInteractive(enabled)
        for name in ("inspector", "palette"):
            widget = getattr(w, name, None)
            if widget is not None:
                widget.setEnabled(enabled)

    def _graph_changed(self, _event: Any) -> None:
        if self.is_training:
            self._status_bar(tr("This change applies to the next run: the running training uses a copy of "
                                "the network."))

    def _status_bar(self, text: str) -> None:
        bar = getattr(self.window, "statusBar", None)
        if callable(bar):
            bar().showMessage(text, 8000)

    # -- runs -------------------------------------------------------------------------------------------------------
    def _update_views(self) -> None:
        if self.session is not None and self.session.is_running:
            self.session.set_views(self.dashboard.wanted_views(self.panel_visible))

    def panel_visible(self, name: str) -> bool:
        dock = self.docks.get(name)
        # A dock behind another one's tab is "visible" to Qt but shows nothing: its region is empty.
        return dock is None or (dock.isVisible() and not dock.visibleRegion().isEmpty())

    def train(self, start_paused: bool = False) -> bool:
        """Start a run (continuing from the current weights, if any); False when it cannot start."""
        if self.is_training:
            return False
        project = self.project
        if project is None or not getattr(project.graph, "nodes", None):
            self.panel.show_status(tr("Open or create a network first."), error=True)
            return False
        settings = self.settings()
        continuing = self.weights is not None
        request = TrainingRequest(project.graph.copy(), settings, self.weights,
                                  probe_index=self.dashboard.feature_maps.sample_box.value(),
                                  probe_input=self.probe_drawing, start_paused=start_paused,
                                  views=self.dashboard.wanted_views(self.panel_visible))
        dataset = self.dataset if self.dataset is not None and getattr(self.dataset, "_nnstudio_key", None) \
            == settings.get("dataset") else None
        session = TrainingSession(request, self, self.make_trainer, self._loader, dataset)
        self.session = session
        self.dashboard.connect_session(session, continuing)
        session.started.connect(self._started)
        session.batches.connect(self._batches)
        session.epoch.connect(self._epoch)
        session.hint.connect(self._hint)
        session.finished.connect(self._finished)
        session.paused_changed.connect(lambda paused: self._set_state("paused" if paused else "running"))
        self._set_state("paused" if start_paused else "running")
        self._set_editing(False)
        self.panel.show_status(tr("Preparing the data and the network..."))
        session.start()
        return True

    def _loader(self, name: str) -> Any:
        dataset = self.load_dataset(name)
        try:
            dataset._nnstudio_key = name  # remember which setting produced it, to reuse it next run
        except AttributeError:
            pass
        return dataset

    def _started(self, info: RunInfo) -> None:
        self.info = info
        if self.session is not None:
            self.dataset = self.session.worker.dataset
        if info.points is not None and self.docks.get("boundary") is not None:
            self.docks["boundary"].raise_()
        elif info.is_image and self.docks.get("feature_maps") is not None:
            self.docks["feature_maps"].raise_()
        backend = f" ({info.backend})" if info.backend else ""
        self.panel.show_status(tr("Training on {dataset}{backend}...", dataset=info.dataset, backend=backend))

    def _batches(self, reports: list) -> None:
        if not reports or self.info is None:
            return
        self._latest_report = reports[-1]
        now = time.perf_counter()
        if now - self._progress_shown_at >= PROGRESS_INTERVAL_S:
            self._progress_shown_at = now
            self.panel.show_progress(reports[-1], self.info.epochs, self.info.steps_per_epoch)

    def _epoch(self, report: Any) -> None:
        val = getattr(report, "val_acc", None)
        text = tr("Epoch {epoch} done: loss {loss}", epoch=report.epoch, loss=f"{float(report.train_loss):.4g}")
        if val is not None and np.isfinite(val):
            text += " · " + tr("validation accuracy {value}", value=f"{float(val):.1%}")
        self.panel.show_status(text)

    def _hint(self, event: Any) -> None:
        if type(event).__name__ != "Hint":
            return
        message = getattr(event, "message", None)
        if message:
            self._status_bar(str(message))
        self.hint_received.emit(event)

    def _finished(self, result: RunResult) -> None:
        self.last_result = result
        if self._latest_report is not None and self.info is not None:  # the throttle may have held it back
            self.panel.show_progress(self._latest_report, self.info.epochs, self.info.steps_per_epoch)
        self._latest_report = None
        if result.weights is not None:
            self.weights = result.weights
            self.weights_saved = False
            if self.weights_path() is not None:
                self._save_weights_reporting()
        self._set_state("idle")
        self._set_editing(True)
        self.dashboard.redraw_all()
        if result.reason in ("finished", "stopped"):
            done = tr("Training finished.") if result.reason == "finished" else tr("Training stopped.")
            test_loss = getattr(result.finished, "test_loss", None)
            test_acc = getattr(result.finished, "test_acc", None)
            if test_loss is not None and np.isfinite(test_loss):
                done += " " + tr("Test set: loss {loss}", loss=f"{float(test_loss):.4g}")
                if test_acc is not None and np.isfinite(test_acc):
                    done += " · " + tr("accuracy {value}", value=f"{float(test_acc):.2%}")
                done += "."
            self.panel.show_status(done + " " + tr("Train again to continue from these weights."))
        else:
            message = result.message or tr("Training failed.")
            self.panel.show_status(message.split("\n\n")[0], error=True)
            self._status_bar(message.split("\n")[0])
        self.run_finished.emit(result)

    def pause(self) -> None:
        if self.session is not None:
            self.session.pause()

    def resume(self) -> None:
        if self.session is not None:
            self.session.resume()

    def toggle_pause(self) -> None:
        if self.session is not None and self.session.is_running:
            self.resume() if self.session.is_paused else self.pause()

    def step(self) -> None:
        """One batch: from a paused run, or from a new run that then waits."""
        if self.is_training:
            self.session.step()
        elif self.train(start_paused=True):
            self.session.step()

    def stop(self) -> None:
        if self.session is not None:
            self.session.stop()

    def stop_and_wait(self, timeout_ms: int = STOP_WAIT_MS) -> bool:
        if self.session is None:
            return True
        return self.session.stop_and_wait(timeout_ms)

    def shutdown(self) -> None:
        if self.is_training:
            self.stop_and_wait()
        self.dashboard.timer.stop()

    def reset_weights(self) -> None:
        if self.is_training:
            return
        self.weights = None
        self.weights_saved = True
        path = self.weights_path()
        if path is not None and path.is_file():
            path.unlink()
        self.dashboard.clear()
        self.panel.progress.setValue(0)
        self.panel.progress_label.setText("")
        self.panel.show_status(tr("Weights reset: the next run starts from fresh random weights."))

    def set_probe_drawing(self, sample: np.ndarray | None) -> None:
        """Show the feature maps of a drawing (e.g. the canvas) instead of a test sample."""
        self.probe_drawing = sample
        if self.session is not None and self.session.is_running:
            self.session.set_probe(sample=sample)

    def _probe_index_changed(self, index: int) -> None:
        self.probe_drawing = None
        if self.session is not None and self.session.is_running:
            self.session.set_probe(index=index)

    def evaluate(self) -> dict[str, float] | None:
        """Loss and accuracy of the current weights on the test split, shown in the panel."""
        if self.is_training:
            return None
        project = self.project
        if project is None or self.weights is None:
            self.panel.show_status(tr("Train the network first: there are no trained weights to evaluate."),
                                   error=True)
            return None
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            figures = evaluate_weights(project.graph.copy(), self.settings(), self.weights,
                                       self.dataset if self.dataset is not None else None, self.load_dataset)
        except UserError as exc:
            self.panel.show_status(str(exc), error=True)
            return None
        finally:
            QApplication.restoreOverrideCursor()
        text = tr("Test set: loss {loss}", loss=f"{figures['loss']:.4g}")
        if np.isfinite(figures.get("accuracy", float("nan"))):
            text += " · " + tr("accuracy {value}", value=f"{figures['accuracy']:.2%}")
        self.panel.show_status(text + " " + tr("({count} samples)", count=int(figures["count"])))
        return figures

    def show_dashboard(self) -> None:
        for dock in self.docks.values():
            dock.show()
        self.docks["curves"].raise_()

    def _set_state(self, state: str) -> None:
        self.panel.set_state(state)
        if hasattr(self, "actions"):
            running = state != "idle"
            self.actions["train"].setEnabled(not running)
            self.actions["pause"].setEnabled(running)
            self.actions["stop"].setEnabled(running)
            self.actions["step"].setEnabled(state != "running")
            self.actions["reset"].setEnabled(not running)
            self.actions["evaluate"].setEnabled(not running)

    # -- closing --------------------------------------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if obj is self.window and event.type() == QEvent.Type.Close and self.is_training:
            self.stop_and_wait()
        if obj is self.window and event.type() == QEvent.Type.Show and not self._sized:
            self._sized = True
            QTimer.singleShot(0, self.size_docks)
        return False

    def size_docks(self, force: bool = False) -> None:
        """Give the plots room: the bottom row a good share of the height, three columns across.

        Skipped when the window restored a saved layout (the user's own sizes win), unless ``force``.
        """
        w = self.window
        saved = getattr(w, "settings", None) is not None and w.settings.value("window/state") is not None
        if saved and not force:
            return
        d = self.docks
        w.resizeDocks([d["curves"]], [max(300, int(w.height() * 0.45))], Qt.Orientation.Vertical)
        right = [dock for dock in (getattr(w, "docks", {}).get("inspector"), d["training"]) if dock is not None]
        if len(right) == 2:
            w.resizeDocks(right, [max(w.height() // 6, 120), w.height()], Qt.Orientation.Vertical)
        width = max(w.width() - 400, 600)
        w.resizeDocks([d["curves"], d["gradients"], d["feature_maps"]],
                      [int(width * 0.36), int(width * 0.3), int(width * 0.34)], Qt.Orientation.Horizontal)


def evaluate_weights(graph: Any, settings: dict[str, Any], weights: dict[str, np.ndarray], dataset: Any,
                     load_dataset: Callable[[str], Any]) -> dict[str, float]:
    """Compile ``graph``, load ``weights`` and measure loss and accuracy on the dataset's test split."""
    from nnstudio.graph.compile import compile_graph  # noqa: PLC0415
    from nnstudio.training.trainer import evaluate  # noqa: PLC0415
    if dataset is None:
        dataset = load_dataset(str(settings.get("dataset", "")))
    if len(dataset.x_test) == 0:
        raise UserError(tr("Dataset '{name}' has no test split to evaluate on.", name=dataset.name))
    model = compile_graph(graph, "numpy", seed=int(settings.get("seed", 0)))
    model.load_state_dict(weights, source=tr("the trained weights"))
    result = evaluate(model, dataset.x_test, dataset.y_test, str(settings.get("loss", "cross_entropy")),
                      dataset.task, int(dataset.num_classes))
    figures = {"loss": float(result.loss), "count": float(result.n)}
    if result.accuracy is not None:
        figures["accuracy"] = float(result.accuracy)
    if result.r2 is not None:
        figures["r2"] = float(result.r2)
    return figures


def install_training(main_window: Any) -> TrainingController:
    """Add the training panel, the live panels and the Train menu entries to ``main_window`` (once)."""
    existing = getattr(main_window, "training_controller", None)
    if isinstance(existing, TrainingController):
        return existing
    controller = TrainingController(main_window)
    main_window.training_controller = controller
    return controller.install()


__all__ = ["SetTrainingSetting", "TrainingController", "evaluate_weights", "install_training"]
