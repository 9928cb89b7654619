"""The block palette: every catalogue block, grouped, with icon, search and help on hover.

Search goes by what a block does, from the catalogue's data (titles, descriptions, keywords and choices in
English and Chinese): "relu" or "softmax" find Activation, "max pool" or 池化 find Pool2D.

Dragging an entry starts a drag carrying ``application/x-nnstudio-block`` (the block type) that the canvas
accepts; double-clicking emits ``block_activated`` so the window adds the block at the view's centre.  When the
search names an activation function ("softmax", 双曲正切), the Activation entry says so and carries it: the
block is added with that function (``"Activation?function=softmax"``, see :func:`split_block_request`).
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from nnstudio.graph.catalogue import ACTIVATION_INFO, BLOCKS, GROUPS, BlockSpec, activation_for_search, matches_search
from nnstudio.ui.editor.context_menu import group_title
from nnstudio.ui.editor.view import BLOCK_MIME
from nnstudio.ui.help_card import formula_html
from nnstudio.ui.i18n import current_language, pick, sort_key, tr
from nnstudio.ui.icons import block_icon, icon

TYPE_ROLE = Qt.ItemDataRole.UserRole + 1





def block_request(block_type: str, params: dict[str, str] | None = None) -> str:
    """A block type with the parameters to add it with, as palette drags and activations carry it."""
    if not params:
        return block_type
    return block_type + "?" + "&".join(f"{k}={v}" for k, v in params.items())


def split_block_request(request: str) -> tuple[str, dict[str, str]]:
    """``"Activation?function=softmax"`` -> ("Activation", {"function": "softmax"}); a plain type -> (type, {})."""
    block_type, _, query = request.partition("?")
    params = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    return block_type, params


def block_tooltip(spec: BlockSpec) -> str:
    """Rich-text help for a block: title, description, formula and the longer help."""
    title = pick(spec.title_en, spec.title_zh)
    description = pick(spec.description_en, spec.description_zh)
    help_text = pick(spec.help_en, spec.help_zh)
    return (f"<b>{title}</b><br>{description}<br><br>"
            f"<span style='font-family:serif; color:#FFD58A'>{formula_html(spec.formula)}</span>"
            f"<p style='max-width:360px'>{help_text}</p>")


class _BlockTree(QTreeWidget):
    """The tree itself, which starts drags with the block type as mime data."""

    def __init__(self, request_for: Callable[[str], str], parent: Any = None) -> None:
        super().__init__(parent)
        self.request_for = request_for  # the block (and parameters) a drag of a type carries
        self.setHeaderHidden(True)
        self.setIconSize(QSize(22, 22))
        self.setDragEnabled(True)
        self.setDragDropMode(QTreeWidget.DragDropMode.DragOnly)
        self.setIndentation(12)
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return [BLOCK_MIME]

    def mimeData(self, items: Any) -> QMimeData:  # noqa: N802
        mime = QMimeData()
        for item in items:
            block_type = item.data(0, TYPE_ROLE)
            if block_type:
                request = self.request_for(str(block_type))  # with the activation the search names
                mime.setData(BLOCK_MIME, request.encode("utf-8"))
                mime.setText(str(block_type))
                break
        return mime

    def startDrag(self, actions: Any) -> None:  # noqa: N802
        item = self.currentItem()
        if item is None or not item.data(0, TYPE_ROLE):
            return
        drag = QDrag(self)
        drag.setMimeData(self.mimeData([item]))
        drag.setPixmap(item.icon(0).pixmap(32, 32))
        drag.exec(Qt.DropAction.CopyAction)


class PaletteWidget(QWidget):
    block_activated = Signal(str)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit()
        self.search.setPlaceholderText(tr("Search blocks…"))
        self.search.setClearButtonEnabled(True)
        self.tree = _BlockTree(self.request_for)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.group_items: dict[str, QTreeWidgetItem] = {}
        self.block_items: dict[str, QTreeWidgetItem] = {}
        self._populate()
        self.search.textChanged.connect(self.filter)
        self.search.returnPressed.connect(self._add_first_match)
        self.tree.itemDoubleClicked.connect(self._activated)

    def _populate(self) -> None:
        chinese = current_language() == "zh"
        key = sort_key()
        for group in GROUPS:
            specs = [s for s in BLOCKS.values() if s.group == group]
            if chinese:  # pinyin order; English keeps the catalogue's teaching order (Input, Dense, Conv2D...)
                specs.sort(key=lambda s: key(s.title_zh))
            if not specs:
                continue
            top = QTreeWidgetItem([group_title(group)])
            top.setIcon(0, icon(f"group_{group.lower()}"))
            top.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            self.tree.addTopLevelItem(top)
            self.group_items[group] = top
            for spec in specs:
                child = QTreeWidgetItem([pick(spec.title_en, spec.title_zh)])
                child.setIcon(0, block_icon(spec.type, spec.group))
                child.setData(0, TYPE_ROLE, spec.type)
                child.setToolTip(0, block_tooltip(spec))
                child.setStatusTip(0, pick(spec.description_en, spec.description_zh))
                child.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                               | Qt.ItemFlag.ItemIsDragEnabled)
                top.addChild(child)
                self.block_items[spec.type] = child
            top.setExpanded(True)

    def retranslate(self) -> None:
        """Titles, tooltips and order in the current language; the search stays as typed."""
        self.search.setPlaceholderText(tr("Search blocks…"))
        self.tree.clear()
        self.group_items.clear()
        self.block_items.clear()
        self._populate()
        self.filter(self.search.text())

    def request_for(self, block_type: str) -> str:
        """The block to add for ``block_type``: with the activation function the search names, if any."""
        function = activation_for_search(self.search.text()) if block_type == "Activation" else None
        return block_request(block_type, {"function": function} if function else None)

    def _show_activation_choice(self, text: str) -> None:
        """"Activation: Softmax" in the list while the search names softmax (what a drag will add)."""
        item = self.block_items.get("Activation")
        if item is None:
            return
        spec = BLOCKS["Activation"]
        title = pick(spec.title_en, spec.title_zh)
        function = activation_for_search(text)
        info = ACTIVATION_INFO.get(function) if function else None
        item.setText(0, f"{title}{pick(': ', '：')}{pick(info.title_en, info.title_zh)}" if info else title)

    def filter(self, text: str) -> None:
        """Show only blocks that match every word of ``text`` (see ``catalogue.matches_search``)."""
        self._show_activation_choice(text)
        first = None
        for group, top in self.group_items.items():
            visible = 0
            for i in range(top.childCount()):
                child = top.child(i)
                hidden = not matches_search(BLOCKS[child.data(0, TYPE_ROLE)], text)
                child.setHidden(hidden)
                visible += not hidden
                if not hidden and first is None:
                    first = child
            top.setHidden(visible == 0)
            top.setExpanded(True)
        # The first match is current, so Enter in the search field adds it.
        if text.strip() and first is not None:
            self.tree.setCurrentItem(first)

    def visible_types(self) -> list[str]:
        return [t for t, item in self.block_items.items() if not item.isHidden() and not item.parent().isHidden()]

    def _add_first_match(self) -> None:
        visible = self.visible_types()
        if self.search.text().strip() and visible:
            self.block_activated.emit(self.request_for(visible[0]))

    def _activated(self, item: QTreeWidgetItem, column: int) -> None:
        block_type = item.data(0, TYPE_ROLE)
        if block_type:
            self.block_activated.emit(self.request_for(str(block_type)))
