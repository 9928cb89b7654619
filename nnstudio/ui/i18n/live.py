"""Switch a window's language while it is open: Preferences applies a new language at once, without a restart.

Why this exists: the window's texts were set once, through ``tr()``, when each widget was built.  Rather than
every widget keeping the English it came from, :func:`retranslate_texts` reads each text back through the
catalogue (the old language's translation -> its English source -> the new language), also for texts made
from a template ("Opened {path}" -> "已打开 {path}": the values are taken from the old text and put in the
new one).  Then the parts whose text is computed from the document are redrawn in the new language: the
palette (sorted in the new language), the node cards' faces, the Problems panel and the status bar's counts
(the core validates again and its messages come in the new language), the inspector, the gallery, the title,
and every panel that has a ``retranslate()`` method.

:func:`install_live_language` ties this to :func:`nnstudio.i18n.set_language` for one window.
"""
from __future__ import annotations

import re
import string
import weakref
from functools import lru_cache
from typing import Any, Callable

from PySide6.QtWidgets import (QAbstractButton, QComboBox, QDockWidget, QGroupBox, QLabel, QLineEdit, QMenu,
                               QTabWidget, QToolBar, QWidget)
from shiboken6 import isValid

from nnstudio.i18n import add_language_listener, catalogue, current_language

_FIELD = re.compile(r"\{[^{}]*\}")


@lru_cache(maxsize=None)
def _pairs(lang: str) -> tuple[dict[str, str], dict[str, str]]:
    """(English -> ``lang``, ``lang`` -> English) for ``lang``'s catalogue; empty for English."""
    forward = catalogue(lang) if lang != "en" else {}
    backward: dict[str, str] = {}
    for en, text in forward.items():
        backward.setdefault(text, en)
    return forward, backward


def _pattern(template: str) -> re.Pattern[str] | None:
    """A regular expression that matches ``template``'s texts and names each ``{field}`` (None if it has no
    field, or a field that is not a plain name)."""
    parts, seen = ["^"], set()
    for literal, field, _spec, _conv in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if field is None:
            continue
        if not field.isidentifier():
            return None
        parts.append(f"(?P={field})" if field in seen else f"(?P<{field}>.+?)")
        seen.add(field)
    if not seen:
        return None
    parts.append("$")
    try:
        return re.compile("".join(parts), re.DOTALL)
    except re.error:
        return None


@lru_cache(maxsize=None)
def _templates(lang: str) -> list[tuple[re.Pattern[str], str]]:
    """(pattern of the template in ``lang``, its English source) for every message with fields, longest
    literal text first (so "Epoch {epoch} done: loss {loss}" wins over "{name}")."""
    forward, _ = _pairs(lang)
    sources = forward.items() if lang != "en" else ()
    found = []
    for en, text in sources:
        if "{" not in text:
            continue
        pattern = _pattern(text)
        if pattern is not None:
            found.append((len(_FIELD.sub("", text)), pattern, en))
    return [(pattern, en) for _length, pattern, en in sorted(found, key=lambda t: -t[0]) if _length > 0]


@lru_cache(maxsize=None)
def _english_templates() -> list[tuple[re.Pattern[str], str]]:
    """(pattern of an English template, the template) for every message with fields."""
    forward, _ = _pairs("zh")
    found = []
    for en in forward:
        if "{" in en:
            pattern = _pattern(en)
            if pattern is not None and _FIELD.sub("", en):
                found.append((len(_FIELD.sub("", en)), pattern, en))
    return [(pattern, en) for _length, pattern, en in sorted(found, key=lambda t: -t[0])]


_SHORTCUT = re.compile(r"^(?P<text>.+) \((?P<keys>[A-Za-z0-9+ ]{1,16})\)$", re.DOTALL)


def translate_text(text: str, old: str, new: str) -> str | None:
    """``text`` (shown in ``old``) in ``new``, or None when the catalogue does not know it.  A tooltip that ends
    with its shortcut ("Stop the run (Shift+F5)") is translated without it."""
    if not text or old == new:
        return None
    translated = _translate_whole(text, old, new)
    if translated is None:
        match = _SHORTCUT.match(text)
        if match:
            head = _translate_whole(match["text"], old, new)
            if head is not None:
                return f"{head} ({match['keys']})"
    return translated


def _match_template(text: str, templates: Any) -> tuple[str, dict[str, Any]] | None:
    """The English template one of ``templates`` (pattern, template) recognises in ``text``, with its values."""
    for pattern, template in templates:
        match = pattern.match(text)
        if match:
            return template, match.groupdict()
    return None


def _translate_whole(text: str, old: str, new: str) -> str | None:
    # Back to the English source.
    english: str | None
    values: dict[str, Any] | None = None
    if old == "en":
        english = text if text in _pairs(new)[0] else None
        templates = _english_templates()
    else:
        english = _pairs(old)[1].get(text)
        templates = _templates(old)
    if english is None:
        found = _match_template(text, templates)
        if found is None:
            return None
        english, values = found
    # On to the new language.
    target = english if new == "en" else _pairs(new)[0].get(english)
    if target is None:
        return None
    if values is None:
        return target
    try:
        return target.format(**values)
    except (KeyError, IndexError, ValueError):
        return None


def _apply(getter: Callable[[], str], setter: Callable[[str], None], old: str, new: str) -> None:
    text = getter()
    translated = translate_text(text, old, new) if text else None
    if translated is not None and translated != text:
        setter(translated)


def retranslate_texts(root: QWidget, old: str, new: str) -> None:
    """Every static text under ``root`` (actions, menus, docks, toolbars, buttons, plain labels, group boxes,
    placeholders, combo box entries, tabs, tooltips) from ``old`` to ``new``."""
    widgets = [root] + root.findChildren(QWidget)
    actions = {id(a): a for w in widgets for a in w.actions()}
    for action in actions.values():
        _apply(action.text, action.setText, old, new)
        _apply(action.toolTip, action.setToolTip, old, new)
        _apply(action.statusTip, action.setStatusTip, old, new)
    for w in widgets:
        _apply(w.toolTip, w.setToolTip, old, new)
        _apply(w.statusTip, w.setStatusTip, old, new)
        if isinstance(w, (QDockWidget, QToolBar)) or w.isWindow():
            _apply(w.windowTitle, w.setWindowTitle, old, new)
        if isinstance(w, QMenu):
            _apply(w.title, w.setTitle, old, new)
        elif isinstance(w, QAbstractButton):
            _apply(w.text, w.setText, old, new)
        elif isinstance(w, QLabel):
            if "<" not in w.text():  # rich text is rebuilt by its owner's retranslate()
                _apply(w.text, w.setText, old, new)
        elif isinstance(w, QGroupBox):
            _apply(w.title, w.setTitle, old, new)
        elif isinstance(w, QLineEdit):
            _apply(w.placeholderText, w.setPlaceholderText, old, new)
        elif isinstance(w, QComboBox):
            for i in range(w.count()):
                _apply(lambda i=i: w.itemText(i), lambda t, i=i: w.setItemText(i, t), old, new)
                _apply(lambda i=i: str(w.itemData(i, 3) or ""),  # Qt.ItemDataRole.ToolTipRole
                       lambda t, i=i: w.setItemData(i, t, 3), old, new)
        elif isinstance(w, QTabWidget):
            for i in range(w.count()):
                _apply(lambda i=i: w.tabText(i), lambda t, i=i: w.setTabText(i, t), old, new)
                _apply(lambda i=i: w.tabToolTip(i), lambda t, i=i: w.setTabToolTip(i, t), old, new)


def retranslate_plots(root: QWidget, old: str, new: str) -> None:
    """The axis titles of every pyqtgraph plot under ``root`` ("gradient L2 norm", "step", "true class")."""
    import pyqtgraph as pg  # noqa: PLC0415 - only where plots exist

    for view in root.findChildren(pg.GraphicsView):
        scene = view.scene()
        if scene is None:
            continue
        for item in scene.items():
            if isinstance(item, pg.AxisItem) and getattr(item, "labelText", ""):
                translated = translate_text(item.labelText, old, new)
                if translated is not None and translated != item.labelText:
                    item.setLabel(translated, units=item.labelUnits or None, unitPrefix=item.labelUnitPrefix or None)


def refresh_window(window: Any) -> None:
    """Redraw the parts of ``window`` whose texts come from the document or the core, in the current language."""
    def call(owner: Any, name: str, *args: Any) -> None:
        method = getattr(owner, name, None) if owner is not None else None
        if callable(method):
            method(*args)

    scene = getattr(window, "scene", None)
    call(scene, "retranslate")  # node faces, then the core validates again: Problems, badges, counts
    call(getattr(window, "palette", None), "retranslate")
    inspector = getattr(window, "inspector", None)
    if inspector is not None and hasattr(inspector, "show_node"):
        inspector.show_node(getattr(inspector, "node_id", None))
    call(getattr(window, "start_page", None), "refresh")
    for name in ("_fill_examples_menu", "_fill_recent_menu", "_update_title", "_show_backend"):
        call(window, name)
    done = {id(getattr(window, n, None)) for n in ("scene", "palette", "inspector", "start_page")}
    for child in window.findChildren(QWidget):
        if id(child) not in done and callable(getattr(child, "retranslate", None)):
            child.retranslate()
    status = window.statusBar() if hasattr(window, "statusBar") else None
    if status is not None and status.currentMessage():
        message = status.currentMessage()
        translated = translate_text(message, _previous.get(id(window), "en"), current_language())
        if translated:
            status.showMessage(translated, 5000)


_previous: dict[int, str] = {}


def install_live_language(window: Any) -> Callable[[], None]:
    """Retranslate ``window`` whenever the language changes; returns the function that stops it (also
    called when the window is destroyed)."""
    key = id(window)
    _previous[key] = current_language()
    ref = weakref.ref(window)  # the listener must not keep a closed window alive

    def changed(new: str) -> None:
        window = ref()
        if window is None or not isValid(window):
            stop()
            return
        old = _previous.get(key, "en")
        retranslate_texts(window, old, new)
        retranslate_plots(window, old, new)
        refresh_window(window)
        _previous[key] = new

    remove = add_language_listener(changed)

    def stop(*_: Any) -> None:
        remove()
        _previous.pop(key, None)
    window.destroyed.connect(stop)
    return stop


__all__ = ["install_live_language", "refresh_window", "retranslate_plots", "retranslate_texts", "translate_text"]
