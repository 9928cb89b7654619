"""How responsive the GUI stays while training, and what the live panels cost in throughput.

Trains the mnist-cnn example twice on the same data: headless (iterating the trainer's generator, as the CLI
does) and inside the main window offscreen with every training panel visible.  Reports

* throughput: samples per second between the first and the last batch of the run (wall time, measured in
  the thread that trains, so the worker's extra views and the report plumbing are included), and the ratio
  GUI / headless (target: at least 0.9).  With ``--repeats N`` the N GUI runs alternate with N + 1 headless
  runs, and each GUI run is compared with the mean of the headless runs just before and after it;
* event-loop latency of the GUI thread: a QTimer fires every 10 ms and records how late each tick is;
  the 50th / 99th percentile and the maximum (target: p99 under 50 ms).

Run: ``QT_QPA_PLATFORM=offscreen python tools/bench_gui_training.py [--samples 1500] [--epochs 1] [--repeats 1]
[--json]``; ``--samples 0 --epochs 0`` trains the example exactly as shipped.
This is a measurement to report, not a timed test.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


class TimedTrainer:
    """Wraps a trainer; records the wall time of each BatchReport as it is yielded (in the training thread)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.stamps: list[float] = []
        self.sizes: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("inner", "stamps", "sizes"):
            object.__setattr__(self, name, value)
        else:
            setattr(self.inner, name, value)

    def run(self):
        batch = int(self.inner.config.batch_size)
        for event in self.inner.run():
            if type(event).__name__ == "BatchReport":
                self.stamps.append(time.perf_counter())
                self.sizes.append(batch)
            yield event

    def throughput(self) -> float:
        if len(self.stamps) < 2:
            return float("nan")
        return sum(self.sizes[1:]) / (self.stamps[-1] - self.stamps[0])


def project_settings(samples: int, backend: str, epochs: int = 1) -> tuple[Any, dict[str, Any]]:
    from nnstudio.graph.project_file import load_project
    from nnstudio.resources_path import resource
    project = load_project(resource("examples", "mnist-cnn.json"))
    project.path = None
    project.training.update(max_test_samples=200, backend=backend, validation_split=0.05)
    if samples > 0:  # 0: every training sample, as the example itself
        project.training["max_train_samples"] = samples
    if epochs > 0:  # 0: the example's own epochs
        project.training["epochs"] = epochs
    return project, dict(project.training)


def headless(samples: int, backend: str, epochs: int = 1) -> float:
    from nnstudio.data.registry import get_dataset
    from nnstudio.training.config import TrainingConfig
    from nnstudio.training.trainer import Trainer
    project, settings = project_settings(samples, backend, epochs)
    dataset = get_dataset(settings["dataset"])
    timed = TimedTrainer(Trainer(project.graph, dataset, TrainingConfig.from_dict(settings), None, None))
    for _ in timed.run():
        pass
    return timed.throughput()


def in_gui(samples: int, backend: str, panels: bool = True, timeout_s: float = 900.0, epochs: int = 1) -> dict[str, float]:
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from nnstudio.ui.main_window import MainWindow
    from nnstudio.ui.training_controller import install_training
    from nnstudio.ui.worker import default_make_trainer

    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    controller = install_training(window)
    project, _ = project_settings(samples, backend, epochs)
    window.set_project(project)
    window.resize(1600, 1000)
    window.show()
    for name, dock in controller.docks.items():
        if name == "training":
            continue
        if not panels:
            dock.hide()
        elif name in ("boundary", "histograms", "confusion"):  # the tabs behind: float them so all panels draw
            dock.setFloating(True)
            dock.show()
    app.processEvents()
    timed: list[TimedTrainer] = []

    def make(request: Any, dataset: Any) -> TimedTrainer:
        timed.append(TimedTrainer(default_make_trainer(request, dataset)))
        return timed[-1]

    controller.make_trainer = make
    lateness: list[float] = []
    clock = QElapsedTimer()
    probe = QTimer()
    probe.setInterval(10)
    expected = [0.0]

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        lateness.append(max(0.0, now - expected[0]))
        expected[0] = now + 10.0

    probe.timeout.connect(tick)
    done: list[Any] = []
    controller.run_finished.connect(done.append)
    clock.start()
    expected[0] = 10.0
    probe.start()
    loop = QEventLoop()
    controller.run_finished.connect(lambda _r: loop.quit())
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    cpu0, wall0, process0 = time.thread_time(), time.perf_counter(), time.process_time()
    controller.train()
    loop.exec()
    gui_cpu, wall = time.thread_time() - cpu0, time.perf_counter() - wall0
    process_cpu = time.process_time() - process0
    probe.stop()
    redraws = controller.dashboard.redraw_count
    window.undo_stack.setClean()
    controller.mark_weights_saved()  # the trained weights are not wanted: close without the save question
    window.close()
    if not done:
        raise RuntimeError("the GUI run did not finish in time")
    values = np.array(lateness[5:] or [0.0])  # skip start-up ticks
    return {"throughput": timed[0].throughput(), "latency_p50_ms": float(np.percentile(values, 50)),
            "latency_p99_ms": float(np.percentile(values, 99)), "latency_max_ms": float(values.max()),
            "ticks": float(len(values)), "redraws": float(redraws), "reason": done[0].reason,
            "gui_thread_cpu_share": gui_cpu / wall, "run_wall_s": wall, "process_cpu_s": process_cpu,
            **{f"redraw_s_{k}": v for k, v in controller.dashboard.redraw_seconds.items()},
            **{f"redraws_per_s_{k}": n / wall for k, n in controller.dashboard.redraws.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1500, help="training samples per epoch (0: all)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per run (0: the example's own, 12)")
    parser.add_argument("--backend", default="numpy", choices=("numpy", "cupy", "auto"))
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-panels", action="store_true", help="hide the live panels (to see what they cost)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="GUI runs, each between two headless runs; medians reported")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("NNSTUDIO_DATA_DIR", tempfile.mkdtemp(prefix="nnstudio-bench-"))
    # Headless and GUI runs alternate, a headless run first and last: each GUI run is compared with the mean of
    # the headless runs just before and after it, so a machine that speeds up or slows down during the
    # measurement (a shared one drifts by a fifth within a minute) moves both sides of each ratio alike.
    bases, guis = [headless(args.samples, args.backend, args.epochs)], []
    for _ in range(max(args.repeats, 1)):
        guis.append(in_gui(args.samples, args.backend, panels=not args.no_panels, epochs=args.epochs))
        bases.append(headless(args.samples, args.backend, args.epochs))
    base = float(np.median(bases))
    gui = {k: float(np.median([g[k] for g in guis])) for k in guis[0] if k != "reason"}
    gui["reason"] = guis[-1]["reason"]
    ratios = [g["throughput"] / ((before + after) / 2) for g, before, after in zip(guis, bases, bases[1:])]
    report = {"samples": args.samples, "epochs": args.epochs, "backend": args.backend, "headless_samples_per_s": base,
              "gui_samples_per_s": gui["throughput"], "ratio": float(np.median(ratios)),
              "ratio_min": min(ratios), "ratio_max": max(ratios), **gui}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"mnist-cnn, {args.samples} samples x {args.epochs} epochs, backend {args.backend}, {len(guis)} GUI runs "
              f"between {len(bases)} headless runs")
        print(f"  headless      {base:8.1f} samples/s")
        print(f"  GUI (panels)  {gui['throughput']:8.1f} samples/s   ratio {report['ratio']:.2f} (median of pairs, "
              f"{report['ratio_min']:.2f}-{report['ratio_max']:.2f}; target >= 0.9)")
        print(f"  GUI latency   p50 {gui['latency_p50_ms']:.1f} ms   p99 {gui['latency_p99_ms']:.1f} ms   "
              f"max {gui['latency_max_ms']:.1f} ms (target p99 < 50 ms), {int(gui['ticks'])} ticks, "
              f"{int(gui['redraws'])} panel redraws")
        rates = "  ".join(f"{k[len('redraws_per_s_'):]} {v:.1f}" for k, v in gui.items() if k.startswith("redraws_per_s_"))
        print(f"  redraws/s     {rates}")
        print(f"  GUI thread    busy {gui['gui_thread_cpu_share']:.0%} of the run's {gui['run_wall_s']:.1f} s (CPU time)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
