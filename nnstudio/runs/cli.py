"""``nnstudio runs`` and ``nnstudio sweep``: the run history and sweeps from a terminal.

Why this exists: the command-line front end stays a list of subcommands (``nnstudio/cli.py``); the
arguments and printing of the experiment commands live here, beside the core they drive.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import unicodedata
from pathlib import Path
from typing import Any

from nnstudio.errors import UserError
from nnstudio.i18n import _, ngettext

BACKENDS = ("auto", "numpy", "cupy")


def add_runs_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project")
    parser.add_argument("--delete", metavar="ID", action="append", help="delete this run (repeatable)")
    parser.add_argument("--json", action="store_true",
                        help='one JSON object per run: {"id", "name", "started", "metric", "value", "end_reason", '
                             '"seconds", "epochs_done", "changes"}')
    parser.set_defaults(func=cmd_runs)


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project")
    parser.add_argument("--set", dest="sets", metavar="SETTING=V1,V2,...", action="append", required=True,
                        help="a training setting (learning_rate, batch_size, optimizer, ...) or a block parameter "
                             "(NODE.PARAM, e.g. h1.function) and the values to try; repeat for a grid")
    parser.add_argument("--epochs", type=int, help="epochs per trial (default: the project's)")
    parser.add_argument("--max-samples", type=int, metavar="N",
                        help="use at most N training samples (and at most N test samples)")
    parser.add_argument("--backend", choices=BACKENDS, help="array backend (default: the project's)")
    parser.add_argument("--json", action="store_true",
                        help='one JSON object per trial ({"trial", "settings", "test_acc" or "test_loss", '
                             '"seconds", "run"}) and a summary object ({"summary": true, "best": i, ...})')
    parser.set_defaults(func=cmd_sweep)


def _store(project_path: str) -> Any:
    from nnstudio.runs.store import RunStore  # noqa: PLC0415
    path = Path(project_path)
    if not path.is_file():
        if path.is_dir():
            raise UserError(_("'{path}' is a folder; expected a project file (.nnproj)").format(path=project_path))
        raise UserError(_("project file '{path}' does not exist").format(path=project_path))
    return RunStore.for_project(path)


def _columns(text: str) -> int:
    """Terminal columns of ``text``: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _left(text: str, width: int) -> str:
    return text + " " * max(width - _columns(text), 0)


def _right(text: str, width: int) -> str:
    return " " * max(width - _columns(text), 0) + text


def end_text(reason: str) -> str:
    """How a run ended, in the interface language (the trainer's RunFinished.reason)."""
    names = {"completed": _("completed"), "stopped": _("stopped"), "nan": _("loss became NaN"),
             "out_of_memory": _("out of memory"), "error": _("failed")}
    return names.get(reason, reason or "-")


def _float_text(value: Any) -> str:
    return "n/a" if value is None or not math.isfinite(float(value)) else f"{float(value):.4g}"


def run_row(run: Any) -> dict[str, Any]:
    from nnstudio.runs.store import json_safe  # noqa: PLC0415
    key, value = run.metric()
    origin = run.meta.get("origin") or {}
    return json_safe({"id": run.id, "name": run.name, "started": run.started, "metric": key, "value": value,
                      "end_reason": run.end_reason, "seconds": round(run.seconds, 3),
                      "epochs_done": run.meta.get("epochs_done"), "origin": origin})


def cmd_runs(args: argparse.Namespace) -> int:
    store = _store(args.project)
    out, err = sys.stdout, sys.stderr
    if args.delete:
        for run_id in args.delete:
            store.delete(run_id)
            print(_("deleted run {id}").format(id=run_id), file=err)
        return 0
    runs = store.list()
    for problem in store.problems:
        print(_("warning: {problem}").format(problem=problem), file=err)
    if args.json:
        for run in runs:
            print(json.dumps(run_row(run), ensure_ascii=False), file=out)
        return 0
    if not runs:
        print(_("no runs yet in '{folder}' (train the project to start its history)").format(folder=store.root),
              file=err)
        return 0
    # The headings and how each run ended are in the interface language, the columns lined up for wide
    # (Chinese) characters
    print(f"{'id':<6} {_left(_('started'), 26)} {_left(_('metric'), 16)} {_left(_('end'), 14)} "
          f"{_right(_('time'), 8)}  {_('name')}", file=out)
    for run in runs:
        key, value = run.metric()
        metric = f"{key} {run.metric_text()}" if value is not None else "n/a"
        print(f"{run.id:<6} {run.started:<26} {metric:<16} {_left(end_text(run.end_reason), 14)} "
              f"{run.seconds:>7.1f}s  {run.name}", file=out)
    print(ngettext("{count} run, {size} MB in '{folder}'", "{count} runs, {size} MB in '{folder}'", len(runs)).format(
        count=len(runs), size=f"{store.total_bytes() / 2**20:.1f}", folder=store.root), file=err)
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from nnstudio.graph.project_file import load_project  # noqa: PLC0415
    from nnstudio.runs.sweep import best_trial, describe, parse_set, train_trial, trial_changes  # noqa: PLC0415
    from nnstudio.training.config import TrainingConfig  # noqa: PLC0415
    from nnstudio.training.trainer import load_dataset  # noqa: PLC0415

    project = load_project(args.project)
    store = _store(args.project)
    trials = trial_changes([parse_set(text, project) for text in args.sets])
    overrides = {"epochs": args.epochs, "backend": args.backend, "max_train_samples": args.max_samples,
                 "max_test_samples": args.max_samples}
    base = TrainingConfig.from_dict(project.training, source=f"project '{project.name}': training")
    base.replace(**{k: v for k, v in overrides.items() if v is not None})  # a bad --epochs fails before trial 0
    dataset = None
    if not any(k in ("dataset",) for t in trials for k in t):
        from nnstudio.cli import making_data_progress  # noqa: PLC0415

        with making_data_progress(plain=args.json):  # the captcha example's set: 45 s the first time
            dataset = load_dataset(base)  # the same data for every trial, loaded once
    out, err = sys.stdout, sys.stderr
    sweep_id = f"sweep-{store.root.name}-{len(store.run_ids())}"
    results = []
    print(ngettext("sweep of '{name}': {count} trial", "sweep of '{name}': {count} trials", len(trials)).format(
        name=project.name, count=len(trials)), file=err)
    for i, changes in enumerate(trials):
        try:
            result = train_trial(project, changes, store, i, name=describe(changes),
                                 origin={"sweep": sweep_id, "trial": i, "changes": changes}, overrides=overrides,
                                 dataset=dataset)
        except UserError as exc:  # this trial's settings cannot train: say which trial it was
            raise UserError(_("trial {trial} ({settings}): {message}").format(
                trial=i, settings=describe(changes), message=exc)) from None
        results.append(result)
        if args.json:
            print(json.dumps(result.to_json(), ensure_ascii=False), file=out, flush=True)
        else:
            value = f"{result.value:.2%}" if result.metric == "test_acc" and result.value is not None \
                else _float_text(result.value)
            run = result.run_id or _("not kept")
            print(_("trial {trial}: {settings}: {metric} {value} ({end}, {seconds}s, run {run})").format(
                trial=i, settings=describe(changes), metric=result.metric, value=value, end=end_text(result.reason),
                seconds=f"{result.seconds:.1f}", run=run), file=out, flush=True)
        if result.message and result.reason not in ("completed", "stopped"):
            print(_("trial {trial}: {message}").format(trial=i, message=result.message), file=err)
    best = best_trial(results)
    if args.json:
        summary = {"summary": True, "trials": len(results), "best": best,
                   "best_settings": results[best].changes if best is not None else None,
                   "metric": results[best].metric if best is not None else None,
                   "value": results[best].value if best is not None else None}
        print(json.dumps(summary, ensure_ascii=False), file=out)
    else:
        print("", file=out)
        print(f"{_left(_('trial'), 6)} {_left(_('settings'), 40)} {results[0].metric if results else '':<10} "
              f"{_right(_('seconds'), 8)}", file=out)
        for i, r in enumerate(results):
            mark = "  " + _("<- best") if i == best else ""
            value = f"{r.value:.2%}" if r.metric == "test_acc" and r.value is not None else _float_text(r.value)
            print(f"{i:<6} {describe(r.changes):<40} {value:<10} {r.seconds:>8.1f}{mark}", file=out)
    return 0 if all(r.reason in ("completed", "stopped") for r in results) else 1


__all__ = ["add_runs_arguments", "add_sweep_arguments", "cmd_runs", "cmd_sweep", "run_row"]
