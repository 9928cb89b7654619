"""Hostile and damaged data files: each one is a UserError naming the file, never a traceback or a huge
allocation; plain paths work as dataset names."""
from __future__ import annotations

import gzip
import io
import os
import struct
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnstudio import memory
from nnstudio.data import captcha_digits, get_dataset, mnist, readers, userdigits
from nnstudio.data.readers import load_user_dataset, read_idx, read_idx_dataset
from nnstudio.errors import UserError

from .conftest import idx_bytes, write_idx_set


# ----------------------------------------------------------------------------------------------- IDX
def test_lying_idx_header_is_refused_before_allocating(tmp_path: Path):
    # 2**32-1 cubed bytes could never be allocated: the header is compared with the file size first.
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 8, 3]) + b"\xff\xff\xff\xff" * 3 + b"\x00" * 100)
    with pytest.raises(UserError, match=r"train-images-idx3-ubyte: IDX header says 4294967295 x .* but the file "
                                        r"holds 100 bytes"):
        read_idx(path, expected_ndim=3)


def test_gzip_idx_declaring_more_than_gzip_can_hold_is_refused(tmp_path: Path):
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 3]) + np.array([60000, 2800, 2800], ">u4").tobytes()))
    with pytest.raises(UserError, match=r"t10k-images-idx3-ubyte.gz: IDX header says 60000 x 2800 x 2800 .* more "
                                        r"than a \d+-byte gzip file can hold"):
        read_idx(path, expected_ndim=3)


def test_gzip_bomb_stops_at_the_declared_size(tmp_path: Path):
    # Ten images declared, 64 MiB of zeros behind them: reading stops one byte past the declared data.
    header = bytes([0, 0, 8, 3]) + np.array([10, 28, 28], ">u4").tobytes()
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    body = compressor.compress(header) + b"".join(compressor.compress(bytes(1 << 20)) for _ in range(64))
    path = tmp_path / "bomb.gz"
    path.write_bytes(body + compressor.flush())
    start = time.perf_counter()
    with pytest.raises(UserError, match=r"bomb.gz: IDX header says 10 x 28 x 28 values .* holds more"):
        read_idx(path, expected_ndim=3)
    assert time.perf_counter() - start < 2.0


def test_truncated_gzip_idx(tmp_path: Path):
    data = gzip.compress(idx_bytes(np.arange(2000, dtype=np.uint8).reshape(20, 10, 10) % 251))
    path = tmp_path / "cut.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="cut.gz: "):
        read_idx(path, expected_ndim=3)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_a_pipe_or_folder_in_place_of_an_idx_file_is_refused_without_waiting(tmp_path: Path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UserError, match=r"fifo is not a regular file \(a device, pipe or socket\); expected an IDX file"):
        read_idx(tmp_path / "fifo")
    (tmp_path / "folder").mkdir()
    with pytest.raises(UserError, match="folder is a folder"):
        read_idx(tmp_path / "folder")


def test_idx_labels_out_of_range_empty_sets_and_mixed_sizes(tmp_path: Path):
    write_idx_set(tmp_path / "a", num_classes=12)
    with pytest.raises(UserError, match=r"train-labels-idx1-ubyte.gz: label 10 at position 10; expected 0..9"):
        read_idx_dataset(tmp_path / "a", "mnist", [str(i) for i in range(10)])
    write_idx_set(tmp_path / "b", n_test=0)
    with pytest.raises(UserError, match=r"t10k-images-idx3-ubyte.gz: holds no images"):
        read_idx_dataset(tmp_path / "b", "b")
    write_idx_set(tmp_path / "c")
    (tmp_path / "c" / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros((10, 20, 20)))))
    with pytest.raises(UserError, match=r"t10k-images-idx3-ubyte.gz: test images are \(20, 20\) but "):
        read_idx_dataset(tmp_path / "c", "c")


def test_downloaded_mnist_with_bad_labels_is_a_user_error(user_data_dir: Path):
    write_idx_set(user_data_dir / "datasets" / "mnist", num_classes=11)
    with pytest.raises(UserError, match="label 10 .* expected 0..9"):
        get_dataset("mnist")


# ------------------------------------------------------------------------------------------------ npz
def _npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


@pytest.mark.parametrize(("arrays", "message"), [
    ({"x": np.zeros((5, 3)), "y": np.array([0, 1, -1, 0, 1])}, "class labels must be 0 or more, found -1"),
    ({"x": np.zeros((5, 3)), "y": np.array([0, 1, np.nan, 0, 1])}, "labels must be finite numbers, found nan"),
    ({"x": np.zeros((5, 3)), "y": np.array([0, 1, 2, 3, 10**9])}, "class label 1000000000 is out of range"),
    ({"x": np.zeros((1, 3)), "y": np.array([1])}, "expected at least one training and one test sample, found 1 "
                                                  "training and 0 test"),
    ({"x": np.zeros((0, 3)), "y": np.zeros(0)}, "expected at least one training and one test sample"),
    ({"x": np.zeros((5, 0)), "y": np.zeros(5)}, "each sample must hold at least one value"),
    ({"x": np.zeros((5, 3)), "y": np.float64(1)}, "'y' is a single number"),
    ({"x": np.array([["a", "b"]] * 4), "y": np.zeros(4)}, r"array 'x' must hold numbers .* dtype <U1"),
    ({"x": np.zeros((4, 2), complex), "y": np.zeros(4)}, "array 'x' must hold numbers"),
    ({"x": np.full((4, 2), np.inf), "y": np.zeros(4)}, "samples contain NaN or infinite values"),
])
def test_bad_npz_contents(tmp_path: Path, arrays, message):
    (tmp_path / "d.npz").write_bytes(_npz_bytes(**arrays))
    with pytest.raises(UserError, match=f"d.npz.*{message}"):
        load_user_dataset(tmp_path / "d.npz")


@pytest.mark.parametrize(("y_train", "y_test", "shapes"), [
    (np.zeros(20), np.zeros((20, 2)), r"\(20,\) but y_test is shaped \(20, 2\)"),
    (np.zeros((20, 2)), np.zeros(20), r"\(20, 2\) but y_test is shaped \(20,\)"),
    (np.zeros((20, 2)), np.zeros((20, 3)), r"\(20, 2\) but y_test is shaped \(20, 3\)"),
    (np.zeros((20, 2, 2)), np.zeros((20, 1)), r"\(20, 2, 2\) but y_test is shaped \(20,\)"),
])
def test_npz_label_arrays_of_different_shapes_are_named(tmp_path: Path, y_train, y_test, shapes):
    x = np.zeros((20, 2))
    (tmp_path / "f.npz").write_bytes(_npz_bytes(x_train=x, y_train=y_train, x_test=x, y_test=y_test))
    with pytest.raises(UserError, match=f"^f.npz: y_train is shaped {shapes}; expected labels of one shape") as info:
        load_user_dataset(tmp_path / "f.npz")
    assert "\n" not in str(info.value)


def test_npz_labels_as_a_column_and_as_a_vector_go_together(tmp_path: Path):
    x = np.zeros((6, 2))
    (tmp_path / "f.npz").write_bytes(_npz_bytes(x_train=x, y_train=(np.arange(6) % 3).reshape(6, 1), x_test=x,
                                                y_test=np.arange(6) % 3))
    ds = load_user_dataset(tmp_path / "f.npz")
    assert ds.task == "classification" and ds.num_classes == 3 and ds.y_train.shape == ds.y_test.shape == (6,)


def test_truncated_and_object_npz(tmp_path: Path):
    data = _npz_bytes(x=np.zeros((50, 4)), y=np.arange(50) % 2)
    (tmp_path / "cut.npz").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(UserError, match="cut.npz"):
        load_user_dataset(tmp_path / "cut.npz")
    (tmp_path / "obj.npz").write_bytes(_npz_bytes(x=np.array([{"a": 1}] * 3, dtype=object), y=np.zeros(3)))
    with pytest.raises(UserError, match="obj.npz, array 'x' must hold numbers"):
        load_user_dataset(tmp_path / "obj.npz")


# ------------------------------------------------------------------------------------------------ CSV
@pytest.mark.parametrize(("text", "message"), [
    ("label,a\n0,1\n1,x\n", r"row 3, column 'a': expected a number, found 'x'"),
    ("label,a\n0,1\n1,nan\n", "features contain NaN or infinite values"),
    ("label,a\n0,1\nnan,2\n1,3\n", "labels must be finite numbers"),
    ("label,a\n0,1\n", "expected at least one training and one test sample"),
    ("label,a\n-3,1\n1,2\n0,3\n", "class labels must be 0 or more, found -3"),
])
def test_bad_csv_contents(tmp_path: Path, text: str, message: str):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(UserError, match=f"t.csv.*{message}"):
        load_user_dataset(tmp_path / "t.csv")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX feature")
def test_a_pipe_named_csv_is_refused_without_waiting(tmp_path: Path):
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    errors: list[str] = []

    def load() -> None:
        try:
            load_user_dataset(fifo)
        except UserError as exc:
            errors.append(str(exc))

    reader = threading.Thread(target=load, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # it waits for a writer: give it one that closes at once, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(10)
        pytest.fail("reading a pipe named like a CSV file waited for a writer")
    assert errors == [f"{fifo} is not a regular file (a device, pipe or socket); expected a CSV file"]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_named_csv_is_refused_before_reading(tmp_path: Path):
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    with pytest.raises(UserError, match=r"zero.csv is not a regular file \(a device, pipe or socket\)"):
        load_user_dataset(tmp_path / "zero.csv")


def test_a_csv_file_over_the_cap_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(readers, "MAX_CSV_BYTES", 1000)
    (tmp_path / "big.csv").write_text("label,a\n" + "0,1\n1,2\n" * 200)
    with pytest.raises(UserError, match=r"^big.csv: CSV file of 1,608 bytes; at most 1,000 are read \(save larger "
                                        r"data as .npz\)$"):
        load_user_dataset(tmp_path / "big.csv")
    (tmp_path / "small.csv").write_text("label,a\n" + "0,1\n1,2\n" * 20)
    assert load_user_dataset(tmp_path / "small.csv").n_train > 0


def test_a_csv_file_that_is_not_text_names_the_reason(tmp_path: Path):
    (tmp_path / "bin.csv").write_bytes(b"label,a\n0,\xff\xfe\n")
    with pytest.raises(UserError, match=r"^bin.csv: cannot be read as CSV text \(not UTF-8: invalid start byte at "
                                        r"byte 10\)$"):
        load_user_dataset(tmp_path / "bin.csv")
    (tmp_path / "long.csv").write_text("label,a\n0," + "1" * 200_000 + "\n")
    with pytest.raises(UserError, match=r"^long.csv: cannot be read as CSV text \(field larger than field limit"):
        load_user_dataset(tmp_path / "long.csv")


def test_csv_cells_too_wide_for_the_memory_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 10_000)
    (tmp_path / "wide.csv").write_text("label,a\n0,1\n1," + "1" * 2000 + "\n")
    with pytest.raises(UserError, match=r"^wide.csv \(4 cells of up to 2,000 characters\) would need 31.2 KiB of "
                                        r"memory"):
        load_user_dataset(tmp_path / "wide.csv")


# ---------------------------------------------------------------------------------------- image folders
def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` gray pixels, with one tiny IDAT chunk."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + \
        chunk(b"IEND", b"")


def _image_folder(root: Path, count: int = 4) -> None:
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(root / cls / f"{i}.png")


@pytest.mark.parametrize(("width", "height", "message"), [
    (9_000, 9_000, "image of 9,000 x 9,000 pixels"),  # over our limit
    (12_000, 10_000, "image too large to decode safely"),  # Pillow's warning, turned into an error
    (60_000, 60_000, "image too large to decode safely"),  # Pillow's DecompressionBombError
])
def test_decompression_bomb_image_is_refused(tmp_path: Path, width: int, height: int, message: str):
    _image_folder(tmp_path / "imgs")
    (tmp_path / "imgs" / "a" / "bomb.png").write_bytes(_png_header_only(width, height))
    with pytest.raises(UserError, match=f"bomb.png: {message}"):
        load_user_dataset(tmp_path / "imgs")


def test_corrupt_and_truncated_images_are_named(tmp_path: Path):
    _image_folder(tmp_path / "imgs")
    (tmp_path / "imgs" / "b" / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(UserError, match=r"junk.png: not a readable image in .*imgs[/\\]b") as info:
        load_user_dataset(tmp_path / "imgs")
    assert "\n" not in str(info.value)
    (tmp_path / "imgs" / "b" / "junk.png").write_bytes(b"just some text, no image format at all")
    with pytest.raises(UserError, match=r"junk.png: not a readable image in .*: not PNG, JPEG") as info:
        load_user_dataset(tmp_path / "imgs")
    assert "UnidentifiedImageError" not in str(info.value)
    (tmp_path / "imgs" / "b" / "junk.png").unlink()
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (8, 8), np.uint8)).save(buffer, "PNG")
    (tmp_path / "imgs" / "b" / "cut.png").write_bytes(buffer.getvalue()[:60])
    with pytest.raises(UserError, match="cut.png: not a readable image"):
        load_user_dataset(tmp_path / "imgs")


def test_image_set_larger_than_memory_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    _image_folder(tmp_path / "imgs")
    monkeypatch.setattr("nnstudio.memory.available_bytes", lambda: 1000)
    with pytest.raises(UserError, match=r"the images in .*imgs .* would need .* of memory but only 1,000 bytes"):
        load_user_dataset(tmp_path / "imgs", size=64)


# -------------------------------------------------------------------------------- the user's own digits
def test_corrupt_mydigits_store_is_named_and_kept(user_data_dir: Path):
    store = userdigits.digits_path()
    store.parent.mkdir(parents=True, exist_ok=True)
    bad = _npz_bytes(x=np.zeros((3, 28, 28), np.uint8), y=np.array([1, 12, 3], np.uint8))
    store.write_bytes(bad)
    with pytest.raises(UserError, match=r"mydigits.npz: your saved digits: digit number 1 has label 12"):
        userdigits.load_mydigits()
    with pytest.raises(UserError, match="mydigits.npz"):
        userdigits.add_digit(np.zeros((28, 28)), 3)
    assert store.read_bytes() == bad  # nothing lost: the store is left as it was
    store.write_bytes(_npz_bytes(x=np.zeros((3, 28, 28), np.float32), y=np.zeros(3, np.uint8)))
    with pytest.raises(UserError, match=r"expected x uint8 \(N, 28, 28\) and y uint8 \(N,\), found float32"):
        userdigits.load_digits()
    store.write_bytes(bad[:100])
    with pytest.raises(UserError, match="mydigits.npz: your saved digits cannot be read"):
        get_dataset("mydigits")


def test_damaged_captcha_cache_is_regenerated(user_data_dir: Path):
    path = captcha_digits.cache_path(3, 2, 1, (40, 100))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_npz_bytes(x_train=np.zeros((2, 40, 100), np.uint8), y_train=np.full((2, 4), 99),
                                x_test=np.zeros((1, 40, 100), np.uint8), y_test=np.zeros((1, 4), np.int64)))
    ds = captcha_digits.load_captcha(n_train=2, n_test=1, seed=3)
    assert ds.y_train.max() <= 9 and ds.x_train.max() > 0


def test_damaged_shipped_subset_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "mnist10k.npz").write_bytes(b"PK\x03\x04 damaged")
    monkeypatch.setattr(mnist, "subset_path", lambda: tmp_path / "mnist10k.npz")
    with pytest.raises(UserError, match="mnist10k.npz: the shipped MNIST subset is missing or damaged"):
        mnist.load_mnist_subset()


# --------------------------------------------------------------------------------- plain paths as names
def test_plain_paths_name_user_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "digits.npz").write_bytes(_npz_bytes(x=np.zeros((10, 3)), y=np.arange(10) % 2))
    _image_folder(tmp_path / "my_folder")
    monkeypatch.chdir(tmp_path)
    assert get_dataset("digits.npz").n_train == 8
    assert get_dataset("./my_folder").class_names == ["a", "b"]
    assert get_dataset(str(tmp_path / "digits.npz")).sample_shape == (3,)
    assert get_dataset("xor").name == "xor"  # built-in names still win
    with pytest.raises(UserError, match="missing.npz: no such file or folder"):
        get_dataset("missing.npz")
    with pytest.raises(UserError, match="unknown dataset 'nosuch'; .* or the path of your own data"):
        get_dataset("nosuch")


def test_damaged_captcha_parts_are_made_again(user_data_dir: Path):
    """A limited run's cached training and test parts, damaged, are rendered again (the same images)."""
    from nnstudio.training.config import TrainingConfig
    from nnstudio.training.trainer import load_dataset

    config = TrainingConfig.from_dict({"dataset": "captcha", "dataset_options": {"n_train": 30, "n_test": 6,
                                                                                 "seed": 8},
                                       "max_train_samples": 5, "max_test_samples": 4})
    first = load_dataset(config, "run")
    parts = sorted((user_data_dir / "datasets" / "captcha").glob("*.npz"))
    assert len(parts) == 2 and any("-train-rows" in p.name for p in parts) and any("-test-first4-" in p.name
                                                                                    for p in parts)
    for part in parts:
        part.write_bytes(_npz_bytes(x_test=np.zeros((4, 40, 100), np.uint8), y_test=np.full((4, 4), 99)))
    again = load_dataset(config, "run")
    np.testing.assert_array_equal(again.x_train, first.x_train)
    np.testing.assert_array_equal(again.x_test, first.x_test)
    np.testing.assert_array_equal(again.y_test, first.y_test)
