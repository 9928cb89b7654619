"""Shape-only layers: Flatten and Reshape.  They move no data (a reshape of a contiguous batch is a view) and
exist so a graph can say where an image becomes a vector or a vector becomes an image.  A channel-major
batch (a convolution's output, see :mod:`.layout`) is copied once into (N, C*H*W) order, and its gradient
goes back channel-major.
"""
from __future__ import annotations

from typing import Any

from nnstudio.engine.layers.base import Layer, Shape, as_shape, size
from nnstudio.engine.layers.layout import flat_batch, is_channel_major, like_layout
from nnstudio.i18n import _


class Flatten(Layer):
    """(C, H, W) or any sample shape -> (C*H*W,)."""

    type_name = "Flatten"

    def __init__(self) -> None:
        super().__init__()
        self._x_shape: tuple[int, ...] = ()
        self._channel_major = False

    def output_shape(self, input_shape: Any) -> Shape:
        return (size(as_shape(input_shape, "Flatten")),)

    def forward(self, x: Any, training: bool = False) -> Any:
        self._x_shape, self._channel_major = x.shape, is_channel_major(x)
        return flat_batch(x)

    def backward(self, grad_out: Any) -> Any:
        return like_layout(grad_out.reshape(self._x_shape), self._channel_major)


class Reshape(Layer):
    """Reshape each sample to ``shape``; one entry may be -1 (inferred).  Element counts must agree."""

    type_name = "Reshape"

    def __init__(self, shape: Any) -> None:
        super().__init__()
        try:
            target = tuple(int(d) for d in shape)
        except (TypeError, ValueError):
            raise ValueError(f"Reshape: shape must be a list of sizes such as [1, 28, 28]. "
                             f"Received: shape={shape!r}") from None
        if not target or any(d == 0 or d < -1 for d in target) or target.count(-1) > 1:
            raise ValueError("Reshape: shape must list positive sizes, with at most one -1 to infer. "
                             f"Received: shape={list(shape)}")
        self.shape = target
        self._x_shape: tuple[int, ...] = ()
        self._channel_major = False

    def output_shape(self, input_shape: Any) -> Shape:
        in_shape = as_shape(input_shape, "Reshape")
        n = size(in_shape)
        known = size(tuple(d for d in self.shape if d != -1))
        if -1 in self.shape:
            if n % known:
                raise ValueError("Reshape: " + _("cannot reshape an input of shape {shape} ({count} values) to "
                                                 "{target}: {count} is not a multiple of {known}").format(
                    shape=in_shape, count=n, target=list(self.shape), known=known))
            return tuple(n // known if d == -1 else d for d in self.shape)
        if known != n:
            raise ValueError("Reshape: " + _("the target shape {target} holds {known} values but the input {shape} has "
                                             "{count}; the counts must be equal").format(
                target=list(self.shape), known=known, shape=in_shape, count=n))
        return self.shape

    def forward(self, x: Any, training: bool = False) -> Any:
        self._x_shape, self._channel_major = x.shape, is_channel_major(x)
        return flat_batch(x).reshape((x.shape[0],) + self.output_shape(x.shape[1:]))

    def backward(self, grad_out: Any) -> Any:
        return like_layout(grad_out.reshape(self._x_shape), self._channel_major)

    def config(self) -> dict[str, Any]:
        return {"shape": list(self.shape)}
