"""From a block of the document to the engine layer that runs it.

Why this exists: a layer knows its own output shape and parameter count, so shape inference (which runs
after every edit) and compilation (which builds the model) both ask the layer rather than keeping their own
copies of those rules.  This module is the one place that turns a block type and its validated parameters
into that layer; it imports the catalogue and the engine, and neither shape inference nor compilation.
"""
from __future__ import annotations

from typing import Any

from nnstudio.engine.layers import LAYER_TYPES
from nnstudio.engine.layers.base import Layer
from nnstudio.engine.model import InputLayer
from nnstudio.errors import UserError
from nnstudio.graph.catalogue import get_block


def engine_kwargs(block_type: str, params: dict[str, Any]) -> dict[str, Any]:
    """The engine layer's constructor arguments for a block's validated parameters."""
    kwargs = dict(params)
    if block_type == "Pool2D":
        stride = kwargs.get("stride")
        if stride == 0:
            kwargs["stride"] = None  # 0 in the document means "same as the window size"
        elif isinstance(stride, (list, tuple)) and 0 in stride:
            size = kwargs.get("size", 2)
            window = list(size) if isinstance(size, (list, tuple)) else [size, size]
            kwargs["stride"] = [w if s == 0 else s for s, w in zip(stride, window)]
    return kwargs


def layer_for(block_type: str, params: dict[str, Any], label: str) -> Layer:
    """A fresh (unbuilt) engine layer for a block with validated ``params``; UserError naming ``label``."""
    spec = get_block(block_type)
    kwargs = engine_kwargs(block_type, params)
    if spec.engine_layer is None:
        return InputLayer(kwargs.get("shape"))
    cls = LAYER_TYPES.get(spec.engine_layer)
    if cls is None:
        raise UserError(f"{label}: this version of the engine has no {spec.engine_layer} layer")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{label}: {exc}") from None


__all__ = ["engine_kwargs", "layer_for"]
