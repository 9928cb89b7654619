"""The inspector: the selected node's parameters as editing widgets, its shape and parameter count, and the
block's help and formula.

Widgets follow the catalogue (spin boxes with its ranges, combo boxes showing each choice's title, a checkbox
for flags, a line edit validated as you type for shapes and "same" paddings); a parameter shows only while
it applies (the catalogue's ``applies_when``: alpha only for Leaky ReLU), and the formula is typeset as in the
help cards.  Every accepted change becomes a
:class:`SetParamCommand`; the widgets refresh from the document's events, so undo shows up here too.
"""
from __future__ import annotations

import re
from html import escape
from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QFrame, QGridLayout, QLabel,
                               QLineEdit, QScrollArea, QSpinBox, QVBoxLayout, QWidget)

from nnstudio.errors import UserError
from nnstudio.graph.catalogue import ACTIVATION_INFO, BLOCKS, ParamSpec
from nnstudio.graph.document import GraphEvent
from nnstudio.ui.editor.node_item import format_shape
from nnstudio.ui.editor.scene import EditorScene
from nnstudio.ui.help_card import FORMULA_STYLE, formula_html
from nnstudio.ui.i18n import current_language, pick, tr

INT_LIMIT = 2_147_483_647


def parse_shape_text(text: str) -> list[int] | str:
    """"1, 28, 28", "[1 28 28]" or "1x28x28" -> [1, 28, 28]; a message string when it is not a list of ints."""
    cleaned = text.strip().strip("[]()")
    parts = [p for p in re.split(r"[\s,x×]+", cleaned) if p]
    if not parts:
        return tr("enter sizes such as 1, 28, 28")
    try:
        return [int(p) for p in parts]
    except ValueError:
        return tr("sizes must be whole numbers, such as 1, 28, 28")


def shape_to_text(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


class InspectorWidget(QWidget):
    def __init__(self, scene: EditorScene, parent: Any = None) -> None:
        super().__init__(parent)
        self.scene = scene
        self.node_id: str | None = None
        self.formula_html = ""
        self.editors: dict[str, QWidget] = {}
        self.labels: dict[str, QLabel] = {}
        self._setters: dict[str, Callable[[Any], None]] = {}
        self._unsubscribe: Callable[[], None] | None = None

        self.title = QLabel()
        self.title.setObjectName("inspectorTitle")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.setMinimumWidth(300)
        self.summary = QLabel()
        self.summary.setObjectName("inspectorSummary")
        self.summary.setWordWrap(True)
        self.form_host = QWidget()
        self.form = QFormLayout(self.form_host)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.error_label = QLabel()
        self.error_label.setObjectName("inspectorError")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.help = QLabel()
        self.help.setObjectName("inspectorHelp")
        self.help.setWordWrap(True)
        self.help.setTextFormat(Qt.TextFormat.RichText)
        self.help.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.empty = QLabel(tr("Select a block to see and edit its parameters."))
        self.empty.setWordWrap(True)
        self.empty.setObjectName("inspectorEmpty")

        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(10, 10, 10, 10)
        column.setSpacing(8)
        for widget in (self.empty, self.title, self.summary, self.form_host, self.error_label):
            column.addWidget(widget)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setObjectName("inspectorRule")
        column.addWidget(line)
        column.addWidget(self.help)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        scene.selectionChanged.connect(self._selection_changed)
        scene.report_changed.connect(lambda report: self._refresh_summary())
        self.bind_graph()
        self.show_node(None)

    # -- binding ------------------------------------------------------------------------------------
    def unbind(self) -> None:
        """Stop listening to the document (the window is closing): no event reaches a deleted widget."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def bind_graph(self) -> None:
        """(Re)subscribe to the scene's current graph (call after the window opens another project)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = self.scene.graph.subscribe(self._on_event)
        self.show_node(None)

    def _selection_changed(self) -> None:
        try:
            ids = self.scene.selected_node_ids()
        except RuntimeError:  # the scene is being destroyed
            return
        self.show_node(ids[0] if len(ids) == 1 else None)

    def _on_event(self, event: GraphEvent) -> None:
        if self.node_id is None:
            return
        if event.kind == "reset" or (event.kind == "node_removed" and event.node_id == self.node_id):
            self.show_node(None)
        elif event.kind == "param_changed" and event.node_id == self.node_id and event.name in self._setters:
            node = self.scene.graph.nodes[self.node_id]
            self._setters[event.name](node.params.get(event.name))
            self._refresh_applicable()
            self._refresh_help()

    # -- building the form --------------------------------------------------------------------------
    def show_node(self, node_id: str | None) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.editors.clear()
        self.labels.clear()
        self._setters.clear()
        self.error_label.hide()
        node = self.scene.graph.nodes.get(node_id) if node_id else None
        self.node_id = node.id if node is not None else None
        has_node = node is not None
        for widget in (self.title, self.summary, self.form_host, self.help):
            widget.setVisible(has_node)
        self.empty.setVisible(not has_node)
        if node is None:
            return
        spec = BLOCKS[node.type]
        self.title.setText(f"<span style='font-size:13pt; font-weight:600'>{pick(spec.title_en, spec.title_zh)}"
                           f"</span>&nbsp;&nbsp;<span style='color:#9AA3B2'>{node.id}</span>")
        for param in spec.params:
            editor = self._make_editor(param, node.params.get(param.name, param.default))
            label = QLabel(param.label(current_language()) or param.name)
            label.setToolTip(param.help(current_language()))
            editor.setToolTip(param.help(current_language()))
            self.form.addRow(label, editor)
            self.editors[param.name] = editor
            self.labels[param.name] = label
        if not spec.params:
            self.form.addRow(QLabel(tr("This block has no parameters.")))
        self._refresh_applicable()
        self._refresh_summary()
        self._refresh_help()

    def _make_editor(self, param: ParamSpec, value: Any) -> QWidget:
        name = param.name
        if param.kind == "int":
            box = QSpinBox()
            box.setRange(int(param.min) if param.min is not None else -INT_LIMIT,
                         int(param.max) if param.max is not None else INT_LIMIT)
            box.setValue(int(value))
            box.valueChanged.connect(lambda v, n=name: self._commit(n, int(v)))
            self._setters[name] = lambda v, b=box: self._quiet(b, b.setValue, int(v))
            return box
        if param.kind == "float":
            dbox = QDoubleSpinBox()
            small = param.min is not None and 0 < param.min < 1e-3
            dbox.setDecimals(8 if small else 3)
            dbox.setSingleStep(1e-5 if small else (0.05 if (param.max or 10) <= 1 else 0.1))
            dbox.setRange(param.min if param.min is not None else -1e9, param.max if param.max is not None else 1e9)
            dbox.setValue(float(value))
            dbox.valueChanged.connect(lambda v, n=name: self._commit(n, float(v)))
            self._setters[name] = lambda v, b=dbox: self._quiet(b, b.setValue, float(v))
            return dbox
        if param.kind == "choice":
            combo = QComboBox()
            lang = current_language()
            for choice in param.choices:  # people read "Leaky ReLU"; the document keeps leaky_relu
                combo.addItem(param.choice_title(choice, lang), choice)
            combo.setCurrentIndex(max(0, combo.findData(str(value))))
            combo.currentIndexChanged.connect(lambda i, n=name, b=combo: self._commit(n, b.itemData(i)))
            self._setters[name] = lambda v, b=combo: self._quiet(b, b.setCurrentIndex, max(0, b.findData(str(v))))
            return combo
        if param.kind == "bool":
            check = QCheckBox()
            check.setChecked(bool(value))
            check.toggled.connect(lambda v, n=name: self._commit(n, bool(v)))
            self._setters[name] = lambda v, b=check: self._quiet(b, b.setChecked, bool(v))
            return check
        if param.kind == "choice_list":
            return self._choice_list_editor(param, value)
        # "shape", "int_pair" and "int_or_same": text validated as typed, applied with Enter or on leaving it
        edit = QLineEdit(shape_to_text(value))
        edit.setPlaceholderText({"shape": "1, 28, 28", "int_pair": tr("3, or 3, 2 (height, width)")}.get(
            param.kind, tr('a number, two, or "same"')))
        edit.textEdited.connect(lambda text, p=param, e=edit: self._mark(e, self._parse_text(p, text)[1]))
        edit.editingFinished.connect(lambda p=param, e=edit: self._text_finished(p, e))
        self._setters[name] = lambda v, b=edit: self._quiet(b, b.setText, shape_to_text(v))
        return edit

    def _choice_list_editor(self, param: ParamSpec, value: Any) -> QWidget:
        """One check box per choice (Features' x1, x2, x1², ...); unchecking the last one is refused."""
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(2)
        checks: dict[str, QCheckBox] = {}
        lang = current_language()
        for k, choice in enumerate(param.choices):
            check = QCheckBox(param.choice_title(choice, lang))
            check.setChecked(choice in value)
            grid.addWidget(check, k // 2, k % 2)
            checks[choice] = check

        def show(chosen: Any) -> None:
            for choice, check in checks.items():
                self._quiet(check, check.setChecked, choice in chosen)

        def toggled(_on: bool) -> None:
            if self._commit(param.name, [c for c, check in checks.items() if check.isChecked()]) is not None \
                    and self.node_id in self.scene.graph.nodes:
                show(self.scene.graph.nodes[self.node_id].params.get(param.name, param.default))

        for check in checks.values():
            check.toggled.connect(toggled)
        self._setters[param.name] = show
        return box

    def _refresh_applicable(self) -> None:
        """Show only the parameters that apply to the node's current values (alpha only for Leaky ReLU)."""
        if self.node_id is None or self.node_id not in self.scene.graph.nodes:
            return
        node = self.scene.graph.nodes[self.node_id]
        spec = BLOCKS[node.type]
        for param in spec.params:
            editor = self.editors.get(param.name)
            if editor is not None:
                self.form.setRowVisible(editor, param.applies(node.params, spec))

    def shown_params(self) -> list[str]:
        """Names of the parameters whose rows are shown now."""
        return [name for name, editor in self.editors.items() if self.form.isRowVisible(editor)]

    @staticmethod
    def _quiet(widget: QWidget, setter: Callable[[Any], None], value: Any) -> None:
        widget.blockSignals(True)
        try:
            setter(value)
        finally:
            widget.blockSignals(False)

    # -- committing ---------------------------------------------------------------------------------
    def _parse_text(self, param: ParamSpec, text: str) -> tuple[Any, str | None]:
        """The typed value and the problem with it (None when the catalogue accepts it)."""
        if param.kind == "shape":
            parsed: Any = parse_shape_text(text)
            if isinstance(parsed, str):
                return None, parsed
        else:
            word = text.strip().lower()
            if word in ("same", "valid") and param.kind == "int_or_same":
                parsed = word
            else:
                numbers = parse_shape_text(word)  # "3", "3, 2", "3x2"
                if isinstance(numbers, str) or len(numbers) > 2:
                    return None, (tr('enter a whole number, two, or "same"') if param.kind == "int_or_same"
                                  else tr("enter a whole number, or two such as 3, 2"))
                parsed = numbers[0] if len(numbers) == 1 else numbers
        if self.node_id is None:
            return parsed, None
        node = self.scene.graph.nodes[self.node_id]
        try:
            return BLOCKS[node.type].param(param.name).validate(parsed, node.label), None
        except UserError as exc:
            return None, str(exc)

    def _text_finished(self, param: ParamSpec, edit: QLineEdit) -> None:
        value, problem = self._parse_text(param, edit.text())
        self._mark(edit, problem)
        if problem is None:
            self._commit(param.name, value)

    def _mark(self, edit: QWidget, problem: str | None) -> None:
        edit.setProperty("invalid", bool(problem))
        edit.setStyleSheet("border: 1px solid #F05454;" if problem else "")
        edit.setToolTip(problem or "")
        self.error_label.setText(problem or "")
        self.error_label.setVisible(bool(problem))

    def _commit(self, name: str, value: Any) -> str | None:
        """Validate with the catalogue and push the change; returns the problem text when refused."""
        if self.node_id is None:
            return None
        node = self.scene.graph.nodes[self.node_id]
        try:
            checked = BLOCKS[node.type].param(name).validate(value, node.label)
        except UserError as exc:
            self.error_label.setText(str(exc))
            self.error_label.show()
            return str(exc)
        self.error_label.hide()
        self.scene.set_param(self.node_id, name, checked)
        self.scene.validate_now()  # downstream shapes update at once
        return None

    # -- texts --------------------------------------------------------------------------------------
    def _refresh_summary(self) -> None:
        if self.node_id is None or self.node_id not in self.scene.graph.nodes:
            return
        report = self.scene.report
        shape = report.shapes.get(self.node_id)
        count = report.param_counts.get(self.node_id, 0)
        problems = [m for m in report.messages if m.node_id == self.node_id]
        lines = [tr("Output shape: {shape}", shape=format_shape(shape)),
                 tr("Parameters: {count}", count=f"{count:,}")]
        for message in problems:
            colour = "#F05454" if message.severity == "error" else "#E9B949"
            lines.append(f"<span style='color:{colour}'>⚠ {message.text}</span>")
        self.summary.setText("<br>".join(lines))

    def _refresh_help(self) -> None:
        if self.node_id is None:
            return
        node = self.scene.graph.nodes[self.node_id]
        spec = BLOCKS[node.type]
        formula = spec.formula
        extra = ""
        if node.type == "Activation":
            info = ACTIVATION_INFO.get(str(node.params.get("function", spec.param("function").default)))
            if info is not None:
                formula = info.formula
                extra = (f"<p><b>{escape(pick(info.title_en, info.title_zh))}</b> — "
                         f"{escape(pick(info.help_en, info.help_zh))}</p>")
        self.formula_html = formula_html(formula)  # typeset as in the help cards: e<sup>z<sub>i</sub></sup>
        self.help.setText(
            f"<p style='color:#C9D1E0'>{escape(pick(spec.description_en, spec.description_zh))}</p>"
            f"<p style=\"{FORMULA_STYLE}\">{self.formula_html}</p>"
            f"{extra}<p style='color:#9AA3B2'>{escape(pick(spec.help_en, spec.help_zh))}</p>")
