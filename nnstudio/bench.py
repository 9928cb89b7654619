"""``nnstudio bench``: how fast the engine trains and answers, next to PyTorch when it is installed.

Two reference networks on MNIST-shaped data (random values: speed does not depend on what is learned):

* MLP 784-256-128-10, ReLU, softmax + cross-entropy, SGD with momentum, batch 128;
* LeNet: conv 6@5x5 pad 2, ReLU, max-pool 2; conv 16@5x5, ReLU, max-pool 2; dense 120, 84, 10 (ReLU
  between), batch 64, input 1x28x28 float32.

For each: training throughput (samples per second over full steps: forward, loss, backward, update) and the
latency of one batch-1 inference (host sample in, host answer out).  Each figure is the median of
``repeats`` timed runs after a warm-up.  On the GPU backend batch 256 is measured as well.  When ``torch``
imports, the same networks run in PyTorch in this process with the same number of threads, and the table
shows the speed ratio (above 1: the engine is faster).

Run ``python -m nnstudio.bench --help`` (the CLI's ``nnstudio bench`` calls :func:`main`).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import platform
import statistics
import sys
import time
from typing import Any, Callable, TextIO

import numpy as np

from nnstudio.engine.backend import Backend, blas_threads, get_backend, to_device, to_host
from nnstudio.engine.layers import Activation, Conv2D, Dense, Flatten, Layer, Pool2D
from nnstudio.engine.losses import get_loss
from nnstudio.engine.model import Model, ModelNode
from nnstudio.engine.optimizers import make_optimizer
from nnstudio.errors import UserError

MODELS = ("mlp", "lenet")
CPU_BATCHES = {"mlp": [128], "lenet": [64]}
GPU_BATCHES = {"mlp": [128, 256], "lenet": [64, 256]}
INPUT_SHAPES = {"mlp": (784,), "lenet": (1, 28, 28)}
LABELS = {"mlp": "MLP 784-256-128-10", "lenet": "LeNet-5"}
LR = 0.01
MOMENTUM = 0.9


# -- the networks ------------------------------------------------------------------------------------
def engine_layers(name: str) -> list[Layer]:
    if name == "mlp":
        return [Dense(256), Activation("relu"), Dense(128), Activation("relu"), Dense(10), Activation("softmax")]
    return [Conv2D(6, 5, padding=2), Activation("relu"), Pool2D("max", 2),
            Conv2D(16, 5), Activation("relu"), Pool2D("max", 2), Flatten(),
            Dense(120), Activation("relu"), Dense(84), Activation("relu"), Dense(10), Activation("softmax")]


def engine_model(name: str, xp: Any, seed: int = 0) -> Model:
    nodes, prev = [ModelNode("input", None, [])], "input"
    for i, layer in enumerate(engine_layers(name)):
        nodes.append(ModelNode(f"{layer.type_name.lower()}{i}", layer, [prev]))
        prev = nodes[-1].id
    return Model(nodes, "input", prev).build(INPUT_SHAPES[name], xp, seed=seed)


def torch_model(torch: Any, name: str) -> Any:
    nn = torch.nn
    if name == "mlp":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


# -- timing -------------------------------------------------------------------------------------------
def time_calls(fn: Callable[[], Any], repeats: int, steps: int | None, target_seconds: float,
               warmup: int = 2) -> tuple[float, int]:
    """Median seconds per call of ``fn`` over ``repeats`` runs of ``steps`` calls each.

    ``fn`` must return only when its work is done (it reads a result back to the host).  Without
    ``steps``, each run makes as many calls as fill about ``target_seconds`` (measured in the warm-up).
    """
    start = time.perf_counter()
    for _ in range(max(1, warmup)):
        fn()
    per_call = (time.perf_counter() - start) / max(1, warmup)
    if steps is None:
        steps = max(1, min(10_000, math.ceil(target_seconds / max(per_call, 1e-7))))
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            fn()
        runs.append((time.perf_counter() - start) / steps)
    return statistics.median(runs), steps


def _data(name: str, batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.random((batch,) + INPUT_SHAPES[name], dtype=np.float32)
    return x, rng.integers(0, 10, size=batch)


def engine_train(name: str, backend: Backend, batch: int, repeats: int, steps: int | None,
                 target: float) -> float:
    xp = backend.xp
    model = engine_model(name, xp)
    x_host, y_host = _data(name, batch)
    x, y = to_device(x_host, xp, np.float32), to_device(y_host, xp)
    loss = get_loss("cross_entropy")
    opt = make_optimizer("momentum", LR, momentum=MOMENTUM)
    seconds, _ = time_calls(lambda: model.train_step(x, y, loss, opt), repeats, steps, target)
    return batch / seconds


def engine_latency(name: str, backend: Backend, repeats: int, steps: int | None, target: float) -> float:
    model = engine_model(name, backend.xp)
    x_host, _ = _data(name, 1)

    def infer() -> np.ndarray:
        return to_host(model.forward(to_device(x_host, backend.xp, np.float32)))

    seconds, _ = time_calls(infer, repeats, steps, target)
    return seconds * 1000.0


class TorchRunner:
    """The same networks in PyTorch, on its CPU (or CUDA when the engine runs on a GPU and torch has one)."""

    def __init__(self, torch: Any, threads: int, gpu: bool) -> None:
        self.torch = torch
        torch.set_num_threads(threads)
        self.device = "cuda" if gpu and torch.cuda.is_available() else "cpu"
        self.threads = threads

    def _sync(self) -> None:
        if self.device == "cuda":
            self.torch.cuda.synchronize()

    def train(self, name: str, batch: int, repeats: int, steps: int | None, target: float) -> float:
        torch = self.torch
        torch.manual_seed(0)
        model = torch_model(torch, name).to(self.device)
        x_host, y_host = _data(name, batch)
        x = torch.from_numpy(x_host).to(self.device)
        y = torch.from_numpy(y_host).to(self.device)
        criterion = torch.nn.CrossEntropyLoss()
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

        def step() -> float:
            opt.zero_grad(set_to_none=True)
            loss = criterion(model(x), y)
            loss.backward()
            opt.step()
            return loss.item()  # a host read, as the engine's train_step does

        seconds, _ = time_calls(step, repeats, steps, target)
        return batch / seconds

    def latency(self, name: str, repeats: int, steps: int | None, target: float) -> float:
        torch = self.torch
        model = torch_model(torch, name).to(self.device).eval()
        x_host, _ = _data(name, 1)

        def infer() -> np.ndarray:
            with torch.no_grad():
                return model(torch.from_numpy(x_host).to(self.device)).cpu().numpy()

        seconds, _ = time_calls(infer, repeats, steps, target)
        return seconds * 1000.0


def _load_torch() -> Any | None:
    if importlib.util.find_spec("torch") is None:
        return None
    try:
        import torch  # noqa: PLC0415 - optional yardstick, never used by the product
    except Exception:
        return None
    return torch


# -- the run ------------------------------------------------------------------------------------------
def run_bench(repeats: int = 5, json_out: bool = False, backend: str | None = None,
              batch_override: int | None = None, *, steps: int | None = None, target_seconds: float = 0.25,
              compare_torch: bool = True, models: tuple[str, ...] = MODELS,
              stream: TextIO | None = None) -> dict[str, Any]:
    """Measure the engine (and PyTorch when available); return the results as a plain dict.

    ``steps`` fixes the calls per timed run (default: enough for ``target_seconds``); ``batch_override``
    replaces the training batch sizes.  With ``stream`` the report is written there, as JSON when
    ``json_out``, else as a table.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise UserError(f"bench: --repeats must be a positive integer. Received: {repeats!r}")
    if batch_override is not None and (isinstance(batch_override, bool) or int(batch_override) < 1):
        raise UserError(f"bench: --batch must be a positive integer. Received: {batch_override!r}")
    if steps is not None and steps < 1:
        raise UserError(f"bench: --steps must be a positive integer. Received: {steps!r}")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise UserError(f"bench: unknown model(s) {', '.join(unknown)}; expected {', '.join(MODELS)}")
    chosen = get_backend(backend)
    threads = blas_threads()
    torch = _load_torch() if compare_torch else None
    runner = TorchRunner(torch, threads, chosen.is_gpu) if torch is not None else None
    batches = GPU_BATCHES if chosen.is_gpu else CPU_BATCHES
    results: list[dict[str, Any]] = []

    def add(model: str, metric: str, batch: int, ours: float, theirs: float | None) -> None:
        if theirs is None:
            speed = None
        elif metric == "latency_ms":
            speed = theirs / ours if ours > 0 else None
        else:
            speed = ours / theirs if theirs > 0 else None
        results.append({"model": model, "label": LABELS[model], "metric": metric, "batch": batch,
                        "ours": ours, "torch": theirs, "speed_ratio": speed})

    for name in models:
        for batch in ([int(batch_override)] if batch_override else batches[name]):
            ours = engine_train(name, chosen, batch, repeats, steps, target_seconds)
            theirs = runner.train(name, batch, repeats, steps, target_seconds) if runner else None
            add(name, "train_samples_per_s", batch, ours, theirs)
        ours = engine_latency(name, chosen, repeats, steps, target_seconds)
        theirs = runner.latency(name, repeats, steps, target_seconds) if runner else None
        add(name, "latency_ms", 1, ours, theirs)

    report = {
        "backend": chosen.name,
        "backend_description": chosen.human_name,
        "threads": threads,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "machine": platform.machine(),
        "torch_version": getattr(torch, "__version__", None),
        "torch_device": runner.device if runner else None,
        "repeats": repeats,
        "results": results,
    }
    if stream is not None:
        stream.write(json.dumps(report, indent=2) + "\n" if json_out else format_table(report))
        stream.flush()
    return report


def _figure(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    return f"{value:.3f} ms" if metric == "latency_ms" else f"{value:,.0f}/s"


def format_table(report: dict[str, Any]) -> str:
    """The report as a readable text table."""
    torch_version = report.get("torch_version")
    lines = [f"NN Studio bench — engine on {report['backend_description']}",
             f"PyTorch {torch_version} ({report['torch_device']}, {report['threads']} threads) for comparison"
             if torch_version else "PyTorch is not installed: engine figures only",
             f"median of {report['repeats']} run(s) after a warm-up; speed ratio above 1 = the engine is faster",
             ""]
    header = ("network", "measure", "batch", "NN Studio", "PyTorch", "speed ratio")
    rows = [header]
    for r in report["results"]:
        measure = "training" if r["metric"] == "train_samples_per_s" else "inference latency"
        ratio = "-" if r["speed_ratio"] is None else f"{r['speed_ratio']:.2f}x"
        rows.append((r["label"], measure, str(r["batch"]), _figure(r["ours"], r["metric"]),
                     _figure(r["torch"], r["metric"]), ratio))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for k, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])] + \
                [cell.rjust(width) for cell, width in zip(row[2:], widths[2:])]
        lines.append("  ".join(cells))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnstudio bench", description="Measure training speed and "
                                     "inference latency of the engine (and of PyTorch when installed).")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--backend", choices=("auto", "numpy", "cupy"), default=None,
                        help="array backend (default: $NNSTUDIO_BACKEND or auto)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure (median reported)")
    parser.add_argument("--batch", type=int, default=None, help="one training batch size instead of the defaults")
    parser.add_argument("--steps", type=int, default=None, help="calls per timed run (default: about 0.25 s)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated: mlp,lenet")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``nnstudio bench`` and ``python -m nnstudio.bench``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        run_bench(args.repeats, args.json, args.backend, args.batch, steps=args.steps,
                  compare_torch=not args.no_torch,
                  models=tuple(m.strip() for m in args.models.split(",") if m.strip()), stream=sys.stdout)
    except UserError as exc:
        print(f"nnstudio bench: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
