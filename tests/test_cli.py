"""The command line, run in-process through ``main(argv)``: every subcommand, exit codes, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from nnstudio.cli import main, one_line
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, save_project

SUBCOMMANDS = ("gui", "examples", "new", "check", "train", "evaluate", "predict", "bench", "data")


def _graph(shape: list[int], layers: list[tuple[str, dict]]) -> Graph:
    nodes = [{"id": "in", "type": "Input", "params": {"shape": shape}, "position": [0, 0]}]
    edges, prev = [], "in"
    for i, (kind, params) in enumerate(layers, start=1):
        nodes.append({"id": f"n{i}", "type": kind, "params": params, "position": [150 * i, 0]})
        edges.append({"from": prev, "to": f"n{i}"})
        prev = f"n{i}"
    return Graph.from_dict({"nodes": nodes, "edges": edges})


@pytest.fixture
def moons_project(tmp_path: Path) -> Path:
    graph = _graph([2], [("Dense", {"units": 16}), ("Activation", {"function": "tanh"}), ("Dense", {"units": 2}),
                         ("Activation", {"function": "softmax"})])
    project = Project(name="moons net", graph=graph,
                      training={"dataset": "moons", "loss": "cross_entropy", "optimizer": "adam",
                                "learning_rate": 0.02, "batch_size": 32, "epochs": 8, "validation_split": 0.1})
    path = tmp_path / "moons.nnproj"
    save_project(project, path)
    return path


@pytest.fixture
def image_project(tmp_path: Path) -> Path:
    graph = _graph([1, 8, 8], [("Dense", {"units": 3}), ("Activation", {"function": "softmax"})])
    project = Project(name="images", graph=graph, training={"dataset": "mnist", "validation_split": 0.0})
    path = tmp_path / "images.nnproj"
    save_project(project, path)
    return path


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *fragments: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in err


# -- train / evaluate / predict ---------------------------------------------------------------------------

def test_train_prints_epochs_and_saves_weights(moons_project, capsys):
    code, out, err = run(["train", str(moons_project)], capsys)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert [line.split(":")[0] for line in lines[:8]] == [f"epoch {i}/8" for i in range(1, 9)]
    assert "validation loss" in lines[0] and "acc" in lines[0]
    assert lines[-1].startswith("test: loss") and "accuracy" in lines[-1]
    weights = moons_project.with_name("moons.weights.npz")  # the default: beside the project
    assert weights.exists() and f"weights saved to {weights}" in err
    assert set(np.load(weights).files) == {"n1/W", "n1/b", "n3/W", "n3/b"}


def test_train_json_and_evaluate_agree(moons_project, tmp_path, capsys):
    weights = tmp_path / "w.npz"
    code, out, err = run(["train", str(moons_project), "--epochs", "3", "--json", "--weights-out", str(weights)], capsys)
    assert code == 0, err
    records = [json.loads(line) for line in out.strip().splitlines()]
    assert [r.get("epoch") for r in records[:3]] == [1, 2, 3]
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "seconds"} <= set(records[0])
    final = records[-1]
    assert final["final"] is True and final["reason"] == "completed" and final["epochs_done"] == 3
    assert 0.5 <= final["test_acc"] <= 1.0 and final["weights"] == str(weights)
    code, out, err = run(["evaluate", str(moons_project), "--weights", str(weights), "--json"], capsys)
    assert code == 0, err
    result = json.loads(out)
    assert result["accuracy"] == pytest.approx(final["test_acc"])
    assert result["loss"] == pytest.approx(final["test_loss"], rel=1e-5)
    assert np.array(result["confusion"]).sum() == result["n"] == 200
    code, out, err = run(["evaluate", str(moons_project), "--weights", str(weights)], capsys)
    assert code == 0 and "accuracy: " in out and "true \\ predicted" in out
    # in Chinese, every line of it (it was all English)
    code, out, err = run(["--lang", "zh", "evaluate", str(moons_project), "--weights", str(weights)], capsys)
    assert code == 0 and "准确率：" in out and "真实 \\ 预测" in out and "test samples" not in out, out


def test_evaluate_predict_and_explain_find_the_projects_own_weights(moons_project, tmp_path, capsys):
    """As export does: PROJECT.weights.npz beside the project, where train and the app save them."""
    from nnstudio.graph.project_file import weights_path_for
    own = weights_path_for(moons_project)
    assert not own.exists()
    for command in (["evaluate", str(moons_project)], ["predict", str(moons_project), str(tmp_path / "x.npy")]):
        code, out, err = run(command, capsys)
        assert code == 1 and err.count("\n") == 1 and "no trained weights" in err and str(own.name) in err, err
    code, _, err = run(["train", str(moons_project), "--epochs", "1", "--no-history"], capsys)
    assert code == 0 and own.is_file(), err
    code, out, err = run(["evaluate", str(moons_project), "--json"], capsys)
    assert code == 0 and json.loads(out)["n"] == 200, err


def test_train_continues_from_weights(moons_project, tmp_path, capsys):
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    assert run(["train", str(moons_project), "--epochs", "4", "--json", "--weights-out", str(first)], capsys)[0] == 0
    code, out, _ = run(["train", str(moons_project), "--epochs", "1", "--json", "--weights-in", str(first),
                        "--weights-out", str(second)], capsys)
    assert code == 0
    fresh_code, fresh, _ = run(["train", str(moons_project), "--epochs", "1", "--json", "--weights-out",
                                str(tmp_path / "c.npz")], capsys)
    continued = json.loads(out.splitlines()[0])["train_loss"]
    assert continued < json.loads(fresh.splitlines()[0])["train_loss"]


def test_train_mnist_slice_with_max_samples(tmp_path, capsys):
    example = Path(__file__).resolve().parents[1] / "resources" / "examples" / "softmax-regression.json"
    code, out, err = run(["train", str(example), "--epochs", "5", "--max-samples", "300", "--json",
                          "--weights-out", str(tmp_path / "w.npz")], capsys)
    assert code == 0, err
    final = json.loads(out.strip().splitlines()[-1])
    assert final["test_acc"] > 0.6  # 5 short epochs on 285 digits already beat chance (10%) by far
    assert "285 training / 15 validation / 300 test" in err


def test_train_nan_exits_1_and_keeps_weights(tmp_path, capsys):
    hidden = [("Dense", {"units": 64}), ("Activation", {"function": "relu"})] * 6
    graph = _graph([2], hidden + [("Dense", {"units": 2}), ("Activation", {"function": "softmax"})])
    path = tmp_path / "boom.nnproj"
    save_project(Project(name="boom", graph=graph, training={
        "dataset": "moons", "optimizer": "momentum", "learning_rate": 1.0, "batch_size": 32, "epochs": 20}), path)
    with np.errstate(all="ignore"):
        code, out, err = run(["train", str(path), "--weights-out", str(tmp_path / "w.npz")], capsys)
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "loss became NaN at epoch" in errors[0]
    # A failed run never writes the weights file; its last good weights go beside it.
    assert not (tmp_path / "w.npz").exists() and "w.lastgood.npz" in errors[0]
    weights = np.load(tmp_path / "w.lastgood.npz")
    assert all(np.isfinite(weights[k]).all() for k in weights.files)


def test_predict_npy_batch_json(moons_project, tmp_path, capsys):
    weights = tmp_path / "w.npz"
    assert run(["train", str(moons_project), "--epochs", "2", "--json", "--weights-out", str(weights)], capsys)[0] == 0
    x = np.array([[0.5, 0.1], [-0.7, 0.3], [0.0, 0.0]], dtype=np.float32)
    batch, single = tmp_path / "batch.npy", tmp_path / "one.npy"
    np.save(batch, x)
    np.save(single, x[0])
    code, out, err = run(["predict", str(moons_project), "--weights", str(weights), str(batch), str(single),
                          "--json"], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert [r["input"] for r in rows] == [f"{batch}[0]", f"{batch}[1]", f"{batch}[2]", str(single)]
    from nnstudio.predictor import load_project_model
    model = load_project_model(moons_project, weights)
    expected = model.predict(x)
    for row, probs in zip(rows, list(expected) + [expected[0]]):
        assert row["predicted"] == int(np.argmax(probs))
        assert row["probabilities"] == pytest.approx(probs.tolist(), abs=1e-5)
    code, out, _ = run(["predict", str(moons_project), "--weights", str(weights), str(batch)], capsys)
    assert code == 0 and len(out.strip().splitlines()) == 3 and out.startswith(f"{batch}[0]: ")


def test_predict_png_files(image_project, tmp_path, capsys):
    from PIL import Image

    from nnstudio.data.drawing import load_image_as_input
    from nnstudio.graph.compile import compile_graph
    from nnstudio.graph.project_file import load_project

    project = load_project(image_project)
    model = compile_graph(project.graph, "numpy", seed=3)
    weights = tmp_path / "w.npz"
    model.save_npz(weights)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(40):
        p = tmp_path / f"img{i:02d}.png"
        Image.fromarray(rng.integers(0, 256, size=(16, 16), dtype=np.uint8)).save(p)
        paths.append(str(p))
    code, out, err = run(["predict", str(image_project), "--weights", str(weights), *paths, "--json"], capsys)
    assert code == 0, err
    rows = [json.loads(line) for line in out.strip().splitlines()]
    assert [r["input"] for r in rows] == paths
    x = np.stack([load_image_as_input(p, (1, 8, 8)) for p in paths])
    expected = model.predict(x)
    assert [r["predicted"] for r in rows] == expected.argmax(axis=1).tolist()
    assert np.allclose([r["probabilities"] for r in rows], expected, atol=1e-5)


def test_predict_rejects_bad_inputs(moons_project, tmp_path, capsys):
    weights = tmp_path / "w.npz"
    from nnstudio.graph.compile import compile_graph
    from nnstudio.graph.project_file import load_project
    compile_graph(load_project(moons_project).graph, "numpy").save_npz(weights)
    bad = tmp_path / "bad.npy"
    np.save(bad, np.zeros((4, 3), dtype=np.float32))
    code, _, err = run(["predict", str(moons_project), "--weights", str(weights), str(bad)], capsys)
    assert code == 1
    assert_one_line_error(err, "bad.npy", "(4, 3)", "(2,)")
    code, _, err = run(["predict", str(moons_project), "--weights", str(weights), str(tmp_path / "notes.txt")], capsys)
    assert code == 1
    assert_one_line_error(err, "notes.txt", ".npy")
    code, _, err = run(["predict", str(moons_project), "--weights", str(tmp_path / "missing.npz"), str(bad)], capsys)
    assert code == 1
    assert_one_line_error(err, "missing.npz", "does not exist")


# -- check / examples / new -------------------------------------------------------------------------------

def test_check_valid_project(moons_project, capsys):
    code, out, err = run(["check", str(moons_project)], capsys)
    assert code == 0, err
    assert "node" in out and "output shape" in out and "parameters" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.split() and line.split()[0] in
             ("in", "n1", "n2", "n3", "n4")}
    assert "(16,)" in lines["n1"] and lines["n1"].split()[-1] == "48"
    assert "(2,)" in lines["n4"] and lines["n4"].split()[-1] == "0"
    assert "total parameters: 82" in out and "the network is valid" in out


def test_check_invalid_project_exits_1_with_messages(tmp_path, capsys):
    graph = _graph([2], [("Conv2D", {"filters": 2, "kernel_size": 3}), ("Dense", {"units": 2})])
    path = tmp_path / "bad.nnproj"
    save_project(Project(name="bad", graph=graph, training={"dataset": "moons"}), path)
    code, out, err = run(["check", str(path)], capsys)
    assert code == 1
    assert "Conv2D 'n1'" in err and "channels, height, width" in err and "Traceback" not in err


def test_check_against_another_dataset(moons_project, capsys):
    code, out, err = run(["check", str(moons_project), "--dataset", "linear"], capsys)
    assert code == 1 and "(1,)" in err and "(2,)" in err


def test_examples_lists_every_example_in_both_languages(capsys):
    code, out, _ = run(["examples"], capsys)
    assert code == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert {"perceptron-and", "mnist-cnn", "captcha-cnn", "vanishing-gradients"} <= set(names)
    code, zh, _ = run(["examples", "--lang", "zh"], capsys)
    assert code == 0 and any("\u4e00" <= ch <= "\u9fff" for ch in zh)
    assert len(zh.splitlines()) == len(out.splitlines())


def test_new_from_example(tmp_path, capsys):
    target = tmp_path / "mine.nnproj"
    code, out, _ = run(["new", "mlp-xor", "-o", str(target)], capsys)
    assert code == 0 and target.exists() and "mlp-xor" in out
    code, _, err = run(["new", "mlp-xor", "-o", str(target)], capsys)
    assert code == 1
    assert_one_line_error(err, "already exists", "--force")
    assert run(["new", "mlp-xor", "-o", str(target), "--force"], capsys)[0] == 0
    code, _, err = run(["new", "no-such-example", "-o", str(tmp_path / "x.nnproj")], capsys)
    assert code == 1
    assert_one_line_error(err, "no-such-example", "mlp-xor")


# -- errors -------------------------------------------------------------------------------------------------

def test_missing_project_is_one_line(tmp_path, capsys):
    code, out, err = run(["train", str(tmp_path / "nope.nnproj")], capsys)
    assert code == 1 and out == ""
    assert_one_line_error(err, "nope.nnproj", "does not exist")


def test_bad_arguments_are_one_line(moons_project, capsys):
    code, _, err = run(["train", str(moons_project), "--epochs", "many"], capsys)
    assert code == 1
    assert_one_line_error(err, "--epochs", "many")
    code, _, err = run(["frobnicate"], capsys)
    assert code == 1
    assert_one_line_error(err, "frobnicate")
    code, _, err = run(["train", str(moons_project), "--epochs", "0"], capsys)
    assert code == 1
    assert_one_line_error(err, "epochs", "0")
    code, _, err = run(["train", str(moons_project), "--dataset", "nosuchdata"], capsys)
    assert code == 1
    assert_one_line_error(err, "nosuchdata")


def test_multi_line_messages_become_one_line():
    assert one_line("the network cannot be built (2 problems):\nfirst\nsecond") == \
        "the network cannot be built (2 problems): first; second"


def test_help_and_version(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0 and all(name in out for name in SUBCOMMANDS)
    code, out, _ = run(["train", "--help"], capsys)
    assert code == 0 and "--weights-out" in out and "--max-samples" in out and "--json" in out
    code, out, _ = run(["--version"], capsys)
    assert code == 0 and out.startswith("nnstudio ")


def test_python_dash_m_help():
    result = subprocess.run([sys.executable, "-m", "nnstudio", "--help"], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 0, result.stderr
    assert "usage: nnstudio" in result.stdout and all(name in result.stdout for name in SUBCOMMANDS)


# -- delegation: gui, bench, data, self-test ---------------------------------------------------------------

def test_gui_is_launched_lazily(monkeypatch, capsys):
    calls = []
    fake = types.ModuleType("nnstudio.ui.app")
    fake.run_gui = lambda path=None: calls.append(path) or 0
    monkeypatch.setitem(sys.modules, "nnstudio.ui.app", fake)
    assert main([]) == 0 and main(["gui", "p.nnproj"]) == 0
    assert calls == [None, "p.nnproj"]


def test_bench_gets_its_arguments(monkeypatch):
    import nnstudio.bench
    seen = []
    monkeypatch.setattr(nnstudio.bench, "main", lambda argv=None: seen.append(argv) or 0)
    assert main(["bench", "--json", "--repeats", "1"]) == 0
    assert seen == [["--json", "--repeats", "1"]]


def test_data_list_and_download(monkeypatch, tmp_path, capsys):
    code, out, _ = run(["data", "list"], capsys)
    assert code == 0 and {"mnist", "xor", "spiral"} <= {line.split()[0] for line in out.splitlines()}
    import nnstudio.data.download as download

    def fake_download(name, progress=None, **kw):
        for done in (0, 500_000, 1_000_000):
            progress(done, 1_000_000, "train-images-idx3-ubyte.gz")
        return tmp_path / name

    monkeypatch.setattr(download, "download", fake_download)
    code, out, err = run(["data", "download", "mnist"], capsys)
    assert code == 0 and "mnist is ready" in out and "train-images-idx3-ubyte.gz" in err
    code, _, err = run(["data"], capsys)
    assert code == 1 and err.startswith("error: ")


def test_self_test_flag(monkeypatch, capsys):
    fake = types.ModuleType("nnstudio.selftest")
    fake.main = lambda: 0
    monkeypatch.setitem(sys.modules, "nnstudio.selftest", fake)
    assert main(["--self-test"]) == 0
    monkeypatch.setitem(sys.modules, "nnstudio.selftest", None)  # not in this build
    import nnstudio
    monkeypatch.delattr(nnstudio, "selftest", raising=False)  # an earlier test may have imported the real one
    code, _, err = run(["--self-test"], capsys)
    assert code == 1
    assert_one_line_error(err, "self-test")


def test_ctrl_c_outside_a_training_loop_is_one_line(tmp_path, monkeypatch, capsys):
    """Ctrl-C while `train` made the captcha example's dataset (45 s the first time) printed a traceback."""
    from nnstudio.training import trainer

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer, "load_dataset", interrupted)
    from nnstudio.cli import example_paths

    out = tmp_path / "w.npz"
    assert main(["train", str(example_paths()["mlp-xor"]), "--weights-out", str(out), "--no-history"]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "error: interrupted by Ctrl-C" and not out.exists()


def test_an_unknown_dataset_names_the_file_and_the_field(moons_project, tmp_path, capsys):
    data = json.loads(Path(moons_project).read_text())
    data["training"]["dataset"] = "nosuch"
    bad = tmp_path / "bad.nnproj"
    bad.write_text(json.dumps(data))
    for command in (["train", str(bad)], ["check", str(bad)]):
        code, _out, err = run(command, capsys)
        assert code == 1 and err.count("\n") == 1, err
        assert f"{bad}: " in err and "unknown dataset 'nosuch'" in err, err
    code, _out, err = run(["train", str(bad)], capsys)
    assert "training.dataset" in err


def test_a_network_too_big_for_the_memory_is_one_line(moons_project, tmp_path, capsys, monkeypatch):
    """Layer outputs of 100 GB (a few parameters, huge activations): predict, explain and evaluate printed a
    MemoryError traceback; train ends such a run with its own message."""
    code, _, err = run(["train", str(moons_project), "--epochs", "1", "--no-history"], capsys)
    assert code == 0, err
    from nnstudio.engine.layers import dense

    def too_big(self, x, training=False):
        raise MemoryError("Unable to allocate 98.8 GiB for an array with shape (64, 1024, 318, 318)")

    monkeypatch.setattr(dense.Dense, "forward", too_big)
    np.save(tmp_path / "x.npy", np.zeros((3, 2), np.float32))
    for command in (["evaluate", str(moons_project)], ["predict", str(moons_project), str(tmp_path / "x.npy")],
                    ["explain", str(moons_project), str(tmp_path / "x.npy"), "-o", str(tmp_path / "maps")]):
        code, _out, err = run(command, capsys)
        assert code == 1 and err.count("\n") == 1, err
        assert "not enough memory" in err and "98.8 GiB" in err and str(moons_project) in err, err


def test_a_hostile_sweep_value_is_one_short_line(moons_project, capsys):
    """A value 100,000 brackets deep gave a RecursionError traceback, then an error line of 100 KB."""
    code, _out, err = run(["sweep", str(moons_project), "--set", "learning_rate=" + "[" * 100000], capsys)
    assert code == 1 and err.count("\n") == 1 and len(err) <= 2100, len(err)
    assert "learning_rate" in err and "must be a number" in err


def test_a_dataset_named_on_the_command_line_is_not_blamed_on_the_project(moons_project, capsys):
    code, _out, err = run(["train", str(moons_project), "--dataset", "bogus"], capsys)
    assert code == 1 and "unknown dataset 'bogus'" in err
    assert "training.dataset" not in err and str(moons_project) not in err, err


def test_evaluate_says_there_are_no_weights_before_making_any_data(moons_project, capsys, monkeypatch):
    """--weights used to be required (argparse said so at once); its default is looked for before the dataset,
    which for the captcha example may take a minute to make."""
    import nnstudio.cli as cli
    monkeypatch.setattr(cli, "_dataset", lambda *a, **k: pytest.fail("the data was made first"))
    code, _out, err = run(["evaluate", str(moons_project)], capsys)
    assert code == 1 and "no trained weights" in err


def test_explain_names_a_file_in_the_way_of_its_folder(moons_project, tmp_path, capsys):
    code, _, err = run(["train", str(moons_project), "--epochs", "1", "--no-history"], capsys)
    assert code == 0, err
    np.save(tmp_path / "x.npy", np.zeros((1, 2), np.float32))
    (tmp_path / "afile").write_text("keep")
    code, _out, err = run(["explain", str(moons_project), str(tmp_path / "x.npy"), "-o",
                           str(tmp_path / "afile" / "maps")], capsys)
    assert code == 1 and err.count("\n") == 1 and "afile' is a file, not a folder" in err, err


def test_running_out_of_memory_outside_the_network_says_so_plainly(moons_project, capsys, monkeypatch):
    import nnstudio.cli as cli

    def no_memory(*_args, **_kwargs):
        raise MemoryError("Unable to allocate 40 GiB")

    monkeypatch.setattr(cli, "_load_project", no_memory)
    code, _out, err = run(["check", str(moons_project)], capsys)
    assert code == 1 and err.count("\n") == 1 and "not enough memory (Unable to allocate 40 GiB)" in err, err
    assert "layer outputs" not in err
