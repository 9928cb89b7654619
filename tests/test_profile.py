"""Per-layer costs (nnstudio.profile) checked against LeNet-5 figures worked out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from nnstudio.errors import UserError
from nnstudio.graph.document import Graph
from nnstudio.profile import count_costs, measure_times


def lenet5() -> Graph:
    """LeCun's LeNet-5 as usually rebuilt: conv 6@5x5 p2, pool, conv 16@5x5, pool, 120, 84, 10."""
    g = Graph()
    chain = [("input", "Input", {"shape": [1, 28, 28]}),
             ("c1", "Conv2D", {"filters": 6, "kernel_size": 5, "padding": 2}),
             ("a1", "Activation", {"function": "tanh"}),
             ("s2", "Pool2D", {"mode": "avg", "size": 2}),
             ("c3", "Conv2D", {"filters": 16, "kernel_size": 5}),
             ("a3", "Activation", {"function": "tanh"}),
             ("s4", "Pool2D", {"mode": "avg", "size": 2}),
             ("flat", "Flatten", {}),
             ("f5", "Dense", {"units": 120}),
             ("a5", "Activation", {"function": "tanh"}),
             ("f6", "Dense", {"units": 84}),
             ("a6", "Activation", {"function": "tanh"}),
             ("out", "Dense", {"units": 10}),
             ("softmax", "Activation", {"function": "softmax"})]
    for i, (nid, kind, params) in enumerate(chain):
        g.add_node(kind, params, position=(i * 100.0, 0.0), node_id=nid)
        if i:
            g.connect(chain[i - 1][0], nid)
    return g


# Worked out by hand (per sample):
#   c1: output 6 x 28 x 28 = 4,704 values, each 1 channel x 5 x 5 = 25 MACs -> 117,600; params 6*25 + 6 = 156
#   c3: output 16 x 10 x 10 = 1,600 values, each 6 x 5 x 5 = 150 MACs -> 240,000; params 16*150 + 16 = 2,416
#   f5: 16*5*5 = 400 inputs x 120 units = 48,000; params 48,000 + 120 = 48,120
#   f6: 120 x 84 = 10,080; params 10,164      out: 84 x 10 = 840; params 850
#   total forward 416,520 MACs, 61,706 parameters (LeNet-5's well-known count)
#   backward: c1 is fed by the input (no input gradient) -> 1 x 117,600; the others 2 x forward
#   = 117,600 + 2 * (240,000 + 48,000 + 10,080 + 840) = 715,440; training 1,131,960 MACs per sample
HAND_MACS = {"c1": 117_600, "c3": 240_000, "f5": 48_000, "f6": 10_080, "out": 840}
HAND_PARAMS = {"c1": 156, "c3": 2_416, "f5": 48_120, "f6": 10_164, "out": 850}
HAND_VALUES = {"input": 784, "c1": 4_704, "a1": 4_704, "s2": 1_176, "c3": 1_600, "a3": 1_600, "s4": 400,
               "flat": 400, "f5": 120, "a5": 120, "f6": 84, "a6": 84, "out": 10, "softmax": 10}


def test_lenet5_counts_match_the_hand_figures() -> None:
    profile = count_costs(lenet5(), batch=64)
    assert profile.ok
    assert [r.node for r in profile.rows] == list(HAND_VALUES)  # execution order
    for row in profile.rows:
        assert row.macs == HAND_MACS.get(row.node, 0), row.node
        assert row.params == HAND_PARAMS.get(row.node, 0), row.node
        assert row.activation_elements == HAND_VALUES[row.node], row.node
        assert row.activation_bytes_per_sample == 4 * HAND_VALUES[row.node]
        assert row.activation_bytes == 64 * 4 * HAND_VALUES[row.node]
    assert profile.total("macs") == 416_520
    assert profile.total_params == 61_706
    assert profile.row("c1").backward_macs == 117_600
    assert profile.row("c3").backward_macs == 480_000
    assert profile.total("backward_macs") == 715_440
    assert profile.total("train_macs") == 1_131_960
    assert profile.largest("macs").node == "c3"
    assert profile.largest("params").node == "f5"
    assert profile.share(profile.row("c3")) == pytest.approx(240_000 / 416_520)
    # Training memory: parameters x 4 (values, gradients, two optimizer slots) + activations and their gradients
    values = sum(HAND_VALUES.values())
    assert profile.training_memory_bytes == 4 * 4 * 61_706 + 2 * 64 * 4 * values


def test_float64_and_batch_scale_the_memory() -> None:
    profile = count_costs(lenet5(), batch=8, dtype=np.float64)
    assert profile.row("c1").activation_bytes == 8 * 8 * 4_704
    with pytest.raises(UserError, match="batch size"):
        count_costs(lenet5(), batch=0)


def test_a_broken_graph_still_counts_what_it_can() -> None:
    g = lenet5()
    g.disconnect(next(e for e in g.edges if e.src == "s4" and e.dst == "flat"))
    profile = count_costs(g)
    assert not profile.ok
    assert profile.row("c3").macs == 240_000
    assert profile.row("f5") is None  # no shape without its input


def test_measured_times_are_filled_for_every_layer() -> None:
    profile = measure_times(lenet5(), count_costs(lenet5(), batch=4), backend="numpy", repeats=2)
    assert profile.backend == "numpy"
    for row in profile.rows:
        assert row.forward_ms is not None and row.forward_ms >= 0.0
        assert row.backward_ms is not None and row.backward_ms >= 0.0
    record = profile.to_json()
    assert record["total"]["macs"] == 416_520
    assert {"node", "type", "params", "macs", "activation_bytes", "forward_ms", "backward_ms"} <= \
        set(record["nodes"][1])


def _lenet_project(tmp_path) -> str:
    from nnstudio.graph.project_file import Project, save_project

    path = tmp_path / "lenet5.nnproj"
    project = Project(name="LeNet-5", graph=lenet5())
    project.training.update({"batch_size": 16})
    save_project(project, path)
    return str(path)


def test_cli_profile_json_has_one_object_per_node_and_a_total(tmp_path, capsys) -> None:
    import json

    from nnstudio.cli import main

    assert main(["profile", _lenet_project(tmp_path), "--batch", "4", "--backend", "numpy", "--repeats", "1",
                 "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    nodes, total = lines[:-1], lines[-1]["total"]
    assert [n["node"] for n in nodes] == list(HAND_VALUES)
    by_id = {n["node"]: n for n in nodes}
    assert by_id["c3"]["macs"] == 240_000 and by_id["f5"]["params"] == 48_120
    assert by_id["c1"]["activation_bytes"] == 4 * 4 * 4_704
    assert all(isinstance(n["forward_ms"], float) and isinstance(n["backward_ms"], float) for n in nodes)
    assert total["macs"] == 416_520 and total["params"] == 61_706


def test_cli_profile_table_marks_the_largest_and_uses_the_project_batch(tmp_path, capsys) -> None:
    from nnstudio.cli import main

    assert main(["profile", _lenet_project(tmp_path), "--backend", "numpy", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "batch 16" in out
    assert any(line.startswith("c3 *") for line in out.splitlines())
    total = next(line for line in out.splitlines() if line.startswith("total"))
    assert "61,706" in total and "416,520" in total


def test_check_warns_with_the_profile_memory_figure(tmp_path, capsys, monkeypatch) -> None:
    from nnstudio import memory
    from nnstudio.cli import main

    monkeypatch.setattr(memory, "available_bytes", lambda: 1024)
    path = _lenet_project(tmp_path)
    assert main(["check", path]) == 0
    need = count_costs(lenet5(), batch=16).training_memory_bytes
    assert f"needs about {memory.human_bytes(need)} of memory" in capsys.readouterr().out


def test_check_compares_with_the_gpu_memory_when_training_on_cupy(monkeypatch) -> None:
    from types import SimpleNamespace

    from nnstudio import cli, memory
    from nnstudio.engine import backend as backends
    from nnstudio.graph.shapes import infer_shapes

    runtime = SimpleNamespace(memGetInfo=lambda: (2048, 4096))  # (free, total) bytes, as CUDA reports them
    gpu = SimpleNamespace(name="cupy", is_gpu=True, xp=SimpleNamespace(cuda=SimpleNamespace(runtime=runtime)))
    assert memory.device_available_bytes(gpu) == 2048
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**40)  # plenty on the host
    assert memory.device_available_bytes(None) == 2**40
    monkeypatch.setattr(backends, "get_backend", lambda name=None: gpu)
    graph = lenet5()
    note = cli._memory_warning(infer_shapes(graph), graph, 16, "cupy")
    need = count_costs(graph, batch=16).training_memory_bytes
    assert f"needs about {memory.human_bytes(need)} of the GPU's memory" in note and "2.0 KiB is free" in note
    assert cli._memory_warning(infer_shapes(graph), graph, 16, "numpy") is None


def test_cli_profile_refuses_a_batch_too_large_to_time_in_one_line(tmp_path, capsys, monkeypatch) -> None:
    from nnstudio import memory, profile
    from nnstudio.cli import main

    path = _lenet_project(tmp_path)
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**20)  # 1 MiB free
    assert main(["profile", path, "--batch", "4096", "--backend", "numpy", "--repeats", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --batch 4096: timing a batch this large would need about ")
    assert err[0].endswith("but only 1.0 MiB is free; use a smaller --batch")
    monkeypatch.setattr(memory, "available_bytes", lambda: None)  # not known: the allocation itself fails

    def out_of_memory(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr(profile, "measure_times", out_of_memory)
    assert main(["profile", path, "--batch", "4096", "--backend", "numpy"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: --batch 4096: not enough memory to time a batch this large; use a smaller --batch"]
