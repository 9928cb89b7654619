"""Glue between the main window and training: docks, Train menu entries, the run's life cycle, weights.

Why this exists: the main window knows nothing about training; :func:`install_training` adds everything
from outside (the training panel, the live panels as docks, entries in the Train menu) and returns the
:class:`TrainingController`, the one owner of the open project's runs and trained weights:

* the trained weights are project state: a run that ends as asked (completed or stopped) replaces them and
  marks the project modified (``weights_changed``); the window writes them with the project on Save / Save
  As (:meth:`write_weights_for`) and asks before they are lost (:meth:`has_unsaved_weights`).  A run that
  ends in NaN, out of memory or an error never replaces them;
* the settings it trains with are the project's own (``project.training``, an evented mapping changed only
  through :class:`~nnstudio.ui.editor.commands.SetTrainingCommand`), and Train refuses exactly what the
  Problems panel lists (:func:`nnstudio.training.validation.validate_project`);
* opening a project or starting a fresh run resets every panel, the progress line and the hints
  (``run_starting`` tells the other panels).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QScrollArea

from nnstudio.engine.weights_io import read_weights, unusable_weight, write_weights
from nnstudio.errors import UserError
from nnstudio.training.validation import validate_project
from nnstudio.ui.editor.commands import SetTrainingCommand
from nnstudio.ui.i18n import N_, tr
from nnstudio.ui.panels import Dashboard
from nnstudio.ui.run_bar import RunBar
from nnstudio.ui.training_panel import TrainingPanel
from nnstudio.ui.worker import (RunInfo, RunResult, TrainingRequest, TrainingSession, default_load_dataset,
                                default_make_trainer)
from nnstudio.userdirs import replace_file, temporary_path, write_target

Area = Qt.DockWidgetArea
STOP_WAIT_MS = 5000
PROGRESS_INTERVAL_S = 0.2  # the progress bar and its text change at most 5 times a second

# (dashboard attribute, dock name, title) of the live panels, docked at the bottom as tabs.
PANEL_DOCKS = (("curves", "training_curves", N_("Loss and accuracy")),
               ("gradients", "training_gradients", N_("Gradients")),
               ("feature_maps", "training_feature_maps", N_("Feature maps")),
               ("histograms", "training_histograms", N_("Histograms")),
               ("boundary", "training_boundary", N_("Decision boundary")),
               ("confusion", "training_confusion", N_("Confusion matrix")),
               ("neurons", "training_neurons", N_("Neurons")))


class TrainingController(QObject):
    """Owns the training run of the window's project and the panels that show it."""

    hint_received = Signal(object)  # the trainer's Hint events, for other panels (teaching, hints)
    run_starting = Signal(bool)  # a run is about to start (True: it continues from trained weights)
    run_finished = Signal(object)  # RunResult
    weights_changed = Signal()  # the project's trained weights changed (trained, reset, loaded, saved)
    live_weights = Signal(object)  # WeightsSnapshot of the running model after each epoch

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.dataset: Any = None
        self.weights: dict[str, np.ndarray] | None = None
        self.weights_saved = True  # False while the weights differ from the file beside the project
        self._unsubscribe_settings: Callable[[], None] | None = None
        self.session: TrainingSession | None = None
        self.last_result: RunResult | None = None
        self.info: RunInfo | None = None
        self._latest_report: Any = None  # the newest BatchReport (the progress bar shows it at most 5 times a second)
        self._progress_shown_at = 0.0
        self.make_trainer: Callable[[TrainingRequest, Any], Any] = default_make_trainer
        self.load_dataset: Callable[[str], Any] = default_load_dataset
        self.probe_drawing: np.ndarray | None = None
        self.history: Any = None  # the run history (ui/runs_dock.RunsController): where each run is kept
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
            # Once the layout has settled: a tab raised while the window lays itself out (the neuron view as a run
            # on points of the plane starts) is told visible while it still covers no pixels, and no second
            # signal comes when it does, so its view was never made during that run.
            dock.visibilityChanged.connect(lambda _v: QTimer.singleShot(0, self, self._update_views))
        # Three columns at the bottom, each with a second panel as a tab behind it.
        d = self.docks
        w.splitDockWidget(d["curves"], d["gradients"], Qt.Orientation.Horizontal)
        w.splitDockWidget(d["gradients"], d["feature_maps"], Qt.Orientation.Horizontal)
        for front, behind in (("curves", "boundary"), ("gradients", "histograms"), ("feature_maps", "confusion"),
                              ("feature_maps", "neurons")):
            w.tabifyDockWidget(d[front], d[behind])
            d[front].raise_()
        self._sized = False
        self._size_on_project = False  # the window was first shown on the start page: size the panels later
        menu = w.train_menu
        menu.addSeparator()
        self.actions = {
            "train": self._action(menu, tr("&Train"), self.train, ["F5", "Ctrl+T"]),
            "pause": self._action(menu, tr("&Pause"), self.toggle_pause, ["F6", "Ctrl+P"]),
            "stop": self._action(menu, tr("&Stop"), self.stop, ["Shift+F5"]),
            "step": self._action(menu, tr("Step one &batch"), self.step, ["F10"]),
            "step_epoch": self._action(menu, tr("Step one &epoch"), self.step_epoch, ["F11"]),
            "reset": self._action(menu, tr("&Reset weights"), self.reset_weights),
            "evaluate": self._action(menu, tr("&Evaluate on test set"), self.evaluate),
        }
        self.actions["pause"].setCheckable(True)
        for key, tip in (("train", tr("Train the network (continues from its trained weights)")),
                         ("pause", tr("Pause the run, or resume it")), ("stop", tr("Stop the run and keep what it learned")),
                         ("step", tr("Train one batch, then pause")), ("step_epoch", tr("Train to the end of the epoch, then pause"))):
            shortcut = self.actions[key].shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            self.actions[key].setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
        menu.addSeparator()
        self._action(menu, tr("Show training &dashboard"), self.show_dashboard)
        # The run bar: the same actions, the playback speed and the progress, always in sight.
        self.run_bar = RunBar(self.actions, w)
        self.run_bar.speed_changed.connect(self._speed_changed)
        if hasattr(w, "addToolBarBreak"):
            w.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)
            w.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.run_bar)
        if hasattr(w, "project_opened"):
            w.project_opened.connect(self.project_opened)
        if hasattr(w, "graph_changed"):
            w.graph_changed.connect(self._graph_changed)
        w.installEventFilter(self)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)
        if getattr(w, "project", None) is not None:
            self.project_opened(w.project)
        from nnstudio.ui.data_controls import install_data_controls  # noqa: PLC0415 - beside the boundary
        self.data_controls = install_data_controls(self)
        self._set_state("idle")
        return self

    def _action(self, menu: Any, text: str, slot: Callable[[], Any], shortcuts: list[str] | None = None) -> QAction:
        action = QAction(text, self.window)
        if shortcuts:
            action.setShortcuts([QKeySequence(k) for k in shortcuts])
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def _connect_panel(self) -> None:
        p = self.panel
        p.setting_edited.connect(self.edit_setting)
        p.reset_clicked.connect(self.reset_weights)
        p.evaluate_clicked.connect(self.evaluate)
        self.dashboard.feature_maps.sample_changed.connect(self._probe_index_changed)

    # -- project and settings ----------------------------------------------------------------------------------
    @property
    def project(self) -> Any:
        return getattr(self.window, "project", None)

    def settings(self) -> dict[str, Any]:
        """The settings a run uses: the project's own training section (the panel only shows it)."""
        project = self.project
        merged = self.panel.settings()
        if project is not None and isinstance(project.training, dict):
            merged.update(project.training)
        return merged

    def _raise_front_panels(self, project: Any) -> None:
        """The panels that speak about this project in front: the decision boundary (its data show at once)
        for points of the plane, the loss and accuracy curves otherwise (an empty plane for MNIST says
        nothing)."""
        from nnstudio.data import toy  # noqa: PLC0415 - names only, nothing is generated here

        training = project.training if isinstance(getattr(project, "training", None), dict) else {}
        name = training.get("dataset")
        plane = isinstance(name, str) and (name in toy.LOGIC or name in toy.TWO_D or name in toy.SHAPES
                                           or name == "plane")
        dock = self.docks.get("boundary" if plane else "curves")
        if dock is not None:
            dock.raise_()

    def project_opened(self, project: Any) -> None:
        """Another project is open: stop its predecessor's run and show nothing of it any more."""
        if self.is_training:
            self.stop_and_wait()
        if self._size_on_project:  # the first project after a start on the start page: see size_docks
            self._size_on_project = False
            QTimer.singleShot(0, self, self.size_docks)
        if self._unsubscribe_settings is not None:
            self._unsubscribe_settings()
            self._unsubscribe_settings = None
        subscribe = getattr(project.training, "subscribe", None)
        if callable(subscribe):
            self._unsubscribe_settings = subscribe(self._settings_changed)
        self.panel.set_settings(project.training if isinstance(project.training, dict) else {})
        self._raise_front_panels(project)
        self.weights, self.weights_saved, self.dataset, self.info, self.last_result = None, True, None, None, None
        self._latest_report = None
        self.dashboard.clear()
        self.dashboard.curves.set_accuracy_shown(not self._is_regression(project))
        self._clear_progress()
        path = self.weights_path()
        if path is not None and path.is_file():
            try:
                weights = read_weights(path)
                bad = unusable_weight(weights)
                if bad is not None:  # a float64 1e300 is infinite in the network: the next run would be NaN
                    raise UserError(tr("The weights file {path} was not loaded: '{name}' holds NaN or infinite "
                                       "values, or values beyond float32's range.", path=path.name, name=bad))
                self.weights = weights
                self.panel.show_status(tr("Loaded trained weights from {path}.", path=path.name))
                # after the data controls have shown the project's points (their project_opened comes later)
                QTimer.singleShot(0, self, self._show_loaded_weights)
            except UserError as exc:
                self.panel.show_status(str(exc), error=True)
        else:
            self.panel.show_status(tr("Ready."))
        self.weights_changed.emit()

    @staticmethod
    def _is_regression(project: Any) -> bool:
        """Whether the project's dataset is a built-in regression (its loss panel has no accuracy plot); other
        datasets say so when their run starts."""
        from nnstudio.data import toy  # noqa: PLC0415 - names only

        training = project.training if isinstance(getattr(project, "training", None), dict) else {}
        return training.get("dataset") in toy.REGRESSIONS

    def _show_loaded_weights(self) -> None:
        """A project opened with trained weights on points of the plane: its decision boundary and its neuron
        view as those weights draw them (a reopened XOR project showed its four points and an empty plane
        until it was trained again).  Toy sets and small networks only: this runs on the GUI thread."""
        from nnstudio.data import toy  # noqa: PLC0415

        project, weights = self.project, self.weights
        settings = project.training if project is not None and isinstance(project.training, dict) else {}
        name = settings.get("dataset")
        if weights is None or self.is_training or not isinstance(name, str) or name not in toy.TOY_NAMES:
            return
        from nnstudio.graph.compile import compile_graph  # noqa: PLC0415
        from nnstudio.training import neuron_views, views  # noqa: PLC0415
        try:
            dataset = self._loader(name, dict(settings.get("dataset_options") or {}))
            if not views.is_plane(dataset):
                return
            model = compile_graph(project.graph, "numpy", seed=int(settings.get("seed", 0)))
            model.load_state_dict(weights, source=tr("the trained weights"))
            extent = views.plane_extent(dataset)
            plane = views.plane_arguments(dataset, str(settings.get("loss", "cross_entropy")))
            boundary = views.boundary(model, extent, SAVED_WEIGHTS_STEP, **plane)
            layout = neuron_views.neuron_layout(model)
            neurons = neuron_views.neuron_view(model, extent, SAVED_WEIGHTS_STEP, layout) \
                if isinstance(layout, neuron_views.NeuronLayout) else layout
        except (UserError, ValueError, KeyError, TypeError):  # weights of another network: nothing to draw
            return
        if self.project is not project or self.weights is not weights or self.is_training:
            return  # another project, other weights or a run came first
        self.dashboard.boundary.set_boundary(boundary)
        if neurons is not None:
            self.dashboard.neurons.set_neurons(neurons)

    def _settings_changed(self, _event: Any) -> None:
        project = self.project
        if project is not None:
            self.panel.set_settings(project.training)

    def edit_setting(self, key: str, value: Any) -> None:
        """Change a training setting of the project as one undoable step."""
        project = self.project
        if project is None:
            return
        command = SetTrainingCommand(project.training, key, value)
        if command.old == command.new or (command.new is None and key not in project.training):
            return
        undo = getattr(self.window, "undo_stack", None)
        if undo is not None:
            undo.push(command)
        else:
            command.redo()

    def weights_path(self, project_path: Any = None) -> Path | None:
        """``<project>.weights.npz`` beside the project file; None when unsaved or a shipped resource."""
        path = project_path if project_path is not None else getattr(self.project, "path", None)
        if not path:
            return None
        from nnstudio.resources_path import resources_root  # noqa: PLC0415
        if Path(path).resolve().is_relative_to(Path(resources_root()).resolve()):
            return None  # an example opened in place: never write into the installed resources
        from nnstudio.graph.project_file import weights_path_for  # noqa: PLC0415
        return weights_path_for(path)

    def has_unsaved_weights(self) -> bool:
        """Whether the trained weights differ from what is saved beside the project (or it was never saved)."""
        return not self.weights_saved

    def stage_weights(self, project_path: Any) -> "StagedWeights | None":
        """Prepare the weights file for a save of the project to ``project_path``: written beside it under a
        temporary name, moved into place by ``commit()`` once the project itself is saved (``discard()`` if it
        is not).  With no weights, ``commit()`` removes an old file there, so reopening cannot bring back
        weights that were reset.  None when the project needs no weights file; UserError when unwritable."""
        path = self.weights_path(project_path)
        if path is None:
            return None
        return StagedWeights(path, self.weights)

    def adopt_weights(self, weights: dict[str, np.ndarray] | None) -> None:
        """Make ``weights`` the project's trained weights (unsaved until the project is saved)."""
        self.weights = weights
        self.weights_saved = False
        self.weights_changed.emit()

    def mark_weights_saved(self) -> None:
        if not self.weights_saved:
            self.weights_saved = True
            self.weights_changed.emit()

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
        """Start a run (continuing from the current weights, if any); False when it cannot start.

        Train refuses exactly what the Problems panel lists: both come from the same validation step.
        """
        if self.is_training:
            return False
        project = self.project
        if project is None or not getattr(project.graph, "nodes", None):
            self.panel.show_status(tr("Open or create a network first."), error=True)
            return False
        settings = self.settings()
        bad = unusable_weight(self.weights) if self.weights is not None else None
        if bad is not None:  # (a run's weights are always finite: these came from a file or a snapshot)
            self.panel.show_status(tr("Cannot train from these weights: '{name}' holds NaN or infinite values, or "
                                      "values beyond float32's range. Reset the weights to start afresh.",
                                      name=bad), error=True)
            return False
        refusal = validate_project(project.graph, settings).refusal()
        if refusal is not None:
            self.panel.show_status(tr("Cannot train: {reason}", reason=refusal.split("\n")[0]) + " "
                                   + tr("(see the Problems panel)"), error=True)
            self._status_bar(refusal.split("\n")[0])
            return False
        weights = self.weights
        if weights is not None and not self._weights_fit(project.graph, weights):
            weights = None  # the network changed since it was trained: this run starts afresh
            self._status_bar(tr("The network changed since it was trained: this run starts from fresh weights."))
        continuing = weights is not None
        request = TrainingRequest(project.graph.copy(), settings, weights,
                                  probe_index=self.dashboard.feature_maps.sample_box.value(),
                                  probe_input=self.probe_drawing, start_paused=start_paused,
                                  epoch_seconds=self.run_bar.speed_seconds() if hasattr(self, "run_bar") else 0.0,
                                  views=self.dashboard.wanted_views(self.panel_visible))
        if self.history is not None:
            self.history.prepare(request)  # the folder this run is kept in, its name and where it came from
        key = (settings.get("dataset"), repr(sorted(dict(settings.get("dataset_options") or {}).items())))
        dataset = self.dataset if self.dataset is not None and getattr(self.dataset, "_nnstudio_key", None) == key \
            else None
        session = TrainingSession(request, self, self.make_trainer, self._loader, dataset)
        self.session = session
        self.run_starting.emit(continuing)  # hints and notes of the previous run go
        self._latest_report = None
        self._clear_progress()
        self.dashboard.connect_session(session, continuing)
        session.started.connect(self._started)
        session.batches.connect(self._batches)
        session.epoch.connect(self._epoch)
        session.hint.connect(self._hint)
        session.weights.connect(self.live_weights)
        session.finished.connect(self._finished)
        session.paused_changed.connect(self._paused_changed)
        session.preparing.connect(self._preparing)
        self._set_state("paused" if start_paused else "running")
        self._set_editing(False)
        self.panel.show_status(tr("Preparing the data and the network..."))
        session.start()
        return True

    def _preparing(self, progress: tuple[int, int, str]) -> None:
        """How far the making of a generated dataset got (the captcha example's takes 45 s the first time)."""
        done, total, split = progress
        if self.session is None or self.session.info is not None:  # the run started: its own status says more
            return
        counts = {"done": f"{done:,}", "total": f"{total:,}"}
        text = tr("Making the training captchas: {done} of {total}...", **counts) if split == "train" \
            else tr("Making the test captchas: {done} of {total}...", **counts)
        self.panel.show_status(text)
        run_bar = getattr(self, "run_bar", None)  # over the window, seen whatever the docks show
        if run_bar is not None:
            run_bar.show_preparing(done, total, text)

    @staticmethod
    def _weights_fit(graph: Any, weights: dict[str, np.ndarray]) -> bool:
        """Whether ``weights`` (keyed node/param) are exactly the parameters of ``graph``'s network."""
        from nnstudio.graph.compile import compile_graph  # noqa: PLC0415
        try:
            compile_graph(graph, "numpy", seed=0).load_state_dict(weights, source=tr("the trained weights"))
        except UserError:
            return False
        return True

    def _clear_progress(self) -> None:
        run_bar = getattr(self, "run_bar", None)
        if run_bar is not None:
            run_bar.clear_progress()

    def _speed_changed(self, epoch_seconds: float) -> None:
        if self.session is not None and self.session.is_running:
            self.session.set_playback(epoch_seconds)

    def _paused_changed(self, paused: bool) -> None:
        self._set_state("paused" if paused else "running")

    def _loader(self, name: str, options: dict[str, Any] | None = None) -> Any:
        dataset = self.load_dataset(name, options) if options else self.load_dataset(name)
        try:  # remember which setting produced it, to reuse it next run
            dataset._nnstudio_key = (name, repr(sorted(dict(options or {}).items())))
        except AttributeError:
            pass
        return dataset

    def _started(self, info: RunInfo) -> None:
        self.info = info
        if info.data is not None:
            self.dataset = info.data
        if info.points is not None and self.docks.get("boundary") is not None:
            self.docks["boundary"].raise_()
            if self.docks.get("neurons") is not None:
                self.docks["neurons"].raise_()
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
            self.run_bar.show_progress(reports[-1], self.info.epochs, self.info.steps_per_epoch)

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
            self.run_bar.show_final_progress(self._latest_report, self.info.epochs, self.info.steps_per_epoch)
        else:
            self._clear_progress()
        self._latest_report = None
        kept = False
        if result.ok and result.weights is not None:
            self.adopt_weights(result.weights)  # project state now: Save writes it, closing asks first
        else:
            kept = self.weights is not None
        self._set_state("idle")
        self._set_editing(True)
        self.dashboard.redraw_all()
        if result.ok and result.weights is None:  # stopped before the first batch: nothing to continue from
            self.panel.show_status(result.message)
        elif result.ok:
            done = tr("Training finished.") if result.reason == "completed" else tr("Training stopped.")
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
            if kept:
                message += " " + tr("The weights from before this run were kept.")
            self.panel.show_status(message, error=True)
            self._status_bar(message)
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

    def step_epoch(self) -> None:
        """The rest of the epoch: from a paused run, or a whole first epoch from a new run that then waits."""
        if self.is_training:
            self.session.step_epoch()
        elif self.train(start_paused=True):
            self.session.step_epoch()

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

    def window_closing(self) -> None:
        """The window closes for good: the run has stopped, and the document may outlive this controller."""
        if self.is_training:
            self.stop_and_wait()
        if self._unsubscribe_settings is not None:
            self._unsubscribe_settings()
            self._unsubscribe_settings = None

    def reset_weights(self) -> None:
        """Forget the trained weights: the next run starts afresh (the file goes when the project is saved)."""
        if self.is_training:
            return
        had = self.weights is not None or (self.weights_path() is not None and self.weights_path().is_file())
        self.weights = None
        self.weights_saved = not had
        self.info = self.last_result = None
        self.dashboard.clear()
        self._clear_progress()
        self.panel.show_status(tr("Weights reset: the next run starts from fresh random weights."))
        self.weights_changed.emit()

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
        settings = self.settings()
        refusal = validate_project(project.graph, settings).refusal()
        if refusal is not None:
            self.panel.show_status(tr("Cannot evaluate: {reason}", reason=refusal.split("\n")[0]), error=True)
            return None
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            figures = evaluate_weights(project.graph.copy(), settings, self.weights, self.dataset, self._loader)
        except UserError as exc:
            self.panel.show_status(str(exc), error=True)
            return None
        except Exception as exc:  # noqa: BLE001 - a message in the panel, never a traceback on stderr
            self.panel.show_status(tr("Cannot evaluate: {reason}", reason=f"{type(exc).__name__}: {exc}"), error=True)
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
            pause = self.actions["pause"]
            pause.setEnabled(running)
            pause.blockSignals(True)  # showing the state is not a request to change it
            pause.setChecked(state == "paused")
            pause.blockSignals(False)
            pause.setText(tr("&Resume") if state == "paused" else tr("&Pause"))
            self.actions["stop"].setEnabled(running)
            self.actions["step"].setEnabled(state != "running")
            self.actions["step_epoch"].setEnabled(state != "running")
            self.actions["reset"].setEnabled(not running)
            self.actions["evaluate"].setEnabled(not running)

    # -- closing --------------------------------------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if obj is self.window and event.type() == QEvent.Type.Show and not self._sized:
            self._sized = True
            QTimer.singleShot(0, self, self.size_docks)
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
        if not force and getattr(w, "_layout_before_start", None) is not None:
            # The start page hides the panels, and the layout they come back in when a project opens is the
            # one from before it: they are sized then (see project_opened), at the window's size by then.
            self._size_on_project = True
            return
        w.resizeDocks([d["curves"]], [max(300, int(w.height() * 0.45))], Qt.Orientation.Vertical)
        right = [dock for dock in (getattr(w, "docks", {}).get("inspector"), d["training"]) if dock is not None]
        if len(right) == 2 and w.height() < SHORT_WINDOW:
            # A short window has about 270 pixels above the plots at 1024x768, 385 at 1440x900: shared by the
            # Inspector and the Training panel, the Inspector showed a selected block's title and no parameter.  They are
            # tabs of one column there; selecting a block brings the Inspector to the front (main_window).
            # The undo History goes under the Problems list, so that three tabs share the column's width.
            docks = getattr(w, "docks", {})
            # A panel of the Inspector's group already brought to the front (Learn > Step through, opened before
            # this deferred sizing ran) stays there; else the Training panel is in front.
            front = next((dock for dock in w.tabifiedDockWidgets(right[0]) if dock is not docks.get("history")
                          and dock.isVisible() and not dock.visibleRegion().isEmpty()), None)
            if docks.get("history") is not None and docks.get("problems") is not None:
                w.tabifyDockWidget(docks["problems"], docks["history"])
                docks["problems"].raise_()
            w.tabifyDockWidget(right[0], right[1])
            if docks.get("scrub") is not None and not docks["scrub"].isHidden():
                w.tabifyDockWidget(right[0], docks["scrub"])
            (front or right[1]).raise_()
        elif len(right) == 2:
            w.resizeDocks(right, [max(w.height() // 6, 120), w.height()], Qt.Orientation.Vertical)
        width = max(w.width() - 400, 600)
        w.resizeDocks([d["curves"], d["gradients"], d["feature_maps"]],
                      [int(width * 0.36), int(width * 0.3), int(width * 0.34)], Qt.Orientation.Horizontal)


SAVED_WEIGHTS_STEP = -1  # the "step" of views drawn from a project's saved weights (no run behind them)
SHORT_WINDOW = 1000  # window heights below this (1024x768, 1440x900) put the Inspector and Training panel in tabs


class StagedWeights:
    """A weights file written under a temporary name, waiting for the project save to succeed."""

    def __init__(self, path: Path, weights: dict[str, np.ndarray] | None) -> None:
        self.path = path
        self.tmp: Path | None = None
        if weights is not None:
            # Named like the atomic writer's temporaries, so one left by a killed save is removed at the next.
            self.tmp = temporary_path(write_target(path))
            write_weights(self.tmp, weights)  # atomic itself; refuses NaN weights

    def commit(self) -> None:
        try:
            if self.tmp is not None:
                replace_file(self.tmp, self.path)  # through a symbolic link, keeping the file's permissions
            elif self.path.is_file():
                self.path.unlink()
        except OSError as exc:
            self.discard()
            raise UserError(f"weights file '{self.path}' cannot be written ({exc.strerror or exc})") from None

    def discard(self) -> None:
        if self.tmp is not None and self.tmp.exists():
            self.tmp.unlink()


def evaluate_weights(graph: Any, settings: dict[str, Any], weights: dict[str, np.ndarray], dataset: Any,
                     load_dataset: Callable[..., Any]) -> dict[str, float]:
    """Compile ``graph``, load ``weights`` and measure loss and accuracy on the dataset's test split."""
    from nnstudio.graph.compile import compile_graph  # noqa: PLC0415
    from nnstudio.training.trainer import evaluate  # noqa: PLC0415
    key = (settings.get("dataset"), repr(sorted(dict(settings.get("dataset_options") or {}).items())))
    if dataset is None or getattr(dataset, "_nnstudio_key", key) != key:
        dataset = load_dataset(str(settings.get("dataset", "")), dict(settings.get("dataset_options") or {}))
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


__all__ = ["StagedWeights", "TrainingController", "evaluate_weights", "install_training"]
