"""The self-test: the real one from source in a subprocess, and its reporting of failures and skipped steps."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from nnstudio import selftest
from nnstudio.selftest import CheckFailed, SelfTest

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^  (?P<status>ok|FAIL|skip) +(?P<name>[a-z ]+?) +\d+\.\d\d s  ")
CHECKS = ("resources", "main window", "example", "train", "predict", "export onnx", "captcha data", "about")


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["NNSTUDIO_DATA_DIR"] = str(tmp_path / "data")  # the self-test must not need (or touch) it
    return env


def test_source_self_test_passes_every_check(tmp_path):
    result = subprocess.run([sys.executable, "-m", "nnstudio", "--self-test"], cwd=ROOT, env=_env(tmp_path),
                            capture_output=True, text=True, timeout=600)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    lines = out.splitlines()
    assert lines[0].startswith("NN Studio ") and "self-test (source" in lines[0]
    for name in CHECKS:
        rows = [m for m in (ROW.match(line) for line in lines) if m and m["name"] == name]
        assert len(rows) == 1, f"expected one summary line for {name!r} in:\n{out}"
        assert rows[0]["status"] == "ok", rows[0].string
    assert "canvas digits read correctly" in out
    assert "passes onnx.checker" in out
    assert lines[-1].startswith(f"self-test passed: {len(CHECKS)} checks in ")
    assert not list((tmp_path / "data").glob("*")), "the self-test wrote into the user's data folder"


def _fake(results: dict[str, object]):
    def make(name: str):
        def check() -> str:
            outcome = results[name]
            if isinstance(outcome, Exception):
                raise outcome
            return str(outcome)
        return check
    return make


def test_failures_name_the_step_and_skip_what_depends_on_it(tmp_path):
    out = io.StringIO()
    test = SelfTest(tmp_path, out=out)
    outcomes: dict[str, object] = {"a": "fine", "b": CheckFailed("expected 3 files, found 2"),
                                   "c": "never runs", "d": RuntimeError("boom")}
    make = _fake(outcomes)
    test.checks = [("a", make("a"), ()), ("b", make("b"), ("a",)), ("c", make("c"), ("b",)), ("d", make("d"), ())]
    assert test.run() is False
    text = out.getvalue()
    statuses = {r.name: r.status for r in test.results}
    assert statuses == {"a": "ok", "b": "FAIL", "c": "skip", "d": "FAIL"}
    assert "expected 3 files, found 2" in text
    assert "needs b" in text
    assert "RuntimeError: boom" in text and "Traceback" in text  # a crash shows where it happened
    assert text.rstrip().splitlines()[-1].startswith("self-test FAILED at: b, c, d")


def test_all_passing_checks_report_success(tmp_path):
    out = io.StringIO()
    test = SelfTest(tmp_path, out=out)
    test.checks = [("one", lambda: "1", ()), ("two", lambda: "2", ("one",))]
    assert test.run() is True
    assert out.getvalue().rstrip().splitlines()[-1].startswith("self-test passed: 2 checks in ")


@pytest.mark.parametrize("argv", [["--subset", "8"], ["--epochs", "0"]])
def test_bad_options_are_refused(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        selftest.main(argv)
    assert exc.value.code == 2
    assert "must be at least" in capsys.readouterr().err


def test_synthetic_digits_stay_on_the_canvas():
    for digit, strokes in selftest.synthetic_digits().items():
        points = [p for stroke in strokes for p in stroke]
        assert 0 <= digit <= 9
        for x, y in points:
            assert 10 <= x <= 270 and 10 <= y <= 270, f"digit {digit}: point ({x}, {y}) near the canvas edge"
