"""Shape inference and validation of a graph, with messages meant for people.

The editor calls :func:`infer_shapes` after every edit to draw each node's output shape and badge, the
problems panel lists its messages, the CLI's ``check`` prints them and :mod:`nnstudio.graph.compile` refuses
a graph with errors.  It must therefore never raise, whatever the graph holds (half-wired, cyclic, even
corrupted), and its shapes and parameter counts must agree with what the engine builds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nnstudio.engine.dag import stable_order
from nnstudio.errors import UserError
from nnstudio.graph.catalogue import BLOCKS, activation_name, loss_name

Shape = tuple[int, ...]

LOSS_NAMES = ("mse", "cross_entropy", "binary_cross_entropy", "perceptron", "hinge")


@dataclass(frozen=True)
class Message:
    """One finding: the node it is about (None for the whole graph), the text, "error" or "warning"."""

    node_id: str | None
    text: str
    severity: str = "error"


@dataclass
class ShapeReport:
    """Per-node output shapes (None where unknown), messages, parameter counts and the output node."""

    shapes: dict[str, Shape | None] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    param_counts: dict[str, int] = field(default_factory=dict)
    total_params: int = 0
    output_id: str | None = None
    ok: bool = False
    input_id: str | None = None

    @property
    def errors(self) -> list[Message]:
        return [m for m in self.messages if m.severity == "error"]

    @property
    def warnings(self) -> list[Message]:
        return [m for m in self.messages if m.severity == "warning"]

    def messages_for(self, node_id: str) -> list[Message]:
        return [m for m in self.messages if m.node_id == node_id]

    def error_text(self) -> str:
        """All errors, one per line (what compile raises and the CLI prints)."""
        return "\n".join(m.text for m in self.errors)


def fmt(shape: Any) -> str:
    """A shape as people read it in messages: (1, 28, 28), (120,)."""
    return str(tuple(shape))


class _Problem(Exception):
    """A message about the node being inferred; caught by the loop and recorded."""


def _label(node: Any) -> str:
    return f"{getattr(node, 'type', '?')} '{getattr(node, 'id', '?')}'"


# -- per-block rules --------------------------------------------------------------------------------

def _need_image(label: str, shape: Shape) -> tuple[int, int, int]:
    if len(shape) != 3:
        hint = " — add a Reshape before it" if len(shape) == 1 else ""
        raise _Problem(f"{label} needs an input shaped (channels, height, width); it gets {fmt(shape)}{hint}")
    return shape  # type: ignore[return-value]


def _ask_layer(node_type: str, label: str, p: dict[str, Any], shape: Any) -> tuple[Shape, int]:
    """Output shape and parameter count as the engine layer computes them (one home for those rules);
    the layer's own message, re-addressed to the node, when it cannot take ``shape``."""
    from nnstudio.graph.layer_map import layer_for  # noqa: PLC0415 - the engine is imported on first use

    try:
        layer = layer_for(node_type, p, label)
        out = layer.output_shape(shape)
        return tuple(int(d) for d in out), int(layer.param_count(shape))
    except (UserError, ValueError) as exc:
        text = str(exc)
        prefix = f"{node_type}: "
        raise _Problem(f"{label}: {text[len(prefix):]}" if text.startswith(prefix) else text) from None


def _single(node_type: str, label: str, p: dict[str, Any], shape: Shape,
            warn: list[str]) -> tuple[Shape, int]:
    """Output shape and parameter count of a one-input block fed ``shape``, with advice for people."""
    if node_type in ("Conv2D", "Pool2D"):
        _need_image(label, shape)  # says to add a Reshape, which the layer cannot know
    out, count = _ask_layer(node_type, label, p, shape)
    if node_type == "Pool2D":
        from nnstudio.graph.layer_map import layer_for  # noqa: PLC0415 - as in _ask_layer

        h, w = shape[1], shape[2]
        layer = layer_for(node_type, p, label)
        (kh, kw), (sh, sw), (ph, pw) = layer.kernel, layer.strides, layer.padding
        if (h + 2 * ph - kh) % sh or (w + 2 * pw - kw) % sw:
            every = f"{sh}" if sh == sw else f"{sh}x{sw}"
            warn.append(f"{label}: {kh}x{kw} windows every {every} pixels do not cover the {h}x{w} input evenly; "
                        "the last rows or columns are dropped")
    if node_type == "Activation" and p["function"] == "softmax" and len(shape) > 2:
        warn.append(f"{label}: softmax on a {fmt(shape)} input normalises along the last axis only; "
                    "add a Flatten and a Dense before it for class probabilities")
    return out, count


def _merge(node_type: str, label: str, p: dict[str, Any], shapes: list[Shape]) -> Shape:
    return _ask_layer(node_type, label, p, list(shapes))[0]


# -- the whole graph ----------------------------------------------------------------------------------

def _find_cycle(succ: dict[str, list[str]], among: set[str]) -> list[str] | None:
    """One cycle (as a closed list of ids) among ``among``, found by an iterative depth-first search."""
    colour: dict[str, int] = {}
    for start in sorted(among):
        if colour.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            nid, i = stack.pop()
            if i == 0:
                colour[nid] = 1
                path.append(nid)
            nexts = [d for d in succ.get(nid, ()) if d in among]
            if i < len(nexts):
                stack.append((nid, i + 1))
                d = nexts[i]
                if colour.get(d) == 1:
                    return path[path.index(d):] + [d]
                if not colour.get(d):
                    stack.append((d, 0))
            else:
                colour[nid] = 2
                path.pop()
    return None


def infer_shapes(graph: Any, sample_shape: Any = None, loss: str | None = None,
                 num_classes: int | None = None, dataset_name: str | None = None) -> ShapeReport:
    """Infer every node's output shape and check the graph; never raises.

    ``sample_shape`` (the dataset's sample shape), ``loss`` (a loss name) and ``num_classes`` (0 for
    regression) add checks of the input and output against the training setup; ``dataset_name`` names the
    dataset in those messages.
    """
    report = ShapeReport()
    try:
        _infer(graph, sample_shape, loss, num_classes, report, dataset_name)
    except Exception as exc:  # a corrupted document must still give a report, never a crash
        report.messages.append(Message(None, f"the graph could not be checked: it is damaged ({exc})"))
    report.total_params = sum(report.param_counts.values())
    report.ok = not report.errors
    return report


def _infer(graph: Any, sample_shape: Any, loss: str | None, num_classes: int | None, report: ShapeReport,
           dataset_name: str | None = None) -> None:
    add = report.messages.append
    raw_nodes = getattr(graph, "nodes", None)
    raw_edges = getattr(graph, "edges", None)
    if not isinstance(raw_nodes, dict) or not isinstance(raw_edges, (list, tuple)):
        add(Message(None, "the graph is damaged: it has no node table or no edge list"))
        return
    # Nodes whose type and parameters are valid; the others get a message and no shape.
    params: dict[str, dict[str, Any]] = {}
    types: dict[str, str] = {}
    for key, node in raw_nodes.items():
        nid = getattr(node, "id", None)
        if not isinstance(key, str) or nid != key:
            add(Message(None, f"the graph is damaged: the node stored under {key!r} has the id {nid!r}"))
            continue
        report.shapes[key] = None
        spec = BLOCKS.get(getattr(node, "type", None)) if isinstance(getattr(node, "type", None), str) else None
        if spec is None:
            add(Message(key, f"node '{key}': unknown block type {getattr(node, 'type', None)!r}; known types "
                             f"are: {', '.join(BLOCKS)}"))
            continue
        try:
            params[key] = spec.validate_params(getattr(node, "params", None), _label(node))
        except UserError as exc:
            add(Message(key, str(exc)))
        types[key] = spec.type
    known = set(report.shapes)
    # Wires: drop those that point nowhere or into ports that cannot exist.
    incoming: dict[str, list[tuple[int, str]]] = {nid: [] for nid in known}
    succ: dict[str, list[str]] = {nid: [] for nid in known}
    for e in raw_edges:
        src, dst, port = getattr(e, "src", None), getattr(e, "dst", None), getattr(e, "port", None)
        if not isinstance(src, str) or not isinstance(dst, str) or src not in known or dst not in known:
            missing = src if src not in known else dst
            add(Message(dst if dst in known else None,
                        f"a wire goes from {src!r} to {dst!r}, but there is no node {missing!r}"))
            continue
        if isinstance(port, bool) or not isinstance(port, int) or port < 0:
            add(Message(dst, f"{_label(raw_nodes[dst])}: a wire from '{src}' uses the invalid port {port!r}"))
            continue
        incoming[dst].append((port, src))
        succ[src].append(dst)
    for nid in incoming:
        incoming[nid].sort()
    consumers = {nid: sorted(set(d)) for nid, d in succ.items()}

    # The input.
    inputs = [nid for nid in report.shapes if types.get(nid) == "Input"]
    if not inputs:
        add(Message(None, "no Input node: add an Input block where the samples enter the network"))
    elif len(inputs) > 1:
        add(Message(None, f"the graph has {len(inputs)} Input nodes ({', '.join(repr(i) for i in inputs)}); "
                          "exactly one is allowed"))
    else:
        report.input_id = inputs[0]

    # The output: the one node nothing reads.
    outputs = [nid for nid in report.shapes if not consumers.get(nid)]
    if len(outputs) == 1:
        report.output_id = outputs[0]
        if outputs[0] == report.input_id:
            add(Message(outputs[0], f"the network has no layers: connect blocks after Input '{outputs[0]}'"))
    elif len(outputs) > 1:
        names = ", ".join(repr(o) for o in outputs)
        add(Message(None, f"the graph has {len(outputs)} output nodes ({names}); exactly one node must have "
                          "no consumers"))
    elif report.shapes:
        add(Message(None, "the graph has no output node: every node feeds another one"))

    # Topological order (ties by id); what is left over sits on or behind a cycle.
    order = stable_order(succ, {nid: len(incoming[nid]) for nid in known})
    stuck = known - set(order)
    while stuck:
        cycle = _find_cycle(succ, stuck)
        if cycle is None:
            break
        add(Message(cycle[0], "the graph has a cycle through " + " -> ".join(f"'{c}'" for c in cycle)))
        stuck -= set(cycle)

    # Shapes in order.
    for nid in order:
        if nid not in params:
            continue  # unknown type or bad parameters: already reported
        node_type, p, label = types[nid], params[nid], _label(raw_nodes[nid])
        spec = BLOCKS[node_type]
        wires = incoming[nid]
        warn: list[str] = []
        try:
            if spec.n_inputs == 0:
                if wires:
                    raise _Problem(f"{label}: an Input block takes no inputs, but {len(wires)} "
                                   f"wire{'s' if len(wires) != 1 else ''} arrive")
                report.shapes[nid] = tuple(p["shape"])
                report.param_counts[nid] = 0
                continue
            if spec.n_inputs == 1:
                if not wires:
                    raise _Problem(f"{label}: input port 0 is not connected")
                if len(wires) > 1 or wires[0][0] != 0:
                    raise _Problem(f"{label}: takes exactly one input on port 0, but wires arrive on ports "
                                   f"{', '.join(str(w[0]) for w in wires)}")
                src_shape = report.shapes.get(wires[0][1])
                if src_shape is None:
                    continue  # the problem upstream has its own message
                out, count = _single(node_type, label, p, src_shape, warn)
            else:
                if len(wires) < 2:
                    raise _Problem(f"{label} needs at least 2 inputs; it has {len(wires)}")
                src_shapes = [report.shapes.get(src) for _, src in wires]
                if any(s is None for s in src_shapes):
                    continue
                out, count = _merge(node_type, label, p, src_shapes), 0
            report.shapes[nid] = tuple(int(d) for d in out)
            report.param_counts[nid] = int(count)
            for text in warn:
                add(Message(nid, text, "warning"))
        except _Problem as exc:
            add(Message(nid, str(exc)))

    _check_training(report, raw_nodes, params, sample_shape, loss, num_classes, dataset_name)


def _check_training(report: ShapeReport, nodes: dict[str, Any], params: dict[str, dict[str, Any]],
                    sample_shape: Any, loss: str | None, num_classes: int | None,
                    dataset_name: str | None = None) -> None:
    add = report.messages.append
    in_id = report.input_id
    if sample_shape is not None and in_id is not None and report.shapes.get(in_id) is not None:
        try:
            sample = tuple(int(d) for d in sample_shape)
        except (TypeError, ValueError):
            add(Message(None, f"the dataset's sample shape {sample_shape!r} is not a list of sizes"))
        else:
            expected = report.shapes[in_id]
            if sample != expected:
                # The one home of the "does the dataset fit the Input" rule (GUI, CLI and trainer use it).
                whose = f"dataset '{dataset_name}'" if dataset_name else "the dataset"
                text = f"{whose} has samples shaped {fmt(sample)} but Input '{in_id}' expects {fmt(expected)}"
                if math.prod(sample) == math.prod(expected):
                    text += (f" (both hold {math.prod(sample)} values: set the Input shape to {list(sample)}, "
                             "followed by a Reshape if the next blocks need another shape)")
                else:
                    text += f": set the Input shape to {list(sample)} or choose a dataset that fits the network"
                add(Message(in_id, text))
    if loss is None:
        return
    if loss not in LOSS_NAMES:
        add(Message(None, f"unknown loss {loss!r}; expected one of {', '.join(LOSS_NAMES)}"))
        return
    out_id = report.output_id
    out = report.shapes.get(out_id) if out_id is not None else None
    if out is None or out_id == in_id:
        return
    node = nodes[out_id]
    act = params.get(out_id, {}).get("function") if getattr(node, "type", None) == "Activation" else None
    # Messages name losses and functions as people write them ("cross-entropy", "ReLU"), not as files do.
    what = loss_name(loss)
    act_name = activation_name(act) if act else ""
    with_act = f" with {act_name}" if act else ""
    units = out[-1]
    unit_text = f"{units} unit{'s' if units != 1 else ''}"
    classes = num_classes if isinstance(num_classes, int) and not isinstance(num_classes, bool) else None
    mse, softmax, sigmoid = loss_name("mse"), activation_name("softmax"), activation_name("sigmoid")

    if loss == "cross_entropy":
        if classes == 0:
            add(Message(out_id, f"{what} is a classification loss but the dataset is a regression task: use {mse}"))
            return
        if len(out) > 2:
            add(Message(out_id, f"{what} needs class scores shaped (classes,); the output '{out_id}' is "
                                f"shaped {fmt(out)}: add a Flatten and a Dense layer before it"))
            return
        if units == 1:
            add(Message(out_id, f"{what} needs a multi-class output; the output '{out_id}' has 1 unit"
                                f"{with_act}: use {loss_name('binary_cross_entropy')}"))
            return
        if classes and units != classes:
            add(Message(out_id, f"the dataset has {classes} classes but the output '{out_id}' has {unit_text}; "
                                f"the last Dense layer needs {classes} units"))
        if act not in (None, "softmax", "linear"):
            add(Message(out_id, f"{what} expects a {softmax} output (or raw scores); the output '{out_id}' "
                                f"applies {act_name}: use {softmax}", "warning"))
        return
    if loss == "binary_cross_entropy":
        if classes == 0:
            add(Message(out_id, f"{what} is a classification loss but the dataset is a regression task: use {mse}"))
            return
        if classes and classes > 2 and units == 1:
            add(Message(out_id, f"{what} with 1 output unit separates two classes, but the dataset has {classes}: "
                                f"use {loss_name('cross_entropy')} with a {softmax} output of {classes} units"))
            return
        if classes and units not in (1, classes):
            add(Message(out_id, f"{what} needs 1 output unit (two classes) or one per class ({classes}); "
                                f"the output '{out_id}' has {unit_text}"))
        if act == "softmax":
            add(Message(out_id, f"{what} expects a {sigmoid} output; the output '{out_id}' applies {softmax}: "
                                f"use {loss_name('cross_entropy')} for one-of-many classes", "warning"))
        elif act not in (None, "sigmoid", "linear"):
            add(Message(out_id, f"{what} expects a {sigmoid} output (or raw scores); the output '{out_id}' "
                                f"applies {act_name}", "warning"))
        return
    if loss == "mse":
        if classes and units not in (1, classes):
            add(Message(out_id, f"{what} on a {classes}-class dataset needs 1 output unit or one per class "
                                f"({classes}); the output '{out_id}' has {unit_text}"))
        return
    # perceptron / hinge: margin losses on raw scores
    if classes == 0:
        add(Message(out_id, f"the {what} is a classification loss but the dataset is a regression task: "
                            f"use {mse}"))
        return
    if classes and classes > 2 and units == 1:
        add(Message(out_id, f"the {what} with 1 output unit separates two classes, but the dataset has "
                            f"{classes}: give the output {classes} units"))
    elif classes and units not in (1, classes):
        add(Message(out_id, f"the {what} needs 1 output unit (two classes) or one per class ({classes}); the "
                            f"output '{out_id}' has {unit_text}"))
    if act in ("softmax", "sigmoid"):
        add(Message(out_id, f"the {what} works on raw scores; the output '{out_id}' applies {act_name}, which "
                            f"squashes them: use {activation_name('sign')} or no activation", "warning"))
