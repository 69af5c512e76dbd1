"""Non-blocking notices: a strip over the top of the video (it floats: the video never moves)
that shows the latest few messages and clears them after a while; errors never open a modal
dialog or stop the window. A message already shown is not shown twice (its time restarts);
:meth:`NoticeArea.clear_for_new_source` drops what was said about the previous source.

:class:`LogBridge` forwards the library's log warnings (``live_explain`` logger, from any
thread) to the strip.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time

from PyQt6.QtCore import QEvent, QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

SHOWN_AT_ONCE = 3
LIFETIME_S = {"info": 6.0, "warning": 12.0, "error": 20.0}
COLOURS = {"info": "#1d3b58", "warning": "#5a4a12", "error": "#6a1d1d"}


class NoticeArea(QWidget):
    """The strip; ``history`` keeps every (level, message) shown, for tests and the log."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notices")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(1)
        self.history: list[tuple[str, str]] = []
        self._rows: list[tuple[QWidget, float]] = []
        self._timer = QTimer(self, interval=500)
        self._timer.timeout.connect(self._expire)

    def float_over(self, widget: QWidget) -> None:
        """Float over the top of ``widget`` (the video's column), as wide as it."""
        self.setParent(widget)
        widget.installEventFilter(self)
        self._place()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parent() and event.type() == QEvent.Type.Resize:
            self._place()
        return False

    def _place(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        self.setVisible(bool(self._rows))
        if self._rows:
            self.setGeometry(0, 0, parent.width(), self._layout.sizeHint().height())
            self.raise_()

    def clear_for_new_source(self) -> None:
        """A new source: what was said about the last one (its errors, its warnings) goes."""
        for row, _ in list(self._rows):
            if row.property("message")[0] != "info":
                self._remove(row)

    def notify(self, level: str, message: str) -> None:
        level = level if level in COLOURS else "info"
        self.history.append((level, message))
        for index, (row, _) in enumerate(self._rows):
            if row.property("message") == (level, message):  # shown already: once is enough
                self._rows[index] = (row, time.monotonic() + LIFETIME_S[level])
                return
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
        self._place()

    def dismiss(self, prefix: str) -> None:
        """Remove the notices shown whose message starts with ``prefix``."""
        for row, _ in list(self._rows):
            if row.property("message")[1].startswith(prefix):
                self._remove(row)

    def shown(self) -> list[tuple[str, str]]:
        """The (level, message) rows on screen now, oldest first."""
        return [row.property("message") for row, _ in self._rows]

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
        self._layout.removeWidget(row)
        row.deleteLater()
        self._place()


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


# The library's messages name command-line flags; in the window, the widgets that set them.
_IN_APP_WORDS = (
    (re.compile(r"run once with --weights coco"), 'choose Weights "coco" once'),
    (re.compile(r"or pass --weights PATH"), "or choose a weights file (the … button)"),
    (re.compile(r"--weights PATH"), "a weights file (the … button)"),
    (re.compile(r"--(model|weights|method|layer|device) ([\w.+-]+)"), r'\1 "\2"'),
)


def in_app_words(text: str) -> str:
    """A library message with its command-line flags put as the window's widgets."""
    for pattern, words in _IN_APP_WORDS:
        text = pattern.sub(words, text)
    return re.sub(r'\b(model|weights|method|layer|device) "', lambda m: m[0].capitalize(), text)


class _SignalHandler(logging.Handler):
    def __init__(self, signal) -> None:
        super().__init__(logging.WARNING)
        self.signal = signal

    def emit(self, record: logging.LogRecord) -> None:
        level = "error" if record.levelno >= logging.ERROR else "warning"
        with contextlib.suppress(RuntimeError):  # the Qt side is gone (window closed)
            self.signal.emit(level, in_app_words(record.getMessage()))
