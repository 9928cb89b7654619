"""Interface language: English source strings, Simplified Chinese from ``resources/translations/zh_CN.json``.

Every user-visible string in the GUI goes through :func:`tr` with its English text as the key, so a test can
find them all (it scans the ``tr("...")`` calls) and check that each has a Chinese translation whose
``{placeholders}`` match.  The language follows the system locale unless the user picks one in Preferences.
"""
from __future__ import annotations

import json
import locale
import os
from functools import lru_cache

from nnstudio.resources_path import resource

LANGUAGES = {"en": "English", "zh": "简体中文"}
_current = "en"


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str]:
    """The translation table for ``lang`` (empty for English, the source language)."""
    if lang == "en":
        return {}
    path = resource("translations", f"{lang}_CN.json" if lang == "zh" else f"{lang}.json")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items() if not str(k).startswith("@")}


def system_language() -> str:
    """"zh" when the system locale is Chinese, else "en" (``NNSTUDIO_LANG`` overrides)."""
    env = os.environ.get("NNSTUDIO_LANG", "")
    if env in LANGUAGES:
        return env
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    try:
        loc = locale.getlocale()[0] or ""
    except ValueError:
        loc = ""
    return "zh" if loc.lower().startswith("zh") else "en"


def set_language(lang: str) -> None:
    global _current
    _current = lang if lang in LANGUAGES else "en"


def current_language() -> str:
    return _current


def tr(text: str, **values: object) -> str:
    """``text`` in the current language, formatted with ``values`` when given."""
    translated = catalogue(_current).get(text, text) if _current != "en" else text
    return translated.format(**values) if values else translated


def pick(en: str, zh: str) -> str:
    """Choose between two texts that come as a pair from data (e.g. the block catalogue)."""
    return zh if _current == "zh" and zh else en
