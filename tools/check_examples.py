"""Train the curriculum examples and print a table of what each reached against its goal.

Each example in resources/examples carries a "goal" (kept by the project loader as an extra key):
  {"metric": "test_acc", "min": 0.98}        test accuracy at least 0.98 (captcha: whole captchas)
  {"metric": "test_acc", "max": 0.99}        ... below 0.99 (perceptron-xor must NOT learn XOR)
  {"metric": "test_r2", "min": 0.95}         regression
  {"metric": "hint", "kind": "overfitting"}  the run must produce this hint
  {"metric": "reason", "value": "nan"}       the run must end this way (exploding gradients -> NaN stop)
and "fast": true for the toy examples the test suite trains itself.

Usage:
  python tools/check_examples.py                   # the slow examples (MNIST, Fashion-MNIST, captcha)
  python tools/check_examples.py --all             # every example
  python tools/check_examples.py mnist-cnn --epochs 2 --max-samples 2000   # a short look
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nnstudio.graph.project_file import load_project  # noqa: E402
from nnstudio.teaching.lessons import check_goal, parse_goal  # noqa: E402
from nnstudio.training.config import TrainingConfig  # noqa: E402
from nnstudio.training.events import Hint, RunFinished  # noqa: E402
from nnstudio.training.trainer import Trainer, load_dataset  # noqa: E402

EXAMPLES = ROOT / "resources" / "examples"


@dataclass
class Outcome:
    name: str
    dataset: str
    epochs: int
    seconds: float
    measured: str
    goal: str
    passed: bool


def example_names(fast: bool | None = None) -> list[str]:
    """Example names, all of them or only the fast (True) / slow (False) ones."""
    names = []
    for path in sorted(EXAMPLES.glob("*.json")):
        goal = json.loads(path.read_text(encoding="utf-8")).get("goal", {})
        if fast is None or bool(goal.get("fast")) == fast:
            names.append(path.stem)
    return names


def describe_goal(goal: dict[str, Any]) -> str:
    metric = goal.get("metric")
    if metric == "hint":
        return f"hint {goal['kind']}"
    if metric == "reason":
        return f"ends with {goal['value']}"
    bounds = [f">= {goal['min']:.1%}" if "min" in goal and metric == "test_acc" else
              (f">= {goal['min']}" if "min" in goal else ""),
              f"< {goal['max']:.0%}" if "max" in goal and metric == "test_acc" else
              (f"< {goal['max']}" if "max" in goal else "")]
    return f"{metric} " + " ".join(b for b in bounds if b)


def judge(goal: dict[str, Any], finished: RunFinished, hints: list[Hint]) -> tuple[bool, str]:
    """(goal met, what was measured) for one finished run: the lesson card's own check (teaching.lessons)."""
    result = check_goal(parse_goal(goal, "goal"), finished, [h.kind for h in hints])
    return result.met, result.measured


def run_example(name: str, epochs: int | None = None, max_samples: int | None = None,
                backend: str = "numpy") -> tuple[Outcome, RunFinished, list[Hint]]:
    path = EXAMPLES / f"{name}.json"
    project = load_project(path)
    goal = project.extras.get("goal", {})
    config = TrainingConfig.from_dict(project.training)
    changes: dict[str, Any] = {"backend": backend}
    if epochs is not None:
        changes["epochs"] = epochs
    if max_samples is not None:
        changes.update(max_train_samples=max_samples, max_test_samples=max_samples)
    config = config.replace(**changes)
    started = time.perf_counter()
    trainer = Trainer(project, load_dataset(config), config, backend)
    hints: list[Hint] = []
    finished: RunFinished | None = None
    for event in trainer.run():
        if isinstance(event, Hint):
            hints.append(event)
        elif isinstance(event, RunFinished):
            finished = event
    assert finished is not None
    seconds = time.perf_counter() - started
    passed, measured = judge(goal, finished, hints)
    return Outcome(name, config.dataset, config.epochs, seconds, measured, describe_goal(goal), passed), finished, hints


def format_table(rows: list[Outcome]) -> str:
    headers = ("example", "dataset", "epochs", "seconds", "measured", "goal", "ok")
    cells = [(r.name, r.dataset, str(r.epochs), f"{r.seconds:.1f}", r.measured[:60], r.goal,
              "yes" if r.passed else "NO") for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(c, widths)) for c in cells]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the curriculum examples and check them against their goals.")
    parser.add_argument("names", nargs="*", help="examples to run (default: the slow ones)")
    parser.add_argument("--all", action="store_true", help="run every example")
    parser.add_argument("--epochs", type=int, help="override the number of epochs (a short look)")
    parser.add_argument("--max-samples", type=int, help="use at most N training and N test samples")
    parser.add_argument("--backend", default="numpy", choices=("auto", "numpy", "cupy"))
    parser.add_argument("--json", action="store_true", help="one JSON object per example instead of the table")
    args = parser.parse_args(argv)
    names = args.names or (example_names() if args.all else example_names(fast=False))
    rows = []
    for name in names:
        outcome, _, _ = run_example(name, args.epochs, args.max_samples, args.backend)
        rows.append(outcome)
        if args.json:
            print(json.dumps(outcome.__dict__), flush=True)
        else:
            print(f"{name}: {outcome.measured} in {outcome.seconds:.1f}s ({'ok' if outcome.passed else 'goal missed'})",
                  file=sys.stderr, flush=True)
    if not args.json:
        print(format_table(rows))
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
