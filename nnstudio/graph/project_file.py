"""Project files: a network and its training setup as versioned UTF-8 JSON.

A project is the graph document plus the training settings, a name and optional descriptions.  This module
is the only place that reads or writes the file format: :func:`load_project` checks the format tag,
migrates older versions step by step through :data:`MIGRATIONS`, refuses files from newer versions with a
clear message, and validates every node and setting (UserError naming the file, the node and the field).
:func:`save_project` writes pretty JSON with a stable key order, atomically.  Trained weights never go into
the JSON: they live beside the project as ``<name>.weights.npz`` (see :func:`weights_path_for`).
The format is described in docs/project-format.md.
"""
from __future__ import annotations

import copy
import json
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from nnstudio.engine.optimizers import OPTIMIZERS, SCHEDULES
from nnstudio.errors import UserError
from nnstudio.i18n import _
from nnstudio.graph.document import Graph
from nnstudio.graph.settings import TrainingSettings
from nnstudio.graph.shapes import LOSS_NAMES
from nnstudio.safe_files import open_regular
from nnstudio.userdirs import atomic_write_bytes

FORMAT = "nnstudio.project"
FORMAT_VERSION = 1
PROJECT_SUFFIX = ".nnproj"
WEIGHTS_SUFFIX = ".weights.npz"
BACKEND_CHOICES = ("auto", "numpy", "cupy")

TRAINING_DEFAULTS: dict[str, Any] = {
    "dataset": "mnist",
    "loss": "cross_entropy",
    "optimizer": "adam",
    "learning_rate": 0.001,
    "batch_size": 64,
    "epochs": 3,
    "seed": 0,
    "validation_split": 0.1,
    "schedule": "constant",
    "augment": False,
    "backend": "auto",
}

# Top-level keys this version understands; any others are kept in ``Project.extras`` and written back.
_KNOWN_KEYS = ("format", "version", "name", "name_zh", "description_en", "description_zh", "graph", "training")


def default_training() -> dict[str, Any]:
    return dict(TRAINING_DEFAULTS)


@dataclass(eq=False)
class Project:
    """A network (the graph document), how to train it, and what to call it."""

    name: str = "Untitled"
    graph: Graph = field(default_factory=Graph)
    training: dict[str, Any] = field(default_factory=default_training)
    description_en: str = ""
    description_zh: str = ""
    name_zh: str = ""  # the name in Simplified Chinese (examples have one)
    extras: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None  # where it was loaded from or last saved; not part of the file

    def __setattr__(self, name: str, value: Any) -> None:
        # The training section is always the evented mapping, however it is assigned.
        if name == "training" and isinstance(value, dict) and not isinstance(value, TrainingSettings):
            value = TrainingSettings(value)
        super().__setattr__(name, value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Project):
            return NotImplemented
        return project_to_dict(self) == project_to_dict(other)


# -- migrations ---------------------------------------------------------------------------------------

def _migrate_0_to_1(data: dict[str, Any]) -> dict[str, Any]:
    """Version 0 (a hypothetical early format) listed a plain stack of layers under "layers".

    Each entry was {"type", "params"} with an optional "id"; each layer fed the next.  Version 1 stores a
    graph of nodes and edges, so the stack becomes a chain.
    """
    out = {k: v for k, v in data.items() if k != "layers"}
    layers = data.get("layers", [])
    if not isinstance(layers, list):
        raise UserError(f"\"layers\" must be a list of layers. Received: {type(layers).__name__}")
    nodes, ids = [], []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise UserError(f"layer {i + 1} must be an object with \"type\" and \"params\"")
        layer_id = layer.get("id") or f"{str(layer.get('type', 'layer')).lower()}_{i + 1}"
        node = {"id": layer_id, "type": layer.get("type"), "params": layer.get("params", {})}
        nodes.append(node)
        ids.append(layer_id)
    out["graph"] = {"nodes": nodes, "edges": [{"from": a, "to": b} for a, b in zip(ids, ids[1:])]}
    out["version"] = 1
    return out


# MIGRATIONS[v] turns a version-v document into a version-(v+1) document.  To change the format: bump
# FORMAT_VERSION, add the step from the previous version here, and never edit an existing step.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    0: _migrate_0_to_1,
}


def migrate(data: dict[str, Any], source: str = "project") -> dict[str, Any]:
    """``data`` brought up to :data:`FORMAT_VERSION`, one step at a time; UserError for newer or odd versions."""
    version = data.get("version")
    if isinstance(version, float) and version.is_integer():
        version = int(version)
    if isinstance(version, bool) or not isinstance(version, int):
        raise UserError(f"{source}: \"version\" must be a whole number (this version writes "
                        f"{FORMAT_VERSION}). Received: version={version!r}")
    if version > FORMAT_VERSION:
        raise UserError(f"{source} was saved by a newer NN Studio (format version {version}); this version "
                        f"reads up to {FORMAT_VERSION}. Update NN Studio to open it")
    if version < min(MIGRATIONS, default=FORMAT_VERSION):
        raise UserError(f"{source}: format version {version} is not a version NN Studio ever wrote "
                        f"(known: {min(MIGRATIONS, default=FORMAT_VERSION)} to {FORMAT_VERSION})")
    data = copy.deepcopy(data)
    while version < FORMAT_VERSION:
        try:
            data = MIGRATIONS[version](data)
        except UserError as exc:
            raise UserError(f"{source} (format version {version}): {exc}") from None
        version += 1
        data["version"] = version
    return data


# -- validation -----------------------------------------------------------------------------------------

def _fail(source: str, key: str, expected: str, value: Any) -> UserError:
    return UserError(f"{source}: training.{key} must be {expected}. Received: {key}={value!r}")


def _int(source: str, key: str, value: Any, low: int, high: int) -> int:
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(float(value)) \
        and float(value).is_integer()
    if not ok:
        raise _fail(source, key, "a whole number", value)
    if not low <= int(value) <= high:
        raise _fail(source, key, f"between {low} and {high}", value)
    return int(value)


def _float(source: str, key: str, value: Any, low: float, high: float, low_open: bool = False,
           high_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise _fail(source, key, "a number", value)
    v = float(value)
    if v < low or (low_open and v == low) or v > high or (high_open and v == high):
        lo = f"{'above' if low_open else 'at least'} {low:g}"
        hi = f"{'below' if high_open else 'at most'} {high:g}"
        raise _fail(source, key, f"{lo} and {hi}", value)
    return v


def _choice(source: str, key: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise _fail(source, key, "one of " + ", ".join(choices), value)
    return value


def validate_training(training: Any, source: str = "project") -> dict[str, Any]:
    """Training settings with defaults filled and known keys checked; unknown keys are kept as they are."""
    if training is None:
        training = {}
    if not isinstance(training, dict):
        raise UserError(f"{source}: \"training\" must be an object of settings. Received: {type(training).__name__}")
    out = default_training()
    out.update(training)
    if not isinstance(out["dataset"], str) or not out["dataset"].strip():
        raise _fail(source, "dataset", "a dataset name such as \"mnist\"", out["dataset"])
    out["loss"] = _choice(source, "loss", out["loss"], LOSS_NAMES)
    out["optimizer"] = _choice(source, "optimizer", out["optimizer"], tuple(OPTIMIZERS))
    out["schedule"] = _choice(source, "schedule", out["schedule"], tuple(SCHEDULES))
    out["backend"] = _choice(source, "backend", out["backend"], BACKEND_CHOICES)
    out["learning_rate"] = _float(source, "learning_rate", out["learning_rate"], 0.0, 10.0, low_open=True)
    out["batch_size"] = _int(source, "batch_size", out["batch_size"], 1, 65536)
    out["epochs"] = _int(source, "epochs", out["epochs"], 1, 100000)
    out["seed"] = _int(source, "seed", out["seed"], 0, 2**32 - 1)
    out["validation_split"] = _float(source, "validation_split", out["validation_split"], 0.0, 1.0,
                                     high_open=True)
    if not isinstance(out["augment"], bool):
        raise _fail(source, "augment", "true or false", out["augment"])
    return out


def _text(source: str, key: str, value: Any, default: str) -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise UserError(f"{source}: \"{key}\" must be text. Received: {key}={value!r}")
    return value


# -- dict <-> Project -----------------------------------------------------------------------------------

def project_from_dict(data: Any, source: str = "project") -> Project:
    """A Project from a parsed project file (any supported version); UserError naming what is wrong."""
    if not isinstance(data, dict):
        raise UserError(f"{source} is not an NN Studio project: expected a JSON object, found "
                        f"{type(data).__name__}")
    if data.get("format") != FORMAT:
        raise UserError(f"{source} is not an NN Studio project: expected \"format\": \"{FORMAT}\", found "
                        f"{data.get('format')!r}")
    _check_structure(data, source)
    data = migrate(data, source)
    try:
        graph = Graph.from_dict(data.get("graph", {"nodes": [], "edges": []}))
    except UserError as exc:
        raise UserError(_("{source}: {error}").format(source=source, error=exc)) from None
    extras = {k: copy.deepcopy(v) for k, v in data.items() if k not in _KNOWN_KEYS}
    from nnstudio.teaching.lessons import validate_extras  # the lesson model lives with the teaching tools
    validate_extras(extras, source)
    return Project(
        name=_text(source, "name", data.get("name"), "Untitled"),
        graph=graph,
        training=validate_training(data.get("training"), source),
        description_en=_text(source, "description_en", data.get("description_en"), ""),
        description_zh=_text(source, "description_zh", data.get("description_zh"), ""),
        name_zh=_text(source, "name_zh", data.get("name_zh"), ""),
        extras=extras,
    )


def project_to_dict(project: Project) -> dict[str, Any]:
    """The file's content for ``project``: known keys in a fixed order, then extras sorted by name."""
    training = {k: project.training[k] for k in TRAINING_DEFAULTS if k in project.training}
    training.update({k: project.training[k] for k in sorted(project.training) if k not in TRAINING_DEFAULTS})
    out: dict[str, Any] = {"format": FORMAT, "version": FORMAT_VERSION, "name": project.name}
    if project.name_zh:
        out["name_zh"] = project.name_zh
    if project.description_en:
        out["description_en"] = project.description_en
    if project.description_zh:
        out["description_zh"] = project.description_zh
    out["graph"] = project.graph.to_dict()
    out["training"] = copy.deepcopy(training)
    for key in sorted(project.extras):
        if key not in _KNOWN_KEYS:
            out[key] = copy.deepcopy(project.extras[key])
    return out


def project_to_json(project: Project) -> str:
    """Pretty, stable JSON text of the project (UTF-8 friendly: Chinese stays readable)."""
    try:
        return _pretty(project_to_dict(project), 0) + "\n"
    except (TypeError, ValueError) as exc:
        raise UserError(f"project '{project.name}' holds a value that cannot be saved as JSON ({exc})") from None


_INLINE_WIDTH = 120


def _pretty(value: Any, level: int) -> str:
    """JSON with two-space indents where small objects and lists stay on one line (nodes read one a line)."""
    flat = json.dumps(value, ensure_ascii=False, allow_nan=False)
    if not isinstance(value, (dict, list)) or (level > 0 and len(flat) + 2 * level <= _INLINE_WIDTH) or not value:
        return flat
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {_pretty(v, level + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    items = [inner + _pretty(v, level + 1) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + pad + "]"


# -- files ------------------------------------------------------------------------------------------------

MAX_PROJECT_BYTES = 64 * 2**20  # examples are a few KB and a 20,000-node network about 3 MB
MAX_NESTING = 64  # a project is about six levels deep; far deeper only comes from a damaged or hostile file


def _read_project_bytes(path: str | os.PathLike) -> bytes:
    """The bytes of a project file, refusing what is not a regular file or is implausibly large.

    ``/dev/zero`` or a FIFO given as a project would otherwise be read forever (or wait for a writer),
    so the file is opened without blocking, checked with fstat and read up to the cap.
    """
    name = os.fspath(path)
    fh, size = open_regular(path, _("project file '{path}'").format(path=name), "a project file")
    too_big = UserError(f"project file '{name}' is larger than {MAX_PROJECT_BYTES // 2**20} MiB; a project "
                        "holds the network's layout, not its data or weights")
    if size > MAX_PROJECT_BYTES:
        fh.close()
        raise too_big
    try:
        with fh:
            raw = fh.read(MAX_PROJECT_BYTES + 1)
    except OSError as exc:
        raise UserError(f"project file '{name}' cannot be read ({exc.strerror or exc})") from None
    if len(raw) > MAX_PROJECT_BYTES:
        raise too_big
    return raw


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_structure(data: Any, source: str) -> None:
    """UserError for what no project file holds and later steps could not handle: deep nesting (copying it
    in :func:`migrate` overflows the stack), text with unpaired surrogates (it cannot be saved as UTF-8)
    and infinite numbers ("1e999" parses as infinity, which JSON cannot write back).  Iterative, linear."""
    stack: list[tuple[Any, int, str]] = [(data, 0, "")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise UserError(f"{source}: the text at {where or 'the top'} is not valid Unicode (it holds an "
                                f"unpaired surrogate). Received: {value[:80]!r}") from None
        elif isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"{source}: the number at {where or 'the top'} must be finite. Received: {value!r}")
        elif isinstance(value, (dict, list)):
            if depth >= MAX_NESTING:
                raise UserError(f"{source} is nested more than {MAX_NESTING} levels deep (at {where}); a "
                                "project file is a few levels deep")
            if isinstance(value, dict):
                for key, item in value.items():
                    child = f"{where}.{key}" if where else str(key)
                    if isinstance(key, str):
                        stack.append((key, depth + 1, child.encode("utf-8", "backslashreplace").decode()))
                    stack.append((item, depth + 1, child.encode("utf-8", "backslashreplace").decode()))
            else:
                stack.extend((item, depth + 1, f"{where}[{i}]") for i, item in enumerate(value))


def load_project(path: str | os.PathLike) -> Project:
    """Read, migrate and validate a project file; UserError naming the file for anything wrong in it."""
    p = Path(path)
    source = _("project file '{path}'").format(path=os.fspath(path))
    raw = _read_project_bytes(path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{source} is not UTF-8 text (bad byte at position {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise UserError(f"{source} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except RecursionError:
        raise UserError(f"{source} is not a usable JSON file: it is nested too deeply") from None
    except ValueError as exc:  # NaN / Infinity, or an integer with thousands of digits
        raise UserError(f"{source} is not usable JSON: {exc}") from None
    project = project_from_dict(data, source)
    project.path = p
    return project


def save_project(project: Project, path: str | os.PathLike) -> None:
    """Write ``project`` to ``path`` atomically (a failed write leaves any previous file untouched)."""
    try:
        data = project_to_json(project).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UserError(f"project '{project.name!r}' cannot be saved to '{os.fspath(path)}': some text in it is "
                        f"not valid Unicode (an unpaired surrogate at position {exc.start} of the file)") from None
    except RecursionError:
        raise UserError(f"project '{project.name!r}' cannot be saved to '{os.fspath(path)}': it holds values "
                        "nested too deeply") from None
    try:
        atomic_write_bytes(path, data)
    except OSError as exc:
        raise UserError(f"project file '{os.fspath(path)}' cannot be written ({exc.strerror or exc})") from None
    project.path = Path(path)


def weights_path_for(project_path: str | os.PathLike) -> Path:
    """Where a project's trained weights live: ``<name>.weights.npz`` beside ``<name>.nnproj``."""
    p = Path(project_path)
    stem = p.name[: -len(p.suffix)] if p.suffix else p.name
    return p.with_name(stem + WEIGHTS_SUFFIX)
