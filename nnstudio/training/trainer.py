"""The training loop: a generator of plain events that the GUI's worker thread and the CLI both drive.

Why this exists: training must be pausable, steppable and stoppable from the GUI and printable from the
CLI, with one implementation.  :meth:`Trainer.run` is a generator: it compiles the network *inside* the
generator (so a worker thread builds its own model: CuPy's current stream is per thread), then yields a
:class:`~nnstudio.training.events.RunStarted`, one ``BatchReport`` per batch, one ``EpochReport`` per
epoch, ``ProbeReport`` and ``Hint`` events when due, and a final ``RunFinished``.  The caller decides when
to ask for the next event, which is all pausing needs; :meth:`Trainer.request_stop` ends the run after the
current batch, and :meth:`Trainer.step_once` trains exactly one more batch of the same run.

What it guarantees:

* Host -> device crossings: one per batch (inputs and labels), plus reporting (floats, small host arrays).
* Deterministic: the same graph, data and seed give the same initial weights, the same validation split,
  the same batch order, augmentation and dropout masks, hence the same losses.
* A NaN / infinite loss stops the run with reason "error" and puts back the last weights whose loss was
  finite (a device copy of the parameters is refreshed before every update, which costs one memory copy).
* A GPU out-of-memory error (matched by class name, so CuPy is not imported here) stops the run cleanly
  with advice about the batch size.
* A dataset whose samples do not fit the Input node is refused when the trainer is created, with a
  UserError naming both shapes.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from nnstudio.data.augment import augment_images
from nnstudio.data.dataset import split_indices
from nnstudio.engine.backend import Backend, get_backend, shown_name, to_device, to_host
from nnstudio.engine.losses import Loss, get_loss
from nnstudio.engine.losses import accuracy as device_accuracy
from nnstudio.engine.model import Model, apply_activation
from nnstudio.engine.optimizers import make_optimizer, make_schedule
from nnstudio.engine.regularization import Regularizer
from nnstudio.errors import UserError
from nnstudio.graph.compile import compile_graph
from nnstudio.i18n import _, ngettext
from nnstudio.training import metrics
from nnstudio.training.config import TrainingConfig
from nnstudio.training.events import BatchReport, EpochReport, Hint, ProbeReport, RunFinished, RunStarted
from nnstudio.training.hints import HintMonitor, facts_from_model
from nnstudio.training.validation import require_trainable

SPEED_SMOOTHING = 0.9  # exponential smoothing of the step time behind samples/s and the ETA
HINT_PROBE_SAMPLES = 64  # samples in the hint monitor's own probe batch


@dataclass
class Evaluation:
    """Metrics of a model on one split.  Classification: accuracy and confusion; regression: mse and r2."""

    n: int
    loss: float
    accuracy: float | None = None
    confusion: np.ndarray | None = None
    per_position: tuple[float, ...] | None = None
    mse: float | None = None
    r2: float | None = None
    predictions: np.ndarray | None = None  # the predicted class of each sample (classifiers)


def load_dataset(config: TrainingConfig, use: str = "all") -> Any:
    """The dataset a config names, with its options (loaded lazily: the registry is a heavy import).

    ``use`` = "run": only what a :class:`Trainer` with this config reads (its training pool, see
    :func:`training_pool`, and its test samples); "test": only the test samples within ``max_test_samples``;
    "all": the whole set.  The parts matter for a set made sample by sample (captchas, 4 ms each); other sets
    are loaded whole.  A Trainer given the "run" part trains on the same samples, in the same order, as on the
    whole set.
    """
    from nnstudio.data.registry import generated_sizes, get_dataset, get_dataset_rows  # noqa: PLC0415

    if use not in ("all", "run", "test"):
        raise ValueError(f"load_dataset: use must be 'all', 'run' or 'test', not {use!r}")
    sizes = generated_sizes(config.dataset, **config.dataset_options) if use != "all" else None
    if sizes is not None:
        n_train, n_test = sizes
        test_count = tested_count(n_test, config)
        rows = training_pool(n_train, config) if use == "run" else np.zeros(0, dtype=np.int64)
        # A run on every training sample loads the whole set, cached once for any test limit (and the window).
        if use == "test" or len(rows) < n_train:
            return get_dataset_rows(config.dataset, rows, test_count, **config.dataset_options)
    return get_dataset(config.dataset, **config.dataset_options)


def training_pool(n: int, config: TrainingConfig) -> np.ndarray:
    """The rows of a training set of ``n`` samples a run with ``config`` uses (before its validation split):
    all of them, or ``max_train_samples`` of them picked with the run's seed, in ascending order."""
    if config.max_train_samples is not None and config.max_train_samples < n:
        return np.sort(np.random.default_rng(config.seed).permutation(n)[:config.max_train_samples])
    return np.arange(n)


def tested_count(n: int, config: TrainingConfig) -> int:
    """How many of a test set of ``n`` samples (the first ones) a run with ``config`` scores."""
    return n if config.max_test_samples is None else min(n, config.max_test_samples)


def is_out_of_memory(exc: BaseException) -> bool:
    """CuPy's OutOfMemoryError (by class name: CuPy is only imported by the backend) or a host MemoryError."""
    return isinstance(exc, MemoryError) or "OutOfMemory" in type(exc).__name__


def quiet_numbers() -> Any:
    """NumPy's floating-point warnings off, around a training step's arithmetic.

    A run that diverges overflows to inf and then NaN inside the step; the trainer notices (a loss that is not
    finite ends the run with :func:`nan_message` and the weights from before), so NumPy's own "overflow" and
    "invalid value" RuntimeWarnings would only print noise on the terminal.  Entered and left within one step,
    never across a ``yield``: NumPy keeps this state in a context variable, which a generator shares with
    whoever iterates it."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")


def nan_message(epoch: int, step: int) -> str:
    """What a run that diverged says (the CLI prints it, the GUI shows it)."""
    return _("loss became NaN at epoch {epoch}, step {step}: lower the learning rate or enable gradient clipping "
             "(the weights from before that step were kept)").format(epoch=epoch, step=step)


def oom_message(batch_size: int, gpu: bool) -> str:
    """What a run that ran out of memory says."""
    if gpu:
        return _("the GPU ran out of memory with batch size {batch_size}: choose a smaller batch size (or a "
                 "smaller network) and train again").format(batch_size=batch_size)
    return _("this computer ran out of memory with batch size {batch_size}: choose a smaller batch size (or a "
             "smaller network) and train again").format(batch_size=batch_size)


def _probabilities(model: Model, loss: Loss, out: Any, squashed: Any = None) -> Any:
    """The model's output as the loss reads it, squashed when the loss was handed raw scores (``squashed``:
    what the loss computed of them on the way, see ``Loss.value_grad_probabilities``)."""
    if loss.fuses_with is not None and model.loss_from_logits(loss):
        return squashed if squashed is not None else apply_activation(model.xp, loss.fuses_with, out)
    return out


def evaluate(model: Model, x: np.ndarray, y: np.ndarray, loss: Loss | str, task: str, num_classes: int,
             batch_size: int = 256, progress: Callable[[int, int], None] | None = None) -> Evaluation:
    """Loss and metrics of ``model`` on host arrays ``x``, ``y`` (evaluation mode, in batches); ``progress(done,
    n)`` is called after each batch."""
    loss = get_loss(loss) if isinstance(loss, str) else loss
    n = int(len(x))
    if n == 0:
        return Evaluation(0, float("nan"))
    xp = model.xp
    total = 0.0
    outputs = []
    for i in range(0, n, batch_size):
        xd = to_device(x[i:i + batch_size], xp, model.dtype)
        yd = to_device(y[i:i + batch_size], xp)
        out = model.forward(xd, training=False, logits=loss.fuses_with or False)
        value, _, squashed = loss.value_grad_probabilities(out, yd, model.loss_from_logits(loss))
        total += float(value) * len(xd)
        outputs.append(to_host(_probabilities(model, loss, out, squashed)))
        if progress is not None:
            progress(min(i + batch_size, n), n)
    result = Evaluation(n, total / n)
    out_host = np.concatenate(outputs, axis=0)
    y = np.asarray(y)
    if task == "regression" or num_classes == 0:
        result.mse = metrics.mse(out_host, y)
        result.r2 = metrics.r2_score(out_host, y)
        return result
    if task == "multi_digit" and out_host.ndim == 3:
        seq = metrics.sequence_accuracy(out_host, y)
        result.accuracy, result.per_position = seq.whole, seq.per_position
    else:
        result.accuracy = metrics.accuracy(out_host, y, loss.name)
    pred = metrics.predicted_classes(out_host, loss.name, y)
    k = max(int(num_classes), 2)
    result.confusion = metrics.confusion_matrix(metrics.target_classes(y), pred, k)
    result.predictions = pred
    return result


def _graph_and_training(source: Any) -> tuple[Any, dict[str, Any] | None]:
    """(graph, training dict or None) from a Project or a bare Graph."""
    if hasattr(source, "graph") and hasattr(source, "training"):
        return source.graph, source.training
    if hasattr(source, "nodes") and hasattr(source, "edges"):
        return source, None
    raise TypeError(f"Trainer needs a Project or a Graph, not {type(source).__name__}")


class Trainer:
    """Trains a graph on a dataset.  Iterate :meth:`run`; see the module docstring for the guarantees.

    ``weights`` (a state dict, e.g. from a previous run) are loaded after compiling, to continue training.
    ``want_grad_norms`` and ``probe_every`` / ``probe_inputs`` may be changed between events.
    """

    def __init__(self, source: Any, dataset: Any, config: TrainingConfig | dict[str, Any] | None = None,
                 backend: Backend | str | None = None, weights: dict[str, np.ndarray] | None = None) -> None:
        graph, training = _graph_and_training(source)
        if config is None:
            config = TrainingConfig.from_dict(training or {})
        elif isinstance(config, dict):
            config = TrainingConfig.from_dict(config)
        self.config: TrainingConfig = config
        self.graph = graph.copy()  # edits in the editor during a run cannot change the running network
        self.dataset = dataset
        self.backend: Backend = backend if isinstance(backend, Backend) else \
            get_backend(backend if backend is not None else config.backend)
        self.initial_weights = weights
        self.initial_weights_source = "the weights to continue from"  # the CLI names the file instead
        self.model: Model | None = None
        self.want_grad_norms: bool = config.report_grad_norms
        self.probe_every: int = config.probe_every
        self.probe_inputs: np.ndarray | None = None
        self.finished: RunFinished | None = None
        self.test_result: Evaluation | None = None
        # Sees every event before it is yielded, in this thread (nnstudio.runs.RunRecorder: the run history).
        self.recorder: Any = None
        self._stop = False
        self._events_gen: Iterator[Any] | None = None
        self._check_fits()
        self._prepare_indices()

    # -- set-up ---------------------------------------------------------------------------------------------
    def _check_fits(self) -> None:
        # The one validation step the Problems panel, the Train action and `nnstudio check` also use.
        require_trainable(self.graph, self.config.to_dict(), self.dataset)

    def _prepare_indices(self) -> None:
        cfg, ds = self.config, self.dataset
        pool = training_pool(int(ds.n_train), cfg)
        if cfg.validation_split > 0 and len(pool) >= 2:
            fit, val = split_indices(len(pool), cfg.validation_split, cfg.seed)
            self.fit_indices, self.val_indices = pool[fit], pool[val]
        else:
            self.fit_indices, self.val_indices = pool, np.zeros(0, dtype=np.int64)
        if len(self.fit_indices) == 0:
            raise UserError(_("dataset '{name}' has no training samples left (validation_split={split}); lower "
                              "the validation split").format(name=ds.name, split=cfg.validation_split))
        self.n_test = tested_count(int(ds.n_test), cfg)
        self.steps_per_epoch = math.ceil(len(self.fit_indices) / cfg.batch_size)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.config.epochs

    # -- control ----------------------------------------------------------------------------------------------
    def request_stop(self) -> None:
        """End the run after the current batch (safe to call from another thread)."""
        self._stop = True

    def run(self) -> Iterator[Any]:
        """The events of the run (continues where :meth:`step_once` left off)."""
        yield from self._generator()

    def _generator(self) -> Iterator[Any]:
        if self._events_gen is None:
            self._events_gen = self._events() if self.recorder is None else self._recorded(self._events())
        return self._events_gen

    def _recorded(self, events: Iterator[Any]) -> Iterator[Any]:
        """The events, each shown to the recorder first; a run that ends early is closed in the history."""
        try:
            for event in events:
                self.recorder.observe(event, self)
                yield event
        finally:
            self.recorder.close()

    def step_once(self) -> list[Any]:
        """Train exactly one more batch; returns the events up to and including its BatchReport.

        The first call starts the run (RunStarted comes first); events of an epoch end (EpochReport) come
        with the batch after it.  After the last batch it returns the RunFinished.  Not to be mixed with a
        :meth:`run` iteration in progress on another thread.
        """
        out: list[Any] = []
        for event in self._generator():
            out.append(event)
            if isinstance(event, (BatchReport, RunFinished)):
                break
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        """Host copies of the weights (after or during the run)."""
        if self.model is None:
            raise RuntimeError("the model is built when run() starts; iterate run() first")
        return self.model.state_dict()

    # -- the loop ---------------------------------------------------------------------------------------------
    def _events(self) -> Iterator[Any]:
        cfg, ds = self.config, self.dataset
        started = time.perf_counter()
        model = compile_graph(self.graph, self.backend, seed=cfg.seed)
        self.model = model
        if self.initial_weights is not None:
            model.load_state_dict(self.initial_weights, source=self.initial_weights_source)
        xp = model.xp
        loss = get_loss(cfg.loss)
        optimizer = make_optimizer(cfg.optimizer, cfg.learning_rate, momentum=cfg.momentum,
                                   weight_decay=cfg.weight_decay, clip_norm=cfg.clip_norm)
        penalty = Regularizer(cfg.l1, cfg.l2)  # its value joins the training loss reported; see its module
        step_size = cfg.step_epochs * self.steps_per_epoch if cfg.step_epochs else None
        schedule = make_schedule(cfg.schedule, cfg.learning_rate, self.total_steps, step_size, cfg.gamma)
        regression = ds.task == "regression" or ds.num_classes == 0
        monitor = HintMonitor(facts_from_model(model, cfg.loss, cfg.learning_rate, cfg.clip_norm, ds.is_image,
                                               cfg.augment, ds.task)) if cfg.hints else None

        # The monitor judges the same facts in every front end: gradient norms of every batch and its own
        # probes of held-out samples, whatever the views asked for (their probes are not its business).
        hint_probe = self._hint_probe_batch() if monitor is not None else None

        def emit(event: Any) -> list[Any]:
            hints = monitor.observe(event) if monitor is not None and not isinstance(event, ProbeReport) else []
            if isinstance(event, BatchReport) and not self.want_grad_norms:
                event.grad_norms = None  # measured for the monitor only
            return [event] + hints

        state = _WeightGuard(model)
        shuffle_rng = np.random.default_rng([cfg.seed, 1])
        augment_rng = np.random.default_rng([cfg.seed, 2])
        augment = cfg.augment and ds.is_image
        layers = [nid for nid in model.order if nid != model.input_id and model.layer(nid).params]
        yield from emit(RunStarted(cfg.epochs, self.steps_per_epoch, len(self.fit_indices), len(self.val_indices),
                                   shown_name(self.backend), model.param_count(), self.n_test, layers,
                                   np.array(self.val_indices, copy=True)))
        global_step = 0
        epochs_done = 0
        step_time: float | None = None
        bs = cfg.batch_size
        updating = False
        try:
            for epoch in range(1, cfg.epochs + 1):
                epoch_start = time.perf_counter()
                order = self.fit_indices[shuffle_rng.permutation(len(self.fit_indices))]
                loss_sum = acc_sum = 0.0
                seen = 0
                for step in range(1, self.steps_per_epoch + 1):
                    if self._stop:
                        yield from self._finish("stopped", _("training stopped"), epochs_done, global_step, model,
                                                loss, state, started)
                        return
                    t0 = time.perf_counter()
                    idx = np.sort(order[(step - 1) * bs: step * bs])
                    xb = np.asarray(ds.x_train[idx], dtype=np.float32)
                    if augment:
                        xb = augment_images(xb, augment_rng)
                    xd = to_device(xb, xp, model.dtype)
                    yd = to_device(np.asarray(ds.y_train[idx]), xp)
                    lr = float(schedule(global_step))
                    call = model.begin_call(model.call_key(xd.shape, training=True))  # the engine times its steps to pick its threads
                    with quiet_numbers():
                        out = model.forward(xd, training=True, logits=loss.fuses_with or False)
                        from_logits = model.loss_from_logits(loss)
                        value_dev, grad, probabilities = loss.value_grad_probabilities(out, yd, from_logits)
                        value = float(value_dev) + penalty.penalty(model)
                    if not math.isfinite(value):
                        state.restore()
                        message = nan_message(epoch, step)
                        bad = BatchReport(epoch, step, global_step + 1, value, float("nan"), lr, 0.0, None, 0.0)
                        if monitor is not None:
                            yield from monitor.observe(bad)
                        self.finished = RunFinished("nan", message, epochs_done, steps_done=global_step,
                                                    seconds=time.perf_counter() - started)
                        yield self.finished
                        return
                    state.save()  # these weights gave a finite loss: the ones to go back to
                    with quiet_numbers():
                        acc = float("nan") if regression else \
                            device_accuracy(_probabilities(model, loss, out, probabilities), yd, cfg.loss).value
                        model.backward(grad)
                        penalty.add_gradients(model)
                        norms = model.grad_norms() if self.want_grad_norms or monitor is not None else None
                        updating = True  # an error inside the update leaves it half applied: undo it
                        optimizer.step(model.parameters(), lr)
                        updating = False
                    model.end_call(call)
                    global_step += 1
                    n_b = len(idx)
                    loss_sum += value * n_b
                    acc_sum += acc * n_b
                    seen += n_b
                    dt = time.perf_counter() - t0
                    step_time = dt if step_time is None else SPEED_SMOOTHING * step_time + (1 - SPEED_SMOOTHING) * dt
                    remaining = self.total_steps - global_step
                    yield from emit(BatchReport(epoch, step, global_step, value, acc, lr,
                                                n_b / max(step_time, 1e-9), norms, remaining * step_time))
                    if self.probe_every and global_step % self.probe_every == 0:
                        yield from emit(self._probe(model, global_step))
                    if monitor is not None and monitor.wants_probe(global_step):
                        yield from monitor.observe(self._probe(model, global_step, hint_probe))
                epochs_done = epoch
                yield from emit(self._epoch_report(model, loss, epoch, loss_sum / max(seen, 1),
                                                   acc_sum / max(seen, 1), time.perf_counter() - epoch_start))
            yield from self._finish("completed", ngettext("trained {count} epoch", "trained {count} epochs",
                                                          cfg.epochs).format(count=cfg.epochs),
                                    epochs_done, global_step, model, loss, state, started)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            if updating or not state.current_is_finite():
                state.restore()
            self.finished = RunFinished("out_of_memory", oom_message(bs, self.backend.is_gpu), epochs_done,
                                        steps_done=global_step, seconds=time.perf_counter() - started)
            yield self.finished

    def _finish(self, reason: str, message: str, epochs_done: int, steps: int, model: Model, loss: Loss,
                state: "_WeightGuard", started: float) -> Iterator[Any]:
        if not state.current_is_finite():
            state.restore()
        ds = self.dataset
        result = RunFinished(reason, message, epochs_done, steps_done=steps)
        if self.n_test > 0:
            test = evaluate(model, ds.x_test[:self.n_test], ds.y_test[:self.n_test], loss, ds.task,
                            int(ds.num_classes), self.config.eval_batch_size)
            self.test_result = test
            result.test_loss, result.test_acc, result.test_confusion = test.loss, test.accuracy, test.confusion
            result.test_metrics = {k: v for k, v in (("mse", test.mse), ("r2", test.r2),
                                                     ("per_position", test.per_position)) if v is not None}
        result.seconds = time.perf_counter() - started
        self.finished = result
        yield result

    def _epoch_report(self, model: Model, loss: Loss, epoch: int, train_loss: float, train_acc: float,
                      seconds: float) -> EpochReport:
        ds = self.dataset
        report = EpochReport(epoch, train_loss, train_acc, None, None, None, seconds)
        if len(self.val_indices):
            val = evaluate(model, ds.x_train[self.val_indices], ds.y_train[self.val_indices], loss, ds.task,
                           int(ds.num_classes), self.config.eval_batch_size)
            report.val_loss = val.loss
            report.val_acc = val.accuracy if val.accuracy is not None else float("nan")
            report.confusion = val.confusion
            report.val_per_position = val.per_position
            if ds.task == "classification" and ds.num_classes >= 2:
                report.val_predictions = val.predictions
        elif self.n_test > 0 and ds.task != "regression" and ds.num_classes >= 2:
            test = evaluate(model, ds.x_test[:self.n_test], ds.y_test[:self.n_test], loss, ds.task,
                            int(ds.num_classes), self.config.eval_batch_size)
            report.confusion = test.confusion
        report.seconds = seconds
        return report

    def _hint_probe_batch(self) -> np.ndarray:
        """The fixed samples the hint monitor probes: held-out ones when there are, else training ones."""
        pool = self.val_indices if len(self.val_indices) else self.fit_indices
        return np.asarray(self.dataset.x_train[pool[:HINT_PROBE_SAMPLES]], dtype=np.float32)

    def _probe(self, model: Model, step: int, inputs: np.ndarray | None = None) -> ProbeReport:
        ds, k = self.dataset, self.config.probe_samples
        if inputs is not None:
            batch = inputs
        elif self.probe_inputs is not None:
            batch = np.asarray(self.probe_inputs, dtype=np.float32)
            if batch.shape == tuple(ds.sample_shape):
                batch = batch[None]
        elif len(self.val_indices):
            batch = np.asarray(ds.x_train[self.val_indices[:k]], dtype=np.float32)
        elif self.n_test > 0:
            batch = np.asarray(ds.x_test[:min(k, self.n_test)], dtype=np.float32)
        else:
            batch = np.asarray(ds.x_train[self.fit_indices[:k]], dtype=np.float32)
        model.forward(to_device(batch, model.xp, model.dtype), training=False, capture=True)
        acts = {nid: np.array(to_host(a)) for nid, a in model.activations.items() if nid != model.input_id}
        model.activations = {}
        return ProbeReport(acts, step, batch)


class _WeightGuard:
    """A device copy of every parameter and buffer, refreshed before each update, to undo a diverged step."""

    def __init__(self, model: Model) -> None:
        self.xp = model.xp
        self.arrays = []
        for nid in model.order:
            if nid == model.input_id:
                continue
            layer = model.layer(nid)
            self.arrays.extend(layer.params.values())
            self.arrays.extend(layer.buffers.values())
        self.copies = [self.xp.array(a, copy=True) for a in self.arrays]

    def save(self) -> None:
        for copy, array in zip(self.copies, self.arrays):
            copy[...] = array

    def restore(self) -> None:
        for copy, array in zip(self.copies, self.arrays):
            array[...] = copy

    def current_is_finite(self) -> bool:
        if not self.arrays:
            return True
        flags = self.xp.stack([self.xp.isfinite(a).all() for a in self.arrays])
        return bool(to_host(flags.all()))


__all__ = ["Evaluation", "Hint", "Trainer", "evaluate", "is_out_of_memory", "load_dataset", "nan_message",
           "oom_message", "tested_count", "training_pool"]
