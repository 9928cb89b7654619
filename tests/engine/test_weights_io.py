"""The one weights reader refuses every broken or hostile file with a UserError, before reading its data.

Each malformed case is built by hand (renamed .npy, truncations, lying headers, zip bombs, strings and
objects, special files); then Hypothesis feeds arbitrary bytes and mutated valid archives and checks the
reader either loads them or raises UserError, quickly.
"""
from __future__ import annotations

import io
import os
import struct
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnstudio.engine.weights_io import check_writable, last_good_path, read_weights, weights_bytes
from nnstudio.errors import UserError

GOOD = {"d1/W": np.arange(12, dtype=np.float32).reshape(3, 4), "d1/b": np.array([0.5, -1.0, 2.0], np.float32),
        "bn/count": np.array(7, dtype=np.int64)}


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def zip_of(members: list[tuple[str, bytes]], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def refused(tmp_path: Path, data: bytes, *fragments: str) -> str:
    path = tmp_path / "w.npz"
    path.write_bytes(data)
    with pytest.raises(UserError) as info:
        read_weights(path)
    message = str(info.value)
    assert "'" + str(path) + "'" in message and "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_valid_archives_load_exactly(tmp_path: Path) -> None:
    arrays = dict(GOOD, fortran=np.asfortranarray(np.arange(6.0).reshape(2, 3)),
                  big_endian=np.arange(4, dtype=">f4"), empty=np.zeros((0, 3), np.float32),
                  small=np.arange(5, dtype=np.uint8))
    for save in (np.savez, np.savez_compressed):
        path = tmp_path / f"{save.__name__}.npz"
        save(path, **arrays)
        loaded = read_weights(path)
        assert set(loaded) == set(arrays)
        for key, value in arrays.items():
            np.testing.assert_array_equal(loaded[key], value)
            assert loaded[key].dtype == value.dtype.newbyteorder("=") and loaded[key].flags.writeable
    (tmp_path / "ours.npz").write_bytes(weights_bytes(GOOD))
    assert set(read_weights(tmp_path / "ours.npz")) == set(GOOD)


def test_missing_folder_and_special_files(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        read_weights(tmp_path / "nope.npz")
    with pytest.raises(UserError, match="is a folder"):
        read_weights(tmp_path)
    if os.path.exists("/dev/zero"):
        started = time.perf_counter()
        with pytest.raises(UserError, match="not a regular file"):
            read_weights("/dev/zero")
        assert time.perf_counter() - started < 1
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.npz"
        os.mkfifo(fifo)
        with pytest.raises(UserError, match="not a regular file"):
            read_weights(fifo)  # must not wait for a writer


def test_not_an_archive(tmp_path: Path) -> None:
    refused(tmp_path, npy_bytes(np.zeros(3)), "single array", ".npy")
    refused(tmp_path, b"", "not an .npz file")
    refused(tmp_path, b"hello, I am text\n" * 10, "not an .npz file")
    refused(tmp_path, b"PK\x03\x04" + b"\0" * 40, "not an .npz file")


def test_truncated_files_are_refused_at_every_cut(tmp_path: Path) -> None:
    for data in (weights_bytes(GOOD), (lambda b: (np.savez_compressed(b, **GOOD), b.getvalue())[1])(io.BytesIO())):
        for cut in range(0, len(data), 7):
            refused(tmp_path, data[:cut])


def test_strings_complex_objects_and_records_are_refused(tmp_path: Path) -> None:
    for bad, kind in ((np.array(["a", "bc"]), "<U2"), (np.array([b"x"]), "S1"), (np.array([1 + 2j]), "complex"),
                      (np.array([{"a": 1}], dtype=object), "object"), (np.array([True]), "bool"),
                      (np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]), "("),
                      (np.array(["2020-01-01"], dtype="datetime64[D]"), "datetime")):
        message = refused(tmp_path, zip_of([("ok.npy", npy_bytes(np.zeros(2))), ("bad.npy", npy_bytes(bad))]),
                          "array 'bad'", "must hold numbers")
        assert kind.strip("<") in message or kind == "(", message


def test_a_header_that_lies_about_the_size_is_refused_before_reading(tmp_path: Path) -> None:
    small = npy_bytes(np.zeros(10, np.float32))
    lying = small.replace(b"(10,)", b"(99999999999,)".ljust(len(b"(10,)")), 1)
    header_end = small.index(b"\n") + 1
    longer = small[:header_end].replace(b"(10,)", b"(11,)") + small[header_end:]
    for data in (lying, longer, small + b"\0" * 4, small[:-4]):
        refused(tmp_path, zip_of([("w.npy", data)]), "array 'w'")


def test_zip_bombs_are_refused_without_inflating(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    header = npy_bytes(np.zeros(0, np.float32))  # rewritten below for the real length
    n = 100 * 2**20 // 4
    header = header[:header.index(b"\n") + 1].replace(b"(0,)", f"({n},)".encode()).replace(b"    ", b"", 1)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("bomb.npy", "w", force_zip64=True) as fh:
            fh.write(header)
            zeros = bytes(2**20)
            for _ in range(100):
                fh.write(zeros)
    data = buffer.getvalue()
    assert len(data) < 2**20
    started = time.perf_counter()
    refused(tmp_path, data, "zip bomb")
    assert time.perf_counter() - started < 1


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_archive_members_that_are_not_plain_arrays(tmp_path: Path) -> None:
    refused(tmp_path, zip_of([("notes.txt", b"hello")]), "only .npy")
    refused(tmp_path, zip_of([("w.npy", npy_bytes(np.zeros(2)))] * 2), "twice")
    refused(tmp_path, zip_of([("w.npy", npy_bytes(np.zeros(2)))], zipfile.ZIP_BZIP2), "compression")
    # An encrypted member: set the flag by hand in both headers.
    data = bytearray(zip_of([("w.npy", npy_bytes(np.zeros(2)))]))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + offset
        data[at:at + 2] = struct.pack("<H", struct.unpack("<H", data[at:at + 2])[0] | 1)
    refused(tmp_path, bytes(data), "encrypted")
    # A version 3.0 header (only written for records with unicode names) is refused by name.
    v3 = bytearray(npy_bytes(np.zeros(2)))
    v3[6] = 3
    refused(tmp_path, zip_of([("w.npy", bytes(v3))]), "version 3.0")


def test_last_good_path_and_check_writable(tmp_path: Path) -> None:
    assert last_good_path(tmp_path / "net.weights.npz") == tmp_path / "net.weights.lastgood.npz"
    assert last_good_path(tmp_path / "plain") == tmp_path / "plain.lastgood.npz"
    assert check_writable(tmp_path / "w.npz") == tmp_path / "w.npz"
    with pytest.raises(UserError, match="is a folder"):
        check_writable(tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        check_writable(tmp_path / "missing" / "w.npz")
    if os.path.exists("/dev/null"):
        with pytest.raises(UserError, match="not a regular file"):
            check_writable("/dev/null")


# -- property tests ----------------------------------------------------------------------------------------

def load_or_refuse(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.npz"
    path.write_bytes(data)
    started = time.perf_counter()
    try:
        arrays = read_weights(path)
    except UserError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert all(isinstance(v, np.ndarray) and v.dtype.kind in "fiu" for v in arrays.values())
    assert time.perf_counter() - started < 2


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
VALID = [weights_bytes(GOOD), (lambda b: (np.savez_compressed(b, **GOOD), b.getvalue())[1])(io.BytesIO())]


@FUZZ
@given(data=st.one_of(st.binary(max_size=2000),
                      st.binary(max_size=300).map(lambda b: b"PK\x03\x04" + b),
                      st.binary(max_size=300).map(lambda b: b"\x93NUMPY" + b)))
def test_arbitrary_bytes_load_or_raise_user_error(tmp_path: Path, data: bytes) -> None:
    load_or_refuse(tmp_path, data)


@FUZZ
@given(which=st.sampled_from(range(len(VALID))),
       edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255), st.sampled_from("set insert delete")),
                      min_size=1, max_size=8),
       cut=st.none() | st.integers(0, 10_000))
def test_mutated_valid_archives_load_or_raise_user_error(tmp_path: Path, which: int, edits, cut) -> None:
    data = bytearray(VALID[which])
    for position, value, action in edits:
        at = position % (len(data) + 1)
        if action == "insert":
            data[at:at] = bytes([value])
        elif at < len(data):
            if action == "set":
                data[at] = value
            else:
                del data[at]
    if cut is not None:
        data = data[:cut % (len(data) + 1)]
    load_or_refuse(tmp_path, bytes(data))


@pytest.mark.skipif(sys.platform == "win32", reason="file modes")
def test_an_unreadable_file_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "locked.npz"
    path.write_bytes(weights_bytes(GOOD))
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running with permission to read anything")
        with pytest.raises(UserError, match="cannot be read"):
            read_weights(path)
    finally:
        path.chmod(0o600)
