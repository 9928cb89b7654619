"""Interface language of the GUI: the same gettext catalogue as the core (:mod:`nnstudio.i18n`).

Every user-visible string in the GUI goes through :func:`tr` with its English text as the key; the Chinese
comes from ``resources/translations/zh_CN/LC_MESSAGES/nnstudio.po`` (compiled to ``.mo``), the one catalogue
the Problems panel, hints, node titles and the CLI also read.  A test scans the ``tr("...")`` calls and checks
that each has a translation whose ``{placeholders}`` match.  :func:`sort_key` orders lists the way a reader of
the current language expects (pinyin for Chinese).
"""
from __future__ import annotations

from typing import Callable

from nnstudio.i18n import (LANGUAGES, N_, NP_, _, add_language_listener, catalogue, current_language, ngettext,
                           pgettext, pick, set_language, system_language, tr)

__all__ = ["LANGUAGES", "N_", "NP_", "_", "add_language_listener", "catalogue", "current_language", "ngettext",
           "node_face", "pgettext", "pick", "set_language", "sort_key", "system_language", "tr"]

# The first word of a card's face (graph.catalogue.short_label) -> its name for people, translated with the
# context "node face" ("Dense 128" is 全连接 128 next to a palette saying 全连接层).
FACE_WORDS = {
    "Input": NP_("node face", "Input"),
    "Dense": NP_("node face", "Dense"),
    "Conv2D": NP_("node face", "Conv2D"),
    "MaxPool": NP_("node face", "MaxPool"),
    "AvgPool": NP_("node face", "AvgPool"),
    "Flatten": NP_("node face", "Flatten"),
    "Reshape": NP_("node face", "Reshape"),
    "Dropout": NP_("node face", "Dropout"),
    "BatchNorm": NP_("node face", "BatchNorm"),
    "Add": NP_("node face", "Add"),
    "Concat": NP_("node face", "Concat"),
}

_collators: dict[str, object] = {}


def node_face(block_type: str, params: object = None) -> str:
    """The text on a node's card in the current language: "Dense 128" in English, "全连接 128" in Chinese
    (the numbers and activation names, ReLU or Softmax, read the same in both)."""
    from nnstudio.graph.catalogue import short_label  # noqa: PLC0415 - the catalogue is the face's one home

    face = short_label(block_type, params)
    if current_language() == "en":
        return face
    word, sep, rest = face.partition(" ")
    if word in FACE_WORDS:
        return pgettext("node face", FACE_WORDS[word]) + sep + rest
    return face


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
