"""Losses: values against plain references, gradients against finite differences, target formats, accuracy."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from nnstudio.engine.backend import to_host
from nnstudio.engine.gradcheck import numerical_gradient, relative_error
from nnstudio.engine.losses import LOSSES, Accuracy, accuracy, get_loss
from nnstudio.errors import UserError


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _gradcheck(loss: Any, output: Any, target: Any, from_logits: bool) -> float:
    _, grad = loss.forward(output, target, from_logits=from_logits)
    assert grad.shape == output.shape
    numeric = numerical_gradient(lambda: loss.forward(output, target, from_logits=from_logits)[0], output)
    return relative_error(grad, numeric)


SHAPES = [(5, 4), (3, 4, 10)]  # (N, K) and (N, P, K), e.g. 4 captcha digits


def _classification_case(rng: np.random.Generator, shape: tuple[int, ...], name: str, xp: Any,
                         one_hot: bool) -> tuple[Any, Any, bool]:
    """(output, target, from_logits) for a loss on classes; outputs kept away from the kinks."""
    k = shape[-1]
    labels = rng.integers(0, k, size=shape[:-1])
    target = np.eye(k)[labels] if one_hot else labels
    if name == "cross_entropy" and one_hot:
        target = _softmax(rng.normal(size=shape))  # soft probabilities
    z = rng.normal(size=shape)
    return xp.asarray(z), xp.asarray(target), True


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["cross_entropy", "mse", "perceptron", "hinge"])
@pytest.mark.parametrize("one_hot", [False, True])
def test_multiclass_losses_gradcheck(xp_backend, name, shape, one_hot):
    xp = xp_backend.xp
    rng = np.random.default_rng([len(name), len(shape), int(one_hot)])
    loss = get_loss(name)
    output, target, _ = _classification_case(rng, shape, name, xp, one_hot)
    assert _gradcheck(loss, output, target, from_logits=True) < 1e-6
    value, _ = loss.forward(output, target, from_logits=True)
    assert isinstance(value, float) and value >= 0.0


@pytest.mark.parametrize("shape", SHAPES)
def test_cross_entropy_from_probabilities_gradcheck_and_value(xp_backend, shape):
    xp = xp_backend.xp
    rng = np.random.default_rng(4)
    z = rng.normal(size=shape)
    labels = rng.integers(0, shape[-1], size=shape[:-1])
    probs = xp.asarray(_softmax(z))
    loss = get_loss("cross_entropy")
    assert _gradcheck(loss, probs, xp.asarray(labels), from_logits=False) < 1e-6
    # Same value from probabilities and from logits, and both equal the plain definition.
    plain = -np.log(np.take_along_axis(_softmax(z), labels[..., None], axis=-1)).mean()
    from_probs, _ = loss.forward(probs, xp.asarray(labels), from_logits=False)
    from_logits, grad = loss.forward(xp.asarray(z), xp.asarray(labels), from_logits=True)
    assert from_probs == pytest.approx(plain, rel=1e-10)
    assert from_logits == pytest.approx(plain, rel=1e-10)
    # The fused gradient is (p - onehot) / (N*P).
    count = int(np.prod(shape[:-1]))
    np.testing.assert_allclose(to_host(grad), (_softmax(z) - np.eye(shape[-1])[labels]) / count, atol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits(xp):
    z = xp.asarray(np.array([[1000.0, -1000.0, 0.0], [-500.0, 500.0, 499.0]], dtype=np.float32))
    value, grad = get_loss("cross_entropy").forward(z, xp.asarray([0, 2]), from_logits=True)
    assert np.isfinite(value) and value == pytest.approx(0.5 * (0.0 + 1.0 + np.log1p(np.exp(-1.0))), rel=1e-5)
    assert np.all(np.isfinite(to_host(grad)))


@pytest.mark.parametrize("out_shape, target_shape", [((6, 1), (6,)), ((6, 1), (6, 1)), ((6, 3), (6, 3))])
def test_binary_cross_entropy_gradcheck_both_forms(xp_backend, out_shape, target_shape):
    xp = xp_backend.xp
    rng = np.random.default_rng(7)
    loss = get_loss("binary_cross_entropy")
    assert loss.fuses_with == "sigmoid"
    z = rng.normal(size=out_shape)
    t = rng.integers(0, 2, size=target_shape).astype(np.float64)
    p = 1 / (1 + np.exp(-z))
    assert _gradcheck(loss, xp.asarray(z), xp.asarray(t), from_logits=True) < 1e-6
    assert _gradcheck(loss, xp.asarray(p), xp.asarray(t), from_logits=False) < 1e-6
    tt = t.reshape(out_shape)
    plain = -(tt * np.log(p) + (1 - tt) * np.log(1 - p)).mean()
    assert loss.forward(xp.asarray(z), xp.asarray(t), from_logits=True)[0] == pytest.approx(plain, rel=1e-10)
    assert loss.forward(xp.asarray(p), xp.asarray(t), from_logits=False)[0] == pytest.approx(plain, rel=1e-10)


def test_binary_cross_entropy_from_logits_is_stable(xp):
    z = xp.asarray(np.array([[800.0], [-800.0], [30.0]], dtype=np.float32))
    value, grad = get_loss("binary_cross_entropy").forward(z, xp.asarray([0.0, 1.0, 1.0]), from_logits=True)
    assert value == pytest.approx((800 + 800 + np.log1p(np.exp(-30.0))) / 3, rel=1e-5)
    np.testing.assert_allclose(to_host(grad).ravel(), [1 / 3, -1 / 3, 0.0], atol=1e-7)


@pytest.mark.parametrize("name", ["perceptron", "hinge", "mse"])
def test_one_unit_margin_losses_gradcheck_and_label_mapping(xp_backend, name):
    xp = xp_backend.xp
    rng = np.random.default_rng(9)
    z = rng.normal(size=(8, 1))
    z[np.abs(z) < 0.05] += 0.2  # keep clear of the kinks at z = 0 and |z| = 1
    z[np.abs(np.abs(z) - 1) < 0.05] += 0.2
    pm = rng.choice([-1.0, 1.0], size=8)
    loss = get_loss(name)
    assert _gradcheck(loss, xp.asarray(z), xp.asarray(pm), from_logits=False) < 1e-6
    if name != "mse":
        a = loss.forward(xp.asarray(z), xp.asarray(pm))
        b = loss.forward(xp.asarray(z), xp.asarray((pm > 0).astype(np.int64)))  # {0, 1} -> {-1, +1}
        assert a[0] == b[0]
        np.testing.assert_array_equal(to_host(a[1]), to_host(b[1]))


def test_perceptron_and_hinge_values_by_hand(xp):
    z = xp.asarray(np.array([[2.0], [-0.5], [0.3], [0.0]]))
    y = xp.asarray(np.array([1.0, 1.0, -1.0, 1.0]))
    value, grad = get_loss("perceptron").forward(z, y)
    assert value == pytest.approx((0 + 0.5 + 0.3 + 0) / 4)
    # A score of exactly 0 counts as a mistake, so a zero-initialised perceptron still learns.
    np.testing.assert_allclose(to_host(grad).ravel(), [0, -0.25, 0.25, -0.25])
    value, grad = get_loss("hinge").forward(z, y)
    assert value == pytest.approx((0 + 1.5 + 1.3 + 1.0) / 4)
    np.testing.assert_allclose(to_host(grad).ravel(), [0, -0.25, 0.25, -0.25])
    # Crammer-Singer multi-class hinge: 1 + best wrong score - true score.
    scores = xp.asarray(np.array([[3.0, 1.0, 2.5], [0.0, 2.0, -1.0]]))
    value, grad = get_loss("hinge").forward(scores, xp.asarray([0, 1]))
    assert value == pytest.approx((0.5 + 0.0) / 2)
    np.testing.assert_allclose(to_host(grad), [[-0.5, 0, 0.5], [0, 0, 0]])


def test_mse_value_and_label_targets(xp):
    out = xp.asarray(np.array([[0.2, 0.8], [0.6, 0.1]]))
    value, _ = get_loss("mse").forward(out, xp.asarray(np.array([[0.0, 1.0], [1.0, 0.0]])))
    expected = (0.04 + 0.04 + 0.16 + 0.01) / 4
    assert value == pytest.approx(expected)
    assert get_loss("mse").forward(out, xp.asarray([1, 0]))[0] == pytest.approx(expected)


@pytest.mark.parametrize("name, output, target, message", [
    ("cross_entropy", np.zeros((3, 4)), np.array([0, 1, 4]), "0..3.*from 0 to 4"),
    ("cross_entropy", np.zeros((3, 4)), np.array([0, 1]), r"labels of shape \(3,\)"),
    ("cross_entropy", np.zeros(3), np.array([0, 1, 1]), "class axis"),
    ("mse", np.zeros((3, 2)), np.zeros((3, 5)), r"\(3, 5\) do not match .*\(3, 2\)"),
    ("hinge", np.zeros((3, 1)), np.array([0.0, 2.0, 1.0]), "-1/\\+1 or 0/1"),
    ("binary_cross_entropy", np.zeros((3, 2)), np.zeros(4), "do not match"),
])
def test_bad_targets_are_user_errors_naming_the_loss(name, output, target, message):
    with pytest.raises(UserError, match=f"Loss '{name}'.*{message}"):
        get_loss(name).forward(output, target)


def test_get_loss_names():
    assert set(LOSSES) == {"mse", "cross_entropy", "binary_cross_entropy", "perceptron", "hinge"}
    assert get_loss(" Cross_Entropy ").fuses_with == "softmax"
    assert get_loss("hinge").fuses_with is None
    with pytest.raises(UserError, match="Unknown loss 'l1'.*mse"):
        get_loss("l1")


# -- accuracy -------------------------------------------------------------------------------------------
def test_accuracy_for_classes_and_one_hot(xp):
    out = xp.asarray(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]))
    assert accuracy(out, xp.asarray([1, 0, 0, 0]), "cross_entropy") == Accuracy(0.75, None)
    assert accuracy(out, xp.asarray(np.eye(2)[[1, 0, 0, 0]]), "mse").value == 0.75


def test_accuracy_for_digit_sequences(xp):
    # 3 captchas of 4 digits: all right, one wrong digit, two wrong digits.
    labels = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 0, 1, 2]])
    predicted = labels.copy()
    predicted[1, 2] = 0
    predicted[2, 0] = 3
    predicted[2, 3] = 3
    out = xp.asarray(np.eye(10)[predicted])
    result = accuracy(out, xp.asarray(labels), "cross_entropy")
    assert result.value == pytest.approx(1 / 3)
    assert result.per_position == pytest.approx((2 / 3, 1.0, 2 / 3, 2 / 3))


def test_accuracy_for_one_unit_outputs(xp):
    probs = xp.asarray(np.array([[0.9], [0.4], [0.6], [0.1]]))
    assert accuracy(probs, xp.asarray([1, 0, 0, 0]), "binary_cross_entropy").value == 0.75
    scores = xp.asarray(np.array([1.5, -0.2, 0.3, -2.0]))
    assert accuracy(scores, xp.asarray([1, -1, -1, -1]), "hinge").value == 0.75
    assert accuracy(scores, xp.asarray([1, 0, 0, 0]), "perceptron").value == 0.75
    assert accuracy(probs, xp.asarray([1.0, 0.0, 1.0, 0.0]), "mse").value == 1.0


@pytest.mark.parametrize("shape", SHAPES + [(128, 10)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_on_labels_agrees_with_one_hot_targets_and_gives_the_softmax(xp, shape, dtype):
    """Scores with class labels take their own path (the label's score is picked, no one-hot targets): the
    same gradient bit for bit, the same value, and the probabilities it computed on the way are the softmax
    apply_activation gives."""
    from nnstudio.engine.model import apply_activation

    rng = np.random.default_rng(9)
    k = shape[-1]
    z = xp.asarray(rng.normal(size=shape).astype(dtype) * 3)
    labels = xp.asarray(rng.integers(0, k, size=shape[:-1]))
    one_hot = xp.asarray(np.eye(k, dtype=dtype)[to_host(labels)])
    loss = get_loss("cross_entropy")
    value, grad, probabilities = loss.value_grad_probabilities(z, labels, True)
    value_1h, grad_1h, probabilities_1h = loss.value_grad_probabilities(z, one_hot, True)
    assert grad.dtype == dtype and grad.shape == z.shape
    np.testing.assert_array_equal(to_host(grad), to_host(grad_1h))
    assert float(value) == pytest.approx(float(value_1h), rel=1e-6 if dtype == np.float32 else 1e-13)
    np.testing.assert_array_equal(to_host(probabilities), to_host(apply_activation(xp, "softmax", z)))
    np.testing.assert_array_equal(to_host(probabilities_1h), to_host(probabilities))
    assert loss.value_grad_probabilities(z, labels, False)[2] is None  # given probabilities: nothing new
    reference = -np.log(_softmax(to_host(z).astype(np.float64)))
    picked = np.take_along_axis(reference, to_host(labels)[..., None], axis=-1)
    assert float(value) == pytest.approx(picked.mean(), rel=1e-5)


@pytest.mark.parametrize("labels, found", [([0, 1, 4], "from 0 to 4"), ([-1, 2, 3], "from -1 to 3")])
def test_cross_entropy_on_scores_names_labels_out_of_range(xp, labels, found):
    with pytest.raises(UserError, match=f"Loss 'cross_entropy': class labels must be in 0..3 for 4 outputs; found labels {found}"):
        get_loss("cross_entropy").forward(xp.zeros((3, 4)), xp.asarray(labels), from_logits=True)


def test_binary_cross_entropy_gives_the_sigmoid_it_computed(xp):
    from nnstudio.engine.model import apply_activation

    z = xp.asarray(np.random.default_rng(10).normal(size=(6, 1)) * 4)
    _, _, probabilities = get_loss("binary_cross_entropy").value_grad_probabilities(z, xp.asarray([0, 1] * 3), True)
    np.testing.assert_array_equal(to_host(probabilities), to_host(apply_activation(xp, "sigmoid", z)))
