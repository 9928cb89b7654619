"""4-digit captcha images (PyPI package ``captcha``), generated reproducibly from a seed and cached.

Why this exists: reading a whole 4-digit code with one CNN and four 10-way softmax heads is a good
"beyond MNIST" exercise, and generated data needs no download.

Reproducibility: ``captcha.image`` (0.5+) draws all its randomness from the standard ``secrets`` module,
which cannot be seeded.  While an image is generated we replace the module's ``secrets`` name with a
seeded :class:`random.Random` that offers the same three calls (``randbelow``, ``randbits``, ``choice``),
and we also seed (then restore) Python's global ``random`` in case a later version uses it.  A lock makes
this safe across threads.  Each sample ``i`` of a split has its own seed string, so the first 1,000 images
of a 6,000-image set equal a 1,000-image set with the same seed, and a big set can be rendered in chunks by
several processes (one per core) with the same result.

Images: the package renders 150 x 60 RGB (ratio 2.5, fonts sized for a 60 px height); we convert to
grayscale, invert (ink bright on dark, like MNIST), box-filter down to ``(1, 40, 100)`` by default and
stretch each image's contrast (paper 0, brightest ink 1, since the package picks random ink colours):
small enough for a CPU-trained CNN, large enough to keep the digits readable.  Labels are int64 (N, 4),
the digits left to right.  Generated arrays are cached as ``.npz`` under
``<user datasets>/captcha/`` keyed by seed, sizes, shape and the package version.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import random
import re
import site
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from nnstudio import userdirs
from nnstudio.data.dataset import Dataset
from nnstudio.engine.weights_io import read_npz_arrays
from nnstudio.errors import UserError

DIGITS = 4
RENDER_SIZE = (150, 60)  # (width, height) handed to ImageCaptcha
DEFAULT_SHAPE = (40, 100)  # (height, width) of the samples
DEFAULT_SIZES = (6000, 1000)  # (n_train, n_test) when the options give none
MAX_SIZE = 1_000_000  # images in a split at most (4 GB of 40x100 images)
CACHE_FORMAT = 1  # bump when the image processing changes, so old caches are not reused
_LOCK = threading.Lock()


class _SeededSecrets:
    """The part of the ``secrets`` API that ``captcha.image`` calls, backed by a seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def randbelow(self, n: int) -> int:
        return self._rng.randrange(n)

    def randbits(self, k: int) -> int:
        return self._rng.getrandbits(k)

    def choice(self, seq):
        return self._rng.choice(seq)


@contextlib.contextmanager
def _seeded_captcha(module, seed: str) -> Iterator[random.Random]:
    rng = random.Random(seed)
    saved_secrets = module.secrets
    saved_state = random.getstate()
    module.secrets = _SeededSecrets(rng)
    random.seed(seed)
    try:
        yield rng
    finally:
        module.secrets = saved_secrets
        random.setstate(saved_state)


_reporting = threading.local()  # .report: see reporting()
REPORT_EVERY = 50  # images between two reports while rendering in this process (and between two checks)
POLL_SECONDS = 0.25  # how often the progress of worker processes is read


@contextlib.contextmanager
def reporting(report: Callable[[int, int, str], None]) -> Iterator[None]:
    """While inside, captchas rendered in this thread call ``report(done, total, split)`` as they go: before
    the first image, every :data:`REPORT_EVERY` images (every :data:`POLL_SECONDS` while worker processes
    render them) and after the last.  A first full set takes about 45 s: the command line shows a bar, the
    window a count."""
    previous = getattr(_reporting, "report", None)
    _reporting.report = report
    try:
        yield
    finally:
        _reporting.report = previous


def _captcha_version() -> str:
    try:
        return metadata.version("captcha")
    except metadata.PackageNotFoundError:
        return "unknown"


# Rendering is pure Python and Pillow, about 4.4 ms an image on one core, and holds the GIL (two threads drew
# 1.08x as fast as one): the captcha example's 21,000 images took 91 s.  Each image has its own seed, so a big
# set is rendered in parts by worker processes, one per core, and comes out the same, image for image.  On two
# cores the example's set took 45 s that way.  The workers are this program started again with
# :data:`WORKER_FLAG` (``python -m nnstudio``, or the standalone app's executable), not multiprocessing's: a
# process that multiprocessing spawns first runs the main script again, and a script that loads the dataset
# without an ``if __name__ == "__main__"`` guard would then do all its work once more in every worker.
PARALLEL_MIN = 1000  # below this many images, starting processes costs more than it saves
MAX_PROCESSES = 8
WORKER_FLAG = "--render-captchas"  # nnstudio/__main__.py hands such a process to worker_main
# A worker that has not finished in this long (about ten times the time it needs) is stopped, and its images
# are rendered here instead.
WORKER_SECONDS = (30.0, 0.05)  # (fixed, per image of the largest part)


def generate_captchas(n: int, seed: int, split: str, shape: tuple[int, int] = DEFAULT_SHAPE,
                      processes: int | None = None, rows: Sequence[int] | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images uint8 (n, H, W) (ink bright) and labels int64 (n, 4), deterministic from the seed.

    ``rows``: which images of the split, by number, instead of the first ``n`` (``n`` is then ``len(rows)``);
    image ``i`` is the same whichever others are made with it.
    ``processes``: how many processes render them; by default one per core (up to :data:`MAX_PROCESSES`) for
    :data:`PARALLEL_MIN` images or more, else this process alone.  The images are the same either way.
    """
    _require_captcha()
    if rows is not None and len(rows) != n:
        raise ValueError(f"generate_captchas: {n} images asked for, but {len(rows)} rows given")
    if processes is None:
        processes = min(_cores(), MAX_PROCESSES) if n >= PARALLEL_MIN else 1
    images = labels = None
    extra: dict[str, Any] = {} if rows is None else {"rows": rows}
    report = getattr(_reporting, "report", None)
    if report is not None:
        extra["tick"] = lambda done: report(done, n, split)
        report(0, n, split)
    if processes > 1 and n > 1:
        images, labels = render_in_processes(n, seed, split, shape, processes, **extra)
    if images is None:
        images, labels = render(0, n, seed, split, shape, **extra)
    if report is not None:
        report(n, n, split)
    return _stretch_contrast(images), labels


def _cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _require_captcha() -> None:
    try:
        import captcha.image  # noqa: F401, PLC0415 - only needed when generating
    except ImportError as exc:
        raise UserError("dataset 'captcha' needs the Python package 'captcha' (pip install captcha)") from exc


def render(start: int, stop: int, seed: int, split: str, shape: tuple[int, int],
           stop_if: Callable[[], bool] | None = None, rows: Sequence[int] | None = None,
           tick: Callable[[int], None] | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """Images ``start`` to ``stop`` of a split (or of its image numbers ``rows``), before the contrast stretch:
    uint8 (k, H, W), labels (k, 4).  Before every :data:`REPORT_EVERY`-th image ``tick`` is told how many are
    done and ``stop_if`` is asked; None when it said to stop."""
    import captcha.image as captcha_image  # noqa: PLC0415
    from PIL import Image, ImageOps  # noqa: PLC0415

    height, width = shape
    generator = captcha_image.ImageCaptcha(width=RENDER_SIZE[0], height=RENDER_SIZE[1])
    images = np.empty((stop - start, height, width), dtype=np.uint8)
    labels = np.empty((stop - start, DIGITS), dtype=np.int64)
    with _LOCK:
        numbers = range(start, stop) if rows is None else [int(i) for i in rows[start:stop]]
        for row, i in enumerate(numbers):  # one Pillow rendering per image; there is no batched form
            if row % REPORT_EVERY == 0:
                if tick is not None:
                    tick(row)
                if stop_if is not None and stop_if():
                    return None
            with _seeded_captcha(captcha_image, f"nnstudio-captcha:{seed}:{split}:{i}") as rng:
                digits = [rng.randrange(10) for _ in range(DIGITS)]
                picture = generator.generate_image("".join(map(str, digits)))
            gray = ImageOps.invert(picture.convert("L")).resize((width, height), Image.Resampling.BOX)
            images[row] = np.asarray(gray, dtype=np.uint8)
            labels[row] = digits
    return images, labels


def worker_command() -> list[str]:
    """The command that starts this program as a rendering worker (arguments follow)."""
    if getattr(sys, "frozen", False):  # the standalone app: its executable is the program
        return [sys.executable, WORKER_FLAG]
    return [sys.executable, "-m", "nnstudio", WORKER_FLAG]


def _worker_env() -> dict[str, str] | None:
    """The environment of a worker.  It runs in a private temporary folder (``python -m`` puts the current
    folder first on the module path, so files there could otherwise stand in for nnstudio or NumPy); the
    folder this copy of nnstudio is imported from goes first on the module path when it is not one Python
    searches anyway (a source checkout), so the worker imports the same code."""
    if getattr(sys, "frozen", False):
        return None
    root = os.path.realpath(Path(__file__).resolve().parents[2])
    searched = {os.path.realpath(p) for p in [*site.getsitepackages(), site.getusersitepackages()]}
    env = dict(os.environ)
    if root not in searched:
        env["PYTHONPATH"] = os.pathsep.join([root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def render_in_processes(n: int, seed: int, split: str, shape: tuple[int, int], processes: int,
                        rows: Sequence[int] | None = None, tick: Callable[[int], None] | None = None
                        ) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The first ``n`` images (or the image numbers ``rows``, ``n`` of them) rendered in ``processes`` equal
    parts by as many worker processes, before the contrast stretch; (None, None) when a worker could not
    start, failed, took too long (:data:`WORKER_SECONDS`) or left no usable part (the caller then renders them
    itself).  ``tick`` is told how many are done every :data:`POLL_SECONDS` (each worker writes its count to a
    file beside its part)."""
    parts = max(1, min(processes, n))
    bounds = [n * k // parts for k in range(parts + 1)]
    images = np.empty((n, *shape), dtype=np.uint8)
    labels = np.empty((n, DIGITS), dtype=np.int64)
    fixed, per_image = WORKER_SECONDS
    deadline = time.monotonic() + fixed + per_image * max(b - a for a, b in zip(bounds, bounds[1:]))
    with tempfile.TemporaryDirectory(prefix="nnstudio-captcha-") as folder:
        workers = []
        try:
            env = _worker_env()
            numbers = []
            if rows is not None:  # the workers read the image numbers from a file: parts k of them each
                numbers = [os.path.join(folder, "rows.npy")]
                np.save(numbers[0], np.asarray(rows, dtype=np.int64), allow_pickle=False)
            for k in range(parts):
                out = os.path.join(folder, f"part{k}.npz")
                args = [str(bounds[k]), str(bounds[k + 1]), str(seed), split, str(shape[0]), str(shape[1]), out,
                        *numbers]
                workers.append((subprocess.Popen(worker_command() + args, cwd=folder, env=env,
                                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.DEVNULL), k, out))
            while any(process.poll() is None for process, _, _ in workers):
                if time.monotonic() > deadline or any(process.returncode for process, _, _ in workers):
                    return None, None  # one failed: the rest are stopped, and the caller renders them
                if tick is not None:
                    tick(sum(_read_count(out) for _, _, out in workers))
                time.sleep(POLL_SECONDS)
            for process, k, out in workers:
                if process.returncode != 0:
                    return None, None
                with np.load(out, allow_pickle=False) as part:
                    a, b = bounds[k], bounds[k + 1]
                    if part["images"].shape != (b - a, *shape) or part["labels"].shape != (b - a, DIGITS):
                        return None, None
                    images[a:b], labels[a:b] = part["images"], part["labels"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, subprocess.SubprocessError):
            return None, None
        finally:
            for process, _, _ in workers:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    return images, labels


def worker_main(argv: Sequence[str]) -> int:
    """A rendering worker: ``START STOP SEED SPLIT HEIGHT WIDTH OUT.npz [ROWS.npy]`` renders images START to
    STOP of a split (or entries START to STOP of the image numbers in ROWS) into OUT (exit status 0).  It exits
    2 naming what it could not use, and 3 without writing anything when the process that started it has gone
    (it is given another parent then; checked every 50 images), so a parent that was killed leaves no worker
    running."""
    parent_pid = os.getppid()
    try:
        if len(argv) not in (7, 8):
            raise ValueError(f"expected START STOP SEED SPLIT HEIGHT WIDTH OUT [ROWS], found {len(argv)} arguments")
        start, stop, seed, split, height, width, out = argv[:7]
        rows = None
        if len(argv) == 8:
            rows = np.load(argv[7], allow_pickle=False)
            if rows.ndim != 1 or rows.dtype.kind not in "iu" or (rows.size and int(rows.min()) < 0):
                raise ValueError(f"{argv[7]}: expected a list of image numbers")
        done = render(int(start), int(stop), int(seed), split, (int(height), int(width)),
                      stop_if=lambda: os.getppid() != parent_pid, rows=rows, tick=lambda k: _write_count(out, k))
        if done is None:
            with contextlib.suppress(OSError):
                os.remove(out + ".count")
            with contextlib.suppress(OSError):
                os.rmdir(os.path.dirname(os.path.abspath(out)))  # the parent's folder, if nothing is left in it
            return 3
        with open(out + ".tmp", "wb") as fh:  # then renamed: the parent never reads a part half written
            np.savez(fh, images=done[0], labels=done[1])
        os.replace(out + ".tmp", out)
    except (ValueError, OSError, EOFError) as exc:
        print(f"captcha worker: {exc}", file=sys.stderr)
        return 2
    return 0


def _write_count(out: str, done: int) -> None:
    """A worker's progress: ``done`` images, in ``OUT.count`` (replaced whole, so it is never read half made)."""
    with contextlib.suppress(OSError):
        with open(out + ".count.tmp", "w", encoding="ascii") as fh:
            fh.write(str(int(done)))
        os.replace(out + ".count.tmp", out + ".count")


def _read_count(out: str) -> int:
    """The images a worker rendering into ``out`` has done (0 before its first count, or after it finished)."""
    if os.path.exists(out):
        with contextlib.suppress(OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile), \
                np.load(out, allow_pickle=False) as part:
            return int(part["labels"].shape[0])
    try:
        with open(out + ".count", encoding="ascii") as fh:
            return max(0, int(fh.read().strip() or 0))
    except (OSError, ValueError):
        return 0


def _stretch_contrast(images: np.ndarray) -> np.ndarray:
    """Per image: the paper (median) becomes 0 and the brightest ink 255, whatever colours were drawn."""
    flat = images.reshape(images.shape[0], int(np.prod(images.shape[1:]))).astype(np.float32)
    paper = np.median(flat, axis=1, keepdims=True)
    ink = flat.max(axis=1, keepdims=True)
    stretched = (flat - paper) / np.maximum(ink - paper, 1.0)
    return np.rint(np.clip(stretched, 0.0, 1.0) * 255.0).astype(np.uint8).reshape(images.shape)


def _cache_file(seed: int, what: str, shape: tuple[int, int]) -> Path:
    """A cached set or part: the format, package version and seed, ``what`` it holds, and the image shape."""
    version = _captcha_version().replace("/", "_")
    return (userdirs.datasets_dir() / "captcha" /
            f"captcha-f{CACHE_FORMAT}-v{version}-seed{seed}-{what}-{shape[0]}x{shape[1]}.npz")


def cache_path(seed: int, n_train: int, n_test: int, shape: tuple[int, int]) -> Path:
    return _cache_file(seed, f"n{n_train}-{n_test}", shape)


def _read_cache(path: Path, n_train: int, n_test: int, shape: tuple[int, int]) -> dict[str, np.ndarray] | None:
    """The cached arrays of a whole set, or None when the cache is damaged or does not hold what its name says."""
    return _read_arrays(path, {"train": n_train, "test": n_test}, shape)


def _read_arrays(path: Path, counts: dict[str, int], shape: tuple[int, int]) -> dict[str, np.ndarray] | None:
    """Arrays ``x_<part>`` (``counts[part]`` uint8 images) and ``y_<part>`` (their digits) for each part read
    from ``path``, or None when it is missing, damaged or does not hold what its name says."""
    if not path.exists():
        return None
    try:
        arrays = read_npz_arrays(path, str(path), kinds="ui")
    except UserError:
        return None
    if set(arrays) != {f"{axis}_{part}" for part in counts for axis in "xy"}:
        return None
    for part, n in counts.items():
        x, y = arrays[f"x_{part}"], arrays[f"y_{part}"]
        if x.shape != (n, *shape) or y.shape != (n, DIGITS) or x.dtype != np.uint8:
            return None
        if y.dtype.kind not in "iu" or y.min(initial=0) < 0 or y.max(initial=0) > 9:
            return None
    return arrays


def _checked_shape(n_train: int, n_test: int, height: int, width: int) -> tuple[int, int]:
    if not (1 <= n_train <= MAX_SIZE and 1 <= n_test <= MAX_SIZE):
        raise UserError(f"dataset 'captcha': n_train and n_test must be 1..{MAX_SIZE:,}, found {n_train} and "
                        f"{n_test}")
    if not (12 <= height <= 120 and 30 <= width <= 300):
        raise UserError(f"dataset 'captcha': height must be 12..120 and width 30..300, found {height}x{width}")
    return int(height), int(width)


def sizes(n_train: int = DEFAULT_SIZES[0], n_test: int = DEFAULT_SIZES[1], height: int = DEFAULT_SHAPE[0],
          width: int = DEFAULT_SHAPE[1], seed: int = 0) -> tuple[int, int]:
    """(n_train, n_test) of the set these options make (checked as :func:`load_captcha` checks them)."""
    _checked_shape(n_train, n_test, height, width)
    return int(n_train), int(n_test)


def _save(path: Path, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    userdirs.atomic_write_bytes(path, buffer.getvalue())


def _generated(path: Path, counts: dict[str, int], shape: tuple[int, int],
               make: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays cached at ``path`` (see :func:`_read_arrays`), or ``make()``'s, then cached there (a damaged
    cache is made again)."""
    arrays = _read_arrays(path, counts, shape)
    if arrays is None:
        _check_cache_place(path)  # before a minute of rendering, not after
        arrays = make()
        try:
            _save(path, arrays)
        except OSError:  # a full disk, say: the images are made, this run goes on, and a later one caches them
            pass
    return arrays


def _check_cache_place(path: Path) -> None:
    """UserError naming ``path`` when a cache cannot be written there: a folder or a device in its place, or a
    file where one of its folders should be (the data folder's own: moving it away fixes it)."""
    if (path.exists() or path.is_symlink()) and not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file"
        raise UserError(f"captcha cache '{path}' cannot be written: it is {kind}; move it away")
    blocking = userdirs.file_in_the_way(path.parent)
    if blocking is not None:
        raise UserError(f"captcha cache '{path}' cannot be written: '{blocking}' is a file, not a folder; move it "
                        "away")


def _made(n: int, seed: int, split: str, shape: tuple[int, int], rows: np.ndarray | None = None
          ) -> dict[str, np.ndarray]:
    """``x_<split>`` and ``y_<split>``: ``n`` images of a split (image numbers ``rows``), none when ``n`` is 0."""
    if n == 0:
        x, y = np.empty((0, *shape), dtype=np.uint8), np.empty((0, DIGITS), dtype=np.int64)
    else:
        x, y = generate_captchas(n, seed, split, shape, **({} if rows is None else {"rows": rows}))
    return {f"x_{split}": x, f"y_{split}": y}


def _training_part(rows: np.ndarray, seed: int, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Training images ``rows`` and their labels, cached under a digest of the image numbers."""
    if not rows.size:
        return _made(0, seed, "train", shape)
    digest = hashlib.sha256(rows.astype("<i8").tobytes()).hexdigest()[:16]
    return _generated(_cache_file(seed, f"train-rows{digest}", shape), {"train": len(rows)}, shape,
                      lambda: _made(len(rows), seed, "train", shape, rows))


def _test_part(count: int, seed: int, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """The first ``count`` test images and their labels: sliced from the smallest cached first part that holds
    them (a run limited to 100 test samples, then an evaluation of 60, renders them once), else rendered and
    cached."""
    if not count:
        return _made(0, seed, "test", shape)
    path = _cache_file(seed, f"test-first{count}", shape)
    before, after = path.name.split(f"-test-first{count}-")  # the same name for any number of test images
    pattern = re.compile(re.escape(before) + r"-test-first(\d+)-" + re.escape(after))
    folder = path.parent
    cached = sorted((int(m.group(1)), other) for other in (folder.iterdir() if folder.is_dir() else [])
                    if (m := pattern.fullmatch(other.name)) and int(m.group(1)) >= count)
    for size, other in cached:
        arrays = _read_arrays(other, {"test": size}, shape)
        if arrays is not None:
            return {k: v[:count] for k, v in arrays.items()}
    return _generated(path, {"test": count}, shape, lambda: _made(count, seed, "test", shape))


def _dataset(arrays: dict[str, np.ndarray], shape: tuple[int, int], seed: int, counts: str) -> Dataset:
    scale = np.float32(1.0 / 255.0)
    x_train = arrays["x_train"][:, None].astype(np.float32) * scale
    x_test = arrays["x_test"][:, None].astype(np.float32) * scale
    return Dataset("captcha", x_train, arrays["y_train"].astype(np.int64), x_test,
                   arrays["y_test"].astype(np.int64), sample_shape=(1, *shape), num_classes=10,
                   class_names=[str(i) for i in range(10)], task="multi_digit",
                   description=f"4-digit captchas, gray {shape[0]}x{shape[1]} ({counts})",
                   source=f"generated with the 'captcha' package {_captcha_version()} (seed {seed})")


def load_captcha(n_train: int = DEFAULT_SIZES[0], n_test: int = DEFAULT_SIZES[1], seed: int = 0,
                 height: int = DEFAULT_SHAPE[0], width: int = DEFAULT_SHAPE[1]) -> Dataset:
    shape = _checked_shape(n_train, n_test, height, width)

    arrays = _generated(cache_path(seed, n_train, n_test, shape), {"train": n_train, "test": n_test}, shape,
                        lambda: {**_made(n_train, seed, "train", shape), **_made(n_test, seed, "test", shape)})
    return _dataset(arrays, shape, seed, f"{n_train} train / {n_test} test")


def load_captcha_rows(train_rows: Sequence[int], test_count: int, n_train: int = DEFAULT_SIZES[0],
                      n_test: int = DEFAULT_SIZES[1], seed: int = 0, height: int = DEFAULT_SHAPE[0],
                      width: int = DEFAULT_SHAPE[1]) -> Dataset:
    """Part of the set :func:`load_captcha` makes with the same options: its training images ``train_rows``
    (image numbers below ``n_train``, in that order) and its first ``test_count`` test images, the same pixels
    and labels, without rendering the others.

    A run limited to fewer samples reads only those (``train --max-samples 300`` on the captcha example: 600
    captchas instead of 21,000; 5.2 s against 56.8 s on two cores the first time).  A cached whole set is
    sliced; otherwise the training images are rendered and cached under a name that digests their numbers, and
    the test images are sliced from a cached first part at least as big, or rendered and cached as one."""
    shape = _checked_shape(n_train, n_test, height, width)
    rows = np.asarray(train_rows, dtype=np.int64).reshape(-1)
    if rows.size and (int(rows.min()) < 0 or int(rows.max()) >= n_train):
        raise ValueError(f"load_captcha_rows: training rows must be below n_train={n_train}")
    if not 0 <= test_count <= n_test:
        raise ValueError(f"load_captcha_rows: test_count must be 0..{n_test}, found {test_count}")
    whole = _read_cache(cache_path(seed, n_train, n_test, shape), n_train, n_test, shape)
    if whole is not None:
        arrays = {"x_train": whole["x_train"][rows], "y_train": whole["y_train"][rows],
                  "x_test": whole["x_test"][:test_count], "y_test": whole["y_test"][:test_count]}
    else:
        arrays = {**_training_part(rows, seed, shape), **_test_part(test_count, seed, shape)}
    return _dataset(arrays, shape, seed, f"{len(rows)} of {n_train} train / {test_count} of {n_test} test")
