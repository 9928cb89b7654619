"""Conv2D's columns made a few output rows at a time (a layer that needs no input gradient): the same outputs
and weight gradients as the whole column matrix, weight gradients against finite differences, an input
gradient still there when one is asked for after the forward pass, and a real first layer timing both ways
and keeping the faster."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.gradcheck import check_layer
from nnstudio.engine.layers import Conv2D
from nnstudio.engine import threads
from nnstudio.engine.layers import conv as conv_module
from nnstudio.engine.layers.conv import RowsOrWhole
from nnstudio.engine.model import Model, ModelNode

GEOMETRIES = [
    # (in_shape, filters, kernel, stride, padding, chunk values): chunks of one row, of several rows, a last
    # chunk shorter than the others, strides, asymmetric "same" padding, several input channels
    ((1, 9, 7), 3, 3, 1, 1, 40),
    ((1, 9, 7), 3, 3, 1, 1, 200),
    ((3, 8, 9), 4, (2, 3), 2, "same", 90),
    ((2, 7, 7), 2, 3, 1, 0, 1),
    ((1, 12, 5), 2, 5, 1, 2, 120),
]


def _layers(in_shape, filters, kernel, stride, padding):
    made = []
    for _ in range(2):
        layer = Conv2D(filters, kernel, stride=stride, padding=padding)
        layer.build(in_shape, np, np.random.default_rng(0), np.float64)
        layer.params["b"][...] = np.arange(filters) * 0.1
        made.append(layer)
    return made


@pytest.fixture
def small_chunks(monkeypatch):
    """Rows at a time from the smallest sizes on, in chunks of ``values`` column values."""
    def use(values: int) -> None:
        monkeypatch.setattr(conv_module, "_ROWS_MIN_VALUES", 1)
        monkeypatch.setattr(conv_module, "_ROW_MAX_VALUES", 1 << 30)
        monkeypatch.setattr(conv_module, "_ROW_CHUNK_VALUES", values)
    return use


@pytest.mark.parametrize("in_shape,filters,kernel,stride,padding,chunk", GEOMETRIES)
def test_rows_at_a_time_give_the_whole_matrix_results(small_chunks, in_shape, filters, kernel, stride, padding,
                                                        chunk):
    small_chunks(chunk)
    whole, by_rows = _layers(in_shape, filters, kernel, stride, padding)
    by_rows.needs_input_grad = False  # the reference keeps its input gradient, so it makes whole matrices
    by_rows.rows_or_whole.fixed = True
    rng = np.random.default_rng(1)
    for batch in (3, 5):
        x = rng.normal(size=(batch,) + in_shape)
        expected = whole.forward(x, True)
        out = by_rows.forward(x, True)
        assert whole._windows is None and by_rows._windows is not None and by_rows._cols is None
        _, c, kh, kw = by_rows.params["W"].shape
        ho, wo = out.shape[2:]
        assert by_rows._rows == max(1, min(ho, chunk // (c * kh * kw * wo * batch)))
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
        g = rng.normal(size=out.shape)
        assert by_rows.backward(g) is None and whole.backward(g) is not None
        for name in ("W", "b"):
            np.testing.assert_allclose(by_rows.grads[name], whole.grads[name], rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("in_shape,filters,kernel,stride,padding,chunk", GEOMETRIES)
def test_weight_gradients_by_rows_match_finite_differences(small_chunks, in_shape, filters, kernel, stride,
                                                             padding, chunk):
    small_chunks(chunk)
    layer = Conv2D(filters, kernel, stride=stride, padding=padding)
    layer.needs_input_grad = False
    layer.rows_or_whole.fixed = True
    errors = check_layer(layer, in_shape, np, np.random.default_rng(2), batch=3)
    assert layer._windows is not None
    assert set(errors) == {"W", "b"}
    assert max(errors.values()) < 1e-6, errors


def test_an_input_gradient_asked_for_after_the_forward_pass_is_still_computed(small_chunks):
    # A saliency map: the forward pass ran without an input gradient, the backward pass asks for one.
    whole, by_rows = _layers((2, 8, 8), 3, 3, 1, 1)
    x = np.random.default_rng(3).normal(size=(4, 2, 8, 8))
    g = np.random.default_rng(4).normal(size=(4, 3, 8, 8))
    expected_out = whole.forward(x, False)
    expected_dx = whole.backward(g)
    small_chunks(50)
    by_rows.needs_input_grad = False  # and outside training, before any timing, the layer goes by rows
    np.testing.assert_allclose(by_rows.forward(x, False), expected_out, rtol=1e-12, atol=1e-12)
    by_rows.needs_input_grad = True
    np.testing.assert_allclose(by_rows.backward(g), expected_dx, rtol=1e-12, atol=1e-12)
    for name in ("W", "b"):
        np.testing.assert_allclose(by_rows.grads[name], whole.grads[name], rtol=1e-11, atol=1e-12)


class FakeClock:
    """A clock that moves a microsecond a call, and as far as the test moves it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1e-6
        return self.now


def _first_layer_model():
    nodes = [ModelNode("x", None, []), ModelNode("c1", Conv2D(16, 5, padding=2), ["x"]),
             ModelNode("c2", Conv2D(8, 3), ["c1"])]
    return Model(nodes, "x", "c2").build((1, 28, 28), np, seed=0)


@pytest.mark.parametrize("rows_cost,whole_cost,expect_rows", [(1e-3, 3e-3, True), (3e-3, 1e-3, False)])
def test_a_first_layer_times_both_ways_and_keeps_the_faster(monkeypatch, rows_cost, whole_cost, expect_rows):
    clock = FakeClock()
    monkeypatch.setattr(conv_module, "_clock", clock)
    model = _first_layer_model()
    first, second = model.layer("c1"), model.layer("c2")
    forward_by_rows, forward_whole = first._forward_by_rows, first._forward_whole

    def slow(fn, cost):
        def run(*args):
            clock.now += cost
            return fn(*args)
        return run

    monkeypatch.setattr(first, "_forward_by_rows", slow(forward_by_rows, rows_cost))
    monkeypatch.setattr(first, "_forward_whole", slow(forward_whole, whole_cost))
    x = np.random.default_rng(5).random((64, 1, 28, 28), dtype=np.float32)
    ways = []
    reference = None
    for _ in range(2 * (RowsOrWhole.TIMED + 1)):
        out = model.forward(x, training=True)
        ways.append(first._windows is not None)
        assert second._windows is None and second._cols is not None  # a layer with an input gradient: whole
        model.backward(np.ones_like(out))
        assert np.isfinite(first.grads["W"]).all() and np.abs(first.grads["W"]).sum() > 0
        if reference is None:
            reference = first.grads["W"].copy()
        else:  # the same weight gradient either way
            np.testing.assert_allclose(first.grads["W"], reference, rtol=1e-4, atol=1e-5)
    assert ways == [True, False] * (RowsOrWhole.TIMED + 1)  # in turn, rows first
    key = (x.shape, threads.current())
    assert first.rows_or_whole.decided == {key: expect_rows}
    assert (first._row_buffer is None) != expect_rows and (first._col_buffer is None) == expect_rows
    for training in (True, False, True):
        model.forward(x, training=training)
        assert (first._windows is not None) == expect_rows
    # A batch shape not timed yet: a prediction takes the last decision, a training step starts timing by rows.
    model.forward(x[:40])
    assert (first._windows is not None) == expect_rows
    model.forward(x[:40], training=True)
    assert first._windows is not None


def test_outside_training_a_layer_goes_by_rows_until_it_has_timed_both_ways():
    model = _first_layer_model()
    first = model.layer("c1")
    x = np.random.default_rng(5).random((64, 1, 28, 28), dtype=np.float32)
    model.forward(x)
    assert first._windows is not None and first._cols is None
    assert first.rows_or_whole.samples == {}  # nothing timed outside training


def test_a_single_sample_and_a_big_batch_take_the_whole_matrix():
    model = _first_layer_model()
    first = model.layer("c1")
    x = np.random.default_rng(5).random((64, 1, 28, 28), dtype=np.float32)
    # A single sample, and a batch whose one output row alone is too big for a chunk, take the whole matrix.
    model.forward(x[:1])
    assert first._windows is None
    model.forward(np.zeros((500, 1, 28, 28), np.float32))
    assert first._windows is None and first._cols is not None
    assert first.rows_or_whole.samples == {}


def _step(choice: RowsOrWhole, key, costs) -> bool:
    """One training step of the layer: the way it took (recorded with its cost when timed)."""
    rows, timed = choice.by_rows(key, training=True)
    if timed:
        choice.record(key, rows, costs[rows])
    return rows


def test_a_decision_is_timed_again_later_and_can_change():
    choice, key = RowsOrWhole(), ((64, 1, 28, 28), 2)
    trial = 2 * (RowsOrWhole.TIMED + 1)
    ways = [_step(choice, key, {True: 2.0, False: 1.0}) for _ in range(trial)]
    assert ways == [True, False] * (RowsOrWhole.TIMED + 1) and choice.decided == {key: False}
    ways = [_step(choice, key, {True: 2.0, False: 1.0}) for _ in range(RowsOrWhole.RECHECK)]
    assert ways == [False] * RowsOrWhole.RECHECK  # kept, untimed
    assert choice.by_rows(key, training=False) == (False, False)  # predictions don't count as steps
    # Then both ways are timed again; meanwhile the machine changed, and rows are now faster.
    ways = [_step(choice, key, {True: 1.0, False: 3.0}) for _ in range(trial)]
    assert ways == [True, False] * (RowsOrWhole.TIMED + 1) and choice.decided == {key: True}
    # The next recheck comes four times later.
    ways = [_step(choice, key, {True: 1.0, False: 3.0}) for _ in range(4 * RowsOrWhole.RECHECK)]
    assert ways == [True] * (4 * RowsOrWhole.RECHECK) and key not in choice.samples
    assert _step(choice, key, {True: 1.0, False: 3.0}) and key in choice.samples


def test_each_shape_and_thread_count_decides_on_its_own():
    choice = RowsOrWhole()
    big, small = ((64, 1, 28, 28), 2), ((64, 1, 28, 28), 1)
    for _ in range(2 * (RowsOrWhole.TIMED + 1)):
        _step(choice, big, {True: 2.0, False: 1.0})
    assert choice.decided == {big: False} and choice.latest is False
    assert choice.by_rows(small, training=False) == (False, False)  # the latest decision, until its own
    for _ in range(2 * (RowsOrWhole.TIMED + 1)):
        _step(choice, small, {True: 1.0, False: 2.0})
    assert choice.decided == {big: False, small: True} and choice.latest is True
