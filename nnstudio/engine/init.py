"""Weight initialisers, drawn on the host so a seed gives the same network on NumPy and on CuPy.

Layers call :func:`initialize` in ``build`` and move the result to their backend; drawing on the host from one
``numpy.random.Generator`` makes a model's starting weights depend only on its seed, not on the device.
"""
from __future__ import annotations

import math

import numpy as np

INITIALIZERS = ("he", "glorot", "lecun", "normal", "zeros")


def check_init_name(name: str, layer: str = "layer") -> str:
    """The initialiser name, or ValueError listing the choices."""
    if name not in INITIALIZERS:
        raise ValueError(f"{layer}: unknown initialiser {name!r}; expected one of {', '.join(INITIALIZERS)}")
    return name


def initialize(name: str, shape: tuple[int, ...], fan_in: int, fan_out: int, rng: np.random.Generator,
               std: float = 0.01) -> np.ndarray:
    """A host float64 array of ``shape`` drawn by the initialiser ``name``.

    he: normal, std sqrt(2 / fan_in) (for ReLU nets); glorot: uniform in +-sqrt(6 / (fan_in + fan_out));
    lecun: normal, std sqrt(1 / fan_in); normal: normal with the given ``std``; zeros.
    """
    check_init_name(name, "initialize")
    shape = tuple(int(d) for d in shape)
    if name == "zeros":
        return np.zeros(shape, dtype=np.float64)
    if name == "normal":
        if not std >= 0:
            raise ValueError(f"initialize: std must be >= 0. Received: std={std!r}")
        return rng.normal(0.0, std, size=shape)
    if fan_in < 1 or (name == "glorot" and fan_out < 1):
        raise ValueError(f"initialize: {name} needs fan_in and fan_out >= 1. "
                         f"Received: fan_in={fan_in}, fan_out={fan_out}")
    if name == "he":
        return rng.normal(0.0, math.sqrt(2.0 / fan_in), size=shape)
    if name == "lecun":
        return rng.normal(0.0, math.sqrt(1.0 / fan_in), size=shape)
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape)
