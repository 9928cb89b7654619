"""Micro-benchmark: LeNet-5 forward+backward at batch 64 and batch-1 inference, engine layers vs PyTorch CPU.

Run by hand (``python tools/bench_layers.py``) when changing layer hot paths; PyTorch is only a yardstick
here and is skipped when it is not installed.  Both sides use the same threads and skip the gradient of the
network input, so the times compare like for like.
"""
from __future__ import annotations

import argparse
import os
import time
from typing import Any, Callable

import numpy as np

from nnstudio.engine.backend import get_backend
from nnstudio.engine.layers import Activation, Conv2D, Dense, Flatten, Layer, Pool2D


def lenet() -> list[Layer]:
    return [Conv2D(6, 5, padding=2), Activation("relu"), Pool2D("max", 2),
            Conv2D(16, 5), Activation("relu"), Pool2D("max", 2), Flatten(),
            Dense(120), Activation("relu"), Dense(84), Activation("relu"), Dense(10)]


def best_time(fn: Callable[[], Any], repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def engine_times(batch: int, repeats: int, backend: str, profile: bool) -> tuple[float, float]:
    xp = get_backend(backend).xp
    rng = np.random.default_rng(0)
    net = lenet()
    shape: Any = (1, 28, 28)
    for layer in net:
        layer.build(shape, xp, rng, np.float32)
        shape = layer.output_shape(shape)
    net[0].needs_input_grad = False
    x = xp.asarray(rng.random((batch, 1, 28, 28), dtype=np.float32))
    grad = xp.asarray(rng.normal(size=(batch, 10)).astype(np.float32) / batch)
    x1 = x[:1].copy()
    per_layer = np.zeros((len(net), 2))

    def step() -> None:
        h = x
        for i, layer in enumerate(net):
            t = time.perf_counter()
            h = layer.forward(h, training=True)
            per_layer[i, 0] += time.perf_counter() - t
        g = grad
        for i in range(len(net) - 1, -1, -1):
            t = time.perf_counter()
            g = net[i].backward(g)
            per_layer[i, 1] += time.perf_counter() - t
        if backend == "cupy":
            xp.cuda.Stream.null.synchronize()

    def infer() -> None:
        h = x1
        for layer in net:
            h = layer.forward(h, training=False)
        if backend == "cupy":
            xp.cuda.Stream.null.synchronize()

    train = best_time(step, repeats)
    if profile:
        per_layer /= repeats + 3
        for layer, (f, b) in zip(net, per_layer):
            print(f"  {layer!r:55s} fwd {f * 1e3:7.3f} ms  bwd {b * 1e3:7.3f} ms")
    return train, best_time(infer, repeats * 5)


def torch_times(batch: int, repeats: int, threads: int) -> tuple[float, float] | None:
    try:
        import torch  # noqa: PLC0415 - optional yardstick
    except ImportError:
        return None
    torch.set_num_threads(threads)
    nn = torch.nn
    net = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84),
                        nn.ReLU(), nn.Linear(84, 10))
    x = torch.rand(batch, 1, 28, 28)
    grad = torch.randn(batch, 10) / batch
    x1 = x[:1].clone()

    def step() -> None:
        net.zero_grad(set_to_none=False)
        net(x).backward(grad)

    def infer() -> None:
        with torch.no_grad():
            net(x1)

    return best_time(step, repeats), best_time(infer, repeats * 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--profile", action="store_true", help="print per-layer forward/backward times")
    args = parser.parse_args()
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    train, infer = engine_times(args.batch, args.repeats, args.backend, args.profile)
    print(f"engine ({args.backend}): train step {train * 1e3:.2f} ms ({args.batch / train:.0f} samples/s), "
          f"batch-1 inference {infer * 1e3:.3f} ms")
    ref = torch_times(args.batch, args.repeats, threads)
    if ref is not None:
        t_train, t_infer = ref
        print(f"torch ({threads} threads): train step {t_train * 1e3:.2f} ms ({args.batch / t_train:.0f} samples/s), "
              f"batch-1 inference {t_infer * 1e3:.3f} ms")
        print(f"engine throughput / torch throughput: {t_train / train:.2f}x")


if __name__ == "__main__":
    main()
