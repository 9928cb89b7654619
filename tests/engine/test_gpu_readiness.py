"""The CuPy path is ready before a GPU is at hand: every array-module function the engine calls exists in CuPy.

The names come from the engine's source (its ``ast``), not from a hand-kept list: every attribute chain read
from the array module (``xp.zeros``, ``self.xp.random.default_rng``, ``xp.lib.stride_tricks.as_strided``,
``array_module(a).zeros_like``).  Without CuPy the same list is checked against NumPy, so the collection
itself is tested everywhere (it finds the functions we know the engine uses) and cannot pass empty.
"""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

ENGINE = Path(__file__).resolve().parents[2] / "nnstudio" / "engine"


def _chain(node: ast.AST) -> list[str] | None:
    """``xp.a.b`` -> ["a", "b"] when ``node`` is an attribute chain read from the array module, else None."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
        if names[-1] == "xp" and len(names) > 1:  # self.xp.zeros, backend.xp.asarray
            return list(reversed(names[:-1]))
    if isinstance(node, ast.Name) and node.id == "xp" and names:
        return list(reversed(names))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "array_module" and names:
        return list(reversed(names))
    return None


def array_module_names(root: Path = ENGINE) -> dict[str, list[str]]:
    """{"random.default_rng": ["layers/dropout.py:41", ...]} for every chain the engine reads from ``xp``."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        for node in ast.walk(tree):
            # Only whole chains count: "xp.random" inside "xp.random.default_rng" is not a name of its own.
            if not isinstance(node, ast.Attribute) or id(node) in inner:
                continue
            names = _chain(node)
            if names:
                found.setdefault(".".join(names), []).append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def _missing(module: object, names: dict[str, list[str]]) -> list[str]:
    missing = []
    for dotted, where in sorted(names.items()):
        obj = module
        for part in dotted.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                missing.append(f"{dotted} (used at {', '.join(where[:3])})")
                break
    return missing


def test_the_collection_finds_the_engines_array_calls_and_numpy_has_them():
    names = array_module_names()
    # Functions the engine is known to call through xp, from several files and chain depths.
    for known in ("zeros", "matmul", "exp", "sqrt", "asarray", "random.default_rng",
                  "lib.stride_tricks.as_strided", "zeros_like"):
        assert known in names, f"xp.{known} was not found; the AST walk is broken"
    assert len(names) >= 15
    assert not any(n.startswith("cuda") for n in names), "the engine must not reach into CuPy-only APIs"
    assert _missing(np, names) == []


def test_the_collection_reports_a_name_the_module_lacks(tmp_path):
    (tmp_path / "layer.py").write_text("def f(xp, self):\n    return xp.no_such_function(1) + self.xp.sqrt(2)\n")
    names = array_module_names(tmp_path)
    assert set(names) == {"no_such_function", "sqrt"}
    assert [m.split(" ")[0] for m in _missing(np, names)] == ["no_such_function"]


def test_every_array_function_the_engine_calls_exists_in_cupy():
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed")
    assert _missing(cupy, array_module_names()) == []
