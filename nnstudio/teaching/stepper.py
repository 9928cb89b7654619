"""Step through one training step node by node: the forward pass, the chain rule backwards, the update.

Why this exists: a learner sees a whole network as one call to ``forward`` and one to ``backward``.  The
:class:`Stepper` runs the same computation one layer at a time, in the engine's execution order, and
reports after each layer what flowed out of it (forward), what gradient arrived at it from the loss
(backward, output to input), and finally how much each layer's weights moved (update, plain gradient
descent ``w ← w − lr · ∂L/∂w``).  It replicates :class:`~nnstudio.engine.model.Model`'s executor exactly:
several inputs are handed over as a list, gradients of nodes with several consumers are summed, and a
softmax / sigmoid output fused with its loss starts the backward pass at the logits (``∂L/∂z = p − t``).
The tests check that the stepped outputs and gradients equal ``model.forward`` / ``model.backward``.

Everything reported is a host value (floats and a small NumPy preview), so a panel can show it directly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from nnstudio.engine.backend import to_host
from nnstudio.engine.losses import get_loss
from nnstudio.engine.model import Model, apply_activation

PHASES = ("forward", "backward", "update")
PREVIEW_SIDE = 64  # the largest side of a preview heatmap, in cells
PREVIEW_CHANNELS = 8  # at most this many feature maps are tiled into one preview


@dataclass
class StepInfo:
    """What one step shows: the phase, the node, and statistics of the array it produced or received.

    forward: the node's output.  backward: the gradient of the loss with respect to the node's output
    (with respect to the logits for a fused output), ``param_norms`` the norms of its weights' gradients.
    update: ``param_norms`` holds ‖Δw‖ for each parameter, ``lr`` the learning rate, the statistics
    describe the whole step Δw of the layer.
    """

    phase: str
    node_id: str
    layer_type: str
    shape: tuple[int, ...]
    mean: float
    std: float
    min: float
    max: float
    preview: np.ndarray  # 2-D host float64 array, at most PREVIEW_SIDE a side (feature maps tiled)
    index: int = 0  # position in the whole sequence of steps, from 0
    param_norms: dict[str, float] = field(default_factory=dict)
    lr: float = 0.0
    fused: str = ""  # backward at a fused output: the activation folded into the loss ("softmax", "sigmoid")
    loss: float | None = None  # the batch loss, on the last forward step and the first backward step
    loss_after: float | None = None  # the loss on the same batch after the update, on the last update step


def preview_of(array: Any) -> np.ndarray:
    """A small 2-D host picture of a batch ``array``: sample 0's feature maps tiled, or the batch as rows."""
    a = np.asarray(to_host(array), dtype=np.float64)
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        picture = a.reshape(1, -1)
    elif a.ndim == 2:  # (batch, features): each sample one row
        picture = a
    elif a.ndim == 3:  # (batch, positions, classes) e.g. the captcha's 4 digits: sample 0
        picture = a[0]
    else:  # (batch, channels, height, width, ...): sample 0's first channels side by side
        sample = a[0].reshape((a.shape[1],) + a.shape[-2:]) if a.ndim == 4 else a[0].reshape((-1,) + a.shape[-2:])
        maps = sample[:PREVIEW_CHANNELS]
        c, h, w = maps.shape
        cols = int(np.ceil(np.sqrt(c)))
        rows = int(np.ceil(c / cols))
        grid = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
        for k in range(c):  # at most PREVIEW_CHANNELS maps: a loop over tiles, not pixels
            r, q = divmod(k, cols)
            grid[r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = maps[k]
        picture = grid
    step_r = max(1, int(np.ceil(picture.shape[0] / PREVIEW_SIDE)))
    step_c = max(1, int(np.ceil(picture.shape[1] / PREVIEW_SIDE)))
    return np.ascontiguousarray(picture[::step_r, ::step_c])


def _stats(xp: Any, array: Any) -> tuple[float, float, float, float]:
    """mean, std, min, max of ``array`` with one transfer to the host."""
    if array.size == 0:
        return 0.0, 0.0, 0.0, 0.0
    a = array.astype(xp.float64, copy=False) if array.dtype != xp.float64 else array
    packed = to_host(xp.stack([a.mean(), a.std(), a.min(), a.max()]))
    return tuple(float(v) for v in packed)  # type: ignore[return-value]


class Stepper:
    """One training step of ``model`` on the batch ``(x, y)`` with ``loss``, taken one node at a time.

    ``x`` and ``y`` are arrays of the model's backend (or host arrays, moved there); ``loss`` is a loss
    name or a Loss object.  Iterate :meth:`steps` (a generator: each ``next`` runs one more layer) or call
    :meth:`run_all`.  After the backward phase :attr:`outputs` and :attr:`gradients` hold every node's
    output and output gradient (device arrays); the update phase changes the model's weights in place.
    """

    def __init__(self, model: Model, x: Any, y: Any, loss: Any, lr: float = 0.01, training: bool = True,
                 update: bool = True) -> None:
        if not model.built:
            raise RuntimeError("Stepper needs a built model")
        self.model = model
        self.xp = model.xp
        self.x = self.xp.asarray(x, dtype=model.dtype)
        self.y = self.xp.asarray(y)
        self.loss = get_loss(loss) if isinstance(loss, str) else loss
        self.lr = float(lr)
        self.training = bool(training)
        self.update = bool(update)
        self.outputs: dict[str, Any] = {}
        self.gradients: dict[str, Any] = {}
        self.param_grads: dict[str, dict[str, Any]] = {}
        self.loss_value: float | None = None
        self.loss_after: float | None = None
        act = model.output_activation
        fuses = getattr(self.loss, "fuses_with", None)
        # The same choice Model.forward(logits=loss.fuses_with) and Model.loss_from_logits make.
        self.fused: str | None = act if fuses is not None and act == fuses and model.output_id != model.input_id else None
        self.from_logits = self.fused is not None or (fuses is not None and act != fuses)

    # -- the sequence -------------------------------------------------------------------------------
    def node_type(self, node_id: str) -> str:
        if node_id == self.model.input_id:
            return "Input"
        return getattr(self.model.nodes[node_id].layer, "type_name", type(self.model.nodes[node_id].layer).__name__)

    def _info(self, phase: str, node_id: str, array: Any, index: int, **extra: Any) -> StepInfo:
        mean, std, lo, hi = _stats(self.xp, array)
        return StepInfo(phase, node_id, self.node_type(node_id), tuple(int(d) for d in array.shape),
                        mean, std, lo, hi, preview_of(array), index, **extra)

    def steps(self) -> Iterator[StepInfo]:
        """Forward (execution order), backward (reverse order), then update (execution order), lazily."""
        model, xp = self.model, self.xp
        index = 0
        # ---- forward: inputs before consumers, several inputs handed over as a list --------------
        values: dict[str, Any] = {model.input_id: self.x}
        self.outputs = {model.input_id: self.x}
        logits = None
        layer_ids = [nid for nid in model.order if nid != model.input_id]
        last_forward = layer_ids[-1] if layer_ids else model.input_id
        for nid in model.order:
            if nid != model.input_id:
                node = model.nodes[nid]
                if nid == model.output_id and self.fused:
                    logits = values[node.inputs[0]]
                    out = apply_activation(xp, self.fused, logits)
                elif node.layer.n_inputs == 1:
                    out = node.layer.forward(values[node.inputs[0]], self.training)
                else:
                    out = node.layer.forward([values[s] for s in node.inputs], self.training)
                values[nid] = out
                self.outputs[nid] = out
            extra: dict[str, Any] = {}
            if nid == last_forward:
                value, grad = self._loss_and_grad(values, logits)
                self.loss_value = value
                extra["loss"] = value
            yield self._info("forward", nid, values[nid], index, **extra)
            index += 1
        # ---- backward: output to input, summing the gradients of nodes read by several consumers --
        model.set_input_grad(True)  # so the input's gradient (a saliency map) is shown too
        try:
            pending: dict[str, Any] = {model.output_id: grad}
            first = True
            for nid in reversed(model.order):
                if nid not in pending:
                    continue  # a node the loss does not reach
                g = pending.pop(nid)
                self.gradients[nid] = g
                extra = {"loss": value} if first else {}
                first = False
                if nid == model.input_id:
                    yield self._info("backward", nid, g, index, **extra)
                    index += 1
                    continue
                node = model.nodes[nid]
                if nid == model.output_id and self.fused:
                    back: list[Any] = [g]  # the loss already went through the activation: ∂L/∂z = p − t
                    extra["fused"] = self.fused
                else:
                    result = node.layer.backward(g)
                    back = [result] if node.layer.n_inputs == 1 else list(result)
                grads = node.layer.grads if not (nid == model.output_id and self.fused) else {}
                self.param_grads[nid] = dict(grads)
                norms = {name: float(to_host(xp.sqrt((gp * gp).sum()))) for name, gp in grads.items()}
                yield self._info("backward", nid, g, index, param_norms=norms, **extra)
                index += 1
                for src, gs in zip(node.inputs, back):
                    if gs is None:
                        continue
                    pending[src] = gs if src not in pending else pending[src] + gs
        finally:
            model.set_input_grad(False)
        if not self.update:
            return
        # ---- update: plain gradient descent, one layer at a time -----------------------------------
        with_params = [nid for nid in layer_ids if model.nodes[nid].layer.params]
        for k, nid in enumerate(with_params):
            layer = model.nodes[nid].layer
            deltas = {name: -self.lr * layer.grads[name] for name in layer.params}
            norms = {}
            for name, delta in deltas.items():
                layer.params[name] += delta  # in place: the optimizer's references stay valid
                norms[name] = float(to_host(xp.sqrt((delta * delta).sum())))
            flat = xp.concatenate([d.reshape(-1) for d in deltas.values()])
            extra = {}
            if k == len(with_params) - 1:
                self.loss_after = self._loss_after()
                extra["loss_after"] = self.loss_after
            info = self._info("update", nid, flat, index, param_norms=norms, lr=self.lr, **extra)
            info.preview = preview_of(_matrix_view(deltas))
            yield info
            index += 1

    def run_all(self) -> list[StepInfo]:
        return list(self.steps())

    def count(self) -> int:
        """How many steps :meth:`steps` yields: every node forward, every reached node backward, each layer with weights."""
        reached = len(self.model.order)
        updates = sum(1 for nid in self.model.order if nid != self.model.input_id
                      and self.model.nodes[nid].layer.params) if self.update else 0
        return 2 * reached + updates

    # -- loss -----------------------------------------------------------------------------------------
    def _loss_and_grad(self, values: dict[str, Any], logits: Any) -> tuple[float, Any]:
        out = logits if self.fused else values[self.model.output_id]
        value, grad = self.loss.forward(out, self.y, from_logits=self.from_logits)
        return float(value), grad

    def _loss_after(self) -> float:
        model = self.model
        out = model.forward(self.x, training=False, logits=self.fused or False)
        value, _ = self.loss.forward(out, self.y, from_logits=self.from_logits)
        return float(value)


def _matrix_view(deltas: dict[str, Any]) -> Any:
    """The weight step of a layer for the preview: its largest parameter as one (1, rows, cols) "sample"."""
    name = max(deltas, key=lambda k: int(deltas[k].size))
    d = deltas[name]
    if d.ndim <= 1:
        return d.reshape(1, 1, -1)
    if d.ndim == 2:  # Dense weights are (inputs, units): one row per unit reads better
        return d.T[None]
    return d.reshape(1, d.shape[0], -1)
