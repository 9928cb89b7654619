"""The drawing canvas, the "Draw a digit" page and the captcha panel, driven like a user would."""
from __future__ import annotations

import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QInputDevice, QPointingDevice, QTabletEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from nnstudio.data import userdigits  # noqa: E402
from nnstudio.data.drawing import preprocess_drawing  # noqa: E402
from nnstudio.engine.model import Model  # noqa: E402
from nnstudio.errors import UserError  # noqa: E402
from nnstudio.graph.compile import compile_graph  # noqa: E402
from nnstudio.graph.document import Graph  # noqa: E402
from nnstudio.predictor import DigitPredictor, default_predictor  # noqa: E402
from nnstudio.ui.canvas import CANVAS_SIZE, DrawingCanvas  # noqa: E402
from nnstudio.ui import captcha_panel  # noqa: E402
from nnstudio.ui.captcha_panel import CaptchaPanel  # noqa: E402
from nnstudio.ui.digit_panel import DigitPanel  # noqa: E402

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier


@pytest.fixture(autouse=True)
def user_data(tmp_path, monkeypatch):
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture(scope="module")
def shipped() -> DigitPredictor:
    return default_predictor()


@pytest.fixture
def panel(qtbot, shipped) -> DigitPanel:
    widget = DigitPanel(DigitPredictor(shipped.model, name="shipped"))
    qtbot.addWidget(widget)
    widget.show()
    return widget


def draw(qtbot, canvas: DrawingCanvas, points: list[tuple[float, float]]) -> None:
    """One stroke with real mouse events: press, moves with the button held, release."""
    pts = [QPoint(int(round(x)), int(round(y))) for x, y in points]
    qtbot.mousePress(canvas, LEFT, NO_MOD, pts[0])
    for p in pts[1:]:
        qtbot.mouseMove(canvas, p)
    qtbot.mouseRelease(canvas, LEFT, NO_MOD, pts[-1])


def vertical_line() -> list[tuple[float, float]]:
    return [(140.0, y) for y in np.linspace(45, 235, 25)]


def ellipse() -> list[tuple[float, float]]:
    t = np.linspace(0.0, 2.0 * np.pi, 48)
    return list(zip(140 + 58 * np.sin(t), 140 - 88 * np.cos(t)))


def mlp(seed: int = 0) -> Model:
    graph = Graph()
    previous = None
    for block, params in (("Input", {"shape": [784]}), ("Dense", {"units": 10}),
                          ("Activation", {"function": "softmax"})):
        node = graph.add_node(block, params)
        if previous:
            graph.connect(previous, node.id)
        previous = node.id
    return compile_graph(graph, "numpy", seed=seed)


# -- canvas ----------------------------------------------------------------------------------------------

def test_mouse_strokes_become_points_and_white_ink(qtbot) -> None:
    canvas = DrawingCanvas()
    qtbot.addWidget(canvas)
    canvas.show()
    assert canvas.size().width() == CANVAS_SIZE and canvas.is_empty()
    with qtbot.waitSignal(canvas.drawing_changed):
        draw(qtbot, canvas, vertical_line())
    assert len(canvas.strokes) == 1 and len(canvas.strokes[0].points) == 25
    a = canvas.to_array()
    assert a.shape == (CANVAS_SIZE, CANVAS_SIZE) and a.dtype == np.float32
    assert a[140, 140] == 1.0 and a[140, 20] == 0.0 and a[10, 140] == 0.0
    # the array is the image, pixel for pixel (checked against Qt's own per-pixel accessor on a few rows)
    image = canvas.image()
    for y in (40, 140, 239):
        row = np.array([image.pixelColor(x, y).red() for x in range(0, CANVAS_SIZE, 7)], np.uint8)
        np.testing.assert_array_equal(canvas.to_uint8()[y, ::7], row)
    # antialiased round strokes: partial coverage at the stroke's edge
    assert np.any((a > 0.05) & (a < 0.95))


def test_stroke_width_and_pen_pressure(qtbot) -> None:
    canvas = DrawingCanvas()
    qtbot.addWidget(canvas)
    canvas.set_stroke_width(10)
    canvas.add_stroke([(60, 40), (60, 240)])
    canvas.set_stroke_width(30)
    canvas.add_stroke([(200, 40), (200, 240)])
    widths = (canvas.to_array()[140] > 0.5).astype(int)
    left, right = widths[:130].sum(), widths[130:].sum()
    assert 8 <= left <= 12 and 28 <= right <= 32
    canvas.set_stroke_width(1000)
    assert canvas.stroke_width == 48.0

    def pen(kind, x, y, pressure):
        device = QPointingDevice("pen", 1, QInputDevice.DeviceType.Stylus, QPointingDevice.PointerType.Pen,
                                 QInputDevice.Capability.Position | QInputDevice.Capability.Pressure, 1, 3)
        event = QTabletEvent(kind, device, QPointF(x, y), QPointF(x, y), pressure, 0.0, 0.0, 0.0, 0.0, 0.0,
                             NO_MOD, LEFT, LEFT)
        QApplication.sendEvent(canvas, event)

    canvas.clear()
    canvas.set_stroke_width(30)
    for x, pressure in ((60, 0.1), (200, 1.0)):
        pen(QTabletEvent.Type.TabletPress, x, 40, pressure)
        pen(QTabletEvent.Type.TabletMove, x, 240, pressure)
        pen(QTabletEvent.Type.TabletRelease, x, 240, pressure)
    assert [s.points[0][2] for s in canvas.strokes] == pytest.approx([0.1, 1.0])
    widths = (canvas.to_array()[140] > 0.5).astype(int)
    assert widths[:130].sum() < 0.5 * widths[130:].sum()  # a light touch draws a thinner line


def test_undo_rerenders_the_remaining_strokes_and_clear_empties(qtbot) -> None:
    canvas = DrawingCanvas()
    qtbot.addWidget(canvas)
    canvas.show()
    draw(qtbot, canvas, vertical_line())
    only_line = canvas.to_uint8()
    draw(qtbot, canvas, ellipse())
    assert len(canvas.strokes) == 2 and not np.array_equal(canvas.to_uint8(), only_line)
    with qtbot.waitSignal(canvas.drawing_changed):
        assert canvas.undo()
    np.testing.assert_array_equal(canvas.to_uint8(), only_line)
    canvas.clear()
    assert canvas.is_empty() and not canvas.to_uint8().any()
    assert not canvas.undo()
    draw(qtbot, canvas, vertical_line())
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Escape)
    assert canvas.is_empty()
    draw(qtbot, canvas, vertical_line())
    draw(qtbot, canvas, ellipse())
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(canvas.strokes) == 1


def test_black_ink_on_white_paper(qtbot, shipped) -> None:
    canvas = DrawingCanvas(ink_on_black=False)
    qtbot.addWidget(canvas)
    canvas.add_stroke(vertical_line())
    a = canvas.to_array()
    assert a[5, 5] == 1.0 and a[140, 140] == 0.0
    _, prediction = shipped.predict_drawing(canvas.to_uint8())
    assert prediction.top == 1


def test_save_png_writes_the_drawing(qtbot, tmp_path) -> None:
    canvas = DrawingCanvas()
    qtbot.addWidget(canvas)
    canvas.add_stroke(ellipse())
    saved = canvas.save_png(tmp_path / "my digit")
    assert saved.name == "my digit.png"
    with Image.open(saved) as picture:
        np.testing.assert_array_equal(np.asarray(picture.convert("L")), canvas.to_uint8())
    (tmp_path / "a file").write_text("not a folder")
    with pytest.raises(UserError, match="cannot write"):
        canvas.save_png(tmp_path / "a file" / "digit.png")


# -- the digit page -----------------------------------------------------------------------------------------

def test_drawing_a_one_predicts_one(qtbot, panel) -> None:
    draw(qtbot, panel.canvas, vertical_line())
    qtbot.waitUntil(lambda: panel.current_prediction is not None, timeout=2000)
    panel.update_prediction()
    assert panel.current_prediction.top == 1
    assert panel.top_label.text() == "1"
    assert panel.bars.values is not None and int(np.argmax(panel.bars.values)) == 1


def test_drawing_a_zero_predicts_zero(qtbot, panel) -> None:
    draw(qtbot, panel.canvas, ellipse())
    panel.update_prediction()
    assert panel.current_prediction.top == 0
    assert panel.current_prediction.confidence > 0.5
    assert panel.top_label.text() == "0"


def test_the_page_feeds_the_shared_preprocessing_and_reports_the_input(qtbot, panel) -> None:
    seen = []
    panel.input_changed.connect(seen.append)
    draw(qtbot, panel.canvas, ellipse())
    panel.update_prediction()
    expected = preprocess_drawing(panel.canvas.to_array())
    np.testing.assert_allclose(panel.current_input, expected, atol=1e-6)
    assert seen and seen[-1].shape == (28, 28)
    np.testing.assert_allclose(seen[-1], expected, atol=1e-6)
    acts = panel.activations_for_drawing()
    assert set(acts) == set(panel.predictor.model.order)
    np.testing.assert_allclose(acts[panel.predictor.model.input_id][0], expected, atol=1e-6)


def test_an_empty_canvas_shows_no_bars(qtbot, panel) -> None:
    panel.update_prediction()
    assert panel.current_prediction is None and panel.bars.values is None
    assert panel.top_label.text() == "–" and not panel.add_button.isEnabled()
    assert panel.activations_for_drawing() == {}
    draw(qtbot, panel.canvas, vertical_line())
    panel.update_prediction()
    assert panel.bars.values is not None
    seen = []
    panel.input_changed.connect(seen.append)
    qtbot.keyClick(panel.canvas, Qt.Key.Key_Escape)
    panel.update_prediction()
    assert panel.bars.values is None and panel.current_prediction is None
    assert seen and not seen[-1].any()


def test_undo_and_clear_buttons(qtbot, panel) -> None:
    draw(qtbot, panel.canvas, vertical_line())
    draw(qtbot, panel.canvas, ellipse())
    qtbot.mouseClick(panel.undo_button, LEFT)
    assert len(panel.canvas.strokes) == 1
    panel.update_prediction()
    assert panel.current_prediction.top == 1
    qtbot.mouseClick(panel.clear_button, LEFT)
    panel.update_prediction()
    assert panel.canvas.is_empty() and panel.bars.values is None


def test_add_to_my_digits_writes_a_sample(qtbot, panel, user_data) -> None:
    draw(qtbot, panel.canvas, ellipse())
    panel.update_prediction()
    assert panel.label_combo.currentText() == "0"  # preset to the prediction
    panel.label_combo.setCurrentIndex(6)
    panel.label_combo.activated.emit(6)  # the user's choice sticks over the prediction
    panel.update_prediction()
    qtbot.mouseClick(panel.add_button, LEFT)
    x, y = userdigits.load_digits()
    assert str(userdigits.digits_path()).startswith(str(user_data))
    assert x.shape == (1, 28, 28) and y.tolist() == [6]
    np.testing.assert_array_equal(x[0], np.rint(panel.current_input * 255).astype(np.uint8))
    assert "1" in panel.status_label.text()


def test_throttling_coalesces_many_updates_into_few_predictions(qtbot, shipped) -> None:
    panel = DigitPanel(DigitPredictor(shipped.model), interval_ms=40)
    qtbot.addWidget(panel)
    canvas = panel.canvas
    start = panel.prediction_count
    canvas.begin_stroke(140, 40)
    for y in range(41, 240):  # 200 stroke updates without the event loop running in between
        canvas.extend_stroke(140, y)
    assert panel.prediction_count == start  # nothing computed synchronously per update
    qtbot.waitUntil(lambda: panel.prediction_count > start, timeout=2000)
    qtbot.wait(100)
    assert panel.prediction_count == start + 1  # all 200 updates: one prediction ...
    latest = preprocess_drawing(canvas.to_uint8())
    np.testing.assert_allclose(panel.current_input, latest, atol=1e-6)  # ... of the latest drawing
    # Updates spread over time: at most one prediction per interval (plus the one at the start).
    count = panel.prediction_count
    started = time.perf_counter()
    for i in range(30):
        canvas.extend_stroke(140 + i, 239)
        qtbot.wait(5)
    elapsed = time.perf_counter() - started
    qtbot.wait(120)
    made = panel.prediction_count - count
    assert 1 <= made <= elapsed / 0.040 + 2, (made, elapsed)
    assert made < 30
    assert panel.current_input is not None
    np.testing.assert_allclose(panel.current_input, preprocess_drawing(canvas.to_uint8()), atol=1e-6)


def test_set_model_uses_a_project_network_and_follows_its_training(qtbot, panel, shipped) -> None:
    draw(qtbot, panel.canvas, ellipse())
    panel.update_prediction()
    model = mlp()
    panel.set_model(model, name="my project")
    assert "my project" in panel.model_label.text()
    first = panel.current_prediction.probabilities.copy()
    expected = model.predict(panel.current_input.reshape(1, 784))[0]
    np.testing.assert_allclose(first, expected, rtol=1e-5)
    rng = np.random.default_rng(7)
    for _, param, _ in model.parameters():  # "training" changes the weights ...
        param += rng.normal(0.0, 0.1, param.shape).astype(param.dtype)
    panel.set_model(model)  # ... the same model again: new weights, same predictor
    assert not np.allclose(panel.current_prediction.probabilities, first)
    np.testing.assert_allclose(panel.current_prediction.probabilities,
                               model.predict(panel.current_input.reshape(1, 784))[0], rtol=1e-5)
    panel.set_weights(mlp(seed=0).state_dict())
    np.testing.assert_allclose(panel.current_prediction.probabilities, first, rtol=1e-5)
    toy = compile_graph(Graph.from_dict({"nodes": [{"id": "i", "type": "Input", "params": {"shape": [2]}},
                                                   {"id": "d", "type": "Dense", "params": {"units": 2}}],
                                         "edges": [{"from": "i", "to": "d"}]}), "numpy")
    with pytest.raises(UserError, match="28x28"):
        panel.set_model(toy)
    panel.set_model(None)  # back to the shipped model
    assert panel.current_prediction.top == 0


# -- captcha ----------------------------------------------------------------------------------------------

def captcha_model() -> Model:
    graph = Graph()
    previous = None
    for block, params in (("Input", {"shape": [1, 40, 100]}), ("Pool2D", {"mode": "avg", "size": 4}),
                          ("Dense", {"units": 40}), ("Reshape", {"shape": [4, 10]}),
                          ("Activation", {"function": "softmax"})):
        node = graph.add_node(block, params)
        if previous:
            graph.connect(previous, node.id)
        previous = node.id
    return compile_graph(graph, "numpy", seed=1)


def test_captcha_panel_without_a_model_says_so(qtbot) -> None:
    panel = CaptchaPanel(seed=1, shipped=False)
    qtbot.addWidget(panel)
    assert panel.image is not None and panel.image.shape == (40, 100) and len(panel.true_digits) == 4
    assert panel.reading is None and "No captcha network" in panel.message.text()
    assert all(tile.digit is None for tile in panel.tiles)


def test_captcha_panel_says_so_when_the_shipped_model_is_missing(qtbot, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(captcha_panel, "shipped_model_paths",
                        lambda: (tmp_path / "none.json", tmp_path / "none.npz"))
    captcha_panel._shipped_model.cache_clear()
    try:
        panel = CaptchaPanel(seed=1)
        qtbot.addWidget(panel)
        assert panel.reader is None and "No captcha network" in panel.message.text()
    finally:
        captcha_panel._shipped_model.cache_clear()


def test_captcha_panel_reads_with_the_shipped_model_by_default(qtbot) -> None:
    """The shipped CNN reads captchas it never saw (seeds unlike the training set's) mostly right."""
    panel = CaptchaPanel(seed=7)
    qtbot.addWidget(panel)
    assert panel.reader is not None and panel.reader.image_shape == (40, 100)
    assert "built in" in panel.message.text()
    right = []
    for seed in range(900_001, 900_021):
        panel.new_captcha(seed)
        assert panel.reading is not None and len(panel.reading.digits) == 4
        right.append(sum(a == b for a, b in zip(panel.reading.digits, panel.true_digits)))
    assert np.mean(right) >= 3.0, right
    panel.set_model(captcha_model())
    assert "built in" not in panel.message.text()
    panel.set_model(None)  # back to the shipped model
    assert panel.reader is not None and "built in" in panel.message.text()


def test_captcha_panel_reads_four_digits_with_confidences(qtbot) -> None:
    model = captcha_model()
    panel = CaptchaPanel(model, seed=2)
    qtbot.addWidget(panel)
    reading = panel.reading
    assert reading is not None and len(reading.digits) == 4
    expected = model.predict((panel.image.astype(np.float32) / 255.0)[None, None])[0]
    assert reading.digits == [int(d) for d in expected.argmax(axis=1)]
    for tile, digit, confidence, truth in zip(panel.tiles, reading.digits, reading.confidences, panel.true_digits):
        assert tile.digit == digit and tile.confidence == pytest.approx(confidence)
        assert 0.0 < confidence <= 1.0 and tile.correct == (digit == truth)
    old = panel.image.copy()
    with qtbot.waitSignal(panel.reading_changed):
        qtbot.mouseClick(panel.new_button, LEFT)
    assert not np.array_equal(panel.image, old)
    with pytest.raises(UserError, match="gray images"):
        panel.set_model(mlp())
