"""Export a network as a readable, standalone PyTorch module: the way out when a design outgrows one machine.

:func:`export_pytorch` writes ``<name>.py`` (imports torch and the standard library only, no NN Studio) with
an ``nn.Module`` whose layers are named after the node ids and whose ``forward`` follows the graph, plus
``load_nnstudio_weights`` / ``save_nnstudio_weights`` that read and write NN Studio's ``.npz`` weights
(transposing Dense matrices, which PyTorch stores as (out, in)), and a ``__main__`` demo.  The weights go
beside it as ``<name>.npz``.  :func:`write_ddp_script` adds ``train_ddp.py``, which trains such a module on
several GPUs with ``torchrun`` and DistributedDataParallel.

Choices that keep the two sides numerically alike: BatchNorm momentum becomes ``1 - momentum`` (PyTorch
weights the new batch, NN Studio the running value), "same" padding with an odd total is an explicit
``F.pad`` (extra row/column at the bottom/right, as the engine does), and ``sign`` is a straight-through
function (+1 for x >= 0, gradient passed through) exactly like the engine's.
"""
from __future__ import annotations

import builtins
import io
import keyword
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nnstudio import __version__
from nnstudio.engine.model import FUSABLE, Model
from nnstudio.errors import UserError
from nnstudio.export.features_export import torch_expression as torch_features
from nnstudio.export.onnx_export import StateSource, load_network
from nnstudio.export.penalty_export import penalised_names, penalty_rates, penalty_source
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project
from nnstudio.userdirs import atomic_write_bytes

# Names a layer attribute or a local variable must not take: nn.Module's own attributes and the names the
# generated code uses.  A node id that sanitises to one of them gets a "_" suffix.
_RESERVED = {
    "self", "x", "torch", "nn", "F", "logits", "out", "super", "input", "training", "forward", "train", "eval",
    "to", "cuda", "cpu", "xpu", "ipu", "mtia", "float", "double", "half", "bfloat16", "type", "apply",
    "parameters", "named_parameters", "buffers", "named_buffers", "children", "named_children", "modules",
    "named_modules", "state_dict", "load_state_dict", "register_buffer", "register_parameter",
    "register_module", "add_module", "get_submodule", "get_parameter", "get_buffer", "zero_grad",
    "requires_grad_", "share_memory", "extra_repr", "dump_patches", "call_super_init", "compile", "to_empty",
    "set_extra_state", "get_extra_state", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_backward_hook", "register_full_backward_pre_hook",
    "register_state_dict_pre_hook", "register_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_load_state_dict_post_hook", "T_destination", "INPUT_SHAPE", "WEIGHT_MAP", "Sign",
}


@dataclass
class PyTorchExport:
    """What :func:`export_pytorch` wrote: the module, the weights beside it and the model class's name."""

    module_path: Path
    weights_path: Path
    class_name: str


def _identifiers(ids: list[str]) -> dict[str, str]:
    """A unique, safe Python identifier for every node id ("conv2d_1" stays "conv2d_1").

    Python folds identifiers with NFKC, so uniqueness is checked on the folded name (two ids such as "ﬁ" and
    "fi" would otherwise become one attribute); a name that is still not an identifier (``\\w`` accepts
    characters such as "²" that Python does not) falls back to ASCII.
    """
    out: dict[str, str] = {}
    taken: set[str] = set()
    for nid in ids:
        name = unicodedata.normalize("NFKC", re.sub(r"\W", "_", nid)).strip("_") or "node"
        if not ("a" + name).isidentifier():
            name = re.sub(r"[^0-9A-Za-z_]", "_", name).strip("_") or "node"
        if name[0].isdigit():
            name = "n_" + name
        if keyword.iskeyword(name) or name in _RESERVED or name.startswith("_"):
            name += "_"
        base, k = name, 1
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        out[nid] = name
    return out


def class_name_for(project_name: str) -> str:
    """A CamelCase class name from a project name ("LeNet-5 (MNIST)" -> "LeNet5Mnist")."""
    words = re.findall(r"[A-Za-z0-9]+", project_name)
    name = "".join(w[0].upper() + w[1:] for w in words)
    if not name or name[0].isdigit():
        name = "Net" + name
    return name if name not in MODULE_NAMES else name + "Net"


# What a class name must not be: the generated module's own top-level names (a project called "F" made "class F",
# and F.pad then failed; "Path" broke its __main__), Python's builtins ("ValueError") and keywords ("None").
MODULE_NAMES = frozenset({"ast", "sys", "zipfile", "Path", "torch", "nn", "F", "Tensor", "INPUT_SHAPE",
                          "WEIGHT_MAP", "Sign", "read_npz", "write_npz", "load_nnstudio_weights",
                          "save_nnstudio_weights", "build_model", "PENALISED", "L1", "L2",
                          "regularization_penalty"}) | frozenset(dir(builtins)) | \
    frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)


def _shape_text(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(int(d)) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def doc_text(text: Any) -> str:
    """``text`` made safe inside a generated ``\"\"\"docstring\"\"\"`` (or a comment), still readable.

    Project names, node ids and file names come from files a user may have been sent, so they must never
    end the docstring or start a new line of code: backslashes and quotes are escaped, and every
    non-printable character (newlines, carriage returns, form feeds, line/paragraph separators, lone
    surrogates) is shown as its escape (a newline reads ``\\n`` in the docstring).  Showing rather than
    reproducing them also keeps lone surrogates out of the runtime docstring, which Python must encode as
    UTF-8 when it creates the class.  Printable non-ASCII text (a Chinese name) stays as it is.
    """
    out = []
    for ch in str(text):
        if ch in "\\\"'":
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append("\\" + repr(ch)[1:-1])  # repr gives "\\n", "\\x0c", "\\u2028", "\\ud800"
    return "".join(out)


def _ints(values: Any) -> str:
    """A tuple of ints as source text; int() so a value can only ever be written as a number."""
    return repr(tuple(int(v) for v in values))


def _layer_code(model: Model, nid: str, attr: str) -> tuple[str | None, list[tuple[str, str, bool]]]:
    """(constructor expression or None, [(NN Studio key, PyTorch parameter name, transpose)])."""
    node = model.nodes[nid]
    layer = node.layer
    kind = layer.type_name
    in_shape = model.shapes[node.inputs[0]]
    if kind == "Dense":
        fan_in = int(np.prod(in_shape))
        keys = [(f"{nid}/W", f"{attr}.weight", True)]
        if layer.use_bias:
            keys.append((f"{nid}/b", f"{attr}.bias", False))
        return f"nn.Linear({fan_in}, {int(layer.units)}, bias={bool(layer.use_bias)})", keys
    if kind == "Conv2D":
        top, bottom, left, right = layer.pads(in_shape[1], in_shape[2])
        padding = (top, left) if (top, left) == (bottom, right) else (0, 0)
        keys = [(f"{nid}/W", f"{attr}.weight", False)]
        if layer.use_bias:
            keys.append((f"{nid}/b", f"{attr}.bias", False))
        return (f"nn.Conv2d({int(in_shape[0])}, {int(layer.filters)}, kernel_size={_ints(layer.kernel)}, "
                f"stride={_ints(layer.strides)}, padding={_ints(padding)}, bias={bool(layer.use_bias)})"), keys
    if kind == "Pool2D":
        cls = "nn.MaxPool2d" if layer.mode == "max" else "nn.AvgPool2d"
        extra = ", count_include_pad=False" if layer.mode == "avg" and layer.padding != (0, 0) else ""
        return (f"{cls}(kernel_size={_ints(layer.kernel)}, stride={_ints(layer.strides)}, "
                f"padding={_ints(layer.padding)}{extra})"), []
    if kind == "Activation":
        return {"relu": "nn.ReLU()", "leaky_relu": f"nn.LeakyReLU(negative_slope={float(layer.alpha)!r})",
                "sigmoid": "nn.Sigmoid()", "tanh": "nn.Tanh()", "softmax": "nn.Softmax(dim=-1)", "sign": "Sign()",
                "linear": "nn.Identity()"}[layer.function], []
    if kind == "Dropout":
        return f"nn.Dropout(p={float(layer.rate)!r})", []
    if kind == "BatchNorm":
        dims = {1: "1d", 2: "1d", 3: "2d", 4: "3d"}.get(len(in_shape))
        if dims is None:
            raise UserError(f"BatchNorm '{nid}': PyTorch has no batch norm for samples of rank {len(in_shape)} "
                            f"(shape {in_shape}); it supports ranks 1 to 4")
        keys = [(f"{nid}/{ours}", f"{attr}.{theirs}", False) for ours, theirs in
                (("gamma", "weight"), ("beta", "bias"), ("running_mean", "running_mean"),
                 ("running_var", "running_var"))]
        momentum = round(1.0 - float(layer.momentum), 12)
        return f"nn.BatchNorm{dims}({int(in_shape[0])}, eps={float(layer.eps)!r}, momentum={momentum!r})", keys
    if kind == "Flatten":
        return "nn.Flatten()", []
    if kind in ("Reshape", "Add", "Concat", "Features"):
        return None, []  # written inline in forward
    raise NotImplementedError(f"PyTorch export has no mapping for {kind} (node '{nid}')")


def _forward_line(model: Model, nid: str, names: dict[str, str], has_module: bool) -> str:
    node = model.nodes[nid]
    layer = node.layer
    kind = layer.type_name
    srcs = [names[s] for s in node.inputs]
    var, x = names[nid], srcs[0]
    in_shape = model.shapes[node.inputs[0]]
    if kind == "Reshape":
        dims = ", ".join(str(int(d)) for d in layer.shape)
        return f"{var} = {x}.reshape({x}.shape[0], {dims})"
    if kind == "Add":
        return f"{var} = " + " + ".join(srcs)
    if kind == "Concat":
        return f"{var} = torch.cat([{', '.join(srcs)}], dim={int(layer.axis) % len(in_shape) + 1})"
    if kind == "Features":
        return f"{var} = {torch_features(x, layer.features)}"
    if kind == "Dense" and len(in_shape) > 1:
        x = f"torch.flatten({x}, 1)"
    if kind == "Conv2D":
        top, bottom, left, right = layer.pads(in_shape[1], in_shape[2])
        if (top, left) != (bottom, right):  # odd "same" padding: the extra row/column at the bottom/right
            x = f"F.pad({x}, {_ints((left, right, top, bottom))})"
    assert has_module
    return f"{var} = self.{var}({x})"


_SIGN_CODE = '''

class _SignFunction(torch.autograd.Function):
    """+1 where x >= 0, else -1; the backward pass lets the gradient straight through (as NN Studio does)."""

    @staticmethod
    def forward(ctx, x):
        return torch.where(x >= 0, torch.ones_like(x), -torch.ones_like(x))

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output


class Sign(nn.Module):
    """The perceptron's step activation, trainable through its straight-through gradient."""

    def forward(self, x):
        return _SignFunction.apply(x)
'''

_NPZ_CODE = '''

_NPY_TYPES = {"f2": torch.float16, "f4": torch.float32, "f8": torch.float64, "i1": torch.int8,
              "i2": torch.int16, "i4": torch.int32, "i8": torch.int64, "u1": torch.uint8, "b1": torch.bool}


def read_npz(path):
    """{name: tensor} from an .npz file (NumPy's format), read with the standard library only."""
    arrays = {}
    with zipfile.ZipFile(path) as archive:
        for entry in archive.namelist():
            if not entry.endswith(".npy"):
                continue
            data = archive.read(entry)
            if data[:6] != b"\\x93NUMPY":
                raise ValueError(f"{path}: {entry} is not a .npy array")
            header_size, start = (int.from_bytes(data[8:10], "little"), 10) if data[6] == 1 else \\
                (int.from_bytes(data[8:12], "little"), 12)
            header = ast.literal_eval(data[start:start + header_size].decode("latin1"))
            descr, shape = header["descr"], tuple(header["shape"])
            if descr[0] == ">" or descr[1:] not in _NPY_TYPES:
                raise ValueError(f"{path}: {entry} holds {descr!r} values, which this reader does not handle")
            payload = bytearray(data[start + header_size:])
            if payload:
                flat = torch.frombuffer(payload, dtype=_NPY_TYPES[descr[1:]])
            else:
                flat = torch.empty(0, dtype=_NPY_TYPES[descr[1:]])
            if header["fortran_order"]:
                tensor = flat.reshape(shape[::-1]).permute(*reversed(range(len(shape))))
            else:
                tensor = flat.reshape(shape)
            arrays[entry[:-4]] = tensor.contiguous()
    return arrays


def write_npz(path, arrays):
    """Write {name: tensor} as an uncompressed .npz that NumPy and NN Studio read."""
    kinds = {dtype: kind for kind, dtype in _NPY_TYPES.items()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, tensor in arrays.items():
            tensor = tensor.detach().cpu().contiguous().clone()
            code = "|" if tensor.element_size() == 1 else "<"
            header = repr({"descr": code + kinds[tensor.dtype], "fortran_order": False,
                           "shape": tuple(tensor.shape)})
            header = header + " " * (-(len(header) + 11) % 64) + "\\n"
            raw = bytes(tensor.untyped_storage()) if tensor.numel() else b""
            data = b"\\x93NUMPY\\x01\\x00" + len(header).to_bytes(2, "little") + header.encode("latin1") + raw
            archive.writestr(name + ".npy", data)


def load_nnstudio_weights(model, npz_path):
    """Copy NN Studio weights (an .npz keyed "node_id/param") into ``model``, transposing Dense matrices."""
    arrays = read_npz(npz_path)
    missing = sorted(key for key in WEIGHT_MAP if key not in arrays)
    if missing:
        raise KeyError(f"{npz_path} lacks the weights {', '.join(missing)}; was it saved for this network?")
    own = model.state_dict()
    with torch.no_grad():
        for key, (name, transpose) in WEIGHT_MAP.items():
            value = arrays[key].t() if transpose else arrays[key]
            if tuple(value.shape) != tuple(own[name].shape):
                raise ValueError(f"{npz_path}: {key} has shape {tuple(arrays[key].shape)}, which does not fit "
                                 f"{name} {tuple(own[name].shape)}")
            own[name].copy_(value.to(own[name].dtype))
    return model


def save_nnstudio_weights(model, npz_path):
    """Write ``model``'s weights as an .npz keyed "node_id/param" that NN Studio loads back."""
    own = model.state_dict()
    arrays = {}
    for key, (name, transpose) in WEIGHT_MAP.items():
        value = own[name].detach().float().cpu()
        arrays[key] = value.t() if transpose else value
    write_npz(npz_path, arrays)
'''


def pytorch_source(net: Any, class_name: str | None = None, weights_name: str = "model.npz",
                   module_name: str = "model.py", penalty: tuple[float, float] = (0.0, 0.0)) -> tuple[str, str]:
    """(Python source of the standalone module, class name) for a :class:`Network`; ``penalty`` is the
    project's (l1, l2), written with ``regularization_penalty`` for training in PyTorch."""
    model: Model = net.model
    layer_ids = [nid for nid in model.order if nid != model.input_id]
    names = _identifiers(layer_ids)
    names[model.input_id] = "x"
    cls = class_name or class_name_for(net.name)
    ctor: list[str] = []
    keys: list[tuple[str, str, bool]] = []
    forward: list[str] = []
    table: list[str] = [f"    {doc_text(model.input_id):<16} Input        {_shape_text(model.input_shape)}"]
    uses_sign = uses_pad = False
    fused = model.output_activation if model.output_activation in FUSABLE else None
    for nid in layer_ids:
        layer = model.nodes[nid].layer
        expr, node_keys = _layer_code(model, nid, names[nid])
        if expr is not None:
            ctor.append(f"        self.{names[nid]} = {expr}")
        keys.extend(node_keys)
        line = _forward_line(model, nid, names, expr is not None)
        uses_sign |= getattr(layer, "function", None) == "sign"
        uses_pad |= "F.pad(" in line
        if nid == model.output_id and fused:
            src = names[model.nodes[nid].inputs[0]]
            forward.append(f"if logits:  # the scores before the final {fused}, for a fused loss")
            forward.append(f"    return {src}")
        forward.append(line)
        count = layer.param_count()
        table.append((f"    {doc_text(nid):<16} {layer.type_name:<12} {_shape_text(model.shapes[nid]):<16}"
                      + (f" {count} parameters" if count else "")).rstrip())
    forward.append(f"return {names[model.output_id]}")
    loss_name = "nn.CrossEntropyLoss" if fused == "softmax" else "nn.BCEWithLogitsLoss"
    logits_doc = (f"logits=True returns the scores before the final {fused}, for {loss_name}." if fused
                  else "logits is accepted for a uniform interface; without a final softmax or sigmoid it "
                       "changes nothing.")
    weight_map = "\n".join(f"    {k!r}: ({n!r}, {t})," for k, n, t in keys)
    lines = [
        f'"""{doc_text(net.name)}: a PyTorch model exported from NN Studio {__version__}.',
        "",
        "Blocks in execution order (output shapes without the batch axis):",
        "",
        *table,
        "",
        f"Run it: python {doc_text(module_name)} [{doc_text(weights_name)}]  "
        "(loads NN Studio's weights and runs a random batch)",
        '"""',
        "from __future__ import annotations",
        "",
        "import ast",
        "import sys",
        "import zipfile",
        "from pathlib import Path",
        "",
        "import torch",
        "from torch import nn",
    ]
    if uses_pad:
        lines.append("import torch.nn.functional as F")
    lines += [
        "",
        f"INPUT_SHAPE = {_shape_text(model.input_shape)}",
        "# NN Studio weight key -> (PyTorch parameter name, whether the matrix is transposed)",
        "WEIGHT_MAP = {" + ("\n" + weight_map + "\n" if keys else "") + "}",
    ]
    source = "\n".join(lines) + "\n"
    if uses_sign:
        source += _SIGN_CODE
    body = [
        "",
        "",
        f"class {cls}(nn.Module):",
        f'    """{doc_text(net.name)}, layer for layer; attributes are named after the NN Studio node ids."""',
        "",
        "    def __init__(self) -> None:",
        "        super().__init__()",
        *(ctor or ["        pass"]),
        "",
        "    def forward(self, x: torch.Tensor, logits: bool = False) -> torch.Tensor:",
        '        """The network on a batch shaped (N, *INPUT_SHAPE).',
        "",
        f"        {logits_doc}",
        '        """',
        *("        " + line for line in forward),
    ]
    source += "\n".join(body) + "\n"
    source += _NPZ_CODE
    source += penalty_source(penalised_names(model, keys), *penalty)
    source += f'''

def build_model(weights=None):
    """A {cls}, with NN Studio weights loaded from ``weights`` (an .npz path) when given."""
    model = {cls}()
    if weights is not None:
        load_nnstudio_weights(model, weights)
    return model


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name({weights_name!r})
    model = build_model(path if path.exists() else None)
    print(("loaded " + str(path)) if path.exists() else (str(path) + " not found: random initial weights"))
    model.eval()
    with torch.no_grad():
        out = model(torch.rand(4, *INPUT_SHAPE))
    print("output shape:", tuple(out.shape))
    if out.dim() == 2 and out.shape[1] > 1:
        print("predicted classes of 4 random inputs:", out.argmax(dim=1).tolist())
'''
    return source, cls


def export_pytorch(project_or_graph: Project | Graph | str | os.PathLike, state_dict: StateSource,
                   path: str | os.PathLike, class_name: str | None = None) -> PyTorchExport:
    """Write the network as a standalone PyTorch module at ``path`` and its weights beside it (``.npz``).

    ``state_dict`` as in :func:`nnstudio.export.onnx_export.load_network` (None: initial weights).
    """
    target = Path(path)
    if target.suffix != ".py":
        raise UserError(f"PyTorch export: the output file must end in .py so it can be imported. "
                        f"Received: '{os.fspath(path)}'")
    if class_name is not None and (not class_name.isidentifier() or keyword.iskeyword(class_name)
                                   or class_name in _RESERVED):
        raise UserError(f"PyTorch export: class_name must be a Python identifier that is not a keyword or a name "
                        f"the generated module uses. Received: {class_name!r}")
    net = load_network(project_or_graph, state_dict)
    weights = target.with_suffix(".npz")
    source, cls = pytorch_source(net, class_name, weights.name, target.name, penalty_rates(project_or_graph))
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v, dtype=np.float32) for k, v in net.model.state_dict().items()})
    try:
        atomic_write_bytes(weights, buffer.getvalue())
        atomic_write_bytes(target, source.encode("utf-8"))
    except OSError as exc:
        raise UserError(f"PyTorch export: '{os.fspath(path)}' cannot be written ({exc.strerror or exc})") from None
    return PyTorchExport(target, weights, cls)


DDP_SCRIPT = '''"""Train a network exported from NN Studio on several GPUs (or CPU processes) with PyTorch DDP.

    torchrun --nproc_per_node=4 train_ddp.py --model mynet.py --weights mynet.npz \\
        --data data.npz --epochs 10 --out trained.npz

--model is the file NN Studio's PyTorch export wrote, --weights its .npz (optional: omit it to start from
PyTorch's initialisation), --data an .npz holding x_train and y_train.  Each process trains on its share of
the data; DistributedDataParallel averages the gradients.  Rank 0 writes --out, which NN Studio opens again.
"""
import argparse
import importlib.util
import os

import torch
import torch.distributed as dist
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset


def load_module(path):
    spec = importlib.util.spec_from_file_location("nnstudio_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_loss(name, n_outputs):
    """(loss function on (output, labels), whether the model should return its logits)."""
    if name == "cross_entropy":
        return (lambda out, y: F.cross_entropy(out, y.long())), True
    if name == "binary_cross_entropy":
        return (lambda out, y: F.binary_cross_entropy_with_logits(out, y.float().reshape(out.shape))), True
    if name == "mse":
        def mse(out, y):
            target = y.float()
            if target.dim() == 1 and n_outputs > 1:  # class labels against one output per class
                target = F.one_hot(y.long(), n_outputs).float()
            return F.mse_loss(out, target.reshape(out.shape))
        return mse, False
    raise SystemExit(f"unknown --loss {name!r}: use cross_entropy, binary_cross_entropy or mse")



def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the .py file written by NN Studio's PyTorch export")
    parser.add_argument("--weights", help="NN Studio weights (.npz) to start from")
    parser.add_argument("--data", required=True, help=".npz with x_train and y_train")
    parser.add_argument("--loss", default="cross_entropy", help="cross_entropy, binary_cross_entropy or mse")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64, help="per process")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="where rank 0 saves the trained weights (.npz, NN Studio's format)")
    args = parser.parse_args()

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, local_rank = dist.get_rank(), int(os.environ.get("LOCAL_RANK", 0))
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    torch.manual_seed(args.seed)

    module = load_module(args.model)
    model = module.build_model(args.weights).to(device)
    data = module.read_npz(args.data)
    dataset = TensorDataset(data["x_train"].float(), data["y_train"])
    sampler = DistributedSampler(dataset, shuffle=True, seed=args.seed)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=sampler)
    ddp = DistributedDataParallel(model, device_ids=[local_rank] if cuda else None)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=args.lr, momentum=0.9)
    with torch.no_grad():
        n_outputs = model(torch.zeros(1, *module.INPUT_SHAPE, device=device)).shape[-1]
    loss_fn, logits = make_loss(args.loss, n_outputs)

    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        ddp.train()
        totals = torch.zeros(2, device=device)  # summed loss, samples
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = loss_fn(ddp(x, logits=logits), y)
            loss.backward()
            optimizer.step()
            totals += torch.stack([loss.detach() * len(x), torch.tensor(float(len(x)), device=device)])
        dist.all_reduce(totals)
        if rank == 0:
            print(f"epoch {epoch + 1}: mean loss {(totals[0] / totals[1]).item():.4f}", flush=True)

    if rank == 0 and args.out:
        module.save_nnstudio_weights(model, args.out)
        print(f"saved {args.out}")
    dist.barrier()  # let rank 0 finish saving before the group is torn down on every rank
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
'''


def write_ddp_script(path: str | os.PathLike) -> Path:
    """Write ``train_ddp.py`` (the DistributedDataParallel training script in docs/interop.md) at ``path``."""
    target = Path(path)
    if target.is_dir():
        target = target / "train_ddp.py"
    try:
        atomic_write_bytes(target, DDP_SCRIPT.encode("utf-8"))
    except OSError as exc:
        raise UserError(f"'{os.fspath(target)}' cannot be written ({exc.strerror or exc})") from None
    return target
