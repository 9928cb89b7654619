"""The example gallery on the start page and the examples menu: the curriculum's order, grouped under chapter
headings, a picture per example, a single click to open, and a Download button (not a command line) for an
example whose dataset is not on this computer; at 1024x768 and 1920x1080, in English and Chinese."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication, QWidget

import nnstudio.ui.start_page as start_page
from nnstudio.teaching.lessons import CHAPTERS
from nnstudio.ui.start_page import PICTURE_SIZE, list_examples

SIZES = [(1024, 768), (1920, 1080)]
CURRICULUM = ["perceptron", "mlp", "softmax", "cnn", "captcha", "gradients"]


def inside(widget: QWidget, window: QWidget) -> bool:
    top_left = widget.mapTo(window, QPoint(0, 0))
    return (top_left.x() >= 0 and top_left.y() >= 0 and top_left.x() + widget.width() <= window.width()
            and top_left.y() + widget.height() <= window.height())


def _chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def test_examples_come_in_curriculum_order():
    examples = list_examples()
    chapters = [e.chapter for e in examples]
    assert len(examples) == 16 and set(chapters) == set(CURRICULUM)
    assert chapters == sorted(chapters, key=CURRICULUM.index), "chapters out of curriculum order"
    names = [e.path.stem for e in examples]
    assert names.index("perceptron-and") < names.index("perceptron-xor") < names.index("mlp-xor")
    assert names.index("mlp-xor") < names.index("softmax-regression") < names.index("mnist-cnn")
    assert names.index("mnist-cnn") < names.index("captcha-cnn") < names.index("vanishing-gradients")
    assert all(e.picture.is_file() for e in examples), "every shipped example has its picture"


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_gallery_groups_by_chapter_with_pictures_and_opens_on_one_click(window, qtbot, size, lang):
    from nnstudio.ui.i18n import set_language
    set_language(lang)
    try:
        window.resize(size[0], size[1] - 30)
        window._show_start_page()
        qtbot.wait(50)
        before = window.size()
        gallery = window.start_page.gallery
        assert [h.text() for h in gallery.headings] == [c.title(lang) for c in CHAPTERS]
        assert all(_chinese(h.text()) == (lang == "zh") for h in gallery.headings)
        assert len(gallery.tiles) == 16
        for tile in gallery.tiles:
            pixmap = tile.picture.pixmap()
            assert not pixmap.isNull() and pixmap.deviceIndependentSize().toSize() == PICTURE_SIZE, tile.example.name
            assert _chinese(tile.title.text()) == (lang == "zh")
        assert gallery.isVisible() and inside(gallery, window)
        first = gallery.tiles[0]
        gallery.ensureWidgetVisible(first)
        qtbot.wait(20)
        assert first.isVisible() and first.visibleRegion().boundingRect().height() > 40
        assert first.title.heightForWidth(first.title.width()) <= first.title.height()  # the name is not cut
        assert window.size() == before
        target = gallery.tiles[3]  # perceptron-or
        gallery.ensureWidgetVisible(target)
        qtbot.mouseClick(target, Qt.MouseButton.LeftButton, pos=target.picture.geometry().center())
        assert window.project is not None and window.project.path is None
        assert window.project.name == "Perceptron learns OR"
        assert window.lessons.card.lesson.chapter == "perceptron"
        QApplication.processEvents()
        assert window.size() == before
    finally:
        set_language("en")


def test_a_dataset_to_download_is_said_on_the_tile_with_a_download_button(window, qtbot, monkeypatch):
    monkeypatch.setattr(start_page, "_needs_download", lambda dataset: dataset == "fashion-mnist")
    started = []
    monkeypatch.setattr(window.downloads, "start", lambda name, **options: started.append(name) or True)
    window._show_start_page()
    tiles = {t.example.path.stem: t for t in window.start_page.gallery.tiles}
    fashion = tiles["fashion-cnn"]
    assert fashion.download_button is not None and "fashion-mnist" in fashion.download_note.text()
    assert all(t.download_button is None for name, t in tiles.items() if name != "fashion-cnn")
    window.start_page.gallery.ensureWidgetVisible(fashion.download_button)
    qtbot.mouseClick(fashion.download_button, Qt.MouseButton.LeftButton)
    assert started == ["fashion-mnist"]
    assert window.project is None, "the Download button must not open the example"
    monkeypatch.setattr(start_page, "_needs_download", lambda dataset: False)
    window.start_page.refresh_after_download("/data/fashion", "")
    tiles = {t.example.path.stem: t for t in window.start_page.gallery.tiles}
    assert tiles["fashion-cnn"].download_button is None


def test_fashion_needs_a_download_exactly_when_its_files_are_missing(monkeypatch):
    from nnstudio.data import mnist
    monkeypatch.setattr(mnist, "fashion_dir", lambda: None)
    assert start_page._needs_download("fashion-mnist")
    assert not start_page._needs_download("spiral") and not start_page._needs_download("no-such-set")


def test_the_examples_menu_has_the_chapters_as_headings(window):
    """Chapter headings the menu shows (sections were drawn as bare lines by the Fusion style: the menu began
    with an empty line and named no chapter), with a line between chapters only."""
    window._fill_examples_menu()
    actions = window.examples_menu.actions()
    headings = [a.text() for a in actions if not a.isSeparator() and not a.isEnabled()]
    assert headings == [c.title("en") for c in CHAPTERS]
    assert actions[0].text() == CHAPTERS[0].title("en") and not actions[0].isSeparator()
    assert sum(a.isSeparator() for a in actions) == len(CHAPTERS) - 1
    assert all(a.font().bold() for a in actions if a.text() in headings)
    entries = [a.text() for a in actions if not a.isSeparator() and a.isEnabled()]
    assert len(entries) == 16 and entries[0] == "Linear regression" and entries[-1] == "Overfitting and dropout"
