"""Captcha set: reproducible from the seed, labels (N, 4), cached on disk, and the digits are visible."""
from __future__ import annotations

import os
import random
import secrets
import subprocess
import sys
import time
from pathlib import Path

import captcha.image
import numpy as np
import pytest

from nnstudio.data import captcha_digits, get_dataset
from nnstudio.data.captcha_digits import cache_path, generate_captchas, load_captcha
from nnstudio.errors import UserError


def test_generation_is_deterministic_and_restores_global_state():
    random.seed(123)
    expected_next = random.random()
    random.seed(123)
    a_x, a_y = generate_captchas(6, seed=3, split="train")
    assert random.random() == expected_next  # Python's global random state is left as it was
    assert captcha.image.secrets is secrets  # the package's own module is put back
    b_x, b_y = generate_captchas(6, seed=3, split="train")
    np.testing.assert_array_equal(a_x, b_x)
    np.testing.assert_array_equal(a_y, b_y)
    c_x, _ = generate_captchas(6, seed=4, split="train")
    assert not np.array_equal(a_x, c_x)
    # Sample i does not depend on how many are generated.
    d_x, d_y = generate_captchas(3, seed=3, split="train")
    np.testing.assert_array_equal(d_x, a_x[:3])
    np.testing.assert_array_equal(d_y, a_y[:3])


def test_dataset_shapes_labels_and_ink():
    ds = get_dataset("captcha", n_train=16, n_test=4, seed=1)
    assert ds.task == "multi_digit" and ds.num_classes == 10 and ds.sample_shape == (1, 40, 100)
    assert ds.x_train.shape == (16, 1, 40, 100) and ds.x_train.dtype == np.float32
    assert ds.y_train.shape == (16, 4) and ds.y_test.shape == (4, 4) and ds.y_train.dtype == np.int64
    assert ds.y_train.min() >= 0 and ds.y_train.max() <= 9
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    # Ink is bright on a dark background, and there is ink in every image.
    assert np.median(ds.x_train) < 0.2
    assert (ds.x_train.reshape(16, -1).max(axis=1) > 0.5).all()
    assert not np.array_equal(ds.x_train[:4], ds.x_test)


def test_cache_on_disk_is_reused(monkeypatch: pytest.MonkeyPatch):
    first = load_captcha(n_train=5, n_test=2, seed=9, height=30, width=80)
    assert cache_path(9, 5, 2, (30, 80)).is_file()
    assert first.sample_shape == (1, 30, 80)

    def must_not_generate(*args, **kwargs):
        raise AssertionError("the cached arrays should have been used")

    monkeypatch.setattr(captcha_digits, "generate_captchas", must_not_generate)
    second = load_captcha(n_train=5, n_test=2, seed=9, height=30, width=80)
    np.testing.assert_array_equal(first.x_train, second.x_train)
    np.testing.assert_array_equal(first.y_test, second.y_test)


def test_damaged_cache_is_regenerated():
    path = cache_path(2, 3, 1, (40, 100))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"garbage")
    ds = load_captcha(n_train=3, n_test=1, seed=2)
    assert ds.n_train == 3
    with np.load(path) as npz:
        assert npz["x_train"].shape == (3, 40, 100)


def test_bad_options():
    with pytest.raises(UserError, match="n_train and n_test must be at least 1"):
        load_captcha(n_train=0)
    with pytest.raises(UserError, match="height must be 12..120 and width 30..300"):
        load_captcha(n_train=1, n_test=1, height=5)


def test_rendering_in_processes_gives_the_same_images():
    alone_x, alone_y = generate_captchas(7, seed=5, split="train", processes=1)
    spread_x, spread_y = captcha_digits.render_in_processes(7, 5, "train", captcha_digits.DEFAULT_SHAPE, processes=2)
    assert spread_x is not None  # the processes started (a fall-back would hide that)
    np.testing.assert_array_equal(captcha_digits._stretch_contrast(spread_x), alone_x)
    np.testing.assert_array_equal(spread_y, alone_y)
    both_x, both_y = generate_captchas(7, seed=5, split="train", processes=2)
    np.testing.assert_array_equal(both_x, alone_x)
    np.testing.assert_array_equal(both_y, alone_y)


def test_small_sets_stay_in_this_process_and_failed_workers_fall_back(monkeypatch, tmp_path):
    alone_x, alone_y = generate_captchas(5, seed=6, split="test", processes=1)

    def no_processes(*_args, **_kwargs):
        raise AssertionError("a small set was sent to other processes")

    monkeypatch.setattr(captcha_digits, "render_in_processes", no_processes)
    x, _ = generate_captchas(5, seed=6, split="test")  # fewer than PARALLEL_MIN: rendered here
    np.testing.assert_array_equal(x, alone_x)
    monkeypatch.undo()

    shape = captcha_digits.DEFAULT_SHAPE
    for command in ([sys.executable, "-c", "import sys; sys.exit(3)"],  # a worker that fails
                    [sys.executable, "-c", "pass"],  # one that exits 0 but writes nothing
                    [sys.executable, "-c", "import sys; open(sys.argv[-1], 'wb').close()"],  # an empty file
                    [sys.executable, "-c", "import sys; open(sys.argv[-1], 'wb').write(b'PK\\3\\4 cut')"],
                    [str(tmp_path / "no-such-program")]):  # one that cannot start
        monkeypatch.setattr(captcha_digits, "worker_command", lambda command=command: list(command))
        assert captcha_digits.render_in_processes(5, 6, "test", shape, 2) == (None, None)
        x, y = generate_captchas(5, seed=6, split="test", processes=2)  # rendered here instead
        np.testing.assert_array_equal(x, alone_x)
        np.testing.assert_array_equal(y, alone_y)


def test_a_worker_that_takes_too_long_is_stopped(monkeypatch):
    monkeypatch.setattr(captcha_digits, "worker_command",
                        lambda: [sys.executable, "-c", "import time; time.sleep(60)"])
    monkeypatch.setattr(captcha_digits, "WORKER_SECONDS", (1.0, 0.0))
    started = time.monotonic()
    assert captcha_digits.render_in_processes(4, 1, "train", captcha_digits.DEFAULT_SHAPE, 2) == (None, None)
    assert time.monotonic() - started < 30


def test_workers_run_in_a_folder_of_their_own(monkeypatch, tmp_path):
    """``python -m`` looks in the current folder first: an ``nnstudio`` folder there ran instead of the
    program (files in a folder the user works in must never run)."""
    marker = tmp_path / "ran"
    fake = tmp_path / "shadow" / "nnstudio"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("", encoding="utf-8")
    (fake / "__main__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n", encoding="utf-8")
    monkeypatch.chdir(fake.parent)
    x, _ = captcha_digits.render_in_processes(4, 1, "train", captcha_digits.DEFAULT_SHAPE, 2)
    assert x is not None
    assert not marker.exists()


def test_an_orphaned_worker_stops_without_writing(monkeypatch, tmp_path):
    parents = iter([100, 100, 1])  # its parent at the start, at the first check, then init: the parent died
    monkeypatch.setattr(captcha_digits.os, "getppid", lambda: next(parents))
    folder = tmp_path / "part-folder"
    folder.mkdir()
    out = folder / "part.npz"
    assert captcha_digits.worker_main(["0", "120", "1", "train", "40", "100", str(out)]) == 3
    assert not out.exists() and not folder.exists()  # and the parent's empty folder is removed


def test_the_worker_entry_point(tmp_path, capsys):
    from nnstudio.__main__ import main

    out = tmp_path / "part.npz"
    assert main([captcha_digits.WORKER_FLAG, "2", "4", "6", "test", "40", "100", str(out)]) == 0
    with np.load(out) as part:
        images, labels = captcha_digits.render(2, 4, 6, "test", (40, 100))
        np.testing.assert_array_equal(part["images"], images)
        np.testing.assert_array_equal(part["labels"], labels)
    assert main([captcha_digits.WORKER_FLAG, "2", "x"]) == 2
    assert "captcha worker:" in capsys.readouterr().err


def test_workers_do_not_run_the_main_script_again(tmp_path):
    """A process that multiprocessing spawns runs the parent's main script again first: a script loading the
    captcha data without an ``if __name__ == "__main__"`` guard ran all of itself once more in each.  The
    workers are started as ``python -m nnstudio`` instead."""
    marker = tmp_path / "runs"
    script = tmp_path / "unguarded.py"
    script.write_text(
        "import numpy as np\n"
        "from nnstudio.data import captcha_digits\n"
        f"open({str(marker)!r}, 'a').write('run\\n')\n"
        "x, y = captcha_digits.render_in_processes(4, 1, 'train', captcha_digits.DEFAULT_SHAPE, 2)\n"
        "assert x is not None and x.shape == (4, 40, 100)\n", encoding="utf-8")
    root = str(Path(captcha_digits.__file__).resolve().parents[2])
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": root})
    assert done.returncode == 0, done.stderr
    assert marker.read_text().splitlines() == ["run"]


def test_big_sets_use_one_process_per_core(monkeypatch):
    calls = []

    def spread(n, seed, split, shape, processes):
        calls.append(processes)
        return captcha_digits.render(0, n, seed, split, shape)

    monkeypatch.setattr(captcha_digits, "render_in_processes", spread)
    monkeypatch.setattr(captcha_digits, "PARALLEL_MIN", 4)
    monkeypatch.setattr(captcha_digits, "_cores", lambda: 3)
    generate_captchas(4, seed=1, split="train")
    assert calls == [3]
    monkeypatch.setattr(captcha_digits, "_cores", lambda: 1)
    generate_captchas(4, seed=1, split="train")
    assert calls == [3]  # one core: rendered here
