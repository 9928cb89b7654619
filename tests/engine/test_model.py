"""The DAG model: execution order, building, forward/backward through branches, fusing, state and files."""
from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from nnstudio.engine.backend import get_backend, to_host
from nnstudio.engine.gradcheck import check_model, numerical_gradient, relative_error
from nnstudio.engine.layers import Activation, Add, BatchNorm, Concat, Conv2D, Dense, Dropout, Flatten, Pool2D
from nnstudio.engine.losses import get_loss
from nnstudio.engine.model import InputLayer, Model, ModelNode, topological_order
from nnstudio.engine.optimizers import make_optimizer
from nnstudio.errors import UserError


def residual_nodes() -> list[ModelNode]:
    """in -> d1 -> a1 -> d2 -> a2 -+-> add -> d3 -> out(softmax); a1 also feeds add (skip connection)."""
    return [
        ModelNode("in", InputLayer((4,)), []),
        ModelNode("d1", Dense(6, init="glorot"), ["in"]),
        ModelNode("a1", Activation("tanh"), ["d1"]),
        ModelNode("d2", Dense(6, init="glorot"), ["a1"]),
        ModelNode("a2", Activation("tanh"), ["d2"]),
        ModelNode("add", Add(), ["a2", "a1"]),
        ModelNode("d3", Dense(3, init="glorot"), ["add"]),
        ModelNode("out", Activation("softmax"), ["d3"]),
    ]


def concat_nodes() -> list[ModelNode]:
    """Two branches from the input, joined by Concat, then a linear head."""
    return [
        ModelNode("x", None, []),
        ModelNode("left", Dense(3, init="glorot"), ["x"]),
        ModelNode("lact", Activation("sigmoid"), ["left"]),
        ModelNode("right", Dense(2, init="glorot"), ["x"]),
        ModelNode("ract", Activation("leaky_relu", alpha=0.1), ["right"]),
        ModelNode("cat", Concat(axis=0), ["lact", "ract", "x"]),
        ModelNode("head", Dense(2, init="glorot"), ["cat"]),
    ]


def small_cnn_nodes() -> list[ModelNode]:
    return [
        ModelNode("img", InputLayer(), []),
        ModelNode("c1", Conv2D(3, 3, padding=1), ["img"]),
        ModelNode("bn", BatchNorm(), ["c1"]),
        ModelNode("r1", Activation("relu"), ["bn"]),
        ModelNode("p1", Pool2D("max", 2), ["r1"]),
        ModelNode("f", Flatten(), ["p1"]),
        ModelNode("drop", Dropout(0.25), ["f"]),
        ModelNode("d", Dense(4), ["drop"]),
        ModelNode("sm", Activation("softmax"), ["d"]),
    ]


def host_weights(model: Model) -> dict[str, np.ndarray]:
    return model.state_dict()


# -- order and structure --------------------------------------------------------------------------------
def test_topological_order_is_stable_and_breaks_ties_by_id():
    nodes = residual_nodes()
    expected = ["in", "d1", "a1", "d2", "a2", "add", "d3", "out"]
    for seed in range(5):
        shuffled = nodes[:]
        random.Random(seed).shuffle(shuffled)
        assert Model(shuffled, "in", "out").order == expected
    # Two independent branches: the smaller id runs first whatever the listing order.
    order = topological_order({n.id: n for n in reversed(concat_nodes())}, "x", "head")
    assert order == ["x", "left", "lact", "right", "ract", "cat", "head"]


def test_shuffled_node_list_gives_identical_weights_and_outputs(xp_backend):
    xp = xp_backend.xp
    x = xp.asarray(np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32))
    reference = Model(residual_nodes(), "in", "out").build((4,), xp, seed=7)
    ref_weights, ref_out = host_weights(reference), to_host(reference.forward(x))
    for seed in range(3):
        nodes = residual_nodes()
        random.Random(seed).shuffle(nodes)
        model = Model(nodes, "in", "out").build((4,), xp, seed=7)
        weights = host_weights(model)
        assert weights.keys() == ref_weights.keys()
        for key in weights:
            np.testing.assert_array_equal(weights[key], ref_weights[key])
        np.testing.assert_array_equal(to_host(model.forward(x)), ref_out)
    other = Model(residual_nodes(), "in", "out").build((4,), xp, seed=8)
    assert not np.array_equal(host_weights(other)["d1/W"], ref_weights["d1/W"])


def test_unused_nodes_are_left_out_and_input_may_be_implicit():
    nodes = [n for n in residual_nodes() if n.id != "in"] + [ModelNode("dangling", Dense(2), ["a1"])]
    model = Model(nodes, "in", "out").build((4,), np)
    assert "dangling" not in model.order
    assert all(not key.startswith("dangling/") for key in model.state_dict())
    assert model.shapes["add"] == (6,) and model.output_shape == (3,)


@pytest.mark.parametrize("nodes, message", [
    ([ModelNode("a", Dense(2), ["b"]), ModelNode("b", Dense(2), ["a"])], "loop"),
    ([ModelNode("a", Dense(2), ["ghost"])], "ghost"),
    ([ModelNode("a", Dense(2), [])], "no incoming connection"),
    ([ModelNode("a", Add(), ["in"])], "at least 2"),
    ([ModelNode("a", Dense(2), ["in", "in"])], "exactly 1"),
    ([ModelNode("a", Dense(2), ["in"]), ModelNode("a", Dense(3), ["in"])], "unique"),
    ([ModelNode("in", Dense(2), []), ModelNode("a", Dense(2), ["in"])], "Input block"),
])
def test_structural_mistakes_are_user_errors(nodes, message):
    with pytest.raises(UserError, match=message):
        Model(nodes, "in", "a")


def test_missing_output_and_bad_shapes_name_the_node():
    with pytest.raises(UserError, match="output node 'nope'"):
        Model(residual_nodes(), "in", "nope")
    model = Model([ModelNode("add", Add(), ["in", "d"]), ModelNode("d", Dense(3), ["in"])], "in", "add")
    with pytest.raises(UserError, match="Node 'add'.*same shape"):
        model.build((4,), np)
    with pytest.raises(UserError, match="Node 'in'"):
        Model(residual_nodes(), "in", "out").build((0, 3), np)


# -- gradients through the whole graph ------------------------------------------------------------------
def _input_gradcheck(model: Model, x: Any, y: Any, loss: Any) -> float:
    """Relative error of d loss / d input from backward(need_input_grad=True) against finite differences."""
    value = lambda: loss.forward(model.forward(x), y)[0]  # noqa: E731
    _, grad = loss.forward(model.forward(x), y)
    analytic = to_host(model.backward(grad, need_input_grad=True)).copy()
    return relative_error(analytic, numerical_gradient(value, x))


def test_skip_connection_gradients_match_finite_differences(xp_backend):
    xp = xp_backend.xp
    rng = np.random.default_rng(0)
    model = Model(residual_nodes(), "in", "out").build((4,), xp, seed=3, dtype=np.float64)
    x = xp.asarray(rng.normal(size=(5, 4)))
    y = xp.asarray(rng.integers(0, 3, size=5))
    loss = get_loss("mse")  # not fused: the softmax's own backward is part of the check
    rows = check_model(model, x, xp.asarray(np.eye(3)[to_host(y)]), loss, max_entries=0)
    assert {r[0] for r in rows} == {"d1", "d2", "d3"}
    for node_id, name, err in rows:
        assert err < 1e-6, (node_id, name, err)
    assert _input_gradcheck(model, x, xp.asarray(np.eye(3)[to_host(y)]), loss) < 1e-6


def test_concat_branches_gradients_match_finite_differences(xp_backend):
    xp = xp_backend.xp
    rng = np.random.default_rng(1)
    model = Model(concat_nodes(), "x", "head").build((3,), xp, seed=5, dtype=np.float64)
    assert model.shapes["cat"] == (8,)
    x = xp.asarray(rng.normal(size=(4, 3)))
    target = xp.asarray(rng.normal(size=(4, 2)))
    for node_id, name, err in check_model(model, x, target, get_loss("mse"), max_entries=0):
        assert err < 1e-6, (node_id, name, err)
    # The input feeds three consumers: their gradients must be summed.
    assert _input_gradcheck(model, x, target, get_loss("mse")) < 1e-6
    # And the first layers went back to skipping the input gradient afterwards.
    assert model.layer("left").needs_input_grad is False


def _param_grads(model: Model) -> dict[str, np.ndarray]:
    return {key: to_host(g).copy() for key, _, g in model.parameters()}


def test_fused_softmax_cross_entropy_equals_unfused(xp_backend):
    xp = xp_backend.xp
    rng = np.random.default_rng(2)
    model = Model(residual_nodes(), "in", "out").build((4,), xp, seed=1, dtype=np.float64)
    loss = get_loss("cross_entropy")
    x = xp.asarray(rng.normal(size=(6, 4)))
    y = xp.asarray(rng.integers(0, 3, size=6))

    probs = model.forward(x)
    assert model.fused is None and not model.loss_from_logits(loss)
    v_plain, g_plain = loss.forward(probs, y, from_logits=False)
    model.backward(g_plain)
    plain = _param_grads(model)

    logits = model.forward(x, logits=True)
    assert model.fused == "softmax" and model.loss_from_logits(loss)
    np.testing.assert_allclose(to_host(xp.exp(logits) / xp.exp(logits).sum(axis=1, keepdims=True)),
                               to_host(probs), rtol=1e-12)
    v_fused, g_fused = loss.forward(logits, y, from_logits=True)
    model.backward(g_fused)
    fused = _param_grads(model)

    assert v_fused == pytest.approx(v_plain, rel=1e-10)
    for key in plain:
        np.testing.assert_allclose(fused[key], plain[key], rtol=1e-8, atol=1e-12)


def test_logits_only_fuse_a_matching_trailing_activation():
    model = Model(concat_nodes(), "x", "head").build((3,), np)
    x = np.ones((2, 3), dtype=np.float32)
    np.testing.assert_array_equal(model.forward(x, logits=True), model.forward(x))
    assert model.fused is None and model.loss_from_logits(get_loss("cross_entropy"))
    soft = Model(residual_nodes(), "in", "out").build((4,), np)
    soft.forward(np.ones((2, 4), dtype=np.float32), logits="sigmoid")
    assert soft.fused is None and not soft.loss_from_logits(get_loss("cross_entropy"))


def test_capture_keeps_every_output_and_the_fused_activation(xp_backend):
    xp = xp_backend.xp
    model = Model(small_cnn_nodes(), "img", "sm").build((1, 8, 8), xp, seed=0)
    x = xp.asarray(np.random.default_rng(0).normal(size=(3, 1, 8, 8)).astype(np.float32))
    logits = model.forward(x, capture=True, logits=True)
    assert set(model.activations) == set(model.order)
    assert model.activations["c1"].shape == (3, 3, 8, 8)
    assert model.activations["p1"].shape == (3, 3, 4, 4)
    np.testing.assert_array_equal(to_host(model.activations["d"]), to_host(logits))
    probs = to_host(model.activations["sm"])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(probs, model.predict(to_host(x)), rtol=1e-5, atol=1e-7)
    model.forward(x)
    assert model.activations["c1"] is not None  # a plain forward does not clear the last capture


def test_grad_norms_are_per_layer_l2_norms(xp_backend):
    xp = xp_backend.xp
    model = Model(small_cnn_nodes(), "img", "sm").build((1, 8, 8), xp, seed=0)
    x = xp.asarray(np.random.default_rng(0).normal(size=(4, 1, 8, 8)).astype(np.float32))
    loss = get_loss("cross_entropy")
    _, grad = loss.forward(model.forward(x, training=True, logits=True), xp.asarray([0, 1, 2, 3]),
                           from_logits=True)
    model.backward(grad)
    norms = model.grad_norms()
    assert set(norms) == {"c1", "bn", "d"}
    for nid, value in norms.items():
        grads = [to_host(g).astype(np.float64) for g in model.layer(nid).grads.values()]
        expected = np.sqrt(sum(float((g * g).sum()) for g in grads))
        assert isinstance(value, float) and value == pytest.approx(expected, rel=1e-4)


def test_predict_matches_forward_in_batches():
    model = Model(small_cnn_nodes(), "img", "sm").build((1, 8, 8), np, seed=4)
    x = np.random.default_rng(3).normal(size=(7, 1, 8, 8)).astype(np.float32)
    whole = model.predict(x)
    np.testing.assert_allclose(model.predict(x, batch_size=3), whole, rtol=1e-6, atol=1e-7)
    assert whole.shape == (7, 4) and isinstance(whole, np.ndarray)
    with pytest.raises(UserError, match="shape"):
        model.predict(np.zeros((2, 64), dtype=np.float32))


# -- state and files ---------------------------------------------------------------------------------
def test_state_dict_round_trip_is_bit_exact(tmp_path, xp_backend):
    xp = xp_backend.xp
    model = Model(small_cnn_nodes(), "img", "sm").build((1, 8, 8), xp, seed=11)
    x = xp.asarray(np.random.default_rng(5).normal(size=(4, 1, 8, 8)).astype(np.float32))
    opt = make_optimizer("adam", 0.01)
    for _ in range(3):  # trained weights and moved BatchNorm statistics
        model.train_step(x, xp.asarray([0, 1, 2, 3]), get_loss("cross_entropy"), opt)
    state = model.state_dict()
    assert {"c1/W", "c1/b", "bn/gamma", "bn/beta", "bn/running_mean", "bn/running_var", "d/W", "d/b"} == set(state)
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in state.values())
    path = tmp_path / "sub" / "weights.npz"
    model.save_npz(path)
    assert [p.name for p in path.parent.iterdir()] == ["weights.npz"]  # no temporary file left behind

    fresh = Model(small_cnn_nodes(), "img", "sm").build((1, 8, 8), xp, seed=99)
    assert not np.array_equal(fresh.state_dict()["d/W"], state["d/W"])
    fresh.load_npz(path)
    for key, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value, state[key])
        assert value.tobytes() == state[key].tobytes()
    np.testing.assert_array_equal(to_host(fresh.forward(x)), to_host(model.forward(x)))


def test_state_dict_is_a_copy():
    model = Model(concat_nodes(), "x", "head").build((3,), np)
    state = model.state_dict()
    state["head/W"][...] = 123.0
    assert not np.any(model.layer("head").params["W"] == 123.0)


def test_load_errors_name_missing_unexpected_and_shapes(tmp_path):
    model = Model(concat_nodes(), "x", "head").build((3,), np)
    state = model.state_dict()
    bad = dict(state)
    del bad["left/b"]
    bad["extra/W"] = np.zeros(2)
    bad["head/W"] = np.zeros((7, 2), dtype=np.float32)
    with pytest.raises(UserError) as err:
        model.load_state_dict(bad)
    text = str(err.value)
    assert "missing left/b" in text and "unexpected extra/W" in text
    assert "'head/W' has shape (7, 2) but the model expects (8, 2)" in text
    # Not strict: missing and unexpected keys are reported, matching ones are loaded.
    partial = {k: v + 1 for k, v in state.items() if k != "left/b"}
    partial["extra/W"] = np.zeros(2)
    result = model.load_state_dict(partial, strict=False)
    assert result.missing == ["left/b"] and result.unexpected == ["extra/W"]
    np.testing.assert_array_equal(model.layer("head").params["W"], state["head/W"] + 1)

    with pytest.raises(UserError, match="does not exist"):
        model.load_npz(tmp_path / "nothing.npz")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip file")
    with pytest.raises(UserError, match="broken.npz"):
        model.load_npz(broken)
    other = Model(residual_nodes(), "in", "out").build((4,), np)
    other.save_npz(tmp_path / "other.npz")
    with pytest.raises(UserError, match="other.npz.*missing"):
        model.load_npz(tmp_path / "other.npz")


def test_param_count_and_summary():
    model = Model(concat_nodes(), "x", "head").build((3,), np)
    assert model.param_count() == (3 * 3 + 3) + (3 * 2 + 2) + (8 * 2 + 2)
    assert model.summary()[0] == ("x", "Input", (3,), 0)
    assert model.summary()[-1] == ("head", "Dense", (2,), 18)


# -- train_step and reproducibility ----------------------------------------------------------------
def _train(xp: Any, seed: int, steps: int = 5) -> tuple[list[float], dict[str, np.ndarray]]:
    model = Model(small_cnn_nodes(), "img", "sm").build((1, 8, 8), xp, seed=seed)
    rng = np.random.default_rng(0)
    x = xp.asarray(rng.normal(size=(16, 1, 8, 8)).astype(np.float32))
    y = xp.asarray(rng.integers(0, 4, size=16))
    opt = make_optimizer("momentum", 0.05)
    losses = [model.train_step(x, y, get_loss("cross_entropy"), opt)[0] for _ in range(steps)]
    return losses, model.state_dict()


def test_seeded_training_runs_are_reproducible(xp_backend):
    losses_a, state_a = _train(xp_backend.xp, seed=3)
    losses_b, state_b = _train(xp_backend.xp, seed=3)
    assert losses_a == losses_b  # dropout masks included
    for key in state_a:
        np.testing.assert_array_equal(state_a[key], state_b[key])
    losses_c, _ = _train(xp_backend.xp, seed=4)
    assert losses_c != losses_a


def test_train_step_returns_probabilities_and_lowers_the_loss(xp_backend):
    xp = xp_backend.xp
    model = Model(residual_nodes(), "in", "out").build((4,), xp, seed=0)
    rng = np.random.default_rng(0)
    x = xp.asarray(rng.normal(size=(32, 4)).astype(np.float32))
    y = xp.asarray((to_host(x)[:, 0] > 0).astype(np.int64) + (to_host(x)[:, 1] > 0))
    opt = make_optimizer("adam", 0.02)
    first, out = model.train_step(x, y, get_loss("cross_entropy"), opt)
    np.testing.assert_allclose(to_host(out).sum(axis=1), 1.0, rtol=1e-5)
    for _ in range(40):
        last, _ = model.train_step(x, y, get_loss("cross_entropy"), opt)
    assert last < 0.7 * first


def test_move_between_backends_keeps_weights():
    if len({"numpy"} | ({"cupy"} if _has_cupy() else set())) < 2:
        pytest.skip("moving between backends needs CuPy with a CUDA device")
    _move_there_and_back(get_backend("cupy").xp)


def test_move_to_the_cupy_standin_and_back_keeps_weights():
    """The same on the stand-in for CuPy (tests/fake_cupy.py), so it runs without a GPU too: this found
    Model.to() running a swapped ReLU's old layer, on the old backend's arrays."""
    from tests.conftest import fake_cupy_module  # noqa: PLC0415

    with fake_cupy_module().installed():  # which also checks no NumPy function met a device array
        _move_there_and_back(get_backend("cupy").xp)


def _move_there_and_back(cupy):
    model = Model(small_cnn_nodes(), "img", "sm").build((1, 8, 8), np, seed=2)
    x = np.random.default_rng(0).normal(size=(3, 1, 8, 8)).astype(np.float32)
    y = np.array([0, 1, 2])
    twin = Model(small_cnn_nodes(), "img", "sm").build((1, 8, 8), np, seed=2)
    expected = model.predict(x)
    model.to(cupy)
    assert isinstance(model.layer("c1").params["W"], cupy.ndarray)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-4, atol=1e-5)
    # and it trains there as it does at home (the swapped ReLU's backward needs its own forward)
    moved, home = (m.train_step(m.xp.asarray(x), m.xp.asarray(y), get_loss("cross_entropy"),
                                make_optimizer("sgd", 0.1))[0] for m in (model, twin))
    assert moved == pytest.approx(home, rel=1e-5)
    expected = twin.predict(x)
    model.to(np)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-4, atol=1e-5)
    model.train_step(x, y, get_loss("cross_entropy"), make_optimizer("sgd", 0.1))


def test_move_to_the_same_backend_is_a_no_op():
    model = Model(concat_nodes(), "x", "head").build((3,), np)
    w = model.layer("head").params["W"]
    assert model.to(np) is model and model.layer("head").params["W"] is w


def _has_cupy() -> bool:
    from nnstudio.engine.backend import cupy_available
    return cupy_available()


def test_digit_sequence_head_fuses_softmax_over_the_last_axis(xp_backend):
    """A captcha-style head: Dense(4*10) -> Reshape(4, 10) -> softmax, labels (N, 4)."""
    from nnstudio.engine.layers import Reshape
    from nnstudio.engine.losses import accuracy

    xp = xp_backend.xp
    nodes = [ModelNode("in", None, []), ModelNode("d", Dense(40, init="glorot"), ["in"]),
             ModelNode("r", Reshape((4, 10)), ["d"]), ModelNode("sm", Activation("softmax"), ["r"])]
    model = Model(nodes, "in", "sm").build((6,), xp, seed=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    x = xp.asarray(rng.normal(size=(5, 6)))
    y = xp.asarray(rng.integers(0, 10, size=(5, 4)))
    loss = get_loss("cross_entropy")
    _, g = loss.forward(model.forward(x), y)
    model.backward(g)
    plain = _param_grads(model)
    out = model.forward(x, logits=True)
    assert out.shape == (5, 4, 10) and model.loss_from_logits(loss)
    _, g = loss.forward(out, y, from_logits=True)
    model.backward(g)
    for key, value in _param_grads(model).items():
        np.testing.assert_allclose(value, plain[key], rtol=1e-8, atol=1e-12)
    opt = make_optimizer("adam", 0.05)
    for _ in range(60):
        _, probs = model.train_step(x, y, loss, opt)
    result = accuracy(probs, y, "cross_entropy")
    assert result.value == 1.0 and result.per_position == (1.0, 1.0, 1.0, 1.0)
