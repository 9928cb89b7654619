"""The one recipe for running a worker object in a QThread (training, gradient check, downloads).

Why this exists: three features ran work off the GUI thread, each wiring its thread by hand and each freeing
the worker and the thread at a different moment; a GUI test suite that crashed inside Qt now and then was
the symptom.  :func:`start_worker` wires them the way Qt documents (and superqt's ``_qthreading`` does):

* ``worker.moveToThread(thread)``, ``thread.started -> worker.run``;
* the worker's ``done`` signal -> ``thread.quit`` (direct: ``quit`` is thread-safe, so the thread ends even
  while the GUI thread is blocked in ``wait()``);
* ``thread.finished -> worker.deleteLater`` (the worker is deleted in its own thread as it ends) and
  ``thread.finished -> thread.deleteLater`` (the thread object is deleted by the GUI's event loop, after every
  queued slot connected earlier to ``finished`` has run).

The caller connects its own slots to the worker's signals before calling :func:`start_worker`, passes its
end-of-run slot as ``on_finished`` (connected to ``thread.finished`` before the deletions, so it runs first),
keeps references to the worker and the returned thread while it runs (neither has a parent), and never
touches either object after that slot.  Slots are bound methods of QObjects (never lambdas), so Qt drops
a connection when its receiver is deleted.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt, QThread


def start_worker(worker: QObject, done: Any, name: str, on_finished: Any = None) -> QThread:
    """Start ``worker.run`` in a new QThread named ``name``; ``done`` is the worker's signal that ends it and
    ``on_finished`` (a bound slot of a GUI-thread object) runs once the thread has ended."""
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    if on_finished is not None:
        thread.finished.connect(on_finished, Qt.ConnectionType.QueuedConnection)
    thread.finished.connect(worker.deleteLater)
    thread.finished.connect(thread.deleteLater)
    thread.start()
    return thread


__all__ = ["start_worker"]
