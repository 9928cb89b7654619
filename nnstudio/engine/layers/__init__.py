"""Engine layers, one family per file.  ``LAYER_TYPES`` maps a layer's type name to its class."""
from __future__ import annotations

from nnstudio.engine.layers.activation import FUNCTIONS as ACTIVATION_FUNCTIONS
from nnstudio.engine.layers.activation import Activation
from nnstudio.engine.layers.base import Layer, Shape
from nnstudio.engine.layers.conv import Conv2D
from nnstudio.engine.layers.dense import Dense
from nnstudio.engine.layers.dropout import Dropout
from nnstudio.engine.layers.features import Features
from nnstudio.engine.layers.merge import Add, Concat
from nnstudio.engine.layers.norm import BatchNorm
from nnstudio.engine.layers.pool import Pool2D
from nnstudio.engine.layers.reshape import Flatten, Reshape

LAYER_TYPES: dict[str, type[Layer]] = {
    cls.type_name: cls
    for cls in (Dense, Conv2D, Pool2D, Dropout, Flatten, Reshape, Activation, Add, Concat, BatchNorm, Features)
}

__all__ = ["ACTIVATION_FUNCTIONS", "LAYER_TYPES", "Activation", "Add", "BatchNorm", "Concat", "Conv2D", "Dense",
           "Dropout", "Features", "Flatten", "Layer", "Pool2D", "Reshape", "Shape"]
