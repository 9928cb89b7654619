"""Feed the command line thousands of bad inputs and faults, and sort what it does with each.

    python tools/fuzz_inputs.py                  # ~1,200 cases, seed 0, two at a time
    python tools/fuzz_inputs.py --cases 200 --seed 7 --jobs 1 --only weights,npy
    python tools/fuzz_inputs.py --spawn          # each case in a fresh `python -m nnstudio` (slower, closer)

What it makes: damaged versions of every kind of file NN Studio reads — projects (truncated, bit-flipped,
JSON with hostile values, deep nesting, lone surrogates, a 20,000-node chain, /dev/zero, a FIFO, a folder),
weights ``.npz`` (renamed ``.npy``, string / complex / object dtypes, lying headers, zip bombs, NaN), ``.npy``
inputs, IDX dataset folders (lying headers, gzip bombs, labels out of range), CSV files (text, NaN, ragged rows),
image folders (corrupt, truncated and decompression-bomb PNGs, a FIFO named like an image), ONNX models (mutated
bytes, unknown operators, external data outside the folder, deep doc strings) and bad command-line arguments;
and faults: ``kill -9`` at a random moment while ``train``, ``new``, ``import`` and ``export`` write files.

How each case is judged (the promise: one line naming the file, exit 1, nothing lost):

* **clean**: exit 1 with exactly one ``error:`` line on stderr (the "training ..." start line may precede it),
  naming the file or argument the case damaged;
* **accepted**: exit 0 — the input was usable after all (a mutation that changed nothing that matters);
* **traceback**: a Python traceback on stderr;
* **hang**: still running at the time limit (then killed);
* **data lost**: a file that had to survive (the project, weights that a failed run must not replace, the
  previous file under a killed save) changed, vanished or no longer loads;
* **unclear**: anything else (exit status other than 0 / 1, several lines, an error that names nothing).

By default each case runs in a process forked from a warm one (the CLI's imports are paid once), with its
own working folder, stdout and stderr, an address-space limit and a time limit; ``--spawn`` starts a fresh
interpreter per case instead.  The counts go to stdout, then every case that was not clean or accepted, with
the command to reproduce it.  Exit status 1 when any case is a traceback, a hang or data lost.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

KINDS = ("project", "weights", "npy", "idx", "csv", "images", "onnx", "cli", "kill")
SHARES = {"project": 230, "weights": 170, "npy": 90, "idx": 110, "csv": 100, "images": 110, "onnx": 110,
          "cli": 130, "kill": 40}
OUTCOMES = ("clean", "accepted", "traceback", "hang", "data lost", "unclear")


@dataclass
class Case:
    """One command to run, the files it needs, and what must hold afterwards."""

    kind: str
    label: str
    argv: list[str]
    names: list[str] = field(default_factory=list)  # the error line must name one of these (when it fails)
    protected: list[Path] = field(default_factory=list)  # must be byte-for-byte unchanged afterwards
    replaceable: dict[Path, str] = field(default_factory=dict)  # may change only on success, and must then load
    kill_after: float | None = None  # kill -9 after this many seconds (a fault case)
    special: list[Path] = field(default_factory=list)  # FIFOs and sockets that must stay what they are
    timeout: float = 30.0


@dataclass
class Result:
    case: Case
    outcome: str
    code: int | None
    stderr: str
    detail: str = ""


# ---------------------------------------------------------------------------------------------- byte mutations
def mutate_bytes(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One random damage to ``data`` and its name."""
    how = rng.choice(("truncate", "flip", "flip_header", "insert", "zero_span", "duplicate", "garbage", "empty",
                      "append"))
    b = bytearray(data)
    if how == "truncate" and b:
        return bytes(b[: rng.randrange(len(b))]), how
    if how in ("flip", "flip_header") and b:
        limit = min(len(b), 64) if how == "flip_header" else len(b)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(limit)] ^= 1 << rng.randrange(8)
        return bytes(b), how
    if how == "insert":
        at = rng.randrange(len(b) + 1)
        return bytes(b[:at] + rng.randbytes(rng.randint(1, 64)) + b[at:]), how
    if how == "zero_span" and b:
        at = rng.randrange(len(b))
        n = rng.randint(1, 256)
        b[at:at + n] = bytes(len(b[at:at + n]))
        return bytes(b), how
    if how == "duplicate" and b:
        at = rng.randrange(len(b))
        return bytes(b[:at] + b[at:at + rng.randint(1, 512)] + b[at:]), how
    if how == "garbage":
        return rng.randbytes(rng.randint(1, 4096)), how
    if how == "append":
        return bytes(b) + rng.randbytes(rng.randint(1, 128)), how
    return b"", "empty"


def npy_header(dtype: str, shape: tuple[int, ...], fortran: bool = False) -> bytes:
    """A version-1 .npy header (for files whose header lies about what follows)."""
    text = "{'descr': %r, 'fortran_order': %s, 'shape': %r, }" % (dtype, fortran, shape)
    pad = 64 - (10 + len(text) + 1) % 64
    text = text + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


def npy_bytes(array: Any, allow_pickle: bool = False) -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=allow_pickle)
    return buf.getvalue()


def npz_bytes(members: dict[str, bytes], compress: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name if name.endswith(".npy") else name + ".npy", data)
    return buf.getvalue()


def png_bytes(width: int, height: int, rng: random.Random) -> bytes:
    from PIL import Image

    image = Image.frombytes("L", (width, height), rng.randbytes(width * height))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def idx_bytes(array: Any, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


# ---------------------------------------------------------------------------------------------- the base files
class Bases:
    """Good files made once (a small project, its weights, an ONNX export, datasets in every format)."""

    def __init__(self, folder: Path, rng: random.Random, bomb_mib: int = 512) -> None:
        import numpy as np

        from nnstudio import cli
        from nnstudio.engine.weights_io import read_weights

        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        quiet = io.StringIO()
        self.project = folder / "xor.nnproj"
        self.image_project = folder / "digits.nnproj"
        _call(cli.main, ["new", "mlp-xor", "-o", str(self.project)], quiet)
        _call(cli.main, ["new", "softmax-regression", "-o", str(self.image_project)], quiet)
        self.weights = folder / "xor.weights.npz"
        self.image_weights = folder / "digits.weights.npz"
        _call(cli.main, ["train", str(self.project), "--epochs", "2", "--no-history", "--dataset", "moons",
                         "--weights-out", str(self.weights)], quiet)
        _call(cli.main, ["train", str(self.image_project), "--epochs", "1", "--max-samples", "64", "--no-history",
                         "--weights-out", str(self.image_weights)], quiet)
        self.onnx = folder / "xor.onnx"
        _call(cli.main, ["export", str(self.project), "--weights", str(self.weights), "-o", str(self.onnx)], quiet)
        for path in (self.weights, self.image_weights, self.onnx):
            if not path.is_file():
                raise SystemExit(f"fuzz: could not make the base file {path}: {quiet.getvalue()[-2000:]}")
        self.project_json = json.loads(self.project.read_text(encoding="utf-8"))
        # A refusal of the network (a shape, a class count) is named by its node: these count as naming.
        self.node_names = [f"'{node['id']}'" for path in (self.project, self.image_project)
                           for node in json.loads(path.read_text(encoding="utf-8"))["graph"]["nodes"]]
        self.state = read_weights(self.weights)
        self.image_state = read_weights(self.image_weights)
        self.x_npy = npy_bytes(np.random.default_rng(0).random((3, 2)).astype(np.float32))
        gen = np.random.default_rng(1)
        self.idx = {"train-images-idx3-ubyte": idx_bytes(gen.integers(0, 256, (40, 28, 28), dtype=np.uint8)),
                    "train-labels-idx1-ubyte": idx_bytes((np.arange(40) % 10).astype(np.uint8)),
                    "t10k-images-idx3-ubyte": idx_bytes(gen.integers(0, 256, (12, 28, 28), dtype=np.uint8)),
                    "t10k-labels-idx1-ubyte": idx_bytes((np.arange(12) % 10).astype(np.uint8))}
        rows = ["x1,x2,label"] + [f"{gen.normal():.4f},{gen.normal():.4f},{i % 2}" for i in range(60)]
        self.csv = "\n".join(rows) + "\n"
        self.png = png_bytes(28, 28, rng)
        # A real gzip bomb: a few hundred kB that inflate to ``bomb_mib`` MiB of IDX "images".
        raw = zlib.compressobj(9, zlib.DEFLATED, 31)
        header = bytes([0, 0, 8, 3]) + (683_000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
        chunks = [raw.compress(header)]
        zero = bytes(1 << 20)
        for _ in range(bomb_mib):
            chunks.append(raw.compress(zero))
        chunks.append(raw.flush())
        self.gzip_bomb = b"".join(chunks)
        # A zip bomb: a weights archive whose one member inflates to ``bomb_mib`` MiB.
        member = npy_header("<f4", (bomb_mib * 256 * 1024,)) + bytes(bomb_mib << 20)
        self.zip_bomb = npz_bytes({"dense_1/W": member}, compress=True)
        del member


def _call(func: Callable[..., int], argv: list[str], sink: io.StringIO) -> int:
    import contextlib

    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        return int(func(argv))


# ---------------------------------------------------------------------------------------------- case makers
HOSTILE_VALUES: list[Any] = [None, True, False, -1, 0, 2**63, -2**63, 1e308, -1e308, float("nan"), float("inf"),
                             "", "\ud800", "x" * 100_000, [], {}, [1, 2, 3], {"a": 1}, "\"\"\"\nimport os\n#",
                             [-5], [0], [10**9, 10**9], [3.5], ["2"], 1.5, "relu'; import os", [[1]]]


def _json_paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _json_paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _json_paths(v, prefix + (i,))
    return out


def _set_path(root: Any, path: tuple, value: Any, delete: bool = False) -> Any:
    if not path:
        return value
    node = root
    for key in path[:-1]:
        node = node[key]
    if delete:
        if isinstance(node, dict):
            node.pop(path[-1], None)
        else:
            del node[path[-1]]
    else:
        node[path[-1]] = value
    return root


def hostile_project(bases: Bases, rng: random.Random) -> tuple[bytes, str]:
    data = json.loads(json.dumps(bases.project_json))
    how = rng.choice(("value", "value", "value", "delete", "version", "nesting", "duplicate_ids", "bad_edge",
                      "cycle", "unknown_key", "surrogate_name", "huge_shape", "bytes"))
    if how == "bytes":
        return mutate_bytes(json.dumps(data).encode("utf-8"), rng)
    if how == "value":
        path = rng.choice(_json_paths(data)[1:])
        data = _set_path(data, path, rng.choice(HOSTILE_VALUES))
        how = f"value at {'/'.join(map(str, path))}"
    elif how == "delete":
        path = rng.choice(_json_paths(data)[1:])
        data = _set_path(data, path, None, delete=True)
        how = f"delete {'/'.join(map(str, path))}"
    elif how == "version":
        data["version"] = rng.choice([0, 2, 999, "1", 1.5, None, -1, 2**70])
    elif how == "nesting":  # written by hand: json.dumps itself cannot nest this deep
        key = rng.choice(["name", "training", "graph", "extra"])
        depth = rng.choice([100, 500, 990, 5000, 100_000])
        data[key] = "@NEST@"
        text = json.dumps(data).replace('"@NEST@"', "[" * depth + "1" + "]" * depth)
        return text.encode("utf-8"), f"nesting {depth} in {key}"
    elif how == "duplicate_ids":
        nodes = data["graph"]["nodes"]
        nodes.append(dict(nodes[-1]))
    elif how == "bad_edge":
        data["graph"]["edges"].append({"from": rng.choice(["nope", "", None]), "to": "nope"})
    elif how == "cycle":
        nodes = data["graph"]["nodes"]
        data["graph"]["edges"].append({"from": nodes[-1]["id"], "to": nodes[1]["id"]})
    elif how == "unknown_key":
        data[rng.choice(["__class__", "exec", "zzz"])] = {"x": [1, 2]}
    elif how == "surrogate_name":
        data["name"] = "bad \udc80 name"
        return json.dumps(data, ensure_ascii=True).encode("ascii"), how
    elif how == "huge_shape":
        data["graph"]["nodes"][0]["params"]["shape"] = rng.choice([[2**31], [65536, 65536], [10**6, 10**6, 3]])
    return json.dumps(data, allow_nan=True).encode("utf-8", "surrogatepass"), how


def chain_project(n: int) -> bytes:
    nodes = [{"id": "in", "type": "Input", "params": {"shape": [2]}}]
    edges = []
    prev = "in"
    for i in range(n):
        nodes.append({"id": f"a{i}", "type": "Activation", "params": {"function": "relu"}})
        edges.append({"from": prev, "to": f"a{i}"})
        prev = f"a{i}"
    return json.dumps({"format": "nnstudio-project", "version": 1, "name": "chain",
                       "graph": {"nodes": nodes, "edges": edges}, "training": {"dataset": "moons"}}).encode()


def make_cases(kind: str, n: int, bases: Bases, work: Path, rng: random.Random) -> list[Case]:
    maker = MAKERS[kind]
    cases = []
    for i in range(n):
        folder = work / f"{kind}-{i:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        cases.append(maker(bases, folder, rng, i))
    return cases


def _copy(src: Path, folder: Path, name: str | None = None) -> Path:
    dst = folder / (name or src.name)
    shutil.copyfile(src, dst)
    return dst


def project_case(bases: Bases, folder: Path, rng: random.Random, i: int) -> Case:
    path = folder / "p.nnproj"
    special = i % 40
    if special == 0:
        path.write_bytes(chain_project(20_000))
        how = "20,000-node chain"
    elif special == 1:
        path = Path("/dev/zero")
        how = "/dev/zero"
    elif special == 2:
        path = folder / "fifo.nnproj"
        os.mkfifo(path)
        how = "FIFO"
    elif special == 3:
        path = folder / "dir.nnproj"
        path.mkdir()
        how = "folder"
    else:
        data, how = hostile_project(bases, rng)
        path.write_bytes(data)
    command = rng.choice(["check", "check", "train", "export", "evaluate", "predict"])
    weights = _copy(bases.weights, folder, "w.npz")
    if command == "check":
        argv = ["check", str(path)]
    elif command == "train":
        argv = ["train", str(path), "--epochs", "1", "--max-samples", "40", "--no-history",
                "--weights-out", str(weights)]
    elif command == "export":
        argv = ["export", str(path), "--weights", str(weights), "-o", str(folder / "out.onnx")]
    elif command == "evaluate":
        argv = ["evaluate", str(path), "--weights", str(weights), "--max-samples", "40"]
    else:
        x = folder / "x.npy"
        x.write_bytes(bases.x_npy)
        argv = ["predict", str(path), "--weights", str(weights), str(x)]
    protected = [p for p in (path,) if p.is_file() and not str(p).startswith("/dev")]
    # A broken network is named by its node (check's summary, a refused Input shape), a broken file by its name.
    # A changed network may no longer fit the weights given with it: then the weights file is what is named.
    return Case("project", f"project {how} / {command}", argv,
                names=[path.name, *bases.node_names, "no Input", weights.name],
                protected=protected,
                replaceable={weights: "weights"})


def weights_payload(bases: Bases, rng: random.Random) -> tuple[bytes, str]:
    import numpy as np

    state = {k: v.copy() for k, v in bases.state.items()}
    key = rng.choice(sorted(state))
    how = rng.choice(("bytes", "bytes", "drop", "extra", "shape", "string", "complex", "object", "nan", "scalar",
                      "npy_renamed", "lying_header", "zip_lie", "bomb", "empty_zip", "bool", "float16", "int64",
                      "big_endian", "fortran"))
    if how == "bytes":
        buf = io.BytesIO()
        np.savez(buf, **state)
        return mutate_bytes(buf.getvalue(), rng)
    members = {k: npy_bytes(v) for k, v in state.items()}
    if how == "drop":
        del members[key]
    elif how == "extra":
        members["ghost/W"] = npy_bytes(np.zeros(3, np.float32))
    elif how == "shape":
        members[key] = npy_bytes(np.zeros(state[key].size + rng.randint(1, 5), np.float32))
    elif how == "string":
        members[key] = npy_bytes(np.array(["a"] * state[key].size).reshape(state[key].shape))
    elif how == "complex":
        members[key] = npy_bytes(state[key].astype(np.complex64))
    elif how == "object":
        members[key] = npy_bytes(np.array([{"x": 1}] * 2, dtype=object), allow_pickle=True)
    elif how == "nan":
        bad = state[key].copy()
        bad.reshape(-1)[0] = rng.choice([np.nan, np.inf])
        members[key] = npy_bytes(bad)
    elif how == "scalar":
        members[key] = npy_bytes(np.float32(1.0))
    elif how == "npy_renamed":
        return npy_bytes(state[key]), how
    elif how == "lying_header":
        members[key] = npy_header("<f4", rng.choice([(2**40,), (10**6, 10**6), (3, 2**31)])) + bytes(64)
    elif how == "zip_lie":  # the zip directory claims a huge member
        buf = bytearray(npz_bytes(members))
        at = buf.rfind(b"PK\x01\x02")
        if at >= 0:
            buf[at + 24:at + 28] = struct.pack("<I", 0xFFFFFF00)
        return bytes(buf), how
    elif how == "bomb":
        return bases.zip_bomb, how
    elif how == "empty_zip":
        members = {}
    elif how == "bool":
        members[key] = npy_bytes(state[key] > 0)
    elif how == "float16":
        members[key] = npy_bytes(state[key].astype(np.float16))
    elif how == "int64":
        members[key] = npy_bytes(state[key].astype(np.int64))
    elif how == "big_endian":
        members[key] = npy_bytes(state[key].astype(">f4"))
    elif how == "fortran":
        members[key] = npy_bytes(np.asfortranarray(np.atleast_2d(state[key])))
    return npz_bytes(members, compress=rng.random() < 0.3), how


def weights_case(bases: Bases, folder: Path, rng: random.Random, i: int) -> Case:
    data, how = weights_payload(bases, rng)
    weights = folder / "w.npz"
    weights.write_bytes(data)
    project = _copy(bases.project, folder)
    command = rng.choice(["evaluate", "predict", "train", "export"])
    out_weights = _copy(bases.weights, folder, "good.npz")
    if command == "evaluate":
        argv = ["evaluate", str(project), "--weights", str(weights), "--max-samples", "40"]
    elif command == "predict":
        x = folder / "x.npy"
        x.write_bytes(bases.x_npy)
        argv = ["predict", str(project), "--weights", str(weights), str(x)]
    elif command == "train":
        argv = ["train", str(project), "--weights-in", str(weights), "--epochs", "1", "--max-samples", "40",
                "--no-history", "--weights-out", str(out_weights)]
    else:
        argv = ["export", str(project), "--weights", str(weights), "-o", str(folder / "out.onnx")]
    return Case("weights", f"weights {how} / {command}", argv, names=[weights.name],
                protected=[project, weights], replaceable={out_weights: "weights"})


def npy_payload(bases: Bases, rng: random.Random) -> tuple[bytes, str]:
    import numpy as np

    how = rng.choice(("bytes", "bytes", "object", "string", "complex", "nan", "lying_header", "wrong_shape",
                      "empty", "structured", "big_endian", "zero_d", "huge_real"))
    if how == "bytes":
        return mutate_bytes(bases.x_npy, rng)
    if how == "object":
        return npy_bytes(np.array([[1, 2], {"a": 1}], dtype=object), allow_pickle=True), how
    if how == "string":
        return npy_bytes(np.array([["1", "2"]])), how
    if how == "complex":
        return npy_bytes(np.ones((1, 2), np.complex128)), how
    if how == "nan":
        return npy_bytes(np.array([[np.nan, 1.0]], np.float32)), how
    if how == "lying_header":
        return npy_header("<f4", rng.choice([(2**40, 2), (10**9, 2), (1, 2**33)])) + bytes(32), how
    if how == "wrong_shape":
        return npy_bytes(np.ones((2, 3, 5), np.float32)), how
    if how == "empty":
        return npy_bytes(np.ones((0, 2), np.float32)), how
    if how == "structured":
        return npy_bytes(np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")])), how
    if how == "big_endian":
        return npy_bytes(np.ones((2, 2), ">f8")), how
    if how == "zero_d":
        return npy_bytes(np.float32(3.0)), how
    return npy_bytes(np.ones((rng.choice([1, 50_000]), 2), np.float64) * 1e300), how


def npy_case(bases: Bases, folder: Path, rng: random.Random, i: int) -> Case:
    data, how = npy_payload(bases, rng)
    x = folder / "x.npy"
    x.write_bytes(data)
    project = _copy(bases.project, folder)
    weights = _copy(bases.weights, folder)
    argv = ["predict", str(project), "--weights", str(weights), str(x)]
    if rng.random() < 0.3:
        argv.append("--raw")
    return Case("npy", f"npy {how}", argv, names=[x.name], protected=[project, weights, x])


def idx_case(bases: Bases, folder: Path, rng: random.Random, i: int) -> Case:
    import numpy as np

    data = folder / "idx"
    data.mkdir()
    files = dict(bases.idx)
    name = rng.choice(sorted(files))
    how = rng.choice(("bytes", "bytes", "lying_dims", "magic", "dtype_code", "labels_range", "count_mismatch",
                      "gzip_bomb", "gzip_truncated", "missing", "empty_set", "folder_instead"))
    compress = rng.random() < 0.5
    if how == "bytes":
        files[name], sub = mutate_bytes(files[name], rng)
        how = f"bytes {sub}"
    elif how == "lying_dims":
        b = bytearray(files[name])
        b[4:8] = rng.choice([2**31 - 1, 10**8, 0]).to_bytes(4, "big")
        files[name] = bytes(b)
    elif how == "magic":
        files[name] = b"\x1f\x8b\x08\x00" + files[name][4:]
    elif how == "dtype_code":
        b = bytearray(files[name])
        b[2] = rng.choice([0x00, 0x0D, 0x0E, 0xFF])
        files[name] = bytes(b)
    elif how == "labels_range":
        name = "train-labels-idx1-ubyte"
        files[name] = idx_bytes(np.full(40, rng.choice([10, 200, 255]), np.uint8))
    elif how == "count_mismatch":
        name = "t10k-labels-idx1-ubyte"
        files[name] = idx_bytes((np.arange(7) % 10).astype(np.uint8))
    elif how == "empty_set":
        name = "t10k-images-idx3-ubyte"
        files[name] = idx_bytes(np.zeros((0, 28, 28), np.uint8))
        files["t10k-labels-idx1-ubyte"] = idx_bytes(np.zeros(0, np.uint8))
    for key, payload in files.items():
        if how == "missing" and key == name:
            continue
        if how == "folder_instead" and key == name:
            (data / key).mkdir()
            continue
        if how == "gzip_bomb" and key == name:
            (data / (key + ".gz")).write_bytes(bases.gzip_bomb)
            continue
        if how == "gzip_truncated" and key == name:
            gz = gzip.compress(payload, mtime=0)
            (data / (key + ".gz")).write_bytes(gz[: rng.randrange(1, len(gz))])
            continue
        if compress:
            (data / (key + ".gz")).write_bytes(gzip.compress(payload, mtime=0))
        else:
            (data / key).write_bytes(payload)
    project = _copy(bases.image_project, folder)
    weights = _copy(bases.image_weights, folder)
    if rng.random() < 0.5:
        argv = ["train", str(project), "--dataset", str(data), "--epochs", "1", "--no-history",
                "--weights-out", str(weights)]
    else:
        argv = ["evaluate", str(project), "--weights", str(weights), "--dataset", str(data)]
    names = [name, name + ".gz", data.name, str(data), *bases.node_names]
    return Case("idx", f"idx {name} {how}", argv, names=names, protected=[project],
                replaceable={weights: "weights"})


def csv_case(bases: Bases, folder: Path, rng: random.Random, i: int) -> Case:
    lines = bases.csv.splitlines()
    how = rng.choice(("text", "nan", "inf", "empty_cell", "ragged", "no_rows", "negative_label", "huge_label",
                      "fraction_label", "nul", "bom", "long_line", "bytes", "bytes", "quote", "header_only_x"))
    row = rng.randrange(1, len(lines))
    cells = lines[row].split(",")
    col = rng.randrange(len(cells))
    text = bases.csv
    if how in ("text", "nan", "inf", "empty_cell", "huge_label", "negative_label", "fraction_label", "quote"):
        value = {"text": "abc", "nan": "nan", "inf": "-inf", "empty_cell": "", "huge_label": "1e12",
                 "negative_label": "-3", "fraction_label": "0.5", "quote": '"1,2'}[how]
        if how.endswith("label"):
            col = len(cells) - 1
        cells[col] = value
        lines[row] = ",".join(cells)
        text = "\n".join(lines) + "\n"
    elif how == "ragged":
        lines[row] += ",7,8"
        text = "\n".join(lines) + "\n"
    elif how == "no_rows":
        text = lines[0] + "\n"
    elif how == "nul":
        text = bases.csv[:40] + "\x00" + bases.csv[40:]
    elif how == "bom":
        text = "\ufeff" + bases.csv
    elif how == "long_line":
        lines[row] = ",".join(["1"] * 200_000)
        text = "\n".join(lines) + "\n"
    elif how == "header_only_x":
        text = "x1,x2\n" + "\n".join(",".join(line.split(",")[:2]) for line in lines[1:]) + "\n"
    path = folder / "data.csv"
    if how == "bytes":
        data, sub = mutate_bytes(bases.csv.encode(), rng)
        path.write_bytes(data)
        how = f"bytes {sub}"
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    project = _copy(bases.project, folder)
    weights = _copy(bases.weights, folder)
    if rng.random() < 0.6:
        argv = ["train", str(project), "--dataset", str(path), "--epochs", "1", "--no-history",
                "--weights-out", str(weights)]
    else:
        argv = ["evaluate", str(project), "--weights", str(weights), "--dataset", str(path)]
    return Case("csv", f"csv {how}", argv, names=[path.name, *bases.node_names, "cross-entropy"],
                protected=[project, path],
                replaceable={weights: "weights"})


def images_case(bases: Bases, folder: Path, rng: random.Random, i: int) -> Case:
    how = rng.choice(("bytes", "bytes", "bomb_header", "huge_real", "text_as_png", "empty_file", "fifo",
                      "empty_class", "one_class", "nested", "symlink_loop", "zero_size_image"))
    project = _copy(bases.image_project, folder)
    weights = _copy(bases.image_weights, folder)
    bad_name = "bad.png"
    payload: bytes | None
    if how == "bytes":
        payload, sub = mutate_bytes(bases.png, rng)
        how = f"bytes {sub}"
    elif how == "bomb_header":
        payload = png_claiming(rng.choice([100_000, 65_535, 30_000]), rng.choice([100_000, 40_000]))
    elif how == "huge_real":
        payload = png_bytes(3000, 3000, rng)
    elif how == "text_as_png":
        payload = b"not an image at all\n"
    elif how == "zero_size_image":
        payload = png_claiming(0, 0)
    elif how == "empty_file":
        payload = b""
    else:
        payload = None
    if rng.random() < 0.5:  # predict on one image
        target = folder / bad_name
        if how == "fifo":
            os.mkfifo(target)
        elif payload is not None:
            target.write_bytes(payload)
        else:
            target.write_bytes(bases.png)
        argv = ["predict", str(project), "--weights", str(weights), str(target)]
        if rng.random() < 0.3:
            argv.append("--as-drawing")
        return Case("images", f"image {how} / predict", argv, names=[bad_name], protected=[project, weights])
    data = folder / "imgs"
    for cls in map(str, range(10)):  # ten classes, as the project's output has ten units
        (data / cls).mkdir(parents=True)
        for j in range(2):
            (data / cls / f"{j}.png").write_bytes(bases.png)
    target = data / "1" / bad_name
    if how == "fifo":
        os.mkfifo(target)
    elif how == "empty_class":
        shutil.rmtree(data / "2")
        (data / "2").mkdir()
    elif how == "one_class":
        for cls in range(1, 10):
            shutil.rmtree(data / str(cls))
    elif how == "nested":
        (data / "1" / "deeper").mkdir()
        (data / "1" / "deeper" / "x.png").write_bytes(bases.png)
    elif how == "symlink_loop":
        (data / "1" / "loop").symlink_to(data / "1")
    elif payload is not None:
        target.write_bytes(payload)
    argv = ["train", str(project), "--dataset", str(data), "--epochs", "1", "--no-history",
            "--weights-out", str(weights)]
    return Case("images", f"image folder {how} / train", argv, names=[bad_name, data.name, str(data),
                                                                       *bases.node_names],
                protected=[project], replaceable={weights: "weights"})


def onnx_payload(bases: Bases, rng: random.Random, folder: Path) -> tuple[bytes, str]:
    import onnx
    from onnx import helper

    base = bases.onnx.read_bytes()
    how = rng.choice(("bytes", "bytes", "bytes", "unknown_op", "external_outside", "deep_doc", "hostile_name",
                      "huge_dims", "no_graph", "bad_opset", "cyclic"))
    if how == "bytes":
        return mutate_bytes(base, rng)
    model = onnx.load_from_string(base)
    graph = model.graph
    if how == "unknown_op":
        graph.node[rng.randrange(len(graph.node))].op_type = rng.choice(["FancyOp", "Loop", "Scan", ""])
    elif how == "external_outside":
        init = graph.initializer[0]
        init.ClearField("raw_data")
        init.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", rng.choice(["../../../etc/passwd", "/etc/hostname", "missing.bin"])),
                           ("length", "64")):
            entry = init.external_data.add()
            entry.key, entry.value = key, value
    elif how == "deep_doc":
        graph.node[0].doc_string = "[" * 5000 + "]" * 5000
    elif how == "hostile_name":
        graph.name = '"""\nimport os; os.system("echo pwned")\n"""'
        graph.node[0].name = "\u202ebad" if rng.random() < 0.5 else "a'b\"c\n"
    elif how == "huge_dims":
        dim = graph.input[0].type.tensor_type.shape.dim
        dim[len(dim) - 1].dim_value = 2**40
    elif how == "no_graph":
        model.ClearField("graph")
    elif how == "bad_opset":
        model.opset_import[0].version = rng.choice([1, 99, 0])
    elif how == "cyclic":
        if len(graph.node) > 1:
            graph.node[0].input[0] = graph.node[-1].output[0]
    try:
        data = model.SerializeToString()
    except Exception:  # noqa: BLE001 - some damage cannot even be serialised: use the bytes instead
        return mutate_bytes(base, rng)
    del helper
    return data, how


def onnx_case(bases: Bases, folder: Path, rng: random.Random, i: int) -> Case:
    data, how = onnx_payload(bases, rng, folder)
    model = folder / "m.onnx"
    model.write_bytes(data)
    existing = folder / "existing.nnproj"
    existing.write_bytes(bases.project.read_bytes())
    existing_weights = folder / "existing.weights.npz"
    existing_weights.write_bytes(bases.weights.read_bytes())
    if rng.random() < 0.2:  # refuses to overwrite without --force: the old pair must survive
        argv = ["import", str(model), "-o", str(existing)]
    elif rng.random() < 0.1:  # its own model as the output, even with --force
        argv = ["import", str(model), "-o", str(model), "--force"]
    else:
        argv = ["import", str(model), "-o", str(folder / "new.nnproj")]
    return Case("onnx", f"onnx {how}", argv, names=[model.name, existing.name, *bases.node_names],
                protected=[model, existing,
                                                                                             existing_weights])


BAD_INTS = ["-1", "0", "abc", "1.5", "", "99999999999999999999999", "nan", "0x10", "--"]
BAD_FLOATS = ["nan", "inf", "-1", "0", "abc", "1e400", "", "-inf"]


def cli_case(bases: Bases, folder: Path, rng: random.Random, i: int) -> Case:
    project = _copy(bases.project, folder)
    weights = _copy(bases.weights, folder)
    fifo = folder / "pipe.npz"
    os.mkfifo(fifo)
    sock = folder / "socket.npz"  # a special file of another kind (instead of /dev/full: never touch /dev)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock))
    subdir = folder / "sub"
    subdir.mkdir()
    missing = folder / "missing" / "w.npz"
    base = ["train", str(project), "--epochs", "1", "--max-samples", "40", "--no-history",
            "--weights-out", str(weights)]
    choice = rng.choice(("int", "float", "dataset", "weights_out", "weights_in", "backend", "project", "command",
                         "evaluate", "predict", "export", "new", "data", "unknown_flag"))
    names: list[str] = []
    protected = [project]
    if choice == "int":
        flag = rng.choice(["--epochs", "--batch-size", "--max-samples", "--seed"])
        value = rng.choice(BAD_INTS)
        argv = base + [flag, value]
        names = [flag.lstrip("-"), flag.lstrip("-").replace("-", "_"), value]
    elif choice == "float":
        value = rng.choice(BAD_FLOATS)
        argv = base + ["--lr", value]
        names = ["learning", "lr", value]
    elif choice == "dataset":
        value = rng.choice(["nosuch", "user:", "user:/nonexistent", "/dev/zero", str(fifo), str(subdir), "",
                            "mnist:variant=zzz", "../../etc", "moons?x=1"])
        argv = base + ["--dataset", value]
        names = [value or "dataset", "dataset", Path(value).name if value else "dataset"]
    elif choice == "weights_out":
        value = rng.choice([str(subdir), str(missing), str(fifo), str(sock), str(project), "", "/"])
        argv = ["train", str(project), "--epochs", "1", "--max-samples", "40", "--no-history",
                "--weights-out", value]
        names = [value, Path(value).name if value else "weights", "weights"]
    elif choice == "weights_in":
        value = rng.choice([str(subdir), str(missing), str(fifo), "/dev/zero", str(project), ""])
        argv = base + ["--weights-in", value]
        names = [value, Path(value).name if value else "weights", "weights"]
    elif choice == "backend":
        argv = base + ["--backend", rng.choice(["cupy", "tpu", ""])]
        names = ["backend", "cupy", "CuPy", "GPU"]
    elif choice == "project":
        value = rng.choice([str(subdir), str(missing), str(fifo), "/dev/zero", "", str(weights)])
        argv = [rng.choice(["check", "train"]), value]
        names = [value, Path(value).name if value else "project", "project"]
    elif choice == "command":
        argv = [rng.choice(["trian", "", "--json", "gui --nope", "data nope", "bench --nope"])]
        names = [*argv[0].split(), "command", "choose"]  # the unknown command or the unrecognised option
    elif choice == "evaluate":
        argv = ["evaluate", str(project)] + rng.choice([[], ["--weights"], ["--weights", str(subdir)],
                                                         ["--weights", str(fifo)],
                                                         ["--weights", str(weights), "--max-samples", "-3"]])
        names = ["weights", subdir.name, fifo.name, "max", "samples"]
    elif choice == "predict":
        argv = ["predict", str(project), "--weights", str(weights)] + rng.choice(
            [[], [str(subdir)], [str(fifo)], [str(missing)], ["/dev/zero"], [str(project)]])
        names = ["input", "INPUT", subdir.name, fifo.name, missing.name, "zero", project.name]
    elif choice == "export":
        argv = ["export", str(project), "--weights", str(weights), "-o",
                rng.choice([str(subdir), str(missing), str(sock), str(fifo), str(project), str(weights)]),
                *rng.choice([[], ["--format", "keras"], ["--opset", "3"], ["--opset", "999"]])]
        names = [subdir.name, missing.name, sock.name, fifo.name, "format", "opset", "missing", project.name,
                 weights.name]
        protected.append(weights)
    elif choice == "new":
        argv = ["new", rng.choice(["nosuch", "mlp-xor"]), "-o", str(project)]
        names = ["nosuch", project.name, "exists", "--force"]
    elif choice == "data":
        argv = ["data", "download", rng.choice(["nosuch", "", "../x"])]
        names = ["dataset", "nosuch", "download"]
    else:
        argv = base + [rng.choice(["--nope", "--epochs=2=3", "-x"])]
        names = ["nope", "unrecognized", "argument", "epochs", "-x"]
    argv = [a for part in argv for a in (part.split() if part.startswith("gui ") or part.startswith("data ")
                                         or part.startswith("bench ") else [part])]
    return Case("cli", f"cli {choice}: {' '.join(argv[2:] if len(argv) > 2 else argv)[-60:]}", argv, names=names,
                protected=protected, replaceable={weights: "weights"} if weights not in protected else {},
                special=[fifo, sock])


def kill_case(bases: Bases, folder: Path, rng: random.Random, i: int) -> Case:
    which = ["train", "new", "import", "export"][i % 4]
    delay = rng.uniform(0.02, 1.5)
    if which == "train":
        project = _copy(bases.project, folder)
        weights = _copy(bases.weights, folder)
        argv = ["train", str(project), "--epochs", "100000", "--dataset", "moons", "--no-history",
                "--weights-out", str(weights)]
        return Case("kill", f"kill -9 during train after {delay:.2f}s", argv, protected=[project],
                    replaceable={weights: "weights"}, kill_after=delay)
    if which == "new":
        target = _copy(bases.project, folder, "target.nnproj")
        argv = ["new", rng.choice(["mnist-cnn", "captcha-cnn", "mlp-xor"]), "-o", str(target), "--force"]
        return Case("kill", f"kill -9 during new --force after {delay:.2f}s", argv,
                    replaceable={target: "project"}, kill_after=delay)
    if which == "import":
        target = _copy(bases.project, folder, "target.nnproj")
        target_weights = _copy(bases.weights, folder, "target.weights.npz")
        argv = ["import", str(bases.onnx), "-o", str(target), "--force"]
        return Case("kill", f"kill -9 during import --force after {delay:.2f}s", argv,
                    replaceable={target: "project", target_weights: "weights"}, kill_after=delay)
    project = _copy(bases.project, folder)
    out = _copy(bases.onnx, folder, "out.onnx")
    argv = ["export", str(project), "--weights", str(bases.weights), "-o", str(out)]
    return Case("kill", f"kill -9 during export after {delay:.2f}s", argv, protected=[project],
                replaceable={out: "onnx"}, kill_after=delay / 3)


MAKERS: dict[str, Callable[[Bases, Path, random.Random, int], Case]] = {
    "project": project_case, "weights": weights_case, "npy": npy_case, "idx": idx_case, "csv": csv_case,
    "images": images_case, "onnx": onnx_case, "cli": cli_case, "kill": kill_case}


# ---------------------------------------------------------------------------------------------- running
def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _loads(path: Path, kind: str) -> bool:
    """Whether ``path`` is still a good file of its kind (after a replacement or a killed save)."""
    try:
        if kind == "weights":
            from nnstudio.engine.weights_io import read_weights

            read_weights(path)
        elif kind == "project":
            from nnstudio.graph.project_file import load_project

            load_project(path)
        elif kind == "onnx":
            import onnx

            onnx.load(str(path))
        return True
    except Exception:  # noqa: BLE001 - anything that fails to load counts
        return False


def _child(argv: list[str], cwd: Path, out: Path, err: Path, memory_bytes: int) -> None:
    """In the forked child: run the CLI as ``python -m nnstudio`` would, then leave without cleanup."""
    code = 1
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    except (ImportError, ValueError, OSError):
        pass
    try:
        os.chdir(cwd)
        fd_out = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        fd_err = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd_out, 1)
        os.dup2(fd_err, 2)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), encoding="utf-8", line_buffering=True)
        sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), encoding="utf-8",
                                      errors="backslashreplace", line_buffering=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        from nnstudio import cli

        try:
            code = int(cli.main(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - what Python's top level would print
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def run_case(case: Case, folder: Path, spawn: bool, memory_bytes: int) -> Result:
    before = {p: _digest(p) for p in (*case.protected, *case.replaceable)}
    out, err = folder / "stdout.txt", folder / "stderr.txt"
    started = time.monotonic()
    hung = False
    if spawn:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        with open(out, "wb") as fo, open(err, "wb") as fe:
            proc = subprocess.Popen([sys.executable, "-m", "nnstudio", *case.argv], stdout=fo, stderr=fe,
                                    stdin=subprocess.DEVNULL, cwd=folder, env=env)
            limit = case.kill_after if case.kill_after is not None else case.timeout
            try:
                code: int | None = proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                code = None
                hung = case.kill_after is None
    else:
        pid = os.fork()
        if pid == 0:
            _child(case.argv, folder, out, err, memory_bytes)
        limit = case.kill_after if case.kill_after is not None else case.timeout
        code = None
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() - started > limit:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                hung = case.kill_after is None
                break
            time.sleep(0.005)
    stderr = err.read_text(encoding="utf-8", errors="replace") if err.exists() else ""
    return judge(case, code, stderr, before, hung)


def _kind(path: Path) -> str:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "missing"
    return "fifo" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode) else "other"


def judge(case: Case, code: int | None, stderr: str, before: dict[Path, str | None], hung: bool) -> Result:
    for path in case.special:
        if _kind(path) not in ("fifo", "socket"):
            return Result(case, "data lost", code, stderr, f"the special file '{path.name}' was replaced")
    for path in case.protected:
        if _digest(path) != before[path]:
            return Result(case, "data lost", code, stderr, f"'{path.name}' changed or vanished")
    for path, kind in case.replaceable.items():
        now = _digest(path)
        if now == before[path]:
            continue
        if now is None:
            return Result(case, "data lost", code, stderr, f"'{path.name}' vanished")
        if (code != 0 and case.kill_after is None) or not _loads(path, kind):
            return Result(case, "data lost", code, stderr,
                          f"'{path.name}' was replaced by a run that failed" if code != 0 and case.kill_after is None
                          else f"'{path.name}' no longer loads as {kind}")
    if "Traceback (most recent call last)" in stderr:
        return Result(case, "traceback", code, stderr, _last_lines(stderr))
    if hung:
        return Result(case, "hang", code, stderr, f"still running after {case.timeout:.0f}s")
    if case.kill_after is not None:
        return Result(case, "clean" if code != 0 else "accepted", code, stderr)
    if code == 0:
        return Result(case, "accepted", code, stderr)
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    others = [line for line in lines if not line.startswith(("error: ", "training '"))]
    if code != 1:
        return Result(case, "unclear", code, stderr, f"exit status {code}")
    if len(errors) != 1 or others or not lines or not lines[-1].startswith("error: "):
        return Result(case, "unclear", code, stderr, f"{len(lines)} lines on stderr")
    if case.names and not any(name and name in errors[0] for name in case.names):
        return Result(case, "unclear", code, stderr, "the error names none of: " + ", ".join(map(repr, case.names)))
    return Result(case, "clean", code, stderr)


def _last_lines(text: str, n: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-n:])


def plan(cases: int, only: list[str]) -> dict[str, int]:
    total = sum(SHARES[k] for k in only)
    counts = {k: max(1, round(cases * SHARES[k] / total)) for k in only}
    return counts


def run_all(n_cases: int, seed: int, jobs: int, only: list[str], spawn: bool, work: Path,
            memory_bytes: int, verbose: bool = False, log: Callable[[str], None] = print,
            bomb_mib: int = 512) -> list[Result]:
    rng = random.Random(seed)
    bases = Bases(work / "bases", rng, bomb_mib)
    cases: list[tuple[Case, Path]] = []
    for kind, count in plan(n_cases, only).items():
        for i, case in enumerate(make_cases(kind, count, bases, work, rng)):
            cases.append((case, work / f"{kind}-{i:04d}"))
    rng.shuffle(cases)
    results: list[Result] = []
    running: list[tuple[Any, Case, Path]] = []
    if jobs <= 1 or spawn:
        for index, (case, folder) in enumerate(cases, 1):
            result = run_case(case, folder, spawn, memory_bytes)
            results.append(result)
            if verbose or result.outcome not in ("clean", "accepted"):
                log(f"[{index}/{len(cases)}] {result.outcome}: {case.label} {result.detail}")
        return results
    # Several at once: each case is its own forked process; the parent only waits.
    from concurrent.futures import ThreadPoolExecutor

    def one(item: tuple[Case, Path]) -> Result:
        return run_case(item[0], item[1], spawn, memory_bytes)

    del running
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for index, result in enumerate(pool.map(one, cases), 1):
            results.append(result)
            if verbose or result.outcome not in ("clean", "accepted"):
                log(f"[{index}/{len(cases)}] {result.outcome}: {result.case.label} {result.detail}")
    return results


def summary(results: list[Result]) -> dict[str, int]:
    counts = {"tried": len(results)}
    for outcome in OUTCOMES:
        counts[outcome] = sum(r.outcome == outcome for r in results)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1200, help="how many cases (default 1200)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="cases run at once (default 2)")
    parser.add_argument("--only", default=",".join(KINDS), help="kinds of case: " + ",".join(KINDS))
    parser.add_argument("--spawn", action="store_true", help="a fresh interpreter per case (slower)")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR and keep it (default: a temporary folder)")
    parser.add_argument("--memory-gb", type=float, default=6.0, help="address-space limit per case (default 6)")
    parser.add_argument("--verbose", action="store_true", help="a line for every case")
    args = parser.parse_args(argv)
    only = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = sorted(set(only) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds: {', '.join(unknown)} (known: {', '.join(KINDS)})")
    # One BLAS thread per case, and the case's own user folders: nothing touches the real ones.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="nnstudio-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["NNSTUDIO_DATA_DIR"] = str(work / "userdata")
    os.environ["NNSTUDIO_BACKEND"] = "numpy"
    os.environ["NNSTUDIO_LANG"] = "en"
    os.environ.pop("NNSTUDIO_REQUIRE_TORCH", None)
    started = time.monotonic()
    try:
        results = run_all(args.cases, args.seed, args.jobs, only, args.spawn, work,
                          int(args.memory_gb * 2**30), args.verbose)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    counts = summary(results)
    print(" / ".join(f"{k} {v}" for k, v in counts.items()) + f"  ({time.monotonic() - started:.0f}s)")
    by_kind: dict[str, dict[str, int]] = {}
    for r in results:
        by_kind.setdefault(r.case.kind, {}).setdefault(r.outcome, 0)
        by_kind[r.case.kind][r.outcome] += 1
    for kind, outcomes in by_kind.items():
        print(f"  {kind}: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    failing = [r for r in results if r.outcome not in ("clean", "accepted")]
    for r in failing:
        print(f"{r.outcome}: {r.case.label}: {r.detail}\n    nnstudio {' '.join(r.case.argv)}")
    bad = counts["traceback"] + counts["hang"] + counts["data lost"]
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
