"""Data tests write only to a temporary user-data folder and start from an empty dataset cache."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from nnstudio.data import registry


@pytest.fixture(autouse=True)
def user_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path_factory.mktemp("userdata")
    monkeypatch.setenv("NNSTUDIO_DATA_DIR", str(folder))
    registry.clear_cache()
    yield folder
    registry.clear_cache()


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as an IDX file (magic 0x0000 08 ndim, big-endian dims, data)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.tobytes()


def write_idx_set(folder: Path, n_train: int = 30, n_test: int = 10, side: int = 28, seed: int = 0,
                  compress: bool = True, num_classes: int = 10) -> dict[str, np.ndarray]:
    """Write the four standard IDX files of a small random image set into ``folder``."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % num_classes).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % num_classes).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        data = idx_bytes(array)
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays
