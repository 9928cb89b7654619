"""Where the GUI keeps its preferences: window layout, recent projects, language, snap to grid.

Tests and portable installs must not touch the user's real settings, so the store is chosen from the
environment: ``NNSTUDIO_SETTINGS_FILE`` names an INI file; otherwise, when ``NNSTUDIO_DATA_DIR`` is set, an
INI file inside it is used; otherwise Qt's native per-user store for the organisation "NN Studio".
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANISATION = "NN Studio"
APPLICATION = "nnstudio"
MAX_RECENT = 10


def make_settings() -> QSettings:
    explicit = os.environ.get("NNSTUDIO_SETTINGS_FILE")
    if explicit:
        return QSettings(explicit, QSettings.Format.IniFormat)
    data_dir = os.environ.get("NNSTUDIO_DATA_DIR")
    if data_dir:
        return QSettings(str(Path(data_dir) / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings(ORGANISATION, APPLICATION)


def _as_list(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]  # type: ignore[union-attr]


def recent_projects(settings: QSettings | None = None) -> list[str]:
    """Recently opened project paths, newest first, without the ones that no longer exist."""
    settings = settings or make_settings()
    return [p for p in _as_list(settings.value("recent/projects")) if Path(p).is_file()]


def add_recent_project(path: str | os.PathLike, settings: QSettings | None = None) -> list[str]:
    settings = settings or make_settings()
    resolved = str(Path(path).resolve())
    items = [p for p in _as_list(settings.value("recent/projects")) if p != resolved]
    items.insert(0, resolved)
    del items[MAX_RECENT:]
    settings.setValue("recent/projects", items)
    settings.sync()
    return items


def clear_recent_projects(settings: QSettings | None = None) -> None:
    settings = settings or make_settings()
    settings.remove("recent/projects")
    settings.sync()


def bool_value(settings: QSettings, key: str, default: bool) -> bool:
    value = settings.value(key, default)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)
