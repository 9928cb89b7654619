"""The interface language for the whole program: core messages, the CLI and the GUI read one gettext catalogue.

English is the source language: every message is written in English in the code and looked up in
``resources/translations/<locale>/LC_MESSAGES/nnstudio.mo`` (compiled from the ``.po`` next to it, which
translators edit with ordinary gettext tools; ``tools/i18n.py`` extracts, updates and compiles it with Babel).
Only the standard library's :mod:`gettext` reads the catalogue at run time, and this module imports no Qt, so
``graph/``, ``training/`` and the CLI translate their messages the same way the GUI does.

Messages with values are templates: ``_("Dense '{node}': units must be at least 1").format(node=...)``, so a
translation can move the quoted names where its grammar wants them.  :func:`N_` marks a text for extraction
where it is stored in a table and translated later.  :func:`set_language` switches at once; listeners
registered with :func:`add_language_listener` (the GUI's windows) are told so they can redraw their texts.
"""
from __future__ import annotations

import gettext
import locale
import os
from functools import lru_cache
from typing import Callable

from nnstudio.resources_path import resource

DOMAIN = "nnstudio"
LANGUAGES = {"en": "English", "zh": "简体中文"}
LOCALES = {"zh": "zh_CN"}  # language -> the folder of its catalogue under resources/translations
_current = "en"
_listeners: list[Callable[[str], None]] = []


def normalise(lang: str | None) -> str:
    """"zh" for any Chinese spelling ("zh", "zh_CN", "zh-CN.UTF-8", "zh_Hans"), "en" for English; else ""."""
    value = (lang or "").strip().lower().replace("-", "_")
    if value.startswith("zh"):
        return "zh"
    if value in ("en", "c", "posix") or value.startswith("en_") or value.startswith("en."):
        return "en"
    return ""


def catalogue_path(lang: str) -> str:
    """Where the compiled catalogue of ``lang`` lives (resources/translations/zh_CN/LC_MESSAGES/nnstudio.mo)."""
    return str(resource("translations", LOCALES.get(lang, lang), "LC_MESSAGES", f"{DOMAIN}.mo"))


@lru_cache(maxsize=None)
def translations(lang: str) -> gettext.NullTranslations:
    """The gettext translations of ``lang``; English (and a missing catalogue) translate to themselves."""
    if lang not in LOCALES:
        return gettext.NullTranslations()
    try:
        with open(catalogue_path(lang), "rb") as fh:
            return gettext.GNUTranslations(fh)
    except (OSError, gettext.error, UnicodeDecodeError):  # a damaged catalogue leaves the program in English
        return gettext.NullTranslations()


def catalogue(lang: str) -> dict[str, str]:
    """Every singular message of ``lang``'s catalogue, English -> translation (empty for English)."""
    table = getattr(translations(lang), "_catalog", {})
    return {k: v for k, v in table.items() if isinstance(k, str) and k}


def system_language() -> str:
    """The language to start in: ``NNSTUDIO_LANG``, else the locale (LC_ALL, LC_MESSAGES, LANG): "zh" or "en"."""
    env = normalise(os.environ.get("NNSTUDIO_LANG", ""))
    if env:
        return env
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "zh" if normalise(value) == "zh" else "en"
    try:
        loc = locale.getlocale()[0] or ""
    except ValueError:
        loc = ""
    return "zh" if normalise(loc) == "zh" else "en"


def set_language(lang: str) -> None:
    """Switch every later message to ``lang`` ("en", "zh" or "zh_CN"; anything else is English)."""
    global _current
    new = normalise(lang) or "en"
    if new == _current:
        return
    _current = new
    for listener in list(_listeners):
        listener(new)


def current_language() -> str:
    """The language messages are in now: "en" or "zh"."""
    return _current


def add_language_listener(listener: Callable[[str], None]) -> Callable[[], None]:
    """Call ``listener(lang)`` after each language change; returns the function that unregisters it."""
    _listeners.append(listener)

    def remove() -> None:
        if listener in _listeners:
            _listeners.remove(listener)
    return remove


def _(message: str) -> str:
    """``message`` in the current language."""
    if _current == "en" or not message:  # gettext answers "" with the catalogue's header
        return message
    return translations(_current).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the current language (Chinese has one form)."""
    if _current == "en":
        return singular if n == 1 else plural
    return translations(_current).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` in the current language where the same English word means different things (``context``
    tells translators which: "node face" for the short block names on the editor's cards)."""
    if _current == "en" or not message:
        return message
    return translations(_current).pgettext(context, message)


def N_(message: str) -> str:  # noqa: N802 - the gettext convention that extraction tools look for
    """Mark ``message`` for extraction without translating it (it is translated where it is shown)."""
    return message


def NP_(context: str, message: str) -> str:  # noqa: N802 - as N_, for a message with a context
    """Mark ``message`` (in ``context``) for extraction; :func:`pgettext` translates it where it is shown."""
    return message


def tr(text: str, **values: object) -> str:
    """``text`` in the current language, formatted with ``values`` when given."""
    translated = _(text)
    return translated.format(**values) if values else translated


def pick(en: str, zh: str) -> str:
    """Choose between two texts that come as a pair from data (the block catalogue, examples)."""
    return zh if _current == "zh" and zh else en
