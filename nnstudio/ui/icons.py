"""Icons and block colours: one place that maps a block type or group to its SVG and header colour.

The palette, the node cards and the toolbar all ask here, so a block looks the same everywhere.  Icons are
SVG files under ``resources/icons`` (``block_<type>.svg``, ``group_<group>.svg``, action names); a block
without its own icon falls back to its group's.
"""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtGui import QColor, QIcon

from nnstudio.resources_path import resource

GROUP_COLOURS: dict[str, str] = {
    "input": "#10B981",
    "layers": "#3B82F6",
    "activations": "#F59E0B",
    "merge": "#EC4899",
    "regularisation": "#8B5CF6",
    "other": "#64748B",
}


def group_key(group: str) -> str:
    """Normalise a catalogue group name ("Layers", "Regularization") to the keys above."""
    key = group.strip().lower().replace("regularization", "regularisation")
    return key if key in GROUP_COLOURS else "other"


def group_colour(group: str) -> QColor:
    return QColor(GROUP_COLOURS[group_key(group)])


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """The icon ``resources/icons/<name>.svg`` (an empty icon when the file is missing)."""
    path = resource("icons", f"{name}.svg")
    return QIcon(str(path)) if path.exists() else QIcon()


@lru_cache(maxsize=None)
def block_icon(block_type: str, group: str = "") -> QIcon:
    path = resource("icons", f"block_{block_type.lower()}.svg")
    if path.exists():
        return QIcon(str(path))
    return icon(f"group_{group_key(group)}")


def app_icon() -> QIcon:
    return icon("app")
