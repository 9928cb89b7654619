"""Generated code never runs what a file contains: names, node ids and file names cannot break out of it.

A project (or an ONNX model) may come from anyone, and the PyTorch export writes its name, its node ids and
the output file's name into Python source that the user will import.  Each test writes hostile text into
one of those places and checks that the source parses to the same program as a harmless export, that the
text survives (escaped) in the docstrings, and that importing the module does not run the payload — with
real PyTorch when it is installed, and otherwise with a stand-in ``torch`` just rich enough for the module's
top level to execute.
"""
from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nnstudio.export import export_onnx, export_pytorch, import_onnx, load_network, write_ddp_script
from nnstudio.export.pytorch_export import DDP_SCRIPT, doc_text, pytorch_source
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project


def payloads(marker: Path) -> list[str]:
    """Text that would create ``marker`` if it ever escaped a docstring, a comment or a string."""
    act = f"open({str(marker)!r}, 'w').write('ran')"
    return [
        f'Evil"""\n{act}\n"""',
        f"Evil'''\n{act}\n'''",
        f'Evil\\"""\n{act}\n"""',
        f'Evil"""; {act}; """',
        f'Evil"""\r{act}\r"""',
        f'Evil"""\x0c{act}\x0c"""',
        f'Evil"""\u2028{act}\u2028"""',
        f'Evil"""\x85{act}\x85"""',
        "trailing backslash\\",
        'ends in a quote"',
        "lone surrogate \ud800 here",
        "名字 with \N{ZERO WIDTH NO-BREAK SPACE} and \t tab",
    ]


def mlp(ids: tuple[str, str, str] = ("in", "dense", "out")) -> Graph:
    graph = Graph()
    graph.add_node("Input", {"shape": [4]}, node_id=ids[0])
    graph.add_node("Dense", {"units": 3}, node_id=ids[1])
    graph.add_node("Activation", {"function": "softmax"}, node_id=ids[2])
    graph.connect(ids[0], ids[1])
    graph.connect(ids[1], ids[2])
    return graph


def shape_of(source: str) -> str:
    """The program with every string constant blanked: two exports that differ only in text compare equal."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(tree)


def shown(text: str) -> str:
    """How a docstring shows ``text``: printable characters as they are, the rest as their escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def assert_docstrings_hold(source: str, text: str) -> None:
    text = shown(text)
    tree = ast.parse(source)
    module_doc = ast.get_docstring(tree, clean=False) or ""
    assert module_doc.startswith(f"{text}: a PyTorch model exported"), module_doc[:200]
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name != "Sign")
    assert (ast.get_docstring(cls, clean=False) or "").startswith(f"{text}, layer for layer")


# A stand-in for torch with what the generated module's top level touches (imports, dtype table, classes).
STUB_RUNNER = textwrap.dedent('''
    import importlib.util, sys, types
    torch = types.ModuleType("torch")
    for name in ("float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"):
        setattr(torch, name, name)
    nn = types.ModuleType("torch.nn")
    nn.Module = object
    functional = types.ModuleType("torch.nn.functional")
    nn.functional = functional
    autograd = types.ModuleType("torch.autograd")
    autograd.Function = object
    torch.nn, torch.autograd, torch.Tensor = nn, autograd, object
    sys.modules.update({"torch": torch, "torch.nn": nn, "torch.nn.functional": functional,
                        "torch.autograd": autograd})
    spec = importlib.util.spec_from_file_location("generated", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert callable(module.build_model) and module.WEIGHT_MAP
    print("imported")
''')


def import_without_running(path: Path, marker: Path) -> None:
    """Import the generated module (real torch if present, else the stand-in); the payload must not run."""
    try:
        import torch  # noqa: F401, PLC0415
    except ImportError:
        done = subprocess.run([sys.executable, "-c", STUB_RUNNER, str(path)], capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        assert "imported" in done.stdout
    else:
        spec = importlib.util.spec_from_file_location(f"generated_{abs(hash(str(path)))}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        weights = path.with_suffix(".npz")
        model = module.build_model(weights if weights.exists() else None).eval()
        with torch.no_grad():
            out = model(torch.rand(2, *module.INPUT_SHAPE))
        assert tuple(out.shape) == (2, 3)
    assert not marker.exists(), "text from the project ran as code"


def test_doc_text_escapes_everything_that_could_end_a_docstring_or_a_line() -> None:
    for text in ['"""', "'''", "\\", "\n", "\r", "\x0c", "\u2028", "\u2029", "\x85", "\ud800", "\x00"]:
        escaped = doc_text(text)
        assert escaped.isprintable() and '"' not in escaped.replace('\\"', "")
        assert ast.literal_eval('"""' + escaped + '"""') == shown(text)
    assert doc_text("LeNet-5 (MNIST) 名字") == "LeNet-5 (MNIST) 名字"


def test_a_hostile_project_name_stays_inside_the_docstrings(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    plain = shape_of(pytorch_source(load_network(Project(name="plain", graph=mlp()), None), "Net")[0])
    for k, name in enumerate(payloads(marker)):
        net = load_network(Project(name=name, graph=mlp()), None)
        assert pytorch_source(net)[1].isidentifier()
        source, _ = pytorch_source(net, "Net")
        assert shape_of(source) == plain, f"payload {k} changed the program"
        assert_docstrings_hold(source, name)
        result = export_pytorch(Project(name=name, graph=mlp()), None, tmp_path / f"net{k}.py")
        import_without_running(result.module_path, marker)


def test_hostile_node_ids_become_safe_attributes_and_stay_inside_the_docstring(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    # Ids with lone surrogates are refused by the graph itself (tests/graph/test_project_file_hostile.py).
    for k, text in enumerate(p for p in payloads(marker) if "\ud800" not in p):
        ids = (f"in {text}", text, f"{text} out")
        project = Project(name="ids", graph=mlp(ids))
        source, _ = pytorch_source(load_network(project, None))
        tree = ast.parse(source)
        doc = ast.get_docstring(tree, clean=False) or ""
        assert all(shown(nid) in doc for nid in ids), f"payload {k}: the block table lost a node id"
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        assert "open" not in names, f"payload {k} reached the code"
        result = export_pytorch(project, None, tmp_path / f"ids{k}.py")
        import_without_running(result.module_path, marker)


def test_ids_that_fold_to_one_python_name_stay_apart() -> None:
    # "ﬁ" folds to "fi" under NFKC, as Python folds identifiers; "x²" is a \w word but not an identifier.
    graph = Graph()
    graph.add_node("Input", {"shape": [4]}, node_id="in")
    previous = "in"
    for nid in ("ﬁ", "fi", "x²", "class", "self", "_private", "3d", "-"):
        graph.add_node("Dense", {"units": 3}, node_id=nid)
        graph.connect(previous, nid)
        previous = nid
    source, _ = pytorch_source(load_network(Project(name="fold", graph=graph), None))
    tree = ast.parse(source)
    init = next(f for n in tree.body if isinstance(n, ast.ClassDef) for f in n.body
                if isinstance(f, ast.FunctionDef) and f.name == "__init__")
    attrs = [t.attr for s in init.body if isinstance(s, ast.Assign) for t in s.targets
             if isinstance(t, ast.Attribute)]
    assert len(attrs) == 8 and len(set(attrs)) == 8, attrs
    assert all(a.isidentifier() and a == __import__("unicodedata").normalize("NFKC", a) for a in attrs)


def test_a_hostile_output_file_name_stays_inside_the_docstring(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    folder = tmp_path / "out"
    folder.mkdir()
    name = f'net"""\nopen({str(marker)!r}, "w")\n"""x.py'
    result = export_pytorch(Project(name="file", graph=mlp()), None, folder / name)
    source = result.module_path.read_text(encoding="utf-8")
    assert shape_of(source) == shape_of(pytorch_source(load_network(Project(name="file", graph=mlp()), None))[0])
    import_without_running(result.module_path, marker)


def test_a_hostile_onnx_graph_name_survives_import_then_export(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    marker = tmp_path / "ran.txt"
    exported = export_onnx(Project(name="plain", graph=mlp()), None, tmp_path / "plain.onnx")
    for k, text in enumerate(p for p in payloads(marker) if "\ud800" not in p):  # protobuf needs valid UTF-8
        proto = onnx.load(str(exported))
        proto.graph.name = text
        proto.graph.doc_string = text
        hostile = tmp_path / f"hostile{k}.onnx"
        onnx.save(proto, str(hostile))
        project, state = import_onnx(hostile)
        # Import keeps the name printable and short (one line); what it keeps must still be inert text.
        assert project.name and "\n" not in project.name
        source, _ = pytorch_source(load_network(project, state))
        assert_docstrings_hold(source, project.name)
        result = export_pytorch(project, state, tmp_path / f"imported{k}.py")
        import_without_running(result.module_path, marker)


def test_the_ddp_script_is_constant_text(tmp_path: Path) -> None:
    # It takes no names from the project: everything it needs arrives on its command line.
    path = write_ddp_script(tmp_path)
    assert path.read_text(encoding="utf-8") == DDP_SCRIPT
    compile(DDP_SCRIPT, "train_ddp.py", "exec")


def test_a_class_name_that_is_a_keyword_is_refused(tmp_path: Path) -> None:
    from nnstudio.errors import UserError  # noqa: PLC0415

    for bad in ("class", "nn", "x", "not an identifier"):
        with pytest.raises(UserError, match="class_name"):
            export_pytorch(Project(name="k", graph=mlp()), None, tmp_path / "k.py", class_name=bad)


def padded_sign_net() -> Graph:
    """A network whose module uses F.pad (an even kernel with "same" padding) and the Sign module."""
    graph = Graph()
    graph.add_node("Input", {"shape": [1, 6, 6]}, node_id="in")
    graph.add_node("Conv2D", {"filters": 2, "kernel_size": 2, "padding": "same"}, node_id="conv")
    graph.add_node("Dense", {"units": 1}, node_id="dense")
    graph.add_node("Activation", {"function": "sign"}, node_id="sign")
    graph.connect("in", "conv")
    graph.connect("conv", "dense")
    graph.connect("dense", "sign")
    return graph


def test_a_class_name_never_shadows_a_name_the_module_uses(tmp_path: Path) -> None:
    """A project named "F" exported "class F", and the module's F.pad failed; "Path" broke its __main__,
    "None" would not even parse.  Every top-level name of a generated module is kept from class names."""
    from nnstudio.export.pytorch_export import MODULE_NAMES, class_name_for  # noqa: PLC0415

    source, _ = pytorch_source(load_network(Project(name="Net", graph=padded_sign_net()), None), "Net")
    assert "F.pad(" in source and "class Sign(" in source
    top = set()
    for node in ast.parse(source).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            top |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            top.add(node.name)
        elif isinstance(node, ast.Assign):
            top |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    top -= {"Net", "annotations"}  # (from __future__: a class name is never lower case)
    assert {n for n in top if not n.startswith("_")} <= MODULE_NAMES
    for project_name in ("F", "path", "none", "value error", "torch", "build model"):
        assert class_name_for(project_name) not in top | MODULE_NAMES, project_name
    torch = pytest.importorskip("torch")
    result = export_pytorch(Project(name="F", graph=padded_sign_net()), None, tmp_path / "f.py")
    spec = importlib.util.spec_from_file_location("generated_f_net", result.module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = getattr(module, result.class_name)()
    assert tuple(net(torch.zeros(3, 1, 6, 6)).shape) == (3, 1)
