"""Preferences: the interface language (English / 简体中文, following the system by default) and its font.

The choice is stored in QSettings under ``ui/language`` ("" follows the system locale, else "en" or "zh")
and read at start-up by :func:`apply_language`, which also makes sure Chinese text is drawn with a real
CJK font: it looks one up in :class:`QFontDatabase` (Noto Sans CJK SC from Debian's fonts-noto-cjk,
Source Han Sans, WenQuanYi, Microsoft YaHei, PingFang SC, ...) and puts it first in the application font's
family list, so Chinese glyphs come out in their Simplified Chinese forms instead of missing boxes.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QLibraryInfo, QSettings, QTranslator, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (QApplication, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel,
                               QVBoxLayout, QWidget)

from nnstudio.ui.i18n import LANGUAGES, current_language, set_language, system_language, tr
from nnstudio.ui.presentation import SCALES, apply_ui_scale, current_scale, store_scale, stored_scale
from nnstudio.ui.settings import make_settings

LANGUAGE_KEY = "ui/language"
SYSTEM = ""  # the stored value meaning "follow the system locale"
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
                "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", "SimHei",
                "Noto Sans CJK JP", "Noto Sans CJK TC")
_ORIGINAL_FAMILIES = "nnstudio_latin_families"


def stored_language(settings: QSettings | None = None) -> str:
    """What the user chose: "" (follow the system), "en" or "zh"."""
    settings = settings or make_settings()
    value = str(settings.value(LANGUAGE_KEY, SYSTEM) or SYSTEM)
    return value if value in LANGUAGES else SYSTEM


def effective_language(settings: QSettings | None = None) -> str:
    """The language the interface uses: the stored choice, else the system's."""
    return stored_language(settings) or system_language()


def store_language(choice: str, settings: QSettings | None = None) -> None:
    """Remember ``choice`` ("" for the system language, "en", "zh"); anything else is a bug."""
    if choice != SYSTEM and choice not in LANGUAGES:
        raise ValueError(f"language must be '', {', '.join(LANGUAGES)}; received {choice!r}")
    settings = settings or make_settings()
    settings.setValue(LANGUAGE_KEY, choice)
    settings.sync()


def cjk_font_family() -> str | None:
    """An installed font family that draws Simplified Chinese, best first; None when there is none."""
    families = QFontDatabase.families()
    installed = set(families)
    for name in CJK_FAMILIES:
        if name in installed:
            return name
    chinese = QFontDatabase.WritingSystem.SimplifiedChinese
    for name in families:
        if chinese in QFontDatabase.writingSystems(name):
            return name
    return None


def apply_font_for_language(lang: str, app: QApplication | None = None) -> str | None:
    """Put a CJK family first in the application font for Chinese (restore the original otherwise).

    Returns the CJK family used, or None (English, or no CJK font installed).
    """
    app = app or QApplication.instance()  # type: ignore[assignment]
    if app is None:
        return None
    font = QFont(app.font())
    original = app.property(_ORIGINAL_FAMILIES)
    if not original:
        original = [f for f in font.families() if f not in CJK_FAMILIES] or [font.family()]
        app.setProperty(_ORIGINAL_FAMILIES, original)
    family = cjk_font_family() if lang == "zh" else None
    families = ([family] if family else []) + [f for f in original if f != family]
    font.setFamilies(families)
    app.setFont(font)
    return family


_qt_translator: QTranslator | None = None


def install_qt_translator(lang: str, app: QApplication | None = None) -> bool:
    """Qt's own texts (OK / Cancel / Close buttons, file dialogs) in Chinese from the bundled qtbase catalogue.

    Returns True when a Chinese catalogue is installed; English removes it.
    """
    global _qt_translator
    app = app or QApplication.instance()  # type: ignore[assignment]
    if app is None:
        return False
    if _qt_translator is not None:
        app.removeTranslator(_qt_translator)
        _qt_translator = None
    if lang != "zh":
        return False
    translator = QTranslator(app)
    folder = QLibraryInfo.path(QLibraryInfo.LibraryPath.TranslationsPath)
    if not translator.load("qtbase_zh_CN", folder):
        return False
    app.installTranslator(translator)
    _qt_translator = translator
    return True


def apply_interface_language(lang: str, app: QApplication | None = None) -> None:
    """The font and Qt's own translations for ``lang`` (the texts of NN Studio follow :func:`tr`)."""
    apply_font_for_language(lang, app)
    install_qt_translator(lang, app)


def apply_language(app: QApplication | None = None, settings: QSettings | None = None) -> str:
    """Set the interface language from the settings (or the system), its font and Qt's texts; returns it."""
    lang = effective_language(settings)
    set_language(lang)
    apply_interface_language(lang, app)
    return lang


class PreferencesDialog(QDialog):
    """Language choice; saved on OK.  Menus already built switch at the next start."""

    language_changed = Signal(str)  # the new effective language, emitted on OK when it changed

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preferencesDialog")
        self.settings = settings or make_settings()
        self.language = QComboBox()
        self.language.setObjectName("languageCombo")
        self.language_label = QLabel()
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setObjectName("preferencesNote")
        form = QFormLayout()
        form.addRow(self.language_label, self.language)
        # Presentation mode: the interface scale (fonts, editor nodes, plot text), applied on OK.
        self.scale = QComboBox()
        self.scale.setObjectName("scaleCombo")
        self.scale_label = QLabel()
        form.addRow(self.scale_label, self.scale)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self.retranslate()
        choice = stored_language(self.settings)
        self.language.setCurrentIndex(max(0, self.language.findData(choice)))
        self.scale.setCurrentIndex(max(0, self.scale.findData(stored_scale(self.settings))))
        self.resize(460, 160)

    def retranslate(self) -> None:
        self.setWindowTitle(tr("Preferences"))
        self.language_label.setText(tr("Interface language:"))
        current = self.language.currentData()
        self.language.clear()
        system_name = LANGUAGES[system_language()]
        self.language.addItem(tr("Follow the system ({language})", language=system_name), SYSTEM)
        for code, name in LANGUAGES.items():  # each language named in itself
            self.language.addItem(name, code)
        if current is not None:
            self.language.setCurrentIndex(max(0, self.language.findData(current)))
        self.note.setText(tr("The whole window switches language at once when you press OK."))
        self.scale_label.setText(tr("Interface size (presentation):"))
        scale = self.scale.currentData()
        self.scale.clear()
        for percent in SCALES:
            self.scale.addItem(tr("{percent}%", percent=percent), percent)
        if scale is not None:
            self.scale.setCurrentIndex(max(0, self.scale.findData(scale)))

    def chosen(self) -> str:
        return str(self.language.currentData() or SYSTEM)

    def accept(self) -> None:  # noqa: D401 - Qt override
        before = effective_language(self.settings)
        store_language(self.chosen(), self.settings)
        after = effective_language(self.settings)
        if after != before:
            set_language(after)  # texts created from now on (dialogs, cards) use it at once
            apply_interface_language(after)
            self.language_changed.emit(after)
        scale = int(self.scale.currentData() or 100)
        if scale != stored_scale(self.settings) or scale != current_scale():
            store_scale(scale, self.settings)
            apply_ui_scale(scale, self.parent())  # at once: fonts, the editor's nodes and the plots' text
        super().accept()


def language_status() -> dict[str, Any]:
    """What the interface runs in now (for the About box and bug reports)."""
    return {"language": current_language(), "cjk_font": cjk_font_family()}
