"""The benchmark runs end to end on a tiny configuration and reports a well-formed result (not timings)."""
from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pytest

from nnstudio import bench
from nnstudio.errors import UserError

HAS_TORCH = importlib.util.find_spec("torch") is not None


def test_run_bench_structure_without_torch():
    out = io.StringIO()
    report = bench.run_bench(repeats=1, backend="numpy", batch_override=4, steps=1, compare_torch=False,
                             stream=out)
    assert report["backend"] == "numpy" and report["torch_version"] is None and report["repeats"] == 1
    rows = {(r["model"], r["metric"]): r for r in report["results"]}
    assert set(rows) == {("mlp", "train_samples_per_s"), ("mlp", "latency_ms"),
                         ("lenet", "train_samples_per_s"), ("lenet", "latency_ms")}
    for (model, metric), row in rows.items():
        assert row["batch"] == (4 if metric == "train_samples_per_s" else 1)
        assert row["ours"] > 0 and np.isfinite(row["ours"])
        assert row["torch"] is None and row["speed_ratio"] is None
    text = out.getvalue()
    assert "MLP 784-256-128-10" in text and "LeNet-5" in text and "not installed" in text


def test_json_output_is_the_report(capsys):
    assert bench.main(["--json", "--backend", "numpy", "--repeats", "1", "--steps", "1", "--batch", "2",
                       "--no-torch", "--models", "mlp"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["backend"] == "numpy"
    assert [r["metric"] for r in parsed["results"]] == ["train_samples_per_s", "latency_ms"]


@pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")
def test_torch_comparison_adds_figures_and_ratios():
    report = bench.run_bench(repeats=1, backend="numpy", batch_override=2, steps=1, models=("lenet",))
    assert report["torch_version"] and report["torch_device"] == "cpu"
    for row in report["results"]:
        assert row["torch"] > 0
        if row["metric"] == "latency_ms":
            assert row["speed_ratio"] == pytest.approx(row["torch"] / row["ours"])
        else:
            assert row["speed_ratio"] == pytest.approx(row["ours"] / row["torch"])
    assert "speed ratio" in bench.format_table(report)


def test_engine_and_torch_networks_have_the_same_size():
    model = bench.engine_model("lenet", np)
    assert model.output_shape == (10,)
    assert model.param_count() == 61706  # the classic LeNet-5 count with padding 2 on the first conv
    assert bench.engine_model("mlp", np).param_count() == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    if HAS_TORCH:
        import torch
        for name in bench.MODELS:
            count = sum(p.numel() for p in bench.torch_model(torch, name).parameters())
            assert count == bench.engine_model(name, np).param_count()


def test_bad_arguments(capsys):
    with pytest.raises(UserError, match="repeats"):
        bench.run_bench(repeats=0)
    with pytest.raises(UserError, match="unknown model"):
        bench.run_bench(repeats=1, models=("resnet",))
    assert bench.main(["--repeats", "0"]) == 1
    assert "repeats" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        bench.main(["--backend", "tpu"])


def test_time_calls_runs_warmup_and_fixed_steps():
    calls = []
    seconds, steps = bench.time_calls(lambda: calls.append(1), repeats=3, steps=4, target_seconds=1.0, warmup=2)
    assert steps == 4 and len(calls) == 2 + 3 * 4 and seconds >= 0


def test_module_entry_point_runs():
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "nnstudio.bench", "--backend", "numpy", "--repeats", "1",
                             "--steps", "1", "--batch", "2", "--no-torch", "--models", "mlp"],
                            capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    assert "MLP 784-256-128-10" in result.stdout and "training" in result.stdout
