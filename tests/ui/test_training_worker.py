"""The training worker and session against the real trainer: a toy set trained in a QThread, pause / resume /
step / stop, the NaN and out-of-memory ends, a dataset that does not fit the network, and the throttled
reports.  The trainer is the authority on how a run ends; these tests check that the worker carries its
events and its end cause across the threads unchanged."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from nnstudio.data.toy import make_toy  # noqa: E402
from nnstudio.training.trainer import Trainer  # noqa: E402
from nnstudio.ui.worker import (Boundary, Histograms, Predictions, Probe, ReportInbox, RunInfo, RunResult,  # noqa: E402
                                TrainingRequest, TrainingSession, WeightsSnapshot, default_make_trainer)

_spec = importlib.util.spec_from_file_location("_nnstudio_toy_network", Path(__file__).with_name("toy_network.py"))
toy = sys.modules.setdefault("_nnstudio_toy_network", importlib.util.module_from_spec(_spec))
if not hasattr(toy, "toy_graph"):
    _spec.loader.exec_module(toy)


def make_session(settings=None, weights=None, graph=None, start_paused=False, dataset=None, make_trainer=None):
    settings = dict(toy.SETTINGS, **(settings or {}))
    ds = dataset or make_toy("circle")
    request = TrainingRequest(graph or toy.toy_graph(), settings, weights, start_paused=start_paused)
    session = TrainingSession(request, make_trainer=make_trainer or default_make_trainer,
                              load_dataset=lambda name, options=None: ds)
    collected: dict[str, list] = {k: [] for k in ("started", "batches", "epoch", "probe", "histograms", "boundary",
                                                  "predictions", "weights", "finished")}
    for key in collected:
        getattr(session, key).connect(collected[key].append)
    return session, collected


def count(got) -> int:
    return sum(len(c) for c in got["batches"])


def test_trains_a_toy_set_and_reports_every_batch(qtbot):
    session, got = make_session()
    with qtbot.waitSignal(session.finished, timeout=60000):
        session.start()
    result = got["finished"][0]
    assert result.reason == "completed" and result.ok, result.message
    info = got["started"][0]
    assert isinstance(info, RunInfo) and info.layers == ["d1", "d2"]
    assert info.steps_per_epoch == 12  # 400 points, 10 % kept for validation, batches of 32: from RunStarted
    assert info.trainer_hints  # hints are on by default: the trainer's monitor judges the gradients
    reports = [r for chunk in got["batches"] for r in chunk]
    assert [r.global_step for r in reports] == list(range(1, 3 * 12 + 1))  # none lost by coalescing
    assert len(got["epoch"]) == 3
    assert reports[-1].loss < reports[0].loss  # it learned
    assert got["epoch"][-1].val_acc >= 0.75  # well above chance after three short epochs
    # the views arrived as host arrays of the expected shapes
    assert isinstance(got["boundary"][-1], Boundary) and got["boundary"][-1].values.shape == (64, 64, 2)
    assert isinstance(got["histograms"][-1], Histograms) and "d1/W" in got["histograms"][-1].weights
    assert isinstance(got["probe"][-1], Probe) and got["probe"][-1].activations["d1"].shape == (8,)
    predictions = got["predictions"][-1]
    assert isinstance(predictions, Predictions) and predictions.epoch == 3 and predictions.source == "train"
    assert len(predictions.indices) == 40  # the trainer's own validation split
    assert isinstance(got["weights"][-1], WeightsSnapshot) and got["weights"][-1].epoch == 3
    assert set(result.weights) == {"d1/W", "d1/b", "d2/W", "d2/b"}
    assert result.finished.test_acc is not None
    assert not session.is_running


def test_updates_are_throttled(qtbot):
    session, got = make_session({"epochs": 8, "batch_size": 8})
    with qtbot.waitSignal(session.finished, timeout=60000):
        session.start()
    batches = count(got)
    assert batches == 8 * 45
    # many reports per GUI update: the GUI thread is not woken per batch
    assert len(got["batches"]) < batches / 3


def test_pause_resume_step_stop(qtbot):
    session, got = make_session({"epochs": 2000, "batch_size": 8})
    session.start()
    qtbot.waitUntil(lambda: count(got) >= 3, timeout=20000)
    session.pause()
    qtbot.waitUntil(lambda: session.control.paused, timeout=2000)
    qtbot.wait(300)
    paused_at = count(got)
    qtbot.wait(400)
    assert count(got) == paused_at  # nothing moves while paused
    assert session.is_paused
    session.step()
    qtbot.waitUntil(lambda: count(got) == paused_at + 1, timeout=5000)
    qtbot.wait(300)
    assert count(got) == paused_at + 1  # exactly one batch
    session.resume()
    qtbot.waitUntil(lambda: count(got) > paused_at + 10, timeout=10000)
    with qtbot.waitSignal(session.finished, timeout=20000):
        session.stop()
    assert got["finished"][0].reason == "stopped" and got["finished"][0].ok
    assert got["finished"][0].weights is not None


def test_start_paused_then_step(qtbot):
    session, got = make_session(start_paused=True)
    session.start()
    qtbot.waitUntil(lambda: bool(got["started"]), timeout=10000)
    qtbot.wait(300)
    assert count(got) == 0
    session.step()
    qtbot.waitUntil(lambda: count(got) == 1, timeout=5000)
    with qtbot.waitSignal(session.finished, timeout=20000):
        session.stop()


def test_nan_loss_ends_with_the_trainers_cause_and_finite_weights(qtbot):
    session, got = make_session({"learning_rate": 10.0, "optimizer": "sgd", "loss": "mse", "epochs": 50},
                                graph=toy.toy_graph(softmax=False))
    with np.errstate(all="ignore"), qtbot.waitSignal(session.finished, timeout=60000):
        session.start()
    result = got["finished"][0]
    assert result.reason == "nan" and not result.ok
    assert "loss became NaN at epoch" in result.message and "lower the learning rate" in result.message
    # the trainer put back the weights from before the bad step: never NaN / Inf
    assert result.weights is not None and all(np.isfinite(w).all() for w in result.weights.values())


def test_out_of_memory_in_the_trainer_ends_with_its_cause(qtbot):
    class OutOfMemoryError(Exception):
        pass

    def make(request, dataset):
        trainer = default_make_trainer(request, dataset)
        original = trainer._events

        def events():
            for event in original():
                yield event
                if type(event).__name__ == "BatchReport":
                    trainer.model.forward = lambda *a, **k: (_ for _ in ()).throw(OutOfMemoryError("1 GB"))
        trainer._events = events
        return trainer

    session, got = make_session(make_trainer=make)
    with qtbot.waitSignal(session.finished, timeout=30000):
        session.start()
    result = got["finished"][0]
    assert result.reason == "out_of_memory" and "smaller batch size" in result.message, result.message


def test_weights_continue_training(qtbot):
    session, got = make_session({"epochs": 1})
    with qtbot.waitSignal(session.finished, timeout=30000):
        session.start()
    first = got["finished"][0].weights
    session2, got2 = make_session({"epochs": 1}, weights=first)
    with qtbot.waitSignal(session2.finished, timeout=30000):
        session2.start()
    reports = [r for c in got2["batches"] for r in c]
    fresh = [r for c in got["batches"] for r in c]
    assert reports[0].loss < fresh[0].loss  # it started from the trained weights


def test_dataset_that_does_not_fit_is_refused_naming_both_shapes(qtbot):
    session, got = make_session(graph=toy.toy_graph(shape=(1, 28, 28)))
    with qtbot.waitSignal(session.finished, timeout=10000):
        session.start()
    result = got["finished"][0]
    assert result.reason == "error" and not result.ok
    assert "(2,)" in result.message and "(1, 28, 28)" in result.message and "circle" in result.message


def test_stop_and_wait_ends_the_thread(qtbot):
    session, got = make_session({"epochs": 2000})
    session.start()
    qtbot.waitUntil(lambda: count(got) >= 2, timeout=20000)
    assert session.stop_and_wait(10000)
    assert not session.is_running
    assert got["finished"][0].reason == "stopped"


def test_inbox_keeps_batches_and_latest_views():
    inbox = ReportInbox()
    for i in range(5):
        inbox.put_batch(i)
        inbox.put_latest("probe", i)
    inbox.put_event("e")
    batches, events, latest = inbox.drain()
    assert batches == [0, 1, 2, 3, 4] and events == ["e"] and latest == {"probe": 4}
    assert inbox.drain() == ([], [], {})


def test_trainer_crash_is_reported_not_raised(qtbot):
    def broken(request, dataset):
        raise RuntimeError("boom")
    session, _got = make_session(make_trainer=broken)
    with qtbot.waitSignal(session.finished, timeout=10000) as blocker:
        session.start()
    result: RunResult = blocker.args[0]
    assert result.reason == "error" and "boom" in result.message and "Traceback" not in result.message


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_the_run_trains_at_a_lower_priority_than_the_gui(qtbot):
    import os
    import threading

    from nnstudio.ui.priority import TRAINING_NICE
    seen: dict[str, int] = {}

    def recording(request, dataset):
        seen["training"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return Trainer(request.graph, dataset, dict(request.settings), None, request.weights)

    session, _got = make_session({"epochs": 1}, make_trainer=recording)
    gui_before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    with qtbot.waitSignal(session.finished, timeout=30000):
        session.start()
    assert seen["training"] >= TRAINING_NICE
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == gui_before


def test_the_views_on_screen_after_a_run_are_the_final_ones(qtbot):
    session, got = make_session({"epochs": 2})
    with qtbot.waitSignal(session.finished, timeout=60000):
        session.start()
    last_step = [r for c in got["batches"] for r in c][-1].global_step
    assert got["boundary"][-1].step == last_step  # drawn from the weights the run ended with
    assert got["histograms"][-1].step == last_step


def test_the_confusion_views_predictions_come_from_the_trainers_validation_pass(qtbot, monkeypatch):
    """No second pass of the model over the validation rows after each epoch: the trainer's own predictions
    are reused, and they are the ones its confusion matrix counts."""
    from nnstudio.training import views

    def second_pass(*_args, **_kwargs):
        raise AssertionError("the validation rows were predicted a second time")

    monkeypatch.setattr(views, "predictions", second_pass)
    session, got = make_session()
    with qtbot.waitSignal(session.finished, timeout=60000):
        session.start()
    assert got["finished"][0].reason == "completed", got["finished"][0].message
    assert [p.epoch for p in got["predictions"]] == [1, 2, 3]
    for predictions, report in zip(got["predictions"], got["epoch"]):
        counts = np.zeros_like(report.confusion)
        np.add.at(counts, (predictions.y_true, predictions.y_pred), 1)
        np.testing.assert_array_equal(counts, report.confusion)


def test_a_run_with_hints_off_says_the_trainer_does_not_judge_it(qtbot):
    session, got = make_session({"hints": False, "epochs": 1})
    with qtbot.waitSignal(session.finished, timeout=60000):
        session.start()
    assert got["started"] and not got["started"][0].trainer_hints
