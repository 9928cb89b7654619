"""A forward pass without capture (a training step, a prediction) runs a ReLU that only feeds a max pooling
after the pooling: exactly the same outputs and gradients, on a quarter of the values.  Checked against the
same model with the swap turned off."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.layers import Activation, Add, Conv2D, Dense, Flatten, Pool2D
from nnstudio.engine.losses import get_loss
from nnstudio.engine.model import Model, ModelNode


def cnn(act: Activation, pool: Pool2D, extra_reader: bool = False) -> Model:
    nodes = [ModelNode("in", None), ModelNode("conv", Conv2D(4, 3, padding=1), ["in"]),
             ModelNode("act", act, ["conv"]), ModelNode("pool", pool, ["act"]),
             ModelNode("flat", Flatten(), ["pool"]), ModelNode("dense", Dense(3), ["flat"])]
    if extra_reader:  # the activation's output is also read elsewhere: it must be computed whole
        nodes += [ModelNode("flat2", Flatten(), ["act"]), ModelNode("dense2", Dense(3), ["flat2"]),
                  ModelNode("sum", Add(), ["dense", "dense2"]), ModelNode("out", Activation("softmax"), ["sum"])]
    else:
        nodes.append(ModelNode("out", Activation("softmax"), ["dense"]))
    return Model(nodes, "in", "out").build((2, 8, 8), np, seed=3)


def unswapped(model: Model) -> Model:
    model._swaps = {}  # noqa: SLF001
    model._swap_steps, model._swap_counts = model._plan({})  # noqa: SLF001
    return model


def step(model: Model, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    loss = get_loss("cross_entropy")
    out = model.forward(x, training=True, logits=True)
    _, grad = loss.forward(out, y, from_logits=True)
    dx = model.backward(grad, need_input_grad=True)
    return out, dx, {k: g.copy() for k, _, g in model.parameters()}


def batch(n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 2, 8, 8)).astype(np.float32)
    x[:3] = np.round(x[:3])  # ties inside windows, and whole windows of zeros after the ReLU
    x[3] = -np.abs(x[3])  # a sample whose ReLU output is all zeros
    return x, rng.integers(0, 3, n)


@pytest.mark.parametrize("act, pool", [
    (Activation("relu"), Pool2D("max", 2)),
    (Activation("leaky_relu", alpha=0.1), Pool2D("max", 2)),
    (Activation("relu"), Pool2D("max", 3, stride=2, padding=1)),  # overlapping windows, -inf padding
    (Activation("relu"), Pool2D("max", 2, stride=1)),
])
def test_swapped_step_gives_exactly_the_same_numbers(act: Activation, pool: Pool2D) -> None:
    x, y = batch()
    swapped = cnn(act, pool)
    assert swapped._swaps == {"pool": "act"}  # noqa: SLF001
    reference = unswapped(cnn(type(act)(act.function, act.alpha), Pool2D(pool.mode, pool.kernel, pool.strides,
                                                                           pool.padding)))
    out_a, dx_a, grads_a = step(swapped, x, y)
    out_b, dx_b, grads_b = step(reference, x, y)
    np.testing.assert_array_equal(out_a, out_b)
    np.testing.assert_array_equal(dx_a, dx_b)
    assert grads_a.keys() == grads_b.keys()
    for key in grads_a:
        np.testing.assert_array_equal(grads_a[key], grads_b[key], err_msg=key)
    # The ReLU really ran on the pooled values.
    assert swapped.nodes["act"].layer._kept.shape == (16, *swapped.shapes["pool"])  # noqa: SLF001


def test_no_swap_where_it_would_change_what_is_seen() -> None:
    assert cnn(Activation("relu"), Pool2D("avg", 2))._swaps == {}  # noqa: SLF001 - a mean does not commute
    assert cnn(Activation("sigmoid"), Pool2D("max", 2))._swaps == {}  # noqa: SLF001 - only ReLUs
    assert cnn(Activation("leaky_relu", alpha=-0.5), Pool2D("max", 2))._swaps == {}  # noqa: SLF001
    assert cnn(Activation("relu"), Pool2D("max", 2), extra_reader=True)._swaps == {}  # noqa: SLF001


def test_capture_computes_the_activation_whole() -> None:
    """The panels read every node's output: with capture the ReLU's is the full map."""
    x, _ = batch(4)
    model = cnn(Activation("relu"), Pool2D("max", 2))
    for training in (True, False):
        model.forward(x, training=training, capture=True)
        assert model.activations["act"].shape == (4, 4, 8, 8)
        np.testing.assert_array_equal(model.activations["act"], np.maximum(model.activations["conv"], 0))
        assert model.nodes["act"].layer._kept.shape == (4, 4, 8, 8)  # noqa: SLF001


@pytest.mark.parametrize("act, pool", [
    (Activation("relu"), Pool2D("max", 2)),
    (Activation("leaky_relu", alpha=0.1), Pool2D("max", 3, stride=2, padding=1)),
])
def test_evaluation_without_capture_swaps_too_and_gives_the_same_answers_and_saliency(act: Activation,
                                                                                       pool: Pool2D) -> None:
    """Predictions, validation passes and saliency maps (a forward pass in evaluation, then the input's
    gradient) see exactly what the unswapped network gives."""
    x, _ = batch(8)
    swapped = cnn(act, pool)
    reference = unswapped(cnn(type(act)(act.function, act.alpha), Pool2D(pool.mode, pool.kernel, pool.strides,
                                                                           pool.padding)))
    answers = []
    for model in (swapped, reference):
        out = model.forward(x, training=False, logits=True)
        grad = np.zeros_like(out)
        grad[:, 1] = 1.0
        answers.append((out, model.backward(grad, need_input_grad=True)))
    assert swapped.nodes["act"].layer._kept.shape == (8, *swapped.shapes["pool"])  # noqa: SLF001 - it swapped
    np.testing.assert_array_equal(answers[0][0], answers[1][0])
    np.testing.assert_array_equal(answers[0][1], answers[1][1])
