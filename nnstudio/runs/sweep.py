"""Variations of a project: sweeps (one or more settings over lists of values) and twin runs.

Why this exists: the CLI's ``nnstudio sweep``, the app's sweep dialog and "Try a variation" all change a
project in the same ways and train the results one after another, each trial a run in the history.  A change
is ``key=value`` where ``key`` is a training setting (``learning_rate``) or a block parameter
(``NODE.PARAM``, e.g. ``h1.function``); values are checked by the same rules as the project file, so a bad
one is one message naming the setting.
"""
from __future__ import annotations

import dataclasses
import itertools
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from nnstudio.errors import UserError
from nnstudio.i18n import _

NOT_SWEEPABLE = ("dataset_options", "report_grad_norms", "probe_every", "probe_samples", "eval_batch_size")


def _value(text: str) -> Any:
    """A value as written on a command line: JSON when it parses (numbers, true, null, lists), else text."""
    text = text.strip()
    if text.lower() == "none":
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # "[" * 100000 is text that is too deep to be a list
        return text


def setting_names() -> list[str]:
    from nnstudio.training.config import TrainingConfig  # noqa: PLC0415
    return [f.name for f in dataclasses.fields(TrainingConfig) if f.name not in NOT_SWEEPABLE]


def check_change(project: Any, key: str, value: Any) -> Any:
    """``value`` checked (and converted) for ``key`` in ``project``; UserError naming the setting."""
    from nnstudio.graph.catalogue import get_block  # noqa: PLC0415
    from nnstudio.training.config import TrainingConfig  # noqa: PLC0415
    if "." in key:
        node_id, param = key.split(".", 1)
        if node_id not in project.graph.nodes:
            known = ", ".join(project.graph.nodes) or "-"
            raise UserError(_("setting '{key}': there is no block '{node}' in the network (blocks: {known})").format(
                key=key, node=node_id, known=known))
        node = project.graph.node(node_id)
        spec = get_block(node.type)
        if param not in spec.param_names:
            from nnstudio.graph.catalogue import node_label  # noqa: PLC0415
            raise UserError(_("setting '{key}': {node} has no parameter '{param}' (it takes: {params})").format(
                key=key, node=node_label(node.type, node_id), param=param,
                params=", ".join(spec.param_names) or "-"))
        return spec.param(param).validate(value, _("setting '{key}'").format(key=key))
    if key not in setting_names():
        raise UserError(_("setting '{key}' is not a training setting or a block parameter (NODE.PARAM); "
                          "settings: {settings}").format(key=key, settings=", ".join(setting_names())))
    data = TrainingConfig.from_dict(project.training, source="training").to_dict()
    data[key] = value
    label = _("setting '{key}'").format(key=key)
    try:
        checked = TrainingConfig.from_dict(data, source=label)
    except UserError as exc:
        raise UserError(str(exc).replace(f"{label}.{key}", label)) from None
    return getattr(checked, key)


def parse_set(text: str, project: Any) -> tuple[str, list[Any]]:
    """``"learning_rate=0.001,0.01"`` -> ("learning_rate", [0.001, 0.01]), each value checked."""
    key, sep, values = str(text).partition("=")
    key = key.strip()
    if not sep or not key:
        raise UserError(_("--set '{text}': expected SETTING=VALUE,VALUE,... such as learning_rate=0.001,0.01").format(
            text=text))
    parts = values.split(",")
    if len(parts) > 1 and not parts[-1].strip():
        parts = parts[:-1]  # a trailing comma ("0.01, 0.1,") is harmless
    if not any(p.strip() for p in parts):
        raise UserError(_("--set '{text}': setting '{key}' has no values; list them after '=', separated by "
                          "commas").format(text=text, key=key))
    if not all(p.strip() for p in parts):  # "0.1,,0.2": a value left out by mistake
        raise UserError(_("--set '{text}': a value between commas is empty").format(text=text))
    checked = [check_change(project, key, _value(p)) for p in parts]
    for i, value in enumerate(checked):
        if value in checked[:i]:  # the same trial twice would only cost time
            raise UserError(_("--set '{text}': the value {value} is listed twice").format(text=text, value=parts[i].strip()))
    return key, checked


def trial_changes(sets: Sequence[tuple[str, Sequence[Any]]]) -> list[dict[str, Any]]:
    """Every combination of the swept values, in order (the last setting varies fastest)."""
    keys = [k for k, _ in sets]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise UserError(_("setting '{key}' is swept twice; give all its values in one --set").format(key=dup))
    return [dict(zip(keys, combo)) for combo in itertools.product(*[list(v) for _, v in sets])]


def apply_changes(project: Any, changes: dict[str, Any]) -> Any:
    """A copy of ``project`` with ``changes`` applied (the original is not touched)."""
    from nnstudio.graph.project_file import Project  # noqa: PLC0415
    graph = project.graph.copy()
    training = dict(project.training)
    for key, value in changes.items():
        value = check_change(project, key, value)
        if "." in key:
            node_id, param = key.split(".", 1)
            graph.set_param(node_id, param, value)
        else:
            training[key] = value
    return Project(name=project.name, graph=graph, training=training)


def describe(changes: dict[str, Any]) -> str:
    from nnstudio.runs.compare import format_value  # noqa: PLC0415
    return ", ".join(f"{k}={format_value(v)}" for k, v in changes.items())


# -- twin runs --------------------------------------------------------------------------------------------------

@dataclass
class Variation:
    """One suggested change of a project: ``changes`` as ``{key: value}`` and a short English title."""

    title: str
    changes: dict[str, Any]


def suggested_variations(project: Any) -> list[Variation]:
    """The curriculum's comparisons that apply: sigmoid -> ReLU, dropout off/on, learning rate x10 and /10."""
    out = []
    nodes = list(project.graph.nodes.values())
    sigmoid = [n.id for n in nodes if n.type == "Activation" and n.params.get("function") == "sigmoid"]
    relu = [n.id for n in nodes if n.type == "Activation" and n.params.get("function") == "relu"]
    last = nodes[-1].id if nodes else None
    outputs = {n.id for n in nodes if not project.graph.consumers_of(n.id)} if nodes else set()
    hidden_sigmoid = [nid for nid in sigmoid if nid not in outputs] or ([] if last in sigmoid else sigmoid)
    hidden_relu = [nid for nid in relu if nid not in outputs]
    if hidden_sigmoid:
        out.append(Variation("activation sigmoid -> relu", {f"{nid}.function": "relu" for nid in hidden_sigmoid}))
    elif hidden_relu:
        out.append(Variation("activation relu -> sigmoid", {f"{nid}.function": "sigmoid" for nid in hidden_relu}))
    dropout = [n for n in nodes if n.type == "Dropout"]
    if dropout:
        if any(float(n.params.get("rate", 0)) > 0 for n in dropout):
            out.append(Variation("dropout off", {f"{n.id}.rate": 0.0 for n in dropout}))
        else:
            out.append(Variation("dropout on (0.5)", {f"{n.id}.rate": 0.5 for n in dropout}))
    lr = float(project.training.get("learning_rate", 0.001))
    if lr * 10 <= 10:
        out.append(Variation("learning rate x10", {"learning_rate": _round(lr * 10)}))
    out.append(Variation("learning rate /10", {"learning_rate": _round(lr / 10)}))
    return out


def _round(value: float) -> float:
    return float(f"{value:.6g}")


# -- training trials ---------------------------------------------------------------------------------------------

@dataclass
class TrialResult:
    """One trained trial: what was changed, how it ended, its headline metric and the run it is stored as."""

    trial: int
    changes: dict[str, Any]
    reason: str
    metric: str  # "test_acc" or "test_loss"
    value: float | None
    seconds: float
    run_id: str | None = None
    message: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        from nnstudio.runs.store import json_safe  # noqa: PLC0415
        out: dict[str, Any] = {"trial": self.trial, "settings": json_safe(self.changes),
                               self.metric: json_safe(self.value), "seconds": round(self.seconds, 3)}
        out.update(run=self.run_id, reason=self.reason)
        return out


def headline(metrics: dict[str, Any]) -> tuple[str, float | None]:
    acc = metrics.get("test_acc")
    if isinstance(acc, (int, float)) and math.isfinite(float(acc)):
        return "test_acc", float(acc)
    loss = metrics.get("test_loss")
    return "test_loss", float(loss) if isinstance(loss, (int, float)) and math.isfinite(float(loss)) else None


def best_trial(results: Sequence[TrialResult]) -> int | None:
    """Index of the best trial: highest test accuracy (classification) or lowest test loss."""
    scored = [(r.value, i) for i, r in enumerate(results) if r.value is not None]
    if not scored:
        return None
    if all(results[i].metric == "test_acc" for _, i in scored):
        return max(scored, key=lambda t: (t[0], -t[1]))[1]  # a tie goes to the earlier trial
    return min(scored)[1]


def train_trial(project: Any, changes: dict[str, Any], store: Any, trial: int, name: str | None = None,
                origin: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None,
                weights: Any = None, on_event: Callable[[Any], None] | None = None,
                should_stop: Callable[[], bool] | None = None, dataset: Any = None) -> TrialResult:
    """Train ``project`` with ``changes`` (and ``overrides`` such as epochs) as one stored run."""
    from nnstudio.runs.recorder import RunRecorder  # noqa: PLC0415
    from nnstudio.training.config import TrainingConfig  # noqa: PLC0415
    from nnstudio.training.trainer import Trainer, load_dataset  # noqa: PLC0415
    variant = apply_changes(project, changes)
    config = TrainingConfig.from_dict(variant.training, source=f"project '{project.name}': training")
    if overrides:
        config = config.replace(**{k: v for k, v in overrides.items() if v is not None})
    data = dataset if dataset is not None else load_dataset(config)
    trainer = Trainer(variant.graph, data, config, None, weights)
    if store is not None:
        trainer.recorder = RunRecorder(store, name or describe(changes) or project.name, origin,
                                       project_name=project.name)
    started = time.perf_counter()
    finished = None
    for event in trainer.run():
        if on_event is not None:
            on_event(event)
        if should_stop is not None and should_stop():
            trainer.request_stop()
        if type(event).__name__ == "RunFinished":
            finished = event
    seconds = time.perf_counter() - started
    metrics: dict[str, Any] = {"test_loss": getattr(finished, "test_loss", None),
                               "test_acc": getattr(finished, "test_acc", None)}
    key, value = headline(metrics)
    recorder = trainer.recorder
    result = TrialResult(trial, dict(changes), getattr(finished, "reason", "error"), key, value, seconds,
                         recorder.run_id if recorder is not None and recorder.run is not None else None,
                         getattr(finished, "message", ""), metrics)
    if recorder is not None and recorder.problem:
        result.message = (result.message + "; " if result.message else "") + recorder.problem
    return result


__all__ = ["TrialResult", "Variation", "apply_changes", "best_trial", "check_change", "describe", "headline",
           "parse_set", "setting_names", "suggested_variations", "train_trial", "trial_changes"]
