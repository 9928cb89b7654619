"""Cold-start benchmark: time from process start to the main window's first paint (target: at most 3 s).

Why this exists: start-up time creeps up one import at a time, and a frozen build adds its own unpacking
cost.  This script starts the app several times as a fresh process, from source (``python -m nnstudio``)
and/or from the frozen one-folder build, with ``NNSTUDIO_STARTUP_PROBE=1``: the app prints the wall-clock
time once the window is exposed and painted, then quits (``nnstudio.ui.app.quit_when_shown``).  The
figure is that time minus the moment just before the process was spawned, so it includes interpreter
start-up, imports, the QApplication, the window and its first paint.  Settings and user data go to a
temporary folder, so runs do not depend on the user's saved window layout.

    python tools/bench_startup.py                      # source and, if built, dist/nnstudio/nnstudio
    python tools/bench_startup.py --runs 7 --limit 3
    python tools/bench_startup.py --importtime         # the slowest imports of a source start
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FROZEN = ROOT / "dist" / "nnstudio" / ("nnstudio.exe" if os.name == "nt" else "nnstudio")
MARKER = "NNSTUDIO_STARTUP_SHOWN"
RUN_TIMEOUT_S = 60.0


@dataclass
class Timing:
    """One start: seconds to the first paint, and to the end of the process."""

    shown_s: float
    exit_s: float


def probe_env(data_dir: str, offscreen: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.update(NNSTUDIO_STARTUP_PROBE="1", NNSTUDIO_NO_DIALOGS="1", NNSTUDIO_DATA_DIR=data_dir)
    if offscreen:
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def start_once(command: list[str], env: dict[str, str]) -> Timing:
    started = time.time()
    proc = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S)
    ended = time.time()
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            return Timing(float(line.split()[1]) - started, ended - started)
    raise SystemExit(f"{' '.join(command)}: no '{MARKER}' line (exit code {proc.returncode}); output:\n"
                     f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")


def bench(label: str, command: list[str], runs: int, offscreen: bool) -> list[Timing]:
    timings = []
    with tempfile.TemporaryDirectory(prefix="nnstudio-bench-") as data_dir:
        env = probe_env(data_dir, offscreen)
        for _ in range(runs):
            timings.append(start_once(command, env))
    shown = [t.shown_s for t in timings]
    print(f"{label:<8} first paint: median {statistics.median(shown):.2f} s  "
          f"(first run {shown[0]:.2f} s, min {min(shown):.2f} s, max {max(shown):.2f} s, {runs} runs); "
          f"process exit median {statistics.median(t.exit_s for t in timings):.2f} s")
    return timings


def slowest_imports(count: int = 20) -> None:
    """Start once from source with ``-X importtime`` and list the imports with the largest cumulative time."""
    with tempfile.TemporaryDirectory(prefix="nnstudio-bench-") as data_dir:
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "nnstudio"],
                              env=probe_env(data_dir, True), cwd=ROOT, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:"):].split("|")
        rows.append((int(cumulative_us), int(self_us), name.strip()))
    rows.sort(reverse=True)
    print(f"{'cumulative':>10} {'self':>8}  module (ms)")
    for cumulative, own, name in rows[:count]:
        print(f"{cumulative / 1000:10.1f} {own / 1000:8.1f}  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="starts per variant (default 5)")
    parser.add_argument("--limit", type=float, default=3.0, help="fail when a median exceeds this (seconds)")
    parser.add_argument("--source", action="store_true", help="only the source start")
    parser.add_argument("--frozen", nargs="?", const=str(FROZEN), default=None,
                        help=f"only the frozen build (default path {FROZEN.relative_to(ROOT)})")
    parser.add_argument("--display", action="store_true", help="use the real display instead of offscreen")
    parser.add_argument("--importtime", action="store_true", help="list the slowest imports of a source start")
    args = parser.parse_args(argv)
    if args.importtime:
        slowest_imports()
        return 0
    variants: list[tuple[str, list[str]]] = []
    if not args.frozen:
        variants.append(("source", [sys.executable, "-m", "nnstudio"]))
    if not args.source:
        frozen = Path(args.frozen or FROZEN)
        if frozen.is_file():
            variants.append(("frozen", [str(frozen)]))
        elif args.frozen:
            raise SystemExit(f"frozen app not found at {frozen}; build it with `make dist`")
    print(f"{os.cpu_count()} CPUs; median of {args.runs} starts; limit {args.limit:.1f} s")
    slow = []
    for label, command in variants:
        timings = bench(label, command, args.runs, offscreen=not args.display)
        if statistics.median(t.shown_s for t in timings) > args.limit:
            slow.append(label)
    if slow:
        print(f"slower than {args.limit:.1f} s: {', '.join(slow)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
