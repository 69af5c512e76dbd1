"""The base of every frame source: a producer thread, a bounded buffer, reconnects and a state.

Every source feeds a :class:`~live_explain.io.frame_buffer.FrameBuffer` and is read the same way::

    with open_source("../shared/media/solidWhiteRight.mp4") as source:
        for frame in source:
            frame.index, frame.pts_ms, frame.image  # int, float ms, (H, W, 3) BGR uint8

Live sources (cameras, live streams, the paced synthetic scene) default to the ``latest``
policy and retry with backoff when a read fails; files and folders default to
``lossless`` and end at their last decodable frame.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from enum import Enum
from urllib.parse import urlparse

import numpy as np

from live_explain.errors import SourceError
from live_explain.io.frame import Frame
from live_explain.io.frame_buffer import BufferClosed, BufferPolicy, FrameBuffer
from live_explain.io.images import (
    to_bgr_uint8,
)

log = logging.getLogger("live_explain")

DEFAULT_TIMEOUT_S = 5.0
# Reconnect waits 0.5, 1, 2, 4, 8 s: about 15 s of retries before a live source fails.
RECONNECT_ATTEMPTS = 5
RECONNECT_FIRST_WAIT_S = 0.5
# A source that does not stop within this time is abandoned (its thread is a daemon).
JOIN_TIMEOUT_S = 3.0

URL_SCHEMES = ("rtsp", "rtsps", "http", "https")


class SourceState(str, Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    ENDED = "ended"
    FAILED = "failed"


class ReadFailure(Exception):
    """A read from an opened capture failed (not the end of a file)."""


class FrameSource:
    """Base of all sources: a producer thread, a bounded buffer and a state.

    Subclasses implement ``_open`` (raise :class:`SourceError` when it cannot open),
    ``_read`` (``(image, pts_ms)``, ``None`` at the end, :class:`ReadFailure` on a failed
    read) and ``_release``.
    """

    kind = "source"
    live = False  # live sources use the `latest` policy and reconnect on failures

    def __init__(
        self,
        policy: BufferPolicy | str | None = None,
        on_state: Callable[[SourceState], None] | None = None,
    ) -> None:
        self.policy = BufferPolicy(policy) if policy else self._default_policy()
        self.buffer: FrameBuffer[Frame] = FrameBuffer(self.policy)
        self._on_state = on_state
        self._state = SourceState.CONNECTING
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fps: float = 25.0
        self.size: tuple[int, int] | None = None
        self.expected_frames: int | None = None
        self.frames_delivered = 0
        self.reconnects = 0
        self.ended_early = False  # a file or served file that stopped before its end

    # -- what a consumer uses -------------------------------------------------------------
    @property
    def description(self) -> str:
        return self.kind

    @property
    def state(self) -> SourceState:
        return self._state

    @property
    def frames_dropped(self) -> int:
        return self.buffer.dropped

    def start(self) -> FrameSource:
        """Open the source in the calling thread (errors raise here) and start producing."""
        if self._thread is not None:
            return self
        try:
            self._open()
        except BaseException:
            self.close()
            raise
        self._set_state(SourceState.CONNECTED)
        self._thread = threading.Thread(
            target=self._produce, name=f"live-explain-source-{self.kind}", daemon=True
        )
        self._thread.start()
        return self

    def read(self, timeout: float | None = None) -> Frame | None:
        """The next frame, or ``None`` once the source has ended."""
        return self.buffer.get(timeout)

    def __iter__(self) -> Iterator[Frame]:
        self.start()
        while (frame := self.read()) is not None:
            yield frame

    def close(self) -> None:
        """Stop the producer, join its thread (with a timeout) and release the capture."""
        self._stop.set()
        self.buffer.close()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(JOIN_TIMEOUT_S)
            if thread.is_alive():
                log.warning("%s did not stop within %.0f s", self.description, JOIN_TIMEOUT_S)
                return  # the producer still owns the capture and releases it on exit
        self._release()

    def __enter__(self) -> FrameSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- producer ---------------------------------------------------------------------------
    def _default_policy(self) -> BufferPolicy:
        return BufferPolicy.LATEST if self.live else BufferPolicy.LOSSLESS

    def _set_state(self, state: SourceState) -> None:
        if state is not self._state:
            self._state = state
            if self._on_state is not None:
                self._on_state(state)

    def _produce(self) -> None:
        error: BaseException | None = None
        try:
            while not self._stop.is_set():
                try:
                    item = self._read()
                except ReadFailure as failure:
                    if self.live and self._reconnect():
                        continue
                    if self.live:
                        error = SourceError(f"{self.description}: lost and not recovered")
                        self._set_state(SourceState.FAILED)
                        return
                    log.warning("%s: %s; stopping at the last decodable frame", self, failure)
                    item = None
                if item is None:
                    self._on_end()
                    self._set_state(SourceState.ENDED)
                    return
                image, pts_ms = item
                frame = Frame(self.frames_delivered, float(pts_ms), to_bgr_uint8(image))
                self.buffer.put(frame)
                self.frames_delivered += 1
        except BufferClosed:
            pass
        except SourceError as exc:
            error = exc
            self._set_state(SourceState.FAILED)
        except Exception as exc:  # a bug or an unexpected library error: hand it over
            error = exc
            self._set_state(SourceState.FAILED)
        finally:
            self.buffer.finish(error)
            if self._stop.is_set() or self._state in (SourceState.ENDED, SourceState.FAILED):
                self._release()

    def _reconnect(self) -> bool:
        self._set_state(SourceState.RECONNECTING)
        wait = RECONNECT_FIRST_WAIT_S
        for attempt in range(1, RECONNECT_ATTEMPTS + 1):
            if self._stop.wait(wait):
                return False
            log.warning("%s: reconnecting (attempt %d of %d)", self, attempt, RECONNECT_ATTEMPTS)
            self._release()
            try:
                self._open()
            except SourceError:
                wait *= 2
                continue
            self.reconnects += 1
            self._set_state(SourceState.CONNECTED)
            return True
        return False

    def _on_end(self) -> None:
        """Hook called when the source reaches its end normally."""

    def __str__(self) -> str:
        return self.description

    # -- subclass interface ---------------------------------------------------------------
    def _open(self) -> None:
        raise NotImplementedError

    def _read(self) -> tuple[np.ndarray, float] | None:
        raise NotImplementedError

    def _release(self) -> None:
        """Release the capture; safe to call more than once."""


def check_url(url: str) -> str:
    try:
        scheme = urlparse(url).scheme.lower()
    except ValueError as exc:  # "Invalid IPv6 URL"
        raise SourceError(f"{url}: not a valid URL ({exc})") from None
    if scheme not in URL_SCHEMES:
        raise SourceError(
            f"unsupported URL scheme '{scheme}' in {url}; use one of: {', '.join(URL_SCHEMES)}"
        )
    return url
