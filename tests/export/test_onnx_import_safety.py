"""Hostile ONNX files: external data outside the model's folder, deep nesting in doc strings, unknown
operators, oversized or special files, and mutated bytes are each one UserError naming the file, op or node."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from nnstudio.errors import UserError  # noqa: E402
from nnstudio.export import import_onnx  # noqa: E402
from nnstudio.export import onnx_import  # noqa: E402


def _model(doc: str = "", extra_nodes: tuple = ()) -> onnx.ModelProto:
    w = np.arange(6, dtype=np.float32).reshape(3, 2) / 10
    nodes = [helper.make_node("Gemm", ["x", "w"], ["h"], name="fc", doc_string=doc),
             helper.make_node("Relu", ["h"], ["y"], name="act"), *extra_nodes]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
                              [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, ["N", 2])],
                              initializer=[numpy_helper.from_array(w, "w")])
    opsets = [helper.make_opsetid("", 17)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=helper.find_min_ir_version_for(opsets))


def _with_external_weights(location: str, offset: int = 0, length: int = 24) -> onnx.ModelProto:
    proto = _model()
    tensor = proto.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, val in (("location", location), ("offset", str(offset)), ("length", str(length))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, val
    return proto


def test_a_valid_model_with_external_data_in_its_folder_imports(tmp_path: Path):
    (tmp_path / "w.bin").write_bytes((np.arange(6, dtype=np.float32) / 10).tobytes())
    onnx.save(_with_external_weights("w.bin"), str(tmp_path / "m.onnx"))
    _, state = import_onnx(tmp_path / "m.onnx")
    np.testing.assert_allclose(sorted(np.concatenate([v.ravel() for v in state.values()])),
                               np.arange(6) / 10, rtol=1e-6)


@pytest.mark.parametrize("location", ["../secret.bin", "/etc/passwd", "sub/../../secret.bin"])
def test_external_data_outside_the_folder_is_refused(tmp_path: Path, location: str):
    (tmp_path / "secret.bin").write_bytes(b"\x00" * 64)
    folder = tmp_path / "model"
    folder.mkdir()
    onnx.save(_with_external_weights(location), str(folder / "m.onnx"))
    with pytest.raises(UserError, match=r"m.onnx'?: tensor 'w' keeps its data in .* expected a file inside the "
                                        r"model's folder"):
        import_onnx(folder / "m.onnx")


def test_external_data_beyond_its_file_or_missing_is_refused(tmp_path: Path):
    (tmp_path / "w.bin").write_bytes(b"\x00" * 24)
    onnx.save(_with_external_weights("w.bin", offset=16, length=24), str(tmp_path / "m.onnx"))
    with pytest.raises(UserError, match=r"tensor 'w' keeps its data in 'w.bin' at bytes 16..40, beyond"):
        import_onnx(tmp_path / "m.onnx")
    onnx.save(_with_external_weights("gone.bin"), str(tmp_path / "m2.onnx"))
    with pytest.raises(UserError, match=r"'gone.bin', which is not a file"):
        import_onnx(tmp_path / "m2.onnx")


def test_deeply_nested_doc_string_is_ignored_not_a_recursion_error(tmp_path: Path):
    deep = "NN Studio Dense {\"units\": " + "[" * 200_000 + "]" * 200_000 + "}"
    onnx.save(_model(doc=deep), str(tmp_path / "deep.onnx"))
    project, _ = import_onnx(tmp_path / "deep.onnx")
    assert any(n.type == "Dense" for n in project.graph.nodes.values())
    nested = "NN Studio Dense {\"units\": " + "[" * 5_000 + "]" * 5_000 + "}"
    onnx.save(_model(doc=nested), str(tmp_path / "nested.onnx"))
    project, _ = import_onnx(tmp_path / "nested.onnx")
    assert any(n.type == "Dense" for n in project.graph.nodes.values())


def test_unknown_operator_names_op_and_node(tmp_path: Path):
    proto = _model(extra_nodes=(helper.make_node("Frobnicate", ["y"], ["z"], name="weird\nnode"),))
    proto.graph.output[0].name = "z"
    onnx.save(proto, str(tmp_path / "op.onnx"), )
    with pytest.raises(UserError) as info:
        import_onnx(tmp_path / "op.onnx")
    message = str(info.value)
    assert "\n" not in message and "op.onnx" in message and "Frobnicate (node weird?node, #3)" in message


def test_size_cap_and_special_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    onnx.save(_model(), str(tmp_path / "m.onnx"))
    monkeypatch.setattr(onnx_import, "MAX_ONNX_BYTES", 50)
    with pytest.raises(UserError, match=r"m.onnx' is \d+ bytes; at most 50 can be imported"):
        import_onnx(tmp_path / "m.onnx")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.onnx")
        with pytest.raises(UserError, match="pipe.onnx' is not a regular file"):
            import_onnx(tmp_path / "pipe.onnx")
    with pytest.raises(UserError, match="is a folder"):
        import_onnx(tmp_path)


VALID = _model().SerializeToString()


@st.composite
def _mutated(draw) -> bytes:
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@settings(max_examples=200, deadline=3000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(_mutated(), st.binary(max_size=300)))
def test_mutated_models_import_or_raise_one_line(tmp_path: Path, data: bytes):
    path = tmp_path / "fuzz.onnx"
    path.write_bytes(data)
    try:
        import_onnx(path)
    except UserError as exc:
        assert "\n" not in str(exc) and "fuzz.onnx" in str(exc)


@pytest.mark.parametrize("kind", ["nan weight", "nan alpha", "float64 1e300"])
def test_weights_that_are_not_finite_in_float32_are_refused(tmp_path: Path, kind: str):
    """A NaN weight, a Gemm alpha of NaN (folded into the weight) or a float64 1e300 (infinite in float32)
    imported with exit status 0 and a weights file the network could only compute NaN with."""
    proto = _model()
    if kind == "nan weight":
        w = np.arange(6, dtype=np.float32).reshape(3, 2)
        w[1, 1] = np.nan
        proto.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, "w"))
    elif kind == "nan alpha":
        proto.graph.node[0].attribute.append(helper.make_attribute("alpha", float("nan")))
    else:
        proto.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.full((3, 2), 1e300), "w"))
        proto.graph.input[0].type.tensor_type.elem_type = TensorProto.DOUBLE
        proto.graph.output[0].type.tensor_type.elem_type = TensorProto.DOUBLE
    onnx.save(proto, str(tmp_path / "m.onnx"))
    with pytest.raises(UserError, match=r"m.onnx'?: weight '.*' holds NaN or infinite values") as info:
        import_onnx(tmp_path / "m.onnx")
    assert "\n" not in str(info.value)
