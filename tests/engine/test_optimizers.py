"""Optimizers (update rules, weight decay, clipping, state on the device) and learning-rate schedules."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from nnstudio.engine.backend import to_host
from nnstudio.engine.optimizers import OPTIMIZERS, global_norm, make_optimizer, make_schedule
from nnstudio.errors import UserError

LEARNING_RATES = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "adam": 0.1, "rmsprop": 0.05}


def _quadratic(xp: Any) -> tuple[Any, Any, Any]:
    """f(w) = 0.5 * sum(a * (w - c)^2), an ill-conditioned convex bowl; returns (w, a, c)."""
    a = xp.asarray(np.array([[1.0, 4.0], [0.5, 2.0]], dtype=np.float32))
    c = xp.asarray(np.array([[1.0, -2.0], [3.0, 0.5]], dtype=np.float32))
    w = xp.zeros((2, 2), dtype=np.float32)
    return w, a, c


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_each_optimizer_minimises_a_convex_quadratic(xp_backend, name):
    xp = xp_backend.xp
    w, a, c = _quadratic(xp)
    opt = make_optimizer(name, LEARNING_RATES[name])
    f = lambda: float((0.5 * a * (w - c) ** 2).sum())  # noqa: E731
    start = f()
    for _ in range(200):
        grad = a * (w - c)
        opt.step([("w", w, grad)])
    assert f() < 1e-3 * start, (name, f(), start)
    np.testing.assert_allclose(to_host(w), to_host(c), atol=0.05)
    assert w.dtype == np.float32
    for slot in opt.state.get("w", {}).values():  # state lives beside the parameter, same type
        assert type(slot) is type(w) and slot.shape == w.shape


def test_adam_first_step_matches_hand_computation(xp):
    w = xp.asarray(np.array([1.0, -2.0, 0.5]))
    g = xp.asarray(np.array([0.3, -4.0, 1e-3]))
    opt = make_optimizer("adam", 0.01, beta1=0.8, beta2=0.99, eps=1e-3)
    opt.step([("w", w, g)])
    # m1 = (1-b1) g, v1 = (1-b2) g^2; bias correction divides them back to g and g^2.
    gh = np.array([0.3, -4.0, 1e-3])
    expected = np.array([1.0, -2.0, 0.5]) - 0.01 * gh / (np.abs(gh) + 1e-3)
    np.testing.assert_allclose(to_host(w), expected, rtol=1e-12)
    # Second step with the same gradient, computed by hand.
    opt.step([("w", w, g)])
    m2 = 0.8 * 0.2 * gh + 0.2 * gh
    v2 = 0.99 * 0.01 * gh ** 2 + 0.01 * gh ** 2
    expected -= 0.01 * (m2 / (1 - 0.8 ** 2)) / (np.sqrt(v2 / (1 - 0.99 ** 2)) + 1e-3)
    np.testing.assert_allclose(to_host(w), expected, rtol=1e-12)


def test_momentum_and_nesterov_by_hand(xp):
    g1, g2 = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    for name in ("momentum", "nesterov"):
        w = xp.zeros(2)
        opt = make_optimizer(name, 0.1, momentum=0.5)
        opt.step([("w", w, xp.asarray(g1))])
        opt.step([("w", w, xp.asarray(g2))])
        v1 = g1
        v2 = 0.5 * v1 + g2
        if name == "momentum":
            expected = -0.1 * v1 - 0.1 * v2
        else:
            expected = -0.1 * (g1 + 0.5 * v1) - 0.1 * (g2 + 0.5 * v2)
        np.testing.assert_allclose(to_host(w), expected, rtol=1e-12)


def test_rmsprop_first_step_by_hand(xp):
    w = xp.zeros(2)
    opt = make_optimizer("rmsprop", 0.01, rho=0.9, eps=1e-8)
    opt.step([("w", w, xp.asarray([2.0, -0.5]))])
    g = np.array([2.0, -0.5])
    np.testing.assert_allclose(to_host(w), -0.01 * g / (np.sqrt(0.1 * g * g) + 1e-8), rtol=1e-12)


def test_clipping_caps_the_global_norm(xp):
    w1, w2 = xp.zeros(3), xp.zeros((2, 2))
    g1 = xp.asarray([3.0, 0.0, 4.0])
    g2 = xp.asarray([[12.0, 0.0], [0.0, 0.0]])  # global norm 13
    opt = make_optimizer("sgd", 1.0, clip_norm=2.6)
    opt.step([("a", w1, g1), ("b", w2, g2)])
    assert opt.last_grad_norm == pytest.approx(13.0)
    assert global_norm([w1, w2]) == pytest.approx(2.6)
    np.testing.assert_allclose(to_host(w1), [-0.6, 0.0, -0.8])
    np.testing.assert_array_equal(to_host(g1), [3.0, 0.0, 4.0])  # gradients are left untouched
    # Below the threshold nothing is scaled.
    w3 = xp.zeros(2)
    make_optimizer("sgd", 1.0, clip_norm=10.0).step([("c", w3, xp.asarray([0.3, 0.4]))])
    np.testing.assert_allclose(to_host(w3), [-0.3, -0.4])


def test_weight_decay_adds_l2_to_the_gradient(xp):
    w = xp.asarray([2.0, -4.0])
    make_optimizer("sgd", 0.1, weight_decay=0.5).step([("w", w, xp.zeros(2))])
    np.testing.assert_allclose(to_host(w), [2.0 * 0.95, -4.0 * 0.95])


def test_step_uses_the_given_learning_rate_and_reset_forgets_state(xp):
    w = xp.zeros(1)
    opt = make_optimizer("momentum", 0.1)
    opt.step([("w", w, xp.ones(1))], lr=0.5)
    np.testing.assert_allclose(to_host(w), [-0.5])
    assert opt.steps == 1 and "w" in opt.state
    opt.reset()
    assert opt.steps == 0 and not opt.state


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "adagrad", "lr": 0.1}, "Unknown optimizer 'adagrad'.*sgd, momentum, nesterov, adam, rmsprop"),
    ({"name": "sgd", "lr": 0.0}, "lr must be above 0"),
    ({"name": "sgd", "lr": "fast"}, "lr must be a number"),
    ({"name": "momentum", "lr": 0.1, "momentum": 1.0}, "momentum must be at least 0 and below 1"),
    ({"name": "adam", "lr": 0.1, "weight_decay": -1}, "weight_decay must be at least 0"),
    ({"name": "adam", "lr": 0.1, "clip_norm": 0}, "clip_norm must be above 0"),
    ({"name": "sgd", "lr": 0.1, "beta1": 0.9}, "unknown setting.*beta1"),
])
def test_bad_settings_are_user_errors(kwargs, message):
    with pytest.raises(UserError, match=message):
        make_optimizer(**kwargs)


# -- schedules -------------------------------------------------------------------------------------------
def test_constant_schedule():
    s = make_schedule("constant", 0.1, 100)
    assert [s(0), s(50), s(1000)] == [0.1, 0.1, 0.1]


def test_step_schedule():
    s = make_schedule("step", 1.0, 100, step_size=10, gamma=0.5)
    assert [s(0), s(9), s(10), s(25), s(99)] == pytest.approx([1.0, 1.0, 0.5, 0.25, 0.5 ** 9])
    default = make_schedule("step", 1.0, 90)  # step_size defaults to a third of the run
    assert [default(29), default(30), default(60)] == pytest.approx([1.0, 0.1, 0.01])


def test_cosine_schedule():
    s = make_schedule("cosine", 0.2, 100)
    assert s(0) == pytest.approx(0.2)
    assert s(50) == pytest.approx(0.1)
    assert s(25) == pytest.approx(0.1 * (1 + math.cos(math.pi / 4)))
    assert s(100) == pytest.approx(0.0, abs=1e-15) and s(150) == pytest.approx(0.0, abs=1e-15)
    values = [s(i) for i in range(101)]
    assert all(a >= b for a, b in zip(values, values[1:]))


@pytest.mark.parametrize("args, message", [
    (("linear", 0.1, 10), "Unknown learning-rate schedule 'linear'"),
    (("cosine", 0.1, 0), "total_steps must be at least 1"),
    (("step", -0.1, 10), "base_lr must be above 0"),
])
def test_bad_schedules_are_user_errors(args, message):
    with pytest.raises(UserError, match=message):
        make_schedule(*args)
