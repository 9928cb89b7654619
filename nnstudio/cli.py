"""The command-line front end: ``nnstudio [gui|examples|new|check|train|evaluate|predict|bench|runs|sweep|data]``.

Why this exists: everything the GUI does with a project (check it, train it, score it, ask it about images)
is also useful in a terminal, a script or CI, over the same core.  This module only parses arguments,
calls the core and prints.  A :class:`~nnstudio.errors.UserError` becomes one line ``error: ...`` on
stderr and exit status 1; any other exception is a bug and keeps its traceback.  The GUI is imported only
when it is asked for, so the CLI runs without a display.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import time
import unicodedata
import warnings
from pathlib import Path
from typing import Any, Sequence, TextIO

import numpy as np

from nnstudio import __version__
from nnstudio.engine.weights_io import (check_writable, last_good_path, read_starting_weights, weights_are_finite,
                                       write_weights)
from nnstudio.errors import UserError
from nnstudio.i18n import N_, _, current_language, ngettext, normalise, set_language, system_language
from nnstudio.userdirs import make_folders

BACKENDS = ("auto", "numpy", "cupy")
RUN_ENDS = (N_("completed"), N_("stopped"))  # how a run that kept its weights ended, as `train` says it
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")


class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes as a UserError (one line, exit 1) instead of usage + exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(_("{message} (see `{prog} --help`)").format(message=message, prog=self.prog))


# -- helpers ------------------------------------------------------------------------------------------------

def _examples_dir() -> Path:
    from nnstudio.resources_path import resource  # noqa: PLC0415

    return resource("examples")


def example_paths() -> dict[str, Path]:
    """{example name (file stem): path} of the shipped curriculum examples."""
    folder = _examples_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.json"))}


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    for mark in ("。", ". "):
        cut = text.find(mark)
        if cut != -1:
            return text[:cut + (1 if mark == "。" else 1)]
    return text


def _load_project(path: str) -> Any:
    from nnstudio.graph.project_file import load_project  # noqa: PLC0415

    return load_project(path)


def _config_for(project: Any, dataset: str | None = None, **changes: Any) -> Any:
    """The project's TrainingConfig with command-line overrides (a new dataset drops the old one's options)."""
    from nnstudio.training.config import TrainingConfig  # noqa: PLC0415

    config = TrainingConfig.from_dict(project.training, source=f"project '{project.name}': training")
    updates = {k: v for k, v in changes.items() if v is not None}
    if dataset is not None and dataset != config.dataset:
        updates.update(dataset=dataset, dataset_options={})
    return config.replace(**updates) if updates else config


def _dataset(config: Any, use: str = "all", plain: bool = False, project: str = "") -> Any:
    """The dataset ``config`` names (``project``: the file it comes from, named when the name is unknown)."""
    from nnstudio.data.registry import UnknownDataset  # noqa: PLC0415
    from nnstudio.training.trainer import load_dataset  # noqa: PLC0415

    try:
        with making_data_progress(plain):
            return load_dataset(config, use)
    except UnknownDataset as exc:
        if not project:
            raise
        raise UserError(_("{file}: training.dataset: {error}").format(file=project, error=exc)) from None


@contextlib.contextmanager
def making_data_progress(plain: bool = False) -> Any:
    """A bar on a terminal (else, or when ``plain``: --json, a line every half minute) on stderr while a
    generated dataset is made: the captcha example's 21,000 images took 45 s the first time, with nothing on
    the screen."""
    from nnstudio.data import captcha_digits  # noqa: PLC0415
    from nnstudio.progress import Progress, is_terminal  # noqa: PLC0415

    bars: dict[str, Any] = {}

    def report(done: int, total: int, split: str) -> None:
        bar = bars.get(split)
        if bar is None:
            for other in bars.values():
                other.close()
            what = {"train": _("making training captchas"), "test": _("making test captchas")}.get(
                split, _("making captchas"))
            bar = bars[split] = Progress(sys.stderr, total, what, "images", bar=is_terminal(sys.stderr) and not plain)
        bar.update(done)

    try:
        with captcha_digits.reporting(report):
            yield
    finally:
        for bar in bars.values():
            bar.close()


def _trained_weights(args: argparse.Namespace) -> str:
    """``--weights``, or the project's own weights file beside it (where ``train`` and the app save them)."""
    if args.weights is not None:
        return args.weights
    from nnstudio.graph.project_file import weights_path_for  # noqa: PLC0415
    default = weights_path_for(args.project)
    if not default.is_file():
        raise UserError(_("no trained weights for '{project}': expected '{weights}' beside it; train it first "
                          "(nnstudio train {project}) or give --weights W.npz").format(project=args.project,
                                                                                      weights=default))
    return str(default)


def _build_model(project: Any, backend: str | None, weights: str, seed: int = 0) -> Any:
    from nnstudio.graph.compile import compile_graph  # noqa: PLC0415

    model = compile_graph(project.graph, backend, seed=seed)
    model.load_npz(weights)
    return model


def _pct(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.2%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4f}"


def _json_float(value: Any) -> Any:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _confusion_text(matrix: np.ndarray, names: Sequence[str]) -> str:
    k = matrix.shape[0]
    labels = [str(names[i]) if i < len(names) else str(i) for i in range(k)]
    labels = [label[:8] for label in labels]
    width = max(5, max(len(label) for label in labels), len(str(int(matrix.max(initial=0)))))
    lines = [_("true \\ predicted"), " " * (width + 1) + " ".join(label.rjust(width) for label in labels)]
    for i in range(k):
        lines.append(labels[i].rjust(width) + " " + " ".join(str(int(v)).rjust(width) for v in matrix[i]))
    return "\n".join(lines)


class _TrainProgress:
    """The bar within each epoch (tqdm on a terminal, a plain line now and then otherwise, see nnstudio.progress).

    Hints wait for the end of their epoch (or of the run): printed as they came they would tear the bar, and
    a run that fails must end with one error line, not with the hints that explain it followed by the error.
    """

    def __init__(self, stream: TextIO, plain: bool = False) -> None:
        from nnstudio.progress import is_terminal  # noqa: PLC0415

        self.stream = stream
        self.enabled = is_terminal(stream) and not plain  # with --json: plain lines, no bar
        self.current: Any = None
        self.epoch = 0
        self.pending_hints: list[str] = []

    def start_epoch(self, epoch: int, epochs: int, samples: int) -> None:
        from nnstudio.progress import Progress  # noqa: PLC0415

        self.clear()
        self.epoch = epoch
        self.current = Progress(self.stream, samples, f"epoch {epoch}/{epochs}", "samples", bar=self.enabled)

    def update(self, done: int, postfix: str) -> None:
        if self.current is not None:
            self.current.update(done, postfix)

    def write(self, text: str) -> None:
        if self.current is not None:
            self.current.write(text)
        else:
            print(text, file=self.stream, flush=True)

    def clear(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None

    def flush_hints(self) -> None:
        for text in self.pending_hints:
            print(_("hint: {text}").format(text=text), file=self.stream, flush=True)
        self.pending_hints.clear()

    def hints_suffix(self) -> str:
        """The latest hint not printed yet (the one about how the run ended) as the end of the error line."""
        text = _(" (hint: {text})").format(text=one_line(self.pending_hints[-1]).rstrip(".")) \
            if self.pending_hints else ""
        self.pending_hints.clear()
        return text


# -- subcommands ------------------------------------------------------------------------------------------------

def cmd_gui(args: argparse.Namespace) -> int:
    from nnstudio.ui.app import run_gui  # noqa: PLC0415 - Qt is loaded only for the GUI

    return int(run_gui(getattr(args, "project", None)) or 0)


def cmd_examples(args: argparse.Namespace) -> int:
    paths = example_paths()
    if not paths:
        raise UserError(_("no examples found in {path}").format(path=_examples_dir()))
    key = "description_zh" if (args.lang or current_language()) == "zh" else "description_en"
    width = max(len(name) for name in paths)
    for name, path in paths.items():
        data = json.loads(path.read_text(encoding="utf-8"))
        print(f"{name.ljust(width)}  {_first_sentence(str(data.get(key) or data.get('description_en') or ''))}")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from nnstudio.graph.project_file import save_project  # noqa: PLC0415

    paths = example_paths()
    if args.example not in paths:
        raise UserError(_("unknown example '{name}'; choose one of {known} (`nnstudio examples` describes "
                          "them)").format(name=args.example, known=", ".join(paths)))
    out = Path(args.output or f"{args.example}.nnproj")
    if out.exists() and not args.force:
        raise UserError(_("'{path}' already exists; choose another file with -o or add --force to replace "
                          "it").format(path=out))
    project = _load_project(str(paths[args.example]))
    save_project(project, out)
    print(_("created {path} from the example '{name}' ({title})").format(path=out, name=args.example,
                                                                          title=shown_name(project)))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from nnstudio.training.validation import validate_project  # noqa: PLC0415

    project = _load_project(args.project)
    config = _config_for(project, args.dataset)
    # The same validation step as the app's Problems panel and Train action.
    validation = validate_project(project.graph, config.to_dict())
    report, facts = validation.report, validation.dataset
    if facts is not None:
        kind = _("{count} classes").format(count=facts.num_classes) if facts.num_classes else _("regression")
        dataset_note = _("dataset {name}: samples {shape}, {kind}").format(name=config.dataset,
                                                                           shape=tuple(facts.sample_shape), kind=kind)
    else:
        dataset_note = _("dataset {name}: not checked").format(name=config.dataset)
    rows = []
    for nid in sorted(project.graph.nodes, key=lambda n: _order_key(project.graph, n)):
        node = project.graph.nodes[nid]
        shape = report.shapes.get(nid)
        rows.append((nid, node.type, "?" if shape is None else str(tuple(shape)),
                     str(report.param_counts.get(nid, 0) if shape is not None else "-")))
    headers = (_("node"), _("type"), _("output shape"), _("parameters"))
    widths = [max(_columns(h), *(_columns(r[i]) for r in rows)) if rows else _columns(h)
              for i, h in enumerate(headers)]
    line = "  ".join(_pad(h, w) for h, w in zip(headers, widths))
    print(_("{name}: {count} nodes, loss {loss}; {dataset}").format(name=shown_name(project), count=len(rows),
                                                                    loss=_loss_shown(config.loss),
                                                                    dataset=dataset_note))
    print(line)
    print("-" * _columns(line))
    for r in rows:
        print("  ".join((v.rjust(w) if i == 3 else v.ljust(w)) for i, (v, w) in enumerate(zip(r, widths))))
    print("-" * _columns(line))
    print(_("total parameters: {count}").format(count=f"{report.total_params:,}"))
    for m in report.warnings:
        print(_("warning: {text}").format(text=m.text))
    memory_note = _memory_warning(report, project.graph, int(config.batch_size), config.backend)
    if memory_note:
        print(_("warning: {text}").format(text=memory_note))
    if not report.ok:
        for m in report.errors:  # every problem on stdout, then one summary line on stderr
            print(_("problem: {text}").format(text=one_line(m.text)))
        n = len(report.errors)
        first = one_line(report.errors[0].text) if report.errors else ""
        summary = ngettext("{count} problem: the network cannot be trained",
                           "{count} problems: the network cannot be trained", n).format(count=n)
        raise UserError(_("{file}: {error}").format(file=args.project, error=summary + (
            _(" (first: {text})").format(text=first) if first else "")))
    print(_("the network is valid"))
    return 0


def _memory_warning(report: Any, graph: Any, batch_size: int, backend_name: str | None = None) -> str | None:
    """A warning when training would need more memory than the device has free (the GPU's for CuPy): float32
    parameters with their gradients and two optimizer slots (Adam), and each node's activations and their
    gradients at the batch size."""
    from nnstudio.memory import device_available_bytes, human_bytes  # noqa: PLC0415
    from nnstudio.profile import count_costs  # noqa: PLC0415 - the same figures as `nnstudio profile`

    backend = None
    if backend_name not in (None, "numpy"):
        from nnstudio.engine.backend import get_backend  # noqa: PLC0415

        try:
            backend = get_backend(backend_name)
        except UserError:  # no CuPy here: training would refuse it with its own message
            backend = None
    free = device_available_bytes(backend)
    if free is None:
        return None
    need = count_costs(graph, batch=max(batch_size, 1)).training_memory_bytes
    if need <= free:
        return None
    where = "of the GPU's memory" if getattr(backend, "is_gpu", False) else "of memory"
    return (f"training this network at batch size {batch_size} needs about {human_bytes(need)} {where} "
            f"({report.total_params:,} parameters with gradients and optimizer state, activations for "
            f"{len(graph.nodes)} nodes) but only {human_bytes(free)} is free; lower the batch size or the "
            "layer sizes")


def _columns(text: str) -> int:
    """Terminal columns of ``text``: a Chinese character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _loss_shown(loss: str) -> str:
    """The loss as the project names it in English ("cross_entropy"), as people write it in Chinese (交叉熵)."""
    from nnstudio.graph.catalogue import loss_name  # noqa: PLC0415

    return loss if current_language() == "en" else loss_name(loss, current_language())


def _pad(text: str, width: int) -> str:
    return text + " " * max(width - _columns(text), 0)


def _order_key(graph: Any, node_id: str) -> tuple[float, float, str]:
    pos = graph.nodes[node_id].position
    return (pos[0], pos[1], node_id) if pos is not None else (math.inf, math.inf, node_id)


def cmd_train(args: argparse.Namespace) -> int:
    from nnstudio.engine.backend import get_backend  # noqa: PLC0415
    from nnstudio.graph.project_file import weights_path_for  # noqa: PLC0415
    from nnstudio.training.trainer import Trainer  # noqa: PLC0415

    project = _load_project(args.project)
    config = _config_for(project, args.dataset, epochs=args.epochs, backend=args.backend,
                         max_train_samples=args.max_samples, max_test_samples=args.max_samples, seed=args.seed,
                         batch_size=args.batch_size, learning_rate=args.learning_rate)
    project_weights = weights_path_for(args.project)
    # Refused now rather than after the run: the weights of a long run must have somewhere to go.
    weights_out = check_writable(Path(args.weights_out) if args.weights_out else project_weights)
    from nnstudio.data.registry import user_path  # noqa: PLC0415
    from nnstudio.userdirs import refuse_overwriting_inputs  # noqa: PLC0415

    refuse_overwriting_inputs(weights_out, {"the project file": args.project,
                                            "the dataset": user_path(config.dataset) if config.dataset else None},
                              "train: --weights-out")
    weights_in = weights_in_path = None
    if getattr(args, "resume", False):
        if args.weights_in:
            raise UserError("train: --continue (from the project's weights file) and --weights-in name two starting "
                            "points; use one of them")
        if not project_weights.is_file():
            raise UserError(f"train --continue: there are no weights to continue from ('{project_weights}' does "
                            "not exist); train once without --continue, or name a file with --weights-in")
        weights_in_path = project_weights
    elif args.weights_in:
        weights_in_path = Path(args.weights_in)
    if weights_in_path is not None:
        weights_in = read_starting_weights(weights_in_path)  # finite, or refused naming the file
    dataset = _dataset(config, "run", plain=args.json,  # a generated set: only the samples this run reads
                       project="" if args.dataset else args.project)  # (--dataset names its own dataset)
    backend = get_backend(config.backend)
    trainer = Trainer(project.graph, dataset, config, backend, weights_in)
    if weights_in_path is not None:
        trainer.initial_weights_source = f"weights file '{weights_in_path}'"
    from nnstudio.runs.store import keeps_history  # noqa: PLC0415
    if not args.no_history and keeps_history(args.project):  # kept in PROJECT.runs/ (see `nnstudio runs`)
        from nnstudio.runs import RunRecorder, RunStore  # noqa: PLC0415
        trainer.recorder = RunRecorder(RunStore.for_project(args.project), project_name=project.name)
    out, err = sys.stdout, sys.stderr
    bar = _TrainProgress(err, plain=args.json)
    finished: Any = None
    events = trainer.run()
    started = time.perf_counter()
    with _StopSignals(trainer.request_stop) as signals:
        try:
            finished = _train_loop(args, project, config, dataset, trainer, events, bar, signals, out, err)
        except KeyboardInterrupt:  # a second Ctrl-C / SIGTERM: leave without saving anything
            bar.clear()
            print(_("error: training aborted by a second {signal}; '{path}' was not changed").format(
                signal=signals.name, path=weights_out), file=err)
            return signals.exit_status
        except UserError:
            raise
        except Exception:  # a bug: keep what was learned, then let the traceback show
            bar.clear()
            kept = _keep_last_good(trainer, weights_out, steps_done=1)  # the step count is unknown here
            if kept is not None:
                print(_("the last good weights were saved to {path}").format(path=kept), file=err)
            raise
        bar.clear()
        signals.saving = True  # a signal now would only cost the save: it is noted and the save goes on
        last_good = None
        if finished.ok:
            write_weights(weights_out, trainer.state_dict())
        else:
            last_good = _keep_last_good(trainer, weights_out, finished.steps_done)
    seconds = time.perf_counter() - started
    if args.json:
        record = {"final": True, "reason": finished.reason, "message": finished.message,
                  "epochs_done": finished.epochs_done, "test_loss": _json_float(finished.test_loss),
                  "test_acc": _json_float(finished.test_acc), "seconds": round(seconds, 3),
                  "weights": str(weights_out) if finished.ok else None,
                  "last_good_weights": None if last_good is None else str(last_good)}
        for key, value in finished.test_metrics.items():
            record[f"test_{key}"] = list(value) if isinstance(value, tuple) else _json_float(value)
        print(json.dumps(record), file=out, flush=True)
    elif finished.ok:
        if finished.test_acc is not None:
            text = _("test: loss {loss} accuracy {accuracy}").format(loss=_num(finished.test_loss),
                                                                     accuracy=_pct(finished.test_acc))
        elif "mse" in finished.test_metrics:
            text = _("test: mse {mse} r2 {r2}").format(mse=_num(finished.test_metrics["mse"]),
                                                       r2=_num(finished.test_metrics.get("r2")))
        else:
            text = _("test: no test samples")
        print(text + _(" ({reason} after {epochs} epochs, {seconds}s)").format(
            reason=_(finished.reason), epochs=finished.epochs_done, seconds=f"{seconds:.1f}"), file=out)
    recorder = trainer.recorder
    if recorder is not None and (recorder.run is not None or recorder.problem):
        print(recorder.problem or _("kept as run {id} in '{folder}'").format(id=recorder.run_id,
                                                                              folder=recorder.store.root), file=err)
    if not finished.ok:
        state = (_("'{path}' was left as it was") if weights_out.exists() else _("'{path}' was not written")).format(
            path=weights_out)
        kept = (_("; the last good weights (after {steps} steps) were saved to '{path}'").format(
            steps=finished.steps_done, path=last_good)
                if last_good is not None else _("; no finite weights from this run were worth keeping"))
        print(_("error: {message}").format(message=f"{finished.message}; {state}{kept}{bar.hints_suffix()}"),
              file=err)
        return 1
    bar.flush_hints()
    if signals.received is not None:
        print(_("stopped by {signal} after {steps} steps; weights saved to {path}").format(
            signal=signals.name, steps=finished.steps_done, path=weights_out), file=err)
        return signals.exit_status
    print(_("weights saved to {path}").format(path=weights_out), file=err)
    return 0


class _StopSignals:
    """Ctrl-C (SIGINT) and SIGTERM ask the trainer to stop after the current batch instead of killing it.

    A KeyboardInterrupt raised inside the training generator would close it mid-step and lose the run; a
    handler that only sets a flag lets the batch finish, the weights be saved and the process exit 130 / 143
    as shells expect.  A second signal raises KeyboardInterrupt: the user wants out now, and nothing is saved.
    """

    EXIT_STATUS = {signal.SIGINT: 130, signal.SIGTERM: 143}

    def __init__(self, on_stop: Any) -> None:
        self.on_stop = on_stop
        self.received: int | None = None
        self.saving = False
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> "_StopSignals":
        for sig in self.EXIT_STATUS:
            try:
                self.previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (an embedding app): signals stay as they were
                pass
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.saving:
            self.received = self.received or signum
            return
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signum
        self.on_stop()

    @property
    def name(self) -> str:
        return "SIGTERM" if self.received == signal.SIGTERM else "Ctrl-C"

    @property
    def exit_status(self) -> int:
        return self.EXIT_STATUS.get(self.received, 130)


def _keep_last_good(trainer: Any, weights_out: Path, steps_done: int) -> Path | None:
    """Write the trainer's weights beside ``weights_out`` (never over it) when they are finite and learned."""
    if trainer.model is None or steps_done <= 0:
        return None
    state = trainer.state_dict()
    if not weights_are_finite(state):
        return None
    path = last_good_path(weights_out)
    try:
        write_weights(path, state)
    except UserError:
        return None
    return path


def _train_loop(args: argparse.Namespace, project: Any, config: Any, dataset: Any, trainer: Any, events: Any,
                bar: _TrainProgress, signals: _StopSignals, out: TextIO, err: TextIO) -> Any:
    """Print the run's events as they come; returns its RunFinished."""
    from nnstudio.training.events import BatchReport, EpochReport, Hint, RunFinished, RunStarted  # noqa: PLC0415

    finished: Any = None
    told = False
    n_train = 0
    for event in events:
        if signals.received is not None and not told and bar.enabled:
            told = True  # on a terminal, say at once that the signal was heard
            bar.write(_("stopping after this batch (Ctrl-C again to abort)"))
        if isinstance(event, RunStarted):
            print(_("training '{name}' on {dataset}: {train} training / {val} validation / {test} test samples, "
                    "{params} parameters, {epochs} epochs of {steps} steps, backend {backend}").format(
                name=shown_name(project), dataset=dataset.name, train=event.n_train, val=event.n_val, test=event.n_test,
                params=f"{event.param_count:,}", epochs=event.total_epochs, steps=event.steps_per_epoch,
                backend=event.backend_name), file=err)
            n_train = event.n_train
        elif isinstance(event, BatchReport):
            if bar.current is None or bar.epoch != event.epoch:
                bar.start_epoch(event.epoch, config.epochs, n_train)
            acc = "" if math.isnan(event.accuracy) else f" acc {event.accuracy:.1%}"
            bar.update(min(event.step * config.batch_size, n_train), f"loss {event.loss:.4f}{acc}")
        elif isinstance(event, EpochReport):
            bar.clear()
            if args.json:
                print(json.dumps({"epoch": event.epoch, "train_loss": _json_float(event.train_loss),
                                  "train_acc": _json_float(event.train_acc), "val_loss": _json_float(event.val_loss),
                                  "val_acc": _json_float(event.val_acc), "seconds": round(event.seconds, 3)}),
                      file=out, flush=True)
            else:
                text = _("epoch {epoch}/{epochs}: train loss {loss}").format(
                    epoch=event.epoch, epochs=config.epochs, loss=_num(event.train_loss))
                if not math.isnan(event.train_acc):
                    text += _(" acc {accuracy}").format(accuracy=_pct(event.train_acc))
                if event.val_loss is not None:
                    text += _(" | validation loss {loss}").format(loss=_num(event.val_loss))
                    if event.val_acc is not None and not math.isnan(event.val_acc):
                        text += _(" acc {accuracy}").format(accuracy=_pct(event.val_acc))
                print(text + _(" ({seconds}s)").format(seconds=f"{event.seconds:.1f}"), file=out, flush=True)
            bar.flush_hints()
        elif isinstance(event, Hint):
            bar.pending_hints.append(event.text)
            if args.json:
                print(json.dumps({"hint": event.kind, "node": event.node_id, "text": event.text,
                                  "epoch": event.epoch, "step": event.step}), file=out, flush=True)
        elif isinstance(event, RunFinished):
            finished = event
    return finished


def _read_npz(path: str) -> dict[str, np.ndarray]:
    from nnstudio.engine.weights_io import read_weights  # noqa: PLC0415

    return read_weights(path)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from nnstudio.training.trainer import evaluate  # noqa: PLC0415

    project = _load_project(args.project)
    # --max-samples is checked as the training setting is (a negative N used to score all but the last N)
    config = _config_for(project, args.dataset, backend=args.backend, max_test_samples=args.max_samples)
    # A generated set: only the test samples scored are made (all of them unless --max-samples says otherwise,
    # whatever limit the project's training settings give).
    weights = _trained_weights(args)  # before the data: a captcha set may take a minute to make
    dataset = _dataset(config.replace(max_test_samples=args.max_samples), "test", plain=args.json,
                       project="" if args.dataset else args.project)
    model = _build_model(project, config.backend, weights)
    if tuple(model.input_shape) != tuple(dataset.sample_shape):
        raise UserError(f"dataset '{dataset.name}' has samples shaped {tuple(dataset.sample_shape)} but the "
                        f"network's Input expects {tuple(model.input_shape)}")
    n = dataset.n_test if args.max_samples is None else min(dataset.n_test, args.max_samples)
    from nnstudio.progress import Progress, is_terminal  # noqa: PLC0415

    with Progress(sys.stderr, n, "evaluating", "samples", bar=is_terminal(sys.stderr) and not args.json) as bar:
        result = evaluate(model, dataset.x_test[:n], dataset.y_test[:n], config.loss, dataset.task,
                          int(dataset.num_classes), config.eval_batch_size, progress=lambda done, _: bar.update(done))
    if args.json:
        record: dict[str, Any] = {"dataset": dataset.name, "n": result.n, "loss": _json_float(result.loss)}
        if result.accuracy is not None:
            record["accuracy"] = _json_float(result.accuracy)
        if result.per_position is not None:
            record["per_position"] = list(result.per_position)
        if result.mse is not None:
            record["mse"], record["r2"] = _json_float(result.mse), _json_float(result.r2)
        if result.confusion is not None:
            record["confusion"] = result.confusion.tolist()
        print(json.dumps(record))
        return 0
    print(ngettext("{name} on {dataset} ({count} test sample): loss {loss}",
                   "{name} on {dataset} ({count} test samples): loss {loss}", result.n).format(
        name=shown_name(project), dataset=dataset.name, count=result.n, loss=_num(result.loss)))
    if result.accuracy is not None:
        print(_("accuracy: {value}").format(value=_pct(result.accuracy)))
    if result.per_position is not None:
        print(_("per position: {values}").format(values=" ".join(_pct(v) for v in result.per_position)))
    if result.mse is not None:
        print(_("mse: {mse}  r2: {r2}").format(mse=_num(result.mse), r2=_num(result.r2)))
    if result.confusion is not None:
        print(_confusion_text(result.confusion, dataset.class_names))
    return 0


def _inputs_for(paths: Sequence[str], sample_shape: tuple[int, ...], as_drawing: bool) -> tuple[np.ndarray, list[str]]:
    """All inputs as one batch, and a name for each row ("file.png", "batch.npy[3]")."""
    from nnstudio.data.drawing import load_image_as_input  # noqa: PLC0415
    from nnstudio.engine.weights_io import read_npy_array  # noqa: PLC0415

    arrays, names = [], []
    size = math.prod(sample_shape)
    for path in paths:
        p = Path(path)
        if p.suffix.lower() == ".npy":
            a = read_npy_array(p, f"input file '{path}'")  # numbers only; header checked against the size
            a = np.asarray(a, dtype=np.float32)
            if not np.all(np.isfinite(a)):
                raise UserError(f"input file '{path}' holds NaN or infinite values; expected finite numbers")
            if a.size == 0:
                raise UserError(f"input file '{path}' holds an empty array of shape {a.shape}; expected at least "
                                "one sample")
            if a.shape == sample_shape:
                batch, single = a[None], True
            elif a.ndim >= 2 and math.prod(a.shape[1:]) == size:  # a batch, possibly flattened
                batch, single = a.reshape((a.shape[0],) + sample_shape), False
            elif a.size == size:  # one sample in another layout, e.g. (28, 28) for (1, 28, 28)
                batch, single = a.reshape((1,) + sample_shape), True
            else:
                raise UserError(f"input file '{path}' holds an array of shape {a.shape}; the network's Input expects "
                                f"one sample {sample_shape} or a batch (N, {', '.join(map(str, sample_shape))})")
            arrays.append(batch)
            names.extend([path] if single else [f"{path}[{i}]" for i in range(len(batch))])
        elif p.suffix.lower() in IMAGE_SUFFIXES:
            arrays.append(load_image_as_input(p, sample_shape, as_drawing=as_drawing)[None])
            names.append(path)
        else:
            raise UserError(f"input file '{path}': expected a .npy array or an image "
                            f"({', '.join(IMAGE_SUFFIXES)}); found '{p.suffix or 'no extension'}'")
    return np.concatenate(arrays, axis=0), names


def _as_probabilities(outputs: np.ndarray, activation: str | None, loss: str) -> np.ndarray | None:
    """Class probabilities from the network's outputs, or None when they are not probabilities."""
    out = outputs.astype(np.float64)
    if out.shape[-1] == 1:
        if activation == "sigmoid":
            p = out
        elif loss == "binary_cross_entropy":
            p = 1.0 / (1.0 + np.exp(-out))
        else:
            return None
        return np.concatenate([1.0 - p, p], axis=-1)
    if activation == "softmax":
        return out
    if loss == "cross_entropy":
        z = np.exp(out - out.max(axis=-1, keepdims=True))
        return z / z.sum(axis=-1, keepdims=True)
    return None


def _raw_text(value: np.ndarray) -> str:
    """One sample's output on one line: nested brackets, 6 significant digits (``[[0.5, -1.25], [2, 3]]``)."""
    if value.ndim == 0:
        return f"{float(value):.6g}"
    return "[" + ", ".join(_raw_text(v) for v in value) + "]"


def _raw_json(value: np.ndarray) -> Any:
    """Nested lists of floats for JSON; NaN and infinities (not valid JSON) become null."""
    if np.isfinite(value).all():
        return value.astype(np.float64).tolist()
    if value.ndim == 0:
        return _json_float(value)
    return [_raw_json(v) for v in value]


def cmd_predict(args: argparse.Namespace) -> int:
    from nnstudio.training.metrics import predicted_classes  # noqa: PLC0415

    project = _load_project(args.project)
    config = _config_for(project, None, backend=args.backend)
    model = _build_model(project, config.backend, _trained_weights(args))
    sample_shape = tuple(int(s) for s in model.input_shape)
    x, names = _inputs_for(args.inputs, sample_shape, args.as_drawing)
    outputs = model.predict(x, batch_size=256)
    if args.raw:  # the whole output tensor of each sample, whatever it means (features, a regression, scores)
        for i, name in enumerate(names):
            if args.json:
                print(json.dumps({"input": name, "output": _raw_json(outputs[i])}))
            else:
                print(f"{name}: {_raw_text(outputs[i])}")
        return 0
    probs = _as_probabilities(outputs, model.output_activation, config.loss)
    regression = config.loss == "mse" and outputs.shape[-1] == 1 and probs is None
    for i, name in enumerate(names):
        if regression:
            record: dict[str, Any] = {"input": name, "predicted": float(outputs[i].ravel()[0]), "probabilities": None}
        else:
            # The one class decision (argmax, or the loss's threshold for one unit) the trainer scores with.
            predicted: Any = probs[i].argmax(axis=-1) if probs is not None else \
                predicted_classes(outputs[i:i + 1], config.loss)[0]
            predicted = predicted.tolist() if isinstance(predicted, np.ndarray) else int(predicted)
            record = {"input": name, "predicted": predicted,
                      "probabilities": None if probs is None else np.round(probs[i], 6).tolist()}
        if args.json:
            print(json.dumps(record))
        elif regression:
            print(f"{name}: {record['predicted']:.6g}")
        else:
            shown = record["predicted"]
            shown = "".join(map(str, shown)) if isinstance(shown, list) else shown
            if probs is not None and probs[i].ndim == 1:
                top = ", ".join(f"{k}: {probs[i][k]:.3f}" for k in np.argsort(-probs[i])[:3])
                print(f"{name}: {shown} ({top})")
            elif probs is not None:
                conf = " ".join(f"{v:.2f}" for v in probs[i].max(axis=-1))
                print(f"{name}: {shown} (confidence per position {conf})")
            else:
                print(f"{name}: {shown}")
    return 0


def _picture_names(names: Sequence[str]) -> list[str]:
    """A distinct PNG file name per input: "digit.png" -> "digit.png", "batch.npy[3]" -> "batch-3.png"."""
    used: set[str] = set()
    out = []
    for name in names:
        stem, _, index = name.partition("[")
        base = Path(stem).stem + (f"-{index.rstrip(']')}" if index else "")
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base}-{n}"
        used.add(candidate)
        out.append(candidate + ".png")
    return out


def cmd_explain(args: argparse.Namespace) -> int:
    from nnstudio.explain import explain, input_grid, picture_png  # noqa: PLC0415
    from nnstudio.userdirs import atomic_write_bytes  # noqa: PLC0415

    project = _load_project(args.project)
    config = _config_for(project, None, backend=args.backend)
    model = _build_model(project, config.backend, _trained_weights(args))
    sample_shape = tuple(int(s) for s in model.input_shape)
    x, names = _inputs_for(args.inputs, sample_shape, args.as_drawing)  # the same reading as `predict`
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(_("-o '{folder}': expected a folder for the pictures; found a file").format(folder=out_dir))
    try:
        make_folders(out_dir)
    except OSError as exc:
        raise UserError(_("-o '{folder}': cannot create the folder for the pictures ({reason})").format(
            folder=out_dir, reason=exc.strerror or exc)) from None
    grid = input_grid(sample_shape)
    for start in range(0, len(x), 64):
        result = explain(model, x[start:start + 64], args.method)
        for j, picture in enumerate(_picture_names(names)[start:start + 64]):
            i = start + j
            k = int(result.classes[j])
            p = None if result.probabilities is None else float(result.probabilities[j][k])
            caption = f"{args.method}: class {k}" + ("" if p is None else f" ({p:.1%})")
            target = out_dir / picture
            try:
                atomic_write_bytes(target, picture_png(x[i], result.maps[j].reshape(grid), caption))
            except OSError as exc:
                raise UserError(_("cannot write the picture '{path}' ({reason})").format(
                    path=target, reason=exc.strerror or exc)) from None
            if args.json:
                print(json.dumps({"input": names[i], "class": k, "probability": p, "method": args.method,
                                  "png": str(target), "map": np.round(result.maps[j], 6).tolist()}))
            else:
                shown = _("{input}: class {k}").format(input=names[i], k=k)
                print(shown + ("" if p is None else f" ({p:.1%})") + f" -> {target}")
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    from nnstudio.profile import count_costs, format_table, measure_times  # noqa: PLC0415

    project = _load_project(args.project)
    config = _config_for(project, None, backend=args.backend)
    batch = int(args.batch if args.batch is not None else config.batch_size)
    if batch < 1 or args.repeats < 1:
        raise UserError(_("--batch and --repeats must be at least 1; found {batch} and {repeats}").format(
            batch=batch, repeats=args.repeats))
    counted = count_costs(project.graph, batch=batch)
    # Timing runs a real batch: a batch that cannot fit is one line, not a MemoryError (or the system's
    # out-of-memory killer).
    from nnstudio.memory import human_bytes  # noqa: PLC0415
    from nnstudio.profile import timing_fits  # noqa: PLC0415
    fits, need, free = timing_fits(counted)
    if not fits:
        raise UserError(_("--batch {batch}: timing a batch this large would need about {need} of memory but only "
                          "{free} is free; use a smaller --batch").format(
            batch=batch, need=human_bytes(need), free=human_bytes(free)))
    try:
        profile = measure_times(project.graph, counted, config.backend, repeats=args.repeats)
    except MemoryError:
        raise UserError(_("--batch {batch}: not enough memory to time a batch this large; use a smaller "
                          "--batch").format(batch=batch)) from None
    if args.json:
        record = profile.to_json()
        for row in record["nodes"]:
            print(json.dumps(row))
        print(json.dumps({"total": record["total"], "batch": batch, "backend": profile.backend}))
        return 0
    print(_("{name}: batch {batch}, {dtype}, backend {backend}; MACs per sample, activations per batch (see "
            "docs/profile.md), times in ms per batch (median of {repeats})").format(
        name=project.name, batch=batch, dtype=profile.dtype, backend=profile.backend, repeats=args.repeats))
    print(format_table(profile))
    largest = profile.largest("macs")
    if largest is not None:
        print(_("* largest: {node} ({share} of the forward MACs); training needs {macs} MACs per sample (forward "
                "+ backward)").format(node=largest.node, share=f"{profile.share(largest):.1%}",
                                      macs=f"{int(profile.total('train_macs')):,}"))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from nnstudio import bench  # noqa: PLC0415

    return int(bench.main(list(args.bench_args)) or 0)


def cmd_data_list(args: argparse.Namespace) -> int:
    from nnstudio.data.registry import list_datasets  # noqa: PLC0415

    rows = list_datasets()
    width = max((len(name) for name, _ in rows), default=0)
    for name, description in rows:
        print(f"{name.ljust(width)}  {description}")
    return 0


def cmd_data_download(args: argparse.Namespace) -> int:
    from nnstudio.data.download import download  # noqa: PLC0415

    from nnstudio.progress import Progress  # noqa: PLC0415

    bars: dict[str, Progress] = {}  # one bar per file (tqdm on a terminal, plain lines otherwise)
    announced: set[str] = set()

    def progress(done: int, total: int, file_name: str) -> None:
        bar = bars.get(file_name)
        if bar is None or bar.total != total:
            for other in bars.values():
                other.close()
            bar = bars[file_name] = Progress(sys.stderr, total, file_name, "B", initial=done)
        bar.update(done)
        if total and done >= total and file_name not in announced:
            announced.add(file_name)
            bar.close()
            print(f"{file_name}: {total / 1e6:.1f} MB", file=sys.stderr, flush=True)

    try:
        folder = download(args.name, progress=progress)
    finally:
        for bar in bars.values():
            bar.close()
    print(f"{args.name} is ready in {folder}")
    return 0


def cmd_self_test() -> int:
    try:
        from nnstudio import selftest  # noqa: PLC0415
    except ImportError:
        raise UserError("the self-test is not part of this build") from None
    return int(selftest.main() or 0)


# -- the parser ------------------------------------------------------------------------------------------------

def _add_model_inputs(p: argparse.ArgumentParser) -> None:
    """What ``predict`` and ``explain`` both read: a project, its trained weights and inputs (.npy or images)."""
    p.add_argument("project")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help=".npy arrays or image files")
    p.add_argument("--weights", metavar="W.npz",
                   help="the trained weights (default: PROJECT.weights.npz beside the project)")
    p.add_argument("--as-drawing", action="store_true",
                   help="treat images as handwritten digits: crop, centre and scale them like the drawing canvas")
    p.add_argument("--backend", choices=BACKENDS, help="array backend (default: the project's)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nnstudio",
                     description="NN Studio: build, train and understand neural networks. Without a command the "
                                 "desktop app starts.",
                     epilog="Run `nnstudio COMMAND --help` for the options of a command.")
    parser.add_argument("--version", action="version", version=f"nnstudio {__version__}")
    parser.add_argument("--lang", metavar="LANG",
                        help="language of messages: en or zh (default: NNSTUDIO_LANG, else the locale)")
    parser.add_argument("--self-test", action="store_true",
                        help="check that this installation works (engine, data, training) and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("gui", help="start the desktop app (the default)", description="Start the desktop app.")
    p.add_argument("project", nargs="?", help="a project file to open")
    p.set_defaults(func=cmd_gui)

    p = sub.add_parser("examples", help="list the example projects (the curriculum)",
                       description="List the example projects with a one-line description of each.")
    p.add_argument("--lang", choices=("en", "zh"), default=None,
                   help="language of the descriptions (default: the language of messages)")
    p.set_defaults(func=cmd_examples)

    p = sub.add_parser("new", help="create a project from an example",
                       description="Copy an example project into a new project file.")
    p.add_argument("example", help="the example's name (see `nnstudio examples`)")
    p.add_argument("-o", "--output", help="the project file to write (default: EXAMPLE.nnproj)")
    p.add_argument("--force", action="store_true", help="replace the file if it exists")
    p.set_defaults(func=cmd_new)

    p = sub.add_parser("check", help="validate a project: shapes and parameter counts of every node",
                       description="Print every node's output shape and parameter count, and the total; exit 1 "
                                   "with the problems when the network is not valid.")
    p.add_argument("project")
    p.add_argument("--dataset", help="check against this dataset instead of the project's")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("train", help="train a project and save its weights",
                       description="Train a project. A progress bar with samples/s goes to stderr (on a terminal); "
                                   "each epoch's training and validation loss and accuracy go to stdout, then the "
                                   "test metrics. Ctrl-C (or SIGTERM) stops after the current batch, saves the "
                                   "weights and exits with status 130 (143). A run that ends in NaN or out of "
                                   "memory leaves the weights file as it was and saves its last good weights "
                                   "beside it as W.lastgood.npz.")
    p.add_argument("project")
    p.add_argument("--epochs", type=int, help="number of epochs (default: the project's)")
    p.add_argument("--dataset", help="train on this dataset instead of the project's")
    p.add_argument("--backend", choices=BACKENDS, help="array backend (default: the project's)")
    p.add_argument("--weights-out", metavar="W.npz",
                   help="where to save the weights (default: PROJECT.weights.npz beside the project)")
    p.add_argument("--weights-in", metavar="W.npz", help="continue training from these weights")
    p.add_argument("--continue", dest="resume", action="store_true",
                   help="continue training from the project's weights file (PROJECT.weights.npz beside the "
                        "project) instead of fresh initial weights")
    p.add_argument("--max-samples", type=int, metavar="N",
                   help="use at most N training samples (and at most N test samples)")
    p.add_argument("--batch-size", type=int, help="batch size (default: the project's)")
    p.add_argument("--learning-rate", "--lr", type=float, dest="learning_rate",
                   help="learning rate (default: the project's)")
    p.add_argument("--seed", type=int, help="seed for weights, split and batch order (default: the project's)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per epoch, one per hint ({\"hint\": KIND, \"node\", \"text\", "
                        "\"epoch\", \"step\"}) and a final one with the test metrics to stdout")
    p.add_argument("--no-history", action="store_true",
                   help="do not keep this run in the project's run history (PROJECT.runs/)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="test accuracy (or MSE) and confusion matrix of trained weights",
                       description="Score trained weights on the test split of the project's dataset.")
    p.add_argument("project")
    p.add_argument("--weights", metavar="W.npz",
                   help="the trained weights (default: PROJECT.weights.npz beside the project)")
    p.add_argument("--dataset", help="evaluate on this dataset instead of the project's")
    p.add_argument("--backend", choices=BACKENDS, help="array backend (default: the project's)")
    p.add_argument("--max-samples", type=int, metavar="N", help="use at most N test samples")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict classes (or raw outputs) for .npy arrays or image files",
                       description="Run trained weights on inputs: .npy files (one sample or a batch) or image "
                                   "files, resized to the Input shape. All inputs go through the network in "
                                   "batches. --raw prints the network's whole output per sample instead of a "
                                   "class.")
    _add_model_inputs(p)
    p.add_argument("--raw", action="store_true",
                   help="print each sample's whole output tensor (no argmax): for regressions, feature maps, "
                        "scores")
    p.add_argument("--json", action="store_true",
                   help='one JSON object per sample: {"input", "predicted", "probabilities"}; with --raw '
                        '{"input", "output"}')
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("explain", help="which pixels made the prediction: saliency or Grad-CAM heat maps",
                       description="Write one PNG per input (the input and the heat map over it) showing which "
                                   "pixels made the network predict its class: saliency (|d score / d input|) or "
                                   "Grad-CAM (the last Conv2D's maps weighted by their gradients). Inputs are read "
                                   "as for `predict`.")
    _add_model_inputs(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT_DIR", help="the folder for the PNGs")
    p.add_argument("--method", choices=("saliency", "gradcam"), default="saliency",
                   help="saliency (any network) or gradcam (networks with a Conv2D); default saliency")
    p.add_argument("--json", action="store_true",
                   help='one JSON object per input: {"input", "class", "probability", "method", "png", "map"} '
                        "with the map (0 to 1) as nested lists in the Input's own pixel grid")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("profile", help="what each layer costs: parameters, MACs, activation memory, time",
                       description="Count every node's parameters, multiply-accumulates per sample and activation "
                                   "memory at the batch size, and time its forward and backward on one batch "
                                   "(conventions in docs/profile.md).")
    p.add_argument("project")
    p.add_argument("--batch", type=int, metavar="N", help="batch size (default: the project's)")
    p.add_argument("--backend", choices=BACKENDS, help="array backend (default: the project's)")
    p.add_argument("--repeats", type=int, default=5, metavar="N", help="timed repeats per layer (median; default 5)")
    p.add_argument("--json", action="store_true",
                   help='one JSON object per node {"node", "type", "params", "macs", "activation_bytes", '
                        '"forward_ms", "backward_ms", ...}, then {"total": ...}')
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("bench", help="measure the engine's speed (see `nnstudio bench --help`)", add_help=False,
                       description="Measure training speed and inference latency.")
    p.add_argument("bench_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("export", help="export a trained project to ONNX or a PyTorch module",
                       description="Export a project and its weights to ONNX (opset 17) or to a standalone "
                                   "PyTorch file.")
    _export_arguments(p, "export")
    p = sub.add_parser("import", help="import an ONNX model as a project",
                       description="Build a project (graph and weights) from an ONNX model.")
    _export_arguments(p, "import")

    from nnstudio.runs.cli import add_runs_arguments, add_sweep_arguments  # noqa: PLC0415
    p = sub.add_parser("runs", help="list or delete the runs kept in a project's history",
                       description="List the runs of a project kept in PROJECT.runs/ beside it (id, date, metric, "
                                   "end reason, duration), or delete some.")
    add_runs_arguments(p)
    p = sub.add_parser("sweep", help="train a project once per value of one or more settings",
                       description="Train one trial per combination of the values given with --set, one after "
                                   "another; each trial is a run in the history. Prints each trial's test accuracy "
                                   "(or loss) and a summary with the best trial marked.")
    add_sweep_arguments(p)

    p = sub.add_parser("data", help="list or download datasets", description="List or download datasets.")
    data_sub = p.add_subparsers(dest="data_command", metavar="ACTION", parser_class=_Parser, required=True)
    q = data_sub.add_parser("list", help="the datasets that can be used now", description="List the datasets.")
    q.set_defaults(func=cmd_data_list)
    q = data_sub.add_parser("download", help="download a full dataset (mnist, fashion-mnist)",
                            description="Download a dataset into the user data folder, with a progress bar.")
    q.add_argument("name", help="mnist or fashion-mnist")
    q.set_defaults(func=cmd_data_download)
    return parser


def _export_arguments(parser: argparse.ArgumentParser, which: str) -> None:
    """The export/import options live with the exporter; onnx itself is imported only when they run."""
    from nnstudio.export import add_export_arguments, add_import_arguments, cli_export, cli_import  # noqa: PLC0415

    if which == "export":
        add_export_arguments(parser)
        parser.set_defaults(func=cli_export)
    else:
        add_import_arguments(parser)
        parser.set_defaults(func=cli_import)


def shown_name(project: Any) -> str:
    """The project's name in the language of messages (the examples carry a Chinese name too)."""
    name_zh = str(getattr(project, "name_zh", "") or "")
    return name_zh if current_language() == "zh" and name_zh else str(project.name)


MAX_ERROR_CHARS = 2000  # an error quoting what it received ("[" * 100000) stays a line one can read


def one_line(text: str) -> str:
    """A multi-line message (e.g. a list of graph problems) as one line: "a: b; c", at most
    :data:`MAX_ERROR_CHARS` long (the middle of a longer one is left out: both ends say what and where)."""
    out = ""
    for line in (part.strip() for part in text.splitlines()):
        if line:
            out += line if not out else (" " if out.endswith(":") else "; ") + line
    if len(out) > MAX_ERROR_CHARS:
        half = MAX_ERROR_CHARS // 2 - 2
        out = f"{out[:half]} … {out[-half:]}"
    return out


def take_language(argv: list[str]) -> str:
    """The language asked for by ``--lang LANG`` / ``--lang=LANG`` anywhere in ``argv`` (removed from it,
    except where `nnstudio examples --lang` uses it for its descriptions), else ``NNSTUDIO_LANG`` or the
    locale: "en" or "zh"."""
    asked = None
    keep_for_examples = bool(argv) and argv[0] == "examples"
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            break
        if arg == "--lang" or arg.startswith("--lang="):
            value = arg.split("=", 1)[1] if "=" in arg else (argv[i + 1] if i + 1 < len(argv) else "")
            width = 1 if "=" in arg else 2
            lang = normalise(value)
            if not lang:
                raise UserError(_("--lang: expected en or zh; found '{value}'").format(value=value))
            asked = lang
            if not keep_for_examples:
                del argv[i:i + width]
                continue
            i += width
            continue
        i += 1
    return asked or system_language()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args: Any = None
    try:
        set_language(take_language(argv))
        parser = build_parser()
        if argv and argv[0] == "bench":  # everything after "bench" belongs to the bench's own parser
            from nnstudio import bench  # noqa: PLC0415

            return int(bench.main(argv[1:]) or 0)
        args = parser.parse_args(argv)
        if args.self_test:
            return cmd_self_test()
        if args.command is None:
            args.project = None
            return cmd_gui(args)
        with warnings.catch_warnings():
            # NumPy's overflow / invalid-value RuntimeWarnings are not for the user's screen: a run that goes
            # wrong ends with its own one-line message (NaN loss, out of memory).
            warnings.simplefilter("ignore", RuntimeWarning)
            return int(args.func(args))
    except UserError as exc:
        print(_("error: {message}").format(message=one_line(str(exc))), file=sys.stderr)
        return 1
    except SystemExit as exc:  # --help and --version
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except MemoryError as exc:  # more than the memory holds (CuPy's error is one too)
        # `train` ends such a run with its own message; predict, explain and evaluate gave a traceback when a
        # network's layer outputs outgrew the memory.
        where, reason = getattr(args, "project", None) or "nnstudio", str(exc) or "MemoryError"
        if getattr(args, "func", None) in (cmd_predict, cmd_explain, cmd_evaluate):
            text = _("{file}: not enough memory to run the network ({reason}); its layer outputs need more than "
                     "is free (nnstudio profile shows what each layer takes)").format(file=where, reason=reason)
        else:
            text = _("{file}: not enough memory ({reason})").format(file=where, reason=reason)
        print(_("error: {message}").format(message=one_line(text)), file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C outside a training loop (which saves first): making a dataset, an export
        print(_("error: interrupted by Ctrl-C"), file=sys.stderr)
        return 130
    except BrokenPipeError:  # `nnstudio predict ... | head`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0
