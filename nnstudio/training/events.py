"""The reports a training run yields: plain dataclasses holding host floats and small NumPy arrays.

Why this exists: the trainer is a generator; the GUI's worker thread, the CLI and the tests all consume the
same stream.  Events never hold device (CuPy) arrays or references into the model, so they can cross
threads and be kept in histories safely.  Consumers match them by class name or ``isinstance``.

Counting: ``epoch`` and ``step`` are 1-based (step within the epoch); ``global_step`` counts the batches
trained so far in this run, so the first BatchReport has ``global_step == 1``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class RunStarted:
    """The model is built and the data is ready; what the panels need to set themselves up."""

    total_epochs: int
    steps_per_epoch: int
    n_train: int  # samples trained on per epoch (after the validation split)
    n_val: int
    backend_name: str
    param_count: int
    n_test: int = 0
    layers: list[str] = field(default_factory=list)  # ids of the layers with parameters, in order
    # The validation split: rows of the dataset's training arrays held out (empty without a split), so views
    # such as the confusion matrix use exactly the trainer's split.
    val_indices: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def total_steps(self) -> int:
        return self.total_epochs * self.steps_per_epoch


@dataclass
class BatchReport:
    """One trained batch.  ``accuracy`` is NaN for regression; ``grad_norms`` only when requested."""

    epoch: int
    step: int
    global_step: int
    loss: float
    accuracy: float
    lr: float
    samples_per_s: float
    grad_norms: dict[str, float] | None
    eta_s: float


@dataclass
class EpochReport:
    """One finished epoch: training means over its batches, validation metrics (None without a split)."""

    epoch: int
    train_loss: float
    train_acc: float
    val_loss: float | None
    val_acc: float | None
    confusion: np.ndarray | None  # (K, K) counts, rows = true class, on the validation (else test) set
    seconds: float
    val_per_position: tuple[float, ...] | None = None  # captcha-style outputs: accuracy of each position
    # The class the model predicts for each validation row, in the order of RunStarted.val_indices (classifiers
    # with a validation split; None otherwise): the GUI's confusion panel shows the samples behind its cells
    # from these instead of running the model over the validation set a second time.
    val_predictions: np.ndarray | None = None


@dataclass
class ProbeReport:
    """Every node's output for a fixed probe batch (host arrays, batch axis first), at ``step``."""

    activations: dict[str, np.ndarray]
    step: int
    inputs: np.ndarray | None = None


@dataclass
class Hint:
    """Advice in plain words about the running training, with a one-click fix.

    ``kind`` is a stable name (``learning_rate``, ``exploding_gradients``, ``vanishing_gradients``,
    ``overfitting``, ``dead_relu``, ``loss_activation``, ``cannot_separate``); ``node_id`` the block it is
    about, or None for the whole network; ``epoch`` and ``step`` (the run's global step, 1-based) say when
    it was noticed (0 before the first batch).

    ``fix`` keys: training settings by name (``{"learning_rate": 0.0001}``, ``{"clip_norm": 1.0}``,
    ``{"augment": True}``); ``"nodes"``: ``{node_id: {param: value}}`` parameter changes; ``"insert"``:
    a list of ``{"type", "params", "after"}`` blocks, applied in list order, each wired in right after its
    ``after`` node and taking over that node's outgoing wires (so a chain after one node is listed last block
    first); ``"reset_weights": True``: the fix changes how weights start or what they mean (initialisation,
    activation, new blocks), so trained weights are discarded and the next run starts afresh; the hint's
    text says so.  Empty when no automatic fix exists.
    """

    kind: str
    node_id: str | None
    text: str
    fix: dict[str, Any] = field(default_factory=dict)
    epoch: int = 0
    step: int = 0

    @property
    def message(self) -> str:
        return self.text


@dataclass
class RunFinished:
    """The run ended.  ``reason`` is one of :data:`END_REASONS`:

    * "completed": every epoch ran; "stopped": ``request_stop`` ended it early (both keep the weights);
    * "nan": the loss became NaN or infinite (the weights from before that step are put back);
    * "out_of_memory": the device or the host ran out of memory; "error": anything else that ended it.

    Test metrics are filled for "completed" and "stopped"; ``test_acc`` is None for regression, where
    ``test_metrics`` holds ``mse`` and ``r2``.
    """

    reason: str
    message: str
    epochs_done: int
    test_loss: float | None = None
    test_acc: float | None = None
    steps_done: int = 0
    test_confusion: np.ndarray | None = None
    test_metrics: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the run ended as asked (completed or stopped), so its weights may replace earlier ones."""
        return self.reason in ("completed", "stopped")


END_REASONS = ("completed", "stopped", "nan", "out_of_memory", "error")

Event = RunStarted | BatchReport | EpochReport | ProbeReport | Hint | RunFinished
