"""The thread-count tuner: it keeps what is faster, measures again when calls drift, and changes nothing
when there is nothing to choose.  Timings come from a fake clock, so these tests are exact."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine import parallel, threads
from nnstudio.engine.threads import DRIFT, MAX_PATIENCE, RETUNE_SECONDS, ROUNDS, WARM_UP, WINDOW, Tuner


class FakeMachine:
    """A clock that advances by the cost of each call, which depends on the thread count in use."""

    def __init__(self, cost: dict[int, float]) -> None:
        self.cost = dict(cost)
        self.now = 100.0
        self.threads = max(cost)
        self.applied: list[int] = []

    def clock(self) -> float:
        return self.now

    def apply(self, count: int) -> None:
        self.threads = count
        self.applied.append(count)

    def tuner(self) -> Tuner:
        return Tuner(clock=self.clock, counts=lambda: tuple(sorted(self.cost)), apply=self.apply)

    def call(self, tuner: Tuner, key: object = "step") -> None:
        started = tuner.start(key)
        self.now += self.cost[self.threads]
        tuner.stop(key, started)


MEASURE_CALLS = WARM_UP + 2 * 2 * ROUNDS  # two candidates, each call after a switch untimed


def test_keeps_all_threads_when_they_are_faster() -> None:
    machine = FakeMachine({1: 0.010, 2: 0.006})
    tuner = machine.tuner()
    for _ in range(MEASURE_CALLS):
        assert tuner.choice("step") is None  # still measuring
        machine.call(tuner)
    assert tuner.choice("step") == 2
    machine.call(tuner)
    assert machine.threads == 2
    assert set(machine.applied) == {1, 2}  # both were tried


def test_chooses_one_thread_when_it_is_clearly_faster() -> None:
    machine = FakeMachine({1: 0.005, 2: 0.019})  # a busy machine: two threads take turns with another program
    tuner = machine.tuner()
    for _ in range(MEASURE_CALLS):
        machine.call(tuner)
    assert tuner.choice("step") == 1
    machine.call(tuner)
    assert machine.threads == 1


def test_a_near_tie_keeps_all_threads() -> None:
    """Fewer threads must win by the margin: flip-flopping would change results between runs."""
    machine = FakeMachine({1: 0.0096, 2: 0.0100})
    tuner = machine.tuner()
    for _ in range(MEASURE_CALLS):
        machine.call(tuner)
    assert tuner.choice("step") == 2


def test_each_kind_of_call_is_measured_on_its_own() -> None:
    machine = FakeMachine({1: 0.001, 2: 0.004})
    tuner = machine.tuner()
    for _ in range(MEASURE_CALLS):
        machine.call(tuner, "small")
    assert tuner.choice("small") == 1
    assert tuner.choice("big") is None
    machine.cost = {1: 0.020, 2: 0.011}
    for _ in range(MEASURE_CALLS):
        machine.call(tuner, "big")
    assert (tuner.choice("small"), tuner.choice("big")) == (1, 2)


def test_a_machine_that_gets_busy_is_measured_again() -> None:
    machine = FakeMachine({1: 0.010, 2: 0.006})
    tuner = machine.tuner()
    for _ in range(MEASURE_CALLS + WINDOW):
        machine.call(tuner)
    assert tuner.choice("step") == 2
    machine.cost = {1: 0.010, 2: 0.006 * DRIFT * 2}  # another program now holds a core
    for _ in range(WINDOW):
        machine.call(tuner)
    assert tuner.choice("step") is None  # the drift started a new measurement
    for _ in range(2 * 2 * ROUNDS):
        machine.call(tuner)
    assert tuner.choice("step") == 1


def test_confirmed_choices_wait_longer_before_the_next_measurement() -> None:
    """Erratic calls on a busy machine must not keep the tuner measuring."""
    machine = FakeMachine({1: 0.005, 2: 0.020})
    tuner = machine.tuner()
    for _ in range(MEASURE_CALLS):
        machine.call(tuner)
    measurements = 1
    calls = 0
    for _ in range(4000):
        machine.cost[1] = 0.005 if calls % 40 < 20 else 0.005 * DRIFT * 1.2  # slow and fast stretches
        was_measuring = tuner.choice("step") is None
        machine.call(tuner)
        calls += 1
        if not was_measuring and tuner.choice("step") is None:
            measurements += 1
    assert tuner.choice("step") in (1, None)
    assert measurements <= 12  # patience doubles: WINDOW, 2*WINDOW, ... up to MAX_PATIENCE calls
    assert MAX_PATIENCE >= 64 * WINDOW


def test_measures_again_after_a_while() -> None:
    machine = FakeMachine({1: 0.010, 2: 0.006})
    tuner = machine.tuner()
    for _ in range(MEASURE_CALLS + WINDOW):
        machine.call(tuner)
    machine.now += RETUNE_SECONDS + 1
    for _ in range(WINDOW):
        machine.call(tuner)
    assert tuner.choice("step") is None


def test_nothing_to_choose_sets_nothing() -> None:
    applied: list[int] = []
    tuner = Tuner(counts=lambda: (4,), apply=applied.append)
    for _ in range(50):
        tuner.stop("step", tuner.start("step"))
    assert applied == [] and tuner.choice("step") is None


def test_an_unmatched_stop_is_ignored() -> None:
    machine = FakeMachine({1: 0.01, 2: 0.006})
    tuner = machine.tuner()
    tuner.stop("never started", 0.0)
    assert tuner.choice("never started") is None


def test_the_environment_fixes_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert threads.fixed_by_environment()
    assert threads.candidates() == (3,)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads.candidates() == (1,)


def test_candidates_without_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(threads, "controllable", lambda: True)
    for cores, expected in ((1, (1,)), (2, (1, 2)), (4, (1, 2, 4)), (8, (1, 4, 8))):
        monkeypatch.setattr(threads, "blas_threads", lambda cores=cores: cores)
        assert threads.candidates() == expected
    monkeypatch.setattr(threads, "controllable", lambda: False)
    assert threads.candidates() == (8,)


def test_numpys_blas_is_controllable_and_use_sets_it() -> None:
    """The BLAS of NumPy's wheels (OpenBLAS) is found, and use() changes its thread count and the
    element-wise split's."""
    assert threads.controllable()
    before = threads.current()
    try:
        threads.use(1)
        assert [c.get_num_threads() for c in threads._blas_controllers()] == [1]  # noqa: SLF001
        assert parallel.threads() == 1
        threads.use(2)
        assert [c.get_num_threads() for c in threads._blas_controllers()] == [2]  # noqa: SLF001
        assert parallel.threads() == 2
    finally:
        threads.use(before)


def test_a_model_tunes_its_training_step_and_its_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    from nnstudio.engine.layers import Activation, Dense
    from nnstudio.engine.losses import get_loss
    from nnstudio.engine.model import Model, ModelNode
    from nnstudio.engine.optimizers import make_optimizer

    model = Model([ModelNode("in", None), ModelNode("d", Dense(4), ["in"]),
                   ModelNode("out", Activation("softmax"), ["d"])], "in", "out").build((3,), np, seed=0)
    seen: list[object] = []
    original_start = model.threads.start

    def start(key: object) -> float:
        seen.append(key)
        return original_start(key)

    monkeypatch.setattr(model.threads, "start", start)
    x, y = np.ones((5, 3), np.float32), np.array([0, 1, 2, 3, 0])
    model.train_step(x, y, get_loss("cross_entropy"), make_optimizer("sgd", 0.1))
    model.forward(x[:1])
    model.forward(x, training=True)  # a forward inside someone's own step is not timed on its own
    assert seen == [("train", (5, 3)), ("eval", (1, 3), False)]


def test_a_clear_loser_ends_the_measurement_after_one_round() -> None:
    """Two threads ten times slower than one (a busy machine): decided after one timed call of each."""
    machine = FakeMachine({1: 0.015, 2: 0.200})
    tuner = machine.tuner()
    calls = 0
    while tuner.choice("step") is None:
        machine.call(tuner)
        calls += 1
    assert tuner.choice("step") == 1
    assert calls == WARM_UP + 4  # untimed + timed at two threads, untimed + timed at one
    assert machine.applied.count(2) == 2  # only the first round's two calls: the warm-up runs on one thread
