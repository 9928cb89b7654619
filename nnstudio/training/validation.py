"""One validation step for a project: graph + training settings + the chosen dataset's shape.

Why this exists: the Problems panel, the node badges, the Train action, ``nnstudio check`` and ``nnstudio
train`` must agree on whether a network can be trained, and say the same thing when it cannot.  They all
call :func:`validate_project`, which turns (graph, settings, dataset) into one
:class:`~nnstudio.graph.shapes.ShapeReport`: the settings are checked by
:class:`~nnstudio.training.config.TrainingConfig`, the dataset's sample shape and classes are looked up
without loading its arrays (:func:`nnstudio.data.registry.dataset_info`), and shape inference checks the
wiring, the Input against the samples and the output against the loss.  The "does the dataset fit the
Input" rule therefore lives in one place, :mod:`nnstudio.graph.shapes`.  Never raises.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from nnstudio.errors import UserError
from nnstudio.graph.shapes import Message, ShapeReport, infer_shapes
from nnstudio.i18n import _, ngettext


@dataclass
class DatasetFacts:
    """What validation needs to know of a dataset: its name, sample shape and classes (0: regression)."""

    name: str
    sample_shape: tuple[int, ...]
    num_classes: int


@dataclass
class Validation:
    """The report every view reads, the settings it was made from, and the dataset facts used."""

    report: ShapeReport
    config: Any = None  # the TrainingConfig, None when the settings are invalid
    dataset: DatasetFacts | None = None
    settings_messages: list[Message] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.report.ok

    def refusal(self) -> str | None:
        """Why the network cannot be trained now (one message per line), or None when it can."""
        errors = self.report.errors
        if not errors:
            return None
        return "\n".join(m.text for m in errors)


def dataset_facts(name: str, options: Mapping[str, Any] | None = None) -> DatasetFacts:
    """The facts of dataset ``name`` without loading its arrays; UserError when it is unknown or unreadable."""
    from nnstudio.data.registry import dataset_info  # noqa: PLC0415 - the registry is a heavy import

    info = dataset_info(name, **dict(options or {}))
    return DatasetFacts(name, tuple(int(s) for s in info.sample_shape), int(info.num_classes))


def facts_of(dataset: Any) -> DatasetFacts:
    """The facts of a loaded :class:`~nnstudio.data.dataset.Dataset`."""
    return DatasetFacts(str(dataset.name), tuple(int(s) for s in dataset.sample_shape), int(dataset.num_classes))


def validate_project(graph: Any, settings: Mapping[str, Any] | None, dataset: Any = "lookup") -> Validation:
    """Check ``graph`` with the training ``settings`` against their dataset; never raises.

    ``dataset``: "lookup" (default) finds the facts of the dataset the settings name; a loaded Dataset or
    :class:`DatasetFacts` uses those; None skips the dataset checks.
    """
    from nnstudio.training.config import TrainingConfig  # noqa: PLC0415

    extra: list[Message] = []
    config = None
    try:
        config = TrainingConfig.from_dict(dict(settings or {}))
    except UserError as exc:
        extra.append(Message(None, str(exc)))
    facts: DatasetFacts | None = None
    if isinstance(dataset, DatasetFacts):
        facts = dataset
    elif dataset == "lookup":
        if config is not None:
            try:
                facts = dataset_facts(config.dataset, config.dataset_options)
            except UserError as exc:
                extra.append(Message(None, str(exc)))
            except Exception as exc:  # noqa: BLE001 - a damaged dataset must give a message, not a crash
                extra.append(Message(None, _("dataset '{name}' cannot be read ({error})").format(
                    name=config.dataset, error=exc)))
    elif dataset is not None:
        facts = facts_of(dataset)
    loss = config.loss if config is not None else None
    report = infer_shapes(graph, facts.sample_shape if facts else None, loss, facts.num_classes if facts else None,
                          facts.name if facts else None)
    if extra:
        report.messages[:0] = extra
        report.ok = False
    return Validation(report, config, facts, extra)


def require_trainable(graph: Any, settings: Mapping[str, Any] | None, dataset: Any = "lookup") -> Validation:
    """:func:`validate_project`, raising one UserError that lists every error when training cannot start."""
    validation = validate_project(graph, settings, dataset)
    refusal = validation.refusal()
    if refusal is not None:
        count = len(validation.report.errors)
        raise UserError(ngettext("the network cannot be trained ({count} problem):", "the network cannot be trained "
                                 "({count} problems):", count).format(count=count) + "\n" + refusal)
    return validation


__all__ = ["DatasetFacts", "Validation", "dataset_facts", "facts_of", "require_trainable", "validate_project"]
