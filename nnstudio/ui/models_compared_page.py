"""The "Models compared" page (Help menu): five classic models side by side, each linking to its example.

Linear, logistic and softmax regression, the perceptron and the MLP differ only in their output function,
their loss and what that does to the decision boundary; one table makes that visible.  The content is
data (:mod:`nnstudio.teaching.models_compared`, English and Chinese); this module lays it out as an HTML
table in a QTextBrowser, typesets the formulas, and turns the "Open example" links into the
:attr:`ModelsComparedDialog.open_example` signal (the name of ``resources/examples/<name>.json``).
"""
from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout, QWidget

from nnstudio.resources_path import resource
from nnstudio.teaching.models_compared import ASPECTS, MODELS
from nnstudio.ui.help_card import formula_html
from nnstudio.ui.i18n import current_language, tr

EXAMPLE_SCHEME = "example"
FORMULA_ASPECTS = ("model", "activation", "loss", "output")  # cells whose text holds mathematics


def example_path(name: str) -> Path:
    """Where the example project ``name`` lives (it may not exist in a partial install)."""
    return resource("examples", f"{name}.json")


def _cell(aspect: str, text: str) -> str:
    if aspect in FORMULA_ASPECTS:
        return formula_html(text, split_lines=False)
    return html.escape(text)


def comparison_html(lang: str | None = None) -> str:
    """The comparison table as HTML: one column per model, one row per aspect, links to the examples."""
    lang = lang or current_language()
    zh = lang.startswith("zh")
    head = "".join(f"<th style='background:#2B303B; padding:6px'>{html.escape(m.name(lang))}</th>" for m in MODELS)
    rows = []
    for key, en, zh_title in ASPECTS:
        cells = "".join(f"<td style='padding:6px; vertical-align:top'>{_cell(key, m.text(key, lang))}</td>"
                        for m in MODELS)
        rows.append(f"<tr><th style='text-align:left; padding:6px; color:#9AA3B2; vertical-align:top'>"
                    f"{html.escape(zh_title if zh else en)}</th>{cells}</tr>")
    links = "".join(
        f"<td style='padding:6px'><a href='{EXAMPLE_SCHEME}:{m.example}' style='color:#7AA2FF'>"
        f"{html.escape(tr('Open example'))}</a></td>" for m in MODELS)
    rows.append(f"<tr><th style='text-align:left; padding:6px; color:#9AA3B2'>{html.escape(tr('Try it'))}</th>{links}</tr>")
    return ("<table border='1' cellspacing='0' cellpadding='6' style='border-color:#3A3F4B; border-collapse:collapse'>"
            f"<tr><th></th>{head}</tr>" + "".join(rows) + "</table>")


class ModelsComparedDialog(QDialog):
    """The comparison table; clicking "Open example" emits :attr:`open_example` with the example's name."""

    open_example = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelsComparedDialog")
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.browser = QTextBrowser()
        self.browser.setObjectName("modelsComparedTable")
        self.browser.setOpenLinks(False)
        self.browser.anchorClicked.connect(self._link)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addWidget(self.browser, 1)
        layout.addWidget(buttons)
        self.resize(1180, 720)
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(tr("Models compared"))
        self.intro.setText(tr("Five classic models share one weighted sum w·x + b. What changes is the output "
                              "function, the loss, and so the shape of the decision boundary."))
        self.browser.setHtml(comparison_html())

    def _link(self, url: QUrl) -> None:
        if url.scheme() == EXAMPLE_SCHEME:
            self.open_example.emit(url.path())
