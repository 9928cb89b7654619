"""How many threads the engine's CPU work runs on, chosen by measuring it.

NumPy's BLAS (OpenBLAS in NumPy's wheels) multiplies matrices on every core the process may use, and its
threads busy-wait for the next product.  That is fastest for the big products of a training step on a quiet
machine, and much slower in two cases measured on a 2-core machine:

* **small calls**: one image through the mnist-cnn example took 161 µs on one thread against 174-416 µs on two;
* **a busy machine**: with another program running on one of the two cores, a LeNet-5 training step took
  19.4 ms on two threads against 5.5 ms on one (MLP 4.1 against 1.6 ms, mnist-cnn 39 against 17 ms).  The
  busy-waiting threads and the other program take turns on the same core.

So a model times its own calls: a training step, or a forward pass, for each batch shape separately
(:class:`Tuner`).  A shape starts on all the threads.  Now and then it glances at the other counts (one, and
half the threads from four up): one timed call each, after :data:`FIRST_LOOK` calls, then :data:`RECHECK`
calls later and twice as many calls later each time the choice holds, and soon after the calls get :data:`DRIFT` times slower or faster (the
machine got busier or quieter) or :data:`RETUNE_SECONDS` passed.  Only when a glance finds a count at least
:data:`MARGIN` faster does a full measurement follow: :data:`ROUNDS` alternating timed calls per count (a
count :data:`CLEAR` times slower is out after one), after which the shape keeps all the threads unless fewer
are at least :data:`MARGIN` faster.  On a quiet machine that costs one slower call after 7, 23, 55, ...
calls.  (A full measurement at the start of every shape, tried first, cost the bench's short captcha-cnn
runs a fifth of their speed.)  Calls shorter than :data:`SMALL_CALL` lean the other way: a glance at fewer
threads that finds them about as fast measures in full, and more threads are kept only when at least
:data:`MARGIN` faster.

The count applies to the BLAS, through ``threadpoolctl``, and to the engine's own element-wise split
(:mod:`.parallel`).  It is one setting for the whole process, while each model tunes its own calls: a call
during which another thread changed it (:func:`changes`) is not timed.  Setting ``OMP_NUM_THREADS`` (or ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``) fixes it:
then nothing is measured.  CuPy arrays are never tuned.

Results: for a given shape OpenBLAS may round differently on one thread than on two (a product of
(128, 784) by (784, 256) differs in the last bits), so two runs with the same seed are identical when their
thread choices were (and their first convolutions' timed choices, see :class:`.layers.conv.RowsOrWhole`);
on a quiet machine a training step keeps all the threads (two were 20-40 % faster than one there).  ``OMP_NUM_THREADS`` makes runs reproducible on a busy machine too.
"""
from __future__ import annotations

import os
import statistics
import threading
import time
from collections import OrderedDict, deque
from typing import Any, Callable, Hashable

from nnstudio.engine.backend import blas_threads

MARGIN = 0.10  # fewer threads are chosen only when at least this much faster (steady results, no flip-flopping)
# ... except for calls shorter than this, where more threads are chosen only when at least MARGIN faster: one
# image through mnist-cnn took 0.151-0.153 ms on one thread against 0.162-0.188 ms on two (three alternated
# processes each), LeNet-5's and the MLP's took the same on both, and a second thread's busy-wait after each
# product holds a core the window could use (the drawing canvas asks for an answer at every stroke).
SMALL_CALL = 0.001
DRIFT = 1.5  # calls this many times slower (or faster) than the reference: glance at the other counts
WINDOW = 8  # calls whose median is compared with the choice's
RETUNE_SECONDS = 30.0  # glance after this long anyway, in case the machine changed in small steps
MAX_PATIENCE = 8 * WINDOW  # at most this many calls between glances started by drift
ROUNDS = 4  # timed calls per candidate in a full measurement
FIRST_LOOK = 4  # calls of a new shape timed before the first glance
RECHECK = 16  # calls after a new choice before the other counts are glanced at; doubles while confirmed
MAX_RECHECK = 4096
CLEAR = 2.0  # a candidate whose every call took this many times the fastest call is out after one round
WARM_UP = 3  # first calls of a shape not looked at (buffers are allocated, caches and optimizer state filled)
MAX_SHAPES = 32  # shapes remembered per model (evaluation batches of many sizes come and go)
_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_lock = threading.Lock()
_controllers: list[Any] | None = None
_current: int | None = None
# How many times the count was changed.  The count is one setting for the whole process while each model tunes
# its own calls: a call during which another thread changed it (a prediction the window makes while a run
# trains) did not run at one count, and its time is not kept.
_changes = 0


def fixed_by_environment() -> bool:
    """Whether the user fixed the thread count with one of the usual environment variables."""
    return any(os.environ.get(var, "").strip() for var in _ENV_VARS)


def _blas_controllers() -> list[Any]:
    """threadpoolctl's controllers of the BLAS libraries loaded in this process ([] when there are none or
    threadpoolctl cannot inspect them)."""
    global _controllers  # noqa: PLW0603 - found once per process
    if _controllers is None:
        try:
            from threadpoolctl import ThreadpoolController  # noqa: PLC0415 - only when first needed

            _controllers = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        except Exception:  # noqa: BLE001 - an unusual BLAS or platform: the engine runs untuned
            _controllers = []
    return _controllers


def controllable() -> bool:
    """Whether the BLAS's thread count can be changed while the program runs."""
    return bool(_blas_controllers())


def candidates() -> tuple[int, ...]:
    """The thread counts a shape is measured at, fewest first; one entry when nothing is to be chosen."""
    most = blas_threads()
    if most <= 1 or fixed_by_environment() or not controllable():
        return (most,)
    counts = {1, most}
    if most >= 4:
        counts.add(most // 2)
    return tuple(sorted(counts))


def use(count: int) -> None:
    """Run the BLAS and the element-wise split on ``count`` threads from now on (cheap when unchanged)."""
    global _current, _changes  # noqa: PLW0603 - the process-wide setting
    if count == _current:
        return
    with _lock:
        for controller in _blas_controllers():
            try:
                controller.set_num_threads(count)
            except Exception:  # noqa: BLE001,S112 - a library that refuses keeps its own count
                continue
        _current = count
        _changes += 1


def changes() -> int:
    """How many times :func:`use` changed the count so far (a call that sees this move was disturbed)."""
    return _changes


def current() -> int:
    """The thread count in use now: the last :func:`use`, else all the BLAS may use."""
    return _current if _current is not None else blas_threads()


class _Shape:
    """What a tuner knows about one kind of call."""

    __slots__ = ("schedule", "samples", "choice", "reference", "recent", "decided_at", "calls", "patience",
                 "recheck", "peeking", "running", "changes")

    def __init__(self, counts: tuple[int, ...], now: float) -> None:
        self.choice = counts[-1]  # all the threads until a glance at the others says otherwise
        self.samples: dict[int, list[float]] = {}
        self.schedule: list[tuple[int, bool]] = []  # a glance or a measurement in progress
        self.peeking = False  # the schedule is a glance
        self.reference = 0.0  # typical seconds of a call at the choice (0: not known yet)
        self.recent: deque[float] = deque(maxlen=WINDOW)
        self.decided_at = now
        self.calls = -WARM_UP  # calls since the last decision; the first few are not looked at
        self.patience = WINDOW  # calls before drift may start a glance
        self.recheck = RECHECK  # calls before a glance anyway
        self.running: int | None = None  # the count the call under way was started with
        self.changes = 0  # the process's count changes when the call under way started (see changes())


def _schedule(counts: tuple[int, ...]) -> list[tuple[int, bool]]:
    """(thread count, timed?) for the calls that measure ``counts``: each round visits every count (in
    alternating order, so a drifting machine favours none), and the first call after a change is not
    timed (sleeping threads wake up, caches refill)."""
    plan: list[tuple[int, bool]] = []
    for r in range(ROUNDS):
        for count in (counts if r % 2 else counts[::-1]):
            plan += [(count, False), (count, True)]
    return plan


def _clear(samples: dict[int, list[float]]) -> bool:
    """Whether the measurement so far already settles it: every candidate timed, and the slowest :data:`CLEAR`
    times slower than the fastest in each of its calls.  On a busy machine a two-thread step can take ten
    times longer than a one-thread step; there is no need to time three more of them."""
    if len(samples) < 2 or not all(samples.values()):
        return False
    best = min(min(times) for times in samples.values())
    return any(min(times) >= best * CLEAR for times in samples.values())


class Tuner:
    """Chooses and sets the thread count for each kind of call (``key``: "train" or "eval" and the batch
    shape) of one model.  Use as ``started = tuner.start(key)`` ... ``tuner.stop(key, started)``."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter,
                 counts: Callable[[], tuple[int, ...]] = candidates,
                 apply: Callable[[int], None] = use, changed: Callable[[], int] = changes) -> None:
        self._clock, self._counts, self._apply, self._changed = clock, counts, apply, changed
        self._shapes: OrderedDict[Hashable, _Shape] = OrderedDict()
        self._only: int | None = None  # the one candidate, when there is nothing to choose

    def choice(self, key: Hashable) -> int | None:
        """The thread count chosen for ``key`` (None while a full measurement runs, or never seen)."""
        shape = self._shapes.get(key)
        return None if shape is None or (shape.schedule and not shape.peeking) else shape.choice

    def start(self, key: Hashable) -> float:
        """Set the thread count for the call ``key`` that is about to run; returns the start time."""
        if self._only is not None:  # nothing to choose: only time the call
            return self._clock()
        shape = self._shapes.get(key)
        if shape is None:
            counts = self._counts()
            if len(counts) == 1:
                self._only = counts[0]
                return self._clock()
            shape = self._shapes[key] = _Shape(counts, self._clock())
            if len(self._shapes) > MAX_SHAPES:
                self._shapes.popitem(last=False)
        else:
            self._shapes.move_to_end(key)
        count = shape.running = shape.schedule[0][0] if shape.schedule else shape.choice
        self._apply(count)
        shape.changes = self._changed()
        return self._clock()

    def stop(self, key: Hashable, started: float) -> None:
        """Record the call ``key`` that began at ``started`` (the value :meth:`start` returned)."""
        now = self._clock()
        shape = self._shapes.get(key)
        if shape is None or shape.running is None:
            return
        count, shape.running = shape.running, None
        if self._changed() != shape.changes:  # another thread changed the count during the call: its time
            return  # says nothing, and a planned timed call is made again
        seconds = now - started
        if shape.schedule:
            planned, timed = shape.schedule.pop(0)
            if timed and planned == count:
                shape.samples.setdefault(count, []).append(seconds)
            if shape.peeking:
                if not shape.schedule:
                    self._after_peek(shape, now)
            elif not shape.schedule or _clear(shape.samples):
                shape.schedule = []
                self._decide(shape, now)
            return
        shape.calls += 1
        if shape.calls <= 0:  # warming up: buffers allocated, caches and optimizer state filled
            return
        shape.recent.append(seconds)
        if not shape.reference:  # the first glance comes early: a busy machine should not wait long
            if len(shape.recent) < FIRST_LOOK:
                return
            shape.reference = statistics.median(shape.recent)
            glance = True
        elif shape.calls < shape.patience or shape.calls % WINDOW:  # look at whole windows, now and then
            return
        else:
            typical = statistics.median(shape.recent)
            drifted = typical > shape.reference * DRIFT or typical * DRIFT < shape.reference
            glance = drifted or shape.calls >= shape.recheck or now - shape.decided_at > RETUNE_SECONDS
        if glance:
            counts = self._counts()
            if len(counts) > 1:
                # A glance at the other counts, one timed call each: a machine that got busy (or quiet), or a
                # choice made while something else briefly held the CPU, is noticed at little cost.
                shape.peeking, shape.samples = True, {}
                shape.schedule = [(c, timed) for c in counts if c != shape.choice for timed in (False, True)]

    def _after_peek(self, shape: _Shape, now: float) -> None:
        """Measure in full when a glanced-at count looked faster than the choice, else wait longer."""
        shape.peeking = False
        typical = statistics.median(shape.recent) if shape.recent else shape.reference
        small = typical < SMALL_CALL

        def worth_measuring(count: int, times: list[float]) -> bool:
            if small and count < shape.choice:  # fewer threads about as fast: a short call prefers them
                return min(times) < typical * (1 + MARGIN)
            return min(times) * (1 + MARGIN) < typical

        faster = any(worth_measuring(count, times) for count, times in shape.samples.items() if times)
        shape.samples = {}
        if faster:
            counts = tuple(sorted({*self._counts(), shape.choice}))
            shape.schedule = _schedule(counts)
            return
        # The choice holds: what is typical now is the new reference, and the next glance comes later.
        shape.reference, shape.decided_at, shape.calls = typical, now, 0
        shape.recent.clear()
        shape.patience = min(shape.patience * 2, MAX_PATIENCE)
        shape.recheck = min(shape.recheck * 2, MAX_RECHECK)

    @staticmethod
    def _decide(shape: _Shape, now: float) -> None:
        medians = {count: statistics.median(times) for count, times in shape.samples.items() if times}
        if medians:
            # The preferred count (all the threads; the fewest for short calls) unless another is at least
            # MARGIN faster.
            order = sorted(medians) if min(medians.values()) < SMALL_CALL else sorted(medians, reverse=True)
            choice = order[0]
            for count in order:
                if medians[count] * (1 + MARGIN) <= medians[choice]:
                    choice = count
            # A busy machine makes calls erratic: each measurement that confirms the choice doubles the calls
            # before drift, or the next planned glance, may look again, so looking never becomes the main cost.
            confirmed = shape.reference and choice == shape.choice
            shape.patience = min(shape.patience * 2, MAX_PATIENCE) if confirmed else WINDOW
            shape.recheck = min(shape.recheck * 2, MAX_RECHECK) if confirmed else RECHECK
            shape.choice, shape.reference = choice, medians[choice]
        shape.recent.clear()
        shape.calls = 0
        shape.decided_at = now
