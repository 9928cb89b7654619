"""Progress of `nnstudio train`, `evaluate` and `data download`: a tqdm bar (rate, time left) within each epoch
or file when stderr is a terminal (a pseudo-terminal here), plain lines when it is not or with --json; and a run
that fails ends with one error line on stderr (no hint lines or NumPy warnings before it)."""
from __future__ import annotations

import gzip
import hashlib
import os
import pty
import re
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from nnstudio import cli
from nnstudio.progress import Progress, is_terminal

from .data.conftest import idx_bytes

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals are POSIX")


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Downloads and runs go to a folder of the test's own, never to the user's datasets."""
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(tmp_path / "userdata"))


class PtyStderr:
    """sys.stderr replaced by the slave side of a pseudo-terminal; ``text()`` is what reached the terminal."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.master, slave = pty.openpty()
        self.stream = os.fdopen(slave, "w", encoding="utf-8", buffering=1)
        self.chunks: list[bytes] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        monkeypatch.setattr(sys, "stderr", self.stream)

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the slave side was closed
                return
            if not chunk:
                return
            self.chunks.append(chunk)

    def text(self) -> str:
        self.stream.close()
        self.reader.join(timeout=10)
        os.close(self.master)
        return b"".join(self.chunks).decode("utf-8", "replace")


def _project(tmp_path: Path, example: str = "mnist-mlp") -> Path:
    path = tmp_path / "p.nnproj"
    assert cli.main(["new", example, "-o", str(path)]) == 0
    return path


def test_progress_draws_a_bar_with_rate_and_time_left_on_a_terminal():
    import io

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    clock = iter(np.arange(0.0, 100.0, 0.5)).__next__
    with Progress(stream, 1000, "epoch 1/2", "samples", clock=clock) as bar:
        assert bar.use_bar
        for done in range(100, 1001, 100):
            bar._bar.last_print_t = 0  # past tqdm's refresh interval, so each update draws
            bar.update(done, "loss 0.5")
    text = stream.getvalue()
    assert "\r" in text and "epoch 1/2" in text and "samples/s" in text and "loss 0.5" in text
    assert "1000/1000" in text and "<00:" in text  # time left


def test_progress_writes_plain_lines_now_and_then_when_not_a_terminal():
    import io

    stream = io.StringIO()
    now = [0.0]
    bar = Progress(stream, 1000, "epoch 2/3", "samples", plain_interval_s=30, clock=lambda: now[0])
    assert not bar.use_bar and not is_terminal(stream)
    for done, t in ((100, 10.0), (200, 31.0), (300, 40.0), (900, 62.0), (1000, 99.0)):
        now[0] = t
        bar.update(done, "loss 0.25")
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines == ["epoch 2/3: 200/1,000 samples, 6 samples/s, 124s left loss 0.25",
                     "epoch 2/3: 900/1,000 samples, 15 samples/s, 7s left loss 0.25"]
    assert "\r" not in stream.getvalue()
    mb = Progress(stream, 10_000_000, "a.gz", "B", bar=False, plain_interval_s=1, initial=2_000_000,
                  clock=iter([0.0, 2.0]).__next__)
    mb.update(6_000_000)
    assert stream.getvalue().splitlines()[-1] == "a.gz: 6.0/10.0 MB, 2.00 MB/s, 2s left"


def test_train_shows_a_bar_within_each_epoch_on_a_terminal(tmp_path: Path, monkeypatch, capsys):
    path = _project(tmp_path)
    capsys.readouterr()
    monkeypatch.setattr("nnstudio.progress.tqdm.monitor_interval", 0)
    term = PtyStderr(monkeypatch)
    code = cli.main(["train", str(path), "--epochs", "2", "--max-samples", "600", "--no-history",
                     "--weights-out", str(tmp_path / "w.npz")])
    text = term.text()
    out = capsys.readouterr().out
    assert code == 0, text
    n_train = re.search(r"on mnist: (\d+) training", text).group(1)
    assert "\repoch 1/2:" in text and "\repoch 2/2:" in text and "samples/s" in text
    assert f"/{n_train} [" in text and f" 0/{n_train} " in text  # counted in samples, from 0 to the epoch's end
    assert "weights saved to" in text
    assert "epoch 1/2: train loss" in out and "\r" not in out  # the epoch lines stay plain on stdout


def test_train_json_and_a_pipe_get_no_bar(tmp_path: Path, monkeypatch, capsys):
    path = _project(tmp_path, "mlp-xor")
    capsys.readouterr()
    term = PtyStderr(monkeypatch)
    assert cli.main(["train", str(path), "--epochs", "3", "--json", "--no-history", "--dataset", "moons",
                     "--weights-out", str(tmp_path / "w.npz")]) == 0
    text = term.text()
    assert "%|" not in text and "samples/s" not in text and "weights saved to" in text
    capsys.readouterr()
    monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    assert cli.main(["train", str(path), "--epochs", "3", "--no-history", "--dataset", "moons",
                     "--weights-out", str(tmp_path / "w.npz")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err and "%|" not in err


def test_evaluate_shows_a_bar_on_a_terminal(tmp_path: Path, monkeypatch, capsys):
    path = _project(tmp_path)
    weights = tmp_path / "w.npz"
    assert cli.main(["train", str(path), "--epochs", "1", "--max-samples", "200", "--no-history",
                     "--weights-out", str(weights)]) == 0
    capsys.readouterr()
    term = PtyStderr(monkeypatch)
    assert cli.main(["evaluate", str(path), "--weights", str(weights), "--max-samples", "1500"]) == 0
    text = term.text()
    out = capsys.readouterr().out
    n = re.search(r"\((\d+) test samples\)", out).group(1)
    assert "\revaluating:" in text and f"/{n} [" in text and "samples/s" in text
    assert "accuracy:" in out


class _Files(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802
        data = self.files.get(self.path.rsplit("/", 1)[-1])
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


def _idx(array: np.ndarray) -> bytes:
    return gzip.compress(idx_bytes(array), mtime=0)


@pytest.mark.parametrize("terminal", [True, False])
def test_data_download_shows_a_bar_per_file_on_a_terminal(tmp_path: Path, monkeypatch, capsys, terminal: bool):
    from nnstudio.data import download as download_module

    rng = np.random.default_rng(0)
    files = {"train-images-idx3-ubyte.gz": _idx(rng.integers(0, 256, (300, 28, 28))),
             "train-labels-idx1-ubyte.gz": _idx(np.arange(300) % 10),
             "t10k-images-idx3-ubyte.gz": _idx(rng.integers(0, 256, (20, 28, 28))),
             "t10k-labels-idx1-ubyte.gz": _idx(np.arange(20) % 10)}
    handler = type("Handler", (_Files,), {"files": files})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    real = download_module.download

    def local(name, progress=None, **kwargs):
        return real(name, base_url=f"http://127.0.0.1:{httpd.server_address[1]}/", progress=progress,
                    checksums={k: hashlib.md5(v).hexdigest() for k, v in files.items()},
                    expected_counts={"train-images-idx3-ubyte.gz": 300, "train-labels-idx1-ubyte.gz": 300,
                                     "t10k-images-idx3-ubyte.gz": 20, "t10k-labels-idx1-ubyte.gz": 20})

    monkeypatch.setattr(download_module, "download", local)
    monkeypatch.setattr(download_module, "CHUNK", 4096)  # several updates per file
    try:
        term = PtyStderr(monkeypatch) if terminal else None
        code = cli.main(["data", "download", "mnist"])
        captured = capsys.readouterr()
        text = term.text() if term else captured.err
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
    assert code == 0, text
    size = len(files["train-images-idx3-ubyte.gz"]) / 1e6
    assert f"train-images-idx3-ubyte.gz: {size:.1f} MB" in text  # each finished file is named
    if terminal:
        assert "\rtrain-images-idx3-ubyte.gz:" in text and "B/s" in text
    else:
        assert "\r" not in text and "%|" not in text
    assert "mnist is ready in" in captured.out


def test_a_failing_run_ends_with_one_error_line_and_no_hints_or_warnings_before_it(tmp_path: Path):
    """The exploding-gradients example runs into NaN within its first epoch; its hints used to be printed
    just before the error line (and NumPy's overflow warnings before those)."""
    path = _project(tmp_path, "exploding-gradients")
    env = dict(os.environ, PYTHONPATH=str(REPO), NNSTUDIO_BACKEND="numpy", PYTHONWARNINGS="always")
    proc = subprocess.run([sys.executable, "-m", "nnstudio", "train", str(path), "--epochs", "3", "--no-history"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[0].startswith("training 'Exploding gradients'"), proc.stderr
    assert len(lines) == 2 and lines[1].startswith("error: loss became NaN"), proc.stderr
    assert "Warning" not in proc.stderr and "hint:" not in proc.stderr.split("error:")[0]
    assert "(hint: The loss became NaN at epoch 1" in lines[1]  # the hint about how it ended, in the line
