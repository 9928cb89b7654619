"""Right-click menus on the canvas: one for a node, one for a wire, one for the empty canvas.

Why this exists: people expect the editor's commands where they click.  A node offers delete, duplicate,
its help and "disconnect all"; a wire offers delete; the empty canvas offers the palette's blocks by group
(added where the menu was opened), paste, auto-layout and fit to view.  Every entry calls the scene's or the
view's own edit methods, so each edit is the same undo command as from the menus and keys.
:func:`build_context_menu` returns the menu without showing it, so tests can trigger its actions.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, QPointF
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QGraphicsItem, QMenu

from nnstudio.errors import UserError
from nnstudio.graph.catalogue import BLOCKS, GROUPS
from nnstudio.ui.editor.edge_item import EdgeItem
from nnstudio.ui.editor.node_item import NodeItem, PortItem
from nnstudio.ui.i18n import pick, tr
from nnstudio.ui.icons import block_icon, icon


def group_title(group: str) -> str:
    """The heading of a catalogue group (palette, Add block menu), in the interface language."""
    titles = {"Input": tr("Input"), "Layers": tr("Layers"), "Activations": tr("Activations"),
              "Merge": tr("Merge"), "Regularisation": tr("Regularisation")}
    return titles.get(group, group)


def item_under(view: Any, view_pos: QPoint) -> NodeItem | EdgeItem | None:
    """The node card (a port counts as its card) or wire under ``view_pos``, else None."""
    for item in view.items(view_pos):
        if isinstance(item, PortItem):
            return item.node
        if isinstance(item, (NodeItem, EdgeItem)):
            return item
        parent: QGraphicsItem | None = item.parentItem()
        if isinstance(parent, NodeItem):
            return parent
    return None


def build_context_menu(view: Any, view_pos: QPoint) -> QMenu:
    """The menu for what lies under ``view_pos`` (viewport pixels) of the editor ``view``."""
    scene = view.editor_scene
    scene_pos = view.mapToScene(view_pos)
    item = item_under(view, view_pos)
    menu = QMenu(view)
    menu.setObjectName("canvasContextMenu")
    if isinstance(item, NodeItem):
        _node_menu(menu, view, item)
    elif isinstance(item, EdgeItem):
        menu.setObjectName("wireContextMenu")
        scene.clearSelection()
        item.setSelected(True)
        edge = item.edge
        action = menu.addAction(icon("delete"), tr("Delete wire"))
        action.setObjectName("deleteWire")
        action.triggered.connect(lambda checked=False: scene.delete_edge(edge))
    else:
        _canvas_menu(menu, view, scene_pos)
    return menu


def _node_menu(menu: QMenu, view: Any, item: NodeItem) -> None:
    scene = view.editor_scene
    menu.setObjectName("nodeContextMenu")
    node_id = item.node_id
    if not item.isSelected():  # right-clicking a card outside the selection acts on that card alone
        scene.select_nodes([node_id])
    chosen = scene.selected_node_ids()

    def delete() -> None:
        scene.delete_nodes(chosen)

    def duplicate() -> None:
        try:
            scene.duplicate_selection()
        except UserError as exc:
            scene.status_message.emit(str(exc))

    entries = (
        ("deleteNode", icon("delete"), tr("Delete"), delete, True),
        ("duplicateNode", icon("copy"), tr("Duplicate"), duplicate, True),
        ("disconnectAll", QIcon(), tr("Disconnect all"), lambda: scene.disconnect_all(node_id),
         bool(scene.edges_of(node_id))),
    )
    for name, ico, text, slot, enabled in entries:
        action = menu.addAction(ico, text)
        action.setObjectName(name)
        action.setEnabled(enabled)
        action.triggered.connect(lambda checked=False, s=slot: s())
    menu.addSeparator()
    spec = BLOCKS[item.block_type]
    help_action = menu.addAction(icon("help"), tr("Help for {block}", block=pick(spec.title_en, spec.title_zh)))
    help_action.setObjectName("blockHelp")
    help_action.setShortcut("F1")
    help_action.triggered.connect(lambda checked=False: view.help_requested.emit(node_id))


def _canvas_menu(menu: QMenu, view: Any, scene_pos: QPointF) -> None:
    scene = view.editor_scene
    add = menu.addMenu(icon("new"), tr("Add block here"))
    add.setObjectName("addBlockMenu")
    for group in GROUPS:
        specs = [s for s in BLOCKS.values() if s.group == group]
        if not specs:
            continue
        sub = add.addMenu(icon(f"group_{group.lower()}"), group_title(group))
        for spec in specs:
            action = sub.addAction(block_icon(spec.type, spec.group), pick(spec.title_en, spec.title_zh))
            action.setObjectName(f"add_{spec.type}")
            action.setStatusTip(pick(spec.description_en, spec.description_zh))
            action.triggered.connect(lambda checked=False, t=spec.type: view.block_dropped.emit(t, scene_pos))

    def paste() -> None:
        try:
            scene.paste_clipboard(at=scene_pos)
        except UserError as exc:
            scene.status_message.emit(str(exc))

    has_nodes = bool(scene.graph.nodes)
    entries = (
        ("pasteHere", icon("paste"), tr("Paste here"), paste, True),
        (None, None, "", None, False),
        ("autoLayout", icon("layout"), tr("Auto-layout"), scene.auto_layout, has_nodes),
        ("fitToView", icon("fit"), tr("Fit to view"), view.fit_all, has_nodes),
    )
    for name, ico, text, slot, enabled in entries:
        if name is None:
            menu.addSeparator()
            continue
        action = menu.addAction(ico, text)
        action.setObjectName(name)
        action.setEnabled(enabled)
        action.triggered.connect(lambda checked=False, s=slot: s())


def find_action(menu: QMenu, name: str) -> Any:
    """The action called ``name`` (its objectName) in ``menu`` or its submenus; None when absent."""
    for action in menu.actions():
        if action.objectName() == name:
            return action
        sub = action.menu()
        if sub is not None:
            found = find_action(sub, name)
            if found is not None:
                return found
    return None
