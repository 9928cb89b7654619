"""Features: hand-made input features of a 2-D point, as TensorFlow Playground offers them.

Why this exists: the classic Playground lesson is that good features beat depth: a circle is not linearly
separable in (x1, x2) but is in (x1², x2²), where one sigmoid unit solves it.  This layer turns each sample
(x1, x2) into any chosen subset of x1, x2, x1², x2², x1·x2, sin(x1), sin(x2), in that order whatever order
they were chosen in.  It has no parameters; its backward is the sum of each feature's partial derivatives.
"""
from __future__ import annotations

from typing import Any

from nnstudio.engine.layers.base import Layer, Shape, as_shape
from nnstudio.i18n import _

# name -> how people write it; the order is the order of the outputs.
FEATURES: dict[str, str] = {
    "x1": "x1",
    "x2": "x2",
    "x1_sq": "x1²",
    "x2_sq": "x2²",
    "x1x2": "x1·x2",
    "sin_x1": "sin(x1)",
    "sin_x2": "sin(x2)",
}
DEFAULT_FEATURES = ("x1", "x2")


def ordered_features(features: Any, layer: str = "Features") -> tuple[str, ...]:
    """``features`` checked (known names, at least one, none twice) and put in :data:`FEATURES` order."""
    if isinstance(features, str) or not hasattr(features, "__iter__"):
        raise ValueError(f"{layer}: features must be a list of feature names such as ['x1', 'x2']. "
                         f"Received: features={features!r}")
    chosen = list(features)
    unknown = [f for f in chosen if not isinstance(f, str) or f not in FEATURES]
    if unknown:
        raise ValueError(f"{layer}: features must be among {', '.join(FEATURES)}. Received: {unknown[0]!r}")
    if not chosen:
        raise ValueError(f"{layer}: features must name at least one feature. Received: features=[]")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"{layer}: features must not repeat a feature. Received: features={chosen}")
    return tuple(f for f in FEATURES if f in chosen)


class Features(Layer):
    """(x1, x2) -> the chosen features, one output per feature."""

    type_name = "Features"

    def __init__(self, features: Any = DEFAULT_FEATURES) -> None:
        super().__init__()
        self.features = ordered_features(features)
        self._x: Any = None

    def output_shape(self, input_shape: Any) -> Shape:
        shape = as_shape(input_shape, "Features")
        if shape != (2,):
            raise ValueError("Features: " + _("needs 2 input values (x1, x2) per sample; it gets {shape}").format(
                shape=shape))
        return (len(self.features),)

    def forward(self, x: Any, training: bool = False) -> Any:
        xp = self.xp
        x1, x2 = x[:, 0], x[:, 1]
        columns = {
            "x1": lambda: x1, "x2": lambda: x2, "x1_sq": lambda: x1 * x1, "x2_sq": lambda: x2 * x2,
            "x1x2": lambda: x1 * x2, "sin_x1": lambda: xp.sin(x1), "sin_x2": lambda: xp.sin(x2),
        }
        self._x = x
        return xp.stack([columns[f]() for f in self.features], axis=1)

    def backward(self, grad_out: Any) -> Any:
        xp = self.xp
        x = self._x
        x1, x2 = x[:, 0], x[:, 1]
        g1 = xp.zeros_like(x1)
        g2 = xp.zeros_like(x2)
        for i, f in enumerate(self.features):
            g = grad_out[:, i]
            if f == "x1":
                g1 = g1 + g
            elif f == "x2":
                g2 = g2 + g
            elif f == "x1_sq":
                g1 = g1 + 2 * x1 * g
            elif f == "x2_sq":
                g2 = g2 + 2 * x2 * g
            elif f == "x1x2":
                g1 = g1 + x2 * g
                g2 = g2 + x1 * g
            elif f == "sin_x1":
                g1 = g1 + xp.cos(x1) * g
            else:  # sin_x2
                g2 = g2 + xp.cos(x2) * g
        return xp.stack([g1, g2], axis=1)

    def config(self) -> dict[str, Any]:
        return {"features": list(self.features)}


__all__ = ["DEFAULT_FEATURES", "FEATURES", "Features", "ordered_features"]
