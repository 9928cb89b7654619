"""Train > Download full MNIST / Fashion-MNIST: the same download as ``nnstudio data download``, with a
progress dialog, run off the GUI thread; Cancel stops it and keeps the partial file for a later resume."""
from __future__ import annotations

import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtWidgets import QProgressDialog

from nnstudio.errors import UserError
from nnstudio.ui.i18n import N_, tr
from nnstudio.ui.threads import end_worker, start_worker

TITLES = {"mnist": N_("Download full MNIST (70,000 digits)…"),
          "fashion-mnist": N_("Download Fashion-MNIST (70,000 images)…")}


class _Cancelled(Exception):
    """Raised from the progress callback to stop the download (the .part file stays for resuming)."""


class DownloadWorker(QObject):
    progress = Signal(int, int, str)   # done bytes, total bytes, file name
    finished = Signal(str, str)        # folder ("" on failure), message ("" on success)
    done = Signal()                    # after finished: ends the thread (nnstudio.ui.threads)

    def __init__(self, name: str, download: Callable[..., Any] | None = None, **options: Any) -> None:
        super().__init__()
        self.name = name
        self.options = options
        self._cancel = threading.Event()
        if download is None:
            from nnstudio.data.download import download as download  # noqa: PLC0415
        self._download = download

    def cancel(self) -> None:
        self._cancel.set()

    def _report(self, done: int, total: int, file_name: str) -> None:
        if self._cancel.is_set():
            raise _Cancelled()
        self.progress.emit(done, total, file_name)

    def run(self) -> None:
        try:
            folder = self._download(self.name, progress=self._report, **self.options)
        except _Cancelled:
            self.finished.emit("", tr("Download cancelled; it will resume where it stopped next time."))
        except UserError as exc:
            self.finished.emit("", str(exc))
        except Exception as exc:  # noqa: BLE001 - the dialog must always finish, with a message
            self.finished.emit("", tr("The download failed: {error}", error=f"{type(exc).__name__}: {exc}"))
        else:
            self.finished.emit(str(folder), "")
        finally:
            self.done.emit()


class DownloadController(QObject):
    """Runs one download at a time for a window, with a modal-less progress dialog."""

    done = Signal(str, str)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.thread: QThread | None = None
        self.worker: DownloadWorker | None = None
        self.dialog: QProgressDialog | None = None
        menu = getattr(window, "train_menu", None)
        if menu is not None:
            menu.addSeparator()
            for name, title in TITLES.items():
                action = menu.addAction(tr(title))
                action.triggered.connect(lambda _checked=False, n=name: self.start(n))

    def start(self, name: str, **options: Any) -> bool:
        if self.thread is not None:
            return False
        self.worker = DownloadWorker(name, **options)
        self.worker.progress.connect(self._progress, Qt.ConnectionType.QueuedConnection)
        self.worker.finished.connect(self._finished, Qt.ConnectionType.QueuedConnection)
        self.dialog = QProgressDialog(tr("Connecting…"), tr("Cancel"), 0, 100, self.window)
        self.dialog.setWindowTitle(tr("Downloading {name}", name=name))
        self.dialog.setMinimumDuration(0)
        self.dialog.canceled.connect(self._cancel)
        self.dialog.show()
        self.thread = start_worker(self.worker, self.worker.done, "nnstudio-download", self._thread_ended)
        return True

    def _cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def _thread_ended(self) -> None:
        """The thread ended: free the worker and the thread here, in the GUI thread (nnstudio.ui.threads)."""
        end_worker(self.thread)
        self.thread = self.worker = None

    def _progress(self, done: int, total: int, file_name: str) -> None:
        if self.dialog is None:
            return
        if total > 0:
            self.dialog.setMaximum(100)
            self.dialog.setValue(min(100, int(100 * done / total)))
        else:
            self.dialog.setMaximum(0)  # unknown size: a busy indicator
        self.dialog.setLabelText(tr("{file}: {done} MB received", file=file_name, done=f"{done / 1e6:.1f}"))

    def _finished(self, folder: str, message: str) -> None:
        if self.dialog is not None:
            self.dialog.reset()
            self.dialog.deleteLater()
            self.dialog = None
        if folder:
            from nnstudio.data.registry import clear_cache  # noqa: PLC0415
            clear_cache()
            text = tr("Downloaded to {folder}. Projects using this dataset now train on the full set.",
                      folder=folder)
            self.window.statusBar().showMessage(text, 10000)
        else:
            self.window.show_error(tr("Download"), message)
        self.done.emit(folder, message)


def install_downloads(window: Any) -> DownloadController:
    controller = DownloadController(window)
    window.downloads = controller
    return controller
