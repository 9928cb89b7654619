"""The pieces meet in the main window: the canvas drives the feature maps, File > Export / Import work."""
from __future__ import annotations

import numpy as np

from nnstudio.resources_path import resource


def test_drawing_updates_the_feature_maps_while_idle(window, qtbot):
    window.show_digit_canvas()
    canvas = window.digit_panel.canvas
    canvas.add_stroke([(140, 40), (140, 240)], width=18)
    window.digit_panel.update_prediction()
    qtbot.waitUntil(lambda: window.training.dashboard.feature_maps.probe is not None, timeout=3000)
    probe = window.training.dashboard.feature_maps.probe
    assert probe.input.shape == (1, 28, 28)
    kinds = set(probe.kinds.values())
    assert {"Conv2D", "Pool2D"} <= kinds
    assert any(a.ndim == 3 for a in probe.activations.values())


def test_export_onnx_and_import_back_from_the_menus(window, tmp_path):
    assert window.open_example(resource("examples", "mlp-xor.json"))
    out = window.interop.export("onnx", str(tmp_path / "xor.onnx"))
    assert out is not None and out.stat().st_size > 0
    pytorch = window.interop.export("pytorch", str(tmp_path / "xor.py"))
    assert pytorch is not None and "nn.Module" in pytorch.read_text(encoding="utf-8")
    window.undo_stack.setClean()
    assert window.interop.import_onnx(str(out))
    assert set(window.graph.nodes) >= {"hidden", "tanh", "dense", "sigmoid"}
    assert window.training.weights is not None
    assert all(n.position is not None for n in window.graph.nodes.values())  # laid out automatically


def test_bad_onnx_file_leaves_the_project_untouched(window, tmp_path):
    assert window.open_example(resource("examples", "mlp-xor.json"))
    before = window.graph.to_dict()
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert not window.interop.import_onnx(str(bad))
    assert window.graph.to_dict() == before
    assert "bad.onnx" in window.last_error
