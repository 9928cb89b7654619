"""The hints dock: the trainer's advice in plain words, each with a one-click "Apply fix".

Why this exists: a learner whose loss explodes or whose network overfits needs to hear *what* to change,
not just see a bad curve.  The trainer's rules (``nnstudio.training.hints``) emit ``Hint`` events carrying
a message and a fix dict; this panel lists them and applies a fix through the window's undo stack, so
"Apply fix" is one undoable edit: training settings go through the training controller's
``edit_setting`` (or straight into ``project.training``), graph changes through the editor's commands.

Fix dicts understood (the trainer's convention, see ``nnstudio.training.events.Hint``; keys may be combined):
  * training settings by name, flat or under ``"training"``: ``{"learning_rate": 0.0001, "clip_norm": 1.0}``;
  * ``{"nodes": {"out": {"function": "softmax"}}}``: block parameter changes;
  * ``{"insert": [{"type": "Dropout", "after": "fc1", "params": {"rate": 0.3}}]}`` (a list, or one mapping):
    blocks wired in after a node, taking over its outgoing wires;
  * also ``{"set_param": {"node", "name", "value"}}`` and ``{"insert_after", "block", "params"}``.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget)

from nnstudio.errors import UserError
from nnstudio.graph.catalogue import BLOCKS
from nnstudio.ui.i18n import N_, current_language, pick, tr

# Keys of a fix that are not training settings ("reset_weights": the fix invalidates the trained weights).
GRAPH_KEYS = ("insert", "insert_after", "block", "params", "set_param", "nodes", "reset_weights")
MAX_HINTS = 20


@dataclass
class FixAction:
    """One edit a fix asks for: ``kind`` is "setting", "insert" or "param"."""

    kind: str
    key: str = ""  # setting name, or the parameter name
    value: Any = None
    node: str = ""  # node to insert after / whose parameter changes
    block: str = ""  # block type to insert
    params: dict[str, Any] = field(default_factory=dict)


def plan_fix(fix: Any) -> list[FixAction]:
    """The edits ``fix`` asks for, in order; UserError when it is not a fix this panel understands."""
    if not isinstance(fix, dict) or not fix:
        raise UserError(f"Hint fix: expected a non-empty mapping of changes; received {fix!r}")
    actions: list[FixAction] = []
    settings = dict(fix.get("training") or {}) if isinstance(fix.get("training"), dict) else {}
    settings.update({k: v for k, v in fix.items() if k not in GRAPH_KEYS and k != "training"})
    actions += [FixAction("setting", key=k, value=v) for k, v in settings.items()]
    inserts = fix.get("insert")
    for insert in ([inserts] if isinstance(inserts, dict) else inserts if isinstance(inserts, list) else []):
        if not isinstance(insert, dict):
            raise UserError(f"Hint fix: each block to insert must be a mapping; received {insert!r}")
        actions.append(FixAction("insert", node=str(insert.get("after", "")), block=str(insert.get("type", "")),
                                 params=dict(insert.get("params") or {})))
    if "insert_after" in fix:
        actions.append(FixAction("insert", node=str(fix["insert_after"]), block=str(fix.get("block", "")),
                                 params=dict(fix.get("params") or {})))
    changes = [fix["set_param"]] if isinstance(fix.get("set_param"), dict) else []
    nodes = fix.get("nodes")
    if isinstance(nodes, dict):  # the trainer's form: {node_id: {param: value}}
        for node_id, params in nodes.items():
            if not isinstance(params, dict):
                raise UserError(f"Hint fix: \"nodes\" maps node ids to {{param: value}}; received {params!r}")
            changes += [{"node": node_id, "name": k, "value": v} for k, v in params.items()]
    for change in changes:
        actions.append(FixAction("param", node=str(change.get("node", "")), key=str(change.get("name", "")),
                                 value=change.get("value")))
    for a in actions:
        if a.kind == "insert" and (a.block not in BLOCKS or not a.node):
            raise UserError(f"Hint fix: insert needs a known block type and the node to insert after; "
                            f"received type={a.block!r}, after={a.node!r}")
        if a.kind == "param" and (not a.node or not a.key):
            raise UserError(f"Hint fix: a parameter change needs a node and a parameter name; "
                            f"received node={a.node!r}, name={a.key!r}")
    return actions


def _value_text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# How the Training panel names the settings a fix may change (its own row labels, so "Learning rate", not
# the project file's learning_rate).
SETTING_LABELS = {"loss": N_("Loss"), "optimizer": N_("Optimizer"), "learning_rate": N_("Learning rate"),
                  "batch_size": N_("Batch size"), "epochs": N_("Epochs"), "schedule": N_("Schedule"),
                  "l1": N_("L1 regularisation"), "l2": N_("L2 regularisation"), "clip_norm": N_("Gradient clipping"),
                  "augment": N_("Augmentation"), "validation_split": N_("Validation split")}


def _setting_text(key: str, value: Any) -> tuple[str, str]:
    """(label, value) of a training setting as the Training panel shows them."""
    from nnstudio.ui.training_panel import LOSS_TEXT, OPTIMIZER_TEXT, SCHEDULE_TEXT  # noqa: PLC0415
    names = {"loss": LOSS_TEXT, "optimizer": OPTIMIZER_TEXT, "schedule": SCHEDULE_TEXT}.get(key, {})
    if value in names:
        shown = tr(names[value])
    elif key == "clip_norm" and not value:
        shown = tr("Off")
    else:
        shown = _value_text(value)
    return (tr(SETTING_LABELS[key]) if key in SETTING_LABELS else key), shown


def _param_text(key: str, value: Any) -> tuple[str, str]:
    """(label, value) of a block parameter as the Inspector shows them ("Function", "Softmax")."""
    lang = current_language()
    for spec in BLOCKS.values():
        for param in spec.params:
            if param.name == key:
                return param.label(lang) or key, param.choice_title(value, lang) if isinstance(value, str) else \
                    _value_text(value)
    return key, _value_text(value)


def describe_fix(fix: Any) -> str:
    """The fix in plain words, named as the panels name them ("Set Learning rate to 0.0001; insert Dropout after
    fc1"; the project file's keys, learning_rate and clip_norm, are not what the Training panel shows)."""
    try:
        actions = plan_fix(fix)
    except UserError as exc:
        return str(exc)
    parts = []
    for a in actions:
        if a.kind == "setting":
            label, value = _setting_text(a.key, a.value)
            parts.append(tr("set {setting} to {value}", setting=label, value=value))
        elif a.kind == "insert":
            spec = BLOCKS[a.block]
            parts.append(tr("insert {block} after {node}", block=pick(spec.title_en, spec.title_zh), node=a.node))
        else:
            label, value = _param_text(a.key, a.value)
            parts.append(tr("set {param} of {node} to {value}", param=label, node=a.node, value=value))
    text = tr("; ").join(parts)  # "；" in Chinese
    return text[:1].upper() + text[1:]


def hint_message(hint: Any) -> str:
    """The hint's text in the interface language (``message_zh`` when the trainer provides one)."""
    en = str(getattr(hint, "message", "") or getattr(hint, "text", "") or hint)
    zh = str(getattr(hint, "message_zh", "") or "")
    return pick(en, zh) if current_language() == "zh" else en


def apply_fix(window: Any, fix: Any) -> str:
    """Apply ``fix`` to the window's project as one undoable step; returns the fix in words.

    A fix that changes how weights start or what they mean (``"reset_weights"`` in the fix) also resets the
    trained weights, so the next run really starts from the fix (undo restores the network, not the weights).
    """
    from nnstudio.ui.editor.commands import SetTrainingCommand  # noqa: PLC0415

    actions = plan_fix(fix)
    project = getattr(window, "project", None)
    if project is None:
        raise UserError("Hint fix: no project is open")
    undo = getattr(window, "undo_stack", None)
    controller = getattr(window, "training_controller", None)
    description = describe_fix(fix)
    if undo is not None:
        undo.beginMacro(tr("Apply hint: {fix}", fix=description))
    try:
        for a in actions:
            if a.kind == "setting":
                command = SetTrainingCommand(project.training, a.key, a.value)
                undo.push(command) if undo is not None else command.redo()
            elif a.kind == "param":
                _set_param(window, project.graph, a)
            else:
                _insert_after(window, project.graph, a)
    finally:
        if undo is not None:
            undo.endMacro()
    # Trained weights made for another initialisation, activation or wiring would undo the fix's effect.
    invalidates = bool(fix.get("reset_weights")) or any(
        a.kind == "insert" or (a.kind == "param" and a.key in ("init", "function")) for a in actions)
    if invalidates and controller is not None and getattr(controller, "weights", None) is not None:
        controller.reset_weights()
        description += " " + tr("(the trained weights were reset: the next run starts from the fix)")
    return description


def _set_param(window: Any, graph: Any, a: FixAction) -> None:
    if a.node not in graph.nodes:
        raise UserError(f"Hint fix: node '{a.node}' is no longer in the network")
    scene = getattr(window, "scene", None)
    if scene is not None and hasattr(scene, "set_param"):
        scene.set_param(a.node, a.key, a.value)
    else:
        graph.set_param(a.node, a.key, a.value)


def _insert_after(window: Any, graph: Any, a: FixAction) -> str:
    """Wire a new ``a.block`` between ``a.node`` and everything it fed; returns the new node's id."""
    if a.node not in graph.nodes:
        raise UserError(f"Hint fix: node '{a.node}' is no longer in the network")
    before = graph.nodes[a.node]
    x, y = before.position or (0.0, 0.0)
    position = (x + 40.0, y + 90.0)
    outgoing = list(graph.outgoing(a.node))
    undo = getattr(window, "undo_stack", None)
    if undo is None:
        node = graph.add_node(a.block, a.params, position)
        for edge in outgoing:
            graph.disconnect(edge)
        graph.connect(a.node, node.id)
        for edge in outgoing:
            graph.connect(node.id, edge.dst, edge.port)
        return node.id
    from nnstudio.ui.editor.commands import AddNodeCommand, ConnectCommand, DisconnectCommand
    add = AddNodeCommand(graph, a.block, position, a.params)
    undo.push(add)
    new_id = str(add.node_id)
    for edge in outgoing:
        undo.push(DisconnectCommand(graph, edge))
    undo.push(ConnectCommand(graph, a.node, new_id))
    for edge in outgoing:
        undo.push(ConnectCommand(graph, new_id, edge.dst, edge.port))
    return new_id


class _HintCard(QFrame):
    def __init__(self, hint: Any, panel: "HintsPanel") -> None:
        super().__init__()
        self.hint = hint
        self.setObjectName("hintCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("QFrame#hintCard { background:#262A33; border:1px solid #3A3F4B; border-radius:6px; }")
        self.message = QLabel(html.escape(hint_message(hint)))
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        fix = getattr(hint, "fix", None)
        self.fix_label = QLabel()
        self.fix_label.setWordWrap(True)
        self.fix_label.setStyleSheet("color:#9AA3B2;")
        self.apply_button = QPushButton(tr("Apply fix"))
        self.apply_button.setObjectName("hintApply")
        self.apply_button.clicked.connect(lambda: panel.apply(self))
        if fix:
            self.fix_label.setText(tr("Fix: {fix}", fix=describe_fix(fix)))
        else:
            self.fix_label.hide()
            self.apply_button.hide()
        row = QHBoxLayout()
        row.addWidget(self.fix_label, 1)
        row.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addLayout(row)


class HintsPanel(QWidget):
    """Hints from the trainer, newest first, each with "Apply fix" when it carries one."""

    fix_applied = Signal(str)  # the fix in words
    fix_failed = Signal(str)

    def __init__(self, window: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("hintsPanel")
        self.window = window
        self.cards: list[_HintCard] = []
        self.empty = QLabel()
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color:#8A93A3;")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.clear_button = QPushButton()
        self.clear_button.clicked.connect(self.clear)
        self.list_host = QWidget()
        self.list_layout = QVBoxLayout(self.list_host)
        self.list_layout.addWidget(self.empty)
        self.list_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.list_host)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        self.retranslate()

    def retranslate(self) -> None:
        self.empty.setText(tr("No hints yet. While a network trains, advice about its learning rate, "
                              "overfitting or gradients appears here."))
        self.clear_button.setText(tr("Clear"))

    def add_hint(self, hint: Any) -> None:
        """Show a Hint event (the same message twice is shown once)."""
        if type(hint).__name__ != "Hint" and not hasattr(hint, "message"):
            return
        text = hint_message(hint)
        if any(hint_message(c.hint) == text for c in self.cards):
            return
        card = _HintCard(hint, self)
        self.cards.insert(0, card)
        self.list_layout.insertWidget(0, card)
        while len(self.cards) > MAX_HINTS:
            old = self.cards.pop()
            old.setParent(None)
            old.deleteLater()
        self.empty.hide()

    def clear(self) -> None:
        for card in self.cards:
            card.setParent(None)
            card.deleteLater()
        self.cards = []
        self.status.setText("")
        self.empty.show()

    def apply(self, card: _HintCard) -> bool:
        fix = getattr(card.hint, "fix", None)
        try:
            if self.window is None:
                raise UserError("Hint fix: the panel is not attached to a window")
            done = apply_fix(self.window, fix)
        except UserError as exc:
            self.status.setText(f"<span style='color:#F05454'>{html.escape(str(exc))}</span>")
            self.fix_failed.emit(str(exc))
            return False
        card.apply_button.setEnabled(False)
        card.apply_button.setText(tr("Applied"))
        self.status.setText(tr("Applied: {fix}. Undo reverts it.", fix=done))
        self.fix_applied.emit(done)
        return True
