"""The command line in Chinese: `--lang zh` (or NNSTUDIO_LANG / the locale) switches its messages, the node and
field names they quote stay as they are, and a broken project still ends with one line and exit 1."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from nnstudio import cli, i18n
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, save_project

CJK = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(autouse=True)
def english_afterwards(monkeypatch):
    monkeypatch.delenv("NNSTUDIO_LANG", raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    yield
    i18n.set_language("en")


def _broken(folder: Path) -> Path:
    """Dense 'd1' fed by nothing, a Conv2D on flat points: two problems naming their nodes."""
    nodes = [{"id": "in", "type": "Input", "params": {"shape": [2]}, "position": [0, 0]},
             {"id": "c1", "type": "Conv2D", "params": {"filters": 2, "kernel_size": 3}, "position": [150, 0]},
             {"id": "d1", "type": "Dense", "params": {"units": 2}, "position": [300, 0]}]
    edges = [{"from": "in", "to": "c1"}, {"from": "c1", "to": "d1"}]
    path = folder / "broken.nnproj"
    save_project(Project(name="broken", graph=Graph.from_dict({"nodes": nodes, "edges": edges}),
                         training={"dataset": "moons", "loss": "cross_entropy", "batch_size": 32}), path)
    return path


def _run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_check_on_a_broken_project_prints_one_chinese_line(tmp_path, capsys):
    path = _broken(tmp_path)
    code, out, err = _run(["--lang", "zh", "check", str(path)], capsys)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    line = lines[0]
    assert line.startswith("错误：") and "1 个问题：无法训练这个网络" in line, line
    assert "卷积层 'c1'" in line and "(2,)" in line, line  # the node and the shape it got are still named
    assert "problem" not in line and "cannot" not in line
    problems = [row for row in out.splitlines() if row.startswith("问题：")]
    assert len(problems) == 1 and "卷积层 'c1'" in problems[0]
    # The same project in English: the same facts, in English.
    code, out, err = _run(["check", str(path)], capsys)
    assert code == 1 and err.startswith(f"error: {path}: 1 problem: the network cannot be trained")
    assert "Conv2D 'c1' needs an input shaped (channels, height, width); it gets (2,)" in err
    assert not CJK.search(out + err)


def test_lang_may_follow_the_command_and_take_an_equals_sign(tmp_path, capsys):
    path = _broken(tmp_path)
    for argv in (["check", str(path), "--lang=zh"], ["check", "--lang", "zh_CN", str(path)]):
        code, _out, err = _run(argv, capsys)
        assert code == 1 and err.startswith("错误："), err


def test_a_valid_project_is_reported_in_chinese(tmp_path, capsys):
    code, out, _err = _run(["--lang", "zh", "new", "mlp-xor", "-o", str(tmp_path / "x.nnproj")], capsys)
    assert code == 0 and out.startswith("已创建"), out
    code, out, err = _run(["--lang", "zh", "check", str(tmp_path / "x.nnproj")], capsys)
    assert code == 0, err
    assert "参数总数" in out and out.strip().endswith("网络有效，可以训练"), out
    assert "节点" in out.splitlines()[1] and "输出形状" in out.splitlines()[1]


def test_unknown_language_and_argument_errors_are_one_line(capsys):
    code, _out, err = _run(["--lang", "fr", "examples"], capsys)
    assert code == 1 and err.strip() == "error: --lang: expected en or zh; found 'fr'"
    code, _out, err = _run(["--lang", "zh", "new", "no-such-example"], capsys)
    assert code == 1 and err.startswith("错误：") and "“no-such-example”" in err and len(err.splitlines()) == 1


def test_examples_describe_themselves_in_the_language_of_messages(capsys):
    code, out, _ = _run(["--lang", "zh", "examples"], capsys)
    assert code == 0 and CJK.search(out)
    code, out, _ = _run(["examples", "--lang", "en"], capsys)
    assert code == 0 and not CJK.search(out)


def test_nnstudio_lang_and_the_locale_choose_when_lang_is_not_given(tmp_path):
    path = _broken(tmp_path)
    base = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    for env, chinese in (({"NNSTUDIO_LANG": "zh"}, True), ({"LANG": "zh_CN.UTF-8"}, True),
                         ({"LANG": "zh_CN.UTF-8", "NNSTUDIO_LANG": "en"}, False), ({"LANG": "C.UTF-8"}, False)):
        done = subprocess.run([sys.executable, "-m", "nnstudio", "check", str(path)], env={**base, **env},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1 and bool(CJK.search(done.stderr)) == chinese, (env, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_train_reports_in_chinese(tmp_path, capsys):
    out_file = tmp_path / "w.npz"
    code, _out, _err = _run(["new", "perceptron-and", "-o", str(tmp_path / "and.nnproj")], capsys)
    assert code == 0
    code, out, err = _run(["--lang", "zh", "train", str(tmp_path / "and.nnproj"), "--epochs", "2",
                           "--weights-out", str(out_file), "--no-history"], capsys)
    assert code == 0, err
    assert "第 1/2 轮：训练损失" in out and out.strip().splitlines()[-1].startswith("测试：")
    assert "2 轮后已完成" in out
    assert err.strip().splitlines()[-1] == f"权重已保存到 {out_file}"


def test_a_missing_project_and_an_unknown_dataset_are_said_in_chinese(tmp_path, capsys):
    """Both were English after "错误：": the commonest slips, a mistyped path and a mistyped dataset name."""
    code, _out, err = _run(["--lang", "zh", "check", str(tmp_path / "nope.nnproj")], capsys)
    assert code == 1 and err.startswith("错误：项目文件“") and "不存在" in err and "does not exist" not in err
    from nnstudio.data.registry import get_dataset
    from nnstudio.errors import UserError
    from nnstudio.i18n import set_language
    set_language("zh")
    try:
        with pytest.raises(UserError, match="未知的数据集 'nosuch'"):
            get_dataset("nosuch")
    finally:
        set_language("en")
