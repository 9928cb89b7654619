"""Readers for the user's own data, on files each test writes, including the ways files go wrong."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nnstudio.data import get_dataset
from nnstudio.data.readers import load_user_dataset, read_idx
from nnstudio.errors import UserError

from .conftest import idx_bytes, write_idx_set


# ------------------------------------------------------------------------------------------------ IDX
@pytest.mark.parametrize("compress", [True, False])
def test_idx_folder(tmp_path: Path, compress: bool):
    arrays = write_idx_set(tmp_path / "idx", n_train=25, n_test=7, side=12, compress=compress, num_classes=5)
    ds = get_dataset(f"user:{tmp_path / 'idx'}")
    assert ds.sample_shape == (1, 12, 12) and ds.x_train.dtype == np.float32
    assert (ds.n_train, ds.n_test, ds.num_classes) == (25, 7, 5)
    np.testing.assert_array_equal(np.rint(ds.x_test[:, 0] * 255), arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(ds.y_train, arrays["train-labels-idx1-ubyte"])
    assert ds.y_train.dtype == np.int64


def test_read_idx_other_types_and_byte_order(tmp_path: Path):
    values = np.arange(-6, 6, dtype=">i4").reshape(3, 4)
    path = tmp_path / "ints.idx"
    path.write_bytes(bytes([0, 0, 0x0C, 2]) + np.asarray(values.shape, ">u4").tobytes() + values.tobytes())
    out = read_idx(path)
    np.testing.assert_array_equal(out, values)
    assert out.dtype == np.int32 and out.dtype.byteorder in ("=", "<", "|")


def test_double_gzip_is_not_an_idx_file(tmp_path: Path):
    folder = tmp_path / "idx"
    write_idx_set(folder)
    bad = folder / "train-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(bad.read_bytes()))  # a gzip inside a gzip: magic becomes 1f 8b 08 00
    with pytest.raises(UserError) as err:
        load_user_dataset(folder)
    assert str(err.value) == ("train-images-idx3-ubyte.gz: not an IDX file (magic 0x1f8b0800, "
                              "expected 0x00000803)")


def test_truncated_and_mismatched_idx_files(tmp_path: Path):
    folder = tmp_path / "idx"
    write_idx_set(folder, n_train=10, n_test=4, compress=False)
    images = folder / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(UserError, match=r"t10k-images-idx3-ubyte: IDX header says 4 x 28 x 28 .* truncated"):
        load_user_dataset(folder)
    write_idx_set(folder, n_train=10, n_test=4, compress=False)
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(9, np.uint8)))
    with pytest.raises(UserError, match="train-labels-idx1-ubyte: 9 labels but train-images-idx3-ubyte holds 10"):
        load_user_dataset(folder)
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros((10, 2), np.uint8)))
    with pytest.raises(UserError, match="train-labels-idx1-ubyte: IDX file with 2 dimensions.*expected 1"):
        load_user_dataset(folder)


def test_damaged_gzip(tmp_path: Path):
    folder = tmp_path / "idx"
    write_idx_set(folder)
    labels = folder / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:15])
    with pytest.raises(UserError, match="t10k-labels-idx1-ubyte.gz: the gzip data is damaged"):
        load_user_dataset(folder)


# ------------------------------------------------------------------------------------------------ NPZ
def test_npz_with_x_and_y_is_split_deterministically(tmp_path: Path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (50, 8, 8), dtype=np.uint8)
    y = np.arange(50) % 3
    np.savez(tmp_path / "mine.npz", x=x, y=y)
    ds = get_dataset(f"user:{tmp_path / 'mine.npz'}")
    assert ds.sample_shape == (1, 8, 8) and (ds.n_train, ds.n_test) == (40, 10) and ds.num_classes == 3
    assert ds.x_train.max() <= 1.0 and ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    again = load_user_dataset(tmp_path / "mine.npz")
    np.testing.assert_array_equal(again.y_test, ds.y_test)
    other = get_dataset(f"user:{tmp_path / 'mine.npz'}", seed=1)
    assert not np.array_equal(other.y_test, ds.y_test) or not np.array_equal(other.x_test, ds.x_test)
    # Every sample lands in exactly one part.
    all_rows = np.concatenate([ds.x_train, ds.x_test]).reshape(50, -1)
    assert len({r.tobytes() for r in all_rows}) == 50


def test_npz_with_given_split_regression_and_nhwc(tmp_path: Path):
    x = np.random.default_rng(1).random((12, 5, 5, 3)).astype(np.float32)
    np.savez(tmp_path / "s.npz", x_train=x[:9], y_train=np.linspace(0, 1, 9), x_test=x[9:], y_test=[0.5, 0.2, 0.1])
    ds = load_user_dataset(tmp_path / "s.npz")
    assert ds.sample_shape == (3, 5, 5) and ds.task == "regression" and ds.y_train.shape == (9, 1)
    np.testing.assert_array_equal(ds.x_train[0], x[0].transpose(2, 0, 1))


def test_bad_npz_files(tmp_path: Path):
    np.savez(tmp_path / "wrong.npz", images=np.zeros((3, 2)))
    with pytest.raises(UserError, match=r"wrong.npz: expected arrays 'x' and 'y'.*found \['images'\]"):
        load_user_dataset(tmp_path / "wrong.npz")
    np.savez(tmp_path / "count.npz", x=np.zeros((3, 2)), y=np.zeros(4))
    with pytest.raises(UserError, match="count.npz: x has 3 samples but y has 4 labels"):
        load_user_dataset(tmp_path / "count.npz")
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip file")
    with pytest.raises(UserError, match="junk.npz is not an .npz file"):
        load_user_dataset(tmp_path / "junk.npz")


# ------------------------------------------------------------------------------------------------ CSV
def test_csv_with_label_column_anywhere(tmp_path: Path):
    rows = ["a,b,label"] + [f"{i * 0.1:.1f},{-i},{i % 2}" for i in range(20)]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    ds = get_dataset(f"user:{tmp_path / 't.csv'}", test_fraction="0.25")
    assert ds.sample_shape == (2,) and (ds.n_train, ds.n_test) == (15, 5) and ds.num_classes == 2
    both = np.concatenate([ds.x_train, ds.x_test])
    labels = np.concatenate([ds.y_train, ds.y_test])
    np.testing.assert_array_equal(labels, (-both[:, 1]).astype(int) % 2)  # rows stayed with their label


def test_csv_first_column_text_labels_and_regression(tmp_path: Path):
    (tmp_path / "iris.csv").write_text("species,len,width\ncat,1,2\ndog,3,4\ncat,5,6\nbird,7,8\ndog,9,1\n")
    ds = load_user_dataset(tmp_path / "iris.csv")
    assert ds.class_names == ["bird", "cat", "dog"] and ds.num_classes == 3 and ds.task == "classification"
    (tmp_path / "reg.csv").write_text("y,x\n0.5,1\n1.5,2\n2.25,3\n3.5,4\n4.5,5\n")
    reg = load_user_dataset(tmp_path / "reg.csv", test_fraction=0.4)
    assert reg.task == "regression" and reg.y_train.dtype == np.float32 and reg.y_train.shape == (3, 1)


def test_csv_of_pixels_becomes_images(tmp_path: Path):
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (10, 64))
    header = "label," + ",".join(f"pixel{i}" for i in range(64))
    lines = [header] + [f"{i % 10}," + ",".join(map(str, row)) for i, row in enumerate(pixels)]
    (tmp_path / "px.csv").write_text("\n".join(lines))
    ds = load_user_dataset(tmp_path / "px.csv")
    assert ds.sample_shape == (1, 8, 8) and ds.x_train.max() <= 1.0


def test_bad_csv_files(tmp_path: Path):
    (tmp_path / "cell.csv").write_text("label,x,y\n1,2,3\n0,4,oops\n")
    with pytest.raises(UserError, match=r"cell.csv: row 3, column 'y': expected a number, found 'oops'"):
        load_user_dataset(tmp_path / "cell.csv")
    (tmp_path / "ragged.csv").write_text("label,x\n1,2\n0,4,5\n")
    with pytest.raises(UserError, match="ragged.csv: row 3 has 3 values, the header has 2 columns"):
        load_user_dataset(tmp_path / "ragged.csv")
    (tmp_path / "short.csv").write_text("label,x\n")
    with pytest.raises(UserError, match="short.csv: expected a header row and at least one data row"):
        load_user_dataset(tmp_path / "short.csv")
    (tmp_path / "neg.csv").write_text("label,x\n-1,2\n0,4\n")
    with pytest.raises(UserError, match="neg.csv column 'label': class labels must be 0 or more, found -1"):
        load_user_dataset(tmp_path / "neg.csv")
    with pytest.raises(UserError, match="no column 'target'"):
        load_user_dataset(tmp_path / "cell.csv", label_column="target")


# --------------------------------------------------------------------------------------- image folder
def _save_images(folder: Path, cls: str, count: int, size: tuple[int, int], mode: str = "L", start: int = 0):
    rng = np.random.default_rng(len(cls) + start)
    (folder / cls).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(folder / cls / f"{start + i}.png")


def test_image_folder_gray_resized_to_the_common_size(tmp_path: Path):
    root = tmp_path / "shapes"
    _save_images(root, "circle", 6, (16, 12))
    _save_images(root, "square", 5, (16, 12))
    _save_images(root, "square", 1, (40, 30), start=50)  # an odd size is resized
    (root / "notes.txt").write_text("ignored")
    ds = get_dataset(f"user:{root}")
    assert ds.class_names == ["circle", "square"] and ds.sample_shape == (1, 12, 16)
    assert ds.n_train + ds.n_test == 12 and ds.n_test == 2 and ds.x_train.dtype == np.float32
    ds32 = load_user_dataset(root, size=32, color="rgb")
    assert ds32.sample_shape == (3, 32, 32)


def test_image_folder_rgb_and_train_test_folders(tmp_path: Path):
    root = tmp_path / "pets"
    _save_images(root / "train", "cat", 4, (10, 10), mode="RGB")
    _save_images(root / "train", "dog", 4, (10, 10))
    _save_images(root / "test", "cat", 2, (10, 10), mode="RGB", start=10)
    _save_images(root / "test", "dog", 1, (10, 10), start=10)
    ds = load_user_dataset(root)
    assert ds.sample_shape == (3, 10, 10)  # one colour image makes the whole set RGB
    assert (ds.n_train, ds.n_test) == (8, 3)
    np.testing.assert_array_equal(ds.y_test, [0, 0, 1])


def test_bad_image_folders(tmp_path: Path):
    root = tmp_path / "broken"
    _save_images(root, "a", 2, (8, 8))
    (root / "a" / "fake.png").write_bytes(b"not a png at all")
    with pytest.raises(UserError, match=r"fake.png: not a readable image"):
        load_user_dataset(root)
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    with pytest.raises(UserError, match="hold no PNG/JPG images"):
        load_user_dataset(empty)
    with pytest.raises(UserError, match="option color must be auto, gray or rgb"):
        load_user_dataset(root, color="purple")


def test_unsupported_or_missing_paths(tmp_path: Path):
    (tmp_path / "data.xlsx").write_bytes(b"x")
    with pytest.raises(UserError, match="data.xlsx: unsupported data file '.xlsx'"):
        get_dataset(f"user:{tmp_path / 'data.xlsx'}")
    with pytest.raises(UserError, match="no such file or folder"):
        get_dataset(f"user:{tmp_path / 'nothing.npz'}")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.txt").write_text("x")
    with pytest.raises(UserError, match="expected the four IDX files or one sub-folder of images per class"):
        load_user_dataset(tmp_path / "flat")
    np.savez(tmp_path / "ok.npz", x=np.zeros((5, 2)), y=np.zeros(5))
    with pytest.raises(UserError, match="unknown option.*label_column"):
        load_user_dataset(tmp_path / "ok.npz", label_column="y")


def test_user_dataset_cache_follows_file_changes(tmp_path: Path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((10, 2)), y=np.zeros(10))
    first = get_dataset(f"user:{path}")
    assert get_dataset(f"user:{path}") is first
    np.savez(path, x=np.ones((20, 2)), y=np.ones(20))
    later = path.stat().st_mtime_ns + 10**9  # coarse file-system clocks: make the change visible
    os.utime(path, ns=(later, later))
    second = get_dataset(f"user:{path}")
    assert second.n_train + second.n_test == 20
