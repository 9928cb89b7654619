"""Training threads run at a lower CPU priority than the GUI thread (Linux: the thread's nice value).

Checked in a child process: a raised nice value cannot be lowered again without privileges, and the test
process's own threads should keep theirs.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest.importorskip("PySide6")

SCRIPT = r"""
import json, os, threading
import numpy as np
np.dot(np.ones((300, 300)), np.ones((300, 300)))  # the BLAS library has started its threads
from nnstudio.ui.priority import TRAINING_NICE, helper_threads, lower_training_priority
main = threading.get_native_id()
out = {"from_main": lower_training_priority(), "main_before": os.getpriority(os.PRIO_PROCESS, main)}
seen = {}
def work():
    seen["lowered"] = lower_training_priority()
    seen["self"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen["tid"] = threading.get_native_id()
t = threading.Thread(target=work)
t.start(); t.join()
out.update(seen, helpers=helper_threads(), nice=TRAINING_NICE,
           helpers_after=[os.getpriority(os.PRIO_PROCESS, tid) for tid in helper_threads()],
           main_after=os.getpriority(os.PRIO_PROCESS, main))
print(json.dumps(out))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are a Linux feature")
def test_training_thread_and_blas_helpers_yield_to_the_gui_thread():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "OPENBLAS_NUM_THREADS": "2"})
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["from_main"] == []  # never the GUI thread
    assert out["self"] >= out["nice"] and out["tid"] in out["lowered"]
    assert all(nice >= out["nice"] for nice in out["helpers_after"])
    assert set(out["helpers"]) <= set(out["lowered"]) | {out["tid"]}
    assert out["main_after"] == out["main_before"]  # the GUI thread keeps its priority
