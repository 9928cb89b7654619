"""A project's training settings as part of the evented document.

Why this exists: the training settings (dataset, loss, optimizer, ...) decide whether a network can be
trained as much as its wiring does, so every view that shows or checks them must hear when they change,
exactly as views hear graph edits.  :class:`TrainingSettings` is the project's ``training`` mapping: it is
still a plain ``dict`` to read (project files, :class:`~nnstudio.training.config.TrainingConfig`), but it is
changed through :meth:`TrainingSettings.set`, which notifies subscribers with a :class:`SettingsEvent`, so
one undo command (which only calls ``set``) serves the training panel, hint fixes and anything else.
Nothing here knows about Qt.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

from nnstudio.graph.document import add_subscriber

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "<missing>"})()


@dataclass(frozen=True)
class SettingsEvent:
    """Setting ``key`` went from ``old`` to ``new`` (:data:`MISSING` when absent before or after)."""

    key: str
    old: Any
    new: Any


SettingsSubscriber = Callable[[SettingsEvent], None]


class TrainingSettings(dict):
    """The ``training`` section of a project: read like a dict, changed with :meth:`set` (which notifies)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._subscribers: list[SettingsSubscriber] = []

    def subscribe(self, callback: SettingsSubscriber) -> Callable[[], None]:
        """Call ``callback(event)`` after every change; returns a function that unsubscribes it."""
        return add_subscriber(self._subscribers, callback)

    def set(self, key: str, value: Any) -> None:
        """Set ``key`` to ``value`` (``None`` or :data:`MISSING` removes it) and notify when it changed."""
        old = self.get(key, MISSING)
        new = MISSING if value is None else value
        if old is not MISSING and new is not MISSING and old == new and type(old) is type(new):
            return
        if old is MISSING and new is MISSING:
            return
        if new is MISSING:
            super().pop(key, None)
        else:
            super().__setitem__(key, new)
        event = SettingsEvent(key, old, new)
        for callback in list(self._subscribers):
            callback(event)

    # Copies are plain data: subscribers belong to the document, never to a snapshot of it.
    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> Any:
        return (dict, (dict(self),))


__all__ = ["MISSING", "SettingsEvent", "TrainingSettings"]
