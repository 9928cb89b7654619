"""Built-in datasets through the registry: MNIST subset and full, Fashion-MNIST, listing, options, cache."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nnstudio import userdirs
from nnstudio.data import Dataset, dataset_info, get_dataset, list_datasets, mnist, registry
from nnstudio.errors import UserError

from .conftest import write_idx_set


def _check_contract(ds: Dataset) -> None:
    assert ds.x_train.dtype == np.float32 and ds.x_test.dtype == np.float32
    assert ds.x_train.shape[1:] == ds.sample_shape == ds.x_test.shape[1:]
    assert len(ds.x_train) == len(ds.y_train) and len(ds.x_test) == len(ds.y_test)
    if ds.task == "classification":
        assert ds.y_train.dtype == np.int64 and ds.y_train.ndim == 1
        assert 0 <= ds.y_train.min() and ds.y_train.max() < ds.num_classes
        assert len(ds.class_names) == ds.num_classes
    elif ds.task == "regression":
        assert ds.y_train.dtype == np.float32 and ds.y_train.shape[1:] == (1,) and ds.num_classes == 0
    if len(ds.sample_shape) == 3:
        assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0


def test_mnist_subset_split_classes_and_pixel_statistics():
    ds = get_dataset("mnist")
    _check_contract(ds)
    assert ds.extra["variant"] == "10k"
    assert (ds.n_train, ds.n_test) == (8000, 2000)
    assert ds.sample_shape == (1, 28, 28) and ds.num_classes == 10 and ds.class_names == list("0123456789")
    # Every digit in both parts, in roughly MNIST's proportions.
    for y in (ds.y_train, ds.y_test):
        counts = np.bincount(y, minlength=10)
        assert counts.min() > 0.07 * len(y) and counts.max() < 0.13 * len(y)
    # MNIST's well-known pixel statistics: mean about 0.13, about 19 % of pixels inked, dark borders.
    assert 0.12 < ds.x_train.mean() < 0.14
    assert 0.15 < (ds.x_train > 0).mean() < 0.25
    assert ds.x_train[:, :, 0, :].max() < 0.2  # the top row is (almost) empty in MNIST
    # Pixel values are whole multiples of 1/255 (the converter recovered the original bytes).
    k = ds.x_test * 255
    assert np.allclose(k, np.rint(k), atol=1e-4)
    # Train and test hold different images.
    train_rows = {row.tobytes() for row in (ds.x_train[:2000] * 255).astype(np.uint8)}
    assert not any(row.tobytes() in train_rows for row in (ds.x_test * 255).astype(np.uint8))


def test_mnist_uses_the_full_download_when_present(user_data_dir: Path):
    arrays = write_idx_set(userdirs.datasets_dir() / "mnist", n_train=40, n_test=12)
    ds = get_dataset("mnist")
    _check_contract(ds)
    assert ds.extra["variant"] == "full" and (ds.n_train, ds.n_test) == (40, 12)
    np.testing.assert_array_equal(np.rint(ds.x_train[:, 0] * 255), arrays["train-images-idx3-ubyte"])
    assert get_dataset("mnist", variant="10k").n_train == 8000


def test_mnist_full_variant_without_download_says_how_to_get_it():
    with pytest.raises(UserError, match="nnstudio data download mnist"):
        get_dataset("mnist", variant="full")
    with pytest.raises(UserError, match="variant must be one of"):
        get_dataset("mnist", variant="huge")


def test_fashion_mnist_missing_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(mnist, "SYSTEM_FASHION_DIRS", ())
    with pytest.raises(UserError) as err:
        get_dataset("fashion-mnist")
    assert "nnstudio data download fashion-mnist" in str(err.value)
    assert "apt-get install dataset-fashion-mnist" in str(err.value)
    assert dataset_info("fashion-mnist").available is False
    assert dict(list_datasets())["fashion-mnist"].endswith("not on this computer yet")


def test_fashion_mnist_from_the_user_folder(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(mnist, "SYSTEM_FASHION_DIRS", ())
    write_idx_set(userdirs.datasets_dir() / "fashion-mnist", n_train=20, n_test=10, compress=False)
    ds = get_dataset("fashion-mnist")
    _check_contract(ds)
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot" and ds.num_classes == 10
    assert (ds.n_train, ds.n_test) == (20, 10)


@pytest.mark.skipif(not Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").exists(),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_fashion_mnist_from_the_debian_package():
    ds = get_dataset("fashion-mnist")
    _check_contract(ds)
    assert (ds.n_train, ds.n_test) == (60000, 10000)
    assert np.array_equal(np.bincount(ds.y_test), np.full(10, 1000))
    assert 0.27 < ds.x_train.mean() < 0.30  # Fashion-MNIST's mean pixel is about 0.286


def test_list_and_info_cover_every_builtin():
    names = [name for name, _ in list_datasets()]
    for name in ("mnist", "fashion-mnist", "captcha", "and", "or", "xor", "circle", "gauss", "spiral", "moons",
                 "linear", "sine"):
        assert name in names
    assert "mydigits" not in names  # nothing drawn yet
    assert dataset_info("mnist").sample_shape == (1, 28, 28)
    assert dataset_info("captcha", height=30, width=80).sample_shape == (1, 30, 80)
    assert dataset_info("sine").num_classes == 0 and dataset_info("sine").task == "regression"
    assert dataset_info("captcha").task == "multi_digit"


def test_info_does_not_load(monkeypatch: pytest.MonkeyPatch):
    def explode(**_):
        raise AssertionError("dataset_info must not load the arrays")

    monkeypatch.setitem(registry._ENTRIES, "mnist", registry._ENTRIES["mnist"].__class__(
        "mnist", "x", load=explode, info=registry._ENTRIES["mnist"].info))
    assert dataset_info("mnist").num_classes == 10


def test_unknown_name_lists_the_choices():
    with pytest.raises(UserError) as err:
        get_dataset("mnistt")
    assert "'mnistt'" in str(err.value) and "fashion-mnist" in str(err.value) and "user:<path>" in str(err.value)


def test_options_are_checked_and_converted_from_text():
    with pytest.raises(UserError, match="unknown option 'size'.*added_points, n_test, n_train, noise, points, seed, train_ratio"):
        get_dataset("xor", size=3)
    with pytest.raises(UserError, match="option n_train must be int"):
        get_dataset("circle", n_train="many")
    assert get_dataset("circle", n_train="50", noise="0.1").n_train == 50
    assert get_dataset("captcha", n_train=3, n_test=2, seed=None).n_train == 3  # None = the default


def test_cache_returns_the_same_read_only_arrays():
    a = get_dataset("spiral", seed=3)
    assert get_dataset("spiral", seed=3) is a
    assert get_dataset("spiral", seed=4) is not a
    with pytest.raises(ValueError):
        a.x_train[0, 0] = 5.0
