"""Compile a graph document into an engine :class:`~nnstudio.engine.model.Model`.

Training, the bench and the exporters never read the document directly: they compile it here, after
:func:`~nnstudio.graph.shapes.infer_shapes` has found no errors, into engine layers on a backend.  The
engine runs the nodes in a topological order that depends only on the wiring (ties broken by node id), so
the same graph gives the same model and, with the same seed, the same weights, however its nodes and edges
happen to be ordered in a file.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nnstudio.engine.backend import Backend, get_backend
from nnstudio.engine.layers.base import Layer
from nnstudio.engine.model import Model, ModelNode
from nnstudio.errors import UserError
from nnstudio.graph.catalogue import get_block
from nnstudio.graph.document import Graph, Node
from nnstudio.graph.layer_map import engine_kwargs, layer_for
from nnstudio.graph.shapes import ShapeReport, infer_shapes
from nnstudio.memory import check_fits, human_bytes


def layer_kwargs(node: Node) -> dict[str, Any]:
    """The engine layer's constructor arguments for a node's (validated) parameters."""
    spec = get_block(node.type)
    return engine_kwargs(node.type, spec.validate_params(node.params, node.label))


def make_layer(node: Node) -> Layer:
    """A fresh engine layer for ``node`` (an InputLayer for the Input block)."""
    spec = get_block(node.type)
    return layer_for(node.type, spec.validate_params(node.params, node.label), node.label)


def check_graph(graph: Graph, sample_shape: Any = None, loss: str | None = None,
                num_classes: int | None = None) -> ShapeReport:
    """The shape report, or UserError listing every error when the graph cannot become a network."""
    report = infer_shapes(graph, sample_shape=sample_shape, loss=loss, num_classes=num_classes)
    if not report.ok:
        count = len(report.errors)
        raise UserError(f"the network cannot be built ({count} problem{'s' if count != 1 else ''}):\n"
                        + report.error_text())
    return report


def compile_graph(graph: Graph, backend: Backend | str | None = None, seed: int = 0,
                  dtype: Any = np.float32) -> Model:
    """Build the engine model of ``graph`` on ``backend`` (default: :func:`get_backend`), weights from ``seed``.

    Raises UserError with the shape checker's messages when the graph is not a valid network.
    """
    report = check_graph(graph)
    chosen = backend if isinstance(backend, Backend) else get_backend(backend)
    assert report.input_id is not None and report.output_id is not None  # guaranteed by report.ok
    nodes = [ModelNode(nid, make_layer(graph.nodes[nid]), graph.inputs_of(nid)) for nid in sorted(graph.nodes)]
    model = Model(nodes, report.input_id, report.output_id)
    nbytes = int(report.total_params) * np.dtype(dtype).itemsize
    what = f"the network's {report.total_params:,} parameters ({np.dtype(dtype).name})"
    largest = max(report.param_counts.items(), key=lambda item: item[1], default=None)
    where = f"; the largest layer is '{largest[0]}' ({largest[1]:,} parameters)" if largest and largest[1] else ""
    if chosen.name == "numpy":
        try:
            check_fits(nbytes, what)  # a clear message rather than a MemoryError traceback (or the OOM killer)
        except UserError as exc:
            raise UserError(f"{exc}{where}") from None
    try:
        model.build(report.shapes[report.input_id], xp=chosen.xp, seed=int(seed), dtype=dtype)
    except MemoryError:
        raise UserError(f"{what} do not fit in memory ({human_bytes(nbytes)}); make the layers smaller{where}") \
            from None
    except Exception as exc:  # CuPy's OutOfMemoryError, by name: only the backend imports CuPy
        if "OutOfMemory" not in type(exc).__name__:
            raise
        raise UserError(f"{what} do not fit in the GPU's memory ({human_bytes(nbytes)}); make the layers "
                        "smaller or train on the CPU") from None
    return model
