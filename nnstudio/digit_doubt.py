"""When the drawing canvas should say "not sure" instead of "> 99 % 7".

Why this exists: a softmax always picks a class, and a network trained only on digits is often very sure
about a scribble, a letter or a dot.  The canvas must be honest about inputs that are not digits.  The rule
(measured by ``tools/measure_not_sure.py``, figures in ``docs/explain.md``):

1. **Too small**: the ink's bounding box spans less than 10 % of the canvas side (a dot or a tick).  The
   MNIST preprocessing would blow it up to a 20-pixel blob that the network reads with confidence.
2. **Unlike any digit**: the network's own view of the drawing (the features entering its last Dense layer,
   scaled to unit length) is farther from its nearest neighbour among 1,000 training digits than 95 % of
   those training digits are from theirs (leave-one-out).  The threshold is calibrated per network from the
   digits themselves, so about 5 % of real digits are flagged by construction, for the shipped model and a
   project's model alike (deep nearest neighbours, Sun et al. 2022).
3. **Unsure**: the most likely class has less than half the probability.

The digit bank (about 1,000 forward passes in batches) is computed again after the weights change; the
canvas has it computed in a background thread on a copy of the network, and until it is ready applies the
other two checks.  No Qt here.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnstudio.data.drawing import ink_image
from nnstudio.engine.backend import to_device, to_host
from nnstudio.engine.model import Model

MIN_EXTENT = 0.10  # of the canvas side
BANK_SIZE = 1000
QUANTILE = 0.95
MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Verdict:
    """Whether to trust the prediction, and if not, why: "too_small", "unlike_digits" or "unsure"."""

    sure: bool
    reason: str = ""
    distance: float | None = None  # to the nearest training digit, in the network's features
    threshold: float | None = None


def ink_extent(gray: np.ndarray) -> float:
    """The ink's bounding box's longer side as a share of the canvas's longer side (0 without ink)."""
    ink = ink_image(gray) > 0.1
    if not ink.any():
        return 0.0
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) / max(ink.shape)


def feature_node(model: Model) -> str:
    """The node feeding the network's last Dense layer (its input when there is no Dense)."""
    denses = [nid for nid in model.order if nid != model.input_id and model.nodes[nid].layer.type_name == "Dense"]
    return model.nodes[denses[-1]].inputs[0] if denses else model.input_id


def training_digits() -> np.ndarray:
    """BANK_SIZE digits spread evenly over the shipped MNIST training split, (N, 28, 28) in [0, 1]."""
    from nnstudio.data.registry import get_dataset  # noqa: PLC0415

    x = get_dataset("mnist", variant="10k").x_train
    pick = np.linspace(0, len(x) - 1, min(BANK_SIZE, len(x))).astype(np.int64)
    return np.asarray(x[pick], dtype=np.float32).reshape(len(pick), 28, 28)


def features(model: Model, images: np.ndarray, batch: int = 100) -> np.ndarray:
    """Unit-length features entering ``model``'s last Dense layer for (N, 28, 28) images."""
    node = feature_node(model)
    shape = tuple(model.input_shape)
    parts = []
    for start in range(0, len(images), batch):
        x = to_device(np.asarray(images[start:start + batch], np.float32).reshape((-1,) + shape), model.xp,
                      model.dtype)
        model.forward(x, training=False, capture=True)
        parts.append(np.asarray(to_host(model.activations[node]), np.float64).reshape(len(x), -1))
        model.activations = {}
    f = np.concatenate(parts)
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def digit_bank(model: Model, digits: np.ndarray) -> tuple[np.ndarray, float]:
    """(the digits' unit features, the distance threshold: the QUANTILE of each digit's distance to its nearest
    other digit)."""
    bank = features(model, digits)
    sims = bank @ bank.T
    np.fill_diagonal(sims, -np.inf)  # leave one out
    return bank, float(np.quantile(1.0 - sims.max(axis=1), QUANTILE))


class DigitDoubt:
    """Judges drawings for one network (a built :class:`Model` whose Input is 28 x 28 gray).

    The digit bank can be computed in a background thread on a private copy of the network
    (:meth:`start_bank`), so a window never waits for it; until it is ready, ``judge(..., wait=False)`` applies
    the other two checks only.
    """

    def __init__(self, model: Model, digits: np.ndarray | None = None) -> None:
        self.model = model
        self._digits = digits
        self._bank: np.ndarray | None = None
        self.threshold: float | None = None
        self._lock = threading.Lock()
        self._generation = 0  # bumped by invalidate(): a background result for older weights is dropped
        self._worker: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        return self._bank is not None

    @property
    def busy(self) -> bool:
        """Whether a background computation of the bank is running."""
        worker = self._worker
        return worker is not None and worker.is_alive()

    def invalidate(self) -> None:
        """The weights changed: the bank is computed again (on the next judgement, or by :meth:`start_bank`)."""
        with self._lock:
            self._generation += 1
            self._bank, self.threshold = None, None
            self._worker = None

    def _digits_or_load(self) -> np.ndarray:
        if self._digits is None:
            self._digits = training_digits()
        return self._digits

    def _ensure_bank(self) -> None:
        if self._bank is None:
            bank, threshold = digit_bank(self.model, self._digits_or_load())
            with self._lock:
                self.threshold = threshold
                self._bank = bank

    def start_bank(self) -> None:
        """Compute the bank in a background thread on a copy of the network's current weights (no-op when it
        is ready or already being computed)."""
        from nnstudio.predictor import clone_model  # noqa: PLC0415 - the predictor imports this module's users

        with self._lock:
            if self._bank is not None or self._worker is not None:
                return
            generation = self._generation
            twin = clone_model(self.model)

            def work() -> None:
                try:
                    bank, threshold = digit_bank(twin, self._digits_or_load())
                except Exception:  # noqa: BLE001 - no digits to compare with: the other checks still apply
                    bank, threshold = None, None
                with self._lock:
                    if generation == self._generation and bank is not None:
                        self.threshold = threshold  # before the bank: `ready` means both are there
                        self._bank = bank

            self._worker = threading.Thread(target=work, name="digit-bank", daemon=True)
            self._worker.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background computation; True when the bank is ready."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return self.ready

    def distance(self, image28: np.ndarray) -> float:
        """Cosine distance from the drawing's features to the nearest training digit's."""
        self._ensure_bank()
        f = features(self.model, np.asarray(image28)[None])[0]
        return float(1.0 - (self._bank @ f).max())

    def judge(self, gray: np.ndarray | None, image28: np.ndarray, probabilities: Any, wait: bool = True) -> Verdict:
        """The verdict for a drawing: ``gray`` the canvas (None: extent not checked), ``image28`` the
        preprocessed input, ``probabilities`` the network's output for it.  ``wait=False``: without a ready
        bank, start computing it in the background and skip the unlike-digits check this time."""
        if gray is not None and ink_extent(gray) < MIN_EXTENT:
            return Verdict(False, "too_small")
        d = None
        if wait or self.ready:
            d = self.distance(image28)
            if d > self.threshold:
                return Verdict(False, "unlike_digits", d, self.threshold)
        else:
            self.start_bank()
        if float(np.max(probabilities)) < MIN_CONFIDENCE:
            return Verdict(False, "unsure", d, self.threshold)
        return Verdict(True, "", d, self.threshold)


__all__ = ["DigitDoubt", "MIN_EXTENT", "Verdict", "digit_bank", "feature_node", "features", "ink_extent",
           "training_digits"]
