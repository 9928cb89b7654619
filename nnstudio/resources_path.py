"""Find shipped resources the same way from a checkout, an installed wheel and the frozen app."""
from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path


def resources_root() -> Path:
    """The folder holding ``datasets/``, ``models/``, ``examples/``, ``icons/``, ``translations/``."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "nnstudio" / "resources"
    try:
        root = resources.files("nnstudio.resources")
        return Path(str(root))
    except ModuleNotFoundError:
        # Plain source checkout without installation: resources/ sits beside the package.
        return Path(__file__).resolve().parent.parent / "resources"


def resource(*parts: str) -> Path:
    return resources_root().joinpath(*parts)
