"""The training worker and session: real training of a toy set in a QThread, pause / resume / step / stop,
the NaN path, a dataset that does not fit the network, and the throttled reports.

The trainer here is a small engine-based stand-in that follows the documented events contract (it really
trains: forward, loss, backward, optimizer step on the engine), so these tests exercise the worker's
threading and flow control independently of the real trainer.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from nnstudio.data.toy import make_toy  # noqa: E402
from nnstudio.engine.backend import to_device  # noqa: E402
from nnstudio.engine.losses import accuracy, get_loss  # noqa: E402
from nnstudio.engine.optimizers import make_optimizer  # noqa: E402
from nnstudio.graph.compile import compile_graph  # noqa: E402
from nnstudio.graph.document import Graph  # noqa: E402
from nnstudio.ui.worker import (Boundary, Histograms, Predictions, Probe, ReportInbox, RunInfo, RunResult,  # noqa: E402
                                TrainingRequest, TrainingSession, check_dataset_fits, nan_message)
from nnstudio.errors import UserError  # noqa: E402
from nnstudio.training.events import BatchReport, EpochReport, RunFinished, RunStarted  # noqa: E402


@dataclass
class ToyTrainer:
    """Trains ``graph`` on ``dataset`` with the engine, yielding the documented events."""

    graph: Graph
    dataset: Any
    settings: dict
    weights: dict | None = None
    delay: float = 0.0
    stop: bool = False
    model: Any = field(init=False)

    def __post_init__(self) -> None:
        self.model = compile_graph(self.graph, "numpy", seed=int(self.settings.get("seed", 0)))
        if self.weights is not None:
            self.model.load_state_dict(self.weights)
        self.loss = get_loss(self.settings["loss"])
        self.optimizer = make_optimizer(self.settings["optimizer"], self.settings["learning_rate"])

    def request_stop(self) -> None:
        self.stop = True

    def run(self):
        s, ds, model = self.settings, self.dataset, self.model
        bs, epochs, lr = int(s["batch_size"]), int(s["epochs"]), float(s["learning_rate"])
        n = ds.n_train
        steps = math.ceil(n / bs)
        yield RunStarted(epochs, steps, n, len(ds.y_test), "numpy", model.param_count())
        g = 0
        rng = np.random.default_rng(0)
        for epoch in range(1, epochs + 1):
            order = rng.permutation(n)
            losses = []
            for step in range(1, steps + 1):
                idx = order[(step - 1) * bs: step * bs]
                x = to_device(ds.x_train[idx], model.xp, np.float32)
                y = to_device(ds.y_train[idx], model.xp)
                value, out = model.train_step(x, y, self.loss, self.optimizer, lr)
                g += 1
                acc = accuracy(out, y, self.loss.name).value
                losses.append(value)
                yield BatchReport(epoch, step, g, float(value), float(acc), lr, 1000.0, model.grad_norms(), 1.0)
                if not math.isfinite(value):
                    yield RunFinished("error", nan_message(epoch, step), epoch - 1)
                    return
                if self.stop:
                    yield RunFinished("stopped", "", epoch - 1)
                    return
                if self.delay:
                    time.sleep(self.delay)
            out = model.predict(ds.x_test)
            pred = out.argmax(axis=1)
            k = ds.num_classes
            confusion = np.bincount(ds.y_test * k + pred, minlength=k * k).reshape(k, k)
            val_loss, _ = self.loss.forward(out, ds.y_test)
            yield EpochReport(epoch, float(np.mean(losses)), float(acc), float(val_loss),
                              float((pred == ds.y_test).mean()), confusion, 0.1)
        yield RunFinished("completed", "", epochs)


def toy_graph(shape=(2,), softmax=True) -> Graph:
    g = Graph()
    g.add_node("Input", {"shape": list(shape)}, node_id="in")
    g.add_node("Dense", {"units": 8}, node_id="d1")
    g.add_node("Activation", {"function": "tanh" if softmax else "relu"}, node_id="a1")
    g.add_node("Dense", {"units": 2}, node_id="d2")
    wires = [("in", "d1"), ("d1", "a1"), ("a1", "d2")]
    if softmax:
        g.add_node("Activation", {"function": "softmax"}, node_id="out")
        wires.append(("d2", "out"))
    for a, b in wires:
        g.connect(a, b)
    return g


SETTINGS = {"dataset": "circle", "loss": "cross_entropy", "optimizer": "adam", "learning_rate": 0.05,
            "batch_size": 32, "epochs": 3, "seed": 0, "validation_split": 0.1, "schedule": "constant",
            "augment": False, "backend": "numpy"}


def make_session(qtbot, settings=None, delay=0.0, weights=None, graph=None, start_paused=False, dataset=None):
    settings = dict(SETTINGS, **(settings or {}))
    ds = dataset or make_toy("circle")
    request = TrainingRequest(graph or toy_graph(), settings, weights, start_paused=start_paused)
    session = TrainingSession(request, make_trainer=lambda r, d: ToyTrainer(r.graph, d, r.settings, r.weights, delay),
                              load_dataset=lambda name: ds)
    collected: dict[str, list] = {k: [] for k in ("started", "batches", "epoch", "probe", "histograms", "boundary",
                                                  "predictions", "finished")}
    for key in collected:
        getattr(session, key).connect(lambda v, k=key: collected[k].append(v))
    return session, collected


def test_trains_a_toy_set_and_reports_every_batch(qtbot):
    session, got = make_session(qtbot)
    with qtbot.waitSignal(session.epoch, timeout=20000):
        session.start()
    qtbot.waitUntil(lambda: bool(got["finished"]), timeout=30000)
    result = got["finished"][0]
    assert result.reason == "finished", result.message
    assert isinstance(got["started"][0], RunInfo) and got["started"][0].layers == ["d1", "d2"]
    reports = [r for chunk in got["batches"] for r in chunk]
    assert [r.global_step for r in reports] == list(range(1, 3 * 13 + 1))  # none lost by coalescing
    assert len(got["epoch"]) == 3
    assert reports[-1].loss < reports[0].loss  # it learned
    assert got["epoch"][-1].val_acc > 0.8
    # the worker's own views arrived, with host arrays of the expected shapes
    assert isinstance(got["boundary"][-1], Boundary) and got["boundary"][-1].values.shape == (64, 64, 2)
    assert isinstance(got["histograms"][-1], Histograms) and "d1/W" in got["histograms"][-1].weights
    assert isinstance(got["probe"][-1], Probe) and got["probe"][-1].activations["d1"].shape == (8,)
    assert isinstance(got["predictions"][-1], Predictions) and got["predictions"][-1].epoch == 3
    assert set(result.weights) == {"d1/W", "d1/b", "d2/W", "d2/b"}
    assert not session.is_running


def test_updates_are_throttled(qtbot):
    session, got = make_session(qtbot, {"epochs": 8, "batch_size": 8})
    with qtbot.waitSignal(session.finished, timeout=60000):
        session.start()
    batches = sum(len(c) for c in got["batches"])
    assert batches == 8 * 50
    # many reports per GUI update: the GUI thread is not woken per batch
    assert len(got["batches"]) < batches / 3


def test_pause_resume_step_stop(qtbot):
    session, got = make_session(qtbot, {"epochs": 200}, delay=0.002)
    session.start()
    qtbot.waitUntil(lambda: sum(len(c) for c in got["batches"]) >= 3, timeout=20000)
    session.pause()
    qtbot.wait(300)
    paused_at = sum(len(c) for c in got["batches"])
    qtbot.wait(400)
    assert sum(len(c) for c in got["batches"]) == paused_at  # nothing moves while paused
    assert session.is_paused
    session.step()
    qtbot.waitUntil(lambda: sum(len(c) for c in got["batches"]) == paused_at + 1, timeout=5000)
    qtbot.wait(300)
    assert sum(len(c) for c in got["batches"]) == paused_at + 1  # exactly one batch
    session.resume()
    qtbot.waitUntil(lambda: sum(len(c) for c in got["batches"]) > paused_at + 10, timeout=10000)
    with qtbot.waitSignal(session.finished, timeout=10000):
        session.stop()
    assert got["finished"][0].reason == "stopped"
    assert got["finished"][0].weights is not None


def test_start_paused_then_step(qtbot):
    session, got = make_session(qtbot, start_paused=True)
    session.start()
    qtbot.wait(400)
    assert sum(len(c) for c in got["batches"]) == 0
    session.step()
    qtbot.waitUntil(lambda: sum(len(c) for c in got["batches"]) == 1, timeout=5000)
    with qtbot.waitSignal(session.finished, timeout=10000):
        session.stop()


def test_nan_loss_stops_with_message_and_keeps_good_weights(qtbot):
    session, got = make_session(qtbot, {"learning_rate": 1e10, "optimizer": "sgd", "loss": "mse", "epochs": 50},
                                graph=toy_graph(softmax=False))
    with qtbot.waitSignal(session.finished, timeout=30000):
        session.start()
    result = got["finished"][0]
    assert result.reason == "nan"
    assert "loss became NaN at epoch" in result.message and "lower the learning rate" in result.message
    # the weights handed back are the last good ones (the initial ones here), never NaN / Inf
    assert result.weights is not None and all(np.isfinite(w).all() for w in result.weights.values())


def test_weights_continue_training(qtbot):
    session, got = make_session(qtbot, {"epochs": 1})
    with qtbot.waitSignal(session.finished, timeout=20000):
        session.start()
    first = got["finished"][0].weights
    session2, got2 = make_session(qtbot, {"epochs": 1}, weights=first)
    with qtbot.waitSignal(session2.finished, timeout=20000):
        session2.start()
    reports = [r for c in got2["batches"] for r in c]
    fresh = [r for c in got["batches"] for r in c]
    assert reports[0].loss < fresh[0].loss  # it started from the trained weights


def test_dataset_that_does_not_fit_is_refused_naming_both_shapes(qtbot):
    session, got = make_session(qtbot, graph=toy_graph(shape=(1, 28, 28)))
    with qtbot.waitSignal(session.finished, timeout=10000):
        session.start()
    result = got["finished"][0]
    assert result.reason == "error"
    assert "[2]" in result.message and "[1, 28, 28]" in result.message
    with pytest.raises(UserError):
        check_dataset_fits(toy_graph(shape=(3,)), make_toy("xor"))


def test_stop_and_wait_ends_the_thread(qtbot):
    session, got = make_session(qtbot, {"epochs": 1000}, delay=0.001)
    session.start()
    qtbot.waitUntil(lambda: sum(len(c) for c in got["batches"]) >= 2, timeout=20000)
    assert session.stop_and_wait(5000)
    assert not session.is_running and session.thread.isFinished()
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
    request = TrainingRequest(toy_graph(), dict(SETTINGS))
    session = TrainingSession(request, make_trainer=broken, load_dataset=lambda n: make_toy("circle"))
    with qtbot.waitSignal(session.finished, timeout=10000) as blocker:
        session.start()
    result: RunResult = blocker.args[0]
    assert result.reason == "error" and "boom" in result.message


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_the_run_trains_at_a_lower_priority_than_the_gui(qtbot):
    import os
    import threading

    from nnstudio.ui.priority import TRAINING_NICE
    seen: dict[str, int] = {}

    class Recording(ToyTrainer):
        def run(self):
            seen["training"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            yield from super().run()

    settings = dict(SETTINGS, epochs=1)
    request = TrainingRequest(toy_graph(), settings, None)
    ds = make_toy("circle")
    session = TrainingSession(request, make_trainer=lambda r, d: Recording(r.graph, d, r.settings, r.weights),
                              load_dataset=lambda name: ds)
    gui_before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    with qtbot.waitSignal(session.finished, timeout=30000):
        session.start()
    assert seen["training"] >= TRAINING_NICE
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == gui_before
