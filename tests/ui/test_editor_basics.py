"""Editor basics people expect: right-click menus, searching blocks by what they do, F1 for the selected
block, typeset formulas and only the parameters that apply in the inspector, refused wires shown red while
dragging, "1 error" in the status bar, and messages that say "cross-entropy" rather than cross_entropy."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMenu

from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, default_training
from nnstudio.graph.shapes import Message, ShapeReport
from nnstudio.ui.editor.context_menu import find_action
from nnstudio.ui.editor.problems import count_text
from nnstudio.ui.editor.scene import WIRE_ACCEPTED, WIRE_REFUSED


def _chain(canvas, *blocks: str) -> list[str]:
    ids = [canvas.drop_block(b, QPoint(80 + 230 * i, 200)) for i, b in enumerate(blocks)]
    for src, dst in zip(ids, ids[1:]):
        canvas.wire(src, dst)
    return ids


def _centre(canvas, node_id: str) -> QPoint:
    return canvas.to_view(canvas.scene.node_items[node_id].sceneBoundingRect().center())


def _menu(canvas, view_pos: QPoint) -> QMenu:
    return canvas.view.context_menu(view_pos)


def _trigger(menu: QMenu, name: str) -> None:
    action = find_action(menu, name)
    assert action is not None, f"no {name} in {[a.objectName() for a in menu.actions()]}"
    assert action.isEnabled(), f"{name} is disabled"
    action.trigger()


# -- right-click menus -----------------------------------------------------------------------------------

def test_right_click_opens_the_menu_of_what_is_under_the_mouse(canvas, monkeypatch):
    dense = canvas.drop_block("Dense", QPoint(200, 200))
    shown: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(canvas.view, "exec_menu", lambda menu, *a: shown.append(
        (menu.objectName(), [a.objectName() for a in menu.actions() if a.objectName()])))
    for where in (_centre(canvas, dense), QPoint(600, 500)):
        event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, where, canvas.view.viewport().mapToGlobal(where))
        QApplication.sendEvent(canvas.view.viewport(), event)
    assert shown[0] == ("nodeContextMenu", ["deleteNode", "duplicateNode", "disconnectAll", "blockHelp"])
    assert shown[1][0] == "canvasContextMenu"
    assert shown[1][1] == ["pasteHere", "autoLayout", "fitToView"]
    assert canvas.view.last_menu.actions()[0].menu().objectName() == "addBlockMenu"


def test_node_menu_deletes_duplicates_disconnects_and_shows_help(canvas):
    inp, dense, act = _chain(canvas, "Input", "Dense", "Activation")
    graph, stack = canvas.scene.graph, canvas.window.undo_stack

    menu = _menu(canvas, _centre(canvas, dense))
    assert canvas.scene.selected_node_ids() == [dense]  # right-clicking a card selects it
    assert "Dense" in find_action(menu, "blockHelp").text()
    _trigger(menu, "disconnectAll")
    assert graph.edges == []
    stack.undo()
    assert len(graph.edges) == 2

    _trigger(_menu(canvas, _centre(canvas, dense)), "duplicateNode")
    assert len(graph.nodes) == 4 and [graph.nodes[n].type for n in canvas.scene.selected_node_ids()] == ["Dense"]

    _trigger(_menu(canvas, _centre(canvas, act)), "blockHelp")
    dialog = canvas.window.block_help_dialog
    assert dialog.isVisible() and canvas.window.block_help_card.block_type == "Activation"
    assert "ReLU" in canvas.window.block_help_card.toPlainText()

    _trigger(_menu(canvas, _centre(canvas, act)), "deleteNode")
    assert act not in graph.nodes and len(graph.nodes) == 3
    stack.undo()
    assert act in graph.nodes


def test_wire_menu_deletes_the_wire(canvas):
    inp, dense = _chain(canvas, "Input", "Dense")
    edge_item = next(iter(canvas.scene.edge_items.values()))
    where = canvas.to_view(edge_item.path().pointAtPercent(0.3))
    menu = _menu(canvas, where)
    assert menu.objectName() == "wireContextMenu"
    _trigger(menu, "deleteWire")
    assert canvas.scene.graph.edges == [] and set(canvas.scene.graph.nodes) == {inp, dense}
    canvas.window.undo_stack.undo()
    assert len(canvas.scene.graph.edges) == 1


def test_canvas_menu_adds_blocks_where_clicked_pastes_lays_out_and_fits(canvas):
    scene, view = canvas.scene, canvas.view
    empty = _menu(canvas, QPoint(300, 300))
    assert not find_action(empty, "autoLayout").isEnabled() and not find_action(empty, "fitToView").isEnabled()
    add = empty.actions()[0].menu()
    assert add.objectName() == "addBlockMenu"
    assert [a.text() for a in add.actions()][:2] == ["Input", "Layers"]

    where = QPoint(300, 300)
    _trigger(_menu(canvas, where), "add_Conv2D")
    (conv,) = scene.graph.nodes
    assert scene.graph.nodes[conv].type == "Conv2D"
    assert scene.node_items[conv].sceneBoundingRect().adjusted(-20, -20, 20, 20).contains(view.mapToScene(where))

    scene.select_nodes([conv])
    scene.copy_selection()
    target = QPoint(150, 420)
    _trigger(_menu(canvas, target), "pasteHere")
    pasted = [n for n in scene.graph.nodes if n != conv]
    assert len(pasted) == 1
    corner = view.mapToScene(target)
    assert scene.graph.nodes[pasted[0]].position == (corner.x(), corner.y())

    view.zoom_by(2.5)
    view.centerOn(QPointF(5000, 5000))
    _trigger(_menu(canvas, QPoint(20, 20)), "autoLayout")
    _trigger(_menu(canvas, QPoint(20, 20)), "fitToView")
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert all(visible.contains(item.sceneBoundingRect()) for item in scene.node_items.values())


# -- palette search ------------------------------------------------------------------------------------

def test_palette_finds_blocks_by_what_they_do(canvas, qtbot):
    palette = canvas.window.palette
    cases = {"relu": ["Activation"], "softmax": ["Activation"], "sigmoid": ["Activation"],
             "max pool": ["Pool2D"], "average pool": ["Pool2D"], "fully connected": ["Dense"],
             "convolution": ["Conv2D"], "dropout": ["Dropout"], "卷积": ["Conv2D"], "池化": ["Pool2D"],
             "全连接": ["Dense"]}
    for query, expected in cases.items():
        palette.search.clear()
        if query.isascii():
            qtbot.keyClicks(palette.search, query)
        else:  # Chinese comes from an input method, which commits the whole word at once
            palette.search.insert(query)
        assert palette.visible_types() == expected, query
    palette.search.clear()
    qtbot.keyClicks(palette.search, "max pool")
    before = set(canvas.scene.graph.nodes)
    qtbot.keyClick(palette.search, Qt.Key.Key_Return)  # Enter adds the first match
    added = [n for n in canvas.scene.graph.nodes if n not in before]
    assert [canvas.scene.graph.nodes[n].type for n in added] == ["Pool2D"]


def test_an_activation_found_by_its_function_is_added_with_that_function(canvas, qtbot):
    # Searching "softmax" finds the Activation block; what is added is a softmax, not the default ReLU.
    from nnstudio.ui.editor.view import BLOCK_MIME
    palette, graph = canvas.window.palette, canvas.scene.graph
    for query, function, how in (("softmax", "softmax", "enter"), ("leaky relu", "leaky_relu", "double-click"),
                                 ("双曲正切", "tanh", "drag"), ("relu", "relu", "enter")):
        palette.search.clear()
        palette.search.insert(query)
        item = palette.block_items["Activation"]
        assert ":" in item.text(0), item.text(0)  # "Activation: Softmax", what will be added
        before = set(graph.nodes)
        if how == "enter":
            qtbot.keyClick(palette.search, Qt.Key.Key_Return)
        elif how == "double-click":
            palette.tree.itemDoubleClicked.emit(item, 0)
        else:  # a drag carries the function to the canvas, which adds the block where it is dropped
            request = bytes(palette.tree.mimeData([item]).data(BLOCK_MIME).data()).decode("utf-8")
            canvas.view.block_dropped.emit(request, canvas.view.visible_centre())
        added = [n for n in graph.nodes if n not in before]
        assert [(graph.nodes[n].type, graph.nodes[n].params["function"]) for n in added] == \
            [("Activation", function)], query
    palette.search.clear()
    palette.search.insert("activation")  # no function named: the title is plain and the default is added
    assert ":" not in palette.block_items["Activation"].text(0)


# -- F1 ------------------------------------------------------------------------------------------------

def test_f1_shows_the_selected_blocks_help_card(canvas, qtbot):
    window = canvas.window
    inp, conv = _chain(canvas, "Input", "Conv2D")
    canvas.scene.select_nodes([conv])
    window.activateWindow()
    canvas.view.setFocus()
    qtbot.keyClick(canvas.view, Qt.Key.Key_F1)
    card = window.block_help_card
    assert window.block_help_dialog.isVisible() and card.block_type == "Conv2D"
    text = card.toPlainText()
    assert "Conv2D (convolution)" in text and "With this input" in text  # worked output size for 1x28x28
    assert "<sup>" in card.toHtml() or "<sub>" in card.toHtml() or "vertical-align" in card.toHtml()

    canvas.scene.clearSelection()
    qtbot.keyClick(canvas.view, Qt.Key.Key_F1)
    assert card.block_type is None and "Activation functions" in card.toPlainText()  # the reference


# -- inspector -------------------------------------------------------------------------------------------

def test_inspector_typesets_the_formula(canvas):
    act = canvas.drop_block("Activation", QPoint(200, 200))
    canvas.scene.set_param(act, "function", "softmax")
    canvas.scene.select_nodes([act])
    inspector = canvas.window.inspector
    assert "e^{" not in inspector.help.text() and "^" not in inspector.formula_html
    assert "<sup>" in inspector.formula_html and "<sub>" in inspector.formula_html
    canvas.scene.select_nodes([canvas.drop_block("Dense", QPoint(500, 200))])
    assert "<i>W</i>·<i>x</i>" in inspector.formula_html


def test_inspector_shows_only_the_parameters_that_apply(canvas, qtbot):
    act = canvas.drop_block("Activation", QPoint(200, 200))
    canvas.scene.select_nodes([act])
    inspector = canvas.window.inspector
    assert inspector.shown_params() == ["function"]  # no leaky slope for ReLU
    combo = inspector.editors["function"]
    titles = [combo.itemText(i) for i in range(combo.count())]
    assert "Leaky ReLU" in titles and "leaky_relu" not in titles  # names people read
    combo.setCurrentIndex(combo.findData("leaky_relu"))  # as picking it from the list does
    assert canvas.scene.graph.nodes[act].params["function"] == "leaky_relu"
    assert inspector.shown_params() == ["function", "alpha"]
    assert inspector.labels["alpha"].isVisibleTo(inspector)
    canvas.window.undo_stack.undo()  # back to ReLU: the slope goes with it
    assert combo.currentData() == "relu" and inspector.shown_params() == ["function"]
    canvas.window.undo_stack.redo()
    assert combo.currentData() == "leaky_relu" and inspector.shown_params() == ["function", "alpha"]
    combo.setCurrentIndex(combo.findData("softmax"))
    assert inspector.shown_params() == ["function"] and not inspector.labels["alpha"].isVisibleTo(inspector)

    pool = canvas.drop_block("Pool2D", QPoint(500, 200))
    canvas.scene.select_nodes([pool])
    mode = inspector.editors["mode"]
    assert [mode.itemText(i) for i in range(mode.count())] == ["Max pooling", "Average pooling"]
    assert inspector.shown_params() == ["mode", "size", "stride", "padding"]


# -- refused wires while dragging --------------------------------------------------------------------------

def test_a_refused_wire_turns_red_with_its_reason_while_dragging(canvas, qtbot):
    dense, act = _chain(canvas, "Dense", "Activation")
    spare = canvas.drop_block("Dense", QPoint(300, 420))
    viewport, scene, view = canvas.view.viewport(), canvas.scene, canvas.view
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=canvas.port_point(act, "out"))
    qtbot.mouseMove(viewport, QPoint(500, 380))
    qtbot.mouseMove(viewport, canvas.port_point(dense, "in"))  # would close a loop
    assert scene.preview_colour() == WIRE_REFUSED
    assert "cycle" in scene.preview_problem and "cycle" in view.notice_text()
    qtbot.mouseMove(viewport, canvas.port_point(spare, "in"))  # a port that takes it
    assert scene.preview_colour() == WIRE_ACCEPTED and view.notice_text() == ""
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=canvas.port_point(spare, "in"))
    assert scene.preview_colour() is None and [(e.src, e.dst) for e in scene.graph.edges][-1] == (act, spare)


# -- status bar and messages -------------------------------------------------------------------------------

def test_status_bar_counts_errors_and_warnings_in_words(canvas):
    assert count_text(1, 0) == "1 error" and count_text(2, 0) == "2 errors"
    assert count_text(0, 1) == "1 warning" and count_text(1, 3) == "1 error, 3 warnings"
    assert count_text(0, 0) == "No problems"
    window = canvas.window
    report = ShapeReport()
    report.messages.append(Message("d", "a problem"))
    window._report_changed(report)
    assert window.problems_label.text() == "1 error"
    report.messages.append(Message("d", "another", "warning"))
    window._report_changed(report)
    assert window.problems_label.text() == "1 error, 1 warning"
    canvas.drop_block("Dense", QPoint(200, 200))  # a lone Dense: no Input, a real report
    canvas.scene.validate_now()
    errors = sum(m.severity == "error" for m in canvas.scene.report.messages)
    assert window.problems_label.text().startswith("1 error" if errors == 1 else f"{errors} errors")


def test_status_bar_counts_in_chinese():
    from nnstudio.ui.i18n import set_language
    set_language("zh")
    try:
        assert count_text(1, 2) == "1 个错误，2 个警告"
    finally:
        set_language("en")


def test_problems_and_inspector_say_cross_entropy_and_relu(window):
    g = Graph()
    g.add_node("Input", {"shape": [2]}, node_id="in")
    g.add_node("Dense", {"units": 2}, node_id="d")
    g.add_node("Activation", {"function": "relu"}, node_id="out")
    g.connect("in", "d")
    g.connect("d", "out")
    training = dict(default_training(), dataset="circle", loss="cross_entropy")
    window.set_project(Project(name="names", graph=g, training=training))
    window.scene.validate_now()
    texts = [m.text for m in window.scene.report.messages]
    assert any("cross-entropy expects a softmax output" in t and "applies ReLU" in t for t in texts), texts
    window.scene.select_nodes(["out"])
    summary = window.inspector.summary.text()
    assert "cross-entropy" in summary and "cross_entropy" not in summary and "relu" not in summary
    shown = [window.problems.list.item(i).text() for i in range(window.problems.list.count())]
    assert shown and not any("cross_entropy" in t for t in shown)


def test_help_card_lists_the_parameters_that_apply_by_their_names():
    from nnstudio.ui.help_card import activation_html, help_html
    card = help_html("Activation", {"function": "softmax", "alpha": 0.01})
    assert "Alpha" not in card and ">Softmax<" in card
    assert "Alpha" in help_html("Activation", {"function": "leaky_relu", "alpha": 0.2})
    assert "Alpha" in help_html("Activation")  # the reference lists every parameter
    assert ">Average pooling<" in help_html("Pool2D", {"mode": "avg", "size": 2, "stride": 0})
    assert "into a probability" in activation_html("softmax", "en")  # the word "a" is not a variable
