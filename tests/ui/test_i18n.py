"""The Chinese interface: every tr() string is translated with the same placeholders, every block has help in
both languages, and Chinese text really renders (a CJK font is found and its glyphs are drawn)."""
from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from nnstudio.graph.catalogue import ACTIVATION_INFO, BLOCKS  # noqa: E402
from nnstudio.resources_path import resource  # noqa: E402
from nnstudio.ui import i18n  # noqa: E402

UI = Path(i18n.__file__).resolve().parents[1]
CJK = re.compile(r"[\u3400-\u9fff]")
ACCEL = re.compile(r"&([A-Za-z0-9])")


def tr_strings() -> dict[str, str]:
    """Every string literal passed as the first argument of a call to ``tr`` under nnstudio/ui -> its file."""
    found: dict[str, str] = {}
    for path in sorted(UI.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tr"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.setdefault(node.args[0].value, str(path.relative_to(UI)))
    return found


def dynamic_strings() -> list[str]:
    """Texts handed to tr() through a variable (combo box entries, dock titles)."""
    from nnstudio.ui import training_controller, training_panel
    from nnstudio.ui.panels import boundary
    texts = [title for _attr, _name, title in training_controller.PANEL_DOCKS] + [boundary.PLACEHOLDER]
    for table in (training_panel.LOSS_TEXT, training_panel.OPTIMIZER_TEXT, training_panel.SCHEDULE_TEXT):
        texts += list(table.values())
    return texts


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


@pytest.fixture(scope="module")
def zh() -> dict[str, str]:
    """The translated (not fuzzy) messages of the gettext catalogue that translators edit."""
    from babel.messages.pofile import read_po
    po = Path(__file__).resolve().parents[2] / "resources" / "translations" / "zh_CN" / "LC_MESSAGES" / "nnstudio.po"
    with open(po, "rb") as fh:
        catalog = read_po(fh, locale="zh_CN")
    return {m.id: m.string for m in catalog if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    i18n.set_language("en")


def test_the_scan_finds_the_strings_of_the_whole_interface():
    found = tr_strings()
    assert len(found) > 200
    assert "&File" in found and "Run gradient check" in found


def test_every_tr_string_has_a_chinese_translation(zh):
    missing = {text: where for text, where in tr_strings().items() if not zh.get(text, "").strip()}
    assert not missing, (f"{len(missing)} strings lack a Chinese translation (run `python tools/i18n.py`, then "
                         f"translate them in resources/translations/zh_CN/LC_MESSAGES/nnstudio.po): {missing}")
    missing_dynamic = [t for t in dynamic_strings() if not zh.get(t, "").strip()]
    assert not missing_dynamic, missing_dynamic


def test_translations_keep_their_placeholders_and_accelerators(zh):
    problems = []
    for en, cn in zh.items():
        if fields(en) != fields(cn):
            problems.append(f"{en!r}: {sorted(fields(en))} -> {cn!r}: {sorted(fields(cn))}")
            continue
        values = {name: "x" for name in fields(en)}
        cn.format(**values)  # raises on a broken brace
        if ACCEL.search(en) and not ACCEL.search(cn):
            problems.append(f"{en!r}: the menu accelerator is lost in {cn!r}")
    assert not problems, "\n".join(problems)


def test_translations_are_chinese(zh):
    same = [en for en, cn in zh.items() if not CJK.search(cn) and any(c.isalpha() for c in re.sub(r"\{\w*\}", "", cn))
            and en not in ("Adam", "RMSprop", "Grad-CAM")]
    assert not same, f"not translated into Chinese: {same}"


def test_tr_switches_language_and_formats(zh):
    i18n.set_language("zh")
    assert i18n.tr("&File") == zh["&File"]
    assert i18n.tr("Opened {path}", path="a.json") == zh["Opened {path}"].format(path="a.json")
    assert i18n.tr("a text nobody translated") == "a text nobody translated"
    i18n.set_language("en")
    assert i18n.tr("&File") == "&File"


def test_every_block_and_activation_has_help_in_both_languages():
    for spec in BLOCKS.values():
        for en, cn in ((spec.title_en, spec.title_zh), (spec.description_en, spec.description_zh),
                       (spec.help_en, spec.help_zh)):
            assert en.strip() and CJK.search(cn), (spec.type, en)
        assert spec.formula.strip()
        for param in spec.params:
            assert param.label_en and CJK.search(param.label_zh), (spec.type, param.name)
            assert param.help_en and CJK.search(param.help_zh), (spec.type, param.name)
    for info in ACTIVATION_INFO.values():
        assert info.help_en and CJK.search(info.help_zh) and CJK.search(info.title_zh), info.function
    from nnstudio.ui.help_card import ACTIVATION_TRAITS
    assert set(ACTIVATION_TRAITS) == set(ACTIVATION_INFO)
    for traits in ACTIVATION_TRAITS.values():
        assert len(traits.traits_en) == len(traits.traits_zh) and CJK.search(traits.used_zh)


def _ink(image) -> int:
    """How many pixels differ from the top-left (background) pixel."""
    background = image.pixel(0, 0)
    return sum(image.pixel(x, y) != background for y in range(image.height()) for x in range(image.width()))


def test_chinese_interface_renders_cjk_glyphs(qtbot):
    from PySide6.QtGui import QFontMetrics, QImage, QRawFont
    from PySide6.QtWidgets import QApplication, QLabel
    from nnstudio.ui.preferences import apply_font_for_language, cjk_font_family
    family = cjk_font_family()
    assert family, "no CJK font found: install Debian's fonts-noto-cjk (make test-debs)"
    assert apply_font_for_language("zh") == family
    try:
        text = "神经网络训练"
        font = QApplication.font()
        assert font.families()[0] == family
        metrics = QFontMetrics(font)
        raw = QRawFont.fromFont(font)
        for ch in text:
            assert metrics.inFontUcs4(ord(ch)), ch
            assert raw.supportsCharacter(ord(ch)), ch
        assert 0 not in raw.glyphIndexesForString(text)  # glyph 0 is the "missing" box
        images = []
        for shown in (text, "中", "文"):
            label = QLabel(shown)
            qtbot.addWidget(label)
            label.setStyleSheet("background: white; color: black; font-size: 28px;")
            label.adjustSize()
            image = label.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
            images.append(image)
        assert _ink(images[0]) > 200, "the Chinese label rendered blank"
        # Two different characters give two different pictures (missing glyphs would all be the same box).
        assert images[1].size() == images[2].size() and images[1] != images[2]
        assert _ink(images[1]) > 20 and _ink(images[2]) > 20
    finally:
        apply_font_for_language("en")


def test_main_window_in_chinese(qtbot, tmp_path):
    i18n.set_language("zh")
    from nnstudio.ui.main_window import MainWindow
    from nnstudio.ui.preferences import apply_interface_language
    from nnstudio.ui.teaching_controller import install_teaching
    apply_interface_language("zh")
    try:
        win = MainWindow()
        qtbot.addWidget(win)
        install_teaching(win)
        titles = [a.text() for a in win.menuBar().actions()]
        assert "文件(&F)" in titles and "学习(&L)" in titles and "帮助(&H)" in titles
        win.resize(1100, 700)
        win.show()
        qtbot.waitExposed(win)
        assert win.grab().save(str(tmp_path / "window_zh.png"))
        win.undo_stack.setClean()
    finally:
        apply_interface_language("en")


def test_example_gallery_names_follow_the_language():
    from nnstudio.ui.start_page import list_examples
    english = list_examples()
    assert english and not any(CJK.search(e.name) for e in english)
    i18n.set_language("zh")
    chinese = list_examples()
    assert len(chinese) == len(english) and all(CJK.search(e.name) for e in chinese)
    assert all(CJK.search(e.description) for e in chinese)


def _node_faces(win) -> dict[str, str]:
    return {nid: item.title for nid, item in win.scene.node_items.items()}


def test_preferences_switch_the_whole_window_at_once(qtbot, tmp_path):
    """Menus, docks, palette (in pinyin order), node faces, Problems, status bar, inspector, gallery and title
    follow the language chosen in Preferences, there and back, without a restart."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QDockWidget
    from nnstudio.ui.main_window import MainWindow
    from nnstudio.ui.preferences import PreferencesDialog, apply_interface_language
    from nnstudio.ui.teaching_controller import install_teaching
    win = MainWindow()
    qtbot.addWidget(win)
    install_teaching(win)
    try:
        assert win.open_example(resource("examples", "mlp-xor.json"))
        dense = next(nid for nid, n in win.scene.graph.nodes.items() if n.type == "Dense")
        win.scene.graph.add_node("Conv2D", {}, (600.0, 0.0))  # unconnected: a problem to read in both languages
        win.scene.validate_now()
        win.inspector.show_node(dense)
        english = {
            "menus": [a.text() for a in win.menuBar().actions()],
            "palette": [win.palette.block_items[t].text(0) for t in ("Dense", "Conv2D", "Pool2D")],
            "faces": _node_faces(win),
            "problems": win.problems.messages(),
            "status": win.problems_label.text(),
            "inspector": win.inspector.title.text(),
            "gallery": win.start_page.gallery.names(),
        }
        assert "&File" in english["menus"] and "Dense (fully connected)" in english["palette"]
        assert english["faces"][dense].startswith("Dense ")
        assert english["problems"] and not any(CJK.search(m) for m in english["problems"])

        settings = QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat)
        dialog = PreferencesDialog(settings=settings, parent=win)
        dialog.language.setCurrentIndex(dialog.language.findData("zh"))
        dialog.accept()
        assert i18n.current_language() == "zh"
        menus = [a.text() for a in win.menuBar().actions()]
        assert "文件(&F)" in menus and "&File" not in menus
        assert win.palette.block_items["Dense"].text(0) == "全连接层"
        layers = win.palette.group_items["Layers"]
        titles = [layers.child(i).text(0) for i in range(layers.childCount())]
        assert titles == sorted(titles, key=i18n.sort_key("zh")) and titles != sorted(titles)  # pinyin, not code points
        faces = _node_faces(win)
        assert faces[dense].startswith("全连接 ")
        assert faces[dense].split(" ", 1)[1] == english["faces"][dense].split(" ", 1)[1]
        problems = win.problems.messages()
        assert len(problems) == len(english["problems"]) and all(CJK.search(m) for m in problems), problems
        assert CJK.search(win.problems_label.text()) or not english["status"]
        assert "线程" in win.backend_label.text()  # "NumPy 2.4 · 2 个线程": only the library's name stays
        from nnstudio.engine import threads as engine_threads
        tip = win.backend_label.toolTip()  # how the engine chooses its threads, when it does
        tuned = not engine_threads.fixed_by_environment() and engine_threads.blas_threads() > 1
        assert bool("OMP_NUM_THREADS" in tip and CJK.search(tip)) == tuned, tip
        assert CJK.search(win.inspector.title.text())
        assert all(CJK.search(name) for name in win.start_page.gallery.names())
        docks = [d.windowTitle() for d in win.findChildren(QDockWidget) if d.windowTitle()]
        assert docks and all(CJK.search(t) for t in docks), docks
        assert CJK.search(win.windowTitle())

        dialog = PreferencesDialog(settings=settings, parent=win)
        dialog.language.setCurrentIndex(dialog.language.findData("en"))
        dialog.accept()
        assert [a.text() for a in win.menuBar().actions()] == english["menus"]
        assert [win.palette.block_items[t].text(0) for t in ("Dense", "Conv2D", "Pool2D")] == english["palette"]
        assert _node_faces(win) == english["faces"]
        assert win.problems.messages() == english["problems"]
        assert win.problems_label.text() == english["status"]
        assert win.inspector.title.text() == english["inspector"]
        assert win.start_page.gallery.names() == english["gallery"]
        win.undo_stack.setClean()
    finally:
        apply_interface_language("en")


def test_pinyin_order_for_lists():
    key = i18n.sort_key("zh")
    words = ["全连接层", "卷积层", "池化层", "激活函数", "展平", "批归一化"]
    # chí, jī, juǎn, pī, quán, zhǎn
    assert sorted(words, key=key) == ["池化层", "激活函数", "卷积层", "批归一化", "全连接层", "展平"]
    assert sorted(["b", "A", "c"], key=i18n.sort_key("en")) == ["A", "b", "c"]


def test_gallery_tiles_grow_for_names_that_wrap(qtbot):
    """A Chinese name on two lines makes its tile taller instead of running over the picture."""
    from nnstudio.ui.start_page import ExampleGallery, list_examples
    i18n.set_language("zh")
    gallery = ExampleGallery()
    qtbot.addWidget(gallery)
    gallery.set_examples(list_examples())
    gallery.resize(700, 900)
    gallery.show()
    qtbot.waitExposed(gallery)
    for tile in gallery.tiles:
        tile.title.setText(tile.title.text() + "，一个很长很长的名字需要折成两行来显示")
    gallery.updateGeometry()
    qtbot.wait(50)
    for tile in gallery.tiles:
        if tile.isVisible():
            assert tile.title.geometry().top() >= tile.picture.geometry().bottom(), tile.example.name
            assert tile.title.geometry().bottom() <= tile.height(), tile.example.name
