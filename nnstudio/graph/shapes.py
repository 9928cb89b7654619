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
from nnstudio.graph.catalogue import BLOCKS, activation_name, loss_name, node_label
from nnstudio.i18n import _, current_language, ngettext

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
    """How messages name a node: its block ("Dense", 全连接层 in Chinese) and its id."""
    return node_label(getattr(node, "type", "?"), getattr(node, "id", "?"))


# -- per-block rules --------------------------------------------------------------------------------

def _need_image(label: str, shape: Shape) -> tuple[int, int, int]:
    if len(shape) != 3:
        if len(shape) == 1:
            raise _Problem(_("{label} needs an input shaped (channels, height, width); it gets {shape} — add a "
                             "Reshape before it").format(label=label, shape=fmt(shape)))
        raise _Problem(_("{label} needs an input shaped (channels, height, width); it gets {shape}").format(
            label=label, shape=fmt(shape)))
    return shape  # type: ignore[return-value]


def _ask_layer(node_type: str, label: str, p: dict[str, Any], shape: Any) -> tuple[Shape, int, Any]:
    """Output shape, parameter count and the engine layer that computed them (one home for those rules);
    the layer's own message, re-addressed to the node, when it cannot take ``shape``."""
    from nnstudio.graph.layer_map import layer_for  # noqa: PLC0415 - the engine is imported on first use

    try:
        layer = layer_for(node_type, p, label)
        out = layer.output_shape(shape)
        return tuple(int(d) for d in out), int(layer.param_count(shape)), layer
    except (UserError, ValueError) as exc:
        text = str(exc)
        prefix = f"{node_type}: "
        raise _Problem(_("{label}: {problem}").format(label=label, problem=text[len(prefix):])
                       if text.startswith(prefix) else text) from None


def _single(node_type: str, label: str, p: dict[str, Any], shape: Shape,
            warn: list[str]) -> tuple[Shape, int]:
    """Output shape and parameter count of a one-input block fed ``shape``, with advice for people."""
    if node_type in ("Conv2D", "Pool2D"):
        _need_image(label, shape)  # says to add a Reshape, which the layer cannot know
    out, count, layer = _ask_layer(node_type, label, p, shape)
    if node_type == "Pool2D":
        h, w = shape[1], shape[2]
        (kh, kw), (sh, sw), (ph, pw) = layer.kernel, layer.strides, layer.padding
        if (h + 2 * ph - kh) % sh or (w + 2 * pw - kw) % sw:
            every = f"{sh}" if sh == sw else f"{sh}x{sw}"
            warn.append(_("{label}: {window} windows every {every} pixels do not cover the {size} input evenly; "
                          "the last rows or columns are dropped").format(label=label, window=f"{kh}x{kw}",
                                                                         every=every, size=f"{h}x{w}"))
    if node_type == "Activation" and p["function"] == "softmax" and len(shape) > 2:
        warn.append(_("{label}: softmax on a {shape} input normalises along the last axis only; add a Flatten "
                      "and a Dense before it for class probabilities").format(label=label, shape=fmt(shape)))
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
        report.messages.append(Message(None, _("the graph could not be checked: it is damaged ({error})").format(
            error=exc)))
    report.total_params = sum(report.param_counts.values())
    report.ok = not report.errors
    return report


def _infer(graph: Any, sample_shape: Any, loss: str | None, num_classes: int | None, report: ShapeReport,
           dataset_name: str | None = None) -> None:
    add = report.messages.append
    raw_nodes = getattr(graph, "nodes", None)
    raw_edges = getattr(graph, "edges", None)
    if not isinstance(raw_nodes, dict) or not isinstance(raw_edges, (list, tuple)):
        add(Message(None, _("the graph is damaged: it has no node table or no edge list")))
        return
    # Nodes whose type and parameters are valid; the others get a message and no shape.
    params: dict[str, dict[str, Any]] = {}
    types: dict[str, str] = {}
    for key, node in raw_nodes.items():
        nid = getattr(node, "id", None)
        if not isinstance(key, str) or nid != key:
            add(Message(None, _("the graph is damaged: the node stored under {key} has the id {id}").format(
                key=repr(key), id=repr(nid))))
            continue
        report.shapes[key] = None
        spec = BLOCKS.get(getattr(node, "type", None)) if isinstance(getattr(node, "type", None), str) else None
        if spec is None:
            add(Message(key, _("node '{node}': unknown block type {type}; known types are: {known}").format(
                node=key, type=repr(getattr(node, "type", None)), known=", ".join(BLOCKS))))
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
                        _("a wire goes from {src} to {dst}, but there is no node {missing}").format(
                            src=repr(src), dst=repr(dst), missing=repr(missing))))
            continue
        if isinstance(port, bool) or not isinstance(port, int) or port < 0:
            add(Message(dst, _("{label}: a wire from '{src}' uses the invalid port {port}").format(
                label=_label(raw_nodes[dst]), src=src, port=repr(port))))
            continue
        incoming[dst].append((port, src))
        succ[src].append(dst)
    for nid in incoming:
        incoming[nid].sort()
    consumers = {nid: sorted(set(d)) for nid, d in succ.items()}

    # The input.
    inputs = [nid for nid in report.shapes if types.get(nid) == "Input"]
    if not inputs:
        add(Message(None, _("no Input node: add an Input block where the samples enter the network")))
    elif len(inputs) > 1:
        add(Message(None, _("the graph has {count} Input nodes ({names}); exactly one is allowed").format(
            count=len(inputs), names=", ".join(repr(i) for i in inputs))))
    else:
        report.input_id = inputs[0]

    # The output: the one node nothing reads.
    outputs = [nid for nid in report.shapes if not consumers.get(nid)]
    if len(outputs) == 1:
        report.output_id = outputs[0]
        if outputs[0] == report.input_id:
            add(Message(outputs[0], _("the network has no layers: connect blocks after Input '{node}'").format(
                node=outputs[0])))
    elif len(outputs) > 1:
        names = ", ".join(repr(o) for o in outputs)
        add(Message(None, _("the graph has {count} output nodes ({names}); exactly one node must have no "
                            "consumers").format(count=len(outputs), names=names)))
    elif report.shapes:
        add(Message(None, _("the graph has no output node: every node feeds another one")))

    # Topological order (ties by id); what is left over sits on or behind a cycle.
    order = stable_order(succ, {nid: len(incoming[nid]) for nid in known})
    stuck = known - set(order)
    while stuck:
        cycle = _find_cycle(succ, stuck)
        if cycle is None:
            break
        add(Message(cycle[0], _("the graph has a cycle through {path}").format(
            path=" -> ".join(f"'{c}'" for c in cycle))))
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
                    raise _Problem(ngettext("{label}: an Input block takes no inputs, but {count} wire arrives",
                                            "{label}: an Input block takes no inputs, but {count} wires arrive",
                                            len(wires)).format(label=label, count=len(wires)))
                report.shapes[nid] = tuple(p["shape"])
                report.param_counts[nid] = 0
                continue
            if spec.n_inputs == 1:
                if not wires:
                    raise _Problem(_("{label}: input port 0 is not connected").format(label=label))
                if len(wires) > 1 or wires[0][0] != 0:
                    raise _Problem(_("{label}: takes exactly one input on port 0, but wires arrive on ports "
                                     "{ports}").format(label=label, ports=", ".join(str(w[0]) for w in wires)))
                src_shape = report.shapes.get(wires[0][1])
                if src_shape is None:
                    continue  # the problem upstream has its own message
                out, count = _single(node_type, label, p, src_shape, warn)
            else:
                if len(wires) < 2:
                    raise _Problem(_("{label} needs at least 2 inputs; it has {count}").format(label=label,
                                                                                         count=len(wires)))
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
            add(Message(None, _("the dataset's sample shape {shape} is not a list of sizes").format(
                shape=repr(sample_shape))))
        else:
            expected = report.shapes[in_id]
            if sample != expected:
                # The one home of the "does the dataset fit the Input" rule (GUI, CLI and trainer use it).
                whose = _("dataset '{name}'").format(name=dataset_name) if dataset_name else _("the dataset")
                values = dict(whose=whose, shape=fmt(sample), node=in_id, expected=fmt(expected),
                              size=list(sample), count=math.prod(sample))
                if math.prod(sample) == math.prod(expected):
                    text = _("{whose} has samples shaped {shape} but Input '{node}' expects {expected} (both hold "
                             "{count} values: set the Input shape to {size}, followed by a Reshape if the next "
                             "blocks need another shape)").format(**values)
                else:
                    text = _("{whose} has samples shaped {shape} but Input '{node}' expects {expected}: set the "
                             "Input shape to {size} or choose a dataset that fits the network").format(**values)
                add(Message(in_id, text))
    if loss is None:
        return
    if loss not in LOSS_NAMES:
        add(Message(None, _("unknown loss {loss}; expected one of {known}").format(loss=repr(loss),
                                                                                  known=", ".join(LOSS_NAMES))))
        return
    out_id = report.output_id
    out = report.shapes.get(out_id) if out_id is not None else None
    if out is None or out_id == in_id:
        return
    node = nodes[out_id]
    act = params.get(out_id, {}).get("function") if getattr(node, "type", None) == "Activation" else None
    # Messages name losses and functions as people write them ("cross-entropy", "ReLU"), not as files do.
    lang = current_language()
    what = loss_name(loss, lang)
    act_name = activation_name(act, lang) if act else ""
    units = out[-1]
    unit_text = ngettext("{count} unit", "{count} units", units).format(count=units)
    classes = num_classes if isinstance(num_classes, int) and not isinstance(num_classes, bool) else None
    mse, softmax = loss_name("mse", lang), activation_name("softmax", lang)
    sigmoid, bce = activation_name("sigmoid", lang), loss_name("binary_cross_entropy", lang)
    ce = loss_name("cross_entropy", lang)
    v = dict(what=what, node=out_id, act=act_name, units=unit_text, classes=classes, mse=mse, softmax=softmax,
             sigmoid=sigmoid, bce=bce, ce=ce, shape=fmt(out), sign=activation_name("sign", lang))
    regression = _("{what} is a classification loss but the dataset is a regression task: use {mse}")

    if loss == "cross_entropy":
        if classes == 0:
            add(Message(out_id, regression.format(**v)))
            return
        if len(out) > 2:
            add(Message(out_id, _("{what} needs class scores shaped (classes,); the output '{node}' is shaped "
                                  "{shape}: add a Flatten and a Dense layer before it").format(**v)))
            return
        if units == 1:
            text = _("{what} needs a multi-class output; the output '{node}' has 1 unit with {act}: use {bce}") \
                if act else _("{what} needs a multi-class output; the output '{node}' has 1 unit: use {bce}")
            add(Message(out_id, text.format(**v)))
            return
        if classes and units != classes:
            add(Message(out_id, _("the dataset has {classes} classes but the output '{node}' has {units}; the "
                                  "last Dense layer needs {classes} units").format(**v)))
        if act not in (None, "softmax", "linear"):
            add(Message(out_id, _("{what} expects a {softmax} output (or raw scores); the output '{node}' "
                                  "applies {act}: use {softmax}").format(**v), "warning"))
        return
    if loss == "binary_cross_entropy":
        if classes == 0:
            add(Message(out_id, regression.format(**v)))
            return
        if classes and classes > 2 and units == 1:
            add(Message(out_id, _("{what} with 1 output unit separates two classes, but the dataset has {classes}: "
                                  "use {ce} with a {softmax} output of {classes} units").format(**v)))
            return
        if classes and units not in (1, classes):
            add(Message(out_id, _("{what} needs 1 output unit (two classes) or one per class ({classes}); the "
                                  "output '{node}' has {units}").format(**v)))
        if act == "softmax":
            add(Message(out_id, _("{what} expects a {sigmoid} output; the output '{node}' applies {softmax}: use "
                                  "{ce} for one-of-many classes").format(**v), "warning"))
        elif act not in (None, "sigmoid", "linear"):
            add(Message(out_id, _("{what} expects a {sigmoid} output (or raw scores); the output '{node}' "
                                  "applies {act}").format(**v), "warning"))
        return
    if loss == "mse":
        if classes and units not in (1, classes):
            add(Message(out_id, _("{what} on a {classes}-class dataset needs 1 output unit or one per class "
                                  "({classes}); the output '{node}' has {units}").format(**v)))
        return
    # perceptron / hinge: margin losses on raw scores
    if classes == 0:
        add(Message(out_id, _("the {what} is a classification loss but the dataset is a regression task: use "
                              "{mse}").format(**v)))
        return
    if classes and classes > 2 and units == 1:
        add(Message(out_id, _("the {what} with 1 output unit separates two classes, but the dataset has "
                              "{classes}: give the output {classes} units").format(**v)))
    elif classes and units not in (1, classes):
        add(Message(out_id, _("the {what} needs 1 output unit (two classes) or one per class ({classes}); the "
                              "output '{node}' has {units}").format(**v)))
    if act in ("softmax", "sigmoid"):
        add(Message(out_id, _("the {what} works on raw scores; the output '{node}' applies {act}, which "
                              "squashes them: use {sign} or no activation").format(**v), "warning"))
