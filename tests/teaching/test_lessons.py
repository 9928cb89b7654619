"""Lessons: every example carries one (English and Chinese), the loader validates them, and a run is judged
against the example's goal the same way by the lesson card and tools/check_examples.py."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nnstudio.errors import UserError
from nnstudio.graph.project_file import load_project, project_from_dict, project_to_dict, save_project
from nnstudio.teaching.lessons import (CHAPTER_KEYS, CHAPTERS, Goal, RunOutcome, check_goal, lesson_of,
                                       parse_goal, parse_lesson)
from nnstudio.training.config import TrainingConfig
from nnstudio.training.events import RunFinished
from nnstudio.training.trainer import Trainer, load_dataset

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "resources" / "examples").glob("*.json"))
CURRICULUM = ["perceptron", "mlp", "softmax", "cnn", "captcha", "gradients"]


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_has_a_lesson_in_both_languages(path: Path):
    lesson = lesson_of(load_project(path))
    assert lesson is not None
    assert lesson.check is not None, "the lesson's goal must be machine-checkable"
    for name in ("goal", "watch", "next"):
        en, zh = lesson.text(name, "en"), lesson.text(name, "zh")
        assert len(en) > 20 and not _chinese(en), (name, en)
        assert _chinese(zh) and zh != en, (name, zh)
    assert lesson.check.describe("en") and _chinese(lesson.check.describe("zh"))


def test_chapters_follow_the_curriculum_and_each_has_examples():
    assert list(CHAPTER_KEYS) == CURRICULUM
    lessons = {p.stem: lesson_of(load_project(p)) for p in EXAMPLES}
    used = {lesson.chapter for lesson in lessons.values()}
    assert used == set(CURRICULUM)
    places = [(lesson.chapter, lesson.order) for lesson in lessons.values()]
    assert len(set(places)) == len(places), "two examples share a place in a chapter"
    assert lessons["perceptron-and"].chapter == "perceptron" and lessons["mlp-xor"].chapter == "mlp"
    assert lessons["mnist-cnn"].chapter == "cnn" and lessons["vanishing-gradients"].chapter == "gradients"
    assert all(_chinese(c.title("zh")) and not _chinese(c.title("en")) for c in CHAPTERS)


def test_perceptron_xor_goal_says_it_stays_at_three_of_four():
    lesson = lesson_of(load_project(ROOT / "resources" / "examples" / "perceptron-xor.json"))
    assert lesson.check == Goal("test_acc", max=0.76)
    assert check_goal(lesson.check, RunOutcome("completed", test_acc=0.75)).met
    assert not check_goal(lesson.check, RunOutcome("completed", test_acc=1.0)).met


def _lesson_dict(**changes):
    lesson = {"chapter": "mlp", "order": 3, "goal_en": "Reach it.", "goal_zh": "达到。", "watch_en": "The curve.",
              "watch_zh": "曲线。", "next_en": "Try more units.", "next_zh": "多试几个单元。"}
    lesson.update(changes)
    return lesson


def _project(**top):
    data = {"format": "nnstudio.project", "version": 1, "name": "t",
            "graph": {"nodes": [{"id": "in", "type": "Input", "params": {"shape": [2]}}], "edges": []}}
    data.update(top)
    return data


@pytest.mark.parametrize("lesson, goal, expected", [
    (_lesson_dict(chapter="rnn"), None, "lesson.chapter must be one of perceptron"),
    (_lesson_dict(order=-1), None, "lesson.order must be a whole number"),
    (_lesson_dict(order=True), None, "lesson.order must be a whole number"),
    (_lesson_dict(watch_en=""), None, "lesson.watch_en must not be empty"),
    (_lesson_dict(next_zh=3), None, "lesson.next_zh must be text"),
    ("hello", None, "\"lesson\" must be an object"),
    (_lesson_dict(), {"metric": "loss"}, "goal.metric must be one of test_acc"),
    (_lesson_dict(), {"metric": "test_acc"}, "needs \"min\" or \"max\""),
    (_lesson_dict(), {"metric": "test_acc", "min": "high"}, "goal.min must be a number"),
    (_lesson_dict(), {"metric": "test_acc", "min": 0.9, "max": 0.5}, "goal.min must be below goal.max"),
    (_lesson_dict(), {"metric": "hint"}, "goal.kind must name a hint"),
    (_lesson_dict(), {"metric": "reason", "value": "boom"}, "goal.value must be one of completed"),
])
def test_loader_refuses_a_bad_lesson_naming_the_field(lesson, goal, expected):
    top = {"lesson": lesson}
    if goal is not None:
        top["goal"] = goal
    with pytest.raises(UserError) as err:
        project_from_dict(_project(**top), "project file 'x.nnproj'")
    assert "project file 'x.nnproj'" in str(err.value) and expected in str(err.value)
    assert "\n" not in str(err.value)


def test_projects_without_a_lesson_load_as_before_and_lessons_survive_a_save(tmp_path):
    plain = project_from_dict(_project())
    assert lesson_of(plain) is None and plain.extras == {}
    project = project_from_dict(_project(lesson=_lesson_dict(), goal={"metric": "test_acc", "min": 0.9}))
    path = tmp_path / "p.nnproj"
    save_project(project, path)
    again = load_project(path)
    assert lesson_of(again) == lesson_of(project) == parse_lesson(_lesson_dict(), {"metric": "test_acc", "min": 0.9})
    assert project_to_dict(again)["lesson"] == _lesson_dict()


def test_check_goal_bounds_reasons_and_hints():
    at_least = parse_goal({"metric": "test_acc", "min": 0.9})
    assert check_goal(at_least, RunOutcome("completed", test_acc=0.9)).met
    assert check_goal(at_least, RunOutcome("stopped", test_acc=0.95)).met  # reached it before stopping
    assert not check_goal(at_least, RunOutcome("completed", test_acc=0.89)).met
    assert not check_goal(at_least, RunOutcome("nan", test_acc=0.95)).met
    assert not check_goal(at_least, RunOutcome("completed", test_acc=float("nan"))).met
    below = parse_goal({"metric": "test_acc", "max": 0.76})
    assert not check_goal(below, RunOutcome("stopped", test_acc=0.5)).met  # stopping early proves nothing
    r2 = parse_goal({"metric": "test_r2", "min": 0.95})
    assert check_goal(r2, RunOutcome("completed", test_metrics={"r2": 0.99})).measured == "r2 0.9900"
    assert not check_goal(r2, RunOutcome("completed", test_metrics={})).met
    nan = parse_goal({"metric": "reason", "value": "nan"})
    assert check_goal(nan, RunFinished("nan", "loss became NaN", 1)).met
    # the card says what happened in the run's own words, without the reason's key in front ("nan: loss ...")
    assert check_goal(nan, RunFinished("nan", "loss became NaN at epoch 1", 1)).measured == "loss became NaN at epoch 1"
    assert check_goal(at_least, RunOutcome("stopped", "training stopped")).measured == "n/a (training stopped)"
    assert not check_goal(nan, RunFinished("completed", "", 20)).met
    hint = parse_goal({"metric": "hint", "kind": "overfitting"})
    assert check_goal(hint, RunOutcome("completed"), ["dead_relu", "overfitting"]).met
    assert not check_goal(hint, RunOutcome("completed"), ["dead_relu"]).met
    assert hint.describe("en") == "the \u201coverfitting\u201d hint appears during training"
    assert at_least.describe("en") == "test accuracy at least 90%"
    assert parse_goal({"metric": "test_acc", "min": 0.965}).describe("zh") == "测试准确率至少 96.5%"
    every = parse_goal({"metric": "test_acc", "min": 1.0})  # all four corners of XOR: not "at least 100%"
    assert every.describe("en") == "test accuracy 100%" and every.describe("zh") == "测试准确率 100%"


@pytest.mark.parametrize("name, expected", [("perceptron-xor", True), ("mlp-xor", True)])
def test_training_an_example_meets_its_lesson_goal(name: str, expected: bool):
    """The trainer's own RunFinished judged by the lesson (the toy examples train in well under a second)."""
    project = load_project(ROOT / "resources" / "examples" / f"{name}.json")
    lesson = lesson_of(project)
    config = TrainingConfig.from_dict(project.training).replace(backend="numpy")
    events = list(Trainer(project, load_dataset(config), config, "numpy").run())
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    assert check_goal(lesson.check, finished).met is expected
    fewer = config.replace(epochs=1)  # one epoch of the MLP is not enough; the goal is not a formality
    if name == "mlp-xor":
        with np.errstate(all="ignore"):
            short = list(Trainer(project, load_dataset(fewer), fewer, "numpy").run())[-1]
        assert not check_goal(lesson.check, short).met


def test_examples_json_keeps_the_goal_beside_the_lesson():
    for path in EXAMPLES:
        raw = json.loads(path.read_text(encoding="utf-8"))
        assert set(raw["lesson"]) == {"chapter", "order", "goal_en", "goal_zh", "watch_en", "watch_zh",
                                      "next_en", "next_zh"}, path.stem
