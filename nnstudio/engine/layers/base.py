"""The contract every engine layer follows.

A layer is built once for known input shapes (without the batch axis), then runs ``forward`` and
``backward`` on batches.  ``forward(x, training)`` keeps in ``self`` only what ``backward`` needs;
``backward(grad_out)`` fills ``self.grads[name]`` (same shape as ``self.params[name]``) and returns the
gradient of the input.  Layers with several inputs (``n_inputs > 1``: Add, Concat) take and return lists.

All math uses ``self.xp`` (NumPy or CuPy), never a bare ``numpy``, so a layer runs on either backend.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

Shape = tuple[int, ...]


def as_shape(value: Any, layer: str, what: str = "input shape") -> Shape:
    """``value`` as a tuple of positive ints, or ValueError naming the layer and what was found."""
    try:
        items = tuple(value)
        shape = tuple(int(d) for d in items)
    except (TypeError, ValueError):
        raise ValueError(f"{layer}: the {what} must be a sequence of sizes; received {value!r}") from None
    if any(isinstance(d, bool) or d != s or s < 1 for d, s in zip(items, shape)):
        raise ValueError(f"{layer}: every size in the {what} must be a positive integer; received {items}")
    return shape


def positive_int(value: Any, layer: str, field: str) -> int:
    """``value`` as an int >= 1, or ValueError naming the layer, the field and the value received."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < 1:
        raise ValueError(f"{layer}: {field} must be a positive integer. Received: {field}={value!r}")
    return int(value)


def size(shape: Shape) -> int:
    """Number of elements in a sample of ``shape``."""
    return math.prod(shape)


class Layer:
    """Base class: parameters in ``self.params``, their gradients in ``self.grads``."""

    type_name: str = "Layer"
    n_inputs: int = 1  # 1, or a fixed count, or -1 for "two or more" (merge layers)

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.grads: dict[str, Any] = {}
        # Non-trainable state saved with the model (e.g. BatchNorm running statistics).
        self.buffers: dict[str, Any] = {}
        self.xp: Any = np
        self.dtype: Any = np.float32
        self.input_shape: Any = None  # Shape, or list of Shapes for merge layers
        self.built = False
        # A model may set this False for a layer fed only by the network input: layers that can then
        # skip computing the input's gradient (Dense, Conv2D) return None from ``backward``.
        self.needs_input_grad = True

    # -- shapes and construction -------------------------------------------------------------
    def output_shape(self, input_shape: Any) -> Shape:
        """Output shape (no batch axis) for ``input_shape`` (a list of shapes for merge layers)."""
        return tuple(input_shape)

    def param_shapes(self, input_shape: Any) -> dict[str, Shape]:
        """The shape of each parameter the layer creates for ``input_shape`` (none by default)."""
        return {}

    def build(self, input_shape: Any, xp: Any, rng: np.random.Generator, dtype: Any = np.float32) -> None:
        """Create parameters for ``input_shape`` on ``xp``; ``rng`` is a host generator (reproducible)."""
        self.xp = xp
        self.dtype = dtype
        self.input_shape = input_shape
        self._build(input_shape, rng)
        self.grads = {k: xp.zeros_like(v) for k, v in self.params.items()}
        self.built = True

    def _build(self, input_shape: Any, rng: np.random.Generator) -> None:
        """Subclasses with parameters create them here (host init, then ``self._to_xp``)."""

    def _to_xp(self, host_array: np.ndarray) -> Any:
        return self.xp.asarray(host_array.astype(self.dtype, copy=False))

    # -- computation ---------------------------------------------------------------------------
    def forward(self, x: Any, training: bool = False) -> Any:
        raise NotImplementedError

    def backward(self, grad_out: Any) -> Any:
        raise NotImplementedError

    # -- description ---------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The constructor arguments, so ``type(layer)(**layer.config())`` rebuilds it."""
        return {}

    def param_count(self, input_shape: Any = None) -> int:
        """How many trainable numbers the layer has: built, or (before building) for ``input_shape``, which is
        what shape inference shows after every edit."""
        if input_shape is None:
            return int(sum(int(np.prod(p.shape)) for p in self.params.values()))
        return sum(size(shape) for shape in self.param_shapes(input_shape).values())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"
