"""Training in a background QThread, with throttled, coalesced reports for the GUI.

Why this exists: the trainer is a plain generator of events (``nnstudio.training``); the GUI must stay
responsive however fast it yields.  :class:`TrainingWorker` lives in its own QThread (``moveToThread``,
``started -> run``, ``done -> quit``, ``deleteLater``), builds the trainer there (CuPy's current stream is
per thread), iterates ``trainer.run()`` and checks the stop / pause / step flags between yields.  It never
emits a Qt signal per batch: every report goes into a :class:`ReportInbox` (a lock-protected host buffer
where batch reports accumulate and the latest probe / boundary / histogram wins) and the GUI-side
:class:`TrainingSession` drains it on a ~20 Hz QTimer and re-emits it as GUI-thread signals.

Besides passing the trainer's events on, the worker computes the views only it can compute cheaply, because
only its thread may touch the model: the decision-boundary grid for 2-D inputs, feature maps of a chosen
sample, weight and activation histograms, and the validation predictions behind the confusion matrix.  Each
is rate-limited and adapts its interval to its own cost, so together they take a few percent of the run.
"""
from __future__ import annotations

import math
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QMutex, QMutexLocker, QObject, Qt, QThread, QTimer, QWaitCondition, Signal

from nnstudio.engine.backend import to_device, to_host
from nnstudio.errors import UserError
from nnstudio.ui.i18n import tr
from nnstudio.ui.priority import lower_training_priority

# Worker-side views: minimum seconds between two updates, and the share of the run each may take.
BOUNDARY_INTERVAL_S = 0.25
PROBE_INTERVAL_S = 1.0
HISTOGRAM_INTERVAL_S = 2.0
EXTRA_BUDGET = 0.03
BOUNDARY_GRID = 64
HISTOGRAM_BINS = 40
HISTOGRAM_SAMPLES = 32
VALIDATION_PREDICT_LIMIT = 5000
DRAIN_INTERVAL_MS = 50  # the GUI sees at most ~20 updates a second
PAUSE_SLICE_MS = 50


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
    views: set[str] = field(default_factory=lambda: {"gradients", "boundary", "probe", "histograms", "predictions"})


@dataclass
class RunInfo:
    """Sent once the trainer is built: what the panels need to set themselves up."""

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


@dataclass
class Probe:
    """Outputs of every layer for one sample: (C, H, W) maps for conv / pool, vectors for dense."""

    step: int
    activations: dict[str, np.ndarray]
    kinds: dict[str, str]
    input: np.ndarray | None = None


@dataclass
class Histograms:
    """Per-layer histograms (counts, bin edges) of weights and of activations on a probe batch."""

    step: int
    weights: dict[str, tuple[np.ndarray, np.ndarray]]
    activations: dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass
class Boundary:
    """The model's output over the plane: (H, W, K) class probabilities, or (H, W) for one output."""

    step: int
    extent: tuple[float, float, float, float]
    values: np.ndarray


@dataclass
class Predictions:
    """Validation predictions after an epoch, to show the samples behind a confusion-matrix cell."""

    epoch: int
    indices: np.ndarray  # rows of dataset.x_train (or x_test when there is no validation split)
    source: str  # "train" or "test"
    y_true: np.ndarray
    y_pred: np.ndarray


@dataclass
class RunResult:
    """How a run ended: reason is finished, stopped, nan, error or out_of_memory."""

    reason: str
    message: str
    weights: dict[str, np.ndarray] | None
    epoch: int = 0
    global_step: int = 0
    seconds: float = 0.0
    finished: Any = None  # the trainer's own RunFinished (test metrics), when it sent one


def event_kind(event: Any) -> str:
    """Events are matched by class name so the worker depends only on the documented contract."""
    return type(event).__name__


def nan_message(epoch: int, step: int) -> str:
    return tr("loss became NaN at epoch {epoch}, step {step}: lower the learning rate or enable gradient "
              "clipping", epoch=epoch, step=step)


def oom_message(batch_size: Any) -> str:
    return tr("The GPU ran out of memory with batch size {batch}: choose a smaller batch size (or the NumPy "
              "backend) and train again.", batch=batch_size)


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or "OutOfMemory" in type(exc).__name__


def input_shape_of(graph: Any) -> tuple[int, ...] | None:
    """The shape set on the graph's Input node (None when it has none)."""
    for node in getattr(graph, "nodes", {}).values():
        if node.type == "Input":
            shape = node.params.get("shape")
            return tuple(int(s) for s in shape) if shape is not None else None
    return None


def check_dataset_fits(graph: Any, dataset: Any) -> None:
    """Refuse a dataset whose samples do not match the Input node, naming both shapes."""
    expected = input_shape_of(graph)
    found = tuple(int(s) for s in dataset.sample_shape)
    if expected is not None and expected != found:
        raise UserError(tr("Dataset '{name}' has samples of shape {found}, but the Input node expects {expected}. "
                           "Change the Input block's sample shape or pick another dataset.",
                           name=dataset.name, found=list(found), expected=list(expected)))


# -- the inbox between the threads ---------------------------------------------------------------------

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


# -- building the trainer ----------------------------------------------------------------------------------

def default_load_dataset(name: str) -> Any:
    from nnstudio.data.registry import get_dataset  # noqa: PLC0415 - heavy import, only in the worker
    return get_dataset(name)


def default_make_trainer(request: TrainingRequest, dataset: Any) -> Any:
    """The real trainer for ``request`` (imported here, in the worker thread, only when a run starts)."""
    from nnstudio.training.config import TrainingConfig  # noqa: PLC0415
    from nnstudio.training.trainer import Trainer  # noqa: PLC0415
    settings = dict(request.settings, report_grad_norms="gradients" in request.views)
    return Trainer(request.graph, dataset, TrainingConfig.from_dict(settings), None, request.weights)


class _Throttle:
    """Runs a job at most every ``interval`` seconds and at most ``budget`` of the wall time."""

    def __init__(self, interval: float, budget: float = EXTRA_BUDGET) -> None:
        self.interval, self.budget, self.next_at = interval, budget, 0.0

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def ran(self, started: float, finished: float) -> None:
        cost = finished - started
        self.next_at = finished + max(self.interval, cost / self.budget)


# -- the worker ------------------------------------------------------------------------------------------------

class TrainingWorker(QObject):
    """Iterates the trainer in a QThread; controlled from the GUI thread through thread-safe methods."""

    done = Signal()

    def __init__(self, request: TrainingRequest, inbox: ReportInbox,
                 make_trainer: Callable[[TrainingRequest, Any], Any] = default_make_trainer,
                 load_dataset: Callable[[str], Any] = default_load_dataset, dataset: Any = None) -> None:
        super().__init__()
        self.request = request
        self.inbox = inbox
        self._make_trainer = make_trainer
        self._load_dataset = load_dataset
        self.dataset = dataset
        self.trainer: Any = None
        self._mutex = QMutex()
        self._wake = QWaitCondition()
        self._paused = request.start_paused
        self._stop = False
        self._steps = 0
        self._views = set(request.views)
        self._probe_input = request.probe_input
        self._probe_index = request.probe_index
        self._probe_changed = True
        self._good_weights: dict[str, np.ndarray] | None = request.weights
        self._trainer_probes = False
        self._throttles = {"boundary": _Throttle(BOUNDARY_INTERVAL_S), "probe": _Throttle(PROBE_INTERVAL_S),
                           "histograms": _Throttle(HISTOGRAM_INTERVAL_S)}
        self._val_cache: tuple[np.ndarray, str] | None = None
        self._last_batch: Any = None

    # -- control (called from the GUI thread) ---------------------------------------------------------------
    def pause(self) -> None:
        with QMutexLocker(self._mutex):
            self._paused = True

    def resume(self) -> None:
        with QMutexLocker(self._mutex):
            self._paused = False
            self._wake.wakeAll()

    def step(self) -> None:
        """Run one more batch, then stay paused."""
        with QMutexLocker(self._mutex):
            self._paused = True
            self._steps += 1
            self._wake.wakeAll()

    def stop(self) -> None:
        with QMutexLocker(self._mutex):
            self._stop = True
            self._paused = False
            self._wake.wakeAll()
        trainer = self.trainer
        if trainer is not None and hasattr(trainer, "request_stop"):
            trainer.request_stop()

    def set_views(self, views: set[str]) -> None:
        with QMutexLocker(self._mutex):
            self._views = set(views)

    def set_probe(self, index: int | None = None, sample: np.ndarray | None = None) -> None:
        with QMutexLocker(self._mutex):
            self._probe_input = None if sample is None else np.asarray(sample, dtype=np.float32)
            if index is not None:
                self._probe_index = int(index)
            self._probe_changed = True

    @property
    def paused(self) -> bool:
        return self._paused

    # -- the loop (runs in the worker thread) ---------------------------------------------------------------
    def run(self) -> None:
        started = time.perf_counter()
        result: RunResult | None = None
        lower_training_priority()  # the window stays first in line for a core (see ui/priority.py)
        try:
            result = self._run()
        except UserError as exc:
            result = RunResult("error", str(exc), self._good_weights)
        except Exception as exc:  # noqa: BLE001 - a failed run must end cleanly and say why
            if is_out_of_memory(exc):
                result = RunResult("out_of_memory", oom_message(self.request.settings.get("batch_size")),
                                   self._good_weights)
            else:
                result = RunResult("error", tr("Training failed with an internal error:") + "\n"
                                   + "".join(traceback.format_exception_only(type(exc), exc)).strip(),
                                   self._good_weights)
                result.message += "\n\n" + traceback.format_exc()
        finally:
            if result is None:
                result = RunResult("error", tr("Training ended unexpectedly."), self._good_weights)
            result.seconds = time.perf_counter() - started
            self.inbox.put_event(result)
            self.done.emit()

    def _run(self) -> RunResult:
        settings = self.request.settings
        if self.dataset is None:
            self.dataset = self._load_dataset(str(settings.get("dataset", "")))
        check_dataset_fits(self.request.graph, self.dataset)
        self.trainer = self._make_trainer(self.request, self.dataset)
        if self._stop:
            self.trainer.request_stop()
        last_epoch, last_step, nan_at, finished = 0, 0, None, None
        announced = False
        stop_sent = False
        after_stop = 0
        generator = self.trainer.run()
        try:
            for event in generator:
                kind = event_kind(event)
                if not announced:  # the trainer builds its model when the run starts
                    announced = True
                    self._snapshot_weights()  # the starting point is the first "last good" state
                    self.inbox.put_event(self._run_info(event))
                if kind == "BatchReport":
                    last_epoch, last_step = int(event.epoch), int(event.global_step)
                    self._last_batch = event
                    self.inbox.put_batch(event)
                    if not math.isfinite(float(event.loss)) and nan_at is None:
                        nan_at = (int(event.epoch), int(event.step))
                    else:
                        self._views_after_batch(int(event.global_step))
                    if self._stop:
                        after_stop += 1
                elif kind == "EpochReport":
                    self.inbox.put_event(event)
                    self._snapshot_weights()
                    self._predictions_after_epoch(int(event.epoch))
                elif kind == "ProbeReport":
                    self._trainer_probes = True
                    self.inbox.put_latest("probe", self._probe_from_trainer(event))
                elif kind == "RunFinished":
                    finished = event
                    break
                else:  # RunStarted, Hint and anything newer: the GUI decides
                    self.inbox.put_event(event)
                if nan_at is not None and finished is None:
                    if hasattr(self.trainer, "request_stop"):
                        self.trainer.request_stop()
                    break
                if hasattr(self.trainer, "want_grad_norms"):
                    with QMutexLocker(self._mutex):
                        self.trainer.want_grad_norms = "gradients" in self._views
                if self._stop and not stop_sent:
                    stop_sent = True
                    self.trainer.request_stop()
                if after_stop > 2:  # the trainer does not honour request_stop: stop iterating it
                    break
                self._wait_while_paused(kind == "BatchReport")
        finally:
            generator.close()
        return self._result(finished, nan_at, last_epoch, last_step)

    def _wait_while_paused(self, after_batch: bool) -> None:
        with QMutexLocker(self._mutex):
            if self._steps > 0 and after_batch:  # a step was requested: this batch was it
                self._steps -= 1
                if self._steps > 0:
                    return
            while self._paused and not self._stop and self._steps == 0:
                self._wake.wait(self._mutex, PAUSE_SLICE_MS)

    def _result(self, finished: Any, nan_at: tuple[int, int] | None, epoch: int, step: int) -> RunResult:
        reason = str(getattr(finished, "reason", "")) if finished is not None else ""
        message = str(getattr(finished, "message", "") or "")
        reason = {"completed": "finished"}.get(reason, reason)
        if reason == "error" and "NaN" in message:
            reason = "nan"
        elif reason == "error" and "out of memory" in message:
            reason = "out_of_memory"
        if nan_at is not None and reason in ("", "stopped", "finished", "nan"):
            reason, message = "nan", message if reason == "nan" and message else nan_message(*nan_at)
        elif not reason:
            reason = "stopped" if self._stop else "finished"
        weights = self._current_weights()
        if weights is None or not all(np.isfinite(w).all() for w in weights.values()):
            weights = self._good_weights
        result = RunResult(reason, message, weights, epoch, step)
        result.finished = finished
        return result

    # -- model access (worker thread only) -------------------------------------------------------------------
    @property
    def model(self) -> Any:
        return getattr(self.trainer, "model", None)

    def _current_weights(self) -> dict[str, np.ndarray] | None:
        model = self.model
        if model is None or not getattr(model, "built", True):
            return None
        return model.state_dict()

    def _snapshot_weights(self) -> None:
        weights = self._current_weights()
        if weights is not None and all(np.isfinite(w).all() for w in weights.values()):
            self._good_weights = weights

    def _run_info(self, first_event: Any) -> RunInfo:
        ds = self.dataset
        model = self.model
        layers: list[str] = list(getattr(first_event, "layers", []) or [])
        if model is not None and not layers:
            layers = [nid for nid in model.order if nid != model.input_id and model.layer(nid).params]
        info = RunInfo(ds.name, tuple(ds.sample_shape), int(ds.num_classes), list(ds.class_names), ds.task,
                       len(ds.sample_shape) == 3, int(self.request.settings.get("epochs", 1)), layers,
                       backend=str(getattr(getattr(self.trainer, "backend", None), "human_name", "")))
        steps = getattr(self.trainer, "steps_per_epoch", None)
        if steps is None:
            split = float(self.request.settings.get("validation_split", 0.0) or 0.0)
            n_fit = ds.n_train - int(round(ds.n_train * split))
            steps = math.ceil(n_fit / max(int(self.request.settings.get("batch_size", 1) or 1), 1))
        info.steps_per_epoch = int(steps)
        if tuple(ds.sample_shape) == (2,):
            x = np.asarray(ds.x_train)
            keep = np.random.default_rng(0).permutation(len(x))[:1000]
            info.points, info.labels = x[keep].astype(np.float32), np.asarray(ds.y_train)[keep]
            info.extent = self._extent()
        return info

    def _views_after_batch(self, step: int) -> None:
        model = self.model
        if model is None:
            return
        with QMutexLocker(self._mutex):
            views = set(self._views)
            changed = self._probe_changed
            self._probe_changed = False
        now = time.perf_counter()
        if "boundary" in views and tuple(self.dataset.sample_shape) == (2,) and self._throttles["boundary"].due(now):
            self.inbox.put_latest("boundary", self._boundary(model, step))
            self._throttles["boundary"].ran(now, time.perf_counter())
        now = time.perf_counter()
        if "probe" in views and not self._trainer_probes and (changed or self._throttles["probe"].due(now)):
            self.inbox.put_latest("probe", self._probe(model, step))
            self._throttles["probe"].ran(now, time.perf_counter())
        now = time.perf_counter()
        if "histograms" in views and self._throttles["histograms"].due(now):
            self.inbox.put_latest("histograms", self._histograms(model, step))
            self._throttles["histograms"].ran(now, time.perf_counter())

    def _extent(self) -> tuple[float, float, float, float]:
        """The plane shown by the boundary view: the training points' box plus a margin."""
        x = np.asarray(self.dataset.x_train)
        lo, hi = x.min(axis=0), x.max(axis=0)
        pad = 0.15 * np.maximum(hi - lo, 1e-3)
        return float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])

    def _boundary(self, model: Any, step: int) -> Boundary:
        x0, x1, y0, y1 = self._extent()
        gx, gy = np.meshgrid(np.linspace(x0, x1, BOUNDARY_GRID, dtype=np.float32),
                             np.linspace(y0, y1, BOUNDARY_GRID, dtype=np.float32))
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
        out = model.predict(grid, batch_size=BOUNDARY_GRID * BOUNDARY_GRID)
        out = out.reshape(BOUNDARY_GRID, BOUNDARY_GRID, -1)
        values = out[..., 0] if out.shape[-1] == 1 else out
        return Boundary(step, (x0, x1, y0, y1), values.astype(np.float32))

    def _probe_sample(self) -> np.ndarray:
        with QMutexLocker(self._mutex):
            sample, index = self._probe_input, self._probe_index
        if sample is not None and tuple(sample.shape) == tuple(self.dataset.sample_shape):
            return sample.astype(np.float32)
        x = self.dataset.x_test if len(self.dataset.x_test) else self.dataset.x_train
        return np.asarray(x[int(index) % len(x)], dtype=np.float32)

    def _probe(self, model: Any, step: int) -> Probe:
        sample = self._probe_sample()
        model.forward(to_device(sample[None], model.xp, model.dtype), training=False, capture=True)
        activations, kinds = {}, {}
        for nid in model.order:
            if nid == model.input_id or nid not in model.activations:
                continue
            kind = getattr(model.layer(nid), "type_name", type(model.layer(nid)).__name__)
            value = model.activations[nid]
            if kind in ("Conv2D", "Pool2D", "Dense") or (nid == model.output_id and value.ndim == 2):
                activations[nid] = np.asarray(to_host(value[0]), dtype=np.float32)
                kinds[nid] = kind
        model.activations = {}
        return Probe(step, activations, kinds, sample)

    def _probe_from_trainer(self, event: Any) -> Probe:
        acts = {}
        for nid, value in dict(getattr(event, "activations", {}) or {}).items():
            arr = np.asarray(value, dtype=np.float32)
            # A batch of one sample (N, ...) becomes the sample's own output.
            acts[str(nid)] = arr[0] if arr.ndim in (2, 4) else arr
        kinds = {nid: ("Conv2D" if a.ndim == 3 else "Dense") for nid, a in acts.items()}
        return Probe(int(getattr(event, "step", 0)), acts, kinds, None)

    def _histograms(self, model: Any, step: int) -> Histograms:
        weights: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for nid in model.order:
            if nid == model.input_id:
                continue
            for name, param in model.layer(nid).params.items():
                if param.ndim >= 2:  # weights and kernels; biases are too few values to histogram
                    weights[f"{nid}/{name}"] = _histogram(to_host(param))
        activations: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        x = self.dataset.x_test if len(self.dataset.x_test) else self.dataset.x_train
        batch = np.asarray(x[:HISTOGRAM_SAMPLES], dtype=np.float32)
        model.forward(to_device(batch, model.xp, model.dtype), training=False, capture=True)
        # The outputs of the non-linearities tell most (dead ReLUs, saturated sigmoids); without any, all layers.
        ids = [nid for nid in model.order if nid != model.input_id and nid in model.activations]
        chosen = [nid for nid in ids if getattr(model.layer(nid), "type_name", "") == "Activation"] or \
            [nid for nid in ids if getattr(model.layer(nid), "type_name", "") not in ("Flatten", "Reshape", "Dropout")]
        for nid in chosen:
            activations[nid] = _histogram(to_host(model.activations[nid]))
        model.activations = {}
        return Histograms(step, weights, activations)

    def _validation(self) -> tuple[np.ndarray, str]:
        if self._val_cache is None:
            ds = self.dataset
            trainer_idx = getattr(self.trainer, "val_indices", None)
            if trainer_idx is not None:
                self._val_cache = (np.asarray(trainer_idx), "train")
            else:
                from nnstudio.data.dataset import split_indices  # noqa: PLC0415
                split = float(self.request.settings.get("validation_split", 0.0) or 0.0)
                seed = int(self.request.settings.get("seed", 0) or 0)
                _, val = split_indices(ds.n_train, split, seed) if split > 0 else (None, np.zeros(0, int))
                self._val_cache = (val, "train") if len(val) else (np.arange(ds.n_test), "test")
            idx, source = self._val_cache
            self._val_cache = (idx[:VALIDATION_PREDICT_LIMIT], source)
        return self._val_cache

    def _predictions_after_epoch(self, epoch: int) -> None:
        ds, model = self.dataset, self.model
        with QMutexLocker(self._mutex):
            wanted = "predictions" in self._views
        if not wanted or model is None or ds.task != "classification" or ds.num_classes < 2:
            return
        idx, source = self._validation()
        x = ds.x_train if source == "train" else ds.x_test
        y = ds.y_train if source == "train" else ds.y_test
        if len(idx) == 0:
            return
        out = model.predict(np.asarray(x[idx], dtype=np.float32), batch_size=256)
        pred = (out[:, 0] > 0.5).astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1)
        self.inbox.put_event(Predictions(epoch, idx, source, np.asarray(y[idx]).astype(np.int64), pred))


def _histogram(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return np.zeros(HISTOGRAM_BINS), np.linspace(-1, 1, HISTOGRAM_BINS + 1)
    lo, hi = float(flat.min()), float(flat.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(flat, bins=HISTOGRAM_BINS, range=(lo, hi))
    return counts.astype(np.float64), edges


# -- the GUI side ---------------------------------------------------------------------------------------------

class TrainingSession(QObject):
    """One run, seen from the GUI thread: owns the thread and worker, drains the inbox at ~20 Hz."""

    started = Signal(object)  # RunInfo
    batches = Signal(list)  # BatchReport list since the last drain
    epoch = Signal(object)  # EpochReport
    predictions = Signal(object)  # Predictions
    probe = Signal(object)  # Probe
    histograms = Signal(object)  # Histograms
    boundary = Signal(object)  # Boundary
    hint = Signal(object)  # the trainer's Hint (and any other event the GUI may want)
    finished = Signal(object)  # RunResult
    paused_changed = Signal(bool)

    def __init__(self, request: TrainingRequest, parent: QObject | None = None,
                 make_trainer: Callable[[TrainingRequest, Any], Any] = default_make_trainer,
                 load_dataset: Callable[[str], Any] = default_load_dataset, dataset: Any = None) -> None:
        super().__init__(parent)
        self.inbox = ReportInbox()
        self.thread = QThread()
        self.thread.setObjectName("nnstudio-training")
        self.worker = TrainingWorker(request, self.inbox, make_trainer, load_dataset, dataset)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        # Direct: QThread.quit is thread-safe, and stop_and_wait() blocks the GUI thread's event loop.
        self.worker.done.connect(self.thread.quit, Qt.ConnectionType.DirectConnection)
        self.thread.finished.connect(self._on_thread_finished)
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
        return self._running and self.worker.paused

    def start(self) -> None:
        self._running = True
        self._timer.start()
        self.thread.start()

    def pause(self) -> None:
        if self._running:
            self.worker.pause()
            self.paused_changed.emit(True)

    def resume(self) -> None:
        if self._running:
            self.worker.resume()
            self.paused_changed.emit(False)

    def step(self) -> None:
        if self._running:
            self.worker.step()
            self.paused_changed.emit(True)

    def stop(self) -> None:
        if self._running:
            self.worker.stop()

    def stop_and_wait(self, timeout_ms: int = 5000) -> bool:
        """Ask the run to stop and block until its thread ended (True) or the timeout passed (False)."""
        if not self._running:
            return True
        self.worker.stop()
        ended = self.thread.wait(timeout_ms)
        if ended:
            self._on_thread_finished()
        return ended

    def set_views(self, views: set[str]) -> None:
        self.worker.set_views(views)

    def set_probe(self, index: int | None = None, sample: np.ndarray | None = None) -> None:
        self.worker.set_probe(index, sample)

    def drain(self) -> None:
        """Hand everything the worker produced since the last call to the GUI, coalesced."""
        batches, events, latest = self.inbox.drain()
        result = None
        for event in events:
            if isinstance(event, RunInfo):
                self.info = event
                self.started.emit(event)
        if batches:
            self.batches.emit(batches)
        for key in ("probe", "histograms", "boundary"):
            if key in latest:
                getattr(self, key).emit(latest[key])
        for event in events:
            kind = event_kind(event)
            if isinstance(event, RunInfo):
                continue
            if isinstance(event, RunResult):
                result = event
            elif isinstance(event, Predictions):
                self.predictions.emit(event)
            elif kind == "EpochReport":
                self.epoch.emit(event)
            else:
                self.hint.emit(event)
        if result is not None:
            self.result = result

    def _on_thread_finished(self) -> None:
        if not self._running:
            return
        self._running = False
        self._timer.stop()
        self.drain()
        self.worker.deleteLater()
        result = self.result or RunResult("error", tr("Training ended unexpectedly."), None)
        self.result = result
        self.finished.emit(result)
