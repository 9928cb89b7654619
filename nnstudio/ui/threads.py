"""The one recipe for running a worker object in a QThread (training, gradient check, downloads).

Why this exists: three features ran work off the GUI thread, each wiring its thread by hand and each freeing
the worker and the thread at a different moment; a GUI test suite that crashed inside Qt now and then was
the symptom.  :func:`start_worker` wires them one way:

* ``worker.moveToThread(thread)``, ``thread.started -> worker.run``;
* the worker's ``done`` signal -> ``thread.quit`` (direct: ``quit`` is thread-safe, so the thread ends even
  while the GUI thread is blocked in ``wait()``);
* ``thread.finished -> on_finished``, a bound slot of a GUI-thread object (queued; Qt drops the connection
  if that object goes first).

Who frees what: the worker and the thread are Python objects without a Qt parent, held by their owner.  The
owner's ``on_finished`` calls :func:`end_worker` (which waits the last moments of the thread, since
``finished`` is emitted just *before* the thread ends) and then drops both references, so both are deleted
in the GUI thread, by Python, when nothing runs in them any more.  ``deleteLater`` is not used: a C++
deletion in the worker thread of an object that Python also owns raced with the GUI thread (a segmentation
fault seen once in ten runs of the GUI suite).
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, QThread

END_WAIT_MS = 10_000


def start_worker(worker: QObject, done: Any, name: str, on_finished: Any = None) -> QThread:
    """Start ``worker.run`` in a new QThread named ``name``; ``done`` is the worker's signal that ends it and
    ``on_finished`` (a bound slot of a GUI-thread object) runs once the thread has finished its work."""
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    if on_finished is not None:
        thread.finished.connect(on_finished, Qt.ConnectionType.QueuedConnection)
    thread.start()
    return thread


def end_worker(thread: QThread | None) -> bool:
    """Wait until ``thread`` has really ended (call from the owner's ``on_finished`` before dropping it)."""
    return thread is None or thread.wait(END_WAIT_MS)


__all__ = ["end_worker", "start_worker"]
