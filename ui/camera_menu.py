"""The Camera submenu: which camera indices open, probed in the background."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path

import cv2
from PyQt6.QtCore import pyqtSignal
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QMenu, QWidget

PROBE_LIMIT = 8


def camera_candidates(limit: int = PROBE_LIMIT) -> list[int]:
    """Indices worth trying: the ``/dev/videoN`` nodes on Linux, else ``0 .. limit-1``."""
    if sys.platform.startswith("linux"):
        nodes = (p.name[len("video") :] for p in Path("/dev").glob("video*"))
        return sorted(int(n) for n in nodes if n.isdigit())[:limit]
    return list(range(limit))


def probe_cameras(limit: int = PROBE_LIMIT) -> list[int]:
    """The camera indices that open (each is opened and released once)."""
    found = []
    for index in camera_candidates(limit):
        capture = cv2.VideoCapture(index)
        try:
            if capture.isOpened():
                found.append(index)
        finally:
            capture.release()
    return found


class CameraMenu(QMenu):
    """Probes when opened (in a thread, so the menu never freezes the window) and lists
    what it found; choosing one calls ``open_source(str(index))``."""

    _probed = pyqtSignal(list)

    def __init__(self, open_source: Callable[[str], None], parent: QWidget | None = None) -> None:
        super().__init__("&Camera", parent)
        self._open_source = open_source
        self._probing = False
        self._found: list[int] | None = None
        self.aboutToShow.connect(self.probe)
        self._probed.connect(self._fill)
        self._fill_with_message("probing cameras …")

    def probe(self) -> None:
        if self._probing:
            return
        self._probing = True
        threading.Thread(target=self._probe_thread, name="camera-probe", daemon=True).start()

    def _probe_thread(self) -> None:
        self._probed.emit(probe_cameras())

    def _fill(self, found: list[int]) -> None:
        self._probing = False
        self._found = found
        self.clear()
        for index in found:
            action = QAction(f"Camera {index}", self)
            action.triggered.connect(lambda _=False, i=index: self._open_source(str(i)))
            self.addAction(action)
        if not found:
            self._fill_with_message("no camera found")
        self.addSeparator()
        again = QAction("Probe again", self)
        again.triggered.connect(self.probe)
        self.addAction(again)

    def _fill_with_message(self, text: str) -> None:
        note = QAction(text, self)
        note.setEnabled(False)
        self.addAction(note)
