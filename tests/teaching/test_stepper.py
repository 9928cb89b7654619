"""The step-through mode visits every node forward and backward and reproduces the engine's numbers."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.layers import LAYER_TYPES
from nnstudio.engine.losses import get_loss
from nnstudio.engine.model import Model, ModelNode
from nnstudio.teaching.stepper import Stepper, preview_of

L = LAYER_TYPES


def _branchy_cnn() -> Model:
    """Input -> conv -> relu, which feeds two branches (Add and Concat), -> dense -> softmax."""
    nodes = [
        ModelNode("in", None),
        ModelNode("c1", L["Conv2D"](filters=3, kernel_size=3, padding=1), ["in"]),
        ModelNode("r1", L["Activation"]("relu"), ["c1"]),
        ModelNode("c2", L["Conv2D"](filters=3, kernel_size=3, padding=1), ["r1"]),
        ModelNode("add", L["Add"](), ["r1", "c2"]),          # r1 has two consumers here and in cat
        ModelNode("cat", L["Concat"](axis=0), ["add", "r1"]),
        ModelNode("pool", L["Pool2D"](mode="max", size=2), ["cat"]),
        ModelNode("fc", L["Dense"](units=4), ["pool"]),
        ModelNode("sm", L["Activation"]("softmax"), ["fc"]),
    ]
    model = Model(nodes, "in", "sm")
    model.build((1, 6, 6), np, seed=3, dtype=np.float64)
    return model


def _mlp(activation: str) -> Model:
    nodes = [ModelNode("in", None), ModelNode("d1", L["Dense"](units=5), ["in"]),
             ModelNode("t", L["Activation"]("tanh"), ["d1"]), ModelNode("d2", L["Dense"](units=3), ["t"]),
             ModelNode("out", L["Activation"](activation), ["d2"])]
    model = Model(nodes, "in", "out")
    model.build((4,), np, seed=1, dtype=np.float64)
    return model


def _reference(model: Model, x: np.ndarray, y: np.ndarray, loss_name: str) -> tuple[dict, dict, np.ndarray]:
    """Outputs (captured), parameter gradients and input gradient from the engine's own forward/backward."""
    loss = get_loss(loss_name)
    model.forward(x, training=True, capture=True)
    outputs = {k: v.copy() for k, v in model.activations.items()}
    out = model.forward(x, training=True, logits=loss.fuses_with or False)
    _, grad = loss.forward(out, y, from_logits=model.loss_from_logits(loss))
    input_grad = model.backward(grad, need_input_grad=True)
    grads = {key: g.copy() for key, _, g in model.parameters()}
    return outputs, grads, input_grad


@pytest.mark.parametrize("loss_name", ["cross_entropy", "mse"])
def test_stepper_matches_model_forward_and_backward_on_a_branchy_network(loss_name: str) -> None:
    model = _branchy_cnn()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 1, 6, 6))
    y = rng.integers(0, 4, size=5) if loss_name == "cross_entropy" else rng.normal(size=(5, 4))
    outputs, grads, input_grad = _reference(model, x, y, loss_name)

    stepper = Stepper(model, x, y, loss_name, lr=0.1, update=False)
    assert stepper.fused == ("softmax" if loss_name == "cross_entropy" else None)
    steps = stepper.run_all()
    forward = [s.node_id for s in steps if s.phase == "forward"]
    backward = [s.node_id for s in steps if s.phase == "backward"]
    assert forward == model.order
    assert backward == list(reversed(model.order))
    assert len(steps) == stepper.count() == 2 * len(model.order)
    for nid in model.order:
        np.testing.assert_allclose(stepper.outputs[nid], outputs[nid], rtol=1e-12, atol=1e-12)
    for key, g in grads.items():
        nid, _, name = key.rpartition("/")
        np.testing.assert_allclose(stepper.param_grads[nid][name], g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(stepper.gradients["in"], input_grad, rtol=1e-10, atol=1e-12)
    # The statistics describe the array the step is about.
    fc = next(s for s in steps if s.phase == "forward" and s.node_id == "fc")
    assert fc.shape == (5, 4)
    assert fc.mean == pytest.approx(float(outputs["fc"].mean()))
    assert fc.max == pytest.approx(float(outputs["fc"].max()))
    assert steps[len(model.order) - 1].loss is not None and steps[len(model.order)].loss is not None
    first_back = steps[len(model.order)]
    assert first_back.node_id == "sm" and first_back.fused == ("softmax" if loss_name == "cross_entropy" else "")


def test_fused_backward_starts_from_p_minus_t() -> None:
    model = _mlp("softmax")
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    stepper = Stepper(model, x, y, "cross_entropy", update=False)
    stepper.run_all()
    p = stepper.outputs["out"]
    expected = (p - np.eye(3)[y]) / 6
    np.testing.assert_allclose(stepper.gradients["out"], expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)


def test_update_moves_each_layer_by_lr_times_gradient_and_lowers_the_loss() -> None:
    model = _mlp("sigmoid")
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(8, 4)), rng.integers(0, 2, size=(8, 3)).astype(np.float64)
    before = {k: p.copy() for k, p, _ in model.parameters()}
    stepper = Stepper(model, x, y, "binary_cross_entropy", lr=0.05)
    steps = stepper.run_all()
    assert len(steps) == stepper.count()
    updates = [s for s in steps if s.phase == "update"]
    assert [s.node_id for s in updates] == ["d1", "d2"]
    for s in updates:
        assert s.lr == 0.05
        for name, norm in s.param_norms.items():
            delta = model.layer(s.node_id).params[name] - before[f"{s.node_id}/{name}"]
            np.testing.assert_allclose(delta, -0.05 * stepper.param_grads[s.node_id][name], atol=1e-14)
            assert norm == pytest.approx(float(np.linalg.norm(delta)))
    assert updates[-1].loss_after is not None
    assert updates[-1].loss_after < stepper.loss_value


def test_steps_are_lazy_one_layer_per_next() -> None:
    model = _mlp("linear")
    rng = np.random.default_rng(5)
    stepper = Stepper(model, rng.normal(size=(3, 4)), rng.normal(size=(3, 3)), "mse")
    gen = stepper.steps()
    first = next(gen)
    assert (first.phase, first.node_id) == ("forward", "in")
    assert "d2" not in stepper.outputs
    second = next(gen)
    assert second.node_id == "d1" and "d1" in stepper.outputs and "t" not in stepper.outputs


def test_preview_is_small_and_tiles_feature_maps() -> None:
    maps = np.arange(2 * 8 * 5 * 5, dtype=float).reshape(2, 8, 5, 5)
    pic = preview_of(maps)
    assert pic.ndim == 2 and pic.shape == (3 * 6 - 1, 3 * 6 - 1)
    np.testing.assert_array_equal(pic[:5, :5], maps[0, 0])
    np.testing.assert_array_equal(pic[:5, 6:11], maps[0, 1])
    assert preview_of(np.zeros((512, 1000))).shape[1] <= 64
