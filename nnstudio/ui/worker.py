"""Training in a background QThread: the thread, the mailbox between the threads, and the Qt signals.

Why this exists: the trainer (``nnstudio.training.Trainer``) is a plain generator of events and is the
authority on a run: it validates, builds the model, guards the weights and says how the run ended
(``RunFinished.reason``).  The GUI must stay responsive however fast it yields, so this module only carries
those events across threads:

* :class:`TrainingWorker` lives in its own QThread (the recipe of :mod:`nnstudio.ui.threads`), builds the
  trainer there (CuPy's current stream is per thread), iterates ``trainer.run()`` and obeys the pause / step /
  stop requests of a :class:`RunControl` between yields;
* it never emits a Qt signal per batch: reports go into a :class:`ReportInbox` (batches pile up, events
  queue, views keep only the latest) that the GUI-side :class:`TrainingSession` drains at ~20 Hz and re-emits
  as GUI-thread signals;
* between batches it asks the Qt-free :mod:`nnstudio.training.views` for what the live panels show (decision
  boundary, one sample's layer outputs, histograms, validation predictions; every neuron over the plane from
  :mod:`nnstudio.training.neuron_views`), each throttled to a small share of the run, since only the worker's
  thread may touch the model.
"""
from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from nnstudio.errors import UserError
from nnstudio.training import neuron_views, views
from nnstudio.training.events import BatchReport, EpochReport, ProbeReport, RunFinished, RunStarted
from nnstudio.training.trainer import is_out_of_memory, oom_message
from nnstudio.training.views import Boundary, Histograms, Predictions, Probe
from nnstudio.ui.i18n import tr
from nnstudio.ui.priority import lower_training_priority
from nnstudio.ui.threads import end_worker, start_worker

# Worker-side views: minimum seconds between two updates, and the share of the run each may take.
BOUNDARY_INTERVAL_S = 0.25
PROBE_INTERVAL_S = 1.0
HISTOGRAM_INTERVAL_S = 2.0
NEURON_INTERVAL_S = 0.3
EXTRA_BUDGET = 0.03
# The probe (one sample's layer outputs and its Grad-CAM) and the histograms (a forward pass of a batch with
# every output kept) are the costly views of an image network, and both are wanted at once: together they
# may take EXTRA_BUDGET, so a busy machine shows them less often rather than training more slowly.
PROBE_BUDGET = 0.015
HISTOGRAM_BUDGET = 0.015
# While the playback speed holds each batch back, the worker mostly waits: the views may take this share
# instead, so a class watching the boundary form at 0.2 s per epoch sees it change every epoch.
PLAYBACK_BUDGET = 0.5
DRAIN_INTERVAL_MS = 50  # the GUI sees at most ~20 updates a second
PAUSE_SLICE_S = 0.05


# -- what crosses from the worker to the GUI (plain data, host arrays) ------------------------------------

@dataclass
class TrainingRequest:
    """Everything a run needs, captured when Train is pressed (the graph is a private copy)."""

    graph: Any
    settings: dict[str, Any]
    weights: dict[str, np.ndarray] | None = None
    probe_index: int = 0
    probe_input: np.ndarray | None = None  # e.g. the canvas drawing; overrides probe_index
    start_paused: bool = False  # "Step" before any run: build, then wait for step requests
    epoch_seconds: float = 0.0  # playback speed: the shortest time an epoch may take (0: full speed)
    # The run history (nnstudio.runs): the folder this run is kept in (None: not kept), its name and origin.
    runs_root: Any = None
    run_name: str | None = None
    run_origin: dict[str, Any] | None = None
    views: set[str] = field(default_factory=lambda: {"gradients", "boundary", "probe", "histograms", "predictions",
                                                     "neurons"})


@dataclass
class RunInfo:
    """Sent once the trainer is built: what the panels need to set themselves up (from ``RunStarted``)."""

    dataset: str
    sample_shape: tuple[int, ...]
    num_classes: int
    class_names: list[str]
    task: str
    is_image: bool
    epochs: int
    layers: list[str]  # node ids with parameters, in execution order
    points: np.ndarray | None = None  # (N, 2) training points of a 2-D dataset, subsampled
    labels: np.ndarray | None = None
    extent: tuple[float, float, float, float] | None = None  # x0, x1, y0, y1 of the boundary grid
    backend: str = ""
    steps_per_epoch: int | None = None
    data: Any = None  # the loaded Dataset (host arrays), reused by the next run and the confusion panel
    # Whether the trainer's hint monitor judges this run's gradients (its Hint events are then the only advice
    # about them: it also weighs the loss, which a panel looking at the norms alone cannot).
    trainer_hints: bool = False


@dataclass
class RunResult:
    """How a run ended: ``reason`` is the trainer's (completed, stopped, nan, out_of_memory, error).

    ``weights`` are the model's weights when it ended (the trainer has put back the last good ones after a
    NaN); only an ``ok`` run's weights may replace the project's.
    """

    reason: str
    message: str
    weights: dict[str, np.ndarray] | None
    epoch: int = 0
    global_step: int = 0
    seconds: float = 0.0
    finished: Any = None  # the trainer's own RunFinished (test metrics), when it sent one
    run: Any = None  # the run as the history keeps it (nnstudio.runs.Run), when it was kept
    history_problem: str | None = None  # why the history could not keep it

    @property
    def ok(self) -> bool:
        return self.reason in ("completed", "stopped")


@dataclass
class WeightsSnapshot:
    """The model's weights at the end of an epoch (host copies), for views that follow the run live."""

    epoch: int
    weights: dict[str, np.ndarray]


# -- between the threads ------------------------------------------------------------------------------------

class _StoppedWhilePreparing(Exception):
    """Stop was pressed while a generated dataset was being made."""


class ReportInbox:
    """Thread-safe mailbox: batch reports pile up, ordered events queue, views keep only the latest."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches: list[Any] = []
        self._events: list[Any] = []
        self._latest: dict[str, Any] = {}

    def put_batch(self, report: Any) -> None:
        with self._lock:
            self._batches.append(report)

    def put_event(self, event: Any) -> None:
        with self._lock:
            self._events.append(event)

    def put_latest(self, key: str, value: Any) -> None:
        with self._lock:
            self._latest[key] = value

    def drain(self) -> tuple[list[Any], list[Any], dict[str, Any]]:
        with self._lock:
            batches, events, latest = self._batches, self._events, self._latest
            self._batches, self._events, self._latest = [], [], {}
        return batches, events, latest


class RunControl:
    """Pause / step / stop requests and the wanted views, shared by the GUI and the worker thread.

    A plain object (not a QObject), so the GUI can keep asking it things however the worker's life ends.
    """

    def __init__(self, paused: bool, views_wanted: set[str], probe_index: int, probe_input: np.ndarray | None,
                 epoch_seconds: float = 0.0) -> None:
        self._cond = threading.Condition()
        self.paused = paused
        self.stopped = False
        self.steps = 0
        self.views = set(views_wanted)
        self.probe_index = probe_index
        self.probe_input = probe_input
        self.probe_changed = True
        self.trainer: Any = None
        self.until_epoch_end = False  # "step one epoch": batches go through until the epoch ends
        self.epoch_seconds = epoch_seconds  # playback: the shortest time an epoch may take (0: full speed)

    def pause(self) -> None:
        with self._cond:
            self.paused = True

    def resume(self) -> None:
        with self._cond:
            self.paused = False
            self._cond.notify_all()

    def step(self) -> None:
        """Run one more batch, then stay paused."""
        with self._cond:
            self.paused = True
            self.steps += 1
            self._cond.notify_all()

    def step_epoch(self) -> None:
        """Run to the end of the current epoch, then stay paused."""
        with self._cond:
            self.paused = True
            self.until_epoch_end = True
            self._cond.notify_all()

    def set_playback(self, epoch_seconds: float) -> None:
        with self._cond:
            self.epoch_seconds = max(0.0, float(epoch_seconds))
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self.stopped = True
            self.paused = False
            self._cond.notify_all()
            trainer = self.trainer
        if trainer is not None:
            trainer.request_stop()

    def set_views(self, wanted: set[str]) -> None:
        with self._cond:
            self.views = set(wanted)

    def set_probe(self, index: int | None, sample: np.ndarray | None) -> None:
        with self._cond:
            self.probe_input = None if sample is None else np.asarray(sample, dtype=np.float32)
            if index is not None:
                self.probe_index = int(index)
            self.probe_changed = True

    def snapshot(self) -> tuple[set[str], bool, int, np.ndarray | None]:
        """(views, probe changed since last asked, probe index, probe input) for the worker."""
        with self._cond:
            changed, self.probe_changed = self.probe_changed, False
            return set(self.views), changed, self.probe_index, self.probe_input

    def wait_after(self, after_batch: bool, epoch_ended: bool = False, steps_per_epoch: int = 0,
                   batch_seconds: float = 0.0) -> None:
        """Block the worker while paused (a requested step lets exactly one batch through, a requested epoch
        step the rest of the epoch), and hold each batch long enough for the chosen playback speed."""
        with self._cond:
            if self.until_epoch_end:
                if not epoch_ended:
                    self._hold(after_batch, steps_per_epoch, batch_seconds)
                    return
                self.until_epoch_end = False  # the epoch is done: pause here
            elif self.steps > 0 and after_batch:  # a step was requested: this batch was it
                self.steps -= 1
                if self.steps > 0:
                    return
            else:
                self._hold(after_batch, steps_per_epoch, batch_seconds)
            while self.paused and not self.stopped and self.steps == 0 and not self.until_epoch_end:
                self._cond.wait(PAUSE_SLICE_S)

    def _hold(self, after_batch: bool, steps_per_epoch: int, batch_seconds: float) -> None:
        """Playback: wait out the rest of this batch's share of the epoch's time (stop or pause end it early)."""
        if not after_batch or self.epoch_seconds <= 0 or steps_per_epoch <= 0:
            return
        left = self.epoch_seconds / steps_per_epoch - batch_seconds
        if left > 0 and not self.stopped:
            self._cond.wait(min(left, 5.0))


# -- building the trainer ----------------------------------------------------------------------------------

def default_load_dataset(name: str, options: dict[str, Any] | None = None) -> Any:
    from nnstudio.data.registry import get_dataset  # noqa: PLC0415 - heavy import, only in the worker
    return get_dataset(name, **(options or {}))


def default_make_trainer(request: TrainingRequest, dataset: Any) -> Any:
    """The real trainer for ``request`` (imported here, in the worker thread, only when a run starts)."""
    from nnstudio.training.config import TrainingConfig  # noqa: PLC0415
    from nnstudio.training.trainer import Trainer  # noqa: PLC0415
    settings = dict(request.settings, report_grad_norms="gradients" in request.views)
    trainer = Trainer(request.graph, dataset, TrainingConfig.from_dict(settings), None, request.weights)
    if request.runs_root is not None:
        from nnstudio.runs import RunRecorder, RunStore  # noqa: PLC0415
        trainer.recorder = RunRecorder(RunStore(request.runs_root), request.run_name, request.run_origin)
    return trainer


class _Throttle:
    """Runs a job at most every ``interval`` seconds and at most ``budget`` of the wall time."""

    def __init__(self, interval: float, budget: float = EXTRA_BUDGET) -> None:
        self.interval, self.budget, self.next_at = interval, budget, 0.0

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def ran(self, started: float, finished: float, budget: float | None = None) -> None:
        cost = finished - started
        self.next_at = finished + max(self.interval, cost / (budget or self.budget))


# -- the worker ------------------------------------------------------------------------------------------------

class TrainingWorker(QObject):
    """Iterates the trainer in a QThread; steered through its :class:`RunControl`."""

    done = Signal()

    def __init__(self, request: TrainingRequest, inbox: ReportInbox, control: RunControl,
                 make_trainer: Callable[[TrainingRequest, Any], Any] = default_make_trainer,
                 load_dataset: Callable[..., Any] = default_load_dataset, dataset: Any = None) -> None:
        super().__init__()
        self.request = request
        self.inbox = inbox
        self.control = control
        self._make_trainer = make_trainer
        self._load_dataset = load_dataset
        self.dataset = dataset
        self.trainer: Any = None
        self._throttles = {"boundary": _Throttle(BOUNDARY_INTERVAL_S),
                           "probe": _Throttle(PROBE_INTERVAL_S, PROBE_BUDGET),
                           "histograms": _Throttle(HISTOGRAM_INTERVAL_S, HISTOGRAM_BUDGET),
                           "neurons": _Throttle(NEURON_INTERVAL_S)}
        self._neuron_layout: Any = None  # neuron_views.NeuronLayout, or Unsupported (sent once), on first use
        self._trainer_probes = False
        self._extent: tuple[float, float, float, float] | None = None
        self._plane: dict[str, Any] = {}  # the boundary panel's points and how to judge them (views.boundary)
        self._val_indices: np.ndarray | None = None  # the trainer's validation split, from RunStarted

    # -- the loop (runs in the worker thread) ---------------------------------------------------------------
    def run(self) -> None:
        started = time.perf_counter()
        result: RunResult | None = None
        lower_training_priority()  # the window stays first in line for a core (see ui/priority.py)
        try:
            result = self._run()
        except UserError as exc:
            result = RunResult("error", str(exc), self._weights())
        except Exception as exc:  # noqa: BLE001 - a failed run must end cleanly and say why
            if is_out_of_memory(exc):
                result = RunResult("out_of_memory", oom_message(self.request.settings.get("batch_size"),
                                                                "GPU" in str(self.request.settings.get("backend"))),
                                   None)
            else:
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                result = RunResult("error", tr("Training failed with an internal error:") + " " + detail, None)
        finally:
            if result is None:
                result = RunResult("error", tr("Training ended unexpectedly."), None)
            result.seconds = time.perf_counter() - started
            self.inbox.put_event(result)
            self.done.emit()

    def _run(self) -> RunResult:
        settings = self.request.settings
        if self.dataset is None:
            from nnstudio.data import captcha_digits  # noqa: PLC0415

            def report(done: int, total: int, split: str) -> None:
                self.inbox.put_latest("preparing", (done, total, split))
                if self.control.stopped:
                    raise _StoppedWhilePreparing

            # A generated set made the first time (the captcha example: 45 s) shows how far it got, and Stop
            # ends it (nothing is kept: the next run makes it again).
            try:
                with captcha_digits.reporting(report):
                    self.dataset = self._load_dataset(str(settings.get("dataset", "")),
                                                      dict(settings.get("dataset_options") or {}))
            except _StoppedWhilePreparing:
                return RunResult("stopped", tr("Stopped while the data was being made: nothing was trained."), None)
        self.trainer = self._make_trainer(self.request, self.dataset)  # validates: UserError when it cannot train
        self.control.trainer = self.trainer
        if self.control.stopped:
            self.trainer.request_stop()
        finished: RunFinished | None = None
        last: BatchReport | None = None
        steps_per_epoch = 0
        batch_started = time.perf_counter()
        generator = self.trainer.run()
        try:
            for event in generator:
                if isinstance(event, RunStarted):
                    steps_per_epoch = int(event.steps_per_epoch)
                    self._val_indices = event.val_indices
                    self.inbox.put_event(self._run_info(event))
                elif isinstance(event, BatchReport):
                    last = event
                    self.inbox.put_batch(event)
                    self._views_after_batch(int(event.global_step))
                elif isinstance(event, EpochReport):
                    self.inbox.put_event(event)
                    self._after_epoch(event)
                elif isinstance(event, ProbeReport):
                    self._trainer_probes = True
                    self.inbox.put_latest("probe", views.probe_from_report(event))
                elif isinstance(event, RunFinished):
                    finished = event
                    break
                else:  # Hint and anything newer: the GUI decides
                    self.inbox.put_event(event)
                self.trainer.want_grad_norms = ("gradients" in self.control.snapshot()[0]
                                                or getattr(self.trainer, "recorder", None) is not None)
                is_batch = isinstance(event, BatchReport)
                self.control.wait_after(is_batch, isinstance(event, EpochReport), steps_per_epoch,
                                        time.perf_counter() - batch_started)
                if is_batch:
                    batch_started = time.perf_counter()
        finally:
            generator.close()
        if finished is not None and last is not None:
            self._final_views(int(last.global_step))
        if finished is None:  # the trainer always ends with RunFinished; a generator that did not is a bug
            return RunResult("error", tr("Training ended unexpectedly."), None)
        result = RunResult(finished.reason, finished.message, self._weights(),
                           last.epoch if last is not None else 0, last.global_step if last is not None else 0)
        result.finished = finished
        recorder = getattr(self.trainer, "recorder", None)
        if recorder is not None:
            result.run, result.history_problem = recorder.run, recorder.problem
        return result

    # -- model access (worker thread only) -------------------------------------------------------------------
    @property
    def model(self) -> Any:
        return getattr(self.trainer, "model", None)

    def _weights(self) -> dict[str, np.ndarray] | None:
        from nnstudio.engine.weights_io import weights_are_finite  # noqa: PLC0415
        model = self.model
        if model is None or not getattr(model, "built", True):
            return None
        weights = model.state_dict()
        return weights if weights_are_finite(weights) else None

    def _run_info(self, started: RunStarted) -> RunInfo:
        ds = self.dataset
        info = RunInfo(ds.name, tuple(ds.sample_shape), int(ds.num_classes), list(ds.class_names), ds.task,
                       len(ds.sample_shape) == 3, int(started.total_epochs), list(started.layers),
                       backend=started.backend_name, steps_per_epoch=int(started.steps_per_epoch), data=ds,
                       trainer_hints=bool(getattr(getattr(self.trainer, "config", None), "hints", False)))
        if views.is_plane(ds):
            info.points, info.labels = views.plane_points(ds)
            info.extent = self._extent = views.plane_extent(ds)
            self._plane = views.plane_arguments(ds, str(self.request.settings.get("loss", "cross_entropy")))
        return info

    def _view_jobs(self, model: Any, step: int, index: int, sample: np.ndarray | None) -> dict[str, Callable[[], Any]]:
        """The views this run can make, by key: the boundary and the neurons for points of the plane, the probe
        unless the trainer probes itself, and the histograms."""
        jobs: dict[str, Callable[[], Any]] = {}
        if self._extent is not None:
            jobs["boundary"] = lambda: views.boundary(model, self._extent, step, **self._plane)
        if not self._trainer_probes:
            jobs["probe"] = lambda: views.probe(model, views.probe_sample(self.dataset, sample, index), step)
        jobs["histograms"] = lambda: views.histograms(model, self.dataset, step)
        if self._extent is not None:
            jobs["neurons"] = lambda: self._neurons(step)
        return jobs

    def _views_after_batch(self, step: int) -> None:
        model = self.model
        if model is None:
            return
        wanted, changed, index, sample = self.control.snapshot()
        for key, job in self._view_jobs(model, step, index, sample).items():
            now = time.perf_counter()
            forced = changed and key == "probe"  # a new sample to probe is shown at once
            if key in wanted and (forced or self._throttles[key].due(now)):
                value = job()
                if value is not None:
                    self.inbox.put_latest(key, value)
                self._throttles[key].ran(now, time.perf_counter(),
                                         PLAYBACK_BUDGET if self.control.epoch_seconds > 0 else None)

    def _final_views(self, step: int) -> None:
        """The views as the run leaves the model, whatever their throttles said, for every panel, shown or
        not: each is made once, and a panel looked at after the run shows how it ended.  (A panel raised as a
        short run started, the neuron view of a four-step perceptron run, say, was raised after the run had
        ended and its view had been left out; it then said its view would come "while it trains".)"""
        model = self.model
        if model is None:
            return
        _wanted, _changed, index, sample = self.control.snapshot()
        for key, job in self._view_jobs(model, step, index, sample).items():
            try:
                value = job()
            except Exception:  # noqa: BLE001 - a view that cannot be made (memory, say) is left out: the run itself
                continue  # ended well, and its weights and result must not be lost over a picture
            if key == "neurons" and value is None:  # the reason it cannot lay this network out, every time
                value = self._neuron_layout
            if value is not None:
                self.inbox.put_latest(key, value)

    def _neurons(self, step: int) -> Any:
        """Every neuron over the plane (small dense networks); the reason, once, for any other network."""
        model = self.model
        if self._neuron_layout is None:
            self._neuron_layout = neuron_views.neuron_layout(model)
            if not isinstance(self._neuron_layout, neuron_views.NeuronLayout):
                return self._neuron_layout
        if not isinstance(self._neuron_layout, neuron_views.NeuronLayout):
            return None
        return neuron_views.neuron_view(model, self._extent, step, self._neuron_layout)

    def _after_epoch(self, report: EpochReport) -> None:
        model = self.model
        if model is None:
            return
        epoch = int(report.epoch)
        if "predictions" in self.control.snapshot()[0]:
            # The trainer's validation pass already predicted every validation row: reuse its classes.
            found = views.validation_predictions(self.dataset, self._val_indices,
                                                 report.val_predictions, epoch)
            if found is None:  # no validation split (the test rows), or a trainer that does not send them
                rows, source = views.validation_rows(self.dataset, self._val_indices)
                loss = str(self.request.settings.get("loss", "cross_entropy"))
                found = views.predictions(model, self.dataset, rows, source, epoch, loss)
            if found is not None:
                self.inbox.put_event(found)
        weights = self._weights()
        if weights is not None:
            self.inbox.put_latest("weights", WeightsSnapshot(epoch, weights))


# -- the GUI side ---------------------------------------------------------------------------------------------

class TrainingSession(QObject):
    """One run, seen from the GUI thread: starts the worker's thread and drains the inbox at ~20 Hz."""

    started = Signal(object)  # RunInfo
    batches = Signal(list)  # BatchReport list since the last drain
    epoch = Signal(object)  # EpochReport
    predictions = Signal(object)  # Predictions
    probe = Signal(object)  # Probe
    histograms = Signal(object)  # Histograms
    boundary = Signal(object)  # Boundary
    neurons = Signal(object)  # neuron_views.NeuronView, or neuron_views.Unsupported
    weights = Signal(object)  # WeightsSnapshot after each epoch
    hint = Signal(object)  # the trainer's Hint (and any other event the GUI may want)
    preparing = Signal(object)  # (done, total, split) while a generated dataset is made
    finished = Signal(object)  # RunResult
    paused_changed = Signal(bool)

    def __init__(self, request: TrainingRequest, parent: QObject | None = None,
                 make_trainer: Callable[[TrainingRequest, Any], Any] = default_make_trainer,
                 load_dataset: Callable[..., Any] = default_load_dataset, dataset: Any = None) -> None:
        super().__init__(parent)
        self.inbox = ReportInbox()
        self.control = RunControl(request.start_paused, request.views, request.probe_index, request.probe_input,
                                  request.epoch_seconds)
        self._worker_args = (request, self.inbox, self.control, make_trainer, load_dataset, dataset)
        self.thread: Any = None
        self._worker: TrainingWorker | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self.drain)
        self.result: RunResult | None = None
        self.info: RunInfo | None = None
        self._running = False

    @property
    def is_running(self) -> bool:
        return self._running

    @property
    def is_paused(self) -> bool:
        return self._running and self.control.paused

    def start(self) -> None:
        # Held while it runs (it has no parent); released once its thread has ended (nnstudio.ui.threads).
        self._worker = TrainingWorker(*self._worker_args)
        self._running = True
        self._timer.start()
        self.thread = start_worker(self._worker, self._worker.done, "nnstudio-training", self._on_thread_finished)

    def pause(self) -> None:
        if self._running:
            self.control.pause()
            self.paused_changed.emit(True)

    def resume(self) -> None:
        if self._running:
            self.control.resume()
            self.paused_changed.emit(False)

    def step(self) -> None:
        if self._running:
            self.control.step()
            self.paused_changed.emit(True)

    def step_epoch(self) -> None:
        if self._running:
            self.control.step_epoch()
            self.paused_changed.emit(True)

    def set_playback(self, epoch_seconds: float) -> None:
        self.control.set_playback(epoch_seconds)

    def stop(self) -> None:
        if self._running:
            self.control.stop()

    def stop_and_wait(self, timeout_ms: int = 5000) -> bool:
        """Ask the run to stop and block until its thread ended (True) or the timeout passed (False)."""
        if not self._running:
            return True
        self.control.stop()
        ended = self.thread.wait(timeout_ms)
        if ended:
            self._on_thread_finished()
        return ended

    def set_views(self, wanted: set[str]) -> None:
        self.control.set_views(wanted)

    def set_probe(self, index: int | None = None, sample: np.ndarray | None = None) -> None:
        self.control.set_probe(index, sample)

    def drain(self) -> None:
        """Hand everything the worker produced since the last call to the GUI, coalesced."""
        batches, events, latest = self.inbox.drain()
        for event in events:
            if isinstance(event, RunInfo):
                self.info = event
                self.started.emit(event)
        if batches:
            self.batches.emit(batches)
        for key in ("preparing", "probe", "histograms", "boundary", "neurons", "weights"):
            if key in latest:
                getattr(self, key).emit(latest[key])
        for event in events:
            if isinstance(event, RunInfo):
                continue
            if isinstance(event, RunResult):
                self.result = event
            elif isinstance(event, Predictions):
                self.predictions.emit(event)
            elif isinstance(event, EpochReport):
                self.epoch.emit(event)
            else:
                self.hint.emit(event)

    def _on_thread_finished(self) -> None:
        if not self._running:
            return
        self._running = False
        self._timer.stop()
        self.drain()
        end_worker(self.thread)
        self._worker = None  # freed here, in the GUI thread, now that its thread has ended
        result = self.result or RunResult("error", tr("Training ended unexpectedly."), None)
        self.result = result
        self.finished.emit(result)


__all__ = ["Boundary", "Histograms", "Predictions", "Probe", "ReportInbox", "RunControl", "RunInfo", "RunResult",
           "TrainingRequest", "TrainingSession", "TrainingWorker", "WeightsSnapshot", "default_load_dataset",
           "default_make_trainer"]
