"""The start page shown while no project is open: new / open, recent projects, the examples gallery and the
"Draw a digit" entry.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (QGridLayout, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)

from nnstudio.resources_path import resource
from nnstudio.ui.i18n import pick, tr
from nnstudio.ui.icons import app_icon, icon
from nnstudio.ui.settings import recent_projects

PATH_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class ExampleInfo:
    path: Path
    name: str
    description: str


def list_examples(folder: Path | None = None) -> list[ExampleInfo]:
    """Example projects shipped in ``resources/examples`` (``*.json`` and ``*.nnproj``), by name."""
    folder = folder or resource("examples")
    found: list[ExampleInfo] = []
    if not folder.is_dir():
        return found
    for path in sorted(list(folder.glob("*.json")) + list(folder.glob("*.nnproj"))):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or "graph" not in data:
            continue
        name = pick(str(data.get("name") or path.stem), str(data.get("name_zh") or ""))
        description = pick(str(data.get("description_en", "")), str(data.get("description_zh", "")))
        found.append(ExampleInfo(path, name, description))
    return sorted(found, key=lambda e: e.name.lower())


class StartPage(QWidget):
    new_requested = Signal()
    open_requested = Signal()
    open_path_requested = Signal(str)
    example_requested = Signal(str)
    draw_digit_requested = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("startPage")
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(72, 72))
        title = QLabel("NN Studio")
        title.setObjectName("startTitle")
        tagline = QLabel(tr("Build, train and understand neural networks visually."))
        tagline.setObjectName("startTagline")
        heading = QVBoxLayout()
        heading.addWidget(title)
        heading.addWidget(tagline)
        top = QHBoxLayout()
        top.addWidget(logo)
        top.addSpacing(12)
        top.addLayout(heading)
        top.addStretch(1)

        self.new_button = self._button(tr("New project"), "new", self.new_requested.emit)
        self.open_button = self._button(tr("Open…"), "open", self.open_requested.emit)
        self.draw_button = self._button(tr("Draw a digit"), "draw", self.draw_digit_requested.emit)
        actions = QHBoxLayout()
        for b in (self.new_button, self.open_button, self.draw_button):
            actions.addWidget(b)
        actions.addStretch(1)

        self.recent_list = QListWidget()
        self.recent_list.setObjectName("recentList")
        self.recent_list.itemActivated.connect(lambda item: self.open_path_requested.emit(item.data(PATH_ROLE)))
        self.recent_list.itemDoubleClicked.connect(
            lambda item: self.open_path_requested.emit(item.data(PATH_ROLE)))
        self.examples_list = QListWidget()
        self.examples_list.setObjectName("examplesList")
        self.examples_list.setViewMode(QListWidget.ViewMode.IconMode)
        self.examples_list.setIconSize(QSize(40, 40))
        self.examples_list.setGridSize(QSize(200, 110))
        self.examples_list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.examples_list.setMovement(QListWidget.Movement.Static)
        self.examples_list.setWordWrap(True)
        self.examples_list.itemActivated.connect(lambda item: self.example_requested.emit(item.data(PATH_ROLE)))
        self.examples_list.itemDoubleClicked.connect(
            lambda item: self.example_requested.emit(item.data(PATH_ROLE)))

        grid = QGridLayout()
        recent_title = QLabel(tr("Recent projects"))
        recent_title.setObjectName("startSection")
        examples_title = QLabel(tr("Examples"))
        examples_title.setObjectName("startSection")
        grid.addWidget(recent_title, 0, 0)
        grid.addWidget(examples_title, 0, 1)
        grid.addWidget(self.recent_list, 1, 0)
        grid.addWidget(self.examples_list, 1, 1)
        grid.setColumnStretch(0, 2)
        grid.setColumnStretch(1, 3)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(48, 36, 48, 36)
        layout.setSpacing(18)
        layout.addLayout(top)
        layout.addLayout(actions)
        layout.addLayout(grid, 1)
        self.refresh()

    @staticmethod
    def _button(text: str, icon_name: str, slot: Any) -> QPushButton:
        button = QPushButton(icon(icon_name), text)
        button.setObjectName("startButton")
        button.setIconSize(QSize(20, 20))
        button.setMinimumHeight(38)
        button.clicked.connect(slot)
        return button

    def refresh(self) -> None:
        """Re-read the recent projects and the examples folder."""
        self.recent_list.clear()
        for path in recent_projects():
            item = QListWidgetItem(icon("open"), f"{Path(path).name}\n{Path(path).parent}")
            item.setData(PATH_ROLE, path)
            item.setToolTip(path)
            self.recent_list.addItem(item)
        if self.recent_list.count() == 0:
            placeholder = QListWidgetItem(tr("No recent projects yet."))
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent_list.addItem(placeholder)
        self.examples_list.clear()
        for example in list_examples():
            item = QListWidgetItem(icon("example"), example.name)
            item.setData(PATH_ROLE, str(example.path))
            item.setToolTip(f"<b>{example.name}</b><br>{example.description}")
            self.examples_list.addItem(item)
        if self.examples_list.count() == 0:
            placeholder = QListWidgetItem(tr("No examples installed."))
            placeholder.setFlags(Qt.ItemFlag.NoItemFlags)
            self.examples_list.addItem(placeholder)
