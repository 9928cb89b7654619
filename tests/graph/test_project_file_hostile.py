"""Hostile or broken project files load or raise UserError, quickly, and whatever loads can be saved again."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnstudio.errors import UserError
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import FORMAT, Project, load_project, project_to_json, save_project


def chain(n: int) -> dict:
    nodes = [{"id": "in", "type": "Input", "params": {"shape": [4]}}]
    nodes += [{"id": f"a{i}", "type": "Activation", "params": {"function": "relu"}} for i in range(n)]
    ids = [node["id"] for node in nodes]
    return {"format": FORMAT, "version": 1, "name": "chain",
            "graph": {"nodes": nodes, "edges": [{"from": a, "to": b} for a, b in zip(ids, ids[1:])]}}


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "p.nnproj"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def refused(tmp_path: Path, text: str | bytes, *fragments: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(UserError) as info:
        load_project(path)
    message = str(info.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize("depth", [100, 500, 700, 990, 5000])
def test_deep_nesting_is_a_user_error(tmp_path: Path, depth: int) -> None:
    body = "[" * depth + "]" * depth
    refused(tmp_path, '{"format": "%s", "version": 1, "extra": %s}' % (FORMAT, body), "nested")
    refused(tmp_path, '{"format": "%s", "version": 0, "layers": %s}' % (FORMAT, body), "nested")


def test_lone_surrogates_are_refused_and_never_crash_a_save(tmp_path: Path) -> None:
    data = chain(2)
    for place in ("name", "node id", "extra key", "extra value"):
        doc = json.loads(json.dumps(data))
        if place == "name":
            doc["name"] = "bad \ud800 name"
        elif place == "node id":
            doc["graph"]["nodes"][1]["id"] = "a\udfff"
            doc["graph"]["edges"][0]["to"] = "a\udfff"
        elif place == "extra key":
            doc["\ud800"] = 1
        else:
            doc["notes"] = ["ok", "\udc80"]
        refused(tmp_path, json.dumps(doc), "unpaired surrogate")
    with pytest.raises(UserError, match="unpaired surrogate"):
        Graph().add_node("Input", {"shape": [2]}, node_id="x\ud800")
    with pytest.raises(UserError, match="unpaired surrogate"):
        save_project(Project(name="bad \ud800"), tmp_path / "bad.nnproj")
    assert not (tmp_path / "bad.nnproj").exists()


def test_numbers_json_cannot_write_back_are_refused(tmp_path: Path) -> None:
    refused(tmp_path, '{"format": "%s", "version": 1, "x": NaN}' % FORMAT, "NaN")
    refused(tmp_path, '{"format": "%s", "version": 1, "x": 1e999}' % FORMAT, "finite")
    refused(tmp_path, '{"format": "%s", "version": 1, "x": %s}' % (FORMAT, "9" * 5000), "not usable JSON")


def test_a_20000_node_chain_loads_in_linear_time(tmp_path: Path) -> None:
    small, big = write(tmp_path, json.dumps(chain(2_500))), tmp_path / "big.nnproj"
    big.write_text(json.dumps(chain(20_000)), encoding="utf-8")
    load_project(small)  # warm up imports and caches
    started = time.perf_counter()
    load_project(small)
    t_small = time.perf_counter() - started
    started = time.perf_counter()
    project = load_project(big)
    t_big = time.perf_counter() - started
    assert len(project.graph.nodes) == 20_001 and len(project.graph.edges) == 20_000
    # 8 times the nodes: linear is about 8 times the time, quadratic 64 times.
    assert t_big < 24 * t_small + 0.5, (t_small, t_big)


def test_a_cycle_in_a_long_file_names_the_edge_that_closes_it(tmp_path: Path) -> None:
    doc = chain(3_000)
    doc["graph"]["nodes"][11] = {"id": "a10", "type": "Add"}  # a merge, so a second wire may enter it
    doc["graph"]["edges"] += [{"from": "a2999", "to": "a10", "to_port": 1}, {"from": "a5", "to": "a10"}]
    started = time.perf_counter()
    message = refused(tmp_path, json.dumps(doc), "edge 3001 ('a2999' -> 'a10', port 1)", "would create a cycle")
    assert "'a10' already feeds 'a2999'" in message
    assert time.perf_counter() - started < 5


def test_special_files_and_huge_files_are_refused_quickly(tmp_path: Path) -> None:
    if os.path.exists("/dev/zero"):
        started = time.perf_counter()
        with pytest.raises(UserError, match="not a regular file"):
            load_project("/dev/zero")
        assert time.perf_counter() - started < 1
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "pipe.nnproj"
        os.mkfifo(fifo)
        with pytest.raises(UserError, match="not a regular file"):
            load_project(fifo)
    big = tmp_path / "big.nnproj"
    with open(big, "wb") as fh:
        fh.truncate(65 * 2**20)  # sparse: no disk used
    with pytest.raises(UserError, match="larger than 64 MiB"):
        load_project(big)
    with pytest.raises(UserError, match="is a folder"):
        load_project(tmp_path)


# -- property tests ----------------------------------------------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                         HealthCheck.too_slow])
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)
NODE = st.fixed_dictionaries({"id": st.sampled_from(["in", "d", "a", "x", ""]) | JSONISH,
                              "type": st.sampled_from(["Input", "Dense", "Activation", "Add", "Nope"]) | JSONISH},
                             optional={"params": st.dictionaries(st.sampled_from(["shape", "units", "function"]),
                                                                 JSONISH, max_size=2),
                                       "position": JSONISH})
EDGE = st.fixed_dictionaries({"from": st.sampled_from(["in", "d", "a", "x"]) | JSONISH,
                              "to": st.sampled_from(["in", "d", "a", "x"]) | JSONISH},
                             optional={"to_port": JSONISH})
PROJECTISH = st.fixed_dictionaries(
    {"format": st.just(FORMAT) | JSONISH, "version": st.sampled_from([0, 1, 2, 1.0]) | JSONISH},
    optional={"name": JSONISH, "graph": st.fixed_dictionaries({"nodes": st.lists(NODE, max_size=4),
                                                               "edges": st.lists(EDGE, max_size=4)}) | JSONISH,
              "layers": st.lists(st.fixed_dictionaries({"type": st.sampled_from(["Input", "Dense"]) | JSONISH},
                                                       optional={"params": JSONISH, "id": JSONISH}), max_size=3),
              "training": st.dictionaries(st.sampled_from(["epochs", "loss", "dataset", "learning_rate", "x"]),
                                          JSONISH, max_size=3) | JSONISH,
              "extra": JSONISH})


def load_or_refuse(tmp_path: Path, raw: bytes) -> None:
    path = write(tmp_path, raw)
    started = time.perf_counter()
    try:
        project = load_project(path)
    except UserError as exc:
        assert str(exc) and str(path) in str(exc)
    else:  # whatever loads saves, and reads back the same
        save_project(project, tmp_path / "again.nnproj")
        assert project_to_json(load_project(tmp_path / "again.nnproj")) == project_to_json(project)
    assert time.perf_counter() - started < 2


@FUZZ
@given(doc=PROJECTISH | JSONISH)
def test_json_structures_load_or_raise_user_error(tmp_path: Path, doc) -> None:
    load_or_refuse(tmp_path, json.dumps(doc).encode("utf-8", "surrogatepass"))


@FUZZ
@given(raw=st.binary(max_size=400) | st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_arbitrary_bytes_load_or_raise_user_error(tmp_path: Path, raw: bytes) -> None:
    load_or_refuse(tmp_path, raw)
