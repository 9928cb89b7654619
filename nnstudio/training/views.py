"""Views of a model while it trains: the decision boundary, one sample's layer outputs, histograms, and the
validation predictions behind a confusion matrix.

Why this exists: the live panels show more than the trainer reports, and only the thread that owns the model
may run it.  These functions compute those views from a model and a dataset as plain data (host NumPy arrays
in small dataclasses); the GUI's worker thread calls them between batches, throttled, and hands the results
to the panels.  Nothing here knows about Qt or threads, so the views are tested without a display and could
serve the CLI or a notebook the same way.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nnstudio.engine.backend import to_device, to_host
from nnstudio.training.metrics import predicted_classes

BOUNDARY_GRID = 64
HISTOGRAM_BINS = 40
HISTOGRAM_SAMPLES = 32
VALIDATION_PREDICT_LIMIT = 5000
BOUNDARY_POINTS = 1000


@dataclass
class Probe:
    """Outputs of every layer for one sample: (C, H, W) maps for conv / pool, vectors for dense."""

    step: int
    activations: dict[str, np.ndarray]
    kinds: dict[str, str]
    input: np.ndarray | None = None
    why: np.ndarray | None = None  # what made the network say its class: a map in [0, 1] on the input's grid
    why_method: str = ""  # "gradcam" or "saliency"


@dataclass
class Histograms:
    """Per-layer histograms (counts, bin edges) of weights and of activations on a probe batch."""

    step: int
    weights: dict[str, tuple[np.ndarray, np.ndarray]]
    activations: dict[str, tuple[np.ndarray, np.ndarray]]


@dataclass
class Boundary:
    """The model's output over the plane: (H, W, K) class probabilities, or (H, W) for one output."""

    step: int
    extent: tuple[float, float, float, float]
    values: np.ndarray
    # The model's answer at the points the panel shows (``plane_sample``: training points, then test points):
    # the predicted class of each (classifiers), or its output (regressions); None when not asked for.
    point_predictions: np.ndarray | None = None


@dataclass
class Predictions:
    """Validation predictions after an epoch, to show the samples behind a confusion-matrix cell."""

    epoch: int
    indices: np.ndarray  # rows of dataset.x_train (or x_test when there is no validation split)
    source: str  # "train" or "test"
    y_true: np.ndarray
    y_pred: np.ndarray


def is_plane(dataset: Any) -> bool:
    """Whether the dataset's samples are points of the plane (a decision boundary can be drawn)."""
    return tuple(dataset.sample_shape) == (2,)


def plane_extent(dataset: Any) -> tuple[float, float, float, float]:
    """The plane shown by the boundary view: the box of the training and test points plus a margin (x0, x1,
    y0, y1), so the view fits the data (a set in [-1, 1] is not shown on [-5, 5])."""
    x = np.concatenate([np.asarray(dataset.x_train).reshape(-1, 2), np.asarray(dataset.x_test).reshape(-1, 2)])
    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = 0.15 * np.maximum(hi - lo, 1e-3)
    return float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])


def plane_points(dataset: Any, limit: int = BOUNDARY_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``limit`` training points and their labels, the same subsample every time."""
    x = np.asarray(dataset.x_train)
    keep = np.random.default_rng(0).permutation(len(x))[:limit]
    return x[keep].astype(np.float32), np.asarray(dataset.y_train)[keep]


def plane_arguments(dataset: Any, loss_name: str) -> dict[str, Any]:
    """What :func:`boundary` needs besides the model for ``dataset``'s points: the sampled training and test
    points, their labels, the loss (how a class is decided) and whether it is a regression."""
    x_tr, y_tr, x_te, y_te = plane_sample(dataset)
    labels = np.concatenate([np.asarray(y_tr).reshape(len(x_tr), -1), np.asarray(y_te).reshape(len(x_te), -1)])
    return {"points": np.concatenate([x_tr, x_te]), "labels": labels, "loss_name": str(loss_name),
            "regression": dataset.task == "regression"}


def plane_sample(dataset: Any, limit: int = BOUNDARY_POINTS) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The points the boundary panel shows: up to ``limit`` training and ``limit`` test points with their
    labels (x_train, y_train, x_test, y_test), the same subsample every time."""
    x_tr, y_tr = plane_points(dataset, limit)
    x = np.asarray(dataset.x_test)
    keep = np.random.default_rng(1).permutation(len(x))[:limit]
    return x_tr, y_tr, x[keep].astype(np.float32).reshape(-1, 2), np.asarray(dataset.y_test)[keep]


def boundary(model: Any, extent: tuple[float, float, float, float], step: int, grid: int = BOUNDARY_GRID,
             points: np.ndarray | None = None, loss_name: str = "cross_entropy",
             labels: np.ndarray | None = None, regression: bool = False) -> Boundary:
    """The model's output over a ``grid`` x ``grid`` raster of the plane ``extent`` (and, given ``points``,
    its predicted class at each of them, decided as the trainer's metrics decide it from ``labels``; its
    output there for a regression)."""
    x0, x1, y0, y1 = extent
    gx, gy = np.meshgrid(np.linspace(x0, x1, grid, dtype=np.float32), np.linspace(y0, y1, grid, dtype=np.float32))
    raster = np.stack([gx.ravel(), gy.ravel()], axis=1)
    out = model.predict(raster, batch_size=grid * grid).reshape(grid, grid, -1)
    values = out[..., 0] if out.shape[-1] == 1 else out
    found = None
    if points is not None and len(points):
        at = model.predict(np.asarray(points, dtype=np.float32), batch_size=len(points))
        found = at.reshape(len(points), -1)[:, 0].astype(np.float32) if regression else \
            predicted_classes(at, loss_name, labels)
    return Boundary(step, (x0, x1, y0, y1), values.astype(np.float32), found)


def probe_sample(dataset: Any, sample: np.ndarray | None, index: int) -> np.ndarray:
    """The sample to probe: ``sample`` when it fits the dataset, else test (or training) sample ``index``."""
    if sample is not None and tuple(sample.shape) == tuple(dataset.sample_shape):
        return np.asarray(sample, dtype=np.float32)
    x = dataset.x_test if len(dataset.x_test) else dataset.x_train
    return np.asarray(x[int(index) % len(x)], dtype=np.float32)


def layer_kind(model: Any, node_id: str) -> str:
    layer = model.layer(node_id)
    return str(getattr(layer, "type_name", type(layer).__name__))


def probe(model: Any, sample: np.ndarray, step: int) -> Probe:
    """Every conv, pool and dense output (and the network's output) for one sample."""
    model.forward(to_device(sample[None], model.xp, model.dtype), training=False, capture=True)
    activations, kinds = {}, {}
    for nid in model.order:
        if nid == model.input_id or nid not in model.activations:
            continue
        kind = layer_kind(model, nid)
        value = model.activations[nid]
        if kind in ("Conv2D", "Pool2D", "Dense") or (nid == model.output_id and value.ndim == 2):
            activations[nid] = np.asarray(to_host(value[0]), dtype=np.float32)
            kinds[nid] = kind
    model.activations = {}
    why, method = explain_sample(model, sample)
    return Probe(step, activations, kinds, sample, why, method)


def explain_sample(model: Any, sample: np.ndarray) -> tuple[np.ndarray | None, str]:
    """Grad-CAM (saliency without a Conv2D) of one image sample for the class the network gives it, computed
    on a private copy so the training model's gradients stay as the trainer left them; (None, "") when the
    network is not an image classifier."""
    from nnstudio.errors import UserError  # noqa: PLC0415
    from nnstudio.explain import explain, last_conv  # noqa: PLC0415
    from nnstudio.predictor import clone_model  # noqa: PLC0415

    if np.asarray(sample).ndim != 3 or len(tuple(model.output_shape)) != 1:
        return None, ""
    try:
        twin = clone_model(model)
        method = "gradcam" if last_conv(twin) is not None else "saliency"
        result = explain(twin, np.asarray(sample, dtype=np.float32)[None], method)
    except (UserError, ValueError, FloatingPointError):
        return None, ""
    return result.maps[0].astype(np.float32), method


def probe_from_report(event: Any) -> Probe:
    """The trainer's own ProbeReport (a batch of probe samples) as the view of its first sample."""
    acts = {}
    for nid, value in dict(getattr(event, "activations", {}) or {}).items():
        arr = np.asarray(value, dtype=np.float32)
        acts[str(nid)] = arr[0] if arr.ndim in (2, 4) else arr  # the batch's first sample
    kinds = {nid: ("Conv2D" if a.ndim == 3 else "Dense") for nid, a in acts.items()}
    return Probe(int(getattr(event, "step", 0)), acts, kinds, None)


def histogram(values: np.ndarray, bins: int = HISTOGRAM_BINS) -> tuple[np.ndarray, np.ndarray]:
    """(counts, edges) of the finite values; an empty or constant input still gets a usable range."""
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return np.zeros(bins), np.linspace(-1, 1, bins + 1)
    lo, hi = float(flat.min()), float(flat.max())
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(flat, bins=bins, range=(lo, hi))
    return counts.astype(np.float64), edges


def histograms(model: Any, dataset: Any, step: int, samples: int = HISTOGRAM_SAMPLES) -> Histograms:
    """Histograms of every weight matrix / kernel and of the activations on the first test samples."""
    weights: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for nid in model.order:
        if nid == model.input_id:
            continue
        for name, param in model.layer(nid).params.items():
            if param.ndim >= 2:  # weights and kernels; biases are too few values to histogram
                weights[f"{nid}/{name}"] = histogram(to_host(param))
    x = dataset.x_test if len(dataset.x_test) else dataset.x_train
    batch = np.asarray(x[:samples], dtype=np.float32)
    model.forward(to_device(batch, model.xp, model.dtype), training=False, capture=True)
    # The outputs of the non-linearities tell most (dead ReLUs, saturated sigmoids); without any, all layers.
    ids = [nid for nid in model.order if nid != model.input_id and nid in model.activations]
    chosen = [nid for nid in ids if layer_kind(model, nid) == "Activation"] or \
        [nid for nid in ids if layer_kind(model, nid) not in ("Flatten", "Reshape", "Dropout")]
    activations = {nid: histogram(to_host(model.activations[nid])) for nid in chosen}
    model.activations = {}
    return Histograms(step, weights, activations)


def validation_rows(dataset: Any, val_indices: np.ndarray | None,
                    limit: int = VALIDATION_PREDICT_LIMIT) -> tuple[np.ndarray, str]:
    """The rows a confusion matrix is computed on: the trainer's validation split, else the test split."""
    if val_indices is not None and len(val_indices):
        return np.asarray(val_indices)[:limit], "train"
    return np.arange(int(dataset.n_test))[:limit], "test"


def predictions(model: Any, dataset: Any, rows: np.ndarray, source: str, epoch: int, loss_name: str) -> Predictions | None:
    """The predicted class of each row, decided as the trainer's metrics decide it (None: not a classifier)."""
    if dataset.task != "classification" or dataset.num_classes < 2 or len(rows) == 0:
        return None
    x = dataset.x_train if source == "train" else dataset.x_test
    y = np.asarray((dataset.y_train if source == "train" else dataset.y_test)[rows])
    out = model.predict(np.asarray(x[rows], dtype=np.float32), batch_size=256)
    return Predictions(epoch, rows, source, y.astype(np.int64), predicted_classes(out, loss_name, y))


def validation_predictions(dataset: Any, val_indices: np.ndarray | None, predicted: np.ndarray | None,
                           epoch: int, limit: int = VALIDATION_PREDICT_LIMIT) -> Predictions | None:
    """The Predictions of :func:`predictions` on the validation rows, from the classes the trainer's own
    validation pass predicted (``EpochReport.val_predictions``, in the order of ``val_indices``): no second
    pass of the model over the same rows.  None when they do not cover the rows :func:`validation_rows`
    picks (no validation split, not a classifier): then :func:`predictions` runs the model."""
    if predicted is None or dataset.task != "classification" or dataset.num_classes < 2:
        return None
    rows, source = validation_rows(dataset, val_indices, limit)
    predicted = np.asarray(predicted).reshape(-1)
    if source != "train" or len(rows) == 0 or len(predicted) < len(rows):
        return None
    y = np.asarray(dataset.y_train[rows])
    return Predictions(epoch, rows, source, y.astype(np.int64), predicted[:len(rows)].astype(np.int64))


__all__ = ["Boundary", "Histograms", "Predictions", "Probe", "boundary", "histogram", "histograms", "is_plane",
           "plane_extent", "plane_points", "plane_sample", "predictions", "probe", "probe_from_report", "probe_sample",
           "validation_predictions", "validation_rows"]
