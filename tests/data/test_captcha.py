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
    with pytest.raises(UserError, match="n_train and n_test must be 1..1,000,000, found 0 and 1000"):
        load_captcha(n_train=0)
    # A size far too big is the same one line, also for a limited run (a traceback from the seeded pick before).
    from nnstudio.training.config import TrainingConfig
    from nnstudio.training.trainer import load_dataset

    config = TrainingConfig.from_dict({"dataset": "captcha", "dataset_options": {"n_train": 2 * 10**12},
                                       "max_train_samples": 10})
    for use in ("run", "test", "all"):
        with pytest.raises(UserError, match="must be 1..1,000,000, found 2000000000000 and 1000"):
            load_dataset(config, use)
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


def _counting_renders(monkeypatch) -> list[tuple[str, int]]:
    """(split, how many) of every captcha set rendered from now on."""
    rendered: list[tuple[str, int]] = []
    real = captcha_digits.generate_captchas

    def counted(n, seed, split, *args, **kwargs):
        rendered.append((split, n))
        return real(n, seed, split, *args, **kwargs)

    monkeypatch.setattr(captcha_digits, "generate_captchas", counted)
    return rendered


def _small_captcha_project(tmp_path: Path, **training) -> Path:
    """The captcha example with a 200 / 40 set (its own is 20,000 / 1,000)."""
    import json

    from nnstudio.cli import example_paths

    data = json.loads(example_paths()["captcha-cnn"].read_text(encoding="utf-8"))
    data["training"]["dataset_options"] = {"n_train": 200, "n_test": 40, "seed": 3}
    data["training"].update(training)
    path = tmp_path / "captcha.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_limited_training_run_makes_only_its_samples_and_learns_as_from_the_whole_set(tmp_path, monkeypatch):
    """`train --max-samples 300` on the captcha example rendered all 21,000 captchas before using 300 (47 s
    the first time).  Only the samples the run reads are made now: the same seeded pick from the whole set,
    so the weights are those of a run given the whole set, as the window (which loads it whole) trains."""
    from nnstudio.cli import main
    from nnstudio.engine.weights_io import read_weights
    from nnstudio.graph.project_file import load_project
    from nnstudio.training.config import TrainingConfig
    from nnstudio.training.trainer import Trainer

    project_path = _small_captcha_project(tmp_path, epochs=1, batch_size=8)
    rendered = _counting_renders(monkeypatch)
    out = tmp_path / "limited.npz"
    assert main(["train", str(project_path), "--max-samples", "24", "--backend", "numpy", "--no-history",
                 "--weights-out", str(out)]) == 0
    assert rendered == [("train", 24), ("test", 24)]

    # Another seed picks other samples from the whole set, as it does in the window.
    rendered.clear()
    other = tmp_path / "other.npz"
    assert main(["train", str(project_path), "--max-samples", "24", "--seed", "9", "--backend", "numpy",
                 "--no-history", "--weights-out", str(other)]) == 0
    assert rendered == [("train", 24)]  # the first 24 test captchas were made for the first run
    # So were those an evaluation of fewer scores.
    rendered.clear()
    assert main(["evaluate", str(project_path), "--weights", str(out), "--max-samples", "10", "--backend",
                 "numpy"]) == 0
    assert rendered == []

    project = load_project(project_path)
    config = TrainingConfig.from_dict(project.training).replace(max_train_samples=24, max_test_samples=24,
                                                                backend="numpy")
    whole = get_dataset("captcha", n_train=200, n_test=40, seed=3)
    assert whole.n_train == 200
    trainer = Trainer(project.graph, whole, config, "numpy")
    finished = list(trainer.run())[-1]
    assert finished.ok
    limited = read_weights(out)
    assert set(limited) == set(trainer.state_dict())
    for name, value in trainer.state_dict().items():
        np.testing.assert_array_equal(limited[name], value, err_msg=name)
    assert any(not np.array_equal(limited[k], v) for k, v in read_weights(other).items())

    # Once the whole set is cached, a limited run slices it instead of rendering.
    rendered.clear()
    assert main(["train", str(project_path), "--max-samples", "20", "--backend", "numpy", "--no-history",
                 "--weights-out", str(tmp_path / "sliced.npz")]) == 0
    assert rendered == []


def test_the_part_of_a_set_equals_the_same_rows_of_the_whole_set(monkeypatch):
    from nnstudio.data.registry import generated_sizes, get_dataset_rows
    from nnstudio.training.config import TrainingConfig
    from nnstudio.training.trainer import load_dataset, training_pool

    assert generated_sizes("captcha", n_train="70") == (70, captcha_digits.DEFAULT_SIZES[1])
    assert generated_sizes("captcha") == captcha_digits.DEFAULT_SIZES
    assert generated_sizes("xor") is None and generated_sizes("mnist") is None
    config = TrainingConfig.from_dict({"dataset": "captcha", "dataset_options": {"n_train": 70, "n_test": 9,
                                                                                 "seed": 4},
                                       "max_train_samples": 11, "max_test_samples": 5, "seed": 2})
    rendered = _counting_renders(monkeypatch)
    part = load_dataset(config, "run")
    assert rendered == [("train", 11), ("test", 5)]
    assert (part.n_train, part.n_test) == (11, 5) and "11 of 70 train / 5 of 9 test" in part.description
    rows = training_pool(70, config)
    assert len(rows) == 11 and rows.max() > 11  # a seeded pick, not the first eleven
    whole = load_dataset(config)  # "all": the whole set, whatever the limits
    assert (whole.n_train, whole.n_test) == (70, 9)
    np.testing.assert_array_equal(part.x_train, whole.x_train[rows])
    np.testing.assert_array_equal(part.y_train, whole.y_train[rows])
    np.testing.assert_array_equal(part.x_test, whole.x_test[:5])
    np.testing.assert_array_equal(part.y_test, whole.y_test[:5])
    # Rendered in worker processes, from the image numbers they are handed, the part is the same.
    spread_x, spread_y = captcha_digits.render_in_processes(len(rows), 4, "train", captcha_digits.DEFAULT_SHAPE, 2,
                                                            rows=rows)
    alone_x, alone_y = captcha_digits.render(0, len(rows), 4, "train", captcha_digits.DEFAULT_SHAPE, rows=rows)
    np.testing.assert_array_equal(spread_x, alone_x)
    np.testing.assert_array_equal(spread_y, alone_y)
    np.testing.assert_array_equal(captcha_digits._stretch_contrast(alone_x), (whole.x_train[rows, 0] * 255).round())
    # Evaluation reads test samples only; no limit, or one at the size or above, is the whole set.
    rendered.clear()
    scored = load_dataset(config, "test")
    assert (scored.n_train, scored.n_test) == (0, 5) and rendered == []  # sliced from the cached whole set
    everything = load_dataset(config.replace(max_train_samples=None, max_test_samples=None), "run")
    assert everything is whole
    # A run on every training sample, whatever its test limit, loads the whole set: one cache serves all limits.
    registry_cached = load_dataset(config.replace(max_train_samples=None, max_test_samples=3), "run")
    assert registry_cached is whole and rendered == []
    with pytest.raises(ValueError):
        get_dataset_rows("captcha", [70], 1, n_train=70, n_test=9, seed=4)
    with pytest.raises(ValueError):
        load_dataset(config, "some")


def test_evaluate_renders_no_training_captchas_and_scores_every_test_sample(tmp_path, monkeypatch, capsys):
    """Evaluation rendered the 20,000 training captchas too.  What it scores is unchanged: every test sample
    (the project's own test limit is a training setting), or as many as --max-samples says."""
    import json

    from nnstudio.cli import main
    from nnstudio.graph.compile import compile_graph
    from nnstudio.graph.project_file import load_project

    project_path = _small_captcha_project(tmp_path, max_test_samples=5)
    weights = tmp_path / "w.npz"
    compile_graph(load_project(project_path).graph, "numpy", seed=0).save_npz(weights)
    rendered = _counting_renders(monkeypatch)
    assert main(["evaluate", str(project_path), "--weights", str(weights), "--json", "--backend", "numpy"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 40
    assert rendered == [("test", 40)]
    rendered.clear()
    assert main(["evaluate", str(project_path), "--weights", str(weights), "--json", "--max-samples", "7",
                 "--backend", "numpy"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 7
    assert rendered == []  # sliced from the 40 test captchas made for the first evaluation


def test_progress_is_read_from_the_workers_without_losing_their_work(monkeypatch, tmp_path):
    """Polling a worker's part while it was still being written (an empty file) raised, and the parent then
    threw away every worker's images and rendered them all again itself."""
    empty = tmp_path / "part0.npz"
    empty.write_bytes(b"")
    assert captcha_digits._read_count(str(empty)) == 0
    (tmp_path / "part0.npz.count").write_text("50", encoding="ascii")
    assert captcha_digits._read_count(str(tmp_path / "missing.npz")) == 0
    monkeypatch.setattr(captcha_digits, "POLL_SECONDS", 0.001)
    monkeypatch.setattr(captcha_digits, "REPORT_EVERY", 2)
    ticks: list[int] = []
    spread_x, spread_y = captcha_digits.render_in_processes(12, 3, "train", captcha_digits.DEFAULT_SHAPE, 2,
                                                            tick=ticks.append)
    assert spread_x is not None, "the workers' images were thrown away"
    alone_x, alone_y = captcha_digits.render(0, 12, 3, "train", captcha_digits.DEFAULT_SHAPE)
    np.testing.assert_array_equal(spread_x, alone_x)
    assert ticks and all(0 <= t <= 12 for t in ticks)
    reported: list[tuple[int, int, str]] = []
    with captcha_digits.reporting(lambda *r: reported.append(r)):
        generate_captchas(12, seed=3, split="train", processes=2)
    assert reported[0] == (0, 12, "train") and reported[-1] == (12, 12, "train")
    generate_captchas(2, seed=3, split="train")  # outside: nothing reported
    assert reported[-1] == (12, 12, "train")


def test_the_command_line_bar_is_plain_with_json(tmp_path, monkeypatch, capsys):
    """With --json on a terminal the making of the captchas drew a bar of carriage returns; the epochs' own
    progress is plain lines there."""
    from nnstudio import progress
    from nnstudio.cli import main

    monkeypatch.setattr(progress, "is_terminal", lambda stream: True)
    project = _small_captcha_project(tmp_path, epochs=1, batch_size=8)
    assert main(["train", str(project), "--max-samples", "12", "--json", "--no-history", "--backend", "numpy",
                 "--weights-out", str(tmp_path / "w.npz")]) == 0
    assert "\r" not in capsys.readouterr().err
