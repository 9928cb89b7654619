"""The Features block in the editor: one check box per feature in the inspector, each an undoable edit, the
last one cannot be unchecked, and the node's face and shape follow."""
from __future__ import annotations

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QCheckBox


def test_features_are_chosen_with_check_boxes(canvas):
    inp = canvas.drop_block("Input", QPoint(100, 200))
    canvas.scene.set_param(inp, "shape", [2])
    feat = canvas.drop_block("Features", QPoint(350, 200))
    canvas.wire(inp, feat)
    canvas.scene.select_nodes([feat])
    inspector = canvas.window.inspector
    boxes = {b.text(): b for b in inspector.editors["features"].findChildren(QCheckBox)}
    assert list(boxes) == ["x1", "x2", "x1²", "x2²", "x1·x2", "sin(x1)", "sin(x2)"]
    assert [t for t, b in boxes.items() if b.isChecked()] == ["x1", "x2"]
    graph = canvas.scene.graph
    boxes["x2²"].setChecked(True)
    boxes["x1²"].setChecked(True)
    boxes["x1"].setChecked(False)
    boxes["x2"].setChecked(False)
    assert graph.nodes[feat].params["features"] == ["x1_sq", "x2_sq"]
    canvas.scene.validate_now()
    assert canvas.scene.report.shapes[feat] == (2,)
    boxes["x1²"].setChecked(False)
    boxes["x2²"].setChecked(False)  # the last one: refused, and the box shows the document again
    assert graph.nodes[feat].params["features"] == ["x2_sq"] and boxes["x2²"].isChecked()
    assert "features must be a non-empty list" in inspector.error_label.text()
    canvas.window.undo_stack.undo()
    assert graph.nodes[feat].params["features"] == ["x1", "x2"]  # consecutive edits of one parameter merge
    assert [t for t, b in boxes.items() if b.isChecked()] == ["x1", "x2"]
