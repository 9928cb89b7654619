"""Interoperability: export a network to ONNX or to a standalone PyTorch module, and import ONNX models.

A design made in NN Studio should not be a dead end: ONNX runs it in onnxruntime and most inference
engines, the PyTorch module trains it on many GPUs, and ONNX import brings models made elsewhere into the
editor.  This package needs the ``onnx`` package for ONNX (and nothing for writing PyTorch source); the CLI
front end is ``nnstudio export`` / ``nnstudio import``, wired through :func:`cli_export` / :func:`cli_import`.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from nnstudio.engine.weights_io import weights_bytes
from nnstudio.errors import UserError
from nnstudio.export.onnx_export import DEFAULT_OPSET, Network, build_onnx_model, export_onnx, load_network
from nnstudio.export.onnx_import import SUPPORTED_OPS, import_onnx, import_onnx_model
from nnstudio.export.pytorch_export import DDP_SCRIPT, PyTorchExport, export_pytorch, write_ddp_script
from nnstudio.graph.project_file import load_project, project_to_json, weights_path_for
from nnstudio.userdirs import atomic_write_files, refuse_overwriting_inputs

FORMATS = ("onnx", "pytorch")

__all__ = ["DDP_SCRIPT", "DEFAULT_OPSET", "FORMATS", "Network", "PyTorchExport", "SUPPORTED_OPS",
           "add_export_arguments", "add_import_arguments", "build_onnx_model", "cli_export", "cli_import",
           "export_onnx", "export_pytorch", "import_onnx", "import_onnx_model", "load_network", "write_ddp_script"]


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``nnstudio export PROJECT [--weights W] --format onnx|pytorch -o OUT [--opset N]``."""
    parser.add_argument("project", help="the project file (.nnproj / .json)")
    parser.add_argument("--weights", help="trained weights (.npz); default: the project's <name>.weights.npz "
                                          "when it exists, else the initial weights")
    parser.add_argument("--format", choices=FORMATS, default="onnx", help="onnx (default) or pytorch")
    parser.add_argument("-o", "--output", required=True, help="the file to write (.onnx, or .py for pytorch)")
    parser.add_argument("--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (default {DEFAULT_OPSET})")
    parser.add_argument("--ddp-script", action="store_true",
                        help="pytorch only: also write train_ddp.py (multi-GPU training) beside the module")


def add_import_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``nnstudio import MODEL.onnx -o PROJECT``."""
    parser.add_argument("model", help="the ONNX file to import")
    parser.add_argument("-o", "--output", required=True,
                        help="the project file to write; its weights go beside it as <name>.weights.npz")
    parser.add_argument("--force", action="store_true",
                        help="replace the project file and its weights file when they exist")


def cli_export(args: Any) -> int:
    """Run ``nnstudio export`` from parsed arguments (see :func:`add_export_arguments`); prints what it wrote."""
    project = load_project(args.project)
    weights = getattr(args, "weights", None)
    if weights is None:
        default = weights_path_for(args.project)
        weights = default if default.exists() else None
    source = f"weights {weights}" if weights is not None else "initial weights (no trained weights found)"
    fmt = getattr(args, "format", "onnx")
    outputs = [Path(args.output)] + ([Path(args.output).with_suffix(".npz")] if fmt == "pytorch" else [])
    for output in outputs:  # a typo must not replace the project or the weights being exported
        refuse_overwriting_inputs(output, {"the project file": args.project, "the weights file": weights},
                                  "export: the output")
    if fmt == "onnx":
        path = export_onnx(project, weights, args.output, opset=getattr(args, "opset", DEFAULT_OPSET))
        print(f"wrote {path} (ONNX, opset {getattr(args, 'opset', DEFAULT_OPSET)}) from {source}")
    elif fmt == "pytorch":
        result = export_pytorch(project, weights, args.output)
        print(f"wrote {result.module_path} (class {result.class_name}) and {result.weights_path} from {source}")
        if getattr(args, "ddp_script", False):
            print(f"wrote {write_ddp_script(result.module_path.with_name('train_ddp.py'))}")
    else:
        raise UserError(f"export: --format must be one of {', '.join(FORMATS)}. Received: --format {fmt}")
    return 0


def cli_import(args: Any) -> int:
    """Run ``nnstudio import`` from parsed arguments: writes the project and its weights beside it.

    Both files are written or neither is (a project beside another network's weights would load and then
    fail, or worse, run), and existing files are replaced only with ``--force``: an import is one typo
    away from the name of a project someone trained for hours.
    """
    out = Path(args.output)
    weights = weights_path_for(out)
    for path, what in ((out, "project file"), (weights, "weights file")):
        refuse_overwriting_inputs(path, {"the ONNX model": args.model}, f"import: the {what}")
        if path.is_dir():
            raise UserError(f"import: the {what} '{os.fspath(path)}' is a folder: name a file with -o")
    existing = [f"'{os.fspath(p)}'" for p in (out, weights) if p.exists()]
    if existing and not getattr(args, "force", False):
        raise UserError(f"import: {' and '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; "
                        "add --force to replace them (nothing was written)")
    project, state = import_onnx(args.model)
    files = {out: project_to_json(project).encode("utf-8"), weights: weights_bytes(state)}
    try:
        atomic_write_files(files)
    except OSError as exc:
        where = f" '{exc.filename}'" if exc.filename else ""
        raise UserError(f"import: '{os.fspath(out)}' and '{os.fspath(weights)}' cannot be written{where} "
                        f"({exc.strerror or exc}); neither was changed") from None
    project.path = out
    print(f"imported {args.model}: {len(project.graph.nodes)} blocks; wrote {out} and {weights}")
    return 0
