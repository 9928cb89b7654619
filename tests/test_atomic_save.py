"""The one atomic writer (nnstudio.userdirs) behind projects, weights, recovery copies and exports: a save
through a symbolic link updates the file it points at, an existing file keeps its permission bits, and the
temporary files of a save that was killed are removed at the next save (or at start)."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnstudio.engine.weights_io import read_weights, write_weights
from nnstudio.graph.document import Graph
from nnstudio.graph.project_file import Project, load_project, save_project
from nnstudio.userdirs import (atomic_write_bytes, atomic_write_files, remove_stale_temporaries, replace_file,
                               temporary_path)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="symbolic links and permission bits are POSIX here")


def _dead_pid() -> int:
    """The PID of a process that has ended (so a temporary file named after it is stale)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _project(name: str = "p") -> Project:
    graph = Graph.from_dict({"nodes": [{"id": "in", "type": "Input", "params": {"shape": [2]}},
                                       {"id": "d", "type": "Dense", "params": {"units": 2}}],
                             "edges": [{"from": "in", "to": "d"}]})
    return Project(name=name, graph=graph)


def test_saving_through_a_symlink_updates_its_target_and_keeps_the_link(tmp_path: Path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    real = real_dir / "model.nnproj"
    save_project(_project("first"), real)
    link = tmp_path / "link.nnproj"
    link.symlink_to(real)
    save_project(_project("second"), link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert load_project(real).name == "second"
    assert sorted(p.name for p in real_dir.iterdir()) == ["model.nnproj"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.nnproj", "real"]

    weights_real = real_dir / "w.npz"
    write_weights(weights_real, {"d/w": np.zeros((2, 2), np.float32)})
    weights_link = tmp_path / "w.npz"
    weights_link.symlink_to(Path("real") / "w.npz")  # a relative link too
    write_weights(weights_link, {"d/w": np.ones((2, 2), np.float32)})
    assert weights_link.is_symlink()
    assert np.array_equal(read_weights(weights_real)["d/w"], np.ones((2, 2), np.float32))


def test_a_chain_of_links_and_a_dangling_link_write_the_final_file(tmp_path: Path):
    final = tmp_path / "final.bin"
    (tmp_path / "b").symlink_to(final)  # dangling until the first save
    (tmp_path / "a").symlink_to(tmp_path / "b")
    atomic_write_bytes(tmp_path / "a", b"one")
    assert final.read_bytes() == b"one" and (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()
    atomic_write_files({tmp_path / "a": b"two", tmp_path / "c": b"three"})
    assert final.read_bytes() == b"two" and (tmp_path / "a").is_symlink()


def test_an_existing_file_keeps_its_permission_bits(tmp_path: Path):
    path = tmp_path / "p.nnproj"
    save_project(_project(), path)
    os.chmod(path, 0o640)
    save_project(_project("again"), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    os.chmod(path, 0o604)
    atomic_write_files({path: b"{}", tmp_path / "new": b"x"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o604
    weights = tmp_path / "w.npz"
    write_weights(weights, {"a": np.zeros(2, np.float32)})
    os.chmod(weights, 0o600)
    write_weights(weights, {"a": np.ones(2, np.float32)})
    assert stat.S_IMODE(weights.stat().st_mode) == 0o600


def test_replace_file_follows_links_and_keeps_permissions(tmp_path: Path):
    real = tmp_path / "real.npz"
    real.write_bytes(b"old")
    os.chmod(real, 0o600)
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    staged = temporary_path(real)
    staged.write_bytes(b"new")
    assert replace_file(staged, link) == real
    assert link.is_symlink() and real.read_bytes() == b"new" and stat.S_IMODE(real.stat().st_mode) == 0o600


def test_leftovers_of_a_killed_save_are_removed_at_the_next_save(tmp_path: Path):
    path = tmp_path / "p.nnproj"
    dead = _dead_pid()
    stale = [tmp_path / f".p.nnproj.{dead}.tmp", tmp_path / f".p.nnproj.{dead}.bak"]
    live = tmp_path / f".p.nnproj.{os.getppid()}.tmp"  # a save in progress in a running process: kept
    other = tmp_path / f".other.nnproj.{dead}.tmp"  # another file's leftover: not this save's business
    mine = tmp_path / ".p.nnproj.notapid.tmp"
    for leftover in (*stale, live, other, mine):
        leftover.write_bytes(b"half written")
    save_project(_project(), path)
    assert not any(p.exists() for p in stale)
    assert live.exists() and other.exists() and mine.exists()
    assert remove_stale_temporaries(tmp_path) == [other]  # at start: every stale one in the folder
    assert live.exists()


def test_a_save_killed_mid_write_leaves_the_old_file_and_the_next_save_cleans_up(tmp_path: Path):
    path = tmp_path / "p.nnproj"
    save_project(_project("good"), path)
    before = path.read_bytes()
    code = ("import os, sys\n"
            "from nnstudio import userdirs\n"
            "def killed(src, dst):\n"
            "    os._exit(9)\n"  # dies between writing the temporary file and moving it into place
            "userdirs.os.replace = killed\n"
            f"userdirs.atomic_write_bytes({str(path)!r}, b'new content')\n")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[1])
    assert proc.wait(timeout=60) == 9
    assert path.read_bytes() == before
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "p.nnproj"]
    assert leftovers == [f".p.nnproj.{proc.pid}.tmp"]
    save_project(_project("next"), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.nnproj"]


def test_a_special_file_is_never_replaced_by_a_save(tmp_path: Path):
    """As root, os.replace would turn /dev/null or a FIFO into a regular file: the writer refuses instead."""
    import socket

    fifo = tmp_path / "pipe.nnproj"
    os.mkfifo(fifo)
    sock = tmp_path / "socket.npz"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(sock))
    link = tmp_path / "link.nnproj"
    link.symlink_to(fifo)
    from nnstudio.errors import UserError

    for target in (fifo, link):
        with pytest.raises(UserError, match="not a regular file"):
            save_project(_project(), target)
    with pytest.raises(UserError, match="not a regular file"):
        write_weights(sock, {"a": np.zeros(2, np.float32)})
    with pytest.raises(OSError, match="not a regular file"):
        atomic_write_files({tmp_path / "new.nnproj": b"{}", fifo: b"x"})
    assert not (tmp_path / "new.nnproj").exists()  # all refused before any is written
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and stat.S_ISSOCK(os.lstat(sock).st_mode) and link.is_symlink()
    with pytest.raises(IsADirectoryError):
        atomic_write_bytes(tmp_path, b"x")


def test_a_file_where_a_folder_should_be_is_named(tmp_path):
    """Writing "afile/a.onnx" where afile is a file said only "File exists"; it names the file in the way. Missing
    folders are still made."""
    from nnstudio.userdirs import atomic_write_bytes, atomic_write_files
    (tmp_path / "afile").write_text("keep")
    for write in (lambda p: atomic_write_bytes(p, b"x"), lambda p: atomic_write_files({p: b"x"})):
        with pytest.raises(NotADirectoryError, match="'.*afile' is a file, not a folder"):
            write(tmp_path / "afile" / "sub" / "a.onnx")
    assert (tmp_path / "afile").read_text() == "keep"
    atomic_write_bytes(tmp_path / "new" / "dir" / "a.onnx", b"x")
    assert (tmp_path / "new" / "dir" / "a.onnx").read_bytes() == b"x"
