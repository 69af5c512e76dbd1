"""A thread that works on the newest request only: the docks that look at the current frame
(layer inspector, compare view) ask on every frame and must never queue up behind it."""

from __future__ import annotations

import threading

from PyQt6.QtCore import QThread, pyqtSignal

from live_explain.errors import UserError


class LatestWorker(QThread):
    """Calls :meth:`compute` on the newest :meth:`request`'s arguments; older ones that were
    not started are dropped. ``ready(result)`` or ``failed(message)`` after each."""

    ready = pyqtSignal(object)
    failed = pyqtSignal(str)
    name = "worker"  # what a failure message starts with

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName(f"live-explain-{self.name}")
        self._wake = threading.Condition()
        self._request: tuple | None = None
        self._stopping = False

    def request(self, *args) -> None:
        with self._wake:
            self._request = args
            self._wake.notify()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()

    def run(self) -> None:
        while True:
            with self._wake:
                while self._request is None and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                args, self._request = self._request, None
            try:
                self.ready.emit(self.compute(*args))
            except UserError as exc:
                self.failed.emit(str(exc))
            except Exception as exc:  # a library failure: a line in the dock, not a crash
                self.failed.emit(f"{self.name}: {type(exc).__name__}: {exc}")

    def compute(self, *args):
        raise NotImplementedError
