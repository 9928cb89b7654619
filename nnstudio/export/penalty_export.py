"""The project's L1 / L2 penalty in an exported PyTorch module, so training there minimises the same loss.

Why this exists: a design trained with ``l1`` / ``l2`` in NN Studio should keep its regularisation when it
moves to PyTorch.  The exported module gets the two rates, the PyTorch names of the weights NN Studio
penalises (every Dense and Conv2D weight, no biases) and ``regularization_penalty(model)``, which returns
l1 · Σ|w| + l2 · Σw² over them: add it to the data loss before ``backward()``, as NN Studio's trainer does
(:mod:`nnstudio.engine.regularization`).
"""
from __future__ import annotations

import os
from typing import Any

from nnstudio.engine.regularization import REGULARISED


def penalty_rates(project_or_graph: Any) -> tuple[float, float]:
    """(l1, l2) of a project (0, 0 for a bare graph); bad rates are the settings check's UserError."""
    from nnstudio.graph.project_file import Project, load_project  # noqa: PLC0415
    from nnstudio.training.config import TrainingConfig  # noqa: PLC0415

    if isinstance(project_or_graph, (str, os.PathLike)):
        project_or_graph = load_project(project_or_graph)
    if not isinstance(project_or_graph, Project):
        return 0.0, 0.0
    config = TrainingConfig.from_dict(dict(project_or_graph.training))
    return float(config.l1), float(config.l2)


def penalised_names(model: Any, keys: list[tuple[str, str, bool]]) -> list[str]:
    """The PyTorch parameter names (from the export's weight map) of the weights the penalty covers."""
    names = []
    for ours, theirs, _ in keys:
        node_id, _, param = ours.rpartition("/")
        if param in REGULARISED.get(model.layer(node_id).type_name, ()):
            names.append(theirs)
    return names


def penalty_source(names: list[str], l1: float, l2: float) -> str:
    """Source text of the rates, the names and ``regularization_penalty`` for the exported module."""
    listed = "".join(f"\n    {n!r}," for n in names)
    return f'''

# NN Studio's L1 and L2 penalty rates for this project and the weights they cover (no biases).
L1 = {float(l1)!r}
L2 = {float(l2)!r}
PENALISED = ({listed}{chr(10) if names else ""})


def regularization_penalty(model):
    """L1 * sum(|w|) + L2 * sum(w ** 2) over PENALISED: add it to the loss before backward(), as NN Studio does."""
    weights = dict(model.named_parameters())
    total = 0.0
    for name in PENALISED:
        if L1:
            total = total + L1 * weights[name].abs().sum()
        if L2:
            total = total + L2 * weights[name].pow(2).sum()
    return total
'''


__all__ = ["penalised_names", "penalty_rates", "penalty_source"]
