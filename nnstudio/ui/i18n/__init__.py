"""Interface language of the GUI: the same gettext catalogue as the core (:mod:`nnstudio.i18n`).

Every user-visible string in the GUI goes through :func:`tr` with its English text as the key; the Chinese
comes from ``resources/translations/zh_CN/LC_MESSAGES/nnstudio.po`` (compiled to ``.mo``), the one catalogue
the Problems panel, hints, node titles and the CLI also read.  A test scans the ``tr("...")`` calls and checks
that each has a translation whose ``{placeholders}`` match.  :func:`sort_key` orders lists the way a reader of
the current language expects (pinyin for Chinese).
"""
from __future__ import annotations

from typing import Callable

from nnstudio.i18n import (LANGUAGES, N_, _, add_language_listener, catalogue, current_language, ngettext,
                           pick, set_language, system_language, tr)

__all__ = ["LANGUAGES", "N_", "_", "add_language_listener", "catalogue", "current_language", "ngettext", "pick",
           "set_language", "sort_key", "system_language", "tr"]

_collators: dict[str, object] = {}


def sort_key(lang: str | None = None) -> Callable[[str], object]:
    """A key that sorts texts for ``lang`` (default: the current language): Chinese by pinyin, English by
    letters without regard to case.  Qt's collator (ICU, shipped with Qt) knows the pinyin of each character."""
    lang = lang or current_language()
    if lang != "zh":
        return str.casefold
    collator = _collators.get(lang)
    if collator is None:
        from PySide6.QtCore import QCollator, QLocale  # noqa: PLC0415
        collator = QCollator(QLocale(QLocale.Language.Chinese, QLocale.Script.SimplifiedChineseScript,
                                     QLocale.Country.China))
        collator.setNumericMode(True)
        _collators[lang] = collator
    return collator.sortKey  # type: ignore[attr-defined]
