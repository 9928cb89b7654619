"""Interoperability: export a network to ONNX or to a standalone PyTorch module, and import ONNX models.

A design made in NN Studio should not be a dead end: ONNX runs it in onnxruntime and most inference
engines, the PyTorch module trains it on many GPUs, and ONNX import brings models made elsewhere into the
editor.  This package needs the ``onnx`` package for ONNX (and nothing for writing PyTorch source); the CLI
front end is ``nnstudio export`` / ``nnstudio import``, wired through :func:`cli_export` / :func:`cli_import`.
"""
from __future__ import annotations

import argparse
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from nnstudio.errors import UserError
from nnstudio.export.onnx_export import DEFAULT_OPSET, Network, build_onnx_model, export_onnx, load_network
from nnstudio.export.onnx_import import SUPPORTED_OPS, import_onnx, import_onnx_model
from nnstudio.export.pytorch_export import DDP_SCRIPT, PyTorchExport, export_pytorch, write_ddp_script
from nnstudio.graph.project_file import load_project, save_project, weights_path_for
from nnstudio.userdirs import atomic_write_bytes

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


def cli_export(args: Any) -> int:
    """Run ``nnstudio export`` from parsed arguments (see :func:`add_export_arguments`); prints what it wrote."""
    project = load_project(args.project)
    weights = getattr(args, "weights", None)
    if weights is None:
        default = weights_path_for(args.project)
        weights = default if default.exists() else None
    source = f"weights {weights}" if weights is not None else "initial weights (no trained weights found)"
    fmt = getattr(args, "format", "onnx")
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
    """Run ``nnstudio import`` from parsed arguments: writes the project and its weights beside it."""
    project, state = import_onnx(args.model)
    out = Path(args.output)
    weights = weights_path_for(out)
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    try:
        atomic_write_bytes(weights, buffer.getvalue())
    except OSError as exc:
        raise UserError(f"weights file '{os.fspath(weights)}' cannot be written ({exc.strerror or exc})") from None
    save_project(project, out)
    print(f"imported {args.model}: {len(project.graph.nodes)} blocks; wrote {out} and {weights}")
    return 0
