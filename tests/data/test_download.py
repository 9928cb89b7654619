"""Downloads against a local HTTP server (a thread in the test) that serves IDX files the test makes."""
from __future__ import annotations

import gzip
import hashlib
import http.client
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from nnstudio import userdirs
from nnstudio.data import get_dataset
from nnstudio.data.download import SOURCES, download
from nnstudio.errors import UserError

from .conftest import idx_bytes

NAMES = [f.name for f in SOURCES["mnist"].files]
COUNTS = {"train-images-idx3-ubyte.gz": 30, "train-labels-idx1-ubyte.gz": 30,
          "t10k-images-idx3-ubyte.gz": 10, "t10k-labels-idx1-ubyte.gz": 10}


@dataclass
class ServerState:
    files: dict[str, bytes]
    support_range: bool = True
    cut_after: int | None = None  # send only this many bytes of the body, then close (IncompleteRead)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    bytes_sent: dict[str, int] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    state: ServerState  # set on a subclass per server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        name = self.path.rsplit("/", 1)[-1]
        range_header = self.headers.get("Range")
        self.state.requests.append((name, range_header))
        data = self.state.files.get(name)
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        if range_header and self.state.support_range:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.state.cut_after is not None:
            body = body[: self.state.cut_after]
            self.state.cut_after = None  # once: the next request succeeds
        self.wfile.write(body)
        self.state.bytes_sent[name] = self.state.bytes_sent.get(name, 0) + len(body)

    def log_message(self, *args) -> None:  # keep test output quiet
        pass


def make_files() -> dict[str, bytes]:
    rng = np.random.default_rng(5)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": (np.arange(30) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": (np.arange(10) % 10).astype(np.uint8),
    }
    return {name: gzip.compress(idx_bytes(a), mtime=0) for name, a in arrays.items()}


def md5s(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.md5(data).hexdigest() for name, data in files.items()}


@pytest.fixture
def server() -> Iterator[tuple[str, ServerState]]:
    state = ServerState(make_files())
    handler = type("Handler", (_Handler,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/mnist/", state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_download_success_with_progress_and_then_mnist_uses_it(server):
    url, state = server
    calls: list[tuple[int, int, str]] = []
    dest = download("mnist", base_url=url, progress=lambda d, t, f: calls.append((d, t, f)),
                    checksums=md5s(state.files), expected_counts=COUNTS)
    assert dest == userdirs.datasets_dir() / "mnist"
    for name, data in state.files.items():
        assert (dest / name).read_bytes() == data
        assert not (dest / (name + ".part")).exists()
        last = [c for c in calls if c[2] == name][-1]
        assert last == (len(data), len(data), name)
    assert [name for name, _ in state.requests] == NAMES
    ds = get_dataset("mnist")
    assert ds.extra["variant"] == "full" and (ds.n_train, ds.n_test) == (30, 10)


def test_existing_valid_files_are_not_fetched_again(server, tmp_path: Path):
    url, state = server
    download("mnist", dest_dir=tmp_path, base_url=url, checksums=md5s(state.files), expected_counts=COUNTS)
    state.requests.clear()
    download("mnist", dest_dir=tmp_path, base_url=url, checksums=md5s(state.files), expected_counts=COUNTS)
    assert state.requests == []


def test_checksum_mismatch_is_refused(server, tmp_path: Path):
    url, state = server
    checksums = md5s(state.files) | {"t10k-images-idx3-ubyte.gz": "0" * 32}
    with pytest.raises(UserError) as err:
        download("mnist", dest_dir=tmp_path, base_url=url, checksums=checksums, expected_counts=COUNTS)
    message = str(err.value)
    assert message.startswith("t10k-images-idx3-ubyte.gz: download failed")
    assert "checksum mismatch" in message and "0" * 32 in message
    assert not (tmp_path / "t10k-images-idx3-ubyte.gz").exists()
    assert not (tmp_path / "t10k-images-idx3-ubyte.gz.part").exists()
    assert (tmp_path / "train-images-idx3-ubyte.gz").exists()  # the files before it were fine


def test_corrupted_file_from_the_server_is_refused(server, tmp_path: Path):
    url, state = server
    good = md5s(state.files)
    damaged = bytearray(state.files["train-labels-idx1-ubyte.gz"])
    damaged[-12] ^= 0xFF
    state.files["train-labels-idx1-ubyte.gz"] = bytes(damaged)
    with pytest.raises(UserError, match=r"(?s)train-labels-idx1-ubyte.gz: download failed.*checksum mismatch"):
        download("mnist", dest_dir=tmp_path, base_url=url, checksums=good, expected_counts=COUNTS)
    assert not (tmp_path / "train-labels-idx1-ubyte.gz").exists()


def test_a_file_that_is_not_idx_is_refused_even_with_a_matching_checksum(server, tmp_path: Path):
    url, state = server
    state.files["t10k-labels-idx1-ubyte.gz"] = gzip.compress(b"<html>moved</html>")
    with pytest.raises(UserError, match="t10k-labels-idx1-ubyte.gz: not an IDX file"):
        download("mnist", dest_dir=tmp_path, base_url=url, checksums=md5s(state.files), expected_counts=COUNTS)


def test_resume_a_partial_download_with_a_range_request(server, tmp_path: Path):
    url, state = server
    name = "train-images-idx3-ubyte.gz"
    data = state.files[name]
    half = len(data) // 2
    (tmp_path / (name + ".part")).write_bytes(data[:half])
    calls: list[tuple[int, int, str]] = []
    download("mnist", dest_dir=tmp_path, base_url=url, checksums=md5s(state.files), expected_counts=COUNTS,
             progress=lambda d, t, f: calls.append((d, t, f)))
    assert (tmp_path / name).read_bytes() == data
    assert (name, f"bytes={half}-") in state.requests
    assert state.bytes_sent[name] == len(data) - half  # only the missing part travelled
    assert [c for c in calls if c[2] == name][0] == (half, len(data), name)


def test_resume_when_the_server_ignores_range(server, tmp_path: Path):
    url, state = server
    state.support_range = False
    name = "t10k-images-idx3-ubyte.gz"
    (tmp_path / (name + ".part")).write_bytes(state.files[name][:100])
    download("mnist", dest_dir=tmp_path, base_url=url, checksums=md5s(state.files), expected_counts=COUNTS)
    assert (tmp_path / name).read_bytes() == state.files[name]


def test_a_stale_part_from_another_file_is_replaced(server, tmp_path: Path):
    url, state = server
    name = "t10k-images-idx3-ubyte.gz"
    (tmp_path / (name + ".part")).write_bytes(b"\x00" * 500)  # not a prefix of the real file
    download("mnist", dest_dir=tmp_path, base_url=url, checksums=md5s(state.files), expected_counts=COUNTS)
    assert (tmp_path / name).read_bytes() == state.files[name]
    assert [r for r in state.requests if r[0] == name] == [(name, "bytes=500-"), (name, None)]


def test_network_failure_is_a_clear_user_error(tmp_path: Path):
    with socket.socket() as probe:  # a port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UserError) as err:
        download("fashion-mnist", dest_dir=tmp_path, base_url=f"http://127.0.0.1:{port}/")
    message = str(err.value)
    assert message.startswith("train-images-idx3-ubyte.gz: download failed")
    assert f"http://127.0.0.1:{port}/train-images-idx3-ubyte.gz" in message
    assert "check the internet connection" in message and str(tmp_path) in message


def test_missing_file_on_the_server(server, tmp_path: Path):
    url, state = server
    del state.files["t10k-labels-idx1-ubyte.gz"]
    with pytest.raises(UserError, match="(?s)t10k-labels-idx1-ubyte.gz: download failed.*HTTP 404 Not Found"):
        download("mnist", dest_dir=tmp_path, base_url=url, checksums=md5s(state.files), expected_counts=COUNTS)


def test_unknown_name_and_the_published_checksum_table():
    with pytest.raises(UserError, match="cannot download 'cifar'; downloadable datasets are fashion-mnist, mnist"):
        download("cifar")
    for source in SOURCES.values():
        assert [f.name for f in source.files] == NAMES
        assert all(len(f.md5) == 32 and int(f.md5, 16) >= 0 for f in source.files)
        assert len({f.md5 for f in source.files}) == 4


# -- broken connections and folders in the way ------------------------------------------------------------
def test_connection_closed_mid_file_keeps_the_part_and_resumes(server, tmp_path: Path):
    url, state = server
    state.cut_after = 500
    with pytest.raises(UserError) as err:
        download("mnist", dest_dir=tmp_path, base_url=url, checksums=md5s(state.files), expected_counts=COUNTS)
    assert "closed after 500 of" in str(err.value) and "train-images-idx3-ubyte.gz" in str(err.value)
    assert (tmp_path / "train-images-idx3-ubyte.gz.part").stat().st_size == 500
    download("mnist", dest_dir=tmp_path, base_url=url, checksums=md5s(state.files), expected_counts=COUNTS)
    assert ("train-images-idx3-ubyte.gz", "bytes=500-") in state.requests
    assert (tmp_path / "train-images-idx3-ubyte.gz").read_bytes() == state.files["train-images-idx3-ubyte.gz"]


@pytest.fixture
def not_http_server() -> Iterator[str]:
    """A server that answers every connection with a line that is not HTTP, then closes it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(4096)
                conn.sendall(b"SSH-2.0-OpenSSH_9.0 not http\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_a_server_that_does_not_speak_http_is_a_user_error(not_http_server: str, tmp_path: Path):
    with pytest.raises(UserError) as err:
        download("mnist", dest_dir=tmp_path, base_url=not_http_server)
    message = str(err.value)
    assert message.startswith("train-images-idx3-ubyte.gz: download failed") and "BadStatusLine" in message


def test_folders_and_files_in_the_way_are_user_errors(server, tmp_path: Path):
    url, state = server
    (tmp_path / "train-labels-idx1-ubyte.gz").mkdir()
    with pytest.raises(UserError, match="train-labels-idx1-ubyte.gz: is a folder where the downloaded file belongs"):
        download("mnist", dest_dir=tmp_path, base_url=url, checksums=md5s(state.files), expected_counts=COUNTS)
    assert (tmp_path / "train-labels-idx1-ubyte.gz").is_dir()  # nothing of the user's is deleted
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "t10k-images-idx3-ubyte.gz.part").mkdir()
    with pytest.raises(UserError, match=r"t10k-images-idx3-ubyte.gz.part: is a folder"):
        download("mnist", dest_dir=tmp_path / "other", base_url=url, checksums=md5s(state.files),
                 expected_counts=COUNTS)
    (tmp_path / "a_file").write_text("mine")
    with pytest.raises(UserError, match="a_file: is a file, but the download needs a folder there"):
        download("mnist", dest_dir=tmp_path / "a_file", base_url=url)
    assert (tmp_path / "a_file").read_text() == "mine"


@pytest.mark.parametrize("error", [http.client.IncompleteRead(b"x" * 10, 90), http.client.BadStatusLine("SSH-2.0"),
                                   http.client.RemoteDisconnected("closed")])
def test_http_client_errors_are_user_errors_and_keep_the_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               error: Exception):
    class Response:
        status, headers = 200, {"Content-Length": "100"}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, n: int) -> bytes:
            raise error

    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: Response())
    with pytest.raises(UserError) as err:
        download("mnist", dest_dir=tmp_path, base_url="http://127.0.0.1:9/")
    assert type(error).__name__ in str(err.value) and "run the download again (it resumes)" in str(err.value)
    assert (tmp_path / "train-images-idx3-ubyte.gz.part").exists()
