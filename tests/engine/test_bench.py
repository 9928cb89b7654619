"""The benchmark: its CLI and JSON shape on tiny repeat counts (not timings), the alternating pairs, the
per-layer breakdown, and a PyTorch twin that computes what the engine computes."""
from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnstudio import bench
from nnstudio.engine.losses import get_loss
from nnstudio.errors import UserError

HAS_TORCH = importlib.util.find_spec("torch") is not None
ROW_KEYS = {"model", "metric", "batch", "ours", "torch", "speed_ratio", "ratio_min", "ratio_max"}


def test_run_bench_structure_without_torch():
    out = io.StringIO()
    report = bench.run_bench(repeats=1, backend="numpy", batch_override=4, steps=1, compare_torch=False,
                             models=("mlp", "lenet"), stream=out)
    assert report["backend"] == "numpy" and report["torch_version"] is None and report["pairs"] == 1
    rows = {(r["model"], r["metric"]): r for r in report["results"]}
    assert set(rows) == {("mlp", "train_samples_per_s"), ("mlp", "latency_ms"),
                         ("lenet", "train_samples_per_s"), ("lenet", "latency_ms")}
    for (model, metric), row in rows.items():
        assert ROW_KEYS <= set(row)
        assert row["batch"] == (4 if metric == "train_samples_per_s" else 1)
        assert row["ours"] > 0 and np.isfinite(row["ours"])
        assert row["torch"] is None and row["speed_ratio"] is None and row["ratio_min"] is None
    text = out.getvalue()
    assert "MLP 784-256-128-10" in text and "LeNet-5" in text and "engine figures only" in text


def test_examples_train_at_their_own_batch_size(capsys):
    assert bench.main(["--json", "--backend", "numpy", "--repeats", "1", "--steps", "1", "--no-torch",
                       "--model", "mnist-cnn"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert [(r["model"], r["metric"], r["batch"]) for r in parsed["results"]] == \
        [("mnist-cnn", "train_samples_per_s", 64), ("mnist-cnn", "latency_ms", 1)]
    assert all(ROW_KEYS <= set(r) for r in parsed["results"])
    setup = bench.engine_setup("captcha-cnn", np)
    assert (setup.batch, setup.optimizer, setup.model.input_shape, setup.model.output_shape) == \
        (64, "adam", (1, 40, 100), (4, 10))


def test_cpu_clock_reports_process_time(capsys, monkeypatch):
    ticks = iter(range(0, 10_000_000, 3))
    monkeypatch.setitem(bench.CLOCKS, "cpu", lambda: float(next(ticks)))
    assert bench.main(["--json", "--backend", "numpy", "--repeats", "2", "--steps", "1", "--batch", "2",
                       "--no-torch", "--model", "mlp", "--clock", "cpu"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["clock"] == "cpu"
    # Every reading of the fake clock advances it by 3 "seconds": one call timed is 3 s, so 2 samples / 3 s.
    assert parsed["results"][0]["ours"] == pytest.approx(2 / 3)
    assert bench._clock[0] is bench.time.perf_counter  # restored afterwards
    capsys.readouterr()
    assert bench.main(["--clock", "sundial"]) == 1
    assert "sundial" in capsys.readouterr().err


def test_pairs_alternate_which_side_goes_first_each_after_a_settling_pause(monkeypatch):
    calls: list[str] = []
    monkeypatch.setattr(bench.time, "sleep", lambda s: calls.append(f"({s})"))
    timing = bench.time_pairs(lambda: calls.append("o"), lambda: calls.append("t"), pairs=4, steps=1,
                              target_seconds=1e-9)
    pause = f"({bench.SETTLE_SECONDS})"
    assert bench.SETTLE_SECONDS >= 0.1  # longer than OpenBLAS's default spin after a product
    # warm-ups, then the pairs, each timed run after a pause
    assert "".join(calls) == "oo" + "tt" + ("{p}o{p}t{p}t{p}o" * 2).format(p=pause)
    assert len(timing.ours) == len(timing.theirs) == len(timing.ratios) == 4
    assert bench.PairTiming([1.0, 2.0], [2.0, 2.0]).ratios == [2.0, 1.0]


def test_layer_breakdown_names_every_layer_and_restores_them(capsys):
    assert bench.main(["--backend", "numpy", "--repeats", "1", "--steps", "2", "--batch", "2", "--no-torch",
                       "--model", "lenet", "--layers", "--json"]) == 0
    part = json.loads(capsys.readouterr().out)["layers"][0]
    setup = bench.engine_setup("lenet", np)
    assert [r["node"] for r in part["rows"]] == bench._layer_ids(setup.model)
    assert part["batch"] == 2 and part["steps"] == 2
    assert all(r["forward_ms"] >= 0 and r["backward_ms"] >= 0 for r in part["rows"])
    assert part["step_ms"] >= sum(r["forward_ms"] + r["backward_ms"] for r in part["rows"]) - 1e-9
    report = bench.run_bench(repeats=1, backend="numpy", batch_override=2, steps=1, compare_torch=False,
                             models=("mlp",), layers=True)
    assert "per layer" in bench.format_table(report) and "Dense(256)" in bench.format_table(report)
    setup = bench.engine_setup("mlp", np)
    bench.layer_times(setup, 2, 1)
    for nid in bench._layer_ids(setup.model):  # the timing wrappers are gone again
        layer = setup.model.nodes[nid].layer
        assert "forward" not in vars(layer) and "backward" not in vars(layer)


def test_layer_breakdown_says_how_a_first_convolution_made_its_columns():
    # At LeNet-5's batch of 64 its first convolution (fed by the input) times both ways in its first twelve
    # steps and keeps the faster; the breakdown names the way the timed steps went.
    setup = bench.engine_setup("lenet", np)
    part = bench.layer_times(setup, 64, 20)
    first, *others = part["rows"]
    assert first["columns"] in ("by rows", "whole") and first["layer"].endswith(f", columns {first['columns']}")
    assert (first["columns"] == "by rows") == setup.model.nodes[first["node"]].layer.rows_or_whole.latest
    assert all("columns" not in r and "columns" not in r["layer"] for r in others)


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
def test_layer_breakdown_puts_torch_times_beside_each_layer(capsys):
    import torch
    assert bench.main(["--backend", "numpy", "--repeats", "1", "--steps", "2", "--batch", "2",
                       "--model", "lenet", "--layers", "--json"]) == 0
    part = json.loads(capsys.readouterr().out)["layers"][0]
    rows = {r["node"]: r for r in part["rows"]}
    # Every node has a PyTorch twin but the softmax, which the loss absorbs on both sides.
    timed = [nid for nid, r in rows.items() if r["torch_forward_ms"] is not None]
    assert timed == [nid for nid in rows if nid != "activation12"]
    assert rows["activation12"]["torch_backward_ms"] is None
    assert all(rows[nid]["torch_forward_ms"] > 0 and rows[nid]["torch_backward_ms"] > 0 for nid in timed)
    assert part["torch_step_ms"] >= sum(rows[n]["torch_forward_ms"] + rows[n]["torch_backward_ms"]
                                        for n in timed) - 1e-9
    # The hooks come off again: a twin timed once computes as before, with no hooks left behind.
    setup = bench.engine_setup("mlp", np)
    twin = bench.TorchTwin(torch, setup.model)
    theirs = bench.torch_layer_times(torch, twin, setup, 2, 1)
    assert set(theirs["rows"]) == {"dense0", "activation1", "dense2", "activation3", "dense4"}
    for module in twin.body.modules():
        assert not module._forward_hooks and not module._forward_pre_hooks
        assert not module._backward_hooks and not module._backward_pre_hooks
    report = bench.run_bench(repeats=1, backend="numpy", batch_override=2, steps=1, models=("mlp",), layers=True)
    assert "PyTorch fwd" in bench.format_table(report)


def test_engine_and_torch_networks_have_the_same_size():
    model = bench.engine_model("lenet", np)
    assert model.output_shape == (10,)
    assert model.param_count() == 61706  # the classic LeNet-5 count with padding 2 on the first conv
    assert bench.engine_model("mlp", np).param_count() == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    if HAS_TORCH:
        import torch
        for name in bench.MODELS:
            model = bench.engine_model(name, np)
            twin = bench.TorchTwin(torch, model)
            assert sum(p.numel() for p in twin.body.parameters()) == model.param_count()


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
@pytest.mark.parametrize("name", bench.MODELS)
def test_torch_twin_computes_what_the_engine_computes(name):
    import torch
    setup = bench.engine_setup(name, np, seed=3)
    model = setup.model
    for nid in bench._layer_ids(model):  # dropout off, so training mode is deterministic on both sides
        if type(model.nodes[nid].layer).__name__ == "Dropout":
            model.nodes[nid].layer.rate = 0.0
    twin = bench.TorchTwin(torch, model)
    x, y = bench.make_data(model, 3, seed=5)
    # Evaluation: the probabilities.
    twin.body.eval()
    with torch.no_grad():
        theirs = twin.predict(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model.forward(x), theirs, rtol=1e-4, atol=1e-5)
    # Training: the loss on the logits (batch statistics in BatchNorm) and every parameter's gradient.
    twin.body.train()
    loss = get_loss("cross_entropy")
    logits = model.forward(x, training=True, logits="softmax")
    value, grad = loss.forward(logits, y, from_logits=model.loss_from_logits(loss))
    model.backward(grad)
    t_logits = twin.body(torch.from_numpy(x))
    t_loss = twin.loss(t_logits, torch.from_numpy(y))
    t_loss.backward()
    assert value == pytest.approx(t_loss.item(), rel=1e-4)
    ours = [g for _, _, g in model.parameters()]
    theirs = [p.grad.numpy() for p in twin.body.parameters()]
    assert len(ours) == len(theirs)
    for g, t in zip(ours, theirs):
        t = t.T if g.ndim == 2 else t  # Dense keeps W as (in, out), torch's Linear as (out, in)
        np.testing.assert_allclose(g, t, rtol=2e-3, atol=2e-5)


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
def test_torch_comparison_adds_figures_and_ratio_ranges():
    report = bench.run_bench(repeats=3, backend="numpy", batch_override=2, steps=1, models=("lenet",))
    assert report["torch_version"] and report["torch_device"] == "cpu"
    for row in report["results"]:
        assert row["torch"] > 0
        assert row["ratio_min"] <= row["speed_ratio"] <= row["ratio_max"]
    text = bench.format_table(report)
    assert "speed ratio" in text and "alternating pair" in text


def test_bad_arguments(capsys):
    with pytest.raises(UserError, match="repeats"):
        bench.run_bench(repeats=0)
    with pytest.raises(UserError, match="unknown model"):
        bench.run_bench(repeats=1, models=("resnet",))
    assert bench.main(["--repeats", "0"]) == 1
    assert "repeats" in capsys.readouterr().err
    assert bench.main(["--seconds", "0", "--model", "mlp"]) == 1
    assert bench.main(["--models", "mlp,resnet"]) == 1
    assert "resnet" in capsys.readouterr().err
    capsys.readouterr()
    for argv in (["--backend", "tpu"], ["--model", "resnet"], ["--nope"]):  # one line and exit 1, like the CLI
        assert bench.main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "nnstudio bench --help" in err, err


def test_out_of_memory_and_ctrl_c_are_one_line(capsys, monkeypatch):
    def fail(exc):
        def run(*args, **kwargs):
            raise exc
        return run
    monkeypatch.setattr(bench, "run_bench", fail(MemoryError()))
    assert bench.main(["--batch", "100000000"]) == 1
    assert capsys.readouterr().err == "nnstudio bench: out of memory (batch 100000000); try a smaller --batch\n"
    monkeypatch.setattr(bench, "run_bench", fail(KeyboardInterrupt()))
    assert bench.main([]) == 130
    assert capsys.readouterr().err == "nnstudio bench: interrupted\n"


def test_module_entry_point_runs():
    result = subprocess.run([sys.executable, "-m", "nnstudio.bench", "--backend", "numpy", "--repeats", "1",
                             "--steps", "1", "--batch", "2", "--no-torch", "--model", "mlp"],
                            capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    assert "MLP 784-256-128-10" in result.stdout and "training" in result.stdout
