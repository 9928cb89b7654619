"""The thread-count tuner: it keeps what is faster, measures again when calls drift, and changes nothing
when there is nothing to choose.  Timings come from a fake clock, so these tests are exact."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine import parallel, threads
from nnstudio.engine.threads import (DRIFT, FIRST_LOOK, MAX_PATIENCE, MAX_RECHECK, RECHECK, RETUNE_SECONDS, ROUNDS, WARM_UP,
                                     WINDOW, Tuner)


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


def run(machine: FakeMachine, tuner: Tuner, calls: int, key: object = "step") -> list[int]:
    """``calls`` calls; returns the thread count each ran on."""
    counts = []
    for _ in range(calls):
        machine.call(tuner, key)
        counts.append(machine.threads)
    return counts


def test_starts_on_all_threads_and_keeps_them_when_they_are_faster() -> None:
    machine = FakeMachine({1: 0.010, 2: 0.006})
    tuner = machine.tuner()
    counts = run(machine, tuner, 300)
    assert counts[:WARM_UP + FIRST_LOOK] == [2] * (WARM_UP + FIRST_LOOK)  # no measuring to begin with
    assert tuner.choice("step") == 2
    assert 0 < counts.count(1) <= 2 * 6  # glances: one untimed and one timed call each, ever more rarely


def test_chooses_one_thread_soon_when_it_is_clearly_faster() -> None:
    machine = FakeMachine({1: 0.005, 2: 0.019})  # a busy machine: two threads take turns with another program
    tuner = machine.tuner()
    counts = run(machine, tuner, WARM_UP + FIRST_LOOK + 2 + 4)  # a glance, then a measurement cut short
    assert tuner.choice("step") == 1
    assert counts[-1] == 1
    assert run(machine, tuner, 100).count(1) >= 90  # a few glances at two threads, ever fewer


def test_a_near_tie_keeps_all_threads() -> None:
    """Fewer threads must win by the margin: flip-flopping would change results between runs."""
    machine = FakeMachine({1: 0.0096, 2: 0.0100})
    tuner = machine.tuner()
    counts = run(machine, tuner, 400)
    assert tuner.choice("step") == 2
    assert counts.count(1) <= 2 * 7


def test_short_calls_prefer_fewer_threads_unless_more_are_clearly_faster() -> None:
    """Under SMALL_CALL (one image through a small network), a near tie goes to one thread: the second's
    busy-wait would hold a core for nothing."""
    machine = FakeMachine({1: 0.00020, 2: 0.00019})  # two threads 5 % faster: not enough
    tuner = machine.tuner()
    counts = run(machine, tuner, 400)
    assert tuner.choice("step") == 1
    assert counts[-100:].count(2) <= 2 * 3  # glances at two threads, ever more rarely
    machine = FakeMachine({1: 0.00030, 2: 0.00020})  # two threads a third faster: kept
    tuner = machine.tuner()
    counts = run(machine, tuner, 400)
    assert tuner.choice("step") == 2
    assert counts.count(1) <= 2 * 7
    assert threads.SMALL_CALL > 0.00030


def test_each_kind_of_call_is_measured_on_its_own() -> None:
    machine = FakeMachine({1: 0.001, 2: 0.004})
    tuner = machine.tuner()
    run(machine, tuner, 60, "small")
    assert tuner.choice("small") == 1
    assert tuner.choice("big") is None
    machine.cost = {1: 0.020, 2: 0.011}
    run(machine, tuner, 60, "big")
    assert (tuner.choice("small"), tuner.choice("big")) == (1, 2)


def test_a_machine_that_gets_busy_is_noticed() -> None:
    machine = FakeMachine({1: 0.010, 2: 0.006})
    tuner = machine.tuner()
    run(machine, tuner, 200)
    assert tuner.choice("step") == 2
    machine.cost = {1: 0.010, 2: 0.006 * DRIFT * 3}  # another program now holds a core
    counts = run(machine, tuner, MAX_PATIENCE + WINDOW + 2 + 2 * 2 * ROUNDS)
    assert tuner.choice("step") == 1 and counts[-1] == 1


def test_a_choice_made_during_a_brief_disturbance_is_corrected_soon() -> None:
    """Two threads looked slow while something else held the CPU; once it is quiet again, a glance finds
    them faster and a measurement switches back."""
    machine = FakeMachine({1: 0.010, 2: 0.030})
    tuner = machine.tuner()
    run(machine, tuner, 60)
    assert tuner.choice("step") == 1
    machine.cost = {1: 0.010, 2: 0.006}  # quiet again; the one-thread calls themselves do not drift
    run(machine, tuner, 2 * RECHECK + 2 * WINDOW + 2 * 2 * ROUNDS + 4)
    assert tuner.choice("step") == 2


def test_erratic_calls_do_not_keep_the_tuner_measuring() -> None:
    """On a busy machine calls come slow and fast; glances and measurements must get rarer."""
    machine = FakeMachine({1: 0.005, 2: 0.020})
    tuner = machine.tuner()
    run(machine, tuner, 60)
    off_choice = 0
    for i in range(4000):
        machine.cost[1] = 0.005 if i % 40 < 20 else 0.005 * DRIFT * 1.2  # slow and fast stretches
        machine.call(tuner)
        off_choice += machine.threads != 1
    assert tuner.choice("step") in (1, None)
    assert off_choice <= 4000 * 0.06, off_choice


def test_measures_again_after_a_while() -> None:
    machine = FakeMachine({1: 0.010, 2: 0.006})
    tuner = machine.tuner()
    run(machine, tuner, 2000)  # glances are far apart by now
    machine.now += RETUNE_SECONDS + 1
    assert 1 in run(machine, tuner, WINDOW + 2)


def test_a_clear_loser_ends_the_measurement_after_one_round() -> None:
    """Two threads ten times slower than one: after the glance, one timed call of each settles it."""
    machine = FakeMachine({1: 0.015, 2: 0.200})
    tuner = machine.tuner()
    counts = run(machine, tuner, WARM_UP + FIRST_LOOK + 2 + 4)
    assert tuner.choice("step") == 1
    assert counts[WARM_UP + FIRST_LOOK:] == [1, 1, 2, 2, 1, 1]  # the glance, then round one of the measurement


def test_glances_that_confirm_the_choice_come_ever_more_rarely() -> None:
    machine = FakeMachine({1: 0.010, 2: 0.006})
    tuner = machine.tuner()
    counts = run(machine, tuner, 3000)  # 18 s of calls: no periodic glance yet
    assert tuner.choice("step") == 2
    assert 0 < counts.count(1) <= 2 * 8  # RECHECK, 2 RECHECK, 4 RECHECK, ... calls apart, two calls each
    assert MAX_RECHECK >= 512 and MAX_PATIENCE >= 4 * WINDOW


def test_a_call_during_which_another_thread_changed_the_count_is_not_timed() -> None:
    """The count is one setting for the process: a prediction in the window during a training step changes it
    under the step's feet.  Such a step's time must not steer the step's own choice."""
    machine = FakeMachine({1: 0.004, 2: 0.002})
    changes = [0]
    tuner = Tuner(clock=machine.clock, counts=lambda: (1, 2), apply=machine.apply, changed=lambda: changes[0])
    run(machine, tuner, 200)
    assert tuner.choice("step") == 2
    # From now on every call is disturbed, and looks terribly slow: the tuner keeps its choice and measures
    # nothing.
    for _ in range(200):
        started = tuner.start("step")
        changes[0] += 1
        machine.now += 1.0
        tuner.stop("step", started)
    assert tuner.choice("step") == 2 and machine.threads == 2
    shape = tuner._shapes["step"]  # noqa: SLF001
    assert not shape.schedule and max(shape.recent) < 0.01
    # A glance that was under way when a call was disturbed makes that call again.
    shape.calls, shape.recheck = shape.recheck - 1, 1
    machine.call(tuner)  # starts a glance at one thread
    assert shape.schedule and shape.peeking
    planned = list(shape.schedule)
    started = tuner.start("step")
    changes[0] += 1
    tuner.stop("step", started)
    assert shape.schedule == planned


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
        seen = threads.changes()  # every change is counted (a call that sees the count move is not timed) ...
        threads.use(2)
        assert threads.changes() == seen  # ... and setting the same count again is no change
        threads.use(1)
        assert threads.changes() == seen + 1
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
