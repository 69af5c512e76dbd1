"""The pipeline's hand-overs between threads: frames handed out in order to parallel workers
(:class:`FrameFeed`), turns in frame order (:class:`FrameTurns`), and bounded queues that give
up when the run is stopped."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from live_explain.io.frame import Frame

END = object()  # the mark a stage passes on when the frames have ended


class FrameTurns:
    """Frame-order turns for parallel inference workers: ``wait(seq)`` returns once the
    frames before ``seq`` are ``done`` (False if stopped first)."""

    def __init__(self) -> None:
        self._next = 0
        self._changed = threading.Condition()

    def wait(self, seq: int, stop: threading.Event) -> bool:
        with self._changed:
            while self._next < seq and not stop.is_set():
                self._changed.wait(0.1)
        return not stop.is_set()

    def done(self, seq: int) -> None:
        with self._changed:
            self._next = max(self._next, seq + 1)
            self._changed.notify_all()


class FrameFeed:
    """The frames, handed out with their sequence numbers to whichever worker is free."""

    def __init__(self, frames: Iterator[Frame]) -> None:
        self._frames = frames
        self._lock = threading.Lock()
        self._seq = 0
        self._ended = False
        self.turns = FrameTurns()

    def take(self) -> tuple[int, Frame | None]:
        with self._lock:
            seq, self._seq = self._seq, self._seq + 1
            return seq, next(self._frames, None)

    def finish(self) -> bool:
        """True for the first worker to see the end (it alone sends the end mark)."""
        with self._lock:
            first, self._ended = not self._ended, True
            return first


def put_unless_stopped(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put ``item`` unless asked to stop; ``False`` when stopped."""
    while True:
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            if stop.is_set():
                return False


def get_unless_stopped(q: queue.Queue, stop: threading.Event):
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                return None


def drain(q: queue.Queue) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return
