"""The core runs without a display: only nnstudio.ui imports Qt, only the backend imports CuPy."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "nnstudio"
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _core_files() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "ui" not in p.relative_to(PACKAGE).parts]


def test_only_ui_imports_qt():
    offenders = {str(p.relative_to(PACKAGE)): sorted(_imports(p) & set(QT_MODULES)) for p in _core_files()}
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"core modules import Qt: {offenders}"


def test_only_backend_imports_cupy():
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if "cupy" in _imports(p) and p.name != "backend.py"]
    assert not offenders, f"modules other than engine/backend.py import CuPy: {offenders}"


def test_core_import_loads_no_qt():
    code = ("import sys, nnstudio.engine.backend, nnstudio.graph, nnstudio.data, nnstudio.training; "
            "import nnstudio.cli; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'torch')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
