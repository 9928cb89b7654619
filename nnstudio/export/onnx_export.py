"""Export a network to ONNX, so a design made in NN Studio runs in onnxruntime, TensorRT, a browser...

The graph is compiled to an engine model first (so export sees exactly the layers, resolved parameters and
weights the engine runs) and every block is written as standard ONNX operators, opset 17 by default:

=============  ==================================================================================
Dense          Flatten(axis=1) when the input is not a vector, then Gemm (W is already (in, units))
Conv2D         Conv with explicit pads ("same" is computed for the known input size)
Pool2D         MaxPool / AveragePool (symmetric pads, floor mode: what the engine computes)
Activation     Relu, LeakyRelu(alpha), Sigmoid, Tanh, Softmax(axis=-1), Identity (linear);
               sign is Where(x >= 0, 1, -1) because ONNX's Sign maps 0 to 0 and ours maps it to +1
Dropout        Identity (evaluation)
BatchNorm      BatchNormalization with the running statistics
Flatten        Flatten(axis=1)
Reshape        Reshape to [0, *shape] (0 copies the dynamic batch size)
Add            Add, chained for more than two inputs
Concat         Concat(axis = sample axis + 1)
Features       Slice per column, Mul for squares and products, Sin, then Concat(axis=1)
=============  ==================================================================================

The main ONNX node of each block is named after the node id and helper nodes ``<id>/...``, which is what
lets :mod:`nnstudio.export.onnx_import` give an exported model back its blocks and ids; the main node's
``doc_string`` also carries the block's parameters ("NN Studio Conv2D {...}") so parameters ONNX has no
place for (``init``, Dropout's rate) or writes in resolved form ("same" padding) survive a round trip.

This module also holds :func:`load_network`, the one way the exporters turn "a project or a graph plus
weights" into a built engine model.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from nnstudio import __version__
from nnstudio.engine.model import Model
from nnstudio.errors import UserError
from nnstudio.export.features_export import emit_onnx as emit_features
from nnstudio.graph.compile import compile_graph
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, load_project
from nnstudio.userdirs import atomic_write_bytes

DEFAULT_OPSET = 17
INPUT_ID_KEY = "nnstudio.input_id"  # metadata: the id of the Input block (the graph input is always "input")
_PROTOBUF_LIMIT = 2**31 - 1  # bytes: one ONNX file cannot hold more
MIN_OPSET = 13  # Softmax over one axis, Gemm without bias and the Reshape "0" rule all hold from 13 on
BLOCK_DOC = "NN Studio {type} "  # + the block's parameters as JSON, in the doc_string of its main node

StateSource = Mapping[str, Any] | str | os.PathLike | None


@dataclass
class Network:
    """A graph compiled to a built engine model (NumPy, float32) holding the weights to export."""

    name: str
    graph: Graph
    model: Model
    description: str = ""


def load_network(project_or_graph: Project | Graph | str | os.PathLike, state_dict: StateSource = None) -> Network:
    """Compile ``project_or_graph`` (a Project, a Graph or a project file) and load ``state_dict`` into it.

    ``state_dict`` is a mapping keyed ``node_id/param`` (``Model.state_dict()``), the path of a ``.npz``
    saved by ``Model.save_npz``, or None for the initial weights drawn from the project's seed.
    UserError when the graph is not a valid network or the weights do not fit it.
    """
    if isinstance(project_or_graph, (str, os.PathLike)):
        project_or_graph = load_project(project_or_graph)
    if isinstance(project_or_graph, Project):
        graph, name = project_or_graph.graph, project_or_graph.name
        seed = int(project_or_graph.training.get("seed", 0))
        description = project_or_graph.description_en
    elif isinstance(project_or_graph, Graph):
        graph, name, seed, description = project_or_graph, "network", 0, ""
    else:
        raise TypeError("expected a Project, a Graph or a project file path; "
                        f"received {type(project_or_graph).__name__}")
    model = compile_graph(graph, backend="numpy", seed=seed, dtype=np.float32)
    if isinstance(state_dict, (str, os.PathLike)):
        model.load_npz(state_dict)
    elif state_dict is not None:
        model.load_state_dict(dict(state_dict), source="the weights given to the exporter")
    return Network(name or "network", graph, model, description)


def require_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise UserError("ONNX export and import need the 'onnx' package, which is not installed; "
                        "install it with: pip install onnx") from None
    return onnx


def check_opset(opset: Any) -> int:
    """``opset`` as an int in the supported range, or UserError saying what is supported."""
    onnx = require_onnx()
    newest = onnx.defs.onnx_opset_version()
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not MIN_OPSET <= int(opset) <= newest:
        raise UserError(f"ONNX export: opset must be a whole number from {MIN_OPSET} to {newest}. "
                        f"Received: opset={opset!r}")
    return int(opset)


class _Writer:
    """Collects nodes and initializers, handing out unique tensor names."""

    def __init__(self, onnx: Any, opset: int) -> None:
        self.onnx = onnx
        self.opset = opset
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.taken: set[str] = set()
        self.constants: dict[str, str] = {}

    def name(self, wanted: str) -> str:
        candidate, k = wanted, 1
        while candidate in self.taken:
            k += 1
            candidate = f"{wanted}_{k}"
        self.taken.add(candidate)
        return candidate

    def weight(self, wanted: str, array: np.ndarray, dtype: Any = np.float32) -> str:
        name = self.name(wanted)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array, dtype=dtype), name))
        return name

    def scalar(self, value: float) -> str:
        """A shared float32 scalar initializer (the 0, 1 and -1 of the sign construction)."""
        key = repr(float(value))
        if key not in self.constants:
            self.constants[key] = self.weight(f"const_{float(value):g}".replace("-", "minus_"),
                                              np.array(value, dtype=np.float32))
        return self.constants[key]

    def node(self, op: str, inputs: list[str], output: str, name: str, **attrs: Any) -> str:
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [output], name=name, **attrs))
        return output


def _emit(w: _Writer, model: Model, nid: str, srcs: list[str], out: str, state: dict[str, np.ndarray]) -> None:
    """Write block ``nid`` reading tensors ``srcs`` into tensor ``out``."""
    node = model.nodes[nid]
    layer = node.layer
    kind = layer.type_name
    in_shape = model.shapes[node.inputs[0]]
    x = srcs[0]
    if kind == "Dense":
        if len(in_shape) > 1:
            x = w.node("Flatten", [x], w.name(f"{nid}/flat"), name=f"{nid}/flatten", axis=1)
        inputs = [x, w.weight(f"{nid}/W", state[f"{nid}/W"])]
        if layer.use_bias:
            inputs.append(w.weight(f"{nid}/b", state[f"{nid}/b"]))
        w.node("Gemm", inputs, out, name=nid)
    elif kind == "Conv2D":
        top, bottom, left, right = layer.pads(in_shape[1], in_shape[2])
        inputs = [x, w.weight(f"{nid}/W", state[f"{nid}/W"])]
        if layer.use_bias:
            inputs.append(w.weight(f"{nid}/b", state[f"{nid}/b"]))
        w.node("Conv", inputs, out, name=nid, kernel_shape=list(layer.kernel), strides=list(layer.strides),
               pads=[top, left, bottom, right], dilations=[1, 1], group=1)
    elif kind == "Pool2D":
        ph, pw = layer.padding
        attrs: dict[str, Any] = {"kernel_shape": list(layer.kernel), "strides": list(layer.strides),
                                 "pads": [ph, pw, ph, pw]}
        if layer.mode == "max":
            w.node("MaxPool", [x], out, name=nid, **attrs)
        else:  # count_include_pad=0: each window averages its real values only, as the engine does
            w.node("AveragePool", [x], out, name=nid, count_include_pad=0, **attrs)
    elif kind == "Activation":
        f = layer.function
        if f == "sign":
            cond = w.node("GreaterOrEqual", [x, w.scalar(0.0)], w.name(f"{nid}/nonnegative"), name=f"{nid}/ge")
            w.node("Where", [cond, w.scalar(1.0), w.scalar(-1.0)], out, name=nid)
        elif f == "leaky_relu":
            w.node("LeakyRelu", [x], out, name=nid, alpha=float(layer.alpha))
        elif f == "softmax":
            w.node("Softmax", [x], out, name=nid, axis=-1)
        else:
            op = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "linear": "Identity"}[f]
            w.node(op, [x], out, name=nid)
    elif kind == "Dropout":
        w.node("Identity", [x], out, name=nid)  # evaluation; the rate travels in the doc_string
    elif kind == "BatchNorm":
        inputs = [x] + [w.weight(f"{nid}/{p}", state[f"{nid}/{p}"])
                        for p in ("gamma", "beta", "running_mean", "running_var")]
        w.node("BatchNormalization", inputs, out, name=nid, epsilon=float(layer.eps), momentum=float(layer.momentum))
    elif kind == "Flatten":
        w.node("Flatten", [x], out, name=nid, axis=1)
    elif kind == "Reshape":
        shape = w.weight(f"{nid}/shape", np.array([0, *layer.shape], dtype=np.int64), dtype=np.int64)
        attrs = {"allowzero": 0} if w.opset >= 14 else {}
        w.node("Reshape", [x, shape], out, name=nid, **attrs)
    elif kind == "Add":
        acc = srcs[0]
        for i, other in enumerate(srcs[1:-1], start=1):
            acc = w.node("Add", [acc, other], w.name(f"{nid}/sum{i}"), name=f"{nid}/add{i}")
        w.node("Add", [acc, srcs[-1]], out, name=nid)
    elif kind == "Concat":
        axis = layer.axis % len(in_shape) + 1
        w.node("Concat", srcs, out, name=nid, axis=axis)
    elif kind == "Features":
        emit_features(w, nid, x, out, layer.features)
    else:  # a new engine layer without an ONNX mapping is a bug to fix here, not a user mistake
        raise NotImplementedError(f"ONNX export has no mapping for {kind} (node '{nid}')")


def network_to_onnx(net: Network, opset: int = DEFAULT_OPSET) -> Any:
    """The ``onnx.ModelProto`` of a compiled network: input "input" (N, *shape), output "output"."""
    onnx = require_onnx()
    opset = check_opset(opset)
    model = net.model
    state = {k: np.asarray(v, dtype=np.float32) for k, v in model.state_dict().items()}
    size = sum(v.nbytes for v in state.values())
    if size > _PROTOBUF_LIMIT - (1 << 20):
        raise UserError(f"ONNX export: '{net.name}' has {size / 2**30:.1f} GiB of weights, more than the 2 GiB one "
                        "ONNX file can hold; export to PyTorch instead, or make the largest layers smaller")
    w = _Writer(onnx, opset)
    tensors = {model.input_id: w.name("input")}
    w.taken.add("output")
    for nid in model.order:
        if nid == model.input_id:
            continue
        out = "output" if nid == model.output_id else w.name(nid)
        _emit(w, model, nid, [tensors[s] for s in model.nodes[nid].inputs], out, state)
        tensors[nid] = out
        # Parameters ONNX cannot hold (init, the rate of a Dropout) or holds only in resolved form ("same"
        # padding, a negative axis) travel as a hint; the operators alone still define the computation.
        block = net.graph.nodes[nid]
        hint = BLOCK_DOC.format(type=block.type) + json.dumps(block.params, sort_keys=True)
        next(n for n in reversed(w.nodes) if n.name == nid).doc_string = hint
    if model.output_id == model.input_id:
        w.node("Identity", [tensors[model.input_id]], "output", name="output")
    helper = onnx.helper
    float_type = onnx.TensorProto.FLOAT
    graph = helper.make_graph(
        w.nodes, net.name,
        [helper.make_tensor_value_info("input", float_type, ["N", *model.input_shape])],
        [helper.make_tensor_value_info("output", float_type, ["N", *model.output_shape])],
        initializer=w.initializers, doc_string=net.description or None)
    opsets = [helper.make_opsetid("", opset)]
    proto = helper.make_model(graph, opset_imports=opsets, producer_name="NN Studio", producer_version=__version__,
                              ir_version=helper.find_min_ir_version_for(opsets))
    proto.doc_string = f"{net.name}, exported from NN Studio {__version__}"
    helper.set_model_props(proto, {INPUT_ID_KEY: model.input_id})
    return proto


def build_onnx_model(project_or_graph: Project | Graph | str | os.PathLike, state_dict: StateSource = None,
                     opset: int = DEFAULT_OPSET) -> Any:
    """The checked ``onnx.ModelProto`` of a project or graph with ``state_dict``'s weights."""
    onnx = require_onnx()
    proto = network_to_onnx(load_network(project_or_graph, state_dict), opset)
    onnx.checker.check_model(proto, full_check=True)  # a failure here is an exporter bug
    return proto


def export_onnx(project_or_graph: Project | Graph | str | os.PathLike, state_dict: StateSource, path: str | os.PathLike,
                opset: int = DEFAULT_OPSET) -> Path:
    """Write the network as an ONNX file at ``path`` (atomically); returns the path written."""
    proto = build_onnx_model(project_or_graph, state_dict, opset)
    target = Path(path)
    try:
        atomic_write_bytes(target, proto.SerializeToString())
    except OSError as exc:
        raise UserError(f"ONNX file '{os.fspath(path)}' cannot be written ({exc.strerror or exc})") from None
    return target
