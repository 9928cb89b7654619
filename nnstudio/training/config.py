"""How to train a network, read from a project's ``"training"`` settings and checked field by field.

Why this exists: the project file keeps the training settings as a plain dict (so unknown keys survive a
round trip), but the trainer needs typed, validated values.  :meth:`TrainingConfig.from_dict` is the one
place that turns the dict into values the trainer can trust; every bad value is a
:class:`~nnstudio.errors.UserError` naming the field, what was expected and what was found.  Keys this
version does not know (GUI view settings, a later version's options) are ignored.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

from nnstudio.engine.optimizers import OPTIMIZERS, SCHEDULES
from nnstudio.errors import UserError
from nnstudio.i18n import _

LOSSES = ("mse", "cross_entropy", "binary_cross_entropy", "perceptron", "hinge")
BACKENDS = ("auto", "numpy", "cupy")


@dataclass
class TrainingConfig:
    """Validated training settings (see docs/project-format.md for the meaning of each)."""

    dataset: str = "mnist"
    dataset_options: dict[str, Any] = field(default_factory=dict)
    loss: str = "cross_entropy"
    optimizer: str = "adam"
    learning_rate: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 0.0
    l1: float = 0.0  # L1 penalty rate on every Dense / Conv2D weight (engine/regularization.py)
    l2: float = 0.0  # L2 penalty rate, likewise
    clip_norm: float | None = None
    schedule: str = "constant"
    step_epochs: int | None = None  # "step" schedule: decay every this many epochs (default: a third of the run)
    gamma: float = 0.1  # "step" schedule: the factor applied at each decay
    batch_size: int = 64
    epochs: int = 3
    seed: int = 0
    validation_split: float = 0.1
    augment: bool = False
    backend: str = "auto"
    max_train_samples: int | None = None
    max_test_samples: int | None = None
    report_grad_norms: bool = False  # per-layer gradient norms in every BatchReport (one extra sync a step)
    probe_every: int = 0  # steps between ProbeReports (0: never)
    probe_samples: int = 32
    eval_batch_size: int = 256
    hints: bool = True

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def from_dict(cls, settings: Any, source: str = "training") -> "TrainingConfig":
        """A config from a project's training dict; missing keys take the defaults, unknown keys are ignored."""
        if settings is None:
            settings = {}
        if not isinstance(settings, dict):
            raise UserError(_("{source} must be an object of settings. Received: {kind}").format(
                source=source, kind=type(settings).__name__))
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in settings.items() if k in known}
        config = cls.__new__(cls)
        for f in dataclasses.fields(cls):
            if f.name in values:
                setattr(config, f.name, values[f.name])
            elif f.default is not dataclasses.MISSING:
                setattr(config, f.name, f.default)
            else:
                setattr(config, f.name, f.default_factory())  # type: ignore[misc]
        config.validate(source)
        return config

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "TrainingConfig":
        """A validated copy with ``changes`` applied (the CLI's --epochs, --dataset, ...)."""
        data = self.to_dict()
        data.update(changes)
        return TrainingConfig.from_dict(data)

    # -- validation -------------------------------------------------------------------------------------
    def validate(self, source: str = "training") -> None:
        def fail(name: str, expected: str, value: Any) -> UserError:
            return UserError(_("{source}.{name} must be {expected}. Received: {name}={value}").format(
                source=source, name=name, expected=expected, value=repr(value)))

        def number(name: str, low: float, high: float, low_open: bool = False, high_open: bool = False) -> float:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
                raise fail(name, _("a number"), value)
            v = float(value)
            if v < low or (low_open and v == low) or v > high or (high_open and v == high):
                lower = (_("above {low}") if low_open else _("at least {low}")).format(low=f"{low:g}")
                upper = (_("below {high}") if high_open else _("at most {high}")).format(high=f"{high:g}")
                raise fail(name, _("{lower} and {upper}").format(lower=lower, upper=upper), value)
            setattr(self, name, v)
            return v

        def whole(name: str, low: int, high: int, optional: bool = False) -> None:
            value = getattr(self, name)
            if optional and value is None:
                return
            ok = (not isinstance(value, bool) and isinstance(value, numbers.Real)
                  and math.isfinite(float(value)) and float(value).is_integer())
            if not ok:
                raise fail(name, _("a whole number or null") if optional else _("a whole number"), value)
            if not low <= int(value) <= high:
                raise fail(name, _("between {low} and {high}").format(low=low, high=high), value)
            setattr(self, name, int(value))

        def choice(name: str, choices: tuple[str, ...]) -> None:
            value = getattr(self, name)
            if not isinstance(value, str) or value.strip().lower() not in choices:
                raise fail(name, _("one of {choices}").format(choices=", ".join(choices)), value)
            setattr(self, name, value.strip().lower())

        if not isinstance(self.dataset, str) or not self.dataset.strip():
            raise fail("dataset", _('a dataset name such as "mnist"'), self.dataset)
        self.dataset = self.dataset.strip()
        if self.dataset_options is None:
            self.dataset_options = {}
        if not isinstance(self.dataset_options, dict):
            raise fail("dataset_options", _("an object of dataset options"), self.dataset_options)
        self.dataset_options = dict(self.dataset_options)
        choice("loss", LOSSES)
        choice("optimizer", tuple(OPTIMIZERS))
        choice("schedule", tuple(SCHEDULES))
        choice("backend", BACKENDS)
        number("learning_rate", 0.0, 10.0, low_open=True)
        number("momentum", 0.0, 1.0, high_open=True)
        number("weight_decay", 0.0, 1.0)
        number("l1", 0.0, 10.0)
        number("l2", 0.0, 10.0)
        if self.clip_norm is not None:
            number("clip_norm", 0.0, 1e6, low_open=True)
        whole("step_epochs", 1, 100000, optional=True)
        number("gamma", 0.0, 1.0, low_open=True)
        whole("batch_size", 1, 65536)
        whole("epochs", 1, 100000)
        whole("seed", 0, 2**32 - 1)
        number("validation_split", 0.0, 1.0, high_open=True)
        for flag in ("augment", "report_grad_norms", "hints"):
            if not isinstance(getattr(self, flag), bool):
                raise fail(flag, _("true or false"), getattr(self, flag))
        whole("max_train_samples", 1, 10**9, optional=True)
        whole("max_test_samples", 1, 10**9, optional=True)
        whole("probe_every", 0, 10**9)
        whole("probe_samples", 1, 4096)
        whole("eval_batch_size", 1, 65536)
