"""Starting the GUI: the QApplication (name, organisation, icon, theme), the main window, an optional
project to open, and the offer to restore work after a crash.

Heavy modules (the editor, the engine) load only once the application object exists, to keep cold start
short.
"""
from __future__ import annotations

import os
import sys
from typing import Any

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

DARK_STYLE = """
QMainWindow, QDialog { background: #1F2229; }
QWidget { color: #E3E6ED; }
QToolTip { background: #2B2F38; color: #E8EAF0; border: 1px solid #454B58; padding: 4px; }
QMenuBar { background: #1F2229; border-bottom: 1px solid #2D313B; }
QMenuBar::item { padding: 4px 10px; background: transparent; }
QMenuBar::item:selected, QMenu::item:selected { background: #34508F; border-radius: 4px; }
QMenu { background: #262A33; border: 1px solid #3A3F4B; padding: 4px; }
QMenu::item { padding: 5px 24px 5px 24px; }
QMenu::separator { height: 1px; background: #3A3F4B; margin: 4px 8px; }
QToolBar { background: #1F2229; border: none; border-bottom: 1px solid #2D313B; spacing: 2px; padding: 3px 6px; }
QToolBar QToolButton { padding: 4px; border-radius: 5px; }
QToolBar QToolButton:hover { background: #2F3440; }
QToolBar QToolButton:pressed { background: #34508F; }
QToolBar::separator { width: 1px; background: #333845; margin: 4px 6px; }
QDockWidget { titlebar-close-icon: none; font-weight: 600; }
QDockWidget::title { background: #23262E; padding: 6px 8px; border-bottom: 1px solid #2D313B; }
QStatusBar { background: #1B1E24; border-top: 1px solid #2D313B; }
QStatusBar QLabel#statusField { color: #AEB6C4; padding: 0 10px; border-left: 1px solid #2D313B; }
QTreeWidget, QListWidget, QTextBrowser, QUndoView, QScrollArea { background: #22252D; border: none; }
QTreeWidget::item, QListWidget::item { padding: 4px 2px; border-radius: 4px; }
QTreeWidget::item:hover, QListWidget::item:hover { background: #2B303B; }
QTreeWidget::item:selected, QListWidget::item:selected { background: #34508F; color: #FFFFFF; }
QLineEdit, QSpinBox, QDoubleSpinBox, QComboBox { background: #1A1D23; border: 1px solid #3A3F4B;
    border-radius: 5px; padding: 4px 6px; selection-background-color: #34508F; }
QLineEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus, QComboBox:focus { border: 1px solid #5B7FD6; }
QPushButton { background: #2B303B; border: 1px solid #3A3F4B; border-radius: 6px; padding: 6px 14px; }
QPushButton:hover { background: #343A47; }
QPushButton#startButton { font-size: 11pt; padding: 8px 18px; }
QTabBar::tab { background: #23262E; padding: 6px 12px; border: none; }
QTabBar::tab:selected { background: #2B303B; border-bottom: 2px solid #5B7FD6; }
QLabel#startTitle { font-size: 24pt; font-weight: 700; }
QLabel#startTagline { color: #9AA3B2; font-size: 11pt; }
QLabel#startSection { font-size: 12pt; font-weight: 600; color: #C9D1E0; }
QLabel#inspectorError { color: #FF8A8A; }
QLabel#inspectorEmpty { color: #8A93A3; }
QFrame#inspectorRule { color: #333845; }
QWidget#startPage { background: #1C1F25; }
QAbstractSpinBox::up-button, QAbstractSpinBox::down-button { width: 18px; border: none; background: transparent; }
QAbstractSpinBox::up-button:hover, QAbstractSpinBox::down-button:hover { background: #2F3440; }
QAbstractSpinBox::up-arrow { image: url(@ICONS@/chevron_up.svg); width: 10px; height: 10px; }
QAbstractSpinBox::down-arrow { image: url(@ICONS@/chevron_down.svg); width: 10px; height: 10px; }
QComboBox::drop-down { border: none; width: 20px; }
QComboBox::down-arrow { image: url(@ICONS@/chevron_down.svg); width: 10px; height: 10px; }
QComboBox QAbstractItemView { background: #262A33; border: 1px solid #3A3F4B; selection-background-color: #34508F; }
"""


def apply_theme(app: QApplication | None = None) -> None:
    """The dark Fusion look with our stylesheet (once per application)."""
    app = app or QApplication.instance()  # type: ignore[assignment]
    if app is None or app.property("nnstudio_theme"):
        return
    app.setStyle("Fusion")
    palette = QPalette()
    colours = {
        QPalette.ColorRole.Window: "#1F2229", QPalette.ColorRole.WindowText: "#E3E6ED",
        QPalette.ColorRole.Base: "#1A1D23", QPalette.ColorRole.AlternateBase: "#22252D",
        QPalette.ColorRole.Text: "#E3E6ED", QPalette.ColorRole.Button: "#2B303B",
        QPalette.ColorRole.ButtonText: "#E3E6ED", QPalette.ColorRole.Highlight: "#34508F",
        QPalette.ColorRole.HighlightedText: "#FFFFFF", QPalette.ColorRole.ToolTipBase: "#2B2F38",
        QPalette.ColorRole.ToolTipText: "#E8EAF0", QPalette.ColorRole.PlaceholderText: "#7D8594",
        QPalette.ColorRole.Link: "#7AA2FF",
    }
    for role, value in colours.items():
        palette.setColor(role, QColor(value))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#6B7280"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#6B7280"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor("#6B7280"))
    app.setPalette(palette)
    font = app.font()
    if font.pointSizeF() < 9.5:
        font.setPointSizeF(9.5)
    font.setStyleStrategy(QFont.StyleStrategy.PreferAntialias)
    app.setFont(font)
    from nnstudio.resources_path import resource
    icons = resource("icons").as_posix()
    app.setStyleSheet(DARK_STYLE.replace("@ICONS@", icons))
    app.setProperty("nnstudio_theme", True)


def create_application(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    if existing is not None:
        return existing  # type: ignore[return-value]
    from nnstudio.ui.icons import app_icon
    from nnstudio.ui.settings import APPLICATION, ORGANISATION
    app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("NN Studio")
    app.setOrganizationName(ORGANISATION)
    app.setDesktopFileName("nnstudio")
    app.setWindowIcon(app_icon())
    apply_theme(app)
    app.aboutToQuit.connect(_release_clipboard)
    return app


def _release_clipboard() -> None:
    """Drop blocks we copied before Qt tears down: mime data still owned by the clipboard when the
    application object is destroyed crashes the interpreter's exit (seen with PySide6 6.11)."""
    from nnstudio.ui.editor.scene import GRAPH_MIME
    clipboard = QApplication.clipboard()
    mime = clipboard.mimeData() if clipboard is not None else None
    if mime is not None and mime.hasFormat(GRAPH_MIME):
        clipboard.clear()


def quit_when_shown(app: QApplication, window: Any) -> None:
    """Startup probe (``NNSTUDIO_STARTUP_PROBE=1``, used by tools/bench_startup.py): once the window system
    has exposed the window, paint it, print the wall-clock time and quit."""
    import time

    from PySide6.QtCore import QTimer

    def check() -> None:
        handle = window.windowHandle()
        if handle is None or not handle.isExposed():
            QTimer.singleShot(1, check)
            return
        window.repaint()
        print(f"NNSTUDIO_STARTUP_SHOWN {time.time():.6f}", flush=True)
        app.quit()

    QTimer.singleShot(0, check)


def run_gui(project_path: str | os.PathLike | None = None) -> int:
    """Create the application, show the main window (opening ``project_path`` if given) and run it."""
    app = create_application()
    from nnstudio.ui.preferences import apply_language
    apply_language(app)  # stored choice or the system locale; picks a CJK font and Qt's own texts for zh
    from nnstudio.ui.main_window import MainWindow
    window = MainWindow()
    window.show()
    if os.environ.get("NNSTUDIO_STARTUP_PROBE"):
        quit_when_shown(app, window)
    restored = window.offer_recovery(ask=not os.environ.get("NNSTUDIO_NO_DIALOGS"))
    if project_path and not restored:
        window.open_project(project_path)
    code = app.exec()
    return int(code)


def main(argv: Any = None) -> int:  # convenience for ``python -m nnstudio.ui.app``
    return run_gui(sys.argv[1] if len(sys.argv) > 1 else None)


if __name__ == "__main__":
    raise SystemExit(main())
