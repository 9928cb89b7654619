"""TrainingConfig validation and the host metrics (accuracy, confusion, regression scores)."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.engine.losses import accuracy as engine_accuracy
from nnstudio.errors import UserError
from nnstudio.training import metrics
from nnstudio.training.config import TrainingConfig


def test_defaults_and_from_dict():
    cfg = TrainingConfig.from_dict({"dataset": "xor", "epochs": 5.0, "learning_rate": 1, "views": ["x"]})
    assert cfg.dataset == "xor" and cfg.epochs == 5 and isinstance(cfg.epochs, int)
    assert cfg.learning_rate == 1.0 and cfg.optimizer == "adam" and cfg.dataset_options == {}
    assert TrainingConfig.from_dict(None) == TrainingConfig()
    assert cfg.replace(epochs=2).epochs == 2 and cfg.epochs == 5


@pytest.mark.parametrize("field,value,expected", [
    ("learning_rate", 0, "above 0"), ("learning_rate", "fast", "a number"), ("epochs", 0, "between 1"),
    ("batch_size", 2.5, "a whole number"), ("loss", "l1", "one of mse"), ("optimizer", "lbfgs", "sgd"),
    ("schedule", "linear", "constant"), ("validation_split", 1.0, "below 1"), ("augment", "yes", "true or false"),
    ("backend", "tpu", "auto"), ("clip_norm", -1, "above 0"), ("dataset", "", "dataset name"),
    ("dataset_options", [1], "object"), ("max_train_samples", 0, "between 1"), ("momentum", 1.0, "below 1"),
])
def test_bad_values_name_the_field(field, value, expected):
    with pytest.raises(UserError) as err:
        TrainingConfig.from_dict({field: value}, source="project 'x': training")
    text = str(err.value)
    assert f"training.{field} must be" in text and expected in text and repr(value) in text


def test_direct_construction_is_validated():
    with pytest.raises(UserError, match="batch_size"):
        TrainingConfig(batch_size=0)


def test_accuracy_kinds():
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert metrics.accuracy(scores, np.array([1, 0, 0])) == pytest.approx(2 / 3)
    probs = np.array([[0.9], [0.2], [0.6]])
    assert metrics.accuracy(probs, np.array([1, 0, 0]), "binary_cross_entropy") == pytest.approx(2 / 3)
    signs = np.array([[1.0], [-1.0], [1.0]])
    assert metrics.accuracy(signs, np.array([1, -1, -1]), "perceptron") == pytest.approx(2 / 3)
    assert metrics.accuracy(signs, np.array([1, 0, 1]), "perceptron") == 1.0
    seq = np.zeros((2, 3, 4))
    seq[0, [0, 1, 2], [1, 2, 3]] = 1
    seq[1, [0, 1, 2], [0, 0, 0]] = 1
    labels = np.array([[1, 2, 3], [0, 0, 1]])
    assert metrics.accuracy(seq, labels) == 0.5
    s = metrics.sequence_accuracy(seq, labels)
    assert s.whole == 0.5 and s.per_position == (1.0, 1.0, 0.5)


@pytest.mark.parametrize("loss,outputs,targets", [
    ("cross_entropy", np.random.default_rng(0).random((50, 4)), np.random.default_rng(1).integers(0, 4, 50)),
    ("binary_cross_entropy", np.random.default_rng(2).random((50, 1)), np.random.default_rng(3).integers(0, 2, 50)),
    ("perceptron", np.random.default_rng(4).normal(size=(50, 1)), np.random.default_rng(5).integers(0, 2, 50)),
    ("mse", np.random.default_rng(6).random((50, 1)), np.random.default_rng(7).integers(0, 2, 50)),
])
def test_host_accuracy_matches_the_engine(loss, outputs, targets):
    assert metrics.accuracy(outputs, targets, loss) == pytest.approx(engine_accuracy(outputs, targets, loss).value)


def test_confusion_matrix_matches_a_loop():
    rng = np.random.default_rng(0)
    t, p = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    expected = np.zeros((5, 5), dtype=np.int64)
    for a, b in zip(t, p):
        expected[a, b] += 1
    got = metrics.confusion_matrix(t, p, 5)
    assert np.array_equal(got, expected) and got.dtype == np.int64
    assert metrics.confusion_matrix(t.reshape(100, 3), p.reshape(100, 3), 5).sum() == 300
    with pytest.raises(ValueError):
        metrics.confusion_matrix(t, p[:10], 5)


def test_regression_scores():
    t = np.array([[1.0], [2.0], [3.0], [4.0]])
    assert metrics.mse(t, t) == 0.0 and metrics.r2_score(t, t) == 1.0
    assert metrics.mse(t + 1, t) == pytest.approx(1.0)
    assert metrics.r2_score(np.full_like(t, t.mean()), t) == pytest.approx(0.0)
    assert metrics.r2_score(t[::-1], t) == pytest.approx(-3.0)


def test_target_classes():
    assert metrics.target_classes(np.array([-1, 1, 1])).tolist() == [0, 1, 1]
    assert metrics.target_classes(np.array([[0.0, 1.0], [1.0, 0.0]])).tolist() == [1, 0]
    assert metrics.target_classes(np.array([[0.9], [0.1]])).tolist() == [1, 0]
