"""Train > Download full MNIST: the GUI runs the real downloader off the GUI thread against a local server."""
from __future__ import annotations

import gzip
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from nnstudio import userdirs

from ..data.conftest import idx_bytes


@pytest.fixture
def idx_server():
    rng = np.random.default_rng(3)
    files = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": (np.arange(20) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": (np.arange(10) % 10).astype(np.uint8),
    }
    blobs = {name: gzip.compress(idx_bytes(a), mtime=0) for name, a in files.items()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            data = blobs.get(self.path.rsplit("/", 1)[-1])
            if data is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/mnist/", blobs
    httpd.shutdown()
    httpd.server_close()


def test_menu_download_runs_in_a_thread_and_mnist_then_uses_the_full_set(window, qtbot, idx_server):
    url, blobs = idx_server
    titles = [a.text() for a in window.train_menu.actions()]
    assert any("MNIST" in t for t in titles)
    checksums = {name: hashlib.md5(data).hexdigest() for name, data in blobs.items()}
    counts = {"train-images-idx3-ubyte.gz": 20, "train-labels-idx1-ubyte.gz": 20,
              "t10k-images-idx3-ubyte.gz": 10, "t10k-labels-idx1-ubyte.gz": 10}
    with qtbot.waitSignal(window.downloads.done, timeout=20000) as blocker:
        assert window.downloads.start("mnist", base_url=url, checksums=checksums, expected_counts=counts)
    folder, message = blocker.args
    assert message == "" and folder == str(userdirs.datasets_dir() / "mnist")
    from nnstudio.data.registry import get_dataset
    ds = get_dataset("mnist")
    assert (ds.n_train, ds.n_test) == (20, 10)


def test_failed_download_says_why_and_leaves_no_dataset(window, qtbot, idx_server):
    url, _ = idx_server
    with qtbot.waitSignal(window.downloads.done, timeout=20000) as blocker:
        window.downloads.start("mnist", base_url=url, checksums={"train-images-idx3-ubyte.gz": "0" * 32})
    folder, message = blocker.args
    assert folder == "" and "train-images-idx3-ubyte.gz" in message
    assert "Download" in window.last_error or message in window.last_error
