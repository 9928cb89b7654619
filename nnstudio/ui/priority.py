"""Training runs at a lower CPU priority than the window.

Why this exists: the GUI thread and the training thread share Python's GIL, and the interface's painting
holds it.  When every core is busy training (NumPy's BLAS starts one thread per core), the GUI thread is
preempted in the middle of a paint while holding the GIL, so a 2 ms paint takes 8 ms and the training
thread waits for the GIL all that time.  With the training threads at a lower priority the GUI thread gets
a core as soon as it has work, finishes quickly and lets go of the GIL.  In one measurement on two cores with
every panel open (``tools/bench_gui_training.py``, 2 epochs, 5 pairs) training kept 85 % of its headless
speed instead of 82 % while the loss curves were redrawn twice as often (7 instead of 3.5 times a second),
and the event loop's 99th percentile lateness went from 27 ms to 14 ms; the panels' shares were lowered
afterwards, trading those extra frames for training speed.

Qt's thread priorities do nothing for normal threads on Linux, so there the kernel's per-thread nice value
is raised (which any user may do, but not undo: the BLAS helper threads keep it, and they only ever work
for the engine).  Elsewhere ``QThread.setPriority`` does the job.
"""
from __future__ import annotations

import os
import sys
import threading

from PySide6.QtCore import QThread

TRAINING_NICE = 10  # CFS weight 110 against 1024 for the GUI thread at 0


def _comm(tid: int) -> str:
    try:
        with open(f"/proc/self/task/{tid}/comm", encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _renice(tid: int, nice: int) -> bool:
    try:
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
        return True
    except OSError:  # the thread ended, or the system refuses: the run simply keeps the usual priority
        return False


def helper_threads() -> list[int]:
    """Native ids of this process's unnamed threads other than the main one: the BLAS library's workers
    (Qt names its own threads, e.g. the X11 event reader, and those are left alone)."""
    main = os.getpid()
    name = _comm(main)
    try:
        tids = [int(t) for t in os.listdir("/proc/self/task")]
    except OSError:
        return []
    return [tid for tid in tids if tid != main and _comm(tid) == name]


def lower_training_priority() -> list[int]:
    """Call from the training thread when a run starts; returns the native thread ids it lowered (Linux)."""
    if threading.current_thread() is threading.main_thread():
        return []  # never the GUI thread
    if sys.platform.startswith("linux"):
        lowered = []
        for tid in {threading.get_native_id(), *helper_threads()}:
            if _renice(tid, TRAINING_NICE):
                lowered.append(tid)
        return sorted(lowered)
    QThread.currentThread().setPriority(QThread.Priority.LowPriority)  # Windows, macOS
    return []
