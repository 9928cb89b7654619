"""Element-wise work split over threads (nnstudio.engine.parallel): the parts cover the work exactly once,
errors come back, nested work does not deadlock, and a whole CNN computes exactly the same with its layers'
work split into parts as without."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from nnstudio.engine import parallel
from nnstudio.engine.layers import Activation, BatchNorm, Conv2D, Dense, Flatten, Pool2D
from nnstudio.engine.model import Model, ModelNode


@pytest.fixture
def split_everything(monkeypatch):
    """Split every operation, however small, into up to three parts."""
    monkeypatch.setattr(parallel, "MIN_VALUES", 1)
    monkeypatch.setattr(parallel, "threads", lambda: 3)


@pytest.mark.parametrize("count,parts", [(10, 3), (2, 3), (7, 1), (0, 2), (100, 8)])
def test_split_covers_the_range_once_in_order(count, parts):
    ranges = parallel.split(count, parts)
    assert [i for a, b in ranges for i in range(a, b)] == list(range(count))
    assert len(ranges) <= max(parts, 1)


def test_parts_run_on_several_threads_and_return_in_order(split_everything):
    names = []

    def part(a, b):
        names.append(threading.current_thread().name)
        return (a, b)

    assert parallel.run_parts(part, 9, 3) == [(0, 3), (3, 6), (6, 9)]
    assert len(set(names)) >= 2


def test_an_error_in_a_part_is_raised_after_every_part_finished(split_everything):
    done = []

    def part(a, b):
        if a == 3:
            raise ValueError("part 2 failed")
        done.append(a)

    with pytest.raises(ValueError, match="part 2 failed"):
        parallel.run_parts(part, 9, 3)
    assert sorted(done) == [0, 6]


def test_work_started_inside_a_part_runs_there(split_everything):
    def inner(a, b):
        return parallel.parts_for(np.zeros(10), 10)

    assert parallel.run_parts(inner, 6, 3) == [1, 1, 1]
    assert parallel.parts_for(np.zeros(10), 10) == 3


def test_small_and_non_numpy_arrays_are_not_split():
    assert parallel.parts_for(np.zeros(10), 10) == 1
    assert parallel.parts_for([0.0] * (1 << 20), 8) == 1


def _cnn():
    nodes = [ModelNode("conv1", Conv2D(6, 3, padding=1), ["input"]),
             ModelNode("bn1", BatchNorm(), ["conv1"]),
             ModelNode("relu1", Activation("relu"), ["bn1"]),
             ModelNode("pool1", Pool2D("max", 2), ["relu1"]),
             ModelNode("conv2", Conv2D(5, (3, 2), stride=(1, 2), padding=(1, 0)), ["pool1"]),
             ModelNode("leaky", Activation("leaky_relu"), ["conv2"]),
             ModelNode("pool2", Pool2D("avg", 3, 1, 1), ["leaky"]),
             ModelNode("pool3", Pool2D("max", 3, 2, 1), ["pool2"]),
             ModelNode("flat", Flatten(), ["pool3"]),
             ModelNode("dense", Dense(4), ["flat"])]
    return Model(nodes, "input", "dense").build((1, 12, 14), np, seed=2, dtype=np.float64)


def _run(model, x, g):
    out = model.forward(x, training=True)
    dx = model.backward(g, need_input_grad=True)
    return out, dx, [grad.copy() for _k, _p, grad in model.parameters()]


def test_a_cnn_gives_the_same_numbers_split_into_parts(monkeypatch):
    x = np.random.default_rng(0).normal(size=(5, 1, 12, 14))
    g = np.random.default_rng(1).normal(size=(5, 4))
    serial = _run(_cnn(), x, g)
    monkeypatch.setattr(parallel, "MIN_VALUES", 1)
    monkeypatch.setattr(parallel, "threads", lambda: 3)
    split = _run(_cnn(), x, g)
    np.testing.assert_array_equal(split[0], serial[0])
    np.testing.assert_array_equal(split[1], serial[1])
    for a, b in zip(split[2], serial[2]):
        np.testing.assert_array_equal(a, b)


def test_openblas_threads_are_told_to_sleep_soon_unless_the_user_chose(tmp_path):
    import os
    import subprocess
    import sys

    code = "import os, nnstudio; print(os.environ['OPENBLAS_THREAD_TIMEOUT'])"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "20"
    env["OPENBLAS_THREAD_TIMEOUT"] = "25"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "25"
