"""Recording a run as it trains: curves, hints, weight snapshots and the end, into a run folder.

Why this exists: the CLI's ``nnstudio train`` and the GUI's worker both iterate the same trainer; the
trainer hands every event to its ``recorder`` (one hook, :meth:`Trainer.run`), so a run is stored the same
way whichever front end started it.  The recorder runs in the trainer's thread, between batches, and only
appends to lists, except when a weight snapshot is due (see :func:`snapshot_steps`): then it writes the
model's weights to ``snapshots/`` at once, so a long run does not hold them in memory.

A recording problem (a full disk, a read-only folder) never ends a run: the recorder stops recording,
keeps the message in ``problem`` and the front end says that this run was not kept.
"""
from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from nnstudio.errors import UserError
from nnstudio.i18n import _
from nnstudio.runs.store import (BATCH_COLUMNS, EPOCH_COLUMNS, RUN_FORMAT, RUN_VERSION, Run, RunStore, csv_text,
                                 load_run, write_json)

PREVIEW_POINTS = 60  # values of the loss kept in run.json for the mini curve of lists
MAX_EPOCH_SNAPSHOTS = 40  # at most this many end-of-epoch snapshots; more epochs: every k-th epoch
INTERNAL_SETTINGS = ("report_grad_norms", "probe_every", "probe_samples", "eval_batch_size")


def epoch_interval(total_epochs: int) -> int:
    """Every how many epochs a snapshot is kept (1 up to MAX_EPOCH_SNAPSHOTS epochs)."""
    return max(1, math.ceil(int(total_epochs) / MAX_EPOCH_SNAPSHOTS))


def is_early_snapshot(global_step: int, steps_per_epoch: int) -> bool:
    """Inside the first epoch, snapshots at steps 1, 2, 4, 8, ...: early training changes fastest."""
    return 0 < global_step < steps_per_epoch and (global_step & (global_step - 1)) == 0


def snapshot_steps(total_epochs: int, steps_per_epoch: int) -> list[int]:
    """The global steps a completed run keeps snapshots at (0 is the initial weights)."""
    steps = [0] + [s for s in range(1, steps_per_epoch) if is_early_snapshot(s, steps_per_epoch)]
    k = epoch_interval(total_epochs)
    steps += [e * steps_per_epoch for e in range(1, total_epochs + 1) if e % k == 0 or e == total_epochs]
    return steps


def preview(values: np.ndarray, points: int = PREVIEW_POINTS) -> list[float | None]:
    """``values`` averaged over at most ``points`` equal slices (NaN ignored): a list's mini curve without
    reading the run's CSV files."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return []
    edges = np.linspace(0, values.size, min(points, values.size) + 1).astype(int)
    out: list[float | None] = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        part = values[lo:hi]
        part = part[np.isfinite(part)]
        out.append(round(float(part.mean()), 6) if part.size else None)
    return out


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


class RunRecorder:
    """Stores one run of a trainer in ``store``.  Set it as ``trainer.recorder`` before iterating the run.

    ``name`` is what lists show ("lr=0.01"); ``origin`` says where the run came from, e.g.
    ``{"twin_of": "0003", "change": "..."}``, ``{"sweep": "...", "trial": 2}`` or
    ``{"continued_from": "0003", "step": 120}``.
    """

    def __init__(self, store: RunStore, name: str | None = None, origin: dict[str, Any] | None = None,
                 project_name: str = "", snapshots: bool = True) -> None:
        self.store = store
        self.name = name
        self.origin = dict(origin or {})
        self.project_name = project_name
        self.keep_snapshots = snapshots
        self.run_id: str | None = None
        self.partial: Path | None = None
        self.run: Run | None = None  # the stored run, once it ended
        self.problem: str | None = None
        self._meta: dict[str, Any] = {}
        self._batches: list[tuple[Any, ...]] = []
        self._grad_rows: list[tuple[int, dict[str, float]]] = []
        self._epochs: list[tuple[Any, ...]] = []
        self._hints: list[dict[str, Any]] = []
        self._snapshots: list[dict[str, Any]] = []
        self._steps_per_epoch = 0
        self._total_epochs = 0
        self._global_step = 0
        self._epoch = 0
        self._started = 0.0
        self._done = False

    @property
    def active(self) -> bool:
        return self.partial is not None and not self._done and self.problem is None

    # -- the hook ---------------------------------------------------------------------------------------------
    def observe(self, event: Any, trainer: Any) -> None:
        """Called by the trainer with every event before it is yielded (in the trainer's thread)."""
        if self._done or self.problem is not None:
            return
        try:
            self._observe(event, trainer)
        except UserError as exc:
            self._fail(str(exc))
        except OSError as exc:
            self._fail(f"run folder '{self.partial}' cannot be written ({exc.strerror or exc})")

    def _observe(self, event: Any, trainer: Any) -> None:
        kind = type(event).__name__
        if kind == "RunStarted":
            self._begin(event, trainer)
        elif self.partial is None:
            return
        elif kind == "BatchReport":
            self._global_step, self._epoch = int(event.global_step), int(event.epoch)
            self._batches.append((event.epoch, event.step, event.global_step, event.loss, event.accuracy, event.lr))
            if event.grad_norms:
                self._grad_rows.append((int(event.global_step), dict(event.grad_norms)))
            if is_early_snapshot(self._global_step, self._steps_per_epoch):
                self._snapshot(trainer)
        elif kind == "EpochReport":
            self._epochs.append((event.epoch, event.train_loss, event.train_acc, event.val_loss, event.val_acc,
                                 event.seconds, self._global_step))
            k = epoch_interval(self._total_epochs)
            if int(event.epoch) % k == 0 or int(event.epoch) == self._total_epochs:
                self._snapshot(trainer)
        elif kind == "Hint":
            self._hints.append({"kind": event.kind, "node": event.node_id, "text": event.text, "epoch": event.epoch,
                                "step": event.step})
        elif kind == "RunFinished":
            self._finish(event, trainer)

    def close(self) -> None:
        """The run's generator ended: a run that never reached RunFinished is kept as ended by an error."""
        if self._done or self.partial is None:
            return
        if self.problem is not None or not self._batches:
            self._abandon()
            return
        try:
            self._write(None, "error", "the run ended without finishing", None)
        except (UserError, OSError) as exc:
            self._fail(str(exc))

    # -- steps --------------------------------------------------------------------------------------------------
    def _begin(self, event: Any, trainer: Any) -> None:
        self.run_id, self.partial = self.store.begin()
        trainer.want_grad_norms = True  # kept for the gradient overlay (the hint monitor measures them anyway)
        self._started = time.perf_counter()
        self._steps_per_epoch = int(event.steps_per_epoch)
        self._total_epochs = int(event.total_epochs)
        config = trainer.config.to_dict()
        settings = {k: v for k, v in config.items() if k not in INTERNAL_SETTINGS}
        self._meta = {
            "format": RUN_FORMAT, "version": RUN_VERSION, "id": self.run_id,
            "name": self.name or _("Run {number}").format(number=int(self.run_id)), "project": self.project_name,
            "started": _now(), "backend": event.backend_name, "param_count": int(event.param_count),
            "steps_per_epoch": self._steps_per_epoch, "epochs": self._total_epochs,
            "n_train": int(event.n_train), "n_val": int(event.n_val), "n_test": int(event.n_test),
            "layers": list(event.layers), "settings": settings, "graph": trainer.graph.to_dict(),
            "origin": self.origin,
        }
        self._snapshot(trainer)  # the initial weights: step 0 of the timeline

    def _snapshot(self, trainer: Any) -> None:
        if not self.keep_snapshots or getattr(trainer, "model", None) is None:
            return
        from nnstudio.engine.weights_io import weights_are_finite, write_weights  # noqa: PLC0415
        if self._snapshots and self._snapshots[-1]["step"] == self._global_step:
            return
        weights = trainer.state_dict()
        if not weights_are_finite(weights):
            return
        name = f"snapshots/step-{self._global_step:07d}.npz"
        assert self.partial is not None
        (self.partial / "snapshots").mkdir(exist_ok=True)
        write_weights(self.partial / name, weights)
        self._snapshots.append({"step": self._global_step, "epoch": max(self._epoch, 0), "file": name})

    def _finish(self, event: Any, trainer: Any) -> None:
        weights = None
        if getattr(trainer, "model", None) is not None:
            from nnstudio.engine.weights_io import weights_are_finite  # noqa: PLC0415
            state = trainer.state_dict()
            weights = state if weights_are_finite(state) else None
        if weights is not None and event.steps_done and event.reason in ("completed", "stopped"):
            self._snapshot(trainer)  # a stopped run's last moment is on the timeline too
        metrics: dict[str, Any] = {"test_loss": event.test_loss, "test_acc": event.test_acc}
        for key, value in (event.test_metrics or {}).items():
            metrics[f"test_{key}"] = list(value) if isinstance(value, tuple) else value
        if self._epochs:
            last = self._epochs[-1]
            metrics.update(train_loss=last[1], train_acc=last[2], val_loss=last[3], val_acc=last[4])
        elif self._batches:
            metrics.update(train_loss=self._batches[-1][3])
        self._meta.update(epochs_done=int(event.epochs_done), steps_done=int(event.steps_done))
        self._write(weights, event.reason, event.message, metrics, float(event.seconds or 0.0))

    def _write(self, weights: Any, reason: str, message: str, metrics: dict[str, Any] | None,
               seconds: float | None = None) -> None:
        from nnstudio.engine.weights_io import write_weights  # noqa: PLC0415
        assert self.partial is not None and self.run_id is not None
        part = self.partial
        if weights is not None:
            write_weights(part / "weights.npz", weights)
        (part / "curves.csv").write_text(csv_text(BATCH_COLUMNS, self._batches), encoding="utf-8")
        (part / "epochs.csv").write_text(csv_text(EPOCH_COLUMNS, self._epochs), encoding="utf-8")
        if self._grad_rows:
            layers = list(self._meta.get("layers") or [])
            for _step, norms in self._grad_rows:
                layers += [k for k in norms if k not in layers]
            rows = [(step, *(norms.get(k) for k in layers)) for step, norms in self._grad_rows]
            (part / "gradients.csv").write_text(csv_text(["global_step", *layers], rows), encoding="utf-8")
        self._meta["preview_loss"] = preview(np.array([b[3] for b in self._batches], dtype=np.float64))
        self._meta.update(
            finished=_now(), seconds=seconds if seconds is not None else time.perf_counter() - self._started,
            end_reason=reason, message=message, metrics=metrics or {}, hints=self._hints, snapshots=self._snapshots,
            weights="weights.npz" if weights is not None else None)
        self._meta.setdefault("epochs_done", len(self._epochs))
        self._meta.setdefault("steps_done", self._global_step)
        write_json(part / "run.json", self._meta)
        final = self.store.commit(self.run_id, part)
        self._done = True
        self.partial = None
        self.run = load_run(final)

    def _fail(self, message: str) -> None:
        self.problem = _("this run is not kept in the history: {reason}").format(reason=message)
        self._abandon()

    def _abandon(self) -> None:
        if self.partial is not None:
            self.store.abandon(self.partial)
        self.partial = None
        self._done = True


__all__ = ["MAX_EPOCH_SNAPSHOTS", "RunRecorder", "epoch_interval", "is_early_snapshot", "preview", "snapshot_steps"]
