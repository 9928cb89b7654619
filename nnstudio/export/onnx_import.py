"""Import an ONNX model as an NN Studio project, so a network made elsewhere can be opened, studied and trained.

Only models built from operators that map onto our blocks are accepted: Gemm, MatMul (+ Add for its bias),
Conv, MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Relu, LeakyRelu, Sigmoid, Tanh, Softmax, Flatten,
Reshape, Dropout, Add, Concat, BatchNormalization, Identity, Constant and the Where(x >= 0, 1, -1) construction
our exporter writes for ``sign``.  Operators whose inputs are all constants (Transpose, Reshape, Flatten,
Identity, Add, Sub, Mul, Div, Neg, Sqrt on initializers, as exporters write a transposed or scaled weight) are
computed at import and become initializers of the blocks that read them.  Anything else is refused up front
with every unsupported operator named, and a supported operator used in a way a block cannot express (dilated
or grouped convolution, asymmetric padding, a softmax over an inner axis, a Transpose or Mul of the data...) is
refused with the node and the attribute at fault.  Rectangular kernels, unequal strides and symmetric per-axis
padding import as they are (Conv2D and Pool2D take (height, width) pairs).

Models written by :mod:`nnstudio.export.onnx_export` come back block for block: ONNX node names become node
ids, the Flatten our exporter puts before a Dense on images folds back into the Dense, chained Adds become
one Add block, the Slice / Mul / Sin / Concat construction of a Features block (Slice and Sin only there)
becomes that block again, and the parameters left in each node's doc_string restore what ONNX cannot say (``init``, a
Dropout exported as Identity) or says in resolved form ("same" padding, axis -1).  Those hints never
change the computation: the ONNX operators and attributes alone define it.  Imported nodes have no
positions; the editor lays them out.
"""
from __future__ import annotations

import json
import os
import re
import stat
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from nnstudio.engine.layers.conv import Conv2D
from nnstudio.engine.weights_io import unusable_weight
from nnstudio.errors import UserError
from nnstudio.export.features_export import recognise_onnx as recognise_features
from nnstudio.export.onnx_export import INPUT_ID_KEY, require_onnx
from nnstudio.graph.catalogue import get_block
from nnstudio.graph.compile import compile_graph, make_layer
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, default_training

SUPPORTED_OPS = ("Gemm", "MatMul", "Add", "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
                 "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Softmax", "Flatten", "Reshape", "Dropout", "Concat",
                 "BatchNormalization", "Identity", "Where", "GreaterOrEqual", "Constant", "Transpose", "Sub", "Mul",
                 "Div", "Neg", "Sqrt", "Slice", "Sin")
# Operators computed at import when every input is a constant; on the data only some have a block.
FOLDABLE_OPS = ("Transpose", "Reshape", "Flatten", "Identity", "Add", "Sub", "Mul", "Div", "Neg", "Sqrt")
MAX_FOLDED_VALUES = 2**28  # a folded constant larger than this (1 GiB of float32) is refused
_POOL_FACTOR_MAX = 16  # Pool2D's largest window: a global pool over a bigger map becomes a chain of pools
_FLOAT_TYPES = (1, 10, 11, 16)  # FLOAT, FLOAT16, DOUBLE, BFLOAT16
MAX_ONNX_BYTES = 2**31  # protobuf's own limit for one message; larger models keep weights in external data
MAX_EXTERNAL_BYTES = 8 * 2**30
MAX_HINT_CHARS = 100_000
_HINT = re.compile(r"^NN Studio (\w+) (\{.*\})$", re.S)
_SIMPLE_ACTIVATIONS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh"}


def _short(text: str, limit: int = 60) -> str:
    """A name from the file as it may appear in a one-line message: printable, one line, not too long."""
    text = "".join(c if c.isprintable() else "?" for c in str(text))
    return text if len(text) <= limit else text[:limit] + "..."


def _refuse_unsupported(nodes: Any, source: str, numbers: list[int] | None = None) -> None:
    """UserError naming each operator NN Studio cannot import and the first node using it."""
    unsupported: dict[str, tuple[int, Any]] = {}  # operator -> (node number, node)
    for k, node in enumerate(nodes):
        op = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        if op not in SUPPORTED_OPS:
            unsupported.setdefault(op, (numbers[k] if numbers else k + 1, node))
    if unsupported:
        named = [f"{_short(op)} (node {_short(node.name) + ', ' if node.name else ''}#{number})"
                 for op, (number, node) in list(unsupported.items())[:10]]
        more = f" and {len(unsupported) - 10} more" if len(unsupported) > 10 else ""
        raise UserError(f"{source} uses operators NN Studio does not support: {', '.join(named)}{more}")


def _tidy_float(value: float) -> float:
    """ONNX stores float attributes as float32: 1e-5 comes back as 9.99999974737875e-06; undo that."""
    return float(f"{float(value):.7g}")


class _Importer:
    """One import: the ONNX graph on one side, the Graph and state dict being built on the other."""

    def __init__(self, onnx: Any, proto: Any, source: str) -> None:
        self.onnx = onnx
        self.source = source
        self.g = proto.graph
        self.metadata = {p.key: p.value for p in proto.metadata_props}
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.nodes = list(self.g.node)
        self.consts: dict[str, np.ndarray] = {t.name: onnx.numpy_helper.to_array(t) for t in self.g.initializer}
        self.fold_errors: dict[int, str] = {}  # node index -> why its constant inputs could not be folded
        for i, node in enumerate(self.nodes):
            if node.domain not in ("", "ai.onnx"):
                continue
            if node.op_type == "Constant":
                self.consts[node.output[0]] = self._constant_value(node)
            elif node.op_type in FOLDABLE_OPS and node.input and all(t in self.consts for t in node.input if t):
                self._fold(i)
        self.producer: dict[str, int] = {}
        for i, node in enumerate(self.nodes):
            for out in node.output:
                if out:
                    self.producer[out] = i
        self.graph = Graph()
        self.state: dict[str, np.ndarray] = {}
        self.block_of: dict[str, str] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.absorbed: set[int] = set()
        self.flatten_source: dict[int, str] = {}  # Gemm/MatMul index -> tensor before a folded Flatten
        self.bias_add: dict[int, int] = {}  # MatMul index -> the Add holding its bias
        self.untransposed: dict[int, str] = {}  # Gemm (transA=1) index -> the data before the Transpose it undoes
        self.needed: list[int] = []  # indices of the nodes the output depends on, in file (topological) order
        self.features: dict[int, tuple[str, tuple[str, ...]]] = {}  # Concat index -> (data, features) of Features

    # -- helpers ----------------------------------------------------------------------------------------
    def _desc(self, i: int) -> str:
        node = self.nodes[i]
        return f"{node.op_type} '{node.name}'" if node.name else f"{node.op_type} (node {i + 1})"

    def fail(self, i: int | None, text: str) -> UserError:
        where = f"{self.source}: " + (f"{self._desc(i)}: " if i is not None else "")
        return UserError(where + text)

    def _constant_value(self, node: Any) -> np.ndarray:
        for attr in node.attribute:
            value = self.onnx.helper.get_attribute_value(attr)
            if attr.name == "value":
                return self.onnx.numpy_helper.to_array(value)
            if attr.name in ("value_float", "value_floats"):
                return np.asarray(value, dtype=np.float32)
            if attr.name in ("value_int", "value_ints"):
                return np.asarray(value, dtype=np.int64)
        raise UserError(f"{self.source}: Constant '{node.name}' holds a kind of value NN Studio cannot read")

    def _fold(self, i: int) -> None:
        """Compute node ``i`` on its constant inputs at import; its output becomes a constant."""
        node = self.nodes[i]
        args = [np.asarray(self.consts[t]) for t in node.input if t]
        op = node.op_type
        try:
            if op in ("Add", "Sub", "Mul", "Div") and len(args) == 2:
                size = int(np.prod(np.broadcast_shapes(args[0].shape, args[1].shape), dtype=np.float64))
                if size > MAX_FOLDED_VALUES:
                    raise ValueError(f"its result would hold {size:,} values")
                a, b = args
                if op == "Div" and np.issubdtype(np.result_type(a, b), np.integer):
                    with np.errstate(divide="raise"):
                        out = np.trunc(np.true_divide(a, b)).astype(np.result_type(a, b))
                else:
                    with np.errstate(all="ignore"):
                        out = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op](a, b)
            elif op == "Neg":
                out = np.negative(args[0])
            elif op == "Sqrt":
                with np.errstate(invalid="ignore"):
                    out = np.sqrt(args[0])
            elif op == "Identity":
                out = args[0]
            elif op == "Transpose":
                perm = self.attr(i, "perm", None)
                out = np.transpose(args[0], None if perm is None else [int(p) for p in perm])
            elif op == "Flatten":
                axis = int(self.attr(i, "axis", 1))
                axis = axis + args[0].ndim if axis < 0 else axis
                if not 0 <= axis <= args[0].ndim:
                    raise ValueError(f"axis {self.attr(i, 'axis')} is outside a rank-{args[0].ndim} tensor")
                out = args[0].reshape(int(np.prod(args[0].shape[:axis], dtype=np.int64)), -1)
            elif op == "Reshape" and len(args) == 2:
                dims = [int(d) for d in args[1].reshape(-1)]
                if not self.attr(i, "allowzero", 0):
                    dims = [args[0].shape[k] if d == 0 and k < args[0].ndim else d for k, d in enumerate(dims)]
                out = args[0].reshape(dims)
            else:
                raise ValueError(f"it has {len(args)} inputs")
        except (ValueError, TypeError, IndexError, FloatingPointError) as exc:
            self.fold_errors[i] = f"cannot be computed on its constant inputs ({_short(exc, 200)})"
            return
        self.consts[node.output[0]] = np.asarray(out)

    def attr(self, i: int, name: str, default: Any = None) -> Any:
        for a in self.nodes[i].attribute:
            if a.name == name:
                value = self.onnx.helper.get_attribute_value(a)
                if isinstance(value, bytes):
                    value = value.decode("utf-8", "replace")
                if isinstance(value, float):
                    value = _tidy_float(value)
                return list(value) if isinstance(value, (list, tuple)) else value
        return default

    def const(self, i: int, k: int, what: str) -> np.ndarray:
        """Input ``k`` of node ``i``, which must be a constant (an initializer or a Constant node)."""
        node = self.nodes[i]
        name = node.input[k] if k < len(node.input) else ""
        if not name or name not in self.consts:
            raise self.fail(i, f"its {what} (input {k + 1}) must be a constant stored in the model; "
                               f"found {'nothing' if not name else 'a computed tensor'}")
        return np.asarray(self.consts[name])

    def has_input(self, i: int, k: int) -> bool:
        node = self.nodes[i]
        return k < len(node.input) and bool(node.input[k])

    def hint(self, i: int, block_type: str) -> dict[str, Any]:
        """The block parameters our exporter left in node ``i``'s doc_string (valid ones only), else {}."""
        doc = self.nodes[i].doc_string or ""
        if len(doc) > MAX_HINT_CHARS:  # ours are a few hundred characters; a huge one is not ours
            return {}
        match = _HINT.match(doc)
        if not match or match.group(1) != block_type:
            return {}
        try:
            raw = json.loads(match.group(2))
            spec = get_block(block_type)
            return {k: spec.param(k).validate(v, block_type) for k, v in raw.items()} if isinstance(raw, dict) else {}
        except (ValueError, TypeError, UserError, RecursionError):  # deep nesting, odd values: not our hint
            return {}

    def consumers(self, tensor: str) -> list[int]:
        return [j for j in self.needed if tensor in self.nodes[j].input]

    def block(self, i: int, tensor: str) -> str:
        """The block producing ``tensor`` (the data input of node ``i``)."""
        if tensor in self.consts:
            raise self.fail(i, "reads a constant where NN Studio's block expects the output of another block")
        if tensor not in self.block_of:
            raise self.fail(i, f"reads '{tensor}', which no supported block produces")
        return self.block_of[tensor]

    def rank(self, bid: str) -> int:
        """Rank of a block's output including the batch axis."""
        return len(self.shapes[bid]) + 1

    # -- graph structure --------------------------------------------------------------------------------
    def find_needed(self, output: str) -> list[int]:
        needed: set[int] = set()
        stack = [output]
        seen: set[str] = set()
        while stack:
            tensor = stack.pop()
            if tensor in seen or tensor in self.consts or tensor not in self.producer:
                continue
            seen.add(tensor)
            i = self.producer[tensor]
            needed.add(i)
            stack.extend(t for t in self.nodes[i].input if t)
        return sorted(needed)

    def check_operators(self) -> None:
        _refuse_unsupported([self.nodes[i] for i in self.needed], self.source, [i + 1 for i in self.needed])

    def plan_folds(self) -> None:
        """Decide which ONNX nodes merge into a neighbour's block instead of becoming blocks of their own."""
        for i in self.needed:
            node = self.nodes[i]
            op = node.op_type
            if op in ("Gemm", "MatMul"):
                p = self.producer.get(node.input[0])
                if p is not None and self.nodes[p].op_type == "Flatten" and node.name \
                        and self.nodes[p].name == f"{node.name}/flatten" and self.attr(p, "axis", 1) == 1 \
                        and self.consumers(node.input[0]) == [i]:
                    self.absorbed.add(p)
                    self.flatten_source[i] = self.nodes[p].input[0]
            if op == "Gemm" and self.attr(i, "transA", 0):
                p = self.producer.get(node.input[0])
                if p is not None and i not in self.flatten_source and self.nodes[p].op_type == "Transpose" \
                        and self.nodes[p].input and self.nodes[p].input[0] not in self.consts \
                        and self.attr(p, "perm", [1, 0]) == [1, 0] and self.consumers(node.input[0]) == [i]:
                    self.absorbed.add(p)  # Gemm(transA=1) of Transpose(x) is Gemm of x
                    self.untransposed[i] = self.nodes[p].input[0]
            if op == "MatMul":
                users = self.consumers(node.output[0])
                if len(users) == 1 and self.nodes[users[0]].op_type == "Add":
                    add = self.nodes[users[0]]
                    other = [t for t in add.input if t != node.output[0]]
                    if len(other) == 1 and other[0] in self.consts:
                        self.absorbed.add(users[0])
                        self.bias_add[i] = users[0]
            if op == "Concat" and (found := recognise_features(self, i)) is not None:
                self.features[i] = found[:2]  # Slice / Mul / Sin of the two columns, joined: a Features block
                self.absorbed |= found[2]
            if op == "Where":
                p = self.producer.get(node.input[0])
                if p is not None and self.nodes[p].op_type == "GreaterOrEqual" and self.consumers(node.input[0]) == [i]:
                    self.absorbed.add(p)
        for i in self.needed:  # Add chains: "<id>/add1" ... feed the final Add named "<id>"
            node = self.nodes[i]
            if node.op_type == "Add" and i not in self.absorbed and node.name:
                for t in node.input:
                    p = self.producer.get(t)
                    if p is not None and self.nodes[p].op_type == "Add" and \
                            self.nodes[p].name.startswith(f"{node.name}/add") and self.consumers(t) == [i]:
                        self.absorbed.add(p)

    def add_block(self, i: int, block_type: str, params: dict[str, Any], inputs: list[str],
                  weights: dict[str, np.ndarray] | None = None, outputs: tuple[str, ...] = ()) -> str:
        node = self.nodes[i]
        if "init" in self.hint(i, block_type):  # how the weights started: not part of the computation
            params = {**params, "init": self.hint(i, block_type)["init"]}
        bid = re.sub(r"[^0-9A-Za-z_.\-]+", "_", node.name or "").strip("_")
        if not bid or bid in self.graph.nodes:
            bid = self.graph.new_id(block_type)
        try:
            self.graph.add_node(block_type, params, node_id=bid)
            for port, src in enumerate(inputs):
                self.graph.connect(src, bid, port)
            layer = make_layer(self.graph.nodes[bid])
            arg: Any = [self.shapes[s] for s in inputs] if len(inputs) > 1 else self.shapes[inputs[0]]
            self.shapes[bid] = tuple(layer.output_shape(arg))
        except (UserError, ValueError) as exc:
            raise self.fail(i, str(exc)) from None
        for name, value in (weights or {}).items():
            self.state[f"{bid}/{name}"] = np.ascontiguousarray(value, dtype=np.float32)
        for tensor in outputs or (node.output[0],):
            self.block_of[tensor] = bid
        return bid

    # -- operators --------------------------------------------------------------------------------------
    def dense(self, i: int) -> None:
        node = self.nodes[i]
        folded = i in self.flatten_source
        src = self.block(i, self.flatten_source.get(i, self.untransposed.get(i, node.input[0])))
        if not folded and len(self.shapes[src]) != 1:
            raise self.fail(i, f"multiplies an input of shape {self.shapes[src]} per sample; NN Studio's Dense "
                               "takes vectors (flatten the input first)")
        outputs: tuple[str, ...] = (node.output[0],)
        bias = None
        if node.op_type == "Gemm":
            if self.attr(i, "transA", 0) and i not in self.untransposed:
                raise self.fail(i, "transA=1 reads the data input A with the batch on its second axis; NN Studio "
                                   "keeps the batch first, so only A = Transpose(x) of the data right before it "
                                   "(which transA undoes) can be imported")
            w = self.const(i, 1, "weight matrix B")
            if w.ndim != 2:
                raise self.fail(i, f"its weight matrix B must be 2-D; found shape {w.shape}")
            w = (w.T if self.attr(i, "transB", 0) else w) * float(self.attr(i, "alpha", 1.0))
            if self.has_input(i, 2):
                bias = self.const(i, 2, "bias C") * float(self.attr(i, "beta", 1.0))
        else:
            w = self.const(i, 1, "weight matrix")
            if w.ndim != 2:
                raise self.fail(i, f"its weight matrix must be 2-D; found shape {w.shape}")
            if i in self.bias_add:
                add = self.nodes[self.bias_add[i]]
                bias = np.asarray(self.consts[next(t for t in add.input if t != node.output[0])])
                outputs = (add.output[0],)
        units = int(w.shape[1])
        fan_in = int(np.prod(self.shapes[src]))
        if w.shape[0] != fan_in:
            raise self.fail(i, f"its weight matrix has {w.shape[0]} rows but the input has {fan_in} values per sample")
        weights = {"W": w}
        if bias is not None:
            b = bias.reshape(-1) if bias.ndim == 2 and bias.shape[0] == 1 else bias
            try:
                weights["b"] = np.broadcast_to(b, (units,))
            except ValueError:
                raise self.fail(i, f"its bias of shape {bias.shape} does not fit {units} outputs") from None
        self.add_block(i, "Dense", {"units": units, "use_bias": bias is not None}, [src], weights, outputs)

    def conv(self, i: int) -> None:
        node = self.nodes[i]
        src = self.block(i, node.input[0])
        w = self.const(i, 1, "kernel W")
        if w.ndim != 4 or len(self.shapes[src]) != 3:
            raise self.fail(i, "only 2-D convolutions of (channels, height, width) inputs are supported; found "
                               f"kernel shape {w.shape} on input {self.shapes[src]}")
        if self.attr(i, "group", 1) != 1:
            raise self.fail(i, f"grouped convolution (group={self.attr(i, 'group')}) is not supported")
        if any(d != 1 for d in self.attr(i, "dilations", [1, 1])):
            raise self.fail(i, f"dilated convolution (dilations={self.attr(i, 'dilations')}) is not supported")
        filters, _, kh, kw = (int(d) for d in w.shape)
        strides = [int(v) for v in self.attr(i, "strides", [1, 1])]
        kernel: Any = kh if kh == kw else [kh, kw]
        stride: Any = strides[0] if strides[0] == strides[1] else strides
        _, h, width = self.shapes[src]
        same = Conv2D(filters, (kh, kw), strides, "same").pads(h, width)
        auto_pad = self.attr(i, "auto_pad", "NOTSET")
        pads = [int(v) for v in self.attr(i, "pads", [0, 0, 0, 0])]
        padding: Any
        if auto_pad == "VALID":
            padding = 0
        elif auto_pad == "SAME_UPPER" or (auto_pad == "SAME_LOWER" and same[0] == same[1] and same[2] == same[3]):
            padding = "same"
        elif auto_pad == "NOTSET" and len(pads) == 4 and pads[0] == pads[2] and pads[1] == pads[3]:
            padding = pads[0] if pads[0] == pads[1] else [pads[0], pads[1]]
        elif auto_pad == "NOTSET" and len(pads) == 4 and (pads[0], pads[2], pads[1], pads[3]) == same:
            padding = "same"
        else:
            raise self.fail(i, f"padding {auto_pad if auto_pad != 'NOTSET' else pads} is not symmetric (the same "
                               "rows above and below, the same columns left and right) and is not \"same\"")
        if padding != "same" and self.hint(i, "Conv2D").get("padding") == "same" and \
                Conv2D(filters, (kh, kw), strides, padding).pads(h, width) == same:
            padding = "same"  # the same pads, kept in the form the author chose
        bias = self.const(i, 2, "bias B") if self.has_input(i, 2) else np.zeros(filters, dtype=np.float32)
        self.add_block(i, "Conv2D", {"filters": filters, "kernel_size": kernel, "stride": stride, "padding": padding},
                       [src], {"W": w, "b": bias})

    def pool(self, i: int) -> None:
        node = self.nodes[i]
        src = self.block(i, node.input[0])
        kernel = self.attr(i, "kernel_shape", [])
        strides = self.attr(i, "strides", [1] * len(kernel))
        if len(kernel) != 2 or len(self.shapes[src]) != 3:
            raise self.fail(i, f"only 2-D pooling of (channels, height, width) inputs is supported; found "
                               f"kernel_shape {kernel} on input {self.shapes[src]}")
        problems = []
        pads = [int(v) for v in self.attr(i, "pads", [0, 0, 0, 0])]
        auto_pad = self.attr(i, "auto_pad", "NOTSET")
        padding: Any = 0
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            problems.append(f"auto_pad={auto_pad} is not supported (give explicit pads)")
        elif auto_pad == "NOTSET":
            if len(pads) != 4 or pads[0] != pads[2] or pads[1] != pads[3]:
                problems.append(f"pads {pads} are not symmetric (the same rows above and below, the same "
                                "columns left and right)")
            elif pads[0] > kernel[0] // 2 or pads[1] > kernel[1] // 2:
                problems.append(f"pads {pads} are more than half the window {kernel[0]}x{kernel[1]}")
            else:
                padding = pads[0] if pads[0] == pads[1] else [pads[0], pads[1]]
        if node.op_type == "AveragePool" and padding != 0 and self.attr(i, "count_include_pad", 0):
            problems.append("count_include_pad=1 is not supported (NN Studio averages the real pixels only)")
        if self.attr(i, "ceil_mode", 0):
            problems.append("ceil_mode=1 is not supported")
        if any(d != 1 for d in self.attr(i, "dilations", [1, 1])):
            problems.append("dilations are not supported")
        if len(node.output) > 1 and node.output[1] and self.consumers(node.output[1]):
            problems.append("its Indices output is used")
        if problems:
            raise self.fail(i, "; ".join(problems))
        size: Any = int(kernel[0]) if kernel[0] == kernel[1] else [int(kernel[0]), int(kernel[1])]
        stride: Any = int(strides[0]) if strides[0] == strides[1] else [int(strides[0]), int(strides[1])]
        mode = "max" if node.op_type == "MaxPool" else "avg"
        params: dict[str, Any] = {"mode": mode, "size": size, "stride": 0 if stride == size else stride}
        if padding != 0:
            params["padding"] = padding
        self.add_block(i, "Pool2D", params, [src])

    def global_pool(self, i: int) -> None:
        """GlobalAveragePool / GlobalMaxPool: a Pool2D over the whole map (a chain of them beyond 16 pixels)."""
        node = self.nodes[i]
        src = self.block(i, node.input[0])
        if len(self.shapes[src]) != 3:
            raise self.fail(i, f"only 2-D pooling of (channels, height, width) inputs is supported; found input "
                               f"{self.shapes[src]}")
        _, h, w = self.shapes[src]

        def factors(n: int) -> list[int]:
            sizes, rest = [], n
            while rest > 1:
                factor = next((f for f in range(min(rest, _POOL_FACTOR_MAX), 1, -1) if rest % f == 0), None)
                if factor is None:
                    raise self.fail(i, f"pools a {h}x{w} map; NN Studio's Pool2D windows are at most "
                                       f"{_POOL_FACTOR_MAX} pixels on a side and {n} is not a product of such sizes")
                sizes.append(factor)
                rest //= factor
            return sizes

        rows, cols = factors(h), factors(w)
        steps = max(len(rows), len(cols), 1)
        rows += [1] * (steps - len(rows))
        cols += [1] * (steps - len(cols))
        mode = "max" if node.op_type == "GlobalMaxPool" else "avg"
        for k, (kh, kw) in enumerate(zip(rows, cols)):
            last = k == steps - 1
            src = self.add_block(i, "Pool2D", {"mode": mode, "size": kh if kh == kw else [kh, kw], "stride": 0},
                                 [src], outputs=(node.output[0],) if last else (f"\0{i}/{k}",))

    def softmax(self, i: int) -> None:
        src = self.block(i, self.nodes[i].input[0])
        rank = self.rank(src)
        axis = self.attr(i, "axis", -1 if self.opset >= 13 else 1)
        if axis % rank != rank - 1:
            raise self.fail(i, f"softmax over axis {axis} of a rank-{rank} tensor; NN Studio's softmax works over "
                               "the last axis")
        self.add_block(i, "Activation", {"function": "softmax"}, [src])

    def flatten(self, i: int) -> None:
        src = self.block(i, self.nodes[i].input[0])
        axis = self.attr(i, "axis", 1)
        if axis % self.rank(src) != 1:
            raise self.fail(i, f"flattens from axis {axis}; NN Studio's Flatten keeps the batch axis (axis=1)")
        self.add_block(i, "Flatten", {}, [src])

    def reshape(self, i: int) -> None:
        src = self.block(i, self.nodes[i].input[0])
        dims = [int(d) for d in self.const(i, 1, "target shape").reshape(-1)]
        allowzero = self.attr(i, "allowzero", 0)
        if not dims or dims[0] not in (0, -1) or (dims[0] == 0 and allowzero):
            raise self.fail(i, f"reshapes to {dims}; the first size must be 0 or -1 so the batch size stays free")
        rest = dims[1:]
        if 0 in rest:
            if allowzero:
                raise self.fail(i, f"reshapes to {dims} with allowzero=1 (empty tensors) is not supported")
            in_shape = self.shapes[src]
            try:
                rest = [in_shape[k] if d == 0 else d for k, d in enumerate(rest)]
            except IndexError:
                raise self.fail(i, f"reshapes to {dims}, copying a size the input {in_shape} does not have") from None
        if dims[0] == -1 and -1 in rest:
            raise self.fail(i, f"reshapes to {dims}: with two -1 sizes the batch size is ambiguous")
        self.add_block(i, "Reshape", {"shape": rest}, [src])

    def dropout(self, i: int) -> None:
        node = self.nodes[i]
        src = self.block(i, node.input[0])
        if len(node.output) > 1 and node.output[1] and self.consumers(node.output[1]):
            raise self.fail(i, "its mask output is used, which NN Studio's Dropout does not produce")
        rate = float(self.const(i, 1, "ratio")) if self.has_input(i, 1) else float(self.attr(i, "ratio", 0.5))
        self.add_block(i, "Dropout", {"rate": _tidy_float(rate)}, [src])

    def identity(self, i: int) -> None:
        node = self.nodes[i]
        src = self.block(i, node.input[0])
        dropout = self.hint(i, "Dropout")
        if "rate" in dropout:  # a Dropout our exporter wrote as the identity
            self.add_block(i, "Dropout", {"rate": dropout["rate"]}, [src])
        else:
            self.add_block(i, "Activation", {"function": "linear"}, [src])

    def add(self, i: int) -> None:
        tensors: list[str] = []

        def expand(t: str) -> None:
            p = self.producer.get(t)
            if p is not None and p in self.absorbed and self.nodes[p].op_type == "Add":
                for inner in self.nodes[p].input:
                    expand(inner)
            else:
                tensors.append(t)

        for t in self.nodes[i].input:
            expand(t)
        if any(t in self.consts for t in tensors):
            raise self.fail(i, "adds a constant; NN Studio's Add joins branches of the network (a bias belongs "
                               "to the MatMul, Gemm or Conv before it)")
        self.add_block(i, "Add", {}, [self.block(i, t) for t in tensors])

    def concat(self, i: int) -> None:
        srcs = [self.block(i, t) for t in self.nodes[i].input]
        rank = self.rank(srcs[0])
        axis = self.attr(i, "axis", None)
        if axis is None or axis % rank == 0:
            raise self.fail(i, f"joins along axis {axis}; NN Studio joins samples along one of their own axes, "
                               "not along the batch axis")
        ours = axis % rank - 1
        hinted = self.hint(i, "Concat").get("axis")
        if isinstance(hinted, int) and hinted % (rank - 1) == ours:
            ours = hinted  # e.g. -1 for "the last axis", as the author wrote it
        self.add_block(i, "Concat", {"axis": ours}, srcs)

    def batchnorm(self, i: int) -> None:
        node = self.nodes[i]
        src = self.block(i, node.input[0])
        if self.attr(i, "training_mode", 0) or any(o and self.consumers(o) for o in node.output[1:]):
            raise self.fail(i, "training mode (running statistics as outputs) is not supported")
        weights = {name: self.const(i, k, name) for k, name in
                   enumerate(("gamma", "beta", "running_mean", "running_var"), start=1)}
        momentum = float(self.attr(i, "momentum", 0.9))
        momentum = momentum if 0.0 <= momentum <= 0.999 else 0.9  # only matters for further training
        self.add_block(i, "BatchNorm", {"momentum": momentum, "eps": float(self.attr(i, "epsilon", 1e-5))},
                       [src], weights)

    def where(self, i: int) -> None:
        node = self.nodes[i]
        p = self.producer.get(node.input[0])
        ok = p is not None and p in self.absorbed and self.nodes[p].op_type == "GreaterOrEqual"
        if ok:
            ge = self.nodes[p]
            values = [self.consts.get(ge.input[1]), self.consts.get(node.input[1]), self.consts.get(node.input[2])]
            ok = all(v is not None and np.size(v) == 1 for v in values) and \
                [float(np.asarray(v).reshape(-1)[0]) for v in values] == [0.0, 1.0, -1.0]
        if not ok:
            raise self.fail(i, "only the sign construction Where(x >= 0, 1, -1) is supported")
        src = self.block(i, self.nodes[p].input[0])
        self.add_block(i, "Activation", {"function": "sign"}, [src])

    def data_arithmetic(self, i: int) -> None:
        """An operator NN Studio folds on constants, found on the data: name what it does to it."""
        node = self.nodes[i]
        if node.op_type == "Transpose":
            src = self.block(i, node.input[0])
            perm = self.attr(i, "perm", None)
            if perm is not None and list(perm) == list(range(self.rank(src))):
                self.add_block(i, "Activation", {"function": "linear"}, [src])
                return
            raise self.fail(i, f"reorders the axes of the data (perm={perm}); NN Studio has no block that "
                               "transposes (only transposes of constants are computed at import)")
        raise self.fail(i, f"applies {node.op_type} to the data; NN Studio computes {node.op_type} only on constants "
                           "at import (no block does it)")

    def run_node(self, i: int) -> None:
        op = self.nodes[i].op_type
        if op == "Constant":
            return
        if i in self.fold_errors:
            raise self.fail(i, self.fold_errors[i])
        if op in ("Gemm", "MatMul"):
            self.dense(i)
        elif op == "Conv":
            self.conv(i)
        elif op in ("MaxPool", "AveragePool"):
            self.pool(i)
        elif op in ("GlobalAveragePool", "GlobalMaxPool"):
            self.global_pool(i)
        elif op in ("Transpose", "Sub", "Mul", "Div", "Neg", "Sqrt"):
            self.data_arithmetic(i)
        elif op in _SIMPLE_ACTIVATIONS:
            src = self.block(i, self.nodes[i].input[0])
            self.add_block(i, "Activation", {"function": _SIMPLE_ACTIVATIONS[op]}, [src])
        elif op == "LeakyRelu":
            src = self.block(i, self.nodes[i].input[0])
            self.add_block(i, "Activation", {"function": "leaky_relu", "alpha": float(self.attr(i, "alpha", 0.01))},
                           [src])
        elif op == "Softmax":
            self.softmax(i)
        elif op == "Flatten":
            self.flatten(i)
        elif op == "Reshape":
            self.reshape(i)
        elif op == "Dropout":
            self.dropout(i)
        elif op == "Identity":
            self.identity(i)
        elif op == "Add":
            self.add(i)
        elif op == "Concat" and i in self.features:
            src, features = self.features[i]
            self.add_block(i, "Features", {"features": list(features)}, [self.block(i, src)])
        elif op == "Concat":
            self.concat(i)
        elif op in ("Slice", "Sin"):
            raise self.fail(i, f"is supported only inside the Features construction (Slice of a column of a "
                               f"2-value input, Mul or Sin of those columns, joined by Concat); NN Studio has no "
                               f"block for {self.nodes[i].op_type} elsewhere")
        elif op == "BatchNormalization":
            self.batchnorm(i)
        elif op == "Where":
            self.where(i)
        else:  # GreaterOrEqual outside the sign construction
            raise self.fail(i, "is supported only inside the sign construction Where(x >= 0, 1, -1)")

    # -- the whole model --------------------------------------------------------------------------------
    def input_block(self) -> None:
        inputs = [v for v in self.g.input if v.name not in self.consts]
        if len(inputs) != 1:
            raise UserError(f"{self.source}: NN Studio networks have exactly one input; this model has "
                            f"{len(inputs)} ({', '.join(v.name for v in inputs) or 'none'})")
        value = inputs[0]
        tensor_type = value.type.tensor_type
        if not value.type.HasField("tensor_type") or tensor_type.elem_type not in _FLOAT_TYPES:
            raise UserError(f"{self.source}: the input '{value.name}' must be a floating-point tensor")
        dims = list(tensor_type.shape.dim)
        if len(dims) < 2:
            raise UserError(f"{self.source}: the input '{value.name}' must be shaped (batch, ...sample sizes); "
                            f"it has {len(dims)} axis/axes")
        sample = []
        for k, d in enumerate(dims[1:], start=1):
            if not d.HasField("dim_value") or d.dim_value < 1:
                raise UserError(f"{self.source}: the input '{value.name}' has no fixed size at axis {k} "
                                f"('{d.dim_param or '?'}'); NN Studio needs fixed sample sizes")
            sample.append(int(d.dim_value))
        wanted = self.metadata.get(INPUT_ID_KEY) or value.name  # our exporter keeps the Input's id here
        bid = re.sub(r"[^0-9A-Za-z_.\-]+", "_", wanted).strip("_") or "input"
        self.graph.add_node("Input", {"shape": sample}, node_id=bid)
        self.block_of[value.name] = bid
        self.shapes[bid] = tuple(sample)

    def run(self) -> tuple[Graph, dict[str, np.ndarray], str]:
        outputs = list(self.g.output)
        if len(outputs) != 1:
            raise UserError(f"{self.source}: NN Studio networks have exactly one output; this model has "
                            f"{len(outputs)} ({', '.join(v.name for v in outputs) or 'none'})")
        self.needed = self.find_needed(outputs[0].name)
        self.check_operators()
        self.input_block()
        self.plan_folds()
        for i in self.needed:
            if i not in self.absorbed:
                self.run_node(i)
        out = outputs[0].name
        if out not in self.block_of or self.block_of[out] == next(iter(self.graph.nodes)):
            raise UserError(f"{self.source}: the output '{out}' is not computed from the input by supported blocks")
        return self.graph, self.state, self.block_of[out]


def import_onnx_model(proto: Any, source: str = "the ONNX model",
                      name: str | None = None) -> tuple[Project, dict[str, np.ndarray]]:
    """A Project and its state dict (keyed ``node_id/param``) from an ``onnx.ModelProto``."""
    onnx = require_onnx()
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        _refuse_unsupported(proto.graph.node, source)  # an unknown operator: name it and its node
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{source} is not a valid ONNX model: {_short(first, 300)}") from None
    graph, state, output_id = _Importer(onnx, proto, source).run()
    model = compile_graph(graph, backend="numpy")  # UserError with the shape checker's messages
    model.load_state_dict(state, source=source)
    function = getattr(model.nodes[output_id].layer, "function", None)
    training = default_training()
    training["loss"] = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy",
                        "sign": "perceptron"}.get(function, "mse")
    project = Project(name=name or proto.graph.name or "Imported model", graph=graph, training=training,
                      description_en=(proto.graph.doc_string or "")[:MAX_HINT_CHARS])
    return project, state


def import_onnx(path: str | os.PathLike) -> tuple[Project, dict[str, np.ndarray]]:
    """Read an ONNX file as (Project, state dict); UserError naming the file and what it cannot use.

    The file must be a regular file of at most :data:`MAX_ONNX_BYTES`; tensors stored as external data
    must name regular files inside the model's folder, within those files' sizes (a model cannot make the
    import read ``/etc/passwd`` or a device).  A damaged or hostile model is refused with one line, whatever
    part of protobuf, the ONNX checker or the importer notices it.
    """
    onnx = require_onnx()
    from google.protobuf.message import DecodeError  # protobuf comes with onnx

    source = os.fspath(path)
    label = f"ONNX file '{source}'"
    try:
        info = os.stat(source)
    except FileNotFoundError:
        raise UserError(f"{label} does not exist") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"{label} cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise UserError(f"'{source}' is a folder, not an ONNX file")
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"{label} is not a regular file (a device, pipe or socket)")
    if info.st_size > MAX_ONNX_BYTES:
        raise UserError(f"{label} is {info.st_size:,} bytes; at most {MAX_ONNX_BYTES:,} can be imported "
                        "(larger models keep their weights in external data files)")
    try:
        with open(source, "rb") as fh:
            data = fh.read(MAX_ONNX_BYTES + 1)
        proto = onnx.ModelProto()
        proto.ParseFromString(data)
    except (DecodeError, ValueError, OSError, RecursionError, RuntimeWarning) as exc:
        raise UserError(f"'{source}' is not a readable ONNX file ({type(exc).__name__}: {_short(exc, 200)})") \
            from None
    try:
        _load_external_data(onnx, proto, Path(source).resolve().parent, label)
        project, state = import_onnx_model(proto, source, _short(proto.graph.name) or Path(source).stem)
    except UserError:
        raise
    except _BROKEN as exc:
        raise UserError(f"{label} cannot be imported ({type(exc).__name__}: {_short(exc, 200)})") from None
    bad = unusable_weight(state)  # a NaN weight (or Gemm alpha), or a float64 1e300: the network would be NaN
    if bad is not None:
        raise UserError(f"{label}: weight '{_short(bad)}' holds NaN or infinite values, or values beyond float32's "
                        "range (about 3.4e38); such a network cannot be trained or run (nothing was written)")
    return project, state


# What a damaged or hostile model can raise from protobuf, the ONNX helpers and NumPy once it has parsed.
_BROKEN = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, RecursionError,
           MemoryError, OSError, UnicodeError, ZeroDivisionError, AssertionError)


def _external_tensors(proto: Any) -> list[Any]:
    from onnx.external_data_helper import _get_all_tensors  # noqa: PLC0415

    return [t for t in _get_all_tensors(proto) if t.data_location == 1]  # TensorProto.EXTERNAL


def _load_external_data(onnx: Any, proto: Any, folder: Path, label: str) -> None:
    """Check every external-data reference, then let onnx read them: files inside ``folder`` only."""
    tensors = _external_tensors(proto)
    total = 0
    for tensor in tensors:
        entries = {e.key: e.value for e in tensor.external_data}
        where = f"{label}: tensor '{_short(tensor.name)}' keeps its data in '{_short(entries.get('location', ''))}'"
        location = entries.get("location", "")
        target = (folder / location).resolve() if location and "\x00" not in location else None
        if target is None or Path(location).is_absolute() or (target != folder and folder not in target.parents):
            raise UserError(f"{where}; expected a file inside the model's folder {folder}")
        if not target.is_file():
            raise UserError(f"{where}, which is not a file in the model's folder")
        try:
            offset = int(entries.get("offset", 0))
            length = int(entries["length"]) if "length" in entries else target.stat().st_size - offset
        except ValueError:
            raise UserError(f"{where} with an offset or length that is not a number") from None
        if offset < 0 or length < 0 or offset + length > target.stat().st_size:
            raise UserError(f"{where} at bytes {offset:,}..{offset + length:,}, beyond that file's "
                            f"{target.stat().st_size:,} bytes")
        total += length
    if total > MAX_EXTERNAL_BYTES:
        raise UserError(f"{label}: its external data adds up to {total:,} bytes; at most {MAX_EXTERNAL_BYTES:,} "
                        "can be imported")
    if tensors:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            onnx.external_data_helper.load_external_data_for_model(proto, os.fspath(folder))
