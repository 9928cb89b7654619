"""Advice while training: rules over the event stream that turn symptoms into plain words and a fix.

Why this exists: a learner sees a loss curve go up, or a flat accuracy, and cannot tell why.  The patterns
behind the classic failures are simple to detect from what the trainer already measures, so
:class:`HintMonitor` watches the events and yields :class:`~nnstudio.training.events.Hint` events.  The
trainer owns the one monitor of a run and feeds it the same facts in every front end: every batch's loss
and per-layer gradient norms (measured for the monitor even when no view shows them), the epoch metrics,
and its own probes of held-out samples (:meth:`HintMonitor.wants_probe`), never the views' probes.

A wrong hint teaches the wrong lesson, so every rule asks for a symptom *and* its consequence, judged
against the run's own history rather than absolute thresholds (``tools/hint_report.py`` measures each
rule's precision and recall over the shipped examples):

* ``learning_rate``: the loss became NaN / infinite, or rose over several consecutive windows of batches to
  well above the best it reached (one noisy window, or the jolt of a resumed run, is not a trend);
* ``exploding_gradients``: a layer's gradient norm became Inf / NaN, or left its own history far behind
  (tenfold above its median) while the loss rose with it; a clean run's gradient spikes leave the loss alone;
* ``vanishing_gradients``: while the loss is not improving, the first layers' gradient norms stay a
  thousandth of the largest layer's or less (they barely learn);
* ``overfitting``: validation loss rising for epochs while the training loss keeps falling, so the gap
  between them grows (a plateau, where neither moves, is not overfitting);
* ``dead_relu``: more than half of a ReLU layer's units (or channels) output 0 for every probe sample, in
  two probes in a row;
* ``cannot_separate``: a network without hidden layers whose training accuracy stopped improving far from
  100 %: one layer draws one straight line (a flat boundary), so data like XOR needs a hidden layer;
* ``loss_activation``: a loss that does not fit the output activation (e.g. cross-entropy after sigmoid).

Each kind is reported once per run (``dead_relu`` once per layer).  The ``fix`` of a hint follows the
convention documented on :class:`~nnstudio.training.events.Hint`; a fix that changes initialisation,
activations or wiring carries ``"reset_weights": True`` and says in its text that the weights start afresh.
"""
from __future__ import annotations

import math
import statistics
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from nnstudio.i18n import _, ngettext
from nnstudio.training.events import BatchReport, EpochReport, Hint, ProbeReport, RunStarted

KINDS = ("loss_activation", "learning_rate", "exploding_gradients", "vanishing_gradients", "overfitting",
         "dead_relu", "cannot_separate")
PER_LAYER = ("dead_relu",)  # kinds reported once per layer; the others once per run

LOSS_WINDOW = 20  # batches per window of the loss trend
RISE_WINDOWS = 3  # the last this many window medians must each be higher than the one before ...
LOSS_RISE = 1.5  # ... the last one this many times the best window median of the run ...
LOSS_RISE_OF_START = 0.25  # ... and higher than that best by this fraction of the first window's median
NORM_HISTORY = 50  # gradient norms of a layer kept as its own history
EXPLODE_FACTOR = 10.0  # a norm this many times its layer's median ...
EXPLODE_LOSS = 2.0  # ... while the loss is this many times both its start and its recent median ...
EXPLODE_STEPS = 2  # ... in this many batches in a row
START_BATCHES = 5  # batches whose median is the loss at the start
VANISH_WINDOW = 20  # batches whose gradient norms are averaged before judging vanishing ones
VANISH_REL = 1e-3  # a layer below this fraction of the largest layer's norm barely learns
VANISH_ABS = 1e-7
VANISH_STUCK = 0.5  # "stuck": the loss still above this fraction of its first window's median
PLATEAU_GAIN = 0.95  # "not improving": the recent loss median above this fraction of the one before
DEAD_FRACTION = 0.5
DEAD_PROBES = 2  # probes in a row that must find a layer dead
PROBE_FIRST = (10, 25)  # steps of the monitor's first probes; then every PROBE_EVERY steps
PROBE_EVERY = 50
OVERFIT_EPOCHS = 4  # epochs since the best validation loss, its median this many times above that best ...
OVERFIT_VAL_RISE = 1.03
OVERFIT_TRAIN_FALL = 0.7  # ... while the training loss fell below this fraction of its value at that best ...
OVERFIT_ACC_GAP = 0.03  # ... and training accuracy beats validation by this much, and by twice the noise
SEPARATE_EPOCHS = 5  # epochs without a better training accuracy ...
SEPARATE_MIN_STEPS = 40  # ... spanning at least this many batches ...
SEPARATE_ACC = 0.85  # ... while the best training accuracy stays below this


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
    input_id: str | None = None
    input_size: int = 0  # values per sample
    hidden_layers: int = -1  # Dense / Conv2D layers before the last one (-1: unknown)


def facts_from_model(model: Any, loss: str, learning_rate: float, clip_norm: float | None = None,
                     is_image: bool = False, augment: bool = False, task: str = "classification") -> NetworkFacts:
    """:class:`NetworkFacts` of a built engine :class:`~nnstudio.engine.model.Model`."""
    facts = NetworkFacts(loss, float(learning_rate), clip_norm, model.output_id, model.output_activation,
                         is_image=is_image, augment=augment, task=task, input_id=model.input_id)
    shape = getattr(model, "input_shape", None)
    facts.input_size = int(np.prod(shape)) if shape else 0
    last_dense = None
    weighted = 0
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
        if kind in ("Dense", "Conv2D"):
            weighted += 1
        if kind == "Dense":
            last_dense = nid
    facts.hidden_layers = max(weighted - 1, 0)
    if last_dense is not None:
        src = model.nodes[last_dense].inputs[0]
        facts.dropout_after = src if src != model.input_id else None
    return facts


def apply_inserts(graph: Any, inserts: list[dict[str, Any]]) -> list[str]:
    """Apply a fix's ``"insert"`` list to a graph document as the Hint docstring defines it: each block wired
    in right after its ``after`` node, taking over that node's outgoing wires.  Returns the new node ids.
    (The app does the same through undoable commands.)"""
    added = []
    for item in inserts:
        outgoing = list(graph.outgoing(item["after"]))
        node = graph.add_node(item["type"], dict(item.get("params") or {}))
        for edge in outgoing:
            graph.disconnect(edge)
        graph.connect(item["after"], node.id)
        for edge in outgoing:
            graph.connect(node.id, edge.dst, edge.port)
        added.append(node.id)
    return added


def _fmt_lr(value: float) -> float:
    """A tenth of ``value``, rounded to two significant digits (a value people can type)."""
    return float(f"{value / 10:.2g}")


def _names(ids: list[str]) -> str:
    quoted = [f"'{i}'" for i in ids]
    if len(quoted) == 1:
        return quoted[0]
    return _("{names} and {last}").format(names=_(", ").join(quoted[:-1]), last=quoted[-1])


def reset_note() -> str:
    """Said by every hint whose fix rebuilds weights, in the current language."""
    return _(" Applying the fix resets the trained weights (they were made for the old network).")


class HintMonitor:
    """Feed it every event with :meth:`observe`; it returns the hints the event triggers."""

    def __init__(self, facts: NetworkFacts) -> None:
        self.facts = facts
        self.emitted: set[tuple[str, str | None]] = set()
        self.losses: list[float] = []
        self.windows: list[float] = []  # medians of consecutive LOSS_WINDOW-batch windows
        self.norm_history: dict[str, deque[float]] = {}
        self.recent_norms: dict[str, deque[float]] = {}
        self.epochs: list[EpochReport] = []
        self.dead_streak: dict[str, int] = {}
        self.explode_streak: dict[str, int] = {}
        self.n_val = 0
        self.epoch = 0
        self.step = 0

    # -- plumbing -----------------------------------------------------------------------------------------
    def observe(self, event: Any) -> list[Hint]:
        if isinstance(event, RunStarted):
            self.n_val = int(event.n_val)
            found = self._loss_activation()
        elif isinstance(event, BatchReport):
            self.epoch, self.step = event.epoch, event.global_step
            found = self._batch(event)
        elif isinstance(event, EpochReport):
            self.epoch = event.epoch
            found = self._epoch(event)
        elif isinstance(event, ProbeReport):
            found = self._probe(event)
        else:
            found = []
        hints = [h for h in found if self._first(h)]
        for h in hints:
            h.epoch, h.step = self.epoch, self.step
        return hints

    def observe_all(self, events: Iterable[Any]) -> list[Hint]:
        out: list[Hint] = []
        for event in events:
            out.extend(self.observe(event))
        return out

    @staticmethod
    def wants_probe(step: int) -> bool:
        """Whether the trainer should probe held-out samples for the monitor after global step ``step``."""
        return step in PROBE_FIRST or (step > 0 and step % PROBE_EVERY == 0)

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
            text = _("The loss cross_entropy expects class probabilities from a softmax, but the output '{node}' "
                     "applies {act}. Use softmax on the output.").format(node=out, act=act)
            fix = {"nodes": {out: {"function": "softmax"}}}
        elif loss == "binary_cross_entropy" and act == "softmax":
            text = _("The output '{node}' applies softmax (one of many classes) but the loss is "
                     "binary_cross_entropy (yes/no per output). Use cross_entropy with softmax.").format(node=out)
            fix = {"loss": "cross_entropy"}
        elif loss == "binary_cross_entropy" and act not in ("sigmoid", "linear"):
            text = _("binary_cross_entropy expects a probability from a sigmoid, but the output '{node}' applies "
                     "{act}. Use sigmoid on the output.").format(node=out, act=act)
            fix = {"nodes": {out: {"function": "sigmoid"}}}
        elif loss in ("perceptron", "hinge") and act in ("softmax", "sigmoid"):
            text = _("The {loss} loss works on raw scores around 0, but the output '{node}' squashes them with "
                     "{act}. Use {use} on the output.").format(loss=loss, node=out, act=act,
                                                               use="sign" if loss == "perceptron" else "linear")
            fix = {"nodes": {out: {"function": "sign" if loss == "perceptron" else "linear"}}}
        elif loss == "mse" and act in ("softmax", "sigmoid") and f.task == "regression":
            text = _("This is a regression task, but the output '{node}' squashes its values with {act}, so it "
                     "cannot reach targets outside (0, 1). Use linear on the output.").format(node=out, act=act)
            fix = {"nodes": {out: {"function": "linear"}}}
        if text is None:
            return []
        if "nodes" in fix:
            text += reset_note()
            fix["reset_weights"] = True
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
                              (_("The loss became NaN at epoch {epoch}, step {step}: the learning rate {lr} is too "
                                 "high for this network. Try {lower}, or enable gradient clipping.")
                               if math.isnan(loss) else
                               _("The loss became infinite at epoch {epoch}, step {step}: the learning rate {lr} is "
                                 "too high for this network. Try {lower}, or enable gradient clipping.")).format(
                                  epoch=report.epoch, step=report.step, lr=f"{lr:g}", lower=f"{_fmt_lr(lr):g}"),
                              self._lr_fix()))
            return hints
        self.losses.append(loss)
        if len(self.losses) % LOSS_WINDOW == 0:
            self.windows.append(statistics.median(self.losses[-LOSS_WINDOW:]))
            hints.extend(self._loss_trend())
        if report.grad_norms:
            hints.extend(self._gradients(report.grad_norms, loss))
        return hints

    def _loss_trend(self) -> list[Hint]:
        m = self.windows
        if len(m) < RISE_WINDOWS + 1:
            return []
        recent = m[-(RISE_WINDOWS + 1):]
        # Medians resist single noisy batches; a trend is several windows, each above the one before; the
        # rise must be large next to the best the run reached and to the loss at its start, so the jitter of
        # an already small loss, or the jolt when a resumed run's optimiser starts afresh, does not count.
        best, first, last = min(m), m[0], m[-1]
        rising = all(b > a for a, b in zip(recent, recent[1:]))
        if not (rising and last > LOSS_RISE * best and last - best > LOSS_RISE_OF_START * first):
            return []
        lr = self.facts.learning_rate
        n = LOSS_WINDOW * len(recent)
        return [Hint("learning_rate", None,
                     _("The loss keeps rising (median {start} -> {last} over the last {count} batches, its best "
                       "was {best}): the learning rate {lr} is probably too high. Try {lower}.").format(
                         start=f"{recent[0]:.3g}", last=f"{last:.3g}", count=n, best=f"{best:.3g}", lr=f"{lr:g}",
                         lower=f"{_fmt_lr(lr):g}"), self._lr_fix())]

    def _gradients(self, norms: dict[str, float], loss: float) -> list[Hint]:
        exploding: list[tuple[float, str, str]] = []  # (how bad, layer, what happened)
        # The losses before this batch's (without copying the run's whole list: this runs every batch).
        before = len(self.losses) - 1
        start = statistics.median(self.losses[:min(START_BATCHES, before)]) if before else loss
        recent = statistics.median(self.losses[max(0, before - LOSS_WINDOW):before]) if before else loss
        # A clean run's gradients spike now and then while its loss barely notices; exploding gradients
        # leave the layer's own history far behind batch after batch, and drag the loss above where it started.
        loss_up = loss > EXPLODE_LOSS * max(start, recent)
        for nid, value in norms.items():
            value = float(value)
            if not math.isfinite(value):
                exploding.append((math.inf, nid, _("its gradient became NaN") if math.isnan(value)
                                  else _("its gradient became infinite")))
                continue
            history = self.norm_history.setdefault(nid, deque(maxlen=NORM_HISTORY))
            typical = statistics.median(history) if history else 0.0
            if loss_up and typical > 0 and value > EXPLODE_FACTOR * typical:
                self.explode_streak[nid] = self.explode_streak.get(nid, 0) + 1
                if self.explode_streak[nid] >= EXPLODE_STEPS:
                    exploding.append((value / typical, nid,
                                      _("its gradient norm reached {value}, {times} times its usual {typical}, "
                                        "while the loss rose from about {start} to {loss}").format(
                                          value=f"{value:.3g}", times=f"{value / typical:.0f}",
                                          typical=f"{typical:.3g}", start=f"{start:.3g}", loss=f"{loss:.3g}")))
            else:
                self.explode_streak[nid] = 0
            history.append(value)
            self.recent_norms.setdefault(nid, deque(maxlen=VANISH_WINDOW)).append(value)
        if exploding:
            _worst, nid, what = max(exploding, key=lambda e: e[0])
            others = len(exploding) - 1
            return [self._exploding(nid, what + (ngettext(" (and in {count} other layer)",
                                                          " (and in {count} other layers)", others).format(
                                                     count=others) if others else ""))]
        return self._vanishing_check()

    def _exploding(self, nid: str, what: str) -> Hint:
        lr = self.facts.learning_rate
        return Hint("exploding_gradients", nid,
                    _("Exploding gradients in '{node}': {what}. Lower the learning rate (try {lower}) or enable "
                      "gradient clipping (clip_norm 1.0); BatchNorm also helps keep values in range.").format(
                        node=nid, what=what, lower=f"{_fmt_lr(lr):g}"),
                    {"learning_rate": _fmt_lr(lr), "clip_norm": 1.0})

    def _stuck(self) -> bool:
        """Whether the loss is not improving (the last window's median not clearly below the one before) and
        still far from solved (above a fair fraction of where it started)."""
        if len(self.windows) < 2:
            return False  # too early to call it stuck
        m = self.windows
        return m[-1] >= PLATEAU_GAIN * m[-2] and m[-1] > VANISH_STUCK * m[0]

    def _vanishing_check(self) -> list[Hint]:
        if len(self.losses) % LOSS_WINDOW != 0 or not self._stuck():
            return []  # judged once per loss window, and only while the loss is stuck
        ready = {nid: math.fsum(v) / VANISH_WINDOW for nid, v in self.recent_norms.items() if len(v) == VANISH_WINDOW}
        if len(ready) < 2:
            return []
        if any(self.dead_streak.values()):
            return []  # dead ReLUs pass no gradient back: that hint names the cause, this one would mislead
        top = max(ready.values())
        if not top > VANISH_ABS:
            return []  # no layer learns: a zero loss (a solved perceptron), not a vanishing gradient
        order = [nid for nid in self.facts.param_layers if nid in ready] or list(ready)
        weak = [nid for nid in order if ready[nid] < VANISH_REL * top]
        if not weak:
            return []
        return [self._vanishing(weak, ready, top)]

    def _vanishing(self, weak: list[str], ready: dict[str, float], top: float) -> Hint:
        f = self.facts
        squashing = [a for a, fn in f.activations.items() if fn in ("sigmoid", "tanh") and a != f.output_id]
        nodes: dict[str, dict[str, Any]] = {a: {"function": "relu"} for a in squashing}
        for layer in f.param_layers:
            if f.layer_types.get(layer) in ("Dense", "Conv2D"):
                nodes.setdefault(layer, {})["init"] = "he"
        cause = _(" The network squashes with {functions}, whose slope is at most 0.25 (sigmoid) or 1 (tanh) and "
                  "near 0 when saturated, so the gradient shrinks layer after layer.").format(
            functions=", ".join(sorted({f.activations[a] for a in squashing}))) if squashing else ""
        first = weak[0]
        text = _("Vanishing gradients in {names}: the gradient norm of '{first}' is {norm} while the largest "
                 "layer's is {top}, and the loss has stopped improving, so the first layers barely learn.{cause} "
                 "Use ReLU with He initialisation, or add BatchNorm between the layers.").format(
            names=_names(weak), first=first, norm=f"{ready[first]:.2g}", top=f"{top:.2g}", cause=cause)
        fix: dict[str, Any] = {}
        if nodes:
            fix = {"nodes": nodes, "reset_weights": True}
            text += reset_note()
        return Hint("vanishing_gradients", first, text, fix)

    # -- epochs: overfitting and linear limits -------------------------------------------------------------------
    def _epoch(self, report: EpochReport) -> list[Hint]:
        self.epochs.append(report)
        return self._overfitting() + self._cannot_separate()

    def _overfitting(self) -> list[Hint]:
        runs = [r for r in self.epochs if r.val_loss is not None and math.isfinite(r.val_loss)]
        if len(runs) <= OVERFIT_EPOCHS or len(runs) != len(self.epochs):
            return []
        e = runs[-OVERFIT_EPOCHS:]
        best = min(runs, key=lambda r: r.val_loss)
        if best in e:
            return []  # validation still improves
        # Validation loss stays above its best for epochs (its median, so one noisy epoch does not count) and
        # ends above it; the training loss keeps falling well below where it was at that best, so the gap
        # between them grows; and the network scores clearly better on its training samples than on unseen
        # ones, by more than a small validation set's noise.  A plateau (training loss flat) is not overfitting.
        val_up = float(np.median([r.val_loss for r in e])) > OVERFIT_VAL_RISE * best.val_loss and \
            e[-1].val_loss > OVERFIT_VAL_RISE * best.val_loss
        train_down = float(np.median([r.train_loss for r in e])) < OVERFIT_TRAIN_FALL * best.train_loss and \
            max(r.train_loss for r in e) < best.train_loss
        gap_grows = float(np.median([r.val_loss - r.train_loss for r in e])) > best.val_loss - best.train_loss
        has_acc = all(r.val_acc is not None and math.isfinite(r.train_acc) and math.isfinite(r.val_acc) for r in e)
        if has_acc:
            p = float(np.mean([r.val_acc for r in e]))
            noise = 2.0 * math.sqrt(max(p * (1 - p), 0.0) / max(self.n_val, 1)) if self.n_val else 0.0
            acc_gap = float(np.mean([r.train_acc - r.val_acc for r in e])) > max(OVERFIT_ACC_GAP, noise)
        else:
            acc_gap = True  # regression: the losses alone decide
        if not (val_up and train_down and gap_grows and acc_gap):
            return []
        f = self.facts
        fix: dict[str, Any] = {}
        advice = []
        if not f.has_dropout and f.idle_dropouts:
            fix["nodes"] = {nid: {"rate": 0.5} for nid in f.idle_dropouts}
            advice.append(ngettext("switch on the Dropout block {names} (rate 0.5)",
                                   "switch on the Dropout blocks {names} (rate 0.5)", len(f.idle_dropouts)).format(
                names=", ".join(repr(n) for n in f.idle_dropouts)))
        elif not f.has_dropout and f.dropout_after is not None:
            fix["insert"] = [{"type": "Dropout", "params": {"rate": 0.3}, "after": f.dropout_after}]
            advice.append(_("add a Dropout block after '{node}'").format(node=f.dropout_after))
        if f.is_image and not f.augment:
            fix["augment"] = True
            advice.append(_("turn on data augmentation"))
        advice.append(_("use more training data or train for fewer epochs"))
        last = e[-1]
        has_acc = last.val_acc is not None and math.isfinite(last.train_acc) and math.isfinite(last.val_acc)
        scores = _("training accuracy {train} but validation {val}; ").format(
            train=f"{last.train_acc:.1%}", val=f"{last.val_acc:.1%}") if has_acc else ""
        return [Hint("overfitting", None,
                     _("Overfitting: {scores}since epoch {epoch} the training loss fell ({train_from} -> {train_to}) "
                       "while the validation loss rose ({val_from} -> {val_to}). The network memorises the "
                       "training samples: {advice}.").format(
                         scores=scores, epoch=best.epoch, train_from=f"{best.train_loss:.3g}",
                         train_to=f"{last.train_loss:.3g}", val_from=f"{best.val_loss:.3g}",
                         val_to=f"{last.val_loss:.3g}", advice=_(", or ").join(advice)), fix)]

    def _cannot_separate(self) -> list[Hint]:
        f = self.facts
        if f.hidden_layers != 0 or f.task == "regression" or f.input_id is None:
            return []
        accs = [r.train_acc for r in self.epochs]
        if not accs or not all(math.isfinite(a) for a in accs):
            return []
        # The plateau spans SEPARATE_EPOCHS epochs, and at least SEPARATE_MIN_STEPS batches (tiny data sets).
        per_epoch = max(self.step / len(accs), 1.0)
        k = max(SEPARATE_EPOCHS, math.ceil(SEPARATE_MIN_STEPS / per_epoch))
        if len(accs) <= k:
            return []
        before, recent = max(accs[:-k]), max(accs[-k:])
        if recent > before + 0.01 or max(accs) >= SEPARATE_ACC:
            return []
        units = 16 if f.input_size <= 16 else 64
        fix = {"insert": [{"type": "Activation", "params": {"function": "relu"}, "after": f.input_id},
                          {"type": "Dense", "params": {"units": units, "init": "he"}, "after": f.input_id}],
               "reset_weights": True}
        return [Hint("cannot_separate", None,
                     _("The training accuracy stopped improving (at most {recent} over the last {count} epochs, "
                       "{best} at best): this network has no hidden layer, and one layer draws one straight line (a "
                       "flat boundary), which cannot separate these classes. Add a hidden layer: a Dense block with a "
                       "ReLU after the input ({units} units).").format(
                         recent=f"{recent:.0%}", count=k, best=f"{max(accs):.0%}", units=units) + reset_note(), fix)]

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
            fraction = float((a <= 0).all(axis=axes).mean())
            self.dead_streak[nid] = self.dead_streak.get(nid, 0) + 1 if fraction > DEAD_FRACTION else 0
            if self.dead_streak[nid] >= DEAD_PROBES:
                lr = self.facts.learning_rate
                hints.append(Hint("dead_relu", nid,
                                  _("{fraction} of the ReLUs in '{node}' output 0 for every probe sample: they are "
                                    "dead and no longer learn (often after a too large step). Use leaky_relu, a lower "
                                    "learning rate (try {lower}) or He initialisation.").format(
                                      fraction=f"{fraction:.0%}", node=nid, lower=f"{_fmt_lr(lr):g}") + reset_note(),
                                  {"nodes": {nid: {"function": "leaky_relu"}}, "reset_weights": True}))
        return hints
