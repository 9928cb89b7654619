"""``nnstudio predict`` with hostile input files: one ``error:`` line naming the file, exit 1, no traceback."""
from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnstudio.cli import main
from nnstudio.graph.compile import compile_graph
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, load_project, save_project


@pytest.fixture(scope="module")
def image_net(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("net")
    graph = Graph.from_dict({"nodes": [
        {"id": "in", "type": "Input", "params": {"shape": [1, 8, 8]}, "position": [0, 0]},
        {"id": "d", "type": "Dense", "params": {"units": 3}, "position": [150, 0]},
        {"id": "a", "type": "Activation", "params": {"function": "softmax"}, "position": [300, 0]}],
        "edges": [{"from": "in", "to": "d"}, {"from": "d", "to": "a"}]})
    project = folder / "net.nnproj"
    save_project(Project(name="images", graph=graph, training={"dataset": "mnist"}), project)
    weights = folder / "w.npz"
    compile_graph(load_project(project).graph, "numpy").save_npz(weights)
    return project, weights


def _predict(image_net, capsys, *inputs: Path) -> tuple[int, str, str]:
    project, weights = image_net
    code = main(["predict", str(project), "--weights", str(weights), *map(str, inputs)])
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(code: int, err: str, *fragments: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("error: "), (code, err)
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b""))


@pytest.mark.parametrize(("width", "height", "fragment"), [
    (9_000, 9_000, "image of 9,000 x 9,000 pixels"),
    (15_000, 10_000, "too large to decode safely"),
    (100_000, 100_000, "too large to decode safely"),
])
def test_decompression_bomb_png(image_net, tmp_path: Path, capsys, width, height, fragment):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_only(width, height))
    code, _, err = _predict(image_net, capsys, bomb)
    _one_error_line(code, err, "bomb.png", fragment)


def test_damaged_and_missing_images(image_net, tmp_path: Path, capsys):
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00junk")
    code, _, err = _predict(image_net, capsys, tmp_path / "junk.png")
    _one_error_line(code, err, "junk.png", "not a readable image")
    code, _, err = _predict(image_net, capsys, tmp_path / "absent.png")
    _one_error_line(code, err, "absent.png", "no such image file")
    (tmp_path / "dir.png").mkdir()
    code, _, err = _predict(image_net, capsys, tmp_path / "dir.png")
    _one_error_line(code, err, "dir.png", "folder")


@pytest.mark.parametrize(("array", "fragment"), [
    (np.array(["a", "b"]), "must hold numbers"),
    (np.array([{"x": 1}], dtype=object), "must hold numbers"),
    (np.zeros(64, dtype=complex), "must hold numbers"),
    (np.zeros((2,), dtype=[("a", "f4"), ("b", "f4")]), "must hold numbers"),
    (np.full(64, np.nan, np.float32), "NaN or infinite"),
    (np.zeros((0, 64), np.float32), "empty array"),
])
def test_bad_npy_arrays(image_net, tmp_path: Path, capsys, array, fragment):
    path = tmp_path / "x.npy"
    np.save(path, array, allow_pickle=True)
    code, _, err = _predict(image_net, capsys, path)
    _one_error_line(code, err, "x.npy", fragment)


def test_npy_with_lying_header_and_special_files(image_net, tmp_path: Path, capsys):
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(64, np.float32))
    data = buffer.getvalue().replace(b"(64,)", b"(9999999999,)".ljust(5)[:13])
    (tmp_path / "lies.npy").write_bytes(data)
    code, _, err = _predict(image_net, capsys, tmp_path / "lies.npy")
    _one_error_line(code, err, "lies.npy")
    (tmp_path / "text.npy").write_text("not numpy")
    code, _, err = _predict(image_net, capsys, tmp_path / "text.npy")
    _one_error_line(code, err, "text.npy", "not a readable .npy file")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.npy")
        code, _, err = _predict(image_net, capsys, tmp_path / "pipe.npy")
        _one_error_line(code, err, "pipe.npy", "not a regular file")


def _valid_npy() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.linspace(0, 1, 64, dtype=np.float32))
    return buffer.getvalue()


@st.composite
def _mutated_npy(draw) -> bytes:
    data = bytearray(_valid_npy())
    for _ in range(draw(st.integers(1, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(0, len(data)))])


@settings(max_examples=60, deadline=3000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=200), _mutated_npy()), suffix=st.sampled_from([".npy", ".png", ".jpg"]))
def test_any_input_bytes_predict_or_one_error_line(image_net, tmp_path: Path, capsys, data: bytes, suffix: str):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    code, out, err = _predict(image_net, capsys, path)
    if code != 0:
        _one_error_line(code, err, f"fuzz{suffix}")
