"""Freed array memory stays with the process (nnstudio.engine.allocator): set once when the engine is imported,
where malloc is glibc's, left alone when the user tuned malloc or opted out."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from nnstudio.engine import allocator

CODE = "from nnstudio.engine import allocator; print(allocator.keep_freed_memory())"


def _run(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "NNSTUDIO_SYSTEM_MALLOC")}
    env.update(extra)
    return subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def _glibc() -> bool:
    return sys.platform.startswith("linux") and os.confstr("CS_GNU_LIBC_VERSION") is not None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_set_on_import_with_glibc_and_left_alone_when_the_user_chose():
    assert _run() == str(_glibc())
    assert _run(NNSTUDIO_SYSTEM_MALLOC="1") == "False"
    assert _run(MALLOC_TRIM_THRESHOLD_="131072") == "False"


def test_asked_twice_it_answers_the_same():
    assert allocator.keep_freed_memory() == allocator.keep_freed_memory()
