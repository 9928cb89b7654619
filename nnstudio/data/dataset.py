"""The plain data every dataset loader returns, and the cheap description the registry answers with.

A :class:`Dataset` holds host NumPy arrays only (the batch loader moves batches to the device).  Images
are float32 in [0, 1] shaped (N, C, H, W); feature vectors are float32 (N, F).  Labels are int64 (N,)
for classification, float32 (N, 1) for regression and int64 (N, 4) for the 4-digit captcha set
(``task == "multi_digit"``, trained as 4 x 10 softmax).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TASKS = ("classification", "regression", "multi_digit")


@dataclass(frozen=True)
class DatasetInfo:
    """What the editor needs before loading anything: the Input shape and the output size."""

    name: str
    sample_shape: tuple[int, ...]
    num_classes: int  # 0 = regression
    task: str
    description: str = ""
    available: bool = True  # False when the files are not on this computer yet (fashion-mnist)


@dataclass
class Dataset:
    """Train and test arrays plus what they mean (see the module docstring for shapes and dtypes)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    sample_shape: tuple[int, ...]
    num_classes: int
    class_names: list[str]
    task: str
    description: str
    source: str
    extra: dict = field(default_factory=dict)  # loader-specific facts, e.g. {"variant": "10k"}

    def __post_init__(self) -> None:
        self.sample_shape = tuple(int(s) for s in self.sample_shape)
        if self.task not in TASKS:
            raise ValueError(f"dataset {self.name!r}: task must be one of {TASKS}, got {self.task!r}")
        for split, x, y in (("train", self.x_train, self.y_train), ("test", self.x_test, self.y_test)):
            if x.shape[1:] != self.sample_shape:
                raise ValueError(f"dataset {self.name!r}: x_{split} samples are {x.shape[1:]}, "
                                 f"expected {self.sample_shape}")
            if x.shape[0] != y.shape[0]:
                raise ValueError(f"dataset {self.name!r}: {x.shape[0]} x_{split} samples but "
                                 f"{y.shape[0]} labels")

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    @property
    def is_image(self) -> bool:
        return len(self.sample_shape) == 3

    def info(self) -> DatasetInfo:
        return DatasetInfo(self.name, self.sample_shape, self.num_classes, self.task, self.description)

    def freeze(self) -> "Dataset":
        """Make the arrays read-only, so a cached dataset cannot be changed in place by a caller."""
        for array in (self.x_train, self.y_train, self.x_test, self.y_test):
            array.flags.writeable = False
        return self


def split_indices(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic shuffled split of ``range(n)`` into (train, test) index arrays."""
    order = np.random.default_rng(seed).permutation(n)
    n_test = int(round(n * test_fraction))
    if n >= 2:
        n_test = min(max(n_test, 1), n - 1) if test_fraction > 0 else 0
    else:
        n_test = 0
    return np.sort(order[n_test:]), np.sort(order[:n_test])
