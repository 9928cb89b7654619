"""The gettext catalogue: every message of the code has its Chinese, the committed .mo is the compiled .po, and
nnstudio.i18n switches languages for the core without Qt."""
from __future__ import annotations

import gettext
import importlib.util
import io
import re
import string
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from nnstudio import i18n

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "resources" / "translations" / "zh_CN" / "LC_MESSAGES" / "nnstudio.po"
MO = PO.with_suffix(".mo")
CJK = re.compile(r"[\u3400-\u9fff]")


def _tool():
    spec = importlib.util.spec_from_file_location("i18n_tool", ROOT / "tools" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["i18n_tool"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def catalog():
    with open(PO, "rb") as fh:
        return read_po(fh, locale="zh_CN")


@pytest.fixture(autouse=True)
def english_afterwards():
    yield
    i18n.set_language("en")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_the_committed_mo_is_the_compiled_po(catalog):
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    expected = gettext.GNUTranslations(buf)._catalog
    with open(MO, "rb") as fh:
        committed = gettext.GNUTranslations(fh)._catalog
    stale = {k for k in set(expected) | set(committed) if expected.get(k) != committed.get(k)}
    assert not stale, f"{MO.name} differs from {PO.name} in {len(stale)} messages (run python tools/i18n.py): " \
                      f"{sorted(map(str, stale))[:10]}"


def test_every_message_in_the_code_has_a_chinese_translation(catalog):
    template = _tool().extract()
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = {m.id if isinstance(m.id, str) else m.id[0]: [loc[0] for loc in m.locations]
               for m in template if m.id and m.id not in translated}
    assert len(template) > 300
    assert not missing, (f"{len(missing)} messages lack a Chinese translation (run python tools/i18n.py, then "
                         f"translate them in {PO.relative_to(ROOT)}): {missing}")


def test_translations_keep_placeholders_and_are_chinese(catalog):
    problems = []
    for message in catalog:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for cn in strings:
            if _fields(ids[0]) != _fields(cn):
                problems.append(f"{ids[0]!r} -> {cn!r}")
            cn.format(**{name: "x" for name in _fields(cn)})  # a broken brace raises here
    assert not problems, "\n".join(problems)


def test_core_messages_switch_language_at_once():
    calls = []
    remove = i18n.add_language_listener(calls.append)
    try:
        assert i18n._("Untitled") == "Untitled"
        i18n.set_language("zh_CN")
        assert i18n.current_language() == "zh"
        assert i18n._("Untitled") == "未命名"
        assert i18n._("a text nobody translated") == "a text nobody translated"
        assert i18n._("") == ""  # not the catalogue's header
        i18n.set_language("zh")  # no change: listeners are not called again
        i18n.set_language("en")
        assert i18n._("Untitled") == "Untitled"
    finally:
        remove()
    assert calls == ["zh", "en"]
    i18n.set_language("zh")
    assert calls == ["zh", "en"]  # removed


def test_plural_forms_follow_each_language():
    assert i18n.ngettext("{count} error", "{count} errors", 1) == "{count} error"
    assert i18n.ngettext("{count} error", "{count} errors", 2) == "{count} errors"


@pytest.mark.parametrize("value, lang", [("zh", "zh"), ("zh_CN", "zh"), ("zh-CN.UTF-8", "zh"), ("en", "en"),
                                         ("en_US.UTF-8", "en"), ("C", "en"), ("klingon", "")])
def test_language_names_are_normalised(value, lang):
    assert i18n.normalise(value) == lang


def test_system_language_follows_nnstudio_lang_then_the_locale(monkeypatch):
    for var in ("NNSTUDIO_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert i18n.system_language() == "zh"
    monkeypatch.setenv("NNSTUDIO_LANG", "en")
    assert i18n.system_language() == "en"
    monkeypatch.delenv("NNSTUDIO_LANG")
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")
    assert i18n.system_language() == "en"


def test_the_core_catalogue_needs_no_qt():
    source = (ROOT / "nnstudio" / "i18n.py").read_text(encoding="utf-8")
    assert "PySide6" not in source and "babel" not in source.lower().replace("with babel", "")
    assert CJK.search(i18n.catalogue("zh")["Untitled"])


def test_training_messages_and_hints_in_chinese_keep_their_numbers_and_names():
    from nnstudio.training.events import BatchReport
    from nnstudio.training.hints import HintMonitor, NetworkFacts, _names
    from nnstudio.training.trainer import nan_message, oom_message
    i18n.set_language("zh")
    text = nan_message(3, 7)
    assert CJK.search(text) and "第 3 轮第 7 步" in text
    assert "64" in oom_message(64, gpu=True) and "GPU" in oom_message(64, gpu=True)
    assert _names(["a", "b", "c"]) == "'a'，'b'和'c'"
    facts = NetworkFacts(loss="cross_entropy", learning_rate=0.5, output_id="out", output_activation="sigmoid",
                         activations={"out": "sigmoid"}, param_layers=["d1"], layer_types={"d1": "Dense"})
    monitor = HintMonitor(facts)
    hints = monitor.observe(BatchReport(2, 9, 9, float("nan"), 0.5, 0.5, 100.0, None, 1.0))
    assert hints and all(CJK.search(h.text) for h in hints)
    nan_hint = next(h for h in hints if h.kind == "learning_rate")
    assert "0.5" in nan_hint.text and "0.05" in nan_hint.text and "第 2 轮第 9 步" in nan_hint.text
    i18n.set_language("en")
    assert "epoch 3, step 7" in nan_message(3, 7)


def test_parameter_messages_name_the_node_and_field_in_chinese():
    from nnstudio.errors import UserError
    from nnstudio.graph.catalogue import BLOCKS
    i18n.set_language("zh")
    with pytest.raises(UserError) as info:
        BLOCKS["Dense"].validate_params({"units": 0}, "全连接层 'd1'")
    assert str(info.value) == "全连接层 'd1'：units 的取值应为：至少 1。实际为：units=0"
    i18n.set_language("en")
    with pytest.raises(UserError) as info:
        BLOCKS["Dense"].validate_params({"units": 0}, "Dense 'd1'")
    assert str(info.value) == "Dense 'd1': units must be at least 1. Received: units=0"


def test_shape_problems_from_the_layers_are_chinese_and_name_the_node():
    from nnstudio.graph.document import Graph
    from nnstudio.graph.shapes import infer_shapes
    graph = Graph.from_dict({"nodes": [
        {"id": "in", "type": "Input", "params": {"shape": [1, 4, 4]}},
        {"id": "c1", "type": "Conv2D", "params": {"filters": 2, "kernel_size": 5}}],
        "edges": [{"from": "in", "to": "c1"}]})
    i18n.set_language("zh")
    text = infer_shapes(graph).errors[0].text
    assert text.startswith("二维卷积层 'c1'：") and "卷积核 5x5" in text and "4x4" in text, text
    i18n.set_language("en")
    assert infer_shapes(graph).errors[0].text.startswith("Conv2D 'c1': the kernel 5x5 is larger")
