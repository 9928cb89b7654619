"""The block palette: every catalogue block, grouped, with icon, search and help on hover.

Dragging an entry starts a drag carrying ``application/x-nnstudio-block`` (the block type) that the canvas
accepts; double-clicking emits ``block_activated`` so the window adds the block at the view's centre.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from nnstudio.graph.catalogue import BLOCKS, GROUPS, BlockSpec
from nnstudio.ui.editor.view import BLOCK_MIME
from nnstudio.ui.i18n import pick, tr
from nnstudio.ui.icons import block_icon, icon

TYPE_ROLE = Qt.ItemDataRole.UserRole + 1



def group_title(group: str) -> str:
    """The palette heading of a catalogue group, in the interface language."""
    titles = {"Input": tr("Input"), "Layers": tr("Layers"), "Activations": tr("Activations"),
              "Merge": tr("Merge"), "Regularisation": tr("Regularisation")}
    return titles.get(group, group)


def block_tooltip(spec: BlockSpec) -> str:
    """Rich-text help for a block: title, description, formula and the longer help."""
    title = pick(spec.title_en, spec.title_zh)
    description = pick(spec.description_en, spec.description_zh)
    help_text = pick(spec.help_en, spec.help_zh)
    return (f"<b>{title}</b><br>{description}<br><br><code>{spec.formula}</code>"
            f"<p style='max-width:360px'>{help_text}</p>")


class _BlockTree(QTreeWidget):
    """The tree itself, which starts drags with the block type as mime data."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
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
                mime.setData(BLOCK_MIME, str(block_type).encode("utf-8"))
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
        self.tree = _BlockTree()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self.group_items: dict[str, QTreeWidgetItem] = {}
        self.block_items: dict[str, QTreeWidgetItem] = {}
        self._populate()
        self.search.textChanged.connect(self.filter)
        self.tree.itemDoubleClicked.connect(self._activated)

    def _populate(self) -> None:
        for group in GROUPS:
            specs = [s for s in BLOCKS.values() if s.group == group]
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

    def filter(self, text: str) -> None:
        """Show only blocks whose type, title or description contains ``text``."""
        needle = text.strip().lower()
        for group, top in self.group_items.items():
            visible = 0
            for i in range(top.childCount()):
                child = top.child(i)
                spec = BLOCKS[child.data(0, TYPE_ROLE)]
                haystack = " ".join((spec.type, spec.title_en, spec.title_zh, spec.description_en,
                                     spec.description_zh, spec.group)).lower()
                hidden = bool(needle) and needle not in haystack
                child.setHidden(hidden)
                visible += not hidden
            top.setHidden(visible == 0)

    def visible_types(self) -> list[str]:
        return [t for t, item in self.block_items.items() if not item.isHidden() and not item.parent().isHidden()]

    def _activated(self, item: QTreeWidgetItem, column: int) -> None:
        block_type = item.data(0, TYPE_ROLE)
        if block_type:
            self.block_activated.emit(str(block_type))
