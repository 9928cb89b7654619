"""Experiments: every run of a project kept beside it, compared, swept and scrubbed (no Qt here).

``store`` (the run folders), ``recorder`` (the trainer's hook that writes them), ``compare`` (what differs
between runs), ``sweep`` (one setting over a list of values, and twin runs) and ``scrub`` (the views of a
run as they were at one of its snapshots).  The format is documented in docs/project-format.md.
"""
from nnstudio.runs.recorder import RunRecorder
from nnstudio.runs.store import Run, RunStore, Snapshot, runs_dir_for

__all__ = ["Run", "RunRecorder", "RunStore", "Snapshot", "runs_dir_for"]
