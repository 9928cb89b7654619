"""Project files: the documented example, round trips, atomic saves, versions and migrations, errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import nnstudio.userdirs
from nnstudio.errors import UserError
from nnstudio.graph.project_file import (FORMAT, FORMAT_VERSION, MIGRATIONS, TRAINING_DEFAULTS, Project,
                                         load_project, migrate, project_from_dict, project_to_dict,
                                         save_project, weights_path_for)
from nnstudio.graph.shapes import infer_shapes

EXAMPLE = """{"format": "nnstudio.project", "version": 1, "name": "LeNet", "graph": {"nodes": [{"id": "in", "type": "Input", "params": {"shape": [1, 28, 28]}, "position": [0, 0]}, {"id": "c1", "type": "Conv2D", "params": {"filters": 6, "kernel_size": 5, "stride": 1, "padding": 2}}, {"id": "a1", "type": "Activation", "params": {"function": "relu"}}, {"id": "p1", "type": "Pool2D", "params": {"mode": "max", "size": 2}}, {"id": "d1", "type": "Dense", "params": {"units": 10}}, {"id": "out", "type": "Activation", "params": {"function": "softmax"}}], "edges": [{"from": "in", "to": "c1"}, {"from": "c1", "to": "a1"}, {"from": "a1", "to": "p1"}, {"from": "p1", "to": "d1"}, {"from": "d1", "to": "out"}]}, "training": {"dataset": "mnist", "loss": "cross_entropy", "optimizer": "adam", "learning_rate": 0.001, "batch_size": 64, "epochs": 3, "seed": 0, "validation_split": 0.1}}"""  # noqa: E501


@pytest.fixture
def example_path(tmp_path: Path) -> Path:
    path = tmp_path / "lenet.nnproj"
    path.write_text(EXAMPLE, encoding="utf-8")
    return path


def test_the_documented_example_loads(example_path):
    project = load_project(example_path)
    assert project.name == "LeNet" and project.path == example_path
    assert list(project.graph.nodes) == ["in", "c1", "a1", "p1", "d1", "out"]
    assert project.graph.nodes["in"].position == (0.0, 0.0)
    assert project.graph.nodes["p1"].params == {"mode": "max", "size": 2, "stride": 0, "padding": 0}
    assert project.graph.inputs_of("d1") == ["p1"]
    assert project.training == TRAINING_DEFAULTS
    report = infer_shapes(project.graph, sample_shape=(1, 28, 28), loss=project.training["loss"], num_classes=10)
    assert report.ok and report.shapes["out"] == (10,)


def test_round_trip_is_equal_and_stable(tmp_path, example_path):
    project = load_project(example_path)
    project.description_en = "The classic"
    project.description_zh = "经典的卷积网络"
    project.name_zh = "经典网络"
    project.extras["author"] = {"name": "Ada"}
    project.training["momentum"] = 0.8  # a setting this version does not know is kept
    target = tmp_path / "copy.nnproj"
    save_project(project, target)
    again = load_project(target)
    assert again == project
    assert again.extras == {"author": {"name": "Ada"}} and again.training["momentum"] == 0.8
    text = target.read_text(encoding="utf-8")
    assert "经典的卷积网络" in text and text.endswith("\n")
    assert list(json.loads(text)) == ["format", "version", "name", "name_zh", "description_en", "description_zh",
                                      "graph", "training", "author"]
    save_project(again, tmp_path / "third.nnproj")
    assert (tmp_path / "third.nnproj").read_bytes() == target.read_bytes()


def test_defaults_for_missing_params_and_training(tmp_path):
    data = {"format": FORMAT, "version": 1, "name": "Tiny",
            "graph": {"nodes": [{"id": "i", "type": "Input", "params": {"shape": [2]}}, {"id": "d", "type": "Dense"}],
                      "edges": [{"from": "i", "to": "d"}]}}
    project = project_from_dict(data)
    assert project.graph.nodes["d"].params == {"units": 10, "use_bias": True, "init": "he"}
    assert project.training == TRAINING_DEFAULTS and project.graph.nodes["d"].position is None


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path, example_path, monkeypatch):
    original = example_path.read_bytes()
    project = load_project(example_path)
    project.name = "Changed"

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nnstudio.userdirs.os, "replace", broken_replace)
    with pytest.raises(UserError, match="cannot be written"):
        save_project(project, example_path)
    assert example_path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lenet.nnproj"]  # no temporary file left behind


def test_unsavable_values_do_not_touch_the_file(example_path):
    original = example_path.read_bytes()
    project = load_project(example_path)
    project.extras["bad"] = {1, 2}
    with pytest.raises(UserError, match="cannot be saved as JSON"):
        save_project(project, example_path)
    assert example_path.read_bytes() == original


def test_newer_version_is_refused(tmp_path):
    path = tmp_path / "future.nnproj"
    path.write_text(json.dumps({"format": FORMAT, "version": 3, "name": "x", "graph": {"nodes": []}}))
    with pytest.raises(UserError) as info:
        load_project(path)
    message = str(info.value)
    assert str(path) in message
    assert "was saved by a newer NN Studio (format version 3); this version reads up to 1" in message


def test_version_zero_is_migrated(tmp_path):
    old = {"format": FORMAT, "version": 0, "name": "Old MLP",
           "layers": [{"type": "Input", "params": {"shape": [2]}}, {"type": "Dense", "params": {"units": 8}},
                      {"id": "act", "type": "Activation", "params": {"function": "tanh"}},
                      {"type": "Dense", "params": {"units": 1}}],
           "training": {"dataset": "moons", "loss": "mse"}}
    path = tmp_path / "old.nnproj"
    path.write_text(json.dumps(old))
    project = load_project(path)
    assert list(project.graph.nodes) == ["input_1", "dense_2", "act", "dense_4"]
    assert project.graph.inputs_of("dense_4") == ["act"] and project.training["dataset"] == "moons"
    assert infer_shapes(project.graph).ok
    assert project_to_dict(project)["version"] == FORMAT_VERSION and "layers" not in project_to_dict(project)
    assert set(MIGRATIONS) == set(range(FORMAT_VERSION))
    assert old["version"] == 0 and "layers" in old  # migration works on a copy


def test_migration_errors_name_the_version():
    with pytest.raises(UserError, match=r"format version 0\): \"layers\" must be a list"):
        migrate({"format": FORMAT, "version": 0, "layers": 5}, "project file 'a'")
    with pytest.raises(UserError, match="is not a version NN Studio ever wrote"):
        migrate({"format": FORMAT, "version": -1})
    with pytest.raises(UserError, match="must be a whole number"):
        migrate({"format": FORMAT, "version": "1"})


@pytest.mark.parametrize("content,expected", [
    (b"", "is not valid JSON"),
    (b"{not json", "is not valid JSON: Expecting property name enclosed in double quotes at line 1, column 2"),
    (b"\xff\xfe\x00garbage", "is not UTF-8 text"),
    (b"[1, 2]", "is not an NN Studio project: expected a JSON object"),
    (b'{"format": "something.else", "version": 1}', 'expected "format": "nnstudio.project"'),
    (b'{"format": "nnstudio.project", "version": 1, "graph": {"nodes": [{"id": "c2", "type": "Conv2D", '
     b'"params": {"kernel_size": -3}}]}}', "Conv2D 'c2': kernel_size must be at least 1. Received: kernel_size=-3"),
    (b'{"format": "nnstudio.project", "version": 1, "training": {"batch_size": 0}}',
     "training.batch_size must be between 1 and 65536. Received: batch_size=0"),
    (b'{"format": "nnstudio.project", "version": 1, "training": {"optimizer": "adamw"}}',
     "training.optimizer must be one of sgd, momentum, nesterov, adam, rmsprop"),
    (b'{"format": "nnstudio.project", "version": 1, "training": {"loss": "l1"}}',
     "training.loss must be one of mse, cross_entropy, binary_cross_entropy, perceptron, hinge"),
    (b'{"format": "nnstudio.project", "version": 1, "name": 5}', '"name" must be text'),
])
def test_bad_files_raise_user_errors_naming_the_file(tmp_path, content, expected):
    path = tmp_path / "bad.nnproj"
    path.write_bytes(content)
    with pytest.raises(UserError) as info:
        load_project(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_project(tmp_path / "nope.nnproj")
    with pytest.raises(UserError, match="is a folder"):
        load_project(tmp_path)


def test_weights_path_for():
    assert weights_path_for("/p/lenet.nnproj") == Path("/p/lenet.weights.npz")
    assert weights_path_for("/p/my.net.nnproj") == Path("/p/my.net.weights.npz")
    assert weights_path_for("lenet") == Path("lenet.weights.npz")


def test_project_defaults():
    project = Project()
    assert project.name == "Untitled" and project.training == TRAINING_DEFAULTS
    assert project.training is not Project().training
    assert project == project_from_dict(project_to_dict(project))


def test_the_example_in_the_format_doc_loads():
    doc = Path(__file__).resolve().parents[2] / "docs" / "project-format.md"
    text = doc.read_text(encoding="utf-8")
    block = text.split("```json", 1)[1].split("```", 1)[0]
    project = project_from_dict(json.loads(block))
    assert project == project_from_dict(json.loads(EXAMPLE))
