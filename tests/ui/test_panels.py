"""Each training panel receives data and draws it (item data lengths), exports PNG / CSV, and the pure
helpers behind them (buffers, EMA, gradient warnings, mosaics, boundary colours, confusion counts) are right."""
from __future__ import annotations

import re
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from nnstudio.errors import UserError  # noqa: E402
from nnstudio.ui.panels import Dashboard  # noqa: E402
from nnstudio.ui.panels.boundary import boundary_rgb  # noqa: E402
from nnstudio.ui.panels.buffers import GrowingBuffer, SeriesTable  # noqa: E402
from nnstudio.ui.panels.confusion import cell_at, confusion_from_predictions  # noqa: E402
from nnstudio.ui.panels.curves import ema  # noqa: E402
from nnstudio.ui.panels.export import csv_text  # noqa: E402
from nnstudio.ui.panels.feature_maps import tile_maps  # noqa: E402
from nnstudio.ui.panels.gradients import detect_gradient_problems  # noqa: E402
from nnstudio.training.events import BatchReport, EpochReport  # noqa: E402
from nnstudio.ui.worker import Boundary, Histograms, Predictions, Probe, RunInfo  # noqa: E402


def info(**kw) -> RunInfo:
    base = dict(dataset="toy", sample_shape=(2,), num_classes=2, class_names=["a", "b"], task="classification",
                is_image=False, epochs=2, layers=["d1", "d2"])
    base.update(kw)
    return RunInfo(**base)


def batches(n: int, start: int = 1, norms=lambda i: {"d1": 0.5, "d2": 1.0}) -> list[BatchReport]:
    return [BatchReport(1, i, i, 1.0 / i, min(1.0, i / n), 0.01, 100.0, norms(i), 1.0) for i in range(start, start + n)]


# -- pure helpers --------------------------------------------------------------------------------------------------
def test_growing_buffer_doubles_and_keeps_values():
    buf = GrowingBuffer(capacity=2)
    buf.extend(np.arange(5))
    buf.append(5)
    assert buf.capacity == 8 and list(buf.view()) == [0, 1, 2, 3, 4, 5]
    table = SeriesTable(["a", "b"])
    table.append_rows(a=[1, 2], b=[3, 4])
    table.append_rows(a=5)
    assert len(table) == 3 and np.isnan(table["b"][2])
    with pytest.raises(ValueError):
        table.append_rows(a=[1, 2], b=[1])


def test_ema_skips_nan_and_continues():
    values, last = ema(np.array([1.0, np.nan, 3.0]), float("nan"), alpha=0.5)
    assert values.tolist() == [1.0, 1.0, 2.0] and last == 2.0
    more, _ = ema(np.array([4.0]), last, alpha=0.5)
    assert more.tolist() == [3.0]


def test_gradient_problems():
    assert detect_gradient_problems({"d1": 0.5, "d2": 1.0}) == []
    vanishing = detect_gradient_problems({"d1": 1e-9, "d2": 1.0, "d3": 0.8})
    assert [(p.layer, p.kind) for p in vanishing] == [("d1", "vanishing")]
    assert "'d1'" in vanishing[0].message and "He initialisation" in vanishing[0].message
    exploding = detect_gradient_problems({"d1": 50.0, "d2": 40.0}, before={"d1": 2.0, "d2": 30.0})
    assert [(p.layer, p.kind) for p in exploding] == [("d1", "exploding")]
    assert "learning rate" in exploding[0].message
    assert detect_gradient_problems({"d1": float("nan")})[0].kind == "exploding"


def test_tile_maps_is_a_mosaic_of_normalised_channels():
    maps = np.stack([np.full((3, 4), c, dtype=np.float32) + np.arange(4) for c in range(5)])
    mosaic = tile_maps(maps)
    assert mosaic.shape == (2 * 4 - 1, 3 * 5 - 1)  # 3 columns x 2 rows of 3x4 maps, 1-pixel gaps
    assert np.nanmin(mosaic) == 0.0 and np.nanmax(mosaic) == 1.0
    assert np.isnan(mosaic[3, 0])  # the gap row


def test_boundary_colours():
    probs = np.zeros((2, 2, 2), dtype=np.float32)
    probs[0, :, 0] = 1.0
    probs[1, :, 1] = 1.0
    rgb = boundary_rgb(probs)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] > rgb[0, 0, 2] and rgb[1, 0, 2] > rgb[1, 0, 0]  # orange row, blue row
    unsure = boundary_rgb(np.full((1, 1, 2), 0.5, dtype=np.float32))
    assert (unsure == 255).all()  # white where the model cannot tell
    assert boundary_rgb(np.array([[-3.0, 3.0]])).shape == (1, 2, 3)  # scores, not probabilities


def test_confusion_helpers_and_csv():
    m = confusion_from_predictions(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), 3)
    assert m.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]
    assert cell_at(1.5, 0.2, 3) == (0, 1) and cell_at(3.1, 0, 3) is None
    assert csv_text({"a": [1, 2.5], "b": [np.nan]}) == "a,b\n1,\n2.5,\n"


# -- panels draw what they receive ------------------------------------------------------------------------------
@pytest.fixture
def dashboard(qtbot):
    ds = SimpleNamespace(x_train=np.random.default_rng(0).random((20, 1, 8, 8), dtype=np.float32),
                         x_test=np.zeros((0, 1, 8, 8), np.float32))
    board = Dashboard(dataset_getter=lambda: ds)
    for panel in board.panels.values():
        qtbot.addWidget(panel)
        panel.resize(500, 400)
        panel.show()
    yield board
    board.timer.stop()


def test_curves_panel_draws_batches_and_epochs(dashboard, qtbot, tmp_path):
    panel = dashboard.curves
    panel.begin_run(info())
    panel.add_batches(batches(30))
    panel.add_epoch(EpochReport(1, 0.5, 0.6, 0.55, 0.58, None, 1.0))
    panel.add_batches(batches(10, start=31))
    panel.add_epoch(EpochReport(2, 0.3, 0.8, 0.35, 0.75, None, 1.0))
    qtbot.waitUntil(lambda: not panel.dirty, timeout=2000)  # the dashboard's timer redrew it
    x, y = panel.items["loss_raw"].xData, panel.items["loss_raw"].yData
    assert len(x) == 40 and y[0] == 1.0
    assert len(panel.items["loss_ema"].xData) == 40
    assert panel.items["acc_val"].yData.tolist() == [0.58, 0.75]
    assert "validation accuracy 75.0%" in panel.summary.text()
    # a continued run carries on after step 40
    panel.begin_run(info(), continuing=True)
    panel.add_batches(batches(5))
    panel.redraw()
    assert panel.items["loss_raw"].xData[-1] == 45
    out = panel.export_csv(tmp_path / "curves")
    text = out.read_text().splitlines()
    assert text[0].startswith("step,epoch,loss") and len(text) == 46
    png = panel.export_png(tmp_path / "curves.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gradient_panel_lines_bars_and_warning(dashboard, qtbot):
    panel = dashboard.gradients
    panel.begin_run(info())
    panel.add_batches(batches(20, norms=lambda i: {"d1": 1e-9, "d2": 0.5, "d3": 0.4}))
    panel.redraw()
    assert len(panel.lines["d1"].xData) == 20
    assert len(panel.bars.opts["height"]) == 3
    assert "'d1'" in panel.notice.text() and "vanishing" in panel.notice.text()
    assert panel.history()["d2"].size == 20


def test_gradient_panel_prefers_trainer_hints(dashboard):
    panel = dashboard.gradients
    panel.begin_run(info())
    panel.add_hint(SimpleNamespace(message="Layer 'x' looks dead"))
    panel.add_batches(batches(20, norms=lambda i: {"d1": 1e-9, "d2": 0.5}))
    assert panel.notice.text() == "Layer 'x' looks dead" and panel.problems == []


def test_gradient_panel_leaves_the_judgement_to_the_trainers_monitor(dashboard):
    """A healthy run's gradients may jump tenfold (a spiral near 100 % accuracy did): the trainer's monitor,
    which also weighs the loss, says nothing, and the panel must not call them exploding on its own."""
    def jump(i):
        return {"d1": 0.01 if i <= 60 else 0.5, "d2": 0.02 if i <= 60 else 0.6}

    panel = dashboard.gradients
    panel.begin_run(info(trainer_hints=True))
    panel.add_batches(batches(70, norms=jump))
    panel.redraw()
    assert panel.problems == [] and not panel.notice.text()
    panel.begin_run(info())  # a trainer without a monitor (hints off): the panel checks the norms itself
    panel.add_batches(batches(70, norms=jump))
    panel.redraw()
    assert "exploding" in panel.notice.text()


def test_feature_map_panel(dashboard):
    panel = dashboard.feature_maps
    probe = Probe(3, {"c1": np.random.rand(6, 8, 8).astype(np.float32), "d1": np.random.randn(10).astype(np.float32)},
                  {"c1": "Conv2D", "d1": "Dense"}, np.random.rand(1, 8, 8).astype(np.float32))
    panel.set_probe(probe)
    panel.redraw()
    assert panel.images["c1"].image.shape == (2 * 9 - 1, 3 * 9 - 1)
    assert len(panel.bars["d1"].opts["height"]) == 10
    assert panel.input_image is not None and panel.input_image.image.shape == (8, 8)


def test_histogram_panel(dashboard):
    panel = dashboard.histograms
    counts, edges = np.histogram(np.random.randn(100), bins=10)
    panel.set_histograms(Histograms(1, {"d1/W": (counts, edges)}, {"d1": (counts, edges), "a1": (counts, edges)}))
    panel.redraw()
    x, y = panel.curves[("weights", "d1/W")].xData, panel.curves[("weights", "d1/W")].yData
    assert len(y) == 10 and len(x) == 11 and y.sum() == 100
    assert ("activations", "a1") in panel.curves


def test_boundary_panel(dashboard):
    panel = dashboard.boundary
    pts = np.random.rand(50, 2).astype(np.float32)
    panel.begin_run(info(points=pts, labels=(pts[:, 0] > 0.5).astype(int), extent=(0.0, 1.0, 0.0, 1.0)))
    panel.set_boundary(Boundary(5, (0.0, 1.0, 0.0, 1.0), np.random.rand(16, 16, 2).astype(np.float32)))
    panel.redraw()
    assert panel.image.image.shape == (16, 16, 3)
    assert len(panel.points.data) == 50
    assert panel.title_label.text() == ""  # the "2 features only" caption is gone


def test_confusion_panel_and_samples_dialog(dashboard, qtbot):
    panel = dashboard.confusion
    panel.begin_run(info(num_classes=3, class_names=["x", "y", "z"]))
    y_true = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 2, 1, 2, 0, 2])
    panel.set_predictions(Predictions(1, np.arange(6), "train", y_true, y_pred))
    panel.redraw()
    assert panel.image.image.shape == (3, 3)
    assert panel.counts.labels == [["1", "", "1"], ["", "1", ""], ["1", "", "2"]]
    assert panel.counts.light.tolist() == [[False] * 3, [False, True, False], [False, False, True]]
    rows, samples = panel.samples_in(2, 0)
    assert rows.tolist() == [4] and samples.shape == (1, 1, 8, 8)
    panel.show_samples(0, 2)
    assert panel.dialog is not None and panel.dialog.list.count() == 1
    panel.dialog.close()
    assert not panel.notice_shown() and not panel.view.isHidden()
    panel.begin_run(info(num_classes=0, class_names=[], task="regression"))  # a regression: only the notice
    assert panel.notice_shown() and panel.view.isHidden()
    qtbot.waitUntil(lambda: panel.notice_area.geometry().top() < panel.height() // 4)  # under the header


def test_export_without_history_is_a_user_error(dashboard, tmp_path):
    with pytest.raises(UserError, match="no history"):
        dashboard.histograms.export_csv(tmp_path / "h.csv")


# -- pacing: a panel's redraws follow its measured cost --------------------------------------------------------------
def test_dashboard_paces_each_panel_by_its_cost(dashboard, qtbot):
    from nnstudio.ui.panels import GUI_SHARE, MIN_REDRAW_INTERVAL_S
    board = dashboard
    board.timer.stop()  # redraw() is called by hand below
    board.curves.begin_run(info())
    board.curves.add_batches(batches(5))
    board.redraw()
    assert board.redraws["curves"] == 1 and not board.curves.dirty
    qtbot.waitUntil(lambda: board.curves.view.paint_seconds > 0, timeout=5000)  # the paint is measured too
    board._cost["curves"] = 0.5  # as if each redraw cost half a second: the next may come 0.5 / share later
    board.curves.add_batches(batches(5, start=6))
    board.redraw()
    assert board.redraws["curves"] == 1 and board.curves.dirty  # new data waits for the panel's turn
    assert board.redraw_interval("curves") >= 0.5 / GUI_SHARE["curves"] * 0.7  # smoothing keeps most of it
    board._due["curves"] = 0.0  # its turn came
    board.redraw()
    assert board.redraws["curves"] == 2 and not board.curves.dirty
    # a cheap snapshot panel still waits its minimum interval
    assert board.redraw_interval("histograms") >= MIN_REDRAW_INTERVAL_S["histograms"]


def test_each_redraw_of_a_plot_is_painted_once(dashboard, qtbot):
    # pyqtgraph settles a view box's range at the start of a paint, and the axes then ask for a second paint;
    # the dashboard settles it before, so new data costs one paint
    board = dashboard
    board.timer.stop()
    board.redraw_interval = lambda name: 0.0  # every panel's turn at every redraw
    names = ("curves", "gradients")
    for name in names:
        board.panels[name].begin_run(info())
    rng = np.random.default_rng(0)
    counts = []
    for start in range(1, 200, 40):  # a run's reports: noisy loss, accuracy and norms (ranges move a little)
        steps = range(start, start + 40)
        reports = [BatchReport(1, i, i, 0.3 + 0.2 * rng.random(), 0.6 + 0.3 * rng.random(), 0.01, 100.0,
                               {"d1": 0.2 + 0.1 * rng.random(), "d2": 2.0 + rng.random()}, 1.0) for i in steps]
        for name in names:
            board.panels[name].add_batches(reports)
        before = {name: board.panels[name].view.paints for name in names}
        board.redraw()
        qtbot.wait(150)  # every paint the redraw asks for, and any that those ask for
        counts.append({name: board.panels[name].view.paints - before[name] for name in names})
    assert counts[1:] == [{"curves": 1, "gradients": 1}] * (len(counts) - 1), counts


def test_hidden_panels_are_not_redrawn(dashboard):
    board = dashboard
    board.timer.stop()
    board.curves.add_batches(batches(3))
    board.curves.hide()
    board.redraw()
    assert board.redraws["curves"] == 0 and board.curves.dirty
    board.redraw_all()  # before an export: drawn whatever its visibility
    assert not board.curves.dirty


def test_log_axis_ticks_label_decades_only():
    from nnstudio.ui.panels.cells import decade_ticks
    major, minor = decade_ticks(-3, 1)
    assert [label for _, label in major] == ["0.001", "0.01", "0.1", "1", "10"]
    assert len(minor) == 4 * 8 and all(label == "" for _, label in minor)
    assert decade_ticks(-7, -6)[0][0][1] == "1e-7"


def test_a_long_notice_scrolls_within_a_share_of_the_panel_and_shows_the_newest_first(dashboard, qtbot):
    """Three long hints in a small panel (a 1024x768 window) left its plot a sliver; now the notice takes at
    most NOTICE_SHARE of the panel, in whole lines, and scrolls; in a tall panel it shows whole."""
    panel = dashboard.gradients
    panel.begin_run(info(trainer_hints=True))
    words = "the gradient of this layer grew a thousand times; lower the learning rate or clip the gradients "
    for i in range(3):
        panel.add_hint(SimpleNamespace(message=f"hint {i}: " + words * 3))
    assert panel.notice.text().startswith("hint 2:")  # the newest first
    panel.resize(300, 320)
    qtbot.waitUntil(lambda: panel.notice_area.height() <= 320 * panel.NOTICE_SHARE + 2)
    line = panel.notice.fontMetrics().lineSpacing()
    assert panel.notice_area.height() >= 2 * line
    assert panel.notice_area.verticalScrollBar().maximum() > 0  # the rest scrolls
    assert panel.notice_shown()
    panel.resize(900, 1400)
    qtbot.waitUntil(lambda: panel.notice_area.verticalScrollBar().maximum() == 0)  # all of it shows
    assert panel.notice_area.height() >= 3 * line  # three hints, each on its own lines
    panel.show_notice("")
    assert not panel.notice_shown()


def test_pick_labels_spaces_labels_and_keeps_them_inside_the_axis():
    from nnstudio.ui.panels.cells import pick_labels
    assert pick_labels(5, 30, 40, 220, 30, 15) == [0, 1, 2, 3, 4]  # room for all
    assert pick_labels(5, 10, 50, 220, 40, 20) == [1, 2, 3]  # the end labels would stick out
    # Ticks 4 px apart, labels 15 px: every 5th, among the ticks whose label stays inside 0..40 (2..7).
    assert pick_labels(10, 2, 4, 40, 15, 7) == [2, 7]
    assert pick_labels(3, 2, 4, 10, 15, 7) == []  # no label fits at all


def _label_rects(axis) -> list:
    """(rectangle, text) of each tick label pyqtgraph would draw on ``axis`` now (it drops those that do not
    fit)."""
    from PySide6.QtGui import QPainter, QPicture
    picture = QPicture()
    painter = QPainter(picture)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(rect, text) for rect, _flags, text in specs[2]] if specs else []


def _drawn_labels(axis) -> list[str]:
    """The tick labels pyqtgraph would draw on ``axis`` now."""
    return [text for _rect, text in _label_rects(axis)]


def test_gradient_axes_label_what_fits_in_a_small_panel_and_everything_in_a_big_one(dashboard, qtbot):
    """Seven layers whose norms span ten decades: in a small panel (a 1024x768 window) the log axis and the
    bars' names ran into each other; now only labels that fit are given, and pyqtgraph draws all of them."""
    panel = dashboard.gradients
    layers = [f"dense{i}" for i in range(1, 8)]
    panel.begin_run(info(layers=layers))
    panel.add_batches(batches(6, norms=lambda i: {name: 10.0 ** (k + i - 2) for k, name in enumerate(layers)}))
    for size, everything in (((250, 230), False), ((520, 900), True)):
        panel.resize(*size)
        qtbot.waitUntil(lambda: panel.plot.getViewBox().height() > 0)
        panel.redraw()
        qtbot.wait(50)
        left, bottom = panel.plot.getAxis("left"), panel.bar_plot.getAxis("bottom")
        given_left = [label for _, label in panel.log_axis.ticks[0]]
        given_bottom = [label for _, label in panel._ticks["bottom"][0] if label]
        assert given_left and given_bottom
        assert sorted(_drawn_labels(left)) == sorted(given_left)  # none given is dropped for want of room
        assert _drawn_labels(bottom) == given_bottom  # none given is dropped for want of room
        assert (len(given_bottom) == len(layers)) == everything


def test_stacked_plots_line_up_and_the_legend_gives_way_in_a_small_panel(dashboard, qtbot):
    """The loss and accuracy plots (and the gradients panel's two plots) start at the same pixel, so the
    x-linked axes show the same steps; the legend hides while it would cover most of a small loss plot."""
    curves, gradients = dashboard.curves, dashboard.gradients
    curves.begin_run(info())
    gradients.begin_run(info())
    curves.add_batches(batches(300))
    gradients.add_batches(batches(300))
    for size, legend in (((300, 260), False), ((900, 700), True)):
        for panel in (curves, gradients):
            panel.resize(*size)
            panel.redraw()
        qtbot.wait(50)
        loss, acc = curves.loss_plot.getViewBox(), curves.acc_plot.getViewBox()
        assert loss.sceneBoundingRect().left() == pytest.approx(acc.sceneBoundingRect().left())
        assert loss.viewRange()[0] == pytest.approx(acc.viewRange()[0])  # both from step 0
        assert gradients.plot.getViewBox().sceneBoundingRect().left() == pytest.approx(
            gradients.bar_plot.getViewBox().sceneBoundingRect().left())
        assert curves.legend.isVisible() == legend
    from PySide6.QtGui import QFontMetrics
    from nnstudio.ui.panels.cells import decade_label
    axis = gradients.plot.getAxis("left")  # room for every decade's label beside the axis title
    widest = max(QFontMetrics(axis.font()).horizontalAdvance(decade_label(k)) for k in range(-9, 10))
    assert widest <= axis.style["tickTextWidth"]


def test_a_short_run_labels_whole_steps(dashboard, qtbot):
    """Six steps (the exploding-gradients lesson stops there): pyqtgraph labelled 0.5, 1.5, ...; steps are
    whole numbers.  A longer run gets pyqtgraph's own ticks back."""
    curves, gradients = dashboard.curves, dashboard.gradients
    for panel in (curves, gradients):
        panel.resize(500, 500)
        panel.begin_run(info())
        panel.add_batches(batches(4))
        panel.redraw()
    qtbot.wait(50)
    axes = [curves.loss_plot.getAxis("bottom"), curves.acc_plot.getAxis("bottom"), gradients.plot.getAxis("bottom")]
    for axis in axes:
        labels = _drawn_labels(axis)
        assert labels and all(label.isdigit() for label in labels), labels
    for panel in (curves, gradients):
        panel.add_batches(batches(300, start=5))
        panel.redraw()
    qtbot.wait(50)
    assert all(axis.property("step_spacing") is None for axis in axes)
    assert "100" in _drawn_labels(axes[1])


def test_small_cells_space_their_axis_labels(dashboard, qtbot):
    """Histogram cells about 100 pixels wide wrote "-0.4-0.2 0 0.2 0.4" (a 1024x768 window); their labelled
    ticks now stay a label apart, and a wide cell keeps pyqtgraph's own."""
    from nnstudio.ui.panels.cells import RoomyAxis, next_125
    assert [next_125(v) for v in (0.1, 0.2, 0.5, 2.0, 0.25)] == pytest.approx([0.2, 0.5, 1.0, 5.0, 0.5])
    panel = dashboard.histograms
    counts, edges = np.histogram(np.random.default_rng(0).uniform(-0.45, 0.45, 500), bins=20)
    panel.set_histograms(Histograms(1, {f"d{i}/W": (counts, edges) for i in range(4)},
                                    {f"a{i}": (counts, edges) for i in range(4)}))
    for width, many in ((250, False), (900, True)):
        panel.resize(width, 500)
        panel.redraw()
        qtbot.wait(50)
        axis = panel.cells[("weights", "d0/W")].axes["bottom"]
        assert isinstance(axis, RoomyAxis)
        rects = sorted(_label_rects(axis), key=lambda item: item[0].left())
        assert rects
        for (a, _), (b, _) in zip(rects, rects[1:]):
            assert a.right() < b.left(), [text for _, text in rects]  # no label runs into the next
        assert (len(rects) >= 3) == many, [text for _, text in rects]


def test_bar_cells_space_their_vertical_labels(dashboard, qtbot):
    """A feature-map bar cell about 40 pixels high wrote "1.0 0.5 0 -0.5 -1.0" over each other (the captcha
    example at 1024x768); its labels now stay a line apart, and a tall cell keeps more of them."""
    from nnstudio.ui.panels.cells import RoomyAxis
    panel = dashboard.feature_maps
    rng = np.random.default_rng(1)
    probe = Probe(3, {"c1": rng.random((4, 8, 8)).astype(np.float32),
                      "d1": rng.uniform(-1, 1, 40).astype(np.float32)},
                  {"c1": "Conv2D", "d1": "Dense"}, rng.random((1, 8, 8)).astype(np.float32))
    panel.set_probe(probe)
    counts = {}
    for height in (260, 900):
        panel.resize(420, height)
        qtbot.wait(20)
        panel.redraw()
        qtbot.wait(50)
        axis = panel.plots["d1"].axes["left"]
        assert isinstance(axis, RoomyAxis)
        rects = sorted(_label_rects(axis), key=lambda item: item[0].top())
        assert rects
        for (a, _), (b, _) in zip(rects, rects[1:]):
            assert a.bottom() <= b.top(), [text for _, text in rects]  # no label runs into the next
        counts[height] = len(rects)
    assert counts[900] > counts[260]


def test_feature_maps_wrap_onto_rows_that_fit_and_titles_stay_text(dashboard, qtbot):
    """Eight map cells in one row ran past a narrow panel's edge (the second convolution cut off at
    1024x768); they now wrap.  A node's id is any text: in the cells' rich-text titles it stays text."""
    panel = dashboard.feature_maps
    maps = {f"<b>c{i}</b>": np.random.rand(4, 8, 8).astype(np.float32) for i in range(6)}
    probe = Probe(3, maps, {nid: "Conv2D" for nid in maps}, np.random.rand(1, 8, 8).astype(np.float32))
    panel.set_probe(probe)
    for size, rows in (((280, 600), True), ((1400, 260), False)):
        panel.resize(*size)
        qtbot.wait(20)
        panel.redraw()
        qtbot.wait(50)
        view_width, view_height = panel.view.width(), panel.view.height()
        boxes = [cell.view.sceneBoundingRect() for cell in panel.plots.values()]
        assert max(b.right() for b in boxes) <= view_width + 1, (boxes, view_width)  # every cell inside
        assert max(b.bottom() for b in boxes) <= view_height + 1
        assert min(min(b.width(), b.height()) for b in boxes) >= 30  # and big enough to see its maps
        tops = {round(b.top()) for b in boxes}
        assert (len(tops) > 1) == rows
    title = panel.plots["<b>c0</b>"].title.text
    assert "&lt;b&gt;c0&lt;/b&gt;" in title and "<b>c0" not in title
    histograms = dashboard.histograms
    counts, edges = np.histogram(np.random.randn(50), bins=5)
    histograms.set_histograms(Histograms(1, {"<i>d</i>/W": (counts, edges)}, {}))
    histograms.redraw()
    assert "&lt;i&gt;" in histograms.cells[("weights", "<i>d</i>/W")].title.text


def _title_rect(axis):
    """The axis title's extent along the axis, in scene coordinates."""
    return axis.label.mapRectToScene(axis.label.boundingRect())


def test_vertical_titles_fit_their_axes_and_keep_the_scale(dashboard, qtbot):
    """In a 1024x768 window the gradients panel's two stacked titles ran into each other, and the loss axis
    of a diverging run showed "loss (" beside ticks 5, 10, 15 of a loss of 1e23.  As the panels shrink, each
    title goes through its shorter forms (the scale alone before the ticks drop it) and always stays within
    its axis; a title that fits again comes back whole."""
    from nnstudio.ui.panels.cells import FittedTitleAxis
    curves, gradients = dashboard.curves, dashboard.gradients
    huge = [BatchReport(1, i, i, 1e23 * i, 0.5, 0.01, 100.0, {"d1": 10.0 ** (5 * i)}, 1.0) for i in range(1, 5)]
    curves.add_batches(huge)
    gradients.add_batches(huge)
    axes = {"loss": curves.loss_plot.getAxis("left"), "accuracy": curves.acc_plot.getAxis("left"),
            "norm": gradients.plot.getAxis("left"), "bars": gradients.bar_plot.getAxis("left")}
    assert all(isinstance(axis, FittedTitleAxis) for axis in axes.values())
    shown: dict[str, list[str]] = {name: [] for name in axes}
    unscaled = []  # loss titles shown while the ticks had dropped the scale
    for height in range(700, 150, -10):
        for panel in (curves, gradients):
            panel.resize(420, height)
        qtbot.wait(10)
        curves.redraw()
        gradients.redraw()
        qtbot.wait(10)
        for name, axis in axes.items():
            title = axis.shown_title()
            if title:
                assert axis.label.boundingRect().width() <= axis.size().height(), (height, name, title)
            if not shown[name] or shown[name][-1] != title:
                shown[name].append(title)
        if axes["loss"].autoSIPrefixScale == 1.0:
            unscaled.append(axes["loss"].shown_title())
        for upper, lower in (("loss", "accuracy"), ("norm", "bars")):
            if axes[upper].shown_title() and axes[lower].shown_title():
                assert _title_rect(axes[upper]).bottom() <= _title_rect(axes[lower]).top()  # never overlapping
    scale = shown["loss"][0].removeprefix("loss ")
    assert re.fullmatch(r"\(x1e\+2\d\)", scale), shown["loss"]
    # Shorter forms in order as the axes shrink (each fitted for more than one 10-pixel step).
    assert shown["loss"][:2] == [f"loss {scale}", scale] and set(shown["loss"][2:]) <= {"loss", ""}, shown
    assert unscaled and all(scale not in title for title in unscaled)  # the ticks drop the scale after the title
    assert shown["norm"] == ["gradient L2 norm", "L2 norm", ""], shown  # a log axis: no scale in its title
    assert shown["bars"] == ["log10 norm (latest)", "log10 norm", ""], shown
    assert shown["accuracy"] == ["accuracy", ""], shown
    curves.resize(420, 700)
    qtbot.wait(50)
    assert axes["loss"].shown_title() == f"loss {scale}" and axes["loss"].autoSIPrefixScale != 1.0


def test_an_empty_gradient_panel_labels_its_decades(dashboard, qtbot):
    """Before any norm arrived, pyqtgraph labelled the log axis 2 ... 8 as well, over each other in a short
    panel; it now shows the decades 1 and 10, as it will once norms arrive, and again after a clear."""
    panel = dashboard.gradients
    panel.resize(260, 300)
    qtbot.wait(50)
    assert _drawn_labels(panel.plot.getAxis("left")) == ["1", "10"]
    panel.add_batches(batches(3, norms=lambda i: {"d1": 1e-3, "d2": 50.0}))
    panel.redraw()
    qtbot.wait(50)
    assert _drawn_labels(panel.plot.getAxis("left")) == ["0.01", "1"]  # the norms' own decades, every other one
    panel.clear()
    panel.redraw()
    qtbot.wait(50)
    assert _drawn_labels(panel.plot.getAxis("left")) == ["1", "10"]


def _mlp_probe(rng):
    acts = {"dense1": rng.uniform(-2, 2, 256), "dense2": rng.uniform(-2, 2, 128), "dense3": rng.uniform(-2, 2, 10),
            "softmax": rng.dirichlet(np.ones(10))}
    return Probe(3, {k: v.astype(np.float32) for k, v in acts.items()},
                 {"dense1": "Dense", "dense2": "Dense", "dense3": "Dense", "softmax": "Activation"},
                 rng.random((1, 28, 28)).astype(np.float32), rng.random((28, 28)).astype(np.float32), "saliency")


def _cnn_probe(rng, wide=False):
    h, w = (40, 100) if wide else (28, 28)
    maps = {"conv1": rng.random((16, h, w)), "pool1": rng.random((16, h // 2, w // 2)),
            "conv2": rng.random((16, h // 2, w // 2)), "pool2": rng.random((16, h // 4, w // 4))}
    bars = {"dense1": rng.uniform(-2, 2, 128), "dense2": rng.uniform(-2, 2, 10), "softmax": rng.dirichlet(np.ones(10))}
    kinds = {**{k: "Conv2D" for k in maps}, "dense1": "Dense", "dense2": "Dense", "softmax": "Activation"}
    return Probe(3, {k: v.astype(np.float32) for k, v in {**maps, **bars}.items()}, kinds,
                 rng.random((1, h, w)).astype(np.float32), rng.random((h, w)).astype(np.float32), "gradcam")


def test_feature_maps_share_a_small_panel_by_what_each_row_needs(dashboard, qtbot):
    """At 1024x768 the panel (about 280x225) gave mnist-mlp's input a fixed 60 % of the height yet drew it 20
    pixels high, and its four bar charts 13 pixels high in two rows under three rows of two-line titles, the
    softmax chart's labels over each other.  The height now goes where it is needed, no row of cells runs past
    the panel's edge, and no cell sits alone in a row."""
    panel = dashboard.feature_maps
    rng = np.random.default_rng(4)
    three = Probe(3, {f"c{i}": rng.random((4, 8, 8)).astype(np.float32) for i in range(3)},
                  {f"c{i}": "Conv2D" for i in range(3)})
    for name, probe in (("mlp", _mlp_probe(rng)), ("cnn", _cnn_probe(rng)), ("wide", _cnn_probe(rng, wide=True)),
                        ("three", three)):
        panel.set_probe(probe)
        # (570, 700) -> (570, 300) in one step (a window no longer maximised) left the bar charts cut off
        for size in ((290, 300), (570, 440), (570, 700), (570, 300), (500, 600)):
            panel.resize(*size)
            qtbot.wait(20)
            panel.redraw()
            qtbot.wait(50)
            view_width, view_height = panel.view.width(), panel.view.height()
            boxes = {nid: cell.view.sceneBoundingRect() for nid, cell in panel.plots.items()}
            cells = {nid: cell.layout.sceneBoundingRect() for nid, cell in panel.plots.items()}
            assert max(b.right() for b in cells.values()) <= view_width + 1, (name, size, view_width, str({k: (round(b.left()), round(b.right())) for k, b in cells.items()}), panel._arrangement_used)
            assert max(b.bottom() for b in cells.values()) <= view_height + 1, (name, size, cells, view_height)
            bars = [boxes[nid] for nid in panel.bars]
            maps = [boxes[nid] for nid in panel.plots if nid not in panel.bars]
            assert not bars or min(b.height() for b in bars) >= 24, (name, size, bars)
            rows: dict[int, int] = {}
            for box in maps:
                rows[round(box.top())] = rows.get(round(box.top()), 0) + 1
            if max(rows.values()) > 1:  # a column of single cells is fine; one left under a fuller row is not
                assert min(rows.values()) >= 2, (name, size, rows)
            side = min(min(b.width(), b.height()) for b in maps)
            if name == "mlp":
                assert side >= (60 if size[0] < 400 or size[1] < 400 else 120), (name, size, maps)
                assert len({round(b.top()) for b in bars}) == 1  # the four charts in one row
            elif name == "cnn":
                assert side >= (30 if size[0] < 400 else 60), (name, size, maps)


def test_rebuilt_cells_fit_a_panel_that_shrank(dashboard, qtbot):
    """After a panel shrank below what its old cells needed (long titles), cells built for new data (short
    titles) ran past its edge until the next resize."""
    panel = dashboard.histograms
    counts, edges = np.histogram(np.random.default_rng(2).normal(size=200), bins=8)
    long_names = {f"a_rather_long_layer_name_{i}": (counts, edges) for i in range(2)}
    panel.set_histograms(Histograms(1, long_names, long_names))
    panel.resize(900, 400)
    qtbot.wait(20)
    panel.redraw()
    panel.resize(260, 400)
    qtbot.wait(50)
    short_names = {f"d{i}": (counts, edges) for i in range(2)}
    panel.set_histograms(Histograms(2, short_names, short_names))
    panel.redraw()
    qtbot.wait(50)
    right = max(cell.layout.sceneBoundingRect().right() for cell in panel.cells.values())
    assert right <= panel.view.width() + 1, (right, panel.view.width())


def test_the_loss_can_be_shown_on_a_log_scale(dashboard, qtbot):
    """On an axis from 0 to the run's largest loss, a loss still falling from 0.05 to 0.01 (the linear
    regression lesson) looked flat.  The panel's menu shows it on a log scale, decades labelled whole."""
    curves = dashboard.curves
    losses = np.geomspace(8.0, 0.004, 60)
    curves.add_batches([BatchReport(1, i, i, float(v), 0.5, 0.01, 100.0, {}, 1.0) for i, v in enumerate(losses, 1)])
    curves.redraw()
    assert curves.loss_plot.getViewBox().viewRange()[1] == pytest.approx([0.0, 10.0])
    assert curves.log_action.isCheckable() and curves.log_action in curves.menu_button.menu().actions()
    curves.log_action.trigger()
    assert curves.log_loss
    qtbot.wait(20)
    low, high = curves.loss_plot.getViewBox().viewRange()[1]
    assert (low, high) == pytest.approx((-3.1, 1.1))  # 10^-3 .. 10^1 with room for the end labels
    labels = [text for _, text in _label_rects(curves.loss_plot.getAxis("left"))]
    assert labels and set(labels) <= {"0.001", "0.01", "0.1", "1", "10"}, labels
    assert curves.loss_plot.getAxis("left").shown_title() == "loss"  # no scale: the decades say it
    curves.set_log_loss(False)
    assert not curves.log_action.isChecked()
    assert curves.loss_plot.getViewBox().viewRange()[1] == pytest.approx([0.0, 10.0])


def test_small_histograms_keep_their_height_for_the_plot(dashboard, qtbot):
    """At 1024x768 a title row of its own left each of eight histograms about 10 pixels high; the titles sit
    in the plots' top right corners now, on a light ground."""
    panel = dashboard.histograms
    counts, edges = np.histogram(np.random.default_rng(3).normal(size=500), bins=20)
    names = {f"layer{i}": (counts, edges) for i in range(4)}
    panel.set_histograms(Histograms(1, {f"{k}/W": v for k, v in names.items()}, names))
    panel.resize(255, 300)
    qtbot.wait(20)
    panel.redraw()
    qtbot.wait(50)
    for cell in panel.cells.values():
        view = cell.view.sceneBoundingRect()
        title = cell.title.sceneBoundingRect()
        assert view.height() >= 25, view
        assert view.contains(title.center()) and title.right() <= view.right() + 1, (view, title)
    assert panel.cells[("weights", "layer0/W")].title.text.startswith("layer0/W")


def test_long_histogram_titles_keep_both_ends(dashboard, qtbot):
    """A node id wider than its histogram lost its start ("ojection/W weights"): layers that differ only in
    their prefix could not be told apart.  The title is shortened in the middle, within the plot."""
    panel = dashboard.histograms
    counts, edges = np.histogram(np.random.default_rng(5).normal(size=300), bins=10)
    name = "encoder_block_3_conv2d_depthwise_pointwise_projection"
    panel.set_histograms(Histograms(1, {f"{name}/W": (counts, edges)}, {name: (counts, edges)}))
    panel.resize(255, 300)
    qtbot.wait(20)
    panel.redraw()
    qtbot.wait(50)
    for key, ending in ((("weights", f"{name}/W"), "weights"), (("activations", name), "output")):
        cell = panel.cells[key]
        text = cell.title.text
        assert text.startswith("enc") and text.endswith(ending[-3:]) and "…" in text, text
        view, title = cell.view.sceneBoundingRect(), cell.title.sceneBoundingRect()
        assert view.left() - 1 <= title.left() and title.right() <= view.right() + 1, (view, title)
    panel.resize(900, 400)
    qtbot.wait(50)
    assert panel.cells[("weights", f"{name}/W")].title.text == f"{name}/W weights"  # whole again when it fits


def test_the_log_scale_spans_validation_losses_and_leaves_a_comparison_alone(dashboard, qtbot):
    """In log mode a validation loss below every batch's fell off the axis; switching the scale while stored
    runs were compared set the step axis and the caption from the hidden live run."""
    from nnstudio.training.events import EpochReport

    curves = dashboard.curves
    losses = np.geomspace(0.5, 0.012, 40)
    curves.add_batches([BatchReport(1, i, i, float(v), 0.5, 0.01, 100.0, {}, 1.0) for i, v in enumerate(losses, 1)])
    curves.add_epoch(EpochReport(1, 0.05, 0.9, 0.005, 0.95, None, 1.0))
    curves.redraw()
    curves.set_log_loss(True)
    low, high = curves.loss_plot.getViewBox().viewRange()[1]
    assert low <= np.log10(0.005) and high >= np.log10(0.5)
    curves.set_caption("Comparing 2 runs")
    curves.shown_losses = np.array([3.0, 0.02])
    curves.loss_plot.setXRange(0, 300, padding=0)
    curves.set_log_loss(False)
    assert curves.loss_plot.getViewBox().viewRange()[0] == pytest.approx([0, 300])
    assert curves.title_label.text() == "Comparing 2 runs"
    assert curves.loss_plot.getViewBox().viewRange()[1] == pytest.approx([0.0, 5.0])


def test_cleared_plots_forget_the_last_runs_axes(dashboard):
    """Another project empties the panels, and their axes too: an empty loss plot spanning the last run's 200
    steps, or bars still on its decades, told of a run that is not there."""
    curves, gradients = dashboard.curves, dashboard.gradients
    fresh = {"loss x": curves.loss_plot.viewRange()[0], "gradient x": gradients.plot.viewRange()[0],
             "bar y": gradients.bar_plot.viewRange()[1]}
    for panel in (curves, gradients):
        panel.begin_run(info())
        panel.add_batches(batches(200, norms=lambda i: {"d1": 1e-4, "d2": 1e-3}))
        panel.redraw()
    assert curves.loss_plot.viewRange()[0][1] == 200 and gradients.plot.viewRange()[0][1] == 200
    assert gradients.bar_plot.viewRange()[1][0] < -4
    for panel in (curves, gradients):
        panel.clear()
        panel.redraw()
    assert curves.loss_plot.viewRange()[0] == pytest.approx(fresh["loss x"])
    assert curves.acc_plot.viewRange()[0] == pytest.approx(fresh["loss x"])
    assert gradients.plot.viewRange()[0] == pytest.approx(fresh["gradient x"])
    assert gradients.bar_plot.viewRange()[1] == pytest.approx(fresh["bar y"])


def test_an_axis_shorter_than_a_line_does_not_stack_its_labels(dashboard, qtbot):
    """The gradient panel's bar chart, 15 pixels high in a crowded window, drew "-0.0", "-2.0" and "-4.0" over
    each other: no label fitted whole, so the spacing check passed at once, and pyqtgraph drew them anyway."""
    panel = dashboard.gradients
    panel.begin_run(info())
    panel.add_batches(batches(5, norms=lambda i: {"d1": 1e-5, "d2": 1.0}))
    panel.resize(300, 120)
    qtbot.wait(20)
    panel.redraw()
    qtbot.wait(50)
    axis = panel.bar_plot.getAxis("left")
    assert 0 < panel.bar_plot.getViewBox().height() < 30  # shorter than two lines
    rects = sorted(_label_rects(axis), key=lambda item: item[0].top())
    for (a, _), (b, _) in zip(rects, rects[1:]):
        assert a.bottom() <= b.top(), [text for _, text in rects]


def test_only_gradient_advice_goes_over_the_gradient_plot(dashboard):
    """The perceptron's "the training accuracy stopped improving" sat over the gradient plot as if the plot
    showed it; the Hints panel lists every hint, the gradient panel those about gradients."""
    from nnstudio.training.events import Hint
    board = dashboard
    board.gradients.begin_run(info(trainer_hints=True))
    board._hint(Hint("cannot_separate", "dense", "The training accuracy stopped improving", {}))
    assert not board.gradients.notice.text()
    board._hint(Hint("vanishing_gradients", "d1", "Vanishing gradients in 'd1'", {}))
    assert board.gradients.notice.text() == "Vanishing gradients in 'd1'"


def test_a_regression_run_gives_the_loss_the_whole_panel(dashboard, qtbot):
    """The linear regression lesson has no accuracy: its plot stayed empty under a loss plot half the height."""
    panel = dashboard.curves
    panel.begin_run(info(task="regression"))
    panel.add_batches(batches(30))
    panel.redraw()
    qtbot.wait(50)
    assert not panel.acc_plot.isVisible()
    assert panel.loss_plot.getViewBox().height() > 0.6 * panel.view.height()
    assert panel.loss_plot.getAxis("bottom").labelText == "step"
    panel.clear()  # fresh weights for the same project: still a regression
    assert not panel.acc_plot.isVisible()
    panel.begin_run(info())  # a classification run (another project: the training controller says which)
    qtbot.wait(50)
    assert panel.acc_plot.isVisible() and panel.loss_plot.getViewBox().height() < 0.6 * panel.view.height()
    assert panel.acc_plot.isVisible() and panel.loss_plot.getAxis("bottom").labelText == ""


def test_a_redraw_with_no_live_steps_leaves_a_comparisons_step_axis_alone(dashboard):
    """Stored runs compared right after another project opened: the overlay set the step axis to its runs' 300
    steps, and the dashboard's redraw of the (empty, dirty) live panels put it back to 0-1."""
    from nnstudio.ui.panels.curves import set_range_if_changed
    curves, gradients = dashboard.curves, dashboard.gradients
    for panel, plot in ((curves, curves.loss_plot), (gradients, gradients.plot)):
        panel.clear()
        set_range_if_changed(plot, "x", 0.0, 299.0)  # what the overlay of stored runs does
        panel.redraw()
        assert plot.viewRange()[0] == pytest.approx([0.0, 299.0])


def test_a_comparison_after_a_regression_run_shows_the_accuracy_plot_and_its_legend(dashboard, qtbot):
    from nnstudio.ui.compare_view import RunOverlay
    curves = dashboard.curves
    curves.begin_run(info(task="regression"))
    assert not curves.accuracy_shown
    run = SimpleNamespace(id="0001", name="Run 1", settings={}, graph_dict={}, metrics={}, end_reason="completed",
                          meta={}, curves=lambda: {"global_step": np.arange(1.0, 4.0), "loss": np.ones(3),
                                                   "accuracy": np.full(3, 0.5)},
                          epochs=lambda: {}, gradients=lambda: {"global_step": np.zeros(0)})
    overlay = RunOverlay(curves, dashboard.gradients)
    overlay.show([run, SimpleNamespace(**{**vars(run), "id": "0002", "name": "Run 2"})])
    assert curves.accuracy_shown and overlay.legend is not None
    overlay.clear()
    assert not curves.accuracy_shown  # back as the live run left it
    curves.clear()  # fresh weights for the same project keep the loss alone
    assert not curves.accuracy_shown


def test_a_short_runs_every_step_ticks_do_not_outlive_it(dashboard):
    """A run of five steps labels every step; a cleared panel, or stored runs of 240 steps compared over it,
    kept that spacing and wrote a label at each of the 240 steps, one over the next."""
    from nnstudio.ui.compare_view import RunOverlay
    curves, gradients = dashboard.curves, dashboard.gradients
    for panel in (curves, gradients):
        panel.begin_run(info())
        panel.add_batches(batches(5))
        panel.redraw()
    assert curves.loss_plot.getAxis("bottom").property("step_spacing") is not None
    curves.clear()
    gradients.clear()
    for plot in (curves.loss_plot, curves.acc_plot, gradients.plot):
        assert plot.getAxis("bottom").property("step_spacing") is None
    curves.begin_run(info())
    curves.add_batches(batches(5))
    curves.redraw()
    steps = np.arange(1.0, 241.0)
    run = SimpleNamespace(id="0001", name="Run 1", settings={}, graph_dict={}, metrics={}, end_reason="completed",
                          meta={}, curves=lambda: {"global_step": steps, "loss": np.ones(240),
                                                   "accuracy": np.full(240, 0.5)},
                          epochs=lambda: {}, gradients=lambda: {"global_step": np.zeros(0)})
    RunOverlay(curves, gradients).show([run, SimpleNamespace(**{**vars(run), "id": "0002", "name": "Run 2"})])
    assert curves.loss_plot.viewRange()[0][1] == pytest.approx(240.0)
    assert curves.loss_plot.getAxis("bottom").property("step_spacing") is None
