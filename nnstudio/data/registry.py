"""One place to name, describe and load every dataset: built-ins, the user's digits and the user's files.

Why this exists: the GUI's dataset menu, the Input block's shape, the CLI (``--data xor``) and the trainer
all refer to datasets by name.  :func:`get_dataset` loads (and caches in memory, keyed by name, options and
the state of the files behind it); :func:`dataset_info` answers shape / classes / task without loading
the big arrays; ``"user:<path>"`` reads the user's own data (see :mod:`nnstudio.data.readers`).

Options may arrive as strings (from the command line); they are converted to the option's type, and an
unknown option or a bad value is a :class:`UserError` naming the dataset and the accepted options.
Cached datasets have read-only arrays: copy before changing them in place.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnstudio.data import captcha_digits, mnist, toy, userdigits
from nnstudio.data.dataset import Dataset, DatasetInfo
from nnstudio.data.readers import load_user_dataset
from nnstudio.errors import UserError, shown_value
from nnstudio.i18n import N_, _

USER_PREFIX = "user:"
CACHE_SIZE = 4


@dataclass(frozen=True)
class _Entry:
    name: str
    description: str
    load: Callable[..., Dataset]
    info: Callable[..., DatasetInfo]
    options: dict[str, Any] = field(default_factory=dict)  # option -> type, or a converter (value, dataset)
    state: Callable[[], object] = lambda: None  # changes when the files behind the dataset change
    listed: Callable[[], bool] = lambda: True
    # Made sample by sample, slowly (captchas: 4 ms each): (n_train, n_test) of the options, and a loader of part
    # of the set, (train_rows, test_count, **options), so a run limited to fewer samples makes only those.
    sizes: Callable[..., tuple[int, int]] | None = None
    load_rows: Callable[..., Dataset] | None = None


def _file_state(path: Path | None) -> object:
    if path is None or not path.exists():
        return None
    st = path.stat()
    return (str(path), st.st_size, st.st_mtime_ns)


def _tree_state(path: Path) -> object:
    try:
        return _tree_state_of(path)
    except (OSError, ValueError):  # unreadable, or not a valid path at all: the reader says which
        return None


def _tree_state_of(path: Path) -> object:
    if path.is_file():
        return _file_state(path)
    if not path.is_dir():
        return None
    entries = []
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                st = os.stat(os.path.join(root, f))
            except OSError:  # a broken link or a file removed meanwhile: the reader names it if it matters
                continue
            entries.append((os.path.relpath(os.path.join(root, f), path), st.st_size, st.st_mtime_ns))
    return tuple(sorted(entries))


def _toy_entry(name: str) -> _Entry:
    classes = toy.num_classes_of(name)
    info = DatasetInfo(name, toy.sample_shape_of(name), classes, "classification" if classes else "regression",
                       toy.TOY_DESCRIPTIONS[name])

    def checked_info(**options: Any) -> DatasetInfo:
        toy.resolve_options(name, **options)  # bad options are reported by `check`, before any loading
        return info

    return _Entry(name, toy.TOY_DESCRIPTIONS[name],
                  load=lambda **o: toy.make_toy(name, **o), info=checked_info,
                  options={"n_train": int, "n_test": int, "noise": float, "seed": int, "points": int,
                           "train_ratio": float, "added_points": toy.parse_added_points})


def _captcha_info(height: int = captcha_digits.DEFAULT_SHAPE[0], width: int = captcha_digits.DEFAULT_SHAPE[1],
                  **_: Any) -> DatasetInfo:
    return DatasetInfo("captcha", (1, int(height), int(width)), 10, "multi_digit", CAPTCHA_TEXT)


MNIST_TEXT = N_("Handwritten digits 0-9, 28x28 gray (10,000 shipped; 70,000 after download)")
FASHION_TEXT = N_("Clothing images in 10 classes, 28x28 gray (70,000; download once)")
CAPTCHA_TEXT = N_("4-digit captcha images, 40x100 gray, read as 4 digits (generated)")
MYDIGITS_TEXT = N_("Your own handwritten digits, saved from the drawing canvas")

_ENTRIES: dict[str, _Entry] = {
    "mnist": _Entry("mnist", MNIST_TEXT, load=mnist.load_mnist,
                    info=lambda **o: DatasetInfo("mnist", (1, 28, 28), 10, "classification", MNIST_TEXT),
                    options={"variant": str}, state=lambda: _file_state(mnist.full_mnist_dir())),
    "fashion-mnist": _Entry("fashion-mnist", FASHION_TEXT, load=mnist.load_fashion_mnist,
                            info=lambda **o: DatasetInfo("fashion-mnist", (1, 28, 28), 10, "classification",
                                                         FASHION_TEXT, available=mnist.fashion_dir() is not None),
                            state=lambda: _file_state(mnist.fashion_dir())),
    "captcha": _Entry("captcha", CAPTCHA_TEXT, load=captcha_digits.load_captcha, info=_captcha_info,
                      options={"n_train": int, "n_test": int, "seed": int, "height": int, "width": int},
                      sizes=captcha_digits.sizes, load_rows=captcha_digits.load_captcha_rows),
    **{name: _toy_entry(name) for name in toy.TOY_NAMES},
    "mydigits": _Entry("mydigits", MYDIGITS_TEXT, load=userdigits.load_mydigits,
                       info=lambda **o: DatasetInfo("mydigits", (1, 28, 28), 10, "classification", MYDIGITS_TEXT,
                                                    available=userdigits.count_digits() > 0),
                       state=lambda: _file_state(userdigits.digits_path()),
                       listed=lambda: userdigits.count_digits() > 0),
}
USER_OPTIONS = {"test_fraction": float, "seed": int, "label_column": str, "size": int, "color": str}

_cache: OrderedDict[tuple, Dataset] = OrderedDict()
_lock = threading.Lock()


def list_datasets() -> list[tuple[str, str]]:
    """(name, description) of every dataset that can be chosen now (``mydigits`` once it has digits)."""
    out = []
    for entry in _ENTRIES.values():
        if not entry.listed():
            continue
        note = "" if entry.info().available else _(" - not on this computer yet")
        out.append((entry.name, _(entry.description) + note))  # in the interface's language where translated
    return out


class UnknownDataset(UserError):
    """A dataset name that is neither a built-in nor the path of the user's own data."""


def _entry(name: str) -> _Entry:
    if name in _ENTRIES:
        return _ENTRIES[name]
    names = ", ".join(_ENTRIES)
    raise UnknownDataset(_("unknown dataset {name}; choose one of {names}, or the path of your own data (a folder "
                           "of IDX files or class sub-folders, a .npz or a .csv; user:<path> also works)").format(
        name=repr(name), names=names))


def user_path(name: str) -> Path | None:
    """The path of the user's own data that ``name`` gives, or None for a built-in dataset's name.

    ``user:<path>`` always names a path.  Without the prefix, a name that is not a built-in dataset and
    looks like a path (it has a folder separator, starts with ``~``, ends in ``.npz`` / ``.csv`` or exists
    on disk) is one too, so ``--dataset ./my_folder`` and ``--dataset digits.npz`` work as typed.
    """
    if name.startswith(USER_PREFIX):
        if not name[len(USER_PREFIX):].strip():  # "user:" alone would read the current folder
            raise UserError(f"dataset {name!r} names no file or folder; expected user:<path>")
        return Path(name[len(USER_PREFIX):]).expanduser()
    if name in _ENTRIES or not name:
        return None
    looks_like_path = ("/" in name or os.sep in name or name.startswith("~")
                       or Path(name).suffix.lower() in (".npz", ".csv"))
    try:
        exists = Path(name).expanduser().exists()
    except (OSError, ValueError):  # a name too long for the system, or with a NUL character
        exists = False
    return Path(name).expanduser() if looks_like_path or exists else None


def _convert(dataset: str, options: dict[str, Any], types: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in options.items():
        if key not in types:
            accepted = ", ".join(sorted(types)) or "none"
            raise UserError(f"dataset '{dataset}': unknown option {key!r}; accepted options: {accepted}")
        kind = types[key]
        if value is None:  # "not given": the loader's default applies
            continue
        if not isinstance(kind, type):  # a converter that checks the value itself (toy added_points)
            out[key] = kind(value, dataset)
            continue
        if isinstance(value, kind) and not isinstance(value, bool):
            out[key] = value
            continue
        try:
            if kind is int and isinstance(value, float) and not value.is_integer():
                raise ValueError
            out[key] = kind(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: a 400-digit whole number for a float
            raise UserError(f"dataset '{dataset}': option {key} must be {kind.__name__}, found "
                            f"{shown_value(value)}") from None
    return out


def get_dataset(name: str, **options: Any) -> Dataset:
    """Load dataset ``name`` (cached in memory); unknown names raise UserError listing the choices."""
    path = user_path(name)
    if path is not None:
        name = name if name.startswith(USER_PREFIX) else USER_PREFIX + name
        opts = _convert(name, options, USER_OPTIONS)
        key = (name, tuple(sorted(opts.items())), _tree_state(path))
        return _cached(key, lambda: load_user_dataset(path, name=name, **opts))
    entry = _entry(name)
    opts = _convert(name, options, entry.options)
    key = (name, tuple(sorted(opts.items())), entry.state())
    return _cached(key, lambda: entry.load(**opts))


def generated_sizes(name: str, **options: Any) -> tuple[int, int] | None:
    """(n_train, n_test) of a dataset made sample by sample (see :func:`get_dataset_rows`), None for others."""
    entry = None if user_path(name) is not None else _entry(name)
    if entry is None or entry.sizes is None:
        return None
    return entry.sizes(**_convert(name, options, entry.options))


def get_dataset_rows(name: str, train_rows: Any, test_count: int, **options: Any) -> Dataset:
    """Part of a dataset made sample by sample (:func:`generated_sizes` is not None): the training samples
    ``train_rows`` (sorted row numbers) and the first ``test_count`` test samples of what :func:`get_dataset`
    gives with the same options, without making the rest.  Not kept in the in-memory cache."""
    entry = _entry(name)
    if entry.load_rows is None:
        raise ValueError(f"dataset {name!r} is not made sample by sample")
    return entry.load_rows(train_rows, int(test_count), **_convert(name, options, entry.options)).freeze()


def _cached(key: tuple, load: Callable[[], Dataset]) -> Dataset:
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    dataset = load().freeze()
    with _lock:
        stale = [k for k in _cache if k[0] == key[0] and k[1] == key[1]]  # same dataset, older files
        for k in stale:
            del _cache[k]
        _cache[key] = dataset
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return dataset


def dataset_info(name: str, **options: Any) -> DatasetInfo:
    """Sample shape, number of classes and task, without loading a built-in's arrays.

    For ``user:<path>`` data the files are read (and cached), since only they say what they hold.
    """
    if user_path(name) is not None:
        return get_dataset(name, **options).info()
    entry = _entry(name)
    return entry.info(**_convert(name, options, entry.options))


def clear_cache() -> None:
    with _lock:
        _cache.clear()
