"""Layers that join branches of a graph: Add (residual sums) and Concat (stacking features or channels).

Both take two or more inputs (``n_inputs = -1``): ``forward`` receives a list of batches and ``backward``
returns a list of gradients in the same order.
"""
from __future__ import annotations

from typing import Any

from nnstudio.engine.layers.base import Layer, Shape, as_shape
from nnstudio.i18n import _


def _shapes(input_shapes: Any, layer: str) -> list[Shape]:
    if not isinstance(input_shapes, (list, tuple)) or not input_shapes or \
            not all(isinstance(s, (list, tuple)) for s in input_shapes):
        raise ValueError(f"{layer}: expects a list of input shapes (one per incoming wire); "
                         f"received {input_shapes!r}")
    if len(input_shapes) < 2:
        raise ValueError(f"{layer}: needs at least 2 inputs; received {len(input_shapes)}")
    return [as_shape(s, layer, f"shape of input {i + 1}") for i, s in enumerate(input_shapes)]


class Add(Layer):
    """Element-wise sum of two or more inputs of the same shape."""

    type_name = "Add"
    n_inputs = -1

    def __init__(self) -> None:
        super().__init__()
        self._count = 0

    def output_shape(self, input_shape: Any) -> Shape:
        shapes = _shapes(input_shape, "Add")
        for i, s in enumerate(shapes[1:], start=2):
            if s != shapes[0]:
                raise ValueError("Add: " + _("all inputs must have the same shape; input 1 is {first} but input {i} "
                                             "is {shape}").format(first=shapes[0], i=i, shape=s))
        return shapes[0]

    def forward(self, xs: Any, training: bool = False) -> Any:
        self._count = len(xs)
        out = xs[0] + xs[1]
        for x in xs[2:]:
            out += x
        return out

    def backward(self, grad_out: Any) -> list[Any]:
        # The first entry is grad_out itself; the others are copies so a caller may add into any of them.
        return [grad_out] + [grad_out.copy() for _ in range(self._count - 1)]


class Concat(Layer):
    """Join inputs along ``axis`` of the sample shape (0 = channels of images, features of vectors)."""

    type_name = "Concat"
    n_inputs = -1

    def __init__(self, axis: int = 0) -> None:
        super().__init__()
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"Concat: axis must be an integer. Received: axis={axis!r}")
        self.axis = axis
        self._splits: list[int] = []
        self._batch_axis = 1

    def _sample_axis(self, rank: int) -> int:
        if not -rank <= self.axis < rank:
            raise ValueError("Concat: " + _("axis {axis} is out of range for inputs of rank {rank} (valid: {low} to "
                                            "{high}; 0 is the first axis of a sample, e.g. channels)").format(
                axis=self.axis, rank=rank, low=-rank, high=rank - 1))
        return self.axis % rank

    def output_shape(self, input_shape: Any) -> Shape:
        shapes = _shapes(input_shape, "Concat")
        rank = len(shapes[0])
        for i, s in enumerate(shapes[1:], start=2):
            if len(s) != rank:
                raise ValueError("Concat: " + _("all inputs must have the same rank; input 1 is {first} but input {i} "
                                                "is {shape}").format(first=shapes[0], i=i, shape=s))
        axis = self._sample_axis(rank)
        for i, s in enumerate(shapes[1:], start=2):
            if any(a != b for k, (a, b) in enumerate(zip(shapes[0], s)) if k != axis):
                raise ValueError("Concat: " + _("inputs may differ only along axis {axis}; input 1 is {first} but "
                                                "input {i} is {shape}").format(axis=self.axis, first=shapes[0], i=i,
                                                                               shape=s))
        out = list(shapes[0])
        out[axis] = sum(s[axis] for s in shapes)
        return tuple(out)

    def forward(self, xs: Any, training: bool = False) -> Any:
        axis = self._sample_axis(xs[0].ndim - 1) + 1
        self._batch_axis = axis
        sizes = [x.shape[axis] for x in xs]
        self._splits = [sum(sizes[:i + 1]) for i in range(len(sizes) - 1)]
        return self.xp.concatenate(xs, axis=axis)

    def backward(self, grad_out: Any) -> list[Any]:
        return list(self.xp.split(grad_out, self._splits, axis=self._batch_axis))

    def config(self) -> dict[str, Any]:
        return {"axis": self.axis}
