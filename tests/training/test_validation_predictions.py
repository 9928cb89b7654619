"""The trainer's validation pass hands out its predicted classes, and the confusion panel's view built from
them is the one a second pass of the model over the same rows would give."""
from __future__ import annotations

import numpy as np

from nnstudio.training import views
from nnstudio.training.config import TrainingConfig
from nnstudio.training.events import EpochReport, RunStarted
from nnstudio.training.trainer import Trainer


def config(**kw) -> TrainingConfig:
    base = dict(dataset="moons", loss="cross_entropy", optimizer="adam", learning_rate=0.02, batch_size=32,
                epochs=2, seed=0, validation_split=0.2)
    base.update(kw)
    return TrainingConfig(**base)


def test_epoch_report_carries_the_validation_predictions(mlp_graph, moons):
    trainer = Trainer(mlp_graph, moons, config(), "numpy")
    val_indices = None
    seen = 0
    for event in trainer.run():
        if isinstance(event, RunStarted):
            val_indices = event.val_indices
        if isinstance(event, EpochReport):
            seen += 1
            assert event.val_predictions is not None and len(event.val_predictions) == len(val_indices)
            from_report = views.validation_predictions(moons, val_indices, event.val_predictions, event.epoch)
            rows, source = views.validation_rows(moons, val_indices)
            second_pass = views.predictions(trainer.model, moons, rows, source, event.epoch, "cross_entropy")
            assert from_report is not None and from_report.source == source == "train"
            np.testing.assert_array_equal(from_report.indices, second_pass.indices)
            np.testing.assert_array_equal(from_report.y_true, second_pass.y_true)
            np.testing.assert_array_equal(from_report.y_pred, second_pass.y_pred)
            # The confusion matrix of the report counts exactly these predictions.
            counts = np.zeros_like(event.confusion)
            np.add.at(counts, (from_report.y_true, from_report.y_pred), 1)
            np.testing.assert_array_equal(counts, event.confusion)
    assert seen == 2


def test_without_a_validation_split_the_view_runs_the_model(mlp_graph, moons):
    trainer = Trainer(mlp_graph, moons, config(validation_split=0.0, epochs=1), "numpy")
    reports = [e for e in trainer.run() if isinstance(e, EpochReport)]
    assert reports[0].val_predictions is None
    assert views.validation_predictions(moons, trainer.val_indices, reports[0].val_predictions, 1) is None


def test_the_predictions_follow_the_row_limit(moons):
    rows = np.arange(10, 40)
    predicted = (np.arange(30) % 2).astype(np.int64)
    found = views.validation_predictions(moons, rows, predicted, 3, limit=12)
    np.testing.assert_array_equal(found.indices, rows[:12])
    np.testing.assert_array_equal(found.y_pred, predicted[:12])
    np.testing.assert_array_equal(found.y_true, np.asarray(moons.y_train)[rows[:12]])
    assert found.epoch == 3 and found.source == "train"
