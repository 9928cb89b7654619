"""File > Export > ONNX / PyTorch and File > Import > ONNX, over ``nnstudio.export``.

Why this exists: the main window only knows project files; this module adds the interoperability entries from
outside (like the training and teaching controllers) and takes the weights from the training controller, so
an export always carries the network as last trained (or its seeded initial weights, with a warning).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog

from nnstudio.errors import UserError
from nnstudio.ui.i18n import tr


class InteropActions:
    """The export/import menu entries of one main window."""

    def __init__(self, window: Any, training: Any = None) -> None:
        self.window = window
        self.training = training
        w = window
        self.act_export_onnx = w._action(tr("ONNX model…"), lambda: self.export("onnx"))
        self.act_export_pytorch = w._action(tr("PyTorch module…"), lambda: self.export("pytorch"))
        self.act_import_onnx = w._action(tr("ONNX model…"), lambda: self.import_onnx())
        w.export_menu.addAction(self.act_export_onnx)
        w.export_menu.addAction(self.act_export_pytorch)
        w.import_menu.addAction(self.act_import_onnx)

    def _weights(self) -> dict | None:
        return getattr(self.training, "weights", None) if self.training is not None else None

    def export(self, fmt: str, path: str | None = None) -> Path | None:
        """Export the open project; returns the written file (None when cancelled or failed)."""
        from nnstudio import export as interop  # noqa: PLC0415 - onnx is imported only when used

        project = self.window.project
        if project is None:
            return None
        suffix, filt = (".onnx", tr("ONNX models (*.onnx)")) if fmt == "onnx" else (".py", tr("Python files (*.py)"))
        if path is None:
            base = (project.path.with_suffix(suffix) if project.path else Path.home() / f"{project.name}{suffix}")
            path, _ = QFileDialog.getSaveFileName(self.window, tr("Export"), str(base), filt)
            if not path:
                return None
        weights = self._weights()
        try:
            if fmt == "onnx":
                out = interop.export_onnx(project, weights, path)
            else:
                out = interop.export_pytorch(project, weights, path).module_path
        except UserError as exc:
            self.window.show_error(tr("Cannot export"), str(exc))
            return None
        note = "" if weights is not None else " " + tr("(untrained: the network's initial weights)")
        self.window.statusBar().showMessage(tr("Exported {path}", path=str(out)) + note, 8000)
        return Path(out)

    def import_onnx(self, path: str | None = None) -> bool:
        """Open an ONNX model as a new project (laid out automatically) with its weights."""
        from nnstudio import export as interop  # noqa: PLC0415

        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.window, tr("Import ONNX model"), "",
                                                  tr("ONNX models (*.onnx)"))
            if not path:
                return False
        if not self.window.maybe_save():
            return False
        try:
            project, state = interop.import_onnx(path)
        except UserError as exc:
            self.window.show_error(tr("Cannot import"), str(exc))
            return False
        self.window.set_project(project, clean=False)
        if self.training is not None:
            self.training.adopt_weights(state)
        self.window.statusBar().showMessage(tr("Imported {path}", path=str(path)), 8000)
        return True


def install_interop(window: Any, training: Any = None) -> InteropActions:
    actions = InteropActions(window, training)
    window.interop = actions
    return actions
