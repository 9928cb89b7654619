"""The user's own handwriting set: add, list, split, remove, and the registry entry."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.data import get_dataset, list_datasets
from nnstudio.data.userdigits import add_digit, count_digits, digits_path, load_digits, remove_digit
from nnstudio.errors import UserError


def _digit(value: float) -> np.ndarray:
    image = np.zeros((28, 28), np.float32)
    image[6:22, 12:16] = value
    return image


def test_add_and_list():
    assert count_digits() == 0
    assert "mydigits" not in dict(list_datasets())
    with pytest.raises(UserError, match="'mydigits' is empty"):
        get_dataset("mydigits")
    for i in range(12):
        assert add_digit(_digit((i + 1) / 12), i % 10) == i + 1
    x, y = load_digits()
    assert x.shape == (12, 28, 28) and x.dtype == np.uint8 and y.tolist() == [i % 10 for i in range(12)]
    assert x[11].max() == 255 and x[0].max() == round(255 / 12)
    assert digits_path().is_file() and not list(digits_path().parent.glob("*.tmp"))
    assert "mydigits" in dict(list_datasets())


def test_split_is_stable_as_the_set_grows():
    for i in range(10):
        add_digit(_digit(1.0), i)
    first = get_dataset("mydigits")
    assert (first.n_train, first.n_test) == (8, 2) and first.y_test.tolist() == [4, 9]
    assert first.sample_shape == (1, 28, 28) and first.x_train.dtype == np.float32 and first.num_classes == 10
    add_digit(_digit(0.5), 3)
    second = get_dataset("mydigits")  # the cache notices the file changed
    assert (second.n_train, second.n_test) == (9, 2)
    np.testing.assert_array_equal(second.y_test, first.y_test)


def test_remove_digit_and_bad_input():
    add_digit(_digit(1.0), 1)
    add_digit((_digit(1.0) * 255).astype(np.uint8), 2)
    assert remove_digit(0) == 1 and load_digits()[1].tolist() == [2]
    with pytest.raises(UserError, match="no digit number 5"):
        remove_digit(5)
    with pytest.raises(UserError, match="expected a 28x28 image, found shape"):
        add_digit(np.zeros((20, 20)), 1)
    with pytest.raises(UserError, match="label must be a digit 0-9, found 12"):
        add_digit(_digit(1.0), 12)
    with pytest.raises(UserError, match=r"pixel values in \[0, 1\]"):
        add_digit(_digit(3.0), 1)


def test_damaged_file_is_reported():
    digits_path().write_bytes(b"not a zip")
    with pytest.raises(UserError, match="mydigits.npz: your saved digits cannot be read"):
        load_digits()
