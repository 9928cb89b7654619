"""Canvas behaviour: refused wires, merge ports, errors on nodes, the problems panel, clipboard, keyboard,
zoom and pan, the palette, and a 200-node graph."""
from __future__ import annotations

import time

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication

from nnstudio.graph.catalogue import BLOCKS
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, project_to_json


def _canonical(graph: Graph) -> dict:
    """The graph as a dict with nodes and edges sorted (a restored node comes back at the end)."""
    data = graph.to_dict()
    return {"nodes": sorted(data["nodes"], key=lambda n: n["id"]),
            "edges": sorted(data["edges"], key=lambda e: (e["from"], e["to"], e.get("to_port", 0)))}


def _chain(canvas, *blocks: str) -> list[str]:
    ids = [canvas.drop_block(b, QPoint(80 + 170 * i, 200)) for i, b in enumerate(blocks)]
    for src, dst in zip(ids, ids[1:]):
        canvas.wire(src, dst)
    return ids


def test_refused_wires_show_the_reason(canvas):
    canvas.view.zoom_by(0.6)
    dense, act = _chain(canvas, "Dense", "Activation")
    inp = canvas.drop_block("Input", QPoint(400, 400))
    stack = canvas.window.undo_stack
    count = stack.count()
    messages = []
    canvas.window.statusBar().messageChanged.connect(messages.append)

    canvas.wire(act, dense)  # would close a loop
    assert "cycle" in canvas.scene.last_refusal
    assert "cycle" in canvas.view.notice_text()
    assert any("cycle" in m for m in messages)

    other = canvas.drop_block("Input", QPoint(100, 400))
    canvas.wire(other, act)  # port already taken
    assert "already connected" in canvas.scene.last_refusal

    canvas.drag(canvas.port_point(inp, "out"), canvas.port_point(other, "out"))  # same direction
    assert "output to an output" in canvas.scene.last_refusal

    canvas.drag(canvas.port_point(act, "in"), canvas.port_point(dense, "in"))
    assert "input to an input" in canvas.scene.last_refusal
    assert stack.count() == count + 1  # only the dropped Input: refused wires change nothing
    assert len(canvas.scene.graph.edges) == 1


def test_wire_can_be_drawn_backwards_from_an_input(canvas):
    inp, dense = (canvas.drop_block(b, QPoint(120 + 300 * i, 200)) for i, b in enumerate(("Input", "Dense")))
    canvas.drag(canvas.port_point(dense, "in"), canvas.port_point(inp, "out"))
    assert [(e.src, e.dst) for e in canvas.scene.graph.edges] == [(inp, dense)]
    edge_item = next(iter(canvas.scene.edge_items.values()))
    assert edge_item.label == "1×28×28"


def test_merge_blocks_offer_one_free_port(canvas):
    canvas.view.zoom_by(0.6)
    a = canvas.drop_block("Input", QPoint(100, 100))
    b = canvas.drop_block("Dense", QPoint(100, 300))
    add = canvas.drop_block("Add", QPoint(450, 200))
    item = canvas.scene.node_items[add]
    assert len(item.input_ports) == 1
    canvas.wire(a, b)
    canvas.wire(a, add, 0)
    assert len(item.input_ports) == 2
    canvas.wire(b, add, 1)
    assert len(item.input_ports) == 3
    report = canvas.scene.report
    assert any(m.node_id == add and m.severity == "error" for m in report.messages)  # 1x28x28 + 10
    assert item.severity == "error" and item.toolTip()
    canvas.window.undo_stack.undo()
    assert len(item.input_ports) == 2


def test_problems_panel_selects_and_centres_the_node(window):
    g = Graph()
    for i in range(6):
        g.add_node("Dense", {"units": 4}, (i * 600.0, i * 500.0))
    g.add_node("Input", {"shape": [3]}, (0, -400))
    g.connect("input_1", "dense_1")
    window.set_project(Project(graph=g))
    texts = window.problems.messages()
    assert any("dense_6" in t for t in texts)
    row = next(i for i, t in enumerate(texts) if "[dense_6]" in t)
    window.view.centerOn(0, 0)
    item = window.problems.list.item(row)
    window.problems.list.itemClicked.emit(item)
    assert window.scene.selected_node_ids() == ["dense_6"]
    centre = window.view.mapToScene(window.view.viewport().rect().center())
    node_centre = window.scene.node_items["dense_6"].sceneBoundingRect().center()
    tolerance = 2.0 / window.view.zoom()  # two pixels
    assert abs(centre.x() - node_centre.x()) < tolerance and abs(centre.y() - node_centre.y()) < tolerance
    assert "error" in window.problems_label.text()


def test_copy_paste_and_duplicate_keep_internal_wires(canvas, qtbot):
    window = canvas.window
    inp, conv, act = _chain(canvas, "Input", "Conv2D", "Activation")
    canvas.scene.select_nodes([conv, act])
    qtbot.keyClick(canvas.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QGuiApplication.clipboard().mimeData().hasFormat("application/x-nnstudio-graph")
    qtbot.keyClick(canvas.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    graph = canvas.scene.graph
    assert len(graph.nodes) == 5
    new = canvas.scene.selected_node_ids()
    assert len(new) == 2 and not {conv, act} & set(new)
    assert sum(1 for e in graph.edges if e.src in new and e.dst in new) == 1
    assert not any(e.dst in new and e.src not in new for e in graph.edges)  # the wire from outside stays out
    qtbot.keyClick(canvas.view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert len(graph.nodes) == 7
    window.undo_stack.undo()
    window.undo_stack.undo()
    assert len(graph.nodes) == 3
    window.undo_stack.redo()
    assert len(graph.nodes) == 5 and len(graph.edges) == 3


def test_delete_and_cut_undo(canvas, qtbot):
    window = canvas.window
    ids = _chain(canvas, "Input", "Dense", "Activation")
    before = _canonical(canvas.scene.graph)
    canvas.scene.select_nodes([ids[1]])
    canvas.view.setFocus()
    qtbot.keyClick(canvas.view, Qt.Key.Key_Delete)
    assert ids[1] not in canvas.scene.graph.nodes and not canvas.scene.graph.edges
    window.undo_stack.undo()
    assert _canonical(canvas.scene.graph) == before
    # a loose wire can be selected and deleted alone
    edge = canvas.scene.graph.edges[0]
    canvas.scene.clearSelection()
    canvas.scene.edge_items[edge].setSelected(True)
    window.act_delete.trigger()
    assert edge not in canvas.scene.graph.edges and len(canvas.scene.graph.nodes) == 3
    window.undo_stack.undo()
    assert _canonical(canvas.scene.graph) == before
    canvas.scene.select_nodes(ids[:2])
    window.act_cut.trigger()
    assert list(canvas.scene.graph.nodes) == [ids[2]]
    window.undo_stack.undo()
    assert _canonical(canvas.scene.graph) == before


def test_keyboard_nudge_fit_and_zoom(canvas, qtbot):
    window = canvas.window
    node = canvas.drop_block("Dense", QPoint(200, 200))
    x, y = canvas.scene.graph.nodes[node].position
    canvas.view.setFocus()
    qtbot.keyClick(canvas.view, Qt.Key.Key_Right)
    qtbot.keyClick(canvas.view, Qt.Key.Key_Down)
    assert canvas.scene.graph.nodes[node].position == (x + 20, y + 20)
    window.undo_stack.undo()
    assert canvas.scene.graph.nodes[node].position == (x, y)  # both nudges merged into one step

    far = canvas.scene.add_block("Dense", QPointF(600, 250))  # far, but all of it fits at a readable size
    assert far
    qtbot.keyClick(canvas.view, Qt.Key.Key_F)
    visible = canvas.view.mapToScene(canvas.view.viewport().rect()).boundingRect()
    for item in canvas.scene.node_items.values():
        assert visible.contains(item.sceneBoundingRect())

    zoom = canvas.view.zoom()
    viewport = canvas.view.viewport()
    under = QPoint(100, 120)
    scene_before = canvas.view.mapToScene(under)
    qtbot.wait(1)
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication
    wheel = QWheelEvent(QPointF(under), QPointF(viewport.mapToGlobal(under)), QPoint(0, 0), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, wheel)
    assert canvas.view.zoom() > zoom
    scene_after = canvas.view.mapToScene(under)
    assert abs(scene_after.x() - scene_before.x()) < 3 / zoom and abs(scene_after.y() - scene_before.y()) < 3 / zoom

    centre = canvas.view.visible_centre()
    canvas.drag(QPoint(300, 300), QPoint(200, 250), Qt.MouseButton.MiddleButton)
    moved = canvas.view.visible_centre()
    assert moved.x() > centre.x() and moved.y() > centre.y()
    # space + left drag pans too, without starting a rubber band or moving cards
    canvas.scene.clearSelection()
    qtbot.keyPress(canvas.view, Qt.Key.Key_Space)
    canvas.drag(QPoint(300, 300), QPoint(400, 300))
    qtbot.keyRelease(canvas.view, Qt.Key.Key_Space)
    assert canvas.view.visible_centre().x() < moved.x()
    assert len(canvas.scene.graph.nodes) == 2 and not canvas.scene.selected_node_ids()


def test_rubber_band_selects_cards(canvas):
    a = canvas.drop_block("Dense", QPoint(200, 200))
    b = canvas.drop_block("Dense", QPoint(450, 200))
    canvas.drop_block("Dense", QPoint(450, 450))
    canvas.drag(QPoint(40, 120), QPoint(600, 300))
    assert set(canvas.scene.selected_node_ids()) == {a, b}


def test_palette_search_help_and_double_click(canvas):
    window = canvas.window
    palette = window.palette
    assert set(palette.block_items) == set(BLOCKS)
    palette.search.setText("conv")
    assert palette.visible_types() == ["Conv2D"]
    palette.search.setText("")
    assert len(palette.visible_types()) == len(BLOCKS)
    tip = palette.block_items["Dense"].toolTip(0)
    assert "<i>W</i>·<i>x</i> + <i>b</i>" in tip and BLOCKS["Dense"].description_en in tip  # typeset formula
    item = palette.block_items["Dropout"]
    palette.tree.itemDoubleClicked.emit(item, 0)
    node = canvas.scene.selected_node_ids()
    assert len(node) == 1 and canvas.scene.graph.nodes[node[0]].type == "Dropout"
    centre = window.view.visible_centre()
    assert canvas.scene.node_items[node[0]].sceneBoundingRect().adjusted(-20, -20, 20, 20).contains(centre)
    mime = palette.tree.mimeData([palette.block_items["Conv2D"]])
    assert bytes(mime.data("application/x-nnstudio-block").data()) == b"Conv2D"


def pos_x(graph: Graph, node_id: str) -> float:
    return graph.nodes[node_id].position[0]


def pos_band(graph: Graph, node_id: str) -> float:
    return graph.nodes[node_id].position[1]


def test_200_node_graph_opens_with_auto_layout_and_stays_responsive(window, tmp_path):
    g = Graph()
    previous = g.add_node("Input", {"shape": [16]}).id
    history = [previous]
    edges = 0
    while len(g.nodes) < 200:
        if len(g.nodes) % 10 == 9:  # a residual merge of the last two outputs
            node = g.add_node("Add").id
            g.connect(history[-1], node)
            g.connect(history[-3], node)
            edges += 2
        else:
            kind = "Dense" if len(g.nodes) % 2 else "Activation"
            node = g.add_node(kind, {"units": 16} if kind == "Dense" else None).id
            g.connect(history[-1], node)
            edges += 1
        history.append(node)
    assert len(g.nodes) == 200
    path = tmp_path / "big.nnproj"
    path.write_text(project_to_json(Project(name="big", graph=g)), encoding="utf-8")
    started = time.perf_counter()
    assert window.open_project(path)
    opened = time.perf_counter() - started
    graph = window.project.graph
    assert all(n.position is not None for n in graph.nodes.values())
    assert len(window.scene.node_items) == 200 and len(window.scene.edge_items) == edges
    # The wiring is valid; what the Problems panel lists is only that mnist (the default dataset) does not fit.
    from nnstudio.graph.shapes import infer_shapes
    assert infer_shapes(graph).ok
    assert all("dataset" in m.text for m in window.scene.report.errors), window.scene.report.messages
    assert all(pos_x(graph, e.src) < pos_x(graph, e.dst) or pos_band(graph, e.src) < pos_band(graph, e.dst)
               for e in graph.edges)
    positions = {n.position for n in graph.nodes.values()}
    assert len(positions) == 200
    assert opened < 10.0
    # an edit touches only what it concerns and re-validates once
    started = time.perf_counter()
    window.scene.set_param("dense_1", "units", 32)
    window.scene.validate_now()
    assert time.perf_counter() - started < 2.0
    assert window.scene.node_items["dense_2"].params_text == "528 params"  # 32*16 + 16
    # auto-layout is one undoable step
    graph.move_node("dense_5", (9999.0, 9999.0))
    window.scene.auto_layout()
    assert graph.nodes["dense_5"].position != (9999.0, 9999.0)
    window.undo_stack.undo()
    assert graph.nodes["dense_5"].position == (9999.0, 9999.0)
