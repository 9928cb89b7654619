"""The start page shown while no project is open: new / open, recent projects, the examples gallery and the
"Draw a digit" entry.

The gallery follows the curriculum (perceptron -> MLP -> softmax -> CNN -> captcha -> gradients): one heading
per chapter of :data:`nnstudio.teaching.lessons.CHAPTERS`, the examples of each in their lesson's order, each
tile with its picture (``resources/examples/pictures/<example>.png``, drawn by
``tools/make_example_pictures.py``: a sample of its data above its blocks).  A single click opens an example.
An example whose dataset is not on this computer says so on its tile and offers the Download button, which
opens the same download dialog as Train > Download.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QPushButton, QScrollArea, QSizePolicy, QVBoxLayout, QWidget)

from nnstudio.errors import UserError
from nnstudio.resources_path import resource
from nnstudio.teaching.lessons import CHAPTER_KEYS, chapter, parse_lesson
from nnstudio.ui.flow_layout import FlowLayout
from nnstudio.ui.i18n import current_language, pick, sort_key, tr
from nnstudio.ui.icons import app_icon, icon
from nnstudio.ui.settings import recent_projects

PATH_ROLE = Qt.ItemDataRole.UserRole + 1
PICTURE_SIZE = QSize(160, 92)  # the committed pictures are twice this size
TILE_WIDTH = 176
GALLERY_STYLE = """
QWidget#examplesGalleryContent { background: transparent; }
QFrame#exampleTile { background: #262A33; border: 1px solid #3A3F4B; border-radius: 6px; }
QFrame#exampleTile:hover, QFrame#exampleTile:focus { border: 1px solid #7AA2FF; background: #2B303B; }
QLabel#galleryChapter { font-weight: 600; color: #C9D1E0; padding-top: 6px; }
QLabel#exampleName { font-weight: 600; }
QLabel#exampleDownloadNote { color: #F2CC60; }
"""


@dataclass(frozen=True)
class ExampleInfo:
    path: Path
    name: str
    description: str
    chapter: str = ""  # the lesson's chapter key; "" for an example without a lesson
    order: int = 0
    dataset: str = ""
    needs_download: bool = False  # its dataset is not on this computer and can be downloaded

    @property
    def picture(self) -> Path:
        return self.path.parent / "pictures" / f"{self.path.stem}.png"


def chapter_title(key: str) -> str:
    """The heading of a chapter in the interface language ("More examples" for examples without a lesson)."""
    if key in CHAPTER_KEYS:
        return chapter(key).title(current_language())
    return tr("More examples")


def _needs_download(dataset: str) -> bool:
    """Whether ``dataset`` is one NN Studio can download and it is not on this computer yet."""
    from nnstudio.data.download import downloadable  # noqa: PLC0415 - loaded on use, like the dialog
    from nnstudio.data.registry import dataset_info  # noqa: PLC0415
    if dataset not in downloadable():
        return False
    try:
        return not dataset_info(dataset).available
    except UserError:
        return False


def list_examples(folder: Path | None = None) -> list[ExampleInfo]:
    """Example projects shipped in ``resources/examples`` (``*.json`` and ``*.nnproj``) in curriculum order:
    by chapter, then by their place in it; examples without a lesson come last, by name."""
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
        key, order = "", 0
        if "lesson" in data:
            try:
                lesson = parse_lesson(data["lesson"], data.get("goal"), str(path))
                key, order = lesson.chapter, lesson.order
            except UserError:
                pass  # opening it says what is wrong; the gallery lists it with the others
        training = data.get("training") if isinstance(data.get("training"), dict) else {}
        dataset = str(training.get("dataset") or "")
        found.append(ExampleInfo(path, name, description, key, order, dataset, _needs_download(dataset)))
    rank = {k: i for i, k in enumerate(CHAPTER_KEYS)}
    by_name = sort_key()  # pinyin order in Chinese
    return sorted(found, key=lambda e: (rank.get(e.chapter, len(rank)), e.order, by_name(e.name)))


class ExampleTile(QFrame):
    """One example in the gallery: its picture and name; a click opens it.  When its dataset must be
    downloaded first, the tile says so and carries the Download button."""

    open_requested = Signal(str)
    download_requested = Signal(str)

    def __init__(self, example: ExampleInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.example = example
        self.setObjectName("exampleTile")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip(f"<b>{example.name}</b><br>{example.description}")
        self.setAccessibleName(example.name)
        self.picture = QLabel()
        self.picture.setObjectName("examplePicture")
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setFixedSize(PICTURE_SIZE)
        pixmap = QPixmap(str(example.picture)) if example.picture.is_file() else QPixmap()
        if pixmap.isNull():
            pixmap = icon("example").pixmap(48, 48)
        else:
            pixmap.setDevicePixelRatio(max(1.0, pixmap.width() / PICTURE_SIZE.width()))
        self.picture.setPixmap(pixmap)
        self.title = QLabel(example.name)
        self.title.setObjectName("exampleName")
        self.title.setWordWrap(True)
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.title)
        self.download_note: QLabel | None = None
        self.download_button: QPushButton | None = None
        if example.needs_download:
            self.download_note = QLabel(tr("Needs a download: {dataset}", dataset=example.dataset))
            self.download_note.setObjectName("exampleDownloadNote")
            self.download_note.setWordWrap(True)
            self.download_note.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            self.download_button = QPushButton(tr("Download…"))
            self.download_button.setObjectName("exampleDownload")
            self.download_button.clicked.connect(self._download)
            layout.addWidget(self.download_note)
            layout.addWidget(self.download_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        self.setFixedWidth(TILE_WIDTH)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)

    def _download(self) -> None:
        self.download_requested.emit(self.example.dataset)

    def mouseReleaseEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(event.position().toPoint()):
            self.open_requested.emit(str(self.example.path))
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.open_requested.emit(str(self.example.path))
            return
        super().keyPressEvent(event)


class ExampleGallery(QScrollArea):
    """The examples grouped by chapter, each chapter a heading over a wrapping row of tiles."""

    open_requested = Signal(str)
    download_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("examplesGallery")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setMinimumSize(TILE_WIDTH + 24, 160)
        self.setStyleSheet(GALLERY_STYLE)
        self.tiles: list[ExampleTile] = []
        self.headings: list[QLabel] = []
        self._content: QWidget | None = None

    def set_examples(self, examples: list[ExampleInfo]) -> None:
        content = QWidget()
        content.setObjectName("examplesGalleryContent")
        layout = QVBoxLayout(content)
        layout.setContentsMargins(4, 4, 12, 4)
        layout.setSpacing(8)
        self.tiles, self.headings = [], []
        current: str | None = None
        flow: FlowLayout | None = None
        for example in examples:
            if example.chapter != current or flow is None:
                current = example.chapter
                heading = QLabel(chapter_title(current))
                heading.setObjectName("galleryChapter")
                heading.setWordWrap(True)
                self.headings.append(heading)
                layout.addWidget(heading)
                flow = FlowLayout(spacing=10, line_spacing=10)
                layout.addLayout(flow)
            tile = ExampleTile(example)
            tile.open_requested.connect(self.open_requested)
            tile.download_requested.connect(self.download_requested)
            flow.addWidget(tile)
            self.tiles.append(tile)
        if not examples:
            empty = QLabel(tr("No examples installed."))
            layout.addWidget(empty)
        layout.addStretch(1)
        self.setWidget(content)  # the old content is deleted with it
        self._content = content

    def names(self) -> list[str]:
        return [tile.example.name for tile in self.tiles]


class StartPage(QWidget):
    new_requested = Signal()
    open_requested = Signal()
    open_path_requested = Signal(str)
    example_requested = Signal(str)
    draw_digit_requested = Signal()
    download_requested = Signal(str)  # a dataset an example needs

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
        self.gallery = ExampleGallery()
        self.gallery.open_requested.connect(self.example_requested)
        self.gallery.download_requested.connect(self.download_requested)

        grid = QGridLayout()
        recent_title = QLabel(tr("Recent projects"))
        recent_title.setObjectName("startSection")
        examples_title = QLabel(tr("Examples"))
        examples_title.setObjectName("startSection")
        grid.addWidget(recent_title, 0, 0)
        grid.addWidget(examples_title, 0, 1)
        grid.addWidget(self.recent_list, 1, 0)
        grid.addWidget(self.gallery, 1, 1)
        grid.setColumnStretch(0, 1)
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
        self.gallery.set_examples(list_examples())

    def refresh_after_download(self, folder: str = "", _message: str = "") -> None:
        """A download ended: when it succeeded, the tiles that asked for it no longer do."""
        if folder:
            self.refresh()
