"""Property tests over every dataset reader: any bytes either load or raise UserError, quickly.

Each reader gets arbitrary bytes and a valid file with a few bytes changed, cut short or extended (which
reaches far deeper into the parsers than random bytes).  Any other exception, or a file that takes more than
the deadline, fails the test.
"""
from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from nnstudio.data import captcha_digits, registry, userdigits
from nnstudio.data.readers import load_user_dataset, read_idx
from nnstudio.errors import UserError

from .conftest import idx_bytes

FUZZ = settings(max_examples=150, deadline=3000, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


_RNG = np.random.default_rng(0)
VALID = {
    "idx": gzip.compress(idx_bytes(_RNG.integers(0, 256, (6, 5, 5)))),
    "idx_plain": idx_bytes(_RNG.integers(0, 256, (6, 5, 5))),
    "npz": _npz(x=_RNG.integers(0, 256, (6, 5, 5)).astype(np.uint8), y=np.arange(6) % 3),
    "csv": b"label,a,b\n0,1.5,2\n1,3,4\n0,5,6\n1,7,8\n",
    "png": _png(_RNG.integers(0, 256, (6, 6), dtype=np.uint8)),
    "mydigits": _npz(x=np.zeros((3, 28, 28), np.uint8), y=np.array([1, 2, 3], np.uint8)),
}


@st.composite
def mutated(draw, kind: str) -> bytes:
    """A valid file of ``kind`` with some bytes replaced, then maybe cut short or extended."""
    data = bytearray(VALID[kind])
    for _ in range(draw(st.integers(0, 6))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    if cut is not None:
        data = data[:cut]
    return bytes(data) + draw(st.binary(max_size=16))


def any_bytes(kind: str):
    return st.one_of(st.binary(max_size=300), mutated(kind))


def _loads_or_user_error(load) -> None:
    try:
        load()
    except UserError as exc:
        assert "\n" not in str(exc) and str(exc)


@FUZZ
@given(data=any_bytes("idx"), ndim=st.sampled_from([None, 1, 3]))
def test_idx_reader(tmp_path: Path, data: bytes, ndim):
    (tmp_path / "f.gz").write_bytes(data)
    _loads_or_user_error(lambda: read_idx(tmp_path / "f.gz", expected_ndim=ndim))


@FUZZ
@given(data=any_bytes("idx_plain"))
def test_idx_reader_uncompressed(tmp_path: Path, data: bytes):
    (tmp_path / "f").write_bytes(data)
    _loads_or_user_error(lambda: read_idx(tmp_path / "f", expected_ndim=3))


@FUZZ
@given(data=any_bytes("npz"))
def test_npz_reader(tmp_path: Path, data: bytes):
    (tmp_path / "d.npz").write_bytes(data)
    _loads_or_user_error(lambda: load_user_dataset(tmp_path / "d.npz"))


@FUZZ
@given(data=st.one_of(any_bytes("csv"), st.text(alphabet=",\n0123456789.-eE naINFx\"", max_size=200)
                      .map(lambda t: ("label,a\n" + t).encode())))
def test_csv_reader(tmp_path: Path, data: bytes):
    (tmp_path / "t.csv").write_bytes(data)
    _loads_or_user_error(lambda: load_user_dataset(tmp_path / "t.csv"))


@FUZZ
@given(data=any_bytes("png"))
def test_image_folder_reader(tmp_path_factory: pytest.TempPathFactory, data: bytes):
    root = tmp_path_factory.mktemp("imgs")
    for cls in ("a", "b"):
        (root / cls).mkdir()
        (root / cls / "good.png").write_bytes(VALID["png"])
    (root / "a" / "fuzzed.png").write_bytes(data)
    _loads_or_user_error(lambda: load_user_dataset(root))


@FUZZ
@given(data=any_bytes("mydigits"))
def test_mydigits_store(data: bytes):
    path = userdigits.digits_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    registry.clear_cache()
    _loads_or_user_error(lambda: registry.get_dataset("mydigits"))
    assert path.read_bytes() == data  # reading never changes the store


@FUZZ
@given(data=st.binary(max_size=300))
def test_captcha_cache_never_raises(tmp_path: Path, data: bytes):
    (tmp_path / "c.npz").write_bytes(data)
    assert captcha_digits._read_cache(tmp_path / "c.npz", 2, 1, (40, 100)) is None


@FUZZ
@given(data=st.binary(max_size=300))
def test_captcha_parts_and_worker_counts_never_raise(tmp_path: Path, data: bytes):
    """The cached parts of a limited run's captchas, and a rendering worker's part and count files."""
    (tmp_path / "p.npz").write_bytes(data)
    assert captcha_digits._read_arrays(tmp_path / "p.npz", {"test": 3}, (40, 100)) is None
    assert captcha_digits._read_count(str(tmp_path / "p.npz")) == 0
    (tmp_path / "q.npz.count").write_bytes(data)
    assert captcha_digits._read_count(str(tmp_path / "q.npz")) >= 0
