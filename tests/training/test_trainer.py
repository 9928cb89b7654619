"""The training loop: event sequence, determinism, stop / step, NaN recovery, shape refusal, continuation."""
from __future__ import annotations

import math
import warnings
import threading

import numpy as np
import pytest

from nnstudio.data.toy import make_toy
from nnstudio.errors import UserError
from nnstudio.graph.project_file import Project
from nnstudio.training.config import TrainingConfig
from nnstudio.training.events import BatchReport, EpochReport, ProbeReport, RunFinished, RunStarted
from nnstudio.training.trainer import Trainer, evaluate, is_out_of_memory

from .conftest import chain_graph


def config(**kw) -> TrainingConfig:
    base = dict(dataset="moons", loss="cross_entropy", optimizer="adam", learning_rate=0.02, batch_size=32,
                epochs=3, seed=0, validation_split=0.2)
    base.update(kw)
    return TrainingConfig(**base)


def kinds(events) -> list[str]:
    return [type(e).__name__ for e in events]


def test_event_sequence(mlp_graph, moons):
    trainer = Trainer(mlp_graph, moons, config(), "numpy")
    events = list(trainer.run())
    assert isinstance(events[0], RunStarted)
    assert isinstance(events[-1], RunFinished) and events[-1].reason == "completed"
    start = events[0]
    assert (start.n_train, start.n_val, start.n_test) == (160, 40, 100)
    assert start.steps_per_epoch == 5 and start.total_steps == 15
    assert start.param_count == 2 * 16 + 16 + 16 * 2 + 2
    batches = [e for e in events if isinstance(e, BatchReport)]
    epochs = [e for e in events if isinstance(e, EpochReport)]
    assert [b.global_step for b in batches] == list(range(1, 16))
    assert [(b.epoch, b.step) for b in batches[:6]] == [(1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (2, 1)]
    assert [e.epoch for e in epochs] == [1, 2, 3]
    # Each EpochReport follows the last batch of its epoch.
    names = kinds(events)
    assert names.index("EpochReport") == names.index("BatchReport") + 5
    for b in batches:
        assert math.isfinite(b.loss) and 0.0 <= b.accuracy <= 1.0 and b.samples_per_s > 0 and b.grad_norms is None
        assert b.eta_s >= 0
    assert batches[-1].eta_s == pytest.approx(0.0)
    assert all(e.val_loss is not None and e.confusion.shape == (2, 2) for e in epochs)
    assert epochs[-1].confusion.sum() == 40  # the validation split
    finished = events[-1]
    assert finished.epochs_done == 3 and finished.steps_done == 15
    assert finished.test_confusion.sum() == 100 and 0.5 < finished.test_acc <= 1.0
    assert trainer.model is not None and set(trainer.state_dict()) == {"n1/W", "n1/b", "n3/W", "n3/b"}


def test_learns_and_losses_fall(mlp_graph, moons):
    events = list(Trainer(mlp_graph, moons, config(epochs=15), "numpy").run())
    epochs = [e for e in events if isinstance(e, EpochReport)]
    assert epochs[-1].train_loss < 0.5 * epochs[0].train_loss
    assert events[-1].test_acc >= 0.9


def test_deterministic(mlp_graph, moons):
    def losses():
        return [e.loss for e in Trainer(mlp_graph, moons, config(), "numpy").run() if isinstance(e, BatchReport)]

    assert losses() == losses()
    other = [e.loss for e in Trainer(mlp_graph, moons, config(seed=1), "numpy").run() if isinstance(e, BatchReport)]
    assert other != losses()


def test_deterministic_with_dropout_and_augmentation(tiny_images):
    graph = chain_graph([1, 8, 8], [("Conv2D", {"filters": 4, "kernel_size": 3}),
                                    ("Activation", {"function": "relu"}), ("Dropout", {"rate": 0.3}),
                                    ("Dense", {"units": 3}), ("Activation", {"function": "softmax"})])
    cfg = config(dataset="tiny", augment=True, epochs=2)

    def run():
        t = Trainer(graph, tiny_images, cfg, "numpy")
        return [e.loss for e in t.run() if isinstance(e, BatchReport)], t.state_dict()

    (a, wa), (b, wb) = run(), run()
    assert a == b
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)


def test_validation_split_is_fixed_and_disjoint(mlp_graph, moons):
    t1 = Trainer(mlp_graph, moons, config(seed=3), "numpy")
    t2 = Trainer(mlp_graph, moons, config(seed=3), "numpy")
    assert np.array_equal(t1.val_indices, t2.val_indices)
    assert not set(t1.val_indices) & set(t1.fit_indices)
    assert len(t1.val_indices) + len(t1.fit_indices) == moons.n_train


def test_max_samples_limits_training_and_test(mlp_graph, moons):
    t = Trainer(mlp_graph, moons, config(max_train_samples=50, max_test_samples=20, validation_split=0.0), "numpy")
    events = list(t.run())
    assert events[0].n_train == 50 and events[0].n_test == 20
    assert events[-1].test_confusion.sum() == 20


def test_request_stop_ends_after_current_batch(mlp_graph, moons):
    trainer = Trainer(mlp_graph, moons, config(epochs=50), "numpy")
    seen = []
    for event in trainer.run():
        seen.append(event)
        if isinstance(event, BatchReport) and event.global_step == 7:
            trainer.request_stop()
    finished = seen[-1]
    assert isinstance(finished, RunFinished) and finished.reason == "stopped"
    assert finished.steps_done == 7 and finished.epochs_done == 1
    assert max(e.global_step for e in seen if isinstance(e, BatchReport)) == 7
    assert finished.test_acc is not None  # the test set is still scored


def test_request_stop_from_another_thread(mlp_graph, moons):
    trainer = Trainer(mlp_graph, moons, config(epochs=100000), "numpy")
    timer = threading.Timer(0.2, trainer.request_stop)
    timer.start()
    events = list(trainer.run())
    timer.join()
    assert events[-1].reason == "stopped"


def test_step_once_runs_exactly_one_batch(mlp_graph, moons):
    trainer = Trainer(mlp_graph, moons, config(epochs=2), "numpy")
    first = trainer.step_once()
    assert kinds(first) == ["RunStarted", "BatchReport"]
    assert first[-1].global_step == 1
    before = trainer.state_dict()
    second = trainer.step_once()
    assert kinds(second) == ["BatchReport"] and second[0].global_step == 2
    after = trainer.state_dict()
    assert any(not np.array_equal(before[k], after[k]) for k in before)
    for _ in range(3):
        trainer.step_once()
    sixth = trainer.step_once()  # epoch 1 had 5 batches: its report comes before batch 6
    assert kinds(sixth) == ["EpochReport", "BatchReport"] and sixth[-1].global_step == 6
    rest = list(trainer.run())  # run() continues the same run
    assert [e.global_step for e in rest if isinstance(e, BatchReport)] == [7, 8, 9, 10]
    assert isinstance(rest[-1], RunFinished) and rest[-1].steps_done == 10
    assert trainer.step_once() == []


def test_step_once_same_as_run(mlp_graph, moons):
    stepped = Trainer(mlp_graph, moons, config(epochs=1), "numpy")
    losses = []
    while True:
        events = stepped.step_once()
        if not events:
            break
        losses += [e.loss for e in events if isinstance(e, BatchReport)]
    ran = [e.loss for e in Trainer(mlp_graph, moons, config(epochs=1), "numpy").run() if isinstance(e, BatchReport)]
    assert losses == ran


def test_nan_loss_stops_and_keeps_last_good_weights(moons):
    hidden = [("Dense", {"units": 64}), ("Activation", {"function": "relu"})] * 6
    graph = chain_graph([2], hidden + [("Dense", {"units": 2}), ("Activation", {"function": "softmax"})])
    cfg = config(optimizer="momentum", learning_rate=1.0, epochs=20)
    trainer = Trainer(graph, moons, cfg, "numpy")
    with np.errstate(divide="warn", over="warn", invalid="warn"), warnings.catch_warnings():
        warnings.simplefilter("error")  # the divergence prints nothing of NumPy's on the terminal
        events = list(trainer.run())
    finished = events[-1]
    assert finished.reason == "nan" and not finished.ok
    assert finished.message.startswith("loss became NaN at epoch ")
    assert "lower the learning rate or enable gradient clipping" in finished.message
    assert all(math.isfinite(e.loss) for e in events if isinstance(e, BatchReport))  # the NaN batch is not reported
    assert any(type(e).__name__ == "Hint" and e.kind == "learning_rate" for e in events)
    weights = trainer.state_dict()
    assert all(np.isfinite(w).all() for w in weights.values())
    # The kept weights are the last ones that gave a finite loss.
    from nnstudio.engine.losses import get_loss
    out = trainer.model.forward(moons.x_train[:32], training=False, logits=True)
    value, _ = get_loss("cross_entropy").forward(out, moons.y_train[:32], from_logits=True)
    assert math.isfinite(value)


def test_dataset_that_does_not_fit_is_refused(mlp_graph):
    images = make_toy("linear")  # samples (1,), the network wants (2,)
    with pytest.raises(UserError) as err:
        Trainer(mlp_graph, images, config(dataset="linear", loss="mse"), "numpy")
    text = str(err.value)
    assert "(1,)" in text and "(2,)" in text and "linear" in text and "in0" in text


def test_invalid_graph_is_refused_before_training(moons):
    graph = chain_graph([2], [("Conv2D", {"filters": 2, "kernel_size": 3})])
    with pytest.raises(UserError, match="channels, height, width"):
        Trainer(graph, moons, config(), "numpy")


def test_wrong_output_size_is_refused(moons):
    graph = chain_graph([2], [("Dense", {"units": 3}), ("Activation", {"function": "softmax"})])
    with pytest.raises(UserError, match="2 classes"):
        Trainer(graph, moons, config(), "numpy")


def test_continue_from_weights(mlp_graph, moons):
    first = Trainer(mlp_graph, moons, config(epochs=5), "numpy")
    list(first.run())
    weights = first.state_dict()
    second = Trainer(mlp_graph, moons, config(epochs=1), "numpy", weights=weights)
    events = second.step_once()
    fresh = Trainer(mlp_graph, moons, config(epochs=1), "numpy").step_once()
    assert events[-1].loss < fresh[-1].loss  # it starts where the first run stopped


def test_grad_norms_only_when_wanted(mlp_graph, moons):
    trainer = Trainer(mlp_graph, moons, config(epochs=1), "numpy")
    events = trainer.step_once()
    assert events[-1].grad_norms is None
    trainer.want_grad_norms = True
    report = trainer.step_once()[-1]
    assert set(report.grad_norms) == {"n1", "n3"} and all(v > 0 for v in report.grad_norms.values())


def test_probe_reports(mlp_graph, moons):
    trainer = Trainer(mlp_graph, moons, config(epochs=1, probe_every=2, probe_samples=8), "numpy")
    probes = [e for e in trainer.run() if isinstance(e, ProbeReport)]
    assert [p.step for p in probes] == [2, 4]
    acts = probes[0].activations
    assert set(acts) == {"n1", "n2", "n3", "n4"}
    assert acts["n1"].shape == (8, 16) and isinstance(acts["n1"], np.ndarray)
    assert np.allclose(acts["n4"].sum(axis=1), 1.0, atol=1e-5)  # the softmax output


def test_regression_reports_mse_and_r2():
    data = make_toy("linear")
    graph = chain_graph([1], [("Dense", {"units": 1})])
    events = list(Trainer(graph, data, config(dataset="linear", loss="mse", optimizer="sgd", learning_rate=0.1,
                                              epochs=30, batch_size=20), "numpy").run())
    assert all(math.isnan(e.accuracy) for e in events if isinstance(e, BatchReport))
    finished = events[-1]
    assert finished.test_acc is None and finished.test_confusion is None
    assert finished.test_metrics["r2"] > 0.95 and finished.test_metrics["mse"] < 0.05


def test_project_source_uses_its_training_settings(mlp_graph, moons):
    project = Project(name="p", graph=mlp_graph,
                      training={"dataset": "moons", "epochs": 1, "batch_size": 50, "validation_split": 0.0})
    trainer = Trainer(project, moons, backend="numpy")
    assert trainer.steps_per_epoch == 4
    mlp_graph.set_param("n1", "units", 4)  # editing the document does not change the trainer's copy
    events = list(trainer.run())
    assert events[0].param_count == 2 * 16 + 16 + 16 * 2 + 2


def test_out_of_memory_stops_cleanly(mlp_graph, moons, monkeypatch):
    class OutOfMemoryError(Exception):
        pass

    trainer = Trainer(mlp_graph, moons, config(epochs=2, batch_size=64), "numpy")
    first = trainer.step_once()
    good = trainer.state_dict()

    def boom(*args, **kwargs):
        raise OutOfMemoryError("out of memory allocating 1 GB")

    monkeypatch.setattr(trainer.model, "forward", boom)
    rest = list(trainer.run())
    assert isinstance(rest[-1], RunFinished) and rest[-1].reason == "out_of_memory"
    assert "ran out of memory with batch size 64" in rest[-1].message and "smaller batch" in rest[-1].message
    assert first[-1].global_step == 1
    after = trainer.state_dict()
    assert all(np.array_equal(good[k], after[k]) for k in good)
    assert is_out_of_memory(MemoryError()) and not is_out_of_memory(ValueError())


def test_other_errors_propagate(mlp_graph, moons, monkeypatch):
    trainer = Trainer(mlp_graph, moons, config(epochs=1), "numpy")
    trainer.step_once()
    monkeypatch.setattr(trainer.model, "forward", lambda *a, **k: (_ for _ in ()).throw(ValueError("bug")))
    with pytest.raises(ValueError, match="bug"):
        list(trainer.run())


def test_captcha_style_sequence_output():
    rng = np.random.default_rng(0)
    n = 64
    y = rng.integers(0, 3, size=(n, 2))
    x = np.zeros((n, 6), dtype=np.float32)
    x[np.arange(n)[:, None], np.array([0, 3])[None, :] + y] = 1.0  # one-hot digit per position
    from nnstudio.data.dataset import Dataset
    ds = Dataset("seq", x[:48], y[:48], x[48:], y[48:], (6,), 3, ["0", "1", "2"], "multi_digit", "", "")
    graph = chain_graph([6], [("Dense", {"units": 6}), ("Reshape", {"shape": [2, 3]}),
                              ("Activation", {"function": "softmax"})])
    events = list(Trainer(graph, ds, config(dataset="seq", epochs=60, learning_rate=0.05, batch_size=16,
                                            validation_split=0.0), "numpy").run())
    finished = events[-1]
    assert finished.test_acc == 1.0
    assert finished.test_metrics["per_position"] == (1.0, 1.0)
    assert finished.test_confusion.shape == (3, 3) and finished.test_confusion.sum() == 32


def test_evaluate_function(mlp_graph, moons):
    trainer = Trainer(mlp_graph, moons, config(epochs=10), "numpy")
    finished = list(trainer.run())[-1]
    again = evaluate(trainer.model, moons.x_test, moons.y_test, "cross_entropy", "classification", 2, batch_size=7)
    assert again.n == 100
    assert again.accuracy == pytest.approx(finished.test_acc)
    assert again.loss == pytest.approx(finished.test_loss, rel=1e-5)
    assert np.array_equal(again.confusion, finished.test_confusion)


def test_training_steps_and_evaluation_are_timed_for_the_thread_choice(mlp_graph, moons, monkeypatch):
    """The trainer's own step (forward, loss, backward, update) is one timed call of the engine's thread
    tuner, per batch shape; evaluation batches are timed as forward passes."""
    from nnstudio.engine.model import Model

    calls: list[tuple] = []
    original = Model.begin_call

    def begin_call(self, key):
        calls.append(key)
        return original(self, key)

    monkeypatch.setattr(Model, "begin_call", begin_call)
    trainer = Trainer(mlp_graph, moons, config(epochs=2, batch_size=48), "numpy")
    list(trainer.run())
    steps = [k for k in calls if k[0] == "train"]
    assert len(steps) == 2 * 4  # 160 training samples: batches of 48, 48, 48 and 16, twice
    assert {k[1] for k in steps} == {(48, 2), (16, 2)}
    assert any(k[0] == "eval" for k in calls)
