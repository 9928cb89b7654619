"""The engine's network: a DAG of layers run in a fixed topological order on NumPy or CuPy.

The graph editor compiles a document into a :class:`Model`; the trainer, the bench and the exporters drive
it.  The order of execution is computed once from the wiring alone (ties broken by node id), so the same
graph gives the same order, the same initial weights (one host ``numpy.random.Generator`` consumed in that
order) and the same results whatever the order its nodes were listed in a project file.

Fusing: a classifier usually ends in a softmax (or sigmoid) Activation, and its loss is far more stable
computed from the pre-activation.  ``forward(logits=...)`` then stops before that activation and
``backward`` starts below it; :meth:`Model.loss_from_logits` tells the caller what the loss receives.

Packing: once built, every parameter lives in one flat array and every gradient in another (each layer's
``params`` and ``grads`` hold views into them, in execution order, each starting on a 64-byte boundary).
Layers read and write them in place as before; :meth:`Model.parameters` hands the two flat arrays to the
optimizer with the list, which then updates all the parameters with a few array operations instead of a few
per parameter (see :mod:`.optimizers`).

Weights are saved as ``.npz`` keyed ``node_id/param`` (and ``node_id/buffer`` for non-trainable state such
as BatchNorm's running statistics), written atomically.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, NamedTuple

import numpy as np

from nnstudio.engine.backend import to_device, to_host
from nnstudio.engine.dag import stable_order
from nnstudio.engine.layers.activation import sigmoid, softmax
from nnstudio.engine.layers.base import Layer, Shape, as_shape
from nnstudio.engine.threads import Tuner
from nnstudio.errors import UserError

# Activations a loss can absorb (the names losses use in ``fuses_with``).
FUSABLE = ("softmax", "sigmoid")
PACK_ALIGN = 16  # elements: each packed parameter starts on a 64-byte boundary (float32)


class Packed(NamedTuple):
    """All of a model's parameters in one flat array and their gradients in another (see the module notes):
    ``offsets[i]`` is where the i-th parameter of :meth:`Model.parameters` starts in both."""

    params: Any
    grads: Any
    offsets: tuple[int, ...]


class Parameters(list):
    """:meth:`Model.parameters`' list of ``(key, parameter, gradient)``; ``packed`` is the model's
    :class:`Packed` arrays, which hold exactly these parameters and gradients (None when not packed).
    A list made from it (a selection, a copy) is a plain list: the optimizer then updates each parameter."""

    packed: Packed | None = None


class InputLayer(Layer):
    """The network input: a placeholder that passes the batch through and has no parameters."""

    type_name = "Input"

    def __init__(self, shape: Any = None) -> None:
        super().__init__()
        self.shape = None if shape is None else as_shape(shape, "Input", "shape")

    def output_shape(self, input_shape: Any) -> Shape:
        return as_shape(input_shape, "Input")

    def forward(self, x: Any, training: bool = False) -> Any:
        return x

    def backward(self, grad_out: Any) -> Any:
        return grad_out

    def config(self) -> dict[str, Any]:
        return {"shape": self.shape}


@dataclass
class ModelNode:
    """One node of the network: its id (a stable name), its layer, and the ids of the nodes feeding it."""

    id: str
    layer: Layer | None
    inputs: list[str] = field(default_factory=list)


class LoadResult(NamedTuple):
    """Keys of a state dict that did not match the model (only non-empty with ``strict=False``)."""

    missing: list[str]
    unexpected: list[str]


def topological_order(nodes: dict[str, ModelNode], input_id: str, output_id: str) -> list[str]:
    """Ids of the nodes the output depends on, inputs before consumers, ties broken by id.

    Raises UserError for a wire from an unknown node, a cycle, or a node that does not trace back to the
    input.  Nodes the output does not depend on are left out.
    """
    if output_id not in nodes and output_id != input_id:
        raise UserError(f"Model: the output node '{output_id}' is not among the nodes "
                        f"({', '.join(sorted(nodes)) or 'none'})")
    # Ancestors of the output: the only nodes worth running.
    needed: set[str] = set()
    stack = [output_id]
    while stack:
        nid = stack.pop()
        if nid in needed:
            continue
        needed.add(nid)
        if nid == input_id:
            continue
        node = nodes.get(nid)
        if node is None:
            raise UserError(f"Model: a node reads from '{nid}', which is not a node of the network")
        if not node.inputs:
            raise UserError(f"Node '{nid}': has no incoming connection; every block must be fed, "
                            f"directly or through others, by the input '{input_id}'")
        for src in node.inputs:
            if src not in nodes and src != input_id:
                raise UserError(f"Node '{nid}': its input '{src}' is not a node of the network")
            stack.append(src)
    # Dependency order over the needed nodes, always taking the smallest ready id.
    pending = {nid: (0 if nid == input_id else len(set(nodes[nid].inputs))) for nid in needed}
    consumers: dict[str, list[str]] = {nid: [] for nid in needed}
    for nid in needed:
        if nid != input_id:
            for src in set(nodes[nid].inputs):
                consumers[src].append(nid)
    order = stable_order(consumers, pending)
    if len(order) != len(needed):
        stuck = sorted(nid for nid in needed if nid not in order)
        raise UserError(f"Model: the connections form a loop through nodes {', '.join(stuck)}; "
                        "a network must flow from the input to the output without cycles")
    return order


class Model:
    """A network of layers wired as a DAG from ``input_id`` to ``output_id``.

    ``nodes`` may or may not include the input node (a node whose layer is None or an :class:`InputLayer`).
    After :meth:`build`, ``forward`` / ``backward`` run on batches of the backend's arrays.
    """

    def __init__(self, nodes: Iterable[ModelNode], input_id: str, output_id: str) -> None:
        self.nodes: dict[str, ModelNode] = {}
        for node in nodes:
            if node.id in self.nodes:
                raise UserError(f"Model: two nodes share the id '{node.id}'; node ids must be unique")
            self.nodes[node.id] = node
        self.input_id = input_id
        self.output_id = output_id
        if input_id in self.nodes:
            layer = self.nodes[input_id].layer
            if layer is not None and not isinstance(layer, InputLayer):
                raise UserError(f"Node '{input_id}': the input node must be an Input block, "
                                f"found {type(layer).__name__}")
            if self.nodes[input_id].inputs:
                raise UserError(f"Node '{input_id}': the input node cannot have incoming connections")
        self.order: list[str] = topological_order(self.nodes, input_id, output_id)
        self._check_arity()
        self.xp: Any = np
        self.dtype: Any = np.float32
        self.input_shape: Shape | None = None
        self.shapes: dict[str, Shape] = {}
        self.built = False
        self.seed = 0
        self._packed: Packed | None = None
        self.activations: dict[str, Any] = {}
        self.node_grads: dict[str, Any] = {}  # filled by backward(keep=...)
        self.fused: str | None = None  # the output activation the last forward skipped, if any
        # What forward walks through on every call, worked out once: (id, node, the ids it reads, its distinct
        # sources, the node whose layer runs on its output or None), and how many steps read each output (so
        # it can be let go after its last reader).  A forward pass without capture (a training step, a
        # prediction) runs a ReLU that only feeds a max pooling after the pooling instead (see _swappable):
        # same numbers, a quarter of the ReLU's work.
        self._steps, self._consumer_counts = self._plan({})
        self._swaps = self._swappable()
        self._swap_steps, self._swap_counts = self._plan(self._swaps)
        self._swapped: dict[str, str] = {}  # the swaps the last forward made, for backward
        # Chooses how many CPU threads each kind of call runs on, by timing them (see engine.threads).
        self.threads = Tuner()

    # -- structure ----------------------------------------------------------------------------------
    def _plan(self, swaps: dict[str, str]) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
        """The forward steps and consumer counts, with each pooling in ``swaps`` (pool id -> activation id)
        reading the activation's input and running the activation on its own output."""
        moved = set(swaps.values())
        steps = []
        for nid in self.order:
            if nid == self.input_id or nid in moved:
                continue
            node = self.nodes[nid]
            inputs, after = list(node.inputs), None
            if nid in swaps:  # the activation's node, not its layer: Model.to() gives nodes new layers
                act = self.nodes[swaps[nid]]
                inputs, after = list(act.inputs), act
            steps.append((nid, node, inputs, tuple(dict.fromkeys(inputs)), after))
        counts = dict.fromkeys(self.order, 0)
        for _nid, _node, _inputs, sources, _after in steps:
            for src in sources:
                counts[src] += 1
        return steps, counts

    def _swappable(self) -> dict[str, str]:
        """{max pooling id: ReLU id} for each ReLU (or leaky ReLU with a slope >= 0) read only by a max
        pooling.  An increasing function commutes with a maximum, and picks the same window element:
        relu(max(x)) == max(relu(x)) exactly, and the gradient reaches the same input (zero where the window
        is not positive either way), so the pooling can run first and the ReLU on a quarter of the values."""
        from nnstudio.engine.layers.activation import Activation  # noqa: PLC0415 - avoids an import cycle
        from nnstudio.engine.layers.pool import Pool2D  # noqa: PLC0415

        swaps = {}
        for nid in self.order:
            node = self.nodes.get(nid)
            if node is None or not isinstance(node.layer, Pool2D):
                continue
            if node.layer.mode != "max" or len(node.inputs) != 1:
                continue
            act_id = node.inputs[0]
            act = self.nodes.get(act_id)
            if act_id == self.input_id or act is None or not isinstance(act.layer, Activation):
                continue
            increasing = act.layer.function == "relu" or (act.layer.function == "leaky_relu"
                                                          and act.layer.alpha >= 0)
            # Read by this pooling alone (the counts of the plan without swaps, worked out before this).
            if increasing and self._consumer_counts[act_id] == 1 and act_id != self.output_id:
                swaps[nid] = act_id
        return swaps

    def _check_arity(self) -> None:
        for nid in self._layer_ids():
            node = self.nodes[nid]
            layer, count = node.layer, len(node.inputs)
            name = type(layer).__name__
            if layer.n_inputs == -1 and count < 2:
                raise UserError(f"Node '{nid}' ({name}): needs at least 2 incoming connections; found {count}")
            if layer.n_inputs == 1 and count != 1:
                raise UserError(f"Node '{nid}' ({name}): takes exactly 1 incoming connection; found {count}")
            if layer.n_inputs > 1 and count != layer.n_inputs:
                raise UserError(f"Node '{nid}' ({name}): takes {layer.n_inputs} incoming connections; "
                                f"found {count}")

    def _layer_ids(self) -> list[str]:
        """Ids in execution order, without the input node."""
        return [nid for nid in self.order if nid != self.input_id]

    def layer(self, node_id: str) -> Layer:
        return self.nodes[node_id].layer

    @property
    def output_activation(self) -> str | None:
        """The function of the output node's Activation layer, or None when it ends otherwise."""
        if self.output_id == self.input_id:
            return None
        return getattr(self.nodes[self.output_id].layer, "function", None)

    @property
    def output_shape(self) -> Shape:
        return self.shapes[self.output_id]

    # -- construction -------------------------------------------------------------------------------
    def build(self, input_shape: Any, xp: Any = np, seed: int = 0, dtype: Any = np.float32) -> "Model":
        """Build every layer in execution order from one host generator seeded with ``seed``."""
        try:
            in_shape = as_shape(input_shape, "Input")
        except ValueError as exc:
            raise UserError(f"Node '{self.input_id}': {exc}") from None
        rng = np.random.default_rng(seed)
        shapes: dict[str, Shape] = {self.input_id: in_shape}
        for nid in self._layer_ids():
            node = self.nodes[nid]
            layer = node.layer
            src = [shapes[s] for s in node.inputs]
            arg: Any = src if layer.n_inputs != 1 else src[0]
            try:
                out = tuple(layer.output_shape(arg))
                layer.build(arg, xp, rng, dtype)
            except ValueError as exc:
                raise UserError(f"Node '{nid}': {exc}") from None
            shapes[nid] = out
        self.xp, self.dtype, self.input_shape, self.shapes = xp, dtype, in_shape, shapes
        self.seed = int(seed)
        self._pack_parameters()
        self.built = True
        self.set_input_grad(False)
        return self

    def _pack_parameters(self) -> None:
        """Move every parameter into one flat array and every gradient into another (see the module notes);
        nothing is packed when the parameters differ in dtype or array type."""
        self._packed = None
        entries = [(layer, name) for nid in self._layer_ids()
                   for layer in (self.nodes[nid].layer,) for name in layer.params]
        if not entries:
            return
        first = entries[0][0].params[entries[0][1]]
        if any(layer.params[name].dtype != first.dtype or type(layer.params[name]) is not type(first)
               for layer, name in entries):
            return
        offsets, total = [], 0
        for layer, name in entries:
            offsets.append(total)
            total += -(-int(layer.params[name].size) // PACK_ALIGN) * PACK_ALIGN
        xp = self.xp
        flat_params, flat_grads = xp.zeros(total, first.dtype), xp.zeros(total, first.dtype)
        for (layer, name), start in zip(entries, offsets):
            param = layer.params[name]
            stop = start + int(param.size)
            view = flat_params[start:stop].reshape(param.shape)
            view[...] = param
            layer.params[name] = view
            layer.grads[name] = flat_grads[start:stop].reshape(param.shape)
        self._packed = Packed(flat_params, flat_grads, tuple(offsets))

    def set_input_grad(self, needed: bool) -> None:
        """Whether layers fed only by the network input compute the input's gradient (saliency maps)."""
        for nid in self._layer_ids():
            node = self.nodes[nid]
            if all(s == self.input_id for s in node.inputs):
                node.layer.needs_input_grad = needed

    def _require_built(self) -> None:
        if not self.built:
            raise RuntimeError("Model.build(input_shape, xp) must run before the model is used")

    # -- computation ----------------------------------------------------------------------------------
    def forward(self, x: Any, training: bool = False, capture: bool = False, logits: bool | str = False) -> Any:
        """Run the network on a batch ``x`` (an array of the backend, batch axis first).

        ``logits``: True skips a trailing softmax or sigmoid Activation, a function name skips only that
        one; :attr:`fused` then names what was skipped and ``backward`` starts below it.  ``capture``
        keeps every node's output (device arrays, not copied) in :attr:`activations`; the output node's
        entry is always the activation's output, also when it was fused.
        """
        self._require_built()
        if training:  # a training step is timed whole (train_step, or the trainer's own step)
            return self._forward(x, training, capture, logits)
        call = self.begin_call(self.call_key(x.shape, training=False, capture=capture))
        out = self._forward(x, training, capture, logits)
        self.end_call(call)
        return out

    @staticmethod
    def call_key(shape: tuple[int, ...], training: bool, capture: bool = False) -> tuple[Any, ...]:
        """The kind of call the thread tuner times on its own: a training step of one batch shape, or a forward
        pass in evaluation of one batch shape, with or without capture (``shape`` includes the batch axis)."""
        return ("train", tuple(shape)) if training else ("eval", tuple(shape), capture)

    def begin_call(self, key: tuple[Any, ...]) -> tuple[Any, float] | None:
        """Set the CPU thread count for a call of kind ``key`` (a training step or a forward pass of one batch
        shape, see engine.threads); pass what this returns to :meth:`end_call` when the call is done."""
        if self.xp is not np:
            return None
        return key, self.threads.start(key)

    def end_call(self, call: tuple[Any, float] | None) -> None:
        if call is not None:
            self.threads.stop(*call)

    def _forward(self, x: Any, training: bool, capture: bool, logits: bool | str) -> Any:
        fuse = self._fusable(logits)
        values: dict[str, Any] = {self.input_id: x}
        if capture:
            self.activations = {self.input_id: x}
        stop = self.output_id if fuse else None
        swapped = not capture and self._swaps
        steps, remaining = (self._swap_steps, self._swap_counts) if swapped else \
            (self._steps, self._consumer_counts)
        remaining = remaining.copy()
        self._swapped = self._swaps if swapped else {}
        for nid, node, inputs, sources, after in steps:
            if nid == stop:
                break
            layer = node.layer
            if layer.n_inputs == 1:
                out = layer.forward(values[inputs[0]], training)
            else:
                out = layer.forward([values[s] for s in inputs], training)
            if after is not None:
                out = after.layer.forward(out, training)
            values[nid] = out
            if capture:
                self.activations[nid] = out
            else:  # let go of intermediate outputs as soon as their last consumer ran
                for src in sources:
                    remaining[src] -= 1
                    if remaining[src] == 0 and src != self.input_id:
                        values.pop(src, None)
        self.fused = fuse
        if fuse:
            pre = values[self.nodes[self.output_id].inputs[0]]
            if capture:
                self.activations[self.output_id] = apply_activation(self.xp, fuse, pre)
            return pre
        return values[self.output_id]

    def _fusable(self, logits: bool | str) -> str | None:
        act = self.output_activation
        if not logits or act not in FUSABLE:
            return None
        if logits is True or logits == act:
            return act
        return None

    def loss_from_logits(self, loss: Any) -> bool:
        """Whether the last forward's output is raw scores (logits) for ``loss``.

        True when the model skipped the activation the loss fuses with, and also when the loss expects a
        squashing activation (``fuses_with``) the network does not end in at all: then its outputs are
        scores and the loss must apply the softmax / sigmoid itself.
        """
        fuses = getattr(loss, "fuses_with", None)
        if fuses is None:
            return False
        return self.fused == fuses or self.output_activation != fuses

    def backward(self, grad: Any, need_input_grad: bool = False, keep: Iterable[str] = ()) -> Any:
        """Back-propagate ``grad`` (of the last forward's output) into every layer's ``grads``.

        Gradients of nodes with several consumers are summed.  Returns the gradient of the network input
        when ``need_input_grad`` is True, else None.  ``keep`` names nodes whose output gradient is kept in
        :attr:`node_grads` (Grad-CAM reads a convolution's).
        """
        keep = set(keep)
        self.node_grads = {}
        self._require_built()
        if need_input_grad:
            self.set_input_grad(True)
        pending: dict[str, Any] = {}
        start = self.output_id
        if self.fused:
            start = self.nodes[self.output_id].inputs[0]
        pending[start] = grad
        input_grad = None
        try:
            for nid in reversed(self.order):
                if nid not in pending:
                    continue  # the skipped output activation, or a node the loss does not reach
                g = pending.pop(nid)
                if nid in keep:
                    self.node_grads[nid] = g
                if nid == self.input_id:
                    input_grad = g
                    continue
                node = self.nodes[nid]
                inputs = node.inputs
                if nid in self._swapped:  # the ReLU ran after this pooling: its gradient comes first
                    act = self.nodes[self._swapped[nid]]
                    g, inputs = act.layer.backward(g), act.inputs
                back = node.layer.backward(g)
                if node.layer.n_inputs == 1:
                    back = [back]
                for src, gs in zip(inputs, back):
                    if gs is None or (src == self.input_id and not need_input_grad):
                        continue
                    # Out of place: a layer may hand back an array it still uses (e.g. Add's grad_out).
                    pending[src] = gs if src not in pending else pending[src] + gs
        finally:
            if need_input_grad:
                self.set_input_grad(False)
        return input_grad

    def grad_norms(self) -> dict[str, float]:
        """{node_id: L2 norm of all of that layer's parameter gradients}, for layers with parameters."""
        self._require_built()
        if self.xp is np:  # a dot product per gradient: no temporary, and a few microseconds (the trainer asks
            # every batch, for the hints; (g * g).sum() and the stacking cost a tenth of a small network's step)
            return {nid: math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
                    for nid in self._layer_ids() if (grads := self.nodes[nid].layer.grads)}
        ids, squares = [], []
        for nid in self._layer_ids():
            grads = self.nodes[nid].layer.grads
            if grads:
                ids.append(nid)
                squares.append(sum((g * g).sum() for g in grads.values()))
        if not ids:
            return {}
        host = to_host(self.xp.sqrt(self.xp.stack([self.xp.asarray(s) for s in squares])))  # one transfer
        return {nid: float(v) for nid, v in zip(ids, host)}

    def predict(self, x: Any, batch_size: int = 1024) -> np.ndarray:
        """Outputs for host samples ``x`` in evaluation mode, as a host array, in batches."""
        self._require_built()
        x = np.asarray(x)
        if x.shape[1:] != self.input_shape:
            raise UserError(f"Model input: expected samples of shape {self.input_shape}, "
                            f"received an array of shape {x.shape}")
        if batch_size < 1:
            raise ValueError(f"predict: batch_size must be at least 1; received {batch_size}")
        parts = [to_host(self.forward(to_device(x[i:i + batch_size], self.xp, self.dtype), training=False))
                 for i in range(0, len(x), batch_size)]
        if not parts:
            return np.zeros((0,) + self.output_shape, dtype=self.dtype)
        return np.concatenate(parts, axis=0)

    def train_step(self, x: Any, y: Any, loss: Any, optimizer: Any, lr: float | None = None) -> tuple[float, Any]:
        """One step of training on a device batch: forward, loss, backward, optimizer update.

        Returns (loss value, output) where the output is what :meth:`forward` gives without fusing
        (probabilities for a softmax / sigmoid network), a device array.
        """
        call = self.begin_call(self.call_key(x.shape, training=True))
        out = self.forward(x, training=True, logits=loss.fuses_with or False)
        from_logits = self.loss_from_logits(loss)
        value, grad, probabilities = loss.value_grad_probabilities(out, y, from_logits)
        self.backward(grad)
        optimizer.step(self.parameters(), lr)
        if self.fused:
            out = probabilities if probabilities is not None and loss.fuses_with == self.fused else \
                apply_activation(self.xp, self.fused, out)
        self.end_call(call)
        return float(value), out

    # -- parameters and state -------------------------------------------------------------------------
    def parameters(self) -> Parameters:
        """[(key "node_id/param", parameter, its gradient)] in execution order, with the packed arrays that
        hold them all (``.packed``, see the module notes; None if a parameter or gradient was replaced by an
        array of its own since)."""
        self._require_built()
        items = Parameters()
        for nid in self._layer_ids():
            layer = self.nodes[nid].layer
            for name, param in layer.params.items():
                items.append((f"{nid}/{name}", param, layer.grads[name]))
        packed = self._packed  # handed on only while every parameter and gradient still lives in it
        if packed is not None and all(p.base is packed.params and g.base is packed.grads for _, p, g in items):
            items.packed = packed
        return items

    def param_count(self) -> int:
        return sum(int(p.size) for _, p, _ in self.parameters())

    def _state_arrays(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for nid in self._layer_ids():
            layer = self.nodes[nid].layer
            for name, value in list(layer.params.items()) + list(layer.buffers.items()):
                state[f"{nid}/{name}"] = value
        return state

    def state_dict(self) -> dict[str, np.ndarray]:
        """Host copies of all parameters and buffers, keyed "node_id/name"."""
        self._require_built()
        return {key: np.array(to_host(value)) for key, value in self._state_arrays().items()}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True, source: str = "state") -> LoadResult:
        """Copy ``state`` into the parameters and buffers, in place.

        Shape mismatches always raise UserError; with ``strict`` missing or unexpected keys do too, else
        they are returned.  ``source`` names where the state came from (a file) in messages.
        """
        self._require_built()
        own = self._state_arrays()
        missing = sorted(k for k in own if k not in state)
        unexpected = sorted(k for k in state if k not in own)
        problems = []
        if strict and missing:
            problems.append(f"missing {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected {', '.join(unexpected)}")
        for key in sorted(set(own) & set(state)):
            found = tuple(np.shape(state[key]))
            if found != tuple(own[key].shape):
                problems.append(f"'{key}' has shape {found} but the model expects {tuple(own[key].shape)}")
        if problems:
            raise UserError(f"Weights in {source} do not fit this network: " + "; ".join(problems))
        for key in sorted(set(own) & set(state)):
            own[key][...] = to_device(to_host(state[key]), self.xp, own[key].dtype)
        return LoadResult(missing, unexpected)

    def save_npz(self, path: str | os.PathLike) -> None:
        """Write the state dict to ``path`` as .npz, atomically (refused when it holds NaN)."""
        from nnstudio.engine.weights_io import write_weights  # noqa: PLC0415

        write_weights(path, self.state_dict())

    def load_npz(self, path: str | os.PathLike, strict: bool = True) -> LoadResult:
        """Load weights saved by :meth:`save_npz`; UserError naming the file when it cannot be used."""
        from nnstudio.engine.weights_io import read_weights  # noqa: PLC0415

        return self.load_state_dict(read_weights(path), strict=strict, source=f"'{os.fspath(path)}'")

    def to(self, xp: Any) -> "Model":
        """Move the model to another backend (``numpy`` or ``cupy`` module), keeping its weights (and each
        dropout's seed).  An optimizer's state stays on the old backend: train a moved model with a new one."""
        self._require_built()
        if xp is self.xp:
            return self
        state = self.state_dict()
        seeds = {nid: getattr(self.nodes[nid].layer, "seed", None) for nid in self._layer_ids()}
        for nid in self._layer_ids():
            node = self.nodes[nid]
            node.layer = type(node.layer)(**node.layer.config())
        self.build(self.input_shape, xp, self.seed, self.dtype)
        for nid, seed in seeds.items():
            reseed = getattr(self.nodes[nid].layer, "reseed", None)
            if seed is not None and callable(reseed):
                reseed(seed)
        self.load_state_dict(state)
        self.activations, self.node_grads = {}, {}
        return self

    def summary(self) -> list[tuple[str, str, Shape, int]]:
        """[(node id, layer type, output shape, parameter count)] in execution order."""
        self._require_built()
        rows = [(self.input_id, "Input", self.shapes[self.input_id], 0)]
        for nid in self._layer_ids():
            layer = self.nodes[nid].layer
            rows.append((nid, layer.type_name, self.shapes[nid], layer.param_count()))
        return rows


def apply_activation(xp: Any, function: str, x: Any) -> Any:
    """softmax or sigmoid of ``x`` (what a fused output activation would have produced)."""
    if function == "softmax":
        return softmax(xp, x)
    if function == "sigmoid":
        return sigmoid(xp, x)
    raise ValueError(f"apply_activation: {function!r} is not a fusable activation ({', '.join(FUSABLE)})")
