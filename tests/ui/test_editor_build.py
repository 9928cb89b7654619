"""Build LeNet-5 on an empty canvas by mouse alone, edit it in the inspector, undo and redo it all."""
from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QLineEdit, QSpinBox

LENET = ["Input", "Conv2D", "Activation", "Pool2D", "Conv2D", "Activation", "Pool2D", "Flatten",
         "Dense", "Activation", "Dense", "Activation", "Dense", "Activation"]


def _click_node(canvas, node_id: str) -> None:
    item = canvas.scene.node_items[node_id]
    point = canvas.to_view(item.mapToScene(QPointF(100, 14)))  # on the header, away from the ports
    canvas.qtbot.mouseClick(canvas.view.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert canvas.scene.selected_node_ids() == [node_id]


def _spin(window, name: str) -> QSpinBox:
    editor = window.inspector.editors[name]
    assert isinstance(editor, QSpinBox)
    return editor


def _type(window, qtbot, name: str, text: str) -> None:
    """Type ``text`` into a text parameter (kernel sizes: "5" or "5, 3") and press Enter."""
    editor = window.inspector.editors[name]
    assert isinstance(editor, QLineEdit)
    editor.clear()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)


def _build_lenet(canvas) -> list[str]:
    canvas.view.zoom_by(0.5)
    ids = []
    for i, block in enumerate(LENET):
        col, row = i % 4, i // 4
        ids.append(canvas.drop_block(block, QPoint(90 + col * 150, 60 + row * 90)))
    for src, dst in zip(ids, ids[1:]):
        canvas.wire(src, dst)
    return ids


def test_build_lenet_by_mouse_then_edit_undo_redo(canvas, qtbot):
    window = canvas.window
    graph = window.scene.graph
    ids = _build_lenet(canvas)
    assert [graph.nodes[i].type for i in ids] == LENET
    assert [(e.src, e.dst) for e in graph.edges] == list(zip(ids, ids[1:]))
    assert not canvas.scene.last_refusal

    inp, c1, a1, p1, c2, a2, p2, flat, d1, a3, d2, a4, d3, a5 = ids
    # parameters through the inspector widgets
    _click_node(canvas, c1)
    _spin(window, "filters").setValue(6)
    _type(window, qtbot, "kernel_size", "5")
    padding = window.inspector.editors["padding"]
    assert isinstance(padding, QLineEdit)
    padding.clear()
    qtbot.keyClicks(padding, "2")
    qtbot.keyClick(padding, Qt.Key.Key_Return)
    _click_node(canvas, c2)
    _spin(window, "filters").setValue(16)
    _type(window, qtbot, "kernel_size", "5, 5")  # two equal sizes are one square kernel
    for node_id, units in ((d1, 120), (d2, 84), (d3, 10)):
        _click_node(canvas, node_id)
        _spin(window, "units").setValue(units)
    _click_node(canvas, a5)
    window.inspector.editors["function"].setCurrentText("Softmax")  # the title people read

    report = window.scene.report
    assert report.shapes[c1] == (6, 28, 28)
    assert report.shapes[p2] == (16, 5, 5)
    assert report.shapes[flat] == (400,)
    assert report.shapes[a5] == (10,)
    assert report.total_params == 61706
    assert window.params_label.text() == "Parameters: 61,706"
    assert canvas.scene.node_items[c1].title == "Conv2D 6@5x5 s1 p2"
    assert canvas.scene.node_items[d1].title == "Dense 120"
    edge_into_flatten = next(e for e in canvas.scene.edge_items if e.dst == flat)
    assert canvas.scene.edge_items[edge_into_flatten].label == "16×5×5"

    # a parameter change in the inspector updates downstream shapes at once
    _click_node(canvas, c2)
    _spin(window, "filters").setValue(20)
    assert canvas.scene.node_items[flat].shape_text == "500"
    assert canvas.scene.edge_items[edge_into_flatten].label == "20×5×5"
    assert "Parameters: 3,020" in window.inspector.summary.text()

    built = graph.to_dict()
    stack = window.undo_stack
    assert stack.count() > len(LENET) + len(ids) - 1
    while stack.canUndo():
        stack.undo()
    assert graph.to_dict() == {"nodes": [], "edges": []}
    assert not canvas.scene.node_items and not canvas.scene.edge_items
    while stack.canRedo():
        stack.redo()
    assert graph.to_dict() == built
    assert window.scene.report.total_params == 61706 - 2416 + 3020 - 48120 + 60120


def test_spin_box_drag_merges_into_one_undo_step(canvas):
    window = canvas.window
    node = canvas.drop_block("Dense", QPoint(300, 200))
    _click_node(canvas, node)
    before = window.undo_stack.count()
    spin = _spin(window, "units")
    for value in range(11, 40):
        spin.setValue(value)
    assert window.undo_stack.count() == before + 1
    window.undo_stack.undo()
    assert window.scene.graph.nodes[node].params["units"] == 10
    assert spin.value() == 10  # the inspector follows the document


def test_shape_field_is_validated_as_typed(canvas, qtbot):
    window = canvas.window
    node = canvas.drop_block("Input", QPoint(300, 200))
    _click_node(canvas, node)
    field = window.inspector.editors["shape"]
    field.clear()
    qtbot.keyClicks(field, "3, 32, a")
    assert field.property("invalid") is True
    assert window.inspector.error_label.isVisible()
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert window.scene.graph.nodes[node].params["shape"] == [1, 28, 28]
    field.clear()
    qtbot.keyClicks(field, "3, 0, 3")
    assert field.property("invalid") is True
    assert "positive sizes" in window.inspector.error_label.text()
    field.clear()
    qtbot.keyClicks(field, "3, 32, 32")
    assert field.property("invalid") is False
    assert window.scene.graph.nodes[node].params["shape"] == [1, 28, 28]  # applied with Enter
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert window.scene.graph.nodes[node].params["shape"] == [3, 32, 32]
    assert canvas.scene.node_items[node].shape_text == "3×32×32"


def test_moving_cards_by_mouse_is_one_undo_step_that_merges(canvas):
    window = canvas.window
    node = canvas.drop_block("Dense", QPoint(300, 200))
    item = canvas.scene.node_items[node]
    start_pos = window.scene.graph.nodes[node].position
    grip = canvas.to_view(item.mapToScene(QPointF(100, 14)))
    before = window.undo_stack.count()
    canvas.drag(grip, grip + QPoint(80, 40))
    moved = window.scene.graph.nodes[node].position
    assert moved != start_pos
    assert moved[0] % 20 == 0 and moved[1] % 20 == 0  # snapped to the grid
    assert window.undo_stack.count() == before + 1
    grip = canvas.to_view(item.mapToScene(QPointF(100, 14)))
    canvas.drag(grip, grip + QPoint(40, 0))
    assert window.undo_stack.count() == before + 1  # same node moved again: merged
    window.undo_stack.undo()
    assert window.scene.graph.nodes[node].position == start_pos
    assert item.pos() == QPointF(*start_pos)
