"""Hint rules on crafted event streams: each fires on its symptom, stays quiet on healthy runs, fires once.

Real runs (the shipped examples) are in test_hint_acceptance.py; these pin down each rule's edges."""
from __future__ import annotations

import numpy as np

from nnstudio.training.events import BatchReport, EpochReport, ProbeReport, RunStarted
from nnstudio.training.hints import HintMonitor, NetworkFacts, facts_from_model

from .conftest import chain_graph


def facts(**kw) -> NetworkFacts:
    base = dict(loss="cross_entropy", learning_rate=0.01, output_id="out", output_activation="softmax",
                activations={"a1": "relu", "a2": "sigmoid", "out": "softmax"}, param_layers=["d1", "d2", "d3"],
                layer_types={"d1": "Dense", "a1": "Activation", "d2": "Dense", "a2": "Activation", "d3": "Dense",
                             "out": "Activation"},
                dropout_after="a2", is_image=True)
    base.update(kw)
    return NetworkFacts(**base)


def batch(step: int, loss: float, norms: dict[str, float] | None = None) -> BatchReport:
    return BatchReport(1, step, step, loss, 0.5, 0.01, 1000.0, norms, 1.0)


def epoch(n: int, train_loss: float, train_acc: float, val_loss: float, val_acc: float) -> EpochReport:
    return EpochReport(n, train_loss, train_acc, val_loss, val_acc, None, 1.0)


def started() -> RunStarted:
    return RunStarted(3, 10, 100, 10, "NumPy", 100)


def test_healthy_run_gives_no_hints():
    monitor = HintMonitor(facts())
    rng = np.random.default_rng(0)
    events = [started()]
    for s in range(1, 200):
        norms = {"d1": 0.5 + 0.1 * rng.random(), "d2": 0.3 + 0.1 * rng.random(), "d3": 0.2 + 0.1 * rng.random()}
        events.append(batch(s, 2.0 / (1 + 0.05 * s) + 0.05 * rng.random(), norms))
    events += [epoch(1, 1.0, 0.7, 1.0, 0.7), epoch(2, 0.6, 0.8, 0.62, 0.79), epoch(3, 0.4, 0.88, 0.42, 0.87),
               epoch(4, 0.3, 0.9, 0.33, 0.89)]
    probe = {"a1": np.abs(rng.normal(size=(16, 20))), "out": rng.random((16, 10))}
    events.append(ProbeReport(probe, 10))
    assert monitor.observe_all(events) == []


def test_nan_loss_suggests_lower_learning_rate():
    monitor = HintMonitor(facts(learning_rate=0.5))
    hints = monitor.observe(batch(3, float("nan")))
    assert len(hints) == 1 and hints[0].kind == "learning_rate"
    assert "NaN" in hints[0].text and "0.5" in hints[0].text
    assert hints[0].fix == {"learning_rate": 0.05, "clip_norm": 1.0}
    assert monitor.observe(batch(4, float("inf"))) == []  # once per run


def test_rising_loss_suggests_lower_learning_rate():
    monitor = HintMonitor(facts(learning_rate=0.3, clip_norm=5.0))
    losses = [1.0 - 0.01 * i for i in range(20)] + [0.8 + 0.02 * i for i in range(60)]  # rises for 60 batches
    hints = monitor.observe_all(batch(i + 1, v) for i, v in enumerate(losses))
    assert [h.kind for h in hints] == ["learning_rate"]
    assert "rising" in hints[0].text and hints[0].fix == {"learning_rate": 0.03}
    assert hints[0].step == 80 and hints[0].epoch == 1


def test_one_rising_window_is_not_a_trend():
    # A resumed run: the fresh optimiser jolts a small loss up for a while, then it settles again.
    losses = [0.05] * 20 + [0.15] * 20 + [0.12] * 20 + [0.08] * 20 + [0.06] * 40
    assert HintMonitor(facts()).observe_all(batch(i + 1, v) for i, v in enumerate(losses)) == []
    # Nor does a rise that stays small next to the loss at the start.
    losses = [2.0] * 20 + [0.02] * 20 + [0.03] * 20 + [0.04] * 20 + [0.05] * 20
    assert HintMonitor(facts()).observe_all(batch(i + 1, v) for i, v in enumerate(losses)) == []


def test_noisy_small_loss_is_not_rising():
    monitor = HintMonitor(facts())
    losses = [2.0] * 20 + [0.02] * 20 + [0.05] * 20  # jitter of a loss that already fell a hundredfold
    assert monitor.observe_all(batch(i + 1, v) for i, v in enumerate(losses)) == []


def test_dead_relu_from_probe():
    monitor = HintMonitor(facts())
    a = np.abs(np.random.default_rng(1).normal(size=(32, 10)))
    a[:, :7] = 0.0  # 7 of 10 units never fire
    assert monitor.observe(ProbeReport({"a1": a}, 50)) == []  # one probe could catch a bad moment
    hints = monitor.observe(ProbeReport({"a1": a}, 100))
    assert len(hints) == 1 and hints[0].kind == "dead_relu" and hints[0].node_id == "a1"
    assert "70%" in hints[0].text and "resets the trained weights" in hints[0].text
    assert hints[0].fix == {"nodes": {"a1": {"function": "leaky_relu"}}, "reset_weights": True}
    assert monitor.observe(ProbeReport({"a1": a}, 150)) == []


def test_dead_relu_counts_channels_of_feature_maps():
    monitor = HintMonitor(facts())
    a = np.ones((8, 4, 5, 5))
    a[:, :2] = 0.0  # half the channels: not more than half
    assert monitor.observe(ProbeReport({"a1": a}, 1)) == []
    a[:, 2, :, :] = 0.0
    a[0, 2, 0, 0] = 1.0  # one channel fires for one pixel of one sample: alive
    assert monitor.observe(ProbeReport({"a1": a}, 2)) == []
    a[0, 2, 0, 0] = 0.0
    assert monitor.observe(ProbeReport({"a1": a}, 3)) == []
    assert [h.kind for h in monitor.observe(ProbeReport({"a1": a}, 4))] == ["dead_relu"]


OVERFITTING = [epoch(1, 0.9, 0.70, 0.80, 0.72), epoch(2, 0.5, 0.85, 0.60, 0.80), epoch(3, 0.3, 0.92, 0.62, 0.81),
               epoch(4, 0.2, 0.95, 0.64, 0.80), epoch(5, 0.1, 0.98, 0.66, 0.80), epoch(6, 0.05, 0.99, 0.70, 0.80)]


def test_overfitting_from_epochs():
    monitor = HintMonitor(facts())
    monitor.observe(RunStarted(6, 10, 1000, 500, "NumPy", 100))
    hints = monitor.observe_all(OVERFITTING)
    assert [(h.kind, h.epoch) for h in hints] == [("overfitting", 6)]
    assert "99.0%" in hints[0].text and "80.0%" in hints[0].text and "since epoch 2" in hints[0].text
    assert hints[0].fix == {"insert": [{"type": "Dropout", "params": {"rate": 0.3}, "after": "a2"}], "augment": True}


def test_overfitting_with_idle_dropout_switches_it_on():
    monitor = HintMonitor(facts(idle_dropouts=["drop"], is_image=False))
    hints = monitor.observe_all(OVERFITTING)
    assert hints[0].fix == {"nodes": {"drop": {"rate": 0.5}}}


def test_no_overfitting_on_a_plateau_or_within_a_small_validation_sets_noise():
    plateau = [epoch(1, 0.9, 0.70, 0.80, 0.72), epoch(2, 0.5, 0.85, 0.50, 0.85)] + \
        [epoch(n, 0.5 - 0.01 * (n % 2), 0.85, 0.55 + 0.01 * n, 0.84) for n in range(3, 9)]
    assert HintMonitor(facts()).observe_all(plateau) == []
    noisy = HintMonitor(facts())  # 40 validation samples: one sample is 2.5 %
    noisy.observe(RunStarted(6, 10, 360, 40, "NumPy", 100))
    assert noisy.observe_all([epoch(1, 0.6, 0.70, 0.5, 0.75), epoch(2, 0.3, 0.92, 0.09, 0.97),
                              epoch(3, 0.08, 0.97, 0.10, 0.95), epoch(4, 0.05, 0.99, 0.13, 0.93),
                              epoch(5, 0.07, 0.97, 0.11, 0.93), epoch(6, 0.03, 0.99, 0.13, 0.95)]) == []


def test_no_overfitting_when_validation_keeps_up_or_nothing_learns():
    monitor = HintMonitor(facts())
    assert monitor.observe_all([epoch(1, 0.9, 0.70, 0.85, 0.71), epoch(2, 0.6, 0.80, 0.60, 0.79),
                                epoch(3, 0.4, 0.90, 0.42, 0.88), epoch(4, 0.3, 0.95, 0.35, 0.92)]) == []
    stuck = HintMonitor(facts())  # validation jitters while the training loss does not move
    assert stuck.observe_all([epoch(1, 0.69, 0.50, 0.66, 0.45), epoch(2, 0.69, 0.52, 0.70, 0.40),
                              epoch(3, 0.69, 0.55, 0.88, 0.35)]) == []


def test_vanishing_gradients_names_the_layer_and_suggests_relu_he():
    monitor = HintMonitor(facts())
    hints = []
    for s in range(1, 41):  # the loss does not move: the first layers' tiny gradients matter
        hints += monitor.observe(batch(s, 0.7, {"d1": 3e-9, "d2": 1e-5, "d3": 0.5}))
    assert [h.kind for h in hints] == ["vanishing_gradients"]
    h = hints[0]
    assert h.node_id == "d1" and "'d1' and 'd2'" in h.text
    assert "ReLU" in h.text and "He" in h.text and "BatchNorm" in h.text and "resets the trained weights" in h.text
    assert h.fix["nodes"]["a2"] == {"function": "relu"}
    assert h.fix["nodes"]["d1"] == {"init": "he"} and h.fix["reset_weights"] is True


def test_vanishing_relative_to_the_others():
    monitor = HintMonitor(facts())
    hints = monitor.observe_all(batch(s, 0.7, {"d1": 1e-6, "d2": 0.05, "d3": 0.1}) for s in range(1, 41))
    assert [(h.kind, h.node_id) for h in hints] == [("vanishing_gradients", "d1")]


def test_no_vanishing_while_the_loss_falls_or_when_nothing_is_left_to_learn():
    learning = HintMonitor(facts())  # a small first-layer gradient in a network that learns well
    assert learning.observe_all(batch(s, 2.0 / s, {"d1": 1e-6, "d2": 0.05, "d3": 0.1}) for s in range(1, 81)) == []
    solved = HintMonitor(facts(loss="perceptron"))  # every sample right: all gradients are exactly 0
    assert solved.observe_all([batch(s, 1.0, {"d1": 0.1, "d2": 0.1, "d3": 0.1}) for s in range(1, 21)] +
                              [batch(s, 0.0, {"d1": 0.0, "d2": 0.0, "d3": 0.0}) for s in range(21, 81)]) == []


def test_exploding_gradients():
    monitor = HintMonitor(facts(learning_rate=1.0))
    hints = monitor.observe_all(batch(s, loss, {"d1": v, "d2": 0.5, "d3": 0.5}) for s, (loss, v) in
                                enumerate([(1.0, 0.5), (0.9, 0.6), (0.9, 0.55), (0.8, 0.7), (5.0, 40.0),
                                           (80.0, 900.0)], start=1))
    assert [(h.kind, h.node_id, h.step) for h in hints] == [("exploding_gradients", "d1", 6)]
    assert hints[0].fix == {"learning_rate": 0.1, "clip_norm": 1.0}
    assert "clipping" in hints[0].text


def test_a_gradient_spike_that_leaves_the_loss_alone_is_not_exploding():
    # A healthy run near its end: one batch's gradient jumps 15x and its loss with it, still far below the start.
    monitor = HintMonitor(facts())
    events = [batch(s, 0.7 / s, {"d1": 0.2, "d2": 0.1, "d3": 0.1}) for s in range(1, 60)]
    events += [batch(60, 0.3, {"d1": 3.0, "d2": 1.5, "d3": 1.0}), batch(61, 0.25, {"d1": 3.2, "d2": 1.4, "d3": 1.0})]
    assert monitor.observe_all(events) == []


def test_exploding_on_infinite_norm_and_not_on_noise():
    noisy = HintMonitor(facts())
    values = [0.03, 0.3, 0.05, 0.4, 0.02, 0.35, 0.04]  # swings by 10x, never leaves its range
    assert noisy.observe_all(batch(s, 1.0, {"d1": v, "d2": 0.5, "d3": 0.5}) for s, v in enumerate(values, 1)) == []
    monitor = HintMonitor(facts())
    hints = monitor.observe(batch(1, 1.0, {"d1": 0.5, "d2": float("inf"), "d3": 0.5}))
    assert [(h.kind, h.node_id) for h in hints] == [("exploding_gradients", "d2")] and "infinite" in hints[0].text


def test_loss_and_output_activation_mismatch():
    cases = [("cross_entropy", "sigmoid", {"nodes": {"out": {"function": "softmax"}}}),
             ("binary_cross_entropy", "softmax", {"loss": "cross_entropy"}),
             ("binary_cross_entropy", "relu", {"nodes": {"out": {"function": "sigmoid"}}}),
             ("perceptron", "sigmoid", {"nodes": {"out": {"function": "sign"}}}),
             ("hinge", "softmax", {"nodes": {"out": {"function": "linear"}}})]
    for loss, act, fix in cases:
        hints = HintMonitor(facts(loss=loss, output_activation=act)).observe(started())
        assert [h.kind for h in hints] == ["loss_activation"], (loss, act)
        if "nodes" in fix:  # a new output activation: the trained weights start afresh, and the text says so
            fix = dict(fix, reset_weights=True)
            assert "resets the trained weights" in hints[0].text
        assert hints[0].node_id == "out" and hints[0].fix == fix and act in hints[0].text
    for loss, act in (("cross_entropy", "softmax"), ("binary_cross_entropy", "sigmoid"), ("perceptron", "sign"),
                      ("mse", None)):
        assert HintMonitor(facts(loss=loss, output_activation=act)).observe(started()) == []


def test_facts_from_a_model():
    from nnstudio.graph.compile import compile_graph

    graph = chain_graph([4], [("Dense", {"units": 8}), ("Activation", {"function": "sigmoid"}),
                              ("Dropout", {"rate": 0.0}), ("Dense", {"units": 3}),
                              ("Activation", {"function": "softmax"})])
    model = compile_graph(graph, "numpy")
    f = facts_from_model(model, "cross_entropy", 0.01)
    assert f.output_id == "n5" and f.output_activation == "softmax"
    assert f.param_layers == ["n1", "n4"] and f.activations == {"n2": "sigmoid", "n5": "softmax"}
    assert f.dropout_after == "n3" and f.idle_dropouts == ["n3"] and not f.has_dropout
