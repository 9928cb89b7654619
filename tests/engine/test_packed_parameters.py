"""A built model keeps its parameters in one flat array and its gradients in another; the optimizer updates them
all at once there, with exactly the results of updating each parameter on its own."""
from __future__ import annotations

import numpy as np
import pytest

import nnstudio.engine.optimizers as optimizers
from nnstudio.engine import blas1
from nnstudio.engine.layers import Activation, Conv2D, Dense, Flatten, Pool2D
from nnstudio.engine.layers.norm import BatchNorm
from nnstudio.engine.losses import get_loss
from nnstudio.engine.model import PACK_ALIGN, Model, ModelNode
from nnstudio.engine.optimizers import OPTIMIZERS, make_optimizer

SETTINGS = {"sgd": {}, "momentum": {"momentum": 0.8}, "nesterov": {"momentum": 0.8},
            "adam": {"beta1": 0.8, "beta2": 0.99, "eps": 1e-3}, "rmsprop": {"rho": 0.7, "eps": 1e-3}}


def _cnn(xp=np, seed: int = 0) -> Model:
    layers = [("c1", Conv2D(4, 3, padding=1)), ("bn", BatchNorm()), ("r1", Activation("relu")),
              ("p1", Pool2D("max", 2)), ("f", Flatten()), ("d1", Dense(7)), ("out", Activation("softmax"))]
    nodes, prev = [ModelNode("in", None, [])], "in"
    for nid, layer in layers:
        nodes.append(ModelNode(nid, layer, [prev]))
        prev = nid
    return Model(nodes, "in", "out").build((2, 6, 6), xp, seed=seed)


def _batch(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((5, 2, 6, 6)).astype(np.float32), rng.integers(0, 7, 5)


def test_parameters_and_gradients_are_views_of_two_flat_arrays():
    model = _cnn()
    params = model.parameters()
    packed = params.packed
    assert packed is not None and len(packed.offsets) == len(params)
    for (key, param, grad), start in zip(params, packed.offsets):
        assert start % PACK_ALIGN == 0
        assert np.shares_memory(param, packed.params) and np.shares_memory(grad, packed.grads), key
        assert param.flags.c_contiguous and grad.flags.c_contiguous
        np.testing.assert_array_equal(packed.params[start:start + param.size], param.reshape(-1))
    # the gaps the alignment leaves hold zeros, and nothing but the parameters is in the flat arrays
    mask = np.zeros(packed.params.size, bool)
    for (_, param, _), start in zip(params, packed.offsets):
        mask[start:start + param.size] = True
    assert not packed.params[~mask].any() and not packed.grads[~mask].any()
    assert int(mask.sum()) == model.param_count()
    # the same initial weights as an unpacked build (one generator consumed in the same order)
    other = _cnn()
    for (_, a, _), (_, b, _) in zip(params, other.parameters()):
        np.testing.assert_array_equal(a, b)


def test_training_writes_gradients_into_the_flat_array_and_weights_load_in_place():
    model = _cnn()
    x, y = _batch()
    model.train_step(x, y, get_loss("cross_entropy"), make_optimizer("momentum", 0.1))
    params = model.parameters()
    for (key, _, grad), start in zip(params, params.packed.offsets):
        np.testing.assert_array_equal(params.packed.grads[start:start + grad.size], grad.reshape(-1))
        assert grad.any(), key
    state = model.state_dict()
    fresh = _cnn(seed=5)
    fresh.load_state_dict(state)
    for (key, a, _), (_, b, _) in zip(params, fresh.parameters()):
        np.testing.assert_array_equal(a, b)
        assert np.shares_memory(b, fresh.parameters().packed.params), key


def _train(name: str, packed: bool, weight_decay: float, clip_norm: float | None, switch: bool = False):
    model = _cnn()
    x, y = _batch()
    loss = get_loss("cross_entropy")
    opt = make_optimizer(name, 0.05, weight_decay=weight_decay, clip_norm=clip_norm, **SETTINGS[name])
    for step in range(4):
        out = model.forward(x, training=True, logits=True)
        _, grad = loss.forward(out, y, from_logits=model.loss_from_logits(loss))
        model.backward(grad)
        params = model.parameters()
        use_packed = packed if not switch else step % 2 == 1  # plain, packed, plain, packed
        opt.step(params if use_packed else list(params), 0.05 * (step + 1))
    return model, opt


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("weight_decay, clip_norm", [(0.0, None), (0.03, 0.5)])
def test_the_packed_update_is_the_per_parameter_update(monkeypatch, name, weight_decay, clip_norm):
    # The NumPy passes: bit for bit.  With the BLAS's axpy / axpby, see the next test.
    monkeypatch.setattr(blas1, "_routines", {})
    plain, _ = _train(name, False, weight_decay, clip_norm)
    packed, opt = _train(name, True, weight_decay, clip_norm)
    for (key, a, _), (_, b, _) in zip(plain.parameters(), packed.parameters()):
        np.testing.assert_array_equal(a, b, err_msg=key)
    # the state of each parameter is a view of the packed state, as a per-parameter update would find it
    for key, slots in opt.state.items():
        for slot, value in slots.items():
            assert any(np.shares_memory(value, flat) for flat in opt._packing[2]), (key, slot)
    # switching between the two ways keeps the state (velocities, moments) going
    mixed, _ = _train(name, True, weight_decay, clip_norm, switch=True)
    for (key, a, _), (_, b, _) in zip(plain.parameters(), mixed.parameters()):
        np.testing.assert_array_equal(a, b, err_msg=key)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_the_packed_blas_update_is_the_per_parameter_update_to_the_last_bits(name):
    # The same gradients every step: a training loop would amplify a last-bit difference into another
    # trajectory (RMSprop and Adam divide tiny gradients by their own size).
    if not blas1.fits(np.zeros(2, np.float32), np.zeros(2, np.float32)):
        pytest.skip("this NumPy's BLAS offers no axpy / axpby the engine can call")
    results = []
    for packed in (False, True):
        model = _cnn()
        x, y = _batch()
        loss = get_loss("cross_entropy")
        out = model.forward(x, training=True, logits=True)
        model.backward(loss.forward(out, y, from_logits=model.loss_from_logits(loss))[1])
        opt = make_optimizer(name, 0.05, weight_decay=0.03, clip_norm=0.5, **SETTINGS[name])
        for step in range(4):
            params = model.parameters()
            opt.step(params if packed else list(params), 0.05 * (step + 1))
        results.append(model)
    for (key, a, _), (_, b, _) in zip(results[0].parameters(), results[1].parameters()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=key)


def test_big_packed_models_are_updated_in_blocks(monkeypatch):
    monkeypatch.setattr(blas1, "_routines", {})  # NumPy's arithmetic, bit for bit
    monkeypatch.setattr(optimizers, "CHUNK", 64)  # the packed arrays (a few hundred values) span many blocks
    plain, _ = _train("adam", False, 0.01, None)
    packed, _ = _train("adam", True, 0.01, None)
    for (key, a, _), (_, b, _) in zip(plain.parameters(), packed.parameters()):
        np.testing.assert_array_equal(a, b, err_msg=key)


def test_a_parameter_replaced_by_an_array_of_its_own_is_updated_on_its_own():
    model = _cnn()
    layer = model.layer("d1")
    layer.params["W"] = layer.params["W"].copy()
    assert model.parameters().packed is None
    x, y = _batch()
    before = layer.params["W"].copy()
    model.train_step(x, y, get_loss("cross_entropy"), make_optimizer("momentum", 0.1))
    assert not np.array_equal(layer.params["W"], before)  # still trained


def test_reset_and_a_new_packing_start_from_fresh_state():
    model = _cnn()
    x, y = _batch()
    loss, opt = get_loss("cross_entropy"), make_optimizer("momentum", 0.1)
    model.train_step(x, y, loss, opt)
    first = opt._packing[2][0]
    opt.reset()
    assert opt._packing is None and not opt.state
    model.train_step(x, y, loss, opt)
    assert opt._packing[2][0] is not first
    # a state entry replaced from outside is noticed: the packed state is made again around it
    key = next(iter(opt.state))
    opt.state[key]["velocity"] = np.full_like(opt.state[key]["velocity"], 2.0)
    model.train_step(x, y, loss, opt)
    assert np.shares_memory(opt.state[key]["velocity"], opt._packing[2][0])
