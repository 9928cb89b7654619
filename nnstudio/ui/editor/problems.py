"""The problems panel: every message of the latest shape inference (errors first), one line each.

Clicking a line emits ``node_activated`` so the window selects and centres that node.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from nnstudio.ui.i18n import tr

NODE_ROLE = Qt.ItemDataRole.UserRole + 1
SEVERITY_ORDER = {"error": 0, "warning": 1}


def count_text(errors: int, warnings: int) -> str:
    """The status bar's summary: "1 error", "2 errors, 1 warning", "No problems" (singular and plural)."""
    parts = []
    if errors:
        parts.append(tr("1 error") if errors == 1 else tr("{count} errors", count=errors))
    if warnings:
        parts.append(tr("1 warning") if warnings == 1 else tr("{count} warnings", count=warnings))
    return tr(", ").join(parts) if parts else tr("No problems")


class ProblemsWidget(QWidget):
    node_activated = Signal(str)
    count_changed = Signal(int, int)  # errors, warnings

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setAlternatingRowColors(False)
        self.list.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        self.list.itemClicked.connect(self._clicked)
        self.list.itemActivated.connect(self._clicked)
        self.errors = 0
        self.warnings = 0

    def clear(self) -> None:
        self.list.clear()
        self.errors = self.warnings = 0
        self.count_changed.emit(0, 0)

    def set_report(self, report: Any) -> None:
        messages = sorted(report.messages, key=lambda m: SEVERITY_ORDER.get(m.severity, 2))
        self.list.clear()
        self.errors = sum(m.severity == "error" for m in messages)
        self.warnings = sum(m.severity == "warning" for m in messages)
        for message in messages:
            mark = {"error": "✖", "warning": "⚠"}.get(message.severity, "ℹ")
            where = f"[{message.node_id}] " if message.node_id else ""
            item = QListWidgetItem(f"{mark}  {where}{message.text}")
            item.setData(NODE_ROLE, message.node_id)
            item.setToolTip(message.text)
            item.setForeground(QColor({"error": "#FF8A8A", "warning": "#F2CC6B"}.get(message.severity, "#C9D1E0")))
            self.list.addItem(item)
        if not messages:
            item = QListWidgetItem("✓  " + tr("No problems: the network is ready to train."))
            item.setForeground(QColor("#6EE7B7"))
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.list.addItem(item)
        self.count_changed.emit(self.errors, self.warnings)

    def messages(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def _clicked(self, item: QListWidgetItem) -> None:
        node_id = item.data(NODE_ROLE)
        if node_id:
            self.node_activated.emit(str(node_id))
