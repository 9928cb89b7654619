"""The run history of a project: one folder per run, next to the project, read lazily.

Why this exists: the course's lessons are comparisons (sigmoid against ReLU, a learning rate too small and
too large), so a run must not overwrite the last one.  Every run of a saved project ``NAME.nnproj`` is kept
in ``NAME.runs/<run id>/`` in open formats (``run.json``, CSV curves, ``.npz`` weights; see
docs/project-format.md).  A run folder is written under a hidden ``.partial-<id>`` name and renamed when
the run ends, so a listing never sees half a run.  :meth:`RunStore.list` reads only the small ``run.json``
files; curves, weights and snapshots are read when a view asks for them.  The store keeps to a size budget
(oldest runs pruned first, never the newest) and deletes runs on request.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from nnstudio.errors import UserError, finite_float
from nnstudio.i18n import _
from nnstudio.safe_files import open_regular

RUNS_SUFFIX = ".runs"
RUN_FORMAT = "nnstudio-run"
RUN_VERSION = 1
PARTIAL_PREFIX = ".partial-"
MAX_RUN_JSON_BYTES = 16 * 2**20
MAX_CSV_BYTES = 256 * 2**20
DEFAULT_BUDGET_MB = 500.0
BUDGET_ENV = "NNSTUDIO_RUNS_BUDGET_MB"

MAX_COUNT = 2**53  # the largest step, epoch or sample count a run.json may give (exact as a float too)
TEXT_FIELDS = ("name", "project", "started", "finished", "end_reason", "message", "backend", "weights")
COUNT_FIELDS = ("param_count", "steps_per_epoch", "epochs", "n_train", "n_val", "n_test", "epochs_done",
                "steps_done")
OBJECT_FIELDS = {"settings": dict, "graph": dict, "metrics": dict, "origin": dict, "snapshots": list,
                 "hints": list, "layers": list, "preview_loss": list}

BATCH_COLUMNS = ("epoch", "step", "global_step", "loss", "accuracy", "lr")
EPOCH_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds", "global_step")


def runs_dir_for(project_path: str | os.PathLike) -> Path:
    """Where a project's runs live: ``<name>.runs/`` beside ``<name>.nnproj``."""
    p = Path(project_path)
    stem = p.name[: -len(p.suffix)] if p.suffix else p.name
    return p.with_name(stem + RUNS_SUFFIX)


def keeps_history(project_path: str | os.PathLike) -> bool:
    """Whether runs of this project file are kept: not for the examples shipped inside NN Studio itself
    (their folder belongs to the installation; a project made from one keeps its runs)."""
    from nnstudio.resources_path import resources_root  # noqa: PLC0415
    try:
        Path(project_path).resolve().relative_to(resources_root().resolve())
    except ValueError:
        return True
    return False


def default_budget_bytes() -> int:
    """The size budget of one project's runs: ``NNSTUDIO_RUNS_BUDGET_MB`` megabytes, else 500 MB."""
    raw = os.environ.get(BUDGET_ENV, "").strip()
    try:
        mb = float(raw) if raw else DEFAULT_BUDGET_MB
    except ValueError:
        raise UserError(f"{BUDGET_ENV} must be a number of megabytes. Received: {BUDGET_ENV}={raw!r}") from None
    if not math.isfinite(mb) or mb <= 0:
        raise UserError(f"{BUDGET_ENV} must be a positive number of megabytes. Received: {BUDGET_ENV}={raw!r}")
    return int(mb * 2**20)


def _read_text(path: Path, label: str, limit: int) -> str:
    fh, size = open_regular(path, label, "a text file")
    with fh:
        if size > limit:
            raise UserError(f"{label} is {size:,} bytes, more than the {limit:,} a run file may hold")
        data = fh.read(limit + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{label} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _count(value: Any) -> int | None:
    """``value`` as a whole number from 0 to :data:`MAX_COUNT`, or None."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        return None
    return value


def _float(value: str) -> float:
    try:
        return float(value) if value not in ("", "None") else float("nan")
    except ValueError:
        return float("nan")


def read_csv_columns(path: Path, label: str) -> dict[str, np.ndarray]:
    """The numeric columns of a run's CSV file by header name (empty or unreadable cells are NaN)."""
    text = _read_text(path, label, MAX_CSV_BYTES)
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return {}
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if r]
    table = np.full((len(body), len(header)), np.nan)
    for i, row in enumerate(body):
        for j, cell in enumerate(row[:len(header)]):
            table[i, j] = _float(cell.strip())
    return {name: table[:, j] for j, name in enumerate(header)}


def csv_text(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """CSV text with floats written in full precision and None / NaN as ``nan``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(header))
    for row in rows:
        writer.writerow(["nan" if v is None else (repr(float(v)) if isinstance(v, float) else v) for v in row])
    return out.getvalue()


@dataclass
class Snapshot:
    """The weights of a run at one moment: after ``step`` batches (``epoch`` is the epoch that step was in)."""

    step: int
    epoch: int
    file: str  # relative to the run folder


@dataclass
class Run:
    """One stored run.  ``meta`` is its ``run.json``; everything else is read when first asked for."""

    path: Path
    meta: dict[str, Any]
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- what run.json says ----------------------------------------------------------------------------------
    # Each property gives its documented type whatever run.json holds: load_run refuses a damaged file, and a
    # Run made from a dict in memory falls back to the default of a field of the wrong type.
    def _text(self, key: str) -> str:
        value = self.meta.get(key)
        return value if isinstance(value, str) else ""

    def _object(self, key: str) -> dict[str, Any]:
        value = self.meta.get(key)
        return dict(value) if isinstance(value, dict) else {}

    @property
    def id(self) -> str:
        value = self.meta.get("id")
        return value if isinstance(value, str) and value else self.path.name

    @property
    def name(self) -> str:
        return self._text("name") or _("Run {number}").format(number=self.id)

    @property
    def started(self) -> str:
        return self._text("started")

    @property
    def end_reason(self) -> str:
        return self._text("end_reason")

    @property
    def seconds(self) -> float:
        return max(finite_float(self.meta.get("seconds")) or 0.0, 0.0)

    @property
    def settings(self) -> dict[str, Any]:
        return self._object("settings")

    @property
    def graph_dict(self) -> dict[str, Any]:
        return self._object("graph") or {"nodes": [], "edges": []}

    @property
    def metrics(self) -> dict[str, Any]:
        return self._object("metrics")

    def metric(self) -> tuple[str, float | None]:
        """The run's headline result: ("test_acc", value), else ("test_loss", value), else the last loss."""
        m = self.metrics
        for key in ("test_acc", "test_r2", "test_loss", "val_acc", "val_loss", "train_loss"):
            value = finite_float(m.get(key))
            if value is not None:
                return key, value
        return "test_loss", None

    def metric_text(self) -> str:
        key, value = self.metric()
        if value is None:
            return "n/a"
        if key.endswith("_acc"):
            return f"{value:.2%}"
        return f"{value:.4g}"

    @property
    def snapshots(self) -> list[Snapshot]:
        """The kept snapshots; an entry without a file name or with a step or epoch that is not a whole number
        from 0 is left out."""
        entries = self.meta.get("snapshots")
        out = []
        for s in entries if isinstance(entries, list) else []:
            if not isinstance(s, dict) or not isinstance(s.get("file"), str):
                continue
            step, epoch = _count(s.get("step", 0)), _count(s.get("epoch", 0))
            if step is not None and epoch is not None:
                out.append(Snapshot(step, epoch, s["file"]))
        return out

    # -- lazily read files ---------------------------------------------------------------------------------
    def curves(self) -> dict[str, np.ndarray]:
        """Per-batch columns (``BATCH_COLUMNS``), read once."""
        if "curves" not in self._cache:
            path = self.path / "curves.csv"
            self._cache["curves"] = read_csv_columns(path, f"run file '{path}'") if path.exists() else {}
        return self._cache["curves"]

    def epochs(self) -> dict[str, np.ndarray]:
        """Per-epoch columns (``EPOCH_COLUMNS``), read once."""
        if "epochs" not in self._cache:
            path = self.path / "epochs.csv"
            self._cache["epochs"] = read_csv_columns(path, f"run file '{path}'") if path.exists() else {}
        return self._cache["epochs"]

    def gradients(self) -> dict[str, np.ndarray]:
        """Per-batch gradient norms: ``global_step`` and one column per layer id (batches without them: NaN)."""
        if "gradients" not in self._cache:
            path = self.path / "gradients.csv"
            self._cache["gradients"] = read_csv_columns(path, f"run file '{path}'") if path.exists() else {}
        return self._cache["gradients"]

    def weights(self) -> dict[str, np.ndarray]:
        """The weights the run ended with (UserError when it kept none)."""
        from nnstudio.engine.weights_io import read_weights  # noqa: PLC0415
        path = self.path / "weights.npz"
        if not path.exists():
            raise UserError(f"run '{self.id}' kept no weights (it ended with '{self.end_reason}')")
        return read_weights(path)

    def snapshot_weights(self, snapshot: Snapshot) -> dict[str, np.ndarray]:
        from nnstudio.engine.weights_io import read_weights  # noqa: PLC0415
        path = (self.path / snapshot.file).resolve()
        if self.path.resolve() not in path.parents:
            raise UserError(f"run '{self.id}': snapshot file '{snapshot.file}' is outside the run folder")
        return read_weights(path)

    def project(self) -> Any:
        """The project as it was when the run started (its graph and settings)."""
        from nnstudio.graph.document import Graph  # noqa: PLC0415
        from nnstudio.graph.project_file import Project  # noqa: PLC0415
        try:
            graph = Graph.from_dict(self.graph_dict)
        except UserError as exc:
            raise UserError(f"run '{self.id}' in '{self.path}': {exc}") from None
        return Project(name=str(self.meta.get("project") or self.name), graph=graph, training=self.settings)

    def size_bytes(self) -> int:
        return _folder_size(self.path)


def _folder_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def load_run(path: Path) -> Run:
    """The run in folder ``path`` (its run.json checked); UserError naming the file when it is not usable."""
    meta_path = path / "run.json"
    label = f"run file '{meta_path}'"
    try:
        meta = json.loads(_read_text(meta_path, label, MAX_RUN_JSON_BYTES),
                          parse_constant=lambda name: float("nan"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{label} is not usable JSON: {exc}") from None
    except ValueError as exc:  # an integer of more digits than Python reads (4,300)
        raise UserError(f"{label} is not usable JSON: {str(exc).split(';')[0]}") from None
    except RecursionError:
        raise UserError(f"{label} is nested too deeply") from None
    if not isinstance(meta, dict) or meta.get("format") != RUN_FORMAT:
        found = _shown(meta.get("format")) if isinstance(meta, dict) else f"a JSON {_json_type(meta)}"
        raise UserError(f"{label} is not an NN Studio run: expected \"format\": \"{RUN_FORMAT}\", found {found}")
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UserError(f"{label}: version must be a whole number from 1. Received: version={_shown(version)}")
    if version > RUN_VERSION:
        raise UserError(f"{label} was written by a newer NN Studio (run version {_shown(version)}; this one reads "
                        f"up to {RUN_VERSION})")
    _check_fields(meta, label)
    meta["id"] = path.name
    return Run(path, meta)


def _json_type(value: Any) -> str:
    """The JSON name of ``value``'s type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    for kind, name in ((str, "text"), (int, "whole number"), (float, "number"), (dict, "object"), (list, "list")):
        if isinstance(value, kind):
            return name
    return type(value).__name__  # pragma: no cover - json.loads makes only the types above


def _check_fields(meta: dict[str, Any], label: str) -> None:
    """UserError naming ``label`` and the field when a field of run.json has the wrong type or a number out of
    range (fields may be missing or null; only the ones NN Studio reads are checked)."""
    for key, kind in OBJECT_FIELDS.items():
        if meta.get(key) is not None and not isinstance(meta[key], kind):
            raise UserError(f"{label}: \"{key}\" must be a JSON {'object' if kind is dict else 'list'}. "
                            f"Received: {_json_type(meta[key])}")
    for key in TEXT_FIELDS:
        if meta.get(key) is not None and not isinstance(meta[key], str):
            raise UserError(f"{label}: \"{key}\" must be text. Received: {_json_type(meta[key])}")
    for key in COUNT_FIELDS:
        if meta.get(key) is not None and _count(meta[key]) is None:
            raise UserError(f"{label}: \"{key}\" must be a whole number from 0 to {MAX_COUNT:,}. "
                            f"Received: {_shown(meta[key])}")
    seconds = meta.get("seconds")
    if seconds is not None and (finite_float(seconds) is None or seconds < 0):
        raise UserError(f"{label}: \"seconds\" must be a number of seconds from 0. Received: {_shown(seconds)}")
    for key, value in (meta.get("metrics") or {}).items():
        if isinstance(value, (bool, str, dict)):
            raise UserError(f"{label}: metric \"{key}\" must be a number, a list of numbers or null. "
                            f"Received: {_shown(value)}")
    for i, entry in enumerate(meta.get("snapshots") or []):
        where = f"{label}: snapshots[{i}]"
        if not isinstance(entry, dict):
            raise UserError(f"{where} must be a JSON object. Received: {_json_type(entry)}")
        if not isinstance(entry.get("file"), str):
            raise UserError(f"{where}: \"file\" must be text. Received: {_json_type(entry.get('file'))}")
        for key in ("step", "epoch"):
            if key in entry and _count(entry[key]) is None:
                raise UserError(f"{where}: \"{key}\" must be a whole number from 0 to {MAX_COUNT:,}. "
                                f"Received: {_shown(entry[key])}")
    _check_numbers(meta, label)


def _digits(value: int) -> int:
    """How many decimal digits the whole number ``value`` has (estimated above what Python prints)."""
    try:
        return len(str(abs(value)))
    except ValueError:
        return int(abs(value).bit_length() * math.log10(2)) + 1


def _shown(value: Any) -> str:
    """``value`` for a message: numbers and short texts as written, anything else by its JSON type."""
    if isinstance(value, bool) or value is None:
        return _json_type(value)
    if isinstance(value, int) and abs(value) >= 10**20:
        return f"a whole number of {_digits(value):,} digits"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value[:40] + "..." if len(value) > 40 else value)
    kind = _json_type(value)
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _check_numbers(meta: dict[str, Any], label: str) -> None:
    """UserError naming the field when run.json holds a whole number too large for a float anywhere inside it
    (views turn numbers into floats and NumPy arrays); the walk uses a stack, not recursion, however deeply
    the file is nested."""
    for key, top in meta.items():
        stack = [top]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                stack.extend(value.values())
            elif isinstance(value, list):
                stack.extend(value)
            elif isinstance(value, int) and not isinstance(value, bool) and finite_float(value) is None:
                raise UserError(f"{label}: \"{key}\" holds a whole number of {_digits(value):,} digits, too "
                                f"large for any count or measure")


class RunStore:
    """The runs in one folder (a project's ``NAME.runs``); see the module docstring."""

    def __init__(self, root: str | os.PathLike, budget_bytes: int | None = None) -> None:
        self.root = Path(root)
        self.budget_bytes = default_budget_bytes() if budget_bytes is None else int(budget_bytes)
        self.problems: list[str] = []  # folders the last list() skipped, with why

    @classmethod
    def for_project(cls, project_path: str | os.PathLike, budget_bytes: int | None = None) -> "RunStore":
        return cls(runs_dir_for(project_path), budget_bytes)

    # -- reading -----------------------------------------------------------------------------------------------
    def run_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.name.startswith(".") and not p.is_symlink())

    def list(self) -> list[Run]:
        """Every finished run, oldest first (damaged ones are skipped and named in ``problems``)."""
        runs, self.problems = [], []
        for run_id in self.run_ids():
            try:
                runs.append(load_run(self.root / run_id))
            except UserError as exc:
                self.problems.append(str(exc))
        return runs

    def get(self, run_id: str) -> Run:
        run_id = str(run_id).strip()
        if run_id not in self.run_ids():
            known = ", ".join(self.run_ids()) or "none"
            raise UserError(_("run '{id}' does not exist in '{folder}' (runs: {known})").format(
                id=run_id, folder=self.root, known=known))
        return load_run(self.root / run_id)

    def total_bytes(self) -> int:
        return _folder_size(self.root) if self.root.is_dir() else 0

    # -- writing -----------------------------------------------------------------------------------------------
    def _taken(self) -> set[int]:
        taken = set()
        if self.root.is_dir():
            for p in self.root.iterdir():
                name = p.name[len(PARTIAL_PREFIX):] if p.name.startswith(PARTIAL_PREFIX) else p.name
                if name.isdigit():
                    taken.add(int(name))
        return taken

    def begin(self) -> tuple[str, Path]:
        """Reserve the next run id and create its hidden folder: (id, folder)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"runs folder '{self.root}' cannot be created ({exc.strerror or exc})") from None
        number = max(self._taken(), default=0) + 1
        while True:
            run_id = f"{number:04d}"
            partial = self.root / (PARTIAL_PREFIX + run_id)
            try:
                partial.mkdir()
            except FileExistsError:
                number += 1
                continue
            except OSError as exc:
                raise UserError(f"runs folder '{self.root}' cannot be written ({exc.strerror or exc})") from None
            return run_id, partial

    def commit(self, run_id: str, partial: Path) -> Path:
        """Make a finished run visible (one rename); then keep to the budget."""
        final = self.root / run_id
        os.replace(partial, final)
        self.prune(keep={run_id})
        return final

    def abandon(self, partial: Path) -> None:
        shutil.rmtree(partial, ignore_errors=True)

    def delete(self, run_id: str) -> None:
        run = self.get(run_id)
        trash = self.root / f".deleting-{run.id}"
        try:
            os.replace(run.path, trash)  # gone from listings at once, even if removing the files takes a while
        except OSError as exc:
            raise UserError(f"run '{run.id}' cannot be deleted ({exc.strerror or exc})") from None
        shutil.rmtree(trash, ignore_errors=True)

    def prune(self, keep: Iterable[str] = ()) -> list[str]:
        """Delete the oldest runs until the folder fits the budget; the newest run and ``keep`` stay."""
        keep = set(keep)
        ids = self.run_ids()
        if ids:
            keep.add(ids[-1])
        sizes = {run_id: _folder_size(self.root / run_id) for run_id in ids}
        total = sum(sizes.values())
        removed = []
        for run_id in ids:
            if total <= self.budget_bytes:
                break
            if run_id in keep:
                continue
            shutil.rmtree(self.root / run_id, ignore_errors=True)
            total -= sizes[run_id]
            removed.append(run_id)
        return removed

    def move_to(self, root: Path) -> "RunStore":
        """Move every finished run into ``root`` (an unsaved project's runs, once it is saved there)."""
        target = RunStore(root, self.budget_bytes)
        for run in self.list():
            run_id, partial = target.begin()
            shutil.rmtree(partial)
            shutil.move(os.fspath(run.path), os.fspath(root / run_id))
            try:  # the id is the folder's name; run.json says it too, for a reader of the file alone
                meta = dict(run.meta, id=run_id)
                write_json(root / run_id / "run.json", meta)
            except UserError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)
        return target


def remove_stale_unsaved(folder: Path) -> list[str]:
    """Delete the ``unsaved-<process id>-…`` run folders of processes that no longer run (a crash leaves them;
    a window that closes deletes its own).  Returns the names removed."""
    removed = []
    if not folder.is_dir():
        return removed
    for path in folder.glob("unsaved-*"):
        parts = path.name.split("-")
        if len(parts) < 2 or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        except (PermissionError, OSError):
            pass  # another user's process, or no way to tell: leave it
    return removed


def json_safe(value: Any) -> Any:
    """``value`` with NaN / infinities as None and NumPy scalars and arrays as plain Python."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: Any) -> None:
    from nnstudio.userdirs import atomic_write_bytes  # noqa: PLC0415
    try:
        atomic_write_bytes(path, (json.dumps(json_safe(data), indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    except OSError as exc:
        raise UserError(f"run file '{path}' cannot be written ({exc.strerror or exc})") from None


__all__ = ["BATCH_COLUMNS", "EPOCH_COLUMNS", "keeps_history", "remove_stale_unsaved", "RUNS_SUFFIX", "RUN_FORMAT", "RUN_VERSION", "Run", "RunStore",
           "Snapshot", "csv_text", "default_budget_bytes", "finite_float", "json_safe", "load_run", "read_csv_columns",
           "runs_dir_for", "write_json"]
