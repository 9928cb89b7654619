"""Lessons: what each curriculum example teaches, in English and Chinese, and a goal a run can be checked against.

An example project carries two optional top-level keys that the project loader validates here (any project
may have them; files without them load as before):

* ``"lesson"``: ``{"chapter", "order", "goal_en", "goal_zh", "watch_en", "watch_zh", "next_en", "next_zh"}``:
  the chapter of the curriculum it belongs to (:data:`CHAPTERS`), its place in that chapter, and three short
  texts for the lesson card: the goal, what to watch while it trains, what to try next.
* ``"goal"``: the machine-checkable goal (the same one ``tools/check_examples.py`` measures):
  ``{"metric": "test_acc", "min": 0.95}`` (test accuracy at least 0.95), ``{"metric": "test_acc", "max":
  0.99}`` (stays below 0.99), ``{"metric": "test_r2", "min": 0.95}``, ``{"metric": "hint", "kind":
  "overfitting"}`` (the run shows this hint) or ``{"metric": "reason", "value": "nan"}`` (the run ends so).

:func:`check_goal` judges one finished run (and the hints it showed) against a goal; the GUI's lesson card and
the tools use it, so "met" means the same everywhere.  No Qt here.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Iterable

from nnstudio.errors import UserError


@dataclass(frozen=True)
class Chapter:
    key: str
    title_en: str
    title_zh: str

    def title(self, lang: str) -> str:
        return self.title_zh if lang == "zh" and self.title_zh else self.title_en


# The curriculum, in teaching order: perceptron -> MLP -> softmax -> CNN -> captcha -> gradients.
CHAPTERS: tuple[Chapter, ...] = (
    Chapter("perceptron", "1. One neuron: regression and the perceptron", "1. 单个神经元：回归与感知机"),
    Chapter("mlp", "2. Hidden layers: the multilayer perceptron", "2. 隐藏层：多层感知机"),
    Chapter("softmax", "3. Many classes: softmax on digits", "3. 多分类：手写数字上的 Softmax"),
    Chapter("cnn", "4. Convolutional networks", "4. 卷积神经网络"),
    Chapter("captcha", "5. Reading captchas: several outputs at once", "5. 识别验证码：一次输出多个结果"),
    Chapter("gradients", "6. When training goes wrong: gradients and overfitting", "6. 训练出问题时：梯度与过拟合"),
)
CHAPTER_KEYS = tuple(c.key for c in CHAPTERS)
GOAL_METRICS = ("test_acc", "test_r2", "hint", "reason")
END_REASONS = ("completed", "stopped", "nan", "out_of_memory", "error")
# How the lesson card names the hints a goal can ask for (training.hints.KINDS).
HINT_NAMES = {
    "loss_activation": ("loss and output do not match", "损失与输出不匹配"),
    "learning_rate": ("learning rate too high", "学习率过高"),
    "exploding_gradients": ("exploding gradients", "梯度爆炸"),
    "vanishing_gradients": ("vanishing gradients", "梯度消失"),
    "overfitting": ("overfitting", "过拟合"),
    "dead_relu": ("dead ReLUs", "ReLU 失活"),
    "cannot_separate": ("cannot separate", "无法分开"),
}
_TEXT_KEYS = ("goal_en", "goal_zh", "watch_en", "watch_zh", "next_en", "next_zh")
MAX_TEXT = 2000  # a lesson card holds a few sentences


def chapter(key: str) -> Chapter:
    for c in CHAPTERS:
        if c.key == key:
            return c
    raise KeyError(key)


@dataclass(frozen=True)
class Goal:
    """A machine-checkable goal: ``metric`` with bounds (``min`` inclusive, ``max`` exclusive), a hint ``kind``
    or an end ``value``."""

    metric: str
    min: float | None = None
    max: float | None = None
    kind: str = ""
    value: str = ""

    def describe(self, lang: str = "en") -> str:
        """One line for people, e.g. "test accuracy at least 95%"."""
        zh = lang == "zh"
        if self.metric == "hint":
            en, zh_name = HINT_NAMES.get(self.kind, (self.kind.replace("_", " "), self.kind.replace("_", " ")))
            title = zh_name if zh else en
            return f"训练中出现“{title}”提示" if zh else f"the \u201c{title}\u201d hint appears during training"
        if self.metric == "reason":
            if self.value == "nan":
                return "损失变为 NaN 时训练干净地停止" if zh else "training stops cleanly when the loss becomes NaN"
            return f"训练以 {self.value} 结束" if zh else f"the run ends with {self.value}"
        name = ("测试准确率" if zh else "test accuracy") if self.metric == "test_acc" else \
            ("测试集 R²" if zh else "test R²")
        parts = []
        if self.min is not None and self.metric == "test_acc" and self.min >= 1.0:  # not "at least 100%"
            parts.append(f"{name} {self._value(1.0)}")
        elif self.min is not None:
            parts.append(f"{name}至少 {self._value(self.min)}" if zh else f"{name} at least {self._value(self.min)}")
        if self.max is not None:
            parts.append(f"{name}低于 {self._value(self.max)}" if zh else f"{name} below {self._value(self.max)}")
        return "，".join(parts) if zh else " and ".join(parts)

    def _value(self, v: float) -> str:
        if self.metric == "test_acc":
            text = f"{v * 100:.1f}".rstrip("0").rstrip(".")
            return text + "%"
        return f"{v:g}"


@dataclass(frozen=True)
class GoalResult:
    met: bool
    measured: str  # what the run reached, for people ("96.8%", "r2 0.994", "hints: overfitting", "loss became NaN ...")


@dataclass(frozen=True)
class Lesson:
    chapter: str
    order: int
    goal_en: str
    goal_zh: str
    watch_en: str
    watch_zh: str
    next_en: str
    next_zh: str
    check: Goal | None = None

    def text(self, field_name: str, lang: str) -> str:
        """``goal``, ``watch`` or ``next`` in ``lang`` (English when the Chinese is missing)."""
        en = getattr(self, f"{field_name}_en")
        zh = getattr(self, f"{field_name}_zh")
        return zh if lang == "zh" and zh else en

    @property
    def chapter_index(self) -> int:
        return CHAPTER_KEYS.index(self.chapter)


# -- validation (the project loader calls these) ------------------------------------------------------------

def _number(source: str, where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise UserError(f"{source}: {where} must be a number. Received: {value!r}")
    return float(value)


def parse_goal(data: Any, source: str = "project") -> Goal:
    """The ``"goal"`` object checked; UserError naming the field otherwise."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: \"goal\" must be an object such as {{\"metric\": \"test_acc\", \"min\": 0.9}}. "
                        f"Received: {type(data).__name__}")
    metric = data.get("metric")
    if metric not in GOAL_METRICS:
        raise UserError(f"{source}: goal.metric must be one of {', '.join(GOAL_METRICS)}. Received: metric={metric!r}")
    if metric == "hint":
        kind = data.get("kind")
        if not isinstance(kind, str) or not kind:
            raise UserError(f"{source}: goal.kind must name a hint (such as \"overfitting\"). Received: kind={kind!r}")
        return Goal(metric, kind=kind)
    if metric == "reason":
        value = data.get("value")
        if value not in END_REASONS:
            raise UserError(f"{source}: goal.value must be one of {', '.join(END_REASONS)}. Received: value={value!r}")
        return Goal(metric, value=value)
    low = _number(source, "goal.min", data["min"]) if data.get("min") is not None else None
    high = _number(source, "goal.max", data["max"]) if data.get("max") is not None else None
    if low is None and high is None:
        raise UserError(f"{source}: goal for {metric} needs \"min\" or \"max\". Received: {data!r}")
    if low is not None and high is not None and low >= high:
        raise UserError(f"{source}: goal.min must be below goal.max. Received: min={low:g}, max={high:g}")
    return Goal(metric, min=low, max=high)


def parse_lesson(data: Any, goal: Any = None, source: str = "project") -> Lesson:
    """The ``"lesson"`` object checked (with the project's ``"goal"``, if any); UserError naming the field."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: \"lesson\" must be an object with chapter, order and texts. "
                        f"Received: {type(data).__name__}")
    key = data.get("chapter")
    if key not in CHAPTER_KEYS:
        raise UserError(f"{source}: lesson.chapter must be one of {', '.join(CHAPTER_KEYS)}. Received: chapter={key!r}")
    order = data.get("order", 0)
    if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= 1000:
        raise UserError(f"{source}: lesson.order must be a whole number from 0 to 1000. Received: order={order!r}")
    texts = {}
    for name in _TEXT_KEYS:
        value = data.get(name, "")
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise UserError(f"{source}: lesson.{name} must be text of at most {MAX_TEXT} characters. "
                            f"Received: {type(value).__name__} of length {len(value) if isinstance(value, str) else '-'}")
        texts[name] = value.strip()
    for name in ("goal_en", "watch_en", "next_en"):
        if not texts[name]:
            raise UserError(f"{source}: lesson.{name} must not be empty (the lesson card shows it)")
    check = parse_goal(goal, source) if goal is not None else None
    return Lesson(key, order, check=check, **texts)


def validate_extras(extras: dict[str, Any], source: str = "project") -> None:
    """Check a project's ``goal`` and ``lesson`` keys when present (UserError otherwise)."""
    if "goal" in extras:
        parse_goal(extras["goal"], source)
    if "lesson" in extras:
        parse_lesson(extras["lesson"], extras.get("goal"), source)


def lesson_of(project: Any) -> Lesson | None:
    """The lesson a loaded project carries (None for projects without one)."""
    extras = getattr(project, "extras", None) or {}
    if "lesson" not in extras:
        return None
    try:
        return parse_lesson(extras["lesson"], extras.get("goal"))
    except UserError:
        return None  # the loader has already refused a bad one; a project edited in memory shows none


# -- judging a run ------------------------------------------------------------------------------------------

@dataclass
class RunOutcome:
    """What a finished run reached, from the trainer's RunFinished (plain values, so any front end can fill it)."""

    reason: str
    message: str = ""
    test_acc: float | None = None
    test_metrics: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_finished(cls, finished: Any) -> "RunOutcome":
        return cls(str(getattr(finished, "reason", "error")), str(getattr(finished, "message", "") or ""),
                   getattr(finished, "test_acc", None), dict(getattr(finished, "test_metrics", None) or {}))


def check_goal(goal: Goal, outcome: RunOutcome | Any, hint_kinds: Iterable[str] = ()) -> GoalResult:
    """Whether one run met ``goal``.

    ``outcome`` is a :class:`RunOutcome` or the trainer's ``RunFinished``; ``hint_kinds`` are the kinds of the
    hints the run showed.  A ``min`` bound is met by a completed or a stopped run that reached it; a ``max``
    bound ("stays below") only by a completed run, since stopping early proves nothing about the limit.
    """
    if not isinstance(outcome, RunOutcome):
        outcome = RunOutcome.from_finished(outcome)
    if goal.metric == "hint":
        kinds = sorted(set(hint_kinds))
        return GoalResult(goal.kind in kinds, "hints: " + (", ".join(kinds) or "none"))
    if goal.metric == "reason":
        # The run's own words ("loss became NaN at epoch 1, step 6: ..."), not its reason's key in front of them
        return GoalResult(outcome.reason == goal.value, outcome.message or outcome.reason)
    if goal.metric == "test_acc":
        value = outcome.test_acc
        shown = "n/a" if value is None else f"{value:.2%}"
    else:
        value = outcome.test_metrics.get("r2")
        shown = "n/a" if value is None else f"r2 {value:.4f}"
    allowed = ("completed",) if goal.max is not None else ("completed", "stopped")
    if value is None or not math.isfinite(float(value)) or outcome.reason not in allowed:
        return GoalResult(False, f"{shown} ({outcome.message or outcome.reason})")
    value = float(value)
    met = (goal.min is None or value >= goal.min) and (goal.max is None or value < goal.max)
    return GoalResult(met, shown)
