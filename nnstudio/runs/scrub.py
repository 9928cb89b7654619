"""Scrubbing back through a run: the live views as they were at one of its weight snapshots.

Why this exists: a run keeps snapshots of its weights (see :mod:`nnstudio.runs.recorder`); a slider over
the run's timeline asks for the feature maps, the histograms, the decision boundary and the weights (for the
drawing canvas) at a snapshot.  The views are the same Qt-free functions the worker uses while training
(:mod:`nnstudio.training.views`), computed on a model compiled once per run from the graph it trained.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nnstudio.runs.store import Run, Snapshot
from nnstudio.training import views


@dataclass
class ScrubViews:
    """What the panels show at one snapshot."""

    snapshot: Snapshot
    weights: dict[str, np.ndarray]
    probe: views.Probe | None
    histograms: views.Histograms | None
    boundary: views.Boundary | None


class Scrubber:
    """The model of one stored run, reloaded with any of its snapshots on request (host NumPy backend)."""

    def __init__(self, run: Run, dataset: Any) -> None:
        from nnstudio.graph.compile import compile_graph  # noqa: PLC0415
        self.run = run
        self.dataset = dataset
        self.snapshots = run.snapshots
        self.model = compile_graph(run.project().graph, "numpy", seed=0)
        self.extent = views.plane_extent(dataset) if views.is_plane(dataset) else None

    def nearest(self, step: int) -> int:
        """Index of the snapshot nearest to global step ``step``."""
        steps = np.array([s.step for s in self.snapshots])
        return int(np.abs(steps - int(step)).argmin()) if len(steps) else 0

    def views_at(self, index: int, probe_index: int = 0, probe_input: np.ndarray | None = None,
                 wanted: set[str] | None = None) -> ScrubViews:
        """The views at snapshot ``index`` (``wanted``: "probe", "histograms", "boundary"; default all)."""
        snapshot = self.snapshots[int(index)]
        weights = self.run.snapshot_weights(snapshot)
        self.model.load_state_dict(weights, source=f"run '{self.run.id}' snapshot at step {snapshot.step}")
        wanted = {"probe", "histograms", "boundary"} if wanted is None else wanted
        step = snapshot.step
        probe = histograms = boundary = None
        if "probe" in wanted:
            probe = views.probe(self.model, views.probe_sample(self.dataset, probe_input, probe_index), step)
        if "histograms" in wanted:
            histograms = views.histograms(self.model, self.dataset, step)
        if "boundary" in wanted and self.extent is not None:
            boundary = views.boundary(self.model, self.extent, step)
        return ScrubViews(snapshot, weights, probe, histograms, boundary)


__all__ = ["ScrubViews", "Scrubber"]
