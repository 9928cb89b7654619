"""Advice while training: rules over the event stream that turn symptoms into plain words and a fix.

Why this exists: a learner sees a loss curve go up, or a flat accuracy, and cannot tell why.  The patterns
behind the classic failures are simple to detect from what the trainer already reports, so
:class:`HintMonitor` watches the events (batch losses, per-layer gradient norms when they are reported,
probe activations, epoch metrics) and yields :class:`~nnstudio.training.events.Hint` events:

* ``learning_rate``: the loss became NaN / infinite, or rose clearly over a window of batches;
* ``dead_relu``: more than half of a ReLU layer's units (or channels) output 0 for every probe sample;
* ``overfitting``: the gap between training and validation accuracy grows, or validation loss rises
  while training loss falls;
* ``vanishing_gradients``: a layer's gradient norm below 1e-7, or below 1e-4 x the median of the others;
* ``exploding_gradients``: a layer's gradient norm growing tenfold (and large), or Inf / NaN;
* ``loss_activation``: a loss that does not fit the output activation (e.g. cross-entropy after sigmoid).

Each kind is reported once per layer per run.  The ``fix`` of a hint follows the convention documented on
:class:`~nnstudio.training.events.Hint` (training keys, ``"nodes"`` parameter changes, ``"insert"`` blocks).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from nnstudio.training.events import BatchReport, EpochReport, Hint, ProbeReport, RunStarted

LOSS_WINDOW = 20  # batches per window when comparing the loss with the window before
LOSS_RISE = 1.5  # the later window's median loss must be this many times the earlier one's
LOSS_RISE_OF_START = 0.25  # ... and higher by at least this fraction of the first window's median
NORM_WINDOW = 5  # gradient-norm reports averaged before judging a layer
VANISH_ABS = 1e-7
VANISH_REL = 1e-4  # ... or below this fraction of the median of the other layers
VANISH_REL_MAX = 1e-5  # ... or below this fraction of the best-learning layer (deep chains: the median sits halfway)
EXPLODE_FACTOR = 10.0
EXPLODE_MIN = 1.0  # a tenfold growth only counts once the norm is this large
DEAD_FRACTION = 0.5
GAP_MIN = 0.05
PER_LAYER = ("dead_relu",)  # kinds reported once per layer; the others once per run


@dataclass
class NetworkFacts:
    """What the rules need to know about the network and its settings (no arrays, no engine objects)."""

    loss: str
    learning_rate: float
    clip_norm: float | None = None
    output_id: str | None = None
    output_activation: str | None = None
    activations: dict[str, str] = field(default_factory=dict)  # Activation node id -> function
    param_layers: list[str] = field(default_factory=list)  # ids of layers with parameters, in order
    layer_types: dict[str, str] = field(default_factory=dict)
    dropout_after: str | None = None  # where a Dropout would help: the node feeding the last Dense layer
    has_dropout: bool = False  # a Dropout block with a rate above 0
    idle_dropouts: list[str] = field(default_factory=list)  # Dropout blocks switched off (rate 0)
    is_image: bool = False
    augment: bool = False
    task: str = "classification"


def facts_from_model(model: Any, loss: str, learning_rate: float, clip_norm: float | None = None,
                     is_image: bool = False, augment: bool = False, task: str = "classification") -> NetworkFacts:
    """:class:`NetworkFacts` of a built engine :class:`~nnstudio.engine.model.Model`."""
    facts = NetworkFacts(loss, float(learning_rate), clip_norm, model.output_id, model.output_activation,
                         is_image=is_image, augment=augment, task=task)
    last_dense = None
    for nid in model.order:
        if nid == model.input_id:
            continue
        layer = model.layer(nid)
        kind = getattr(layer, "type_name", type(layer).__name__)
        facts.layer_types[nid] = kind
        if kind == "Activation":
            facts.activations[nid] = str(layer.function)
        if kind == "Dropout":
            if float(getattr(layer, "rate", 0.0)) > 0:
                facts.has_dropout = True
            else:
                facts.idle_dropouts.append(nid)
        if layer.params:
            facts.param_layers.append(nid)
        if kind == "Dense":
            last_dense = nid
    if last_dense is not None:
        src = model.nodes[last_dense].inputs[0]
        facts.dropout_after = src if src != model.input_id else None
    return facts


def _fmt_lr(value: float) -> float:
    """A tenth of ``value``, rounded to two significant digits (a value people can type)."""
    return float(f"{value / 10:.2g}")


class HintMonitor:
    """Feed it every event with :meth:`observe`; it returns the hints the event triggers."""

    def __init__(self, facts: NetworkFacts) -> None:
        self.facts = facts
        self.emitted: set[tuple[str, str | None]] = set()
        self.losses: list[float] = []
        self.norms: dict[str, deque[float]] = {}
        self.norm_history: dict[str, list[float]] = {}
        self.epochs: list[EpochReport] = []

    # -- plumbing -----------------------------------------------------------------------------------------
    def observe(self, event: Any) -> list[Hint]:
        if isinstance(event, RunStarted):
            found = self._loss_activation()
        elif isinstance(event, BatchReport):
            found = self._batch(event)
        elif isinstance(event, EpochReport):
            found = self._epoch(event)
        elif isinstance(event, ProbeReport):
            found = self._probe(event)
        else:
            found = []
        return [h for h in found if self._first(h)]

    def observe_all(self, events: Iterable[Any]) -> list[Hint]:
        out: list[Hint] = []
        for event in events:
            out.extend(self.observe(event))
        return out

    def _first(self, hint: Hint) -> bool:
        key = (hint.kind, hint.node_id if hint.kind in PER_LAYER else None)
        if key in self.emitted:
            return False
        self.emitted.add(key)
        return True

    # -- loss and output activation -------------------------------------------------------------------------
    def _loss_activation(self) -> list[Hint]:
        f = self.facts
        act, out, loss = f.output_activation, f.output_id, f.loss
        if act is None or out is None:
            return []
        text, fix = None, {}
        if loss == "cross_entropy" and act not in ("softmax", "linear"):
            text = (f"The loss cross_entropy expects class probabilities from a softmax, but the output '{out}' "
                    f"applies {act}. Use softmax on the output.")
            fix = {"nodes": {out: {"function": "softmax"}}}
        elif loss == "binary_cross_entropy" and act == "softmax":
            text = (f"The output '{out}' applies softmax (one of many classes) but the loss is "
                    "binary_cross_entropy (yes/no per output). Use cross_entropy with softmax.")
            fix = {"loss": "cross_entropy"}
        elif loss == "binary_cross_entropy" and act not in ("sigmoid", "linear"):
            text = (f"binary_cross_entropy expects a probability from a sigmoid, but the output '{out}' applies "
                    f"{act}. Use sigmoid on the output.")
            fix = {"nodes": {out: {"function": "sigmoid"}}}
        elif loss in ("perceptron", "hinge") and act in ("softmax", "sigmoid"):
            text = (f"The {loss} loss works on raw scores around 0, but the output '{out}' squashes them with "
                    f"{act}. Use {'sign' if loss == 'perceptron' else 'linear'} on the output.")
            fix = {"nodes": {out: {"function": "sign" if loss == "perceptron" else "linear"}}}
        elif loss == "mse" and act in ("softmax", "sigmoid") and f.task == "regression":
            text = (f"This is a regression task, but the output '{out}' squashes its values with {act}, so it "
                    "cannot reach targets outside (0, 1). Use linear on the output.")
            fix = {"nodes": {out: {"function": "linear"}}}
        if text is None:
            return []
        return [Hint("loss_activation", out, text, fix)]

    # -- batches: loss trend and gradient norms --------------------------------------------------------------
    def _lr_fix(self) -> dict[str, Any]:
        fix: dict[str, Any] = {"learning_rate": _fmt_lr(self.facts.learning_rate)}
        if self.facts.clip_norm is None:
            fix["clip_norm"] = 1.0
        return fix

    def _batch(self, report: BatchReport) -> list[Hint]:
        hints: list[Hint] = []
        loss = float(report.loss)
        lr = self.facts.learning_rate
        if not math.isfinite(loss):
            hints.append(Hint("learning_rate", None,
                              f"The loss became {'NaN' if math.isnan(loss) else 'infinite'} at epoch {report.epoch}, "
                              f"step {report.step}: the learning rate {lr:g} is too high for this network. "
                              f"Try {_fmt_lr(lr):g}, or enable gradient clipping.", self._lr_fix()))
        else:
            self.losses.append(loss)
            w = LOSS_WINDOW
            if len(self.losses) >= 2 * w:
                # Medians resist single noisy batches; the rise must also be large next to the loss at the
                # start, so the jitter of an already small loss does not count.
                first = float(np.median(self.losses[:w]))
                before = float(np.median(self.losses[-2 * w:-w]))
                after = float(np.median(self.losses[-w:]))
                if after > LOSS_RISE * before and after - before > LOSS_RISE_OF_START * first:
                    hints.append(Hint("learning_rate", None,
                                      f"The loss is rising (median {before:.3g} -> {after:.3g} over the last "
                                      f"{2 * w} batches): the learning rate {lr:g} is probably too high. "
                                      f"Try {_fmt_lr(lr):g}.", self._lr_fix()))
        if report.grad_norms:
            hints.extend(self._gradients(report.grad_norms))
        return hints

    def _gradients(self, norms: dict[str, float]) -> list[Hint]:
        exploding: list[tuple[float, str, str]] = []  # (how bad, layer, what happened)
        for nid, value in norms.items():
            value = float(value)
            if not math.isfinite(value):
                exploding.append((math.inf, nid, f"its gradient became {'NaN' if math.isnan(value) else 'infinite'}"))
                continue
            self.norms.setdefault(nid, deque(maxlen=NORM_WINDOW)).append(value)
            history = self.norm_history.setdefault(nid, [])
            earlier = history[-NORM_WINDOW:]
            history.append(value)
            del history[:-NORM_WINDOW]
            # Growth beyond every recent value, not a dip and back: a norm that swings by 10x between
            # batches is noise, one that leaves all of its recent values far behind is exploding.
            if earlier and value > EXPLODE_MIN and value > EXPLODE_FACTOR * max(earlier):
                exploding.append((value / max(earlier), nid,
                                  f"its gradient norm jumped from {max(earlier):.3g} to {value:.3g} within "
                                  f"{len(earlier)} step{'s' if len(earlier) > 1 else ''}"))
        if exploding:
            _, nid, what = max(exploding, key=lambda e: e[0])
            others = len(exploding) - 1
            return [self._exploding(nid, what + (f" (and in {others} other layer{'s' if others > 1 else ''})"
                                                 if others else ""))]
        ready = {nid: float(np.mean(v)) for nid, v in self.norms.items() if len(v) == NORM_WINDOW}
        if len(ready) < 2:
            return []
        weak: list[tuple[float, str, float]] = []
        for nid, value in ready.items():
            others = [v for k, v in ready.items() if k != nid]
            median, top = float(np.median(others)), max(others)
            if value < VANISH_ABS or (len(others) >= 2 and value < VANISH_REL * median) or \
                    value < VANISH_REL_MAX * top:
                weak.append((value / max(top, 1e-30), nid, median))
        if not weak:
            return []
        _, nid, median = min(weak)
        return [self._vanishing(nid, ready[nid], median, max(ready.values()))]

    def _exploding(self, nid: str, what: str) -> Hint:
        lr = self.facts.learning_rate
        return Hint("exploding_gradients", nid,
                    f"Exploding gradients in '{nid}': {what}. Lower the learning rate (try {_fmt_lr(lr):g}) or "
                    "enable gradient clipping (clip_norm 1.0); BatchNorm also helps keep values in range.",
                    {"learning_rate": _fmt_lr(lr), "clip_norm": 1.0})

    def _vanishing(self, nid: str, value: float, median: float, top: float) -> Hint:
        f = self.facts
        squashing = [a for a, fn in f.activations.items() if fn in ("sigmoid", "tanh") and a != f.output_id]
        nodes: dict[str, dict[str, Any]] = {a: {"function": "relu"} for a in squashing}
        for layer in f.param_layers:
            if f.layer_types.get(layer) in ("Dense", "Conv2D"):
                nodes.setdefault(layer, {})["init"] = "he"
        cause = (f" The network squashes with {', '.join(sorted({f.activations[a] for a in squashing}))}, whose "
                 "slope is at most 0.25 (sigmoid) or 1 (tanh) and near 0 when saturated, so the gradient shrinks "
                 "layer after layer.") if squashing else ""
        return Hint("vanishing_gradients", nid,
                    f"Vanishing gradients in '{nid}': its gradient norm is {value:.2g} while the other layers' "
                    f"median is {median:.2g} and the largest {top:.2g}, so it barely learns.{cause} Use ReLU with He initialisation, or "
                    "add BatchNorm between the layers.", {"nodes": nodes} if nodes else {})

    # -- epochs: overfitting ----------------------------------------------------------------------------------
    def _epoch(self, report: EpochReport) -> list[Hint]:
        if report.val_loss is None or report.val_acc is None:
            return []
        self.epochs.append(report)
        if len(self.epochs) < 3:
            return []
        e = self.epochs[-3:]
        gaps = [r.train_acc - r.val_acc for r in e]
        best_val = min(r.val_loss for r in self.epochs)
        # Overfitting needs the training loss still falling while validation gets no better: a gap that
        # merely jitters on a small validation set, or a network that learns nothing, does not count.
        train_down = e[0].train_loss > e[1].train_loss > e[2].train_loss and e[2].train_loss < 0.95 * e[0].train_loss
        val_worse = e[2].val_loss > 1.05 * best_val and e[2].val_loss >= e[0].val_loss
        growing_gap = gaps[0] < gaps[1] < gaps[2] and gaps[2] > GAP_MIN
        val_up = e[0].val_loss < e[1].val_loss < e[2].val_loss and e[2].val_loss > 1.1 * e[2].train_loss
        has_acc = all(math.isfinite(r.train_acc) and math.isfinite(r.val_acc) for r in e)
        gap_ok = gaps[2] > GAP_MIN if has_acc else True  # regression: the losses alone decide
        if not (train_down and gap_ok and (val_up or (growing_gap and val_worse))):
            return []
        f = self.facts
        fix: dict[str, Any] = {}
        advice = []
        if not f.has_dropout and f.idle_dropouts:
            fix["nodes"] = {nid: {"rate": 0.5} for nid in f.idle_dropouts}
            advice.append(f"switch on the Dropout block{'s' if len(f.idle_dropouts) > 1 else ''} "
                          f"{', '.join(repr(n) for n in f.idle_dropouts)} (rate 0.5)")
        elif not f.has_dropout and f.dropout_after is not None:
            fix["insert"] = [{"type": "Dropout", "params": {"rate": 0.3}, "after": f.dropout_after}]
            advice.append(f"add a Dropout block after '{f.dropout_after}'")
        if f.is_image and not f.augment:
            fix["augment"] = True
            advice.append("turn on data augmentation")
        advice.append("use more training data or train for fewer epochs")
        scores = (f"training accuracy {e[2].train_acc:.1%} but validation {e[2].val_acc:.1%}; " if has_acc else "")
        return [Hint("overfitting", None,
                     f"Overfitting: {scores}over the last {len(e) - 1} epochs the training loss fell "
                     f"({e[0].train_loss:.3g} -> {e[2].train_loss:.3g}) while the validation loss did not "
                     f"({e[0].val_loss:.3g} -> {e[2].val_loss:.3g}). The network memorises the training samples: "
                     + ", or ".join(advice) + ".", fix)]

    # -- probes: dead ReLUs -------------------------------------------------------------------------------------
    def _probe(self, report: ProbeReport) -> list[Hint]:
        hints = []
        for nid, fn in self.facts.activations.items():
            if fn != "relu" or nid not in report.activations:
                continue
            a = np.asarray(report.activations[nid])
            if a.ndim < 2 or a.shape[0] < 2:
                continue  # one sample cannot tell a dead unit from an inactive one
            axes = (0,) + tuple(range(2, a.ndim))  # per unit, or per channel of a feature map
            dead = (a <= 0).all(axis=axes)
            fraction = float(dead.mean())
            if fraction > DEAD_FRACTION:
                lr = self.facts.learning_rate
                hints.append(Hint("dead_relu", nid,
                                  f"{fraction:.0%} of the ReLUs in '{nid}' output 0 for every probe sample: they are "
                                  "dead and no longer learn (often after a too large step). Use leaky_relu, a lower "
                                  f"learning rate (try {_fmt_lr(lr):g}) or He initialisation.",
                                  {"nodes": {nid: {"function": "leaky_relu"}}}))
        return hints
