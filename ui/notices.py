"""Non-blocking notices: a strip above the video that shows the latest few messages and
clears them after a while; errors never open a modal dialog or stop the window.

:class:`LogBridge` forwards the library's log warnings (``live_explain`` logger, from any
thread) to the strip.
"""

from __future__ import annotations

import contextlib
import logging
import time

from PyQt6.QtCore import QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

SHOWN_AT_ONCE = 3
LIFETIME_S = {"info": 6.0, "warning": 12.0, "error": 20.0}
COLOURS = {"info": "#1d3b58", "warning": "#5a4a12", "error": "#6a1d1d"}


class NoticeArea(QWidget):
    """The strip; ``history`` keeps every (level, message) shown, for tests and the log."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notices")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(1)
        self.history: list[tuple[str, str]] = []
        self._rows: list[tuple[QWidget, float]] = []
        self._timer = QTimer(self, interval=500)
        self._timer.timeout.connect(self._expire)

    def notify(self, level: str, message: str) -> None:
        level = level if level in COLOURS else "info"
        self.history.append((level, message))
        if self._rows and self._rows[-1][0].property("message") == (level, message):
            return  # the same notice again: once is enough
        row = QWidget(self)
        row.setProperty("message", (level, message))
        row.setStyleSheet(f"background: {COLOURS[level]}; color: white;")
        line = QHBoxLayout(row)
        line.setContentsMargins(8, 3, 4, 3)
        label = QLabel(f"{level}: {message}", row)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(row, text="✕", autoRaise=True)
        close.clicked.connect(lambda: self._remove(row))
        line.addWidget(label, 1)
        line.addWidget(close)
        self._layout.addWidget(row)
        self._rows.append((row, time.monotonic() + LIFETIME_S[level]))
        while len(self._rows) > SHOWN_AT_ONCE:
            self._remove(self._rows[0][0])
        self._timer.start()

    def dismiss(self, prefix: str) -> None:
        """Remove the notices shown whose message starts with ``prefix``."""
        for row, _ in list(self._rows):
            if row.property("message")[1].startswith(prefix):
                self._remove(row)

    def messages(self, level: str | None = None) -> list[str]:
        return [m for lv, m in self.history if level is None or lv == level]

    def _expire(self) -> None:
        now = time.monotonic()
        for row, deadline in list(self._rows):
            if now >= deadline:
                self._remove(row)
        if not self._rows:
            self._timer.stop()

    def _remove(self, row: QWidget) -> None:
        self._rows = [(r, d) for r, d in self._rows if r is not row]
        row.hide()
        row.deleteLater()


class LogBridge(QObject):
    """Log records of ``logger`` (warnings and worse, from any thread) arrive in the GUI
    thread as ``message(level, text)``. ``close()`` detaches it."""

    message = pyqtSignal(str, str)

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__()
        self.logger = logger
        self.handler = _SignalHandler(self.message)
        logger.addHandler(self.handler)

    def close(self) -> None:
        self.logger.removeHandler(self.handler)


class _SignalHandler(logging.Handler):
    def __init__(self, signal) -> None:
        super().__init__(logging.WARNING)
        self.signal = signal

    def emit(self, record: logging.LogRecord) -> None:
        level = "error" if record.levelno >= logging.ERROR else "warning"
        with contextlib.suppress(RuntimeError):  # the Qt side is gone (window closed)
            self.signal.emit(level, record.getMessage())
