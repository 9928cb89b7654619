"""Help > About: the version, the licences of NN Studio and of every library the app ships, and data credits.

Why this exists: the standalone app bundles Qt, PySide6, NumPy and friends, and their licences ask that
users can see them (Qt's LGPLv3 also asks that users may swap the Qt libraries, which the one-folder build
allows).  The dataset credits are the same text as ``resources/datasets/CREDITS.md``, read at run time so
the two never drift apart.
"""
from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from importlib import metadata

from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QTabWidget, QTextBrowser,
                               QVBoxLayout, QWidget)

from nnstudio import __version__
from nnstudio.resources_path import resource
from nnstudio.ui.i18n import tr


@dataclass(frozen=True)
class Component:
    """One shipped library: its display name, the distribution that carries its version, licence and home."""

    name: str
    distribution: str
    licence: str
    url: str
    module: str = ""  # a module whose ``__version__`` answers when the distribution metadata is absent


COMPONENTS: tuple[Component, ...] = (
    Component("Qt / PySide6", "PySide6-Essentials", "LGPLv3", "https://www.qt.io/licensing/", "PySide6"),
    Component("shiboken6", "shiboken6", "LGPLv3", "https://wiki.qt.io/Qt_for_Python", "shiboken6"),
    Component("pyqtgraph", "pyqtgraph", "MIT", "https://www.pyqtgraph.org/", "pyqtgraph"),
    Component("NumPy", "numpy", "BSD-3-Clause", "https://numpy.org/", "numpy"),
    Component("Pillow", "pillow", "HPND (MIT-CMU)", "https://python-pillow.org/", "PIL"),
    Component("platformdirs", "platformdirs", "MIT", "https://github.com/tox-dev/platformdirs", "platformdirs"),
    Component("captcha", "captcha", "BSD-3-Clause", "https://github.com/lepture/captcha", "captcha"),
    Component("ONNX", "onnx", "Apache-2.0", "https://onnx.ai/", "onnx"),
    Component("Protocol Buffers", "protobuf", "BSD-3-Clause", "https://protobuf.dev/", "google.protobuf"),
    Component("ml_dtypes", "ml_dtypes", "Apache-2.0", "https://github.com/jax-ml/ml_dtypes", "ml_dtypes"),
    Component("threadpoolctl", "threadpoolctl", "BSD-3-Clause", "https://github.com/joblib/threadpoolctl",
              "threadpoolctl"),
    Component("Python", "", "PSF License", "https://www.python.org/"),
)

MIT_NOTICE = (
    "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and "
    "associated documentation files (the \"Software\"), to deal in the Software without restriction, including "
    "without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell "
    "copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the "
    "following conditions: The above copyright notice and this permission notice shall be included in all "
    "copies or substantial portions of the Software. THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF "
    "ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR "
    "A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE "
    "FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING "
    "FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.")


def component_version(component: Component) -> str:
    """The installed version, from package metadata or an already imported module; "" when unknown.

    Modules are never imported here just to learn a version (ONNX alone takes a noticeable time to import).
    """
    if not component.distribution:
        return platform.python_version()
    try:
        return metadata.version(component.distribution)
    except metadata.PackageNotFoundError:
        pass
    module = sys.modules.get(component.module)
    return str(getattr(module, "__version__", "")) if module is not None else ""


def credits_markdown() -> str:
    """The dataset credits (``resources/datasets/CREDITS.md``), or a note saying where they should be."""
    path = resource("datasets", "CREDITS.md")
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return tr("The data credits file is missing: expected {path}", path=str(path))


def licences_html() -> str:
    rows = "".join(
        f"<tr><td><a href='{c.url}'>{c.name}</a></td><td>{component_version(c) or '-'}</td><td>{c.licence}</td></tr>"
        for c in COMPONENTS)
    qt_note = tr("Qt and PySide6 are used under the GNU Lesser General Public License v3. The standalone app "
                 "ships them as unmodified shared libraries in its folder, which you may replace with your own "
                 "builds of the same version.")
    return (f"<h3>NN Studio</h3><p>{tr('Released under the MIT licence.')}</p>"
            f"<p style='color:#9AA3B2'>Copyright (c) NN Studio contributors. {MIT_NOTICE}</p>"
            f"<h3>{tr('Bundled libraries')}</h3>"
            f"<table cellpadding='4'><tr><th align='left'>{tr('Library')}</th><th align='left'>{tr('Version')}</th>"
            f"<th align='left'>{tr('Licence')}</th></tr>{rows}</table><p>{qt_note}</p>")


def about_html() -> str:
    frozen = tr("standalone app") if getattr(sys, "frozen", False) else tr("Python package")
    return (f"<h2>NN Studio {__version__}</h2>"
            f"<p>{tr('Build, train and understand neural networks visually, on its own NumPy / CuPy engine.')}</p>"
            f"<p>{tr('Build')}: {frozen} &middot; Python {platform.python_version()} &middot; Qt {qVersion()} "
            f"&middot; {platform.system()} {platform.machine()}</p>")


class AboutDialog(QDialog):
    """The version and build on top, then two tabs: Licences and Data credits."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(tr("About NN Studio"))
        self.setObjectName("AboutDialog")
        header = QHBoxLayout()
        logo = QLabel()
        pixmap = QPixmap(str(resource("icons", "nnstudio.png")))
        if not pixmap.isNull():
            logo.setPixmap(pixmap.scaled(72, 72, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation))
        header.addWidget(logo, 0, Qt.AlignmentFlag.AlignTop)
        self.about = QLabel(about_html())
        self.about.setWordWrap(True)
        self.about.setOpenExternalLinks(True)
        self.about.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        header.addWidget(self.about, 1)

        self.licences = QTextBrowser()
        self.licences.setOpenExternalLinks(True)
        self.licences.setHtml(licences_html())
        self.credits = QTextBrowser()
        self.credits.setOpenExternalLinks(True)
        self.credits.setMarkdown(credits_markdown())
        self.tabs = QTabWidget()
        self.tabs.addTab(self.licences, tr("Licences"))
        self.tabs.addTab(self.credits, tr("Data credits"))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)
        self.resize(640, 560)


def show_about(parent: QWidget | None = None) -> AboutDialog:
    """Open the About dialog (modeless, so it can stay beside the window) and return it."""
    dialog = AboutDialog(parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    return dialog
