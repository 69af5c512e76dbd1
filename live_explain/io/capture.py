"""Sources read through OpenCV's capture: video files, cameras and network streams."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from live_explain.errors import SourceError
from live_explain.io.frame_buffer import FrameBuffer
from live_explain.io.images import check_readable_file
from live_explain.io.source import (
    DEFAULT_TIMEOUT_S,
    FrameSource,
    ReadFailure,
    check_url,
)

log = logging.getLogger("live_explain")


def timeout_params(timeout_ms: int) -> list[int]:
    """OpenCV's open and read timeouts, as ``VideoCapture`` takes them."""
    return [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        timeout_ms,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        timeout_ms,
    ]


class _CaptureSource(FrameSource):
    """A source read through ``cv2.VideoCapture``."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._cap: cv2.VideoCapture | None = None
        self._lock = threading.Lock()  # _release may run in the consumer and the producer

    def _capture_opened(self, cap: cv2.VideoCapture, what: str) -> None:
        if not cap.isOpened():
            cap.release()
            raise SourceError(what)
        self._cap = cap
        fps = cap.get(cv2.CAP_PROP_FPS)
        if 1.0 <= fps <= 1000.0:
            self.fps = fps
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.expected_frames = count if count > 0 else None
        width, height = cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
        if width > 0 and height > 0:
            self.size = (int(width), int(height))

    def _grab(self) -> tuple[np.ndarray, float] | None:
        assert self._cap is not None
        ok, image = self._cap.read()
        if not ok or image is None:
            return None
        return image, self._cap.get(cv2.CAP_PROP_POS_MSEC)

    def _release(self) -> None:
        with self._lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None


class VideoFileSource(_CaptureSource):
    """Every decodable frame of a video file, optionally between ``start_s`` and ``end_s``."""

    kind = "video"

    def __init__(
        self,
        path: str | os.PathLike,
        start_s: float | None = None,
        end_s: float | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.path = Path(path)
        self.start_ms = (start_s or 0.0) * 1000.0
        self.end_ms = None if end_s is None else end_s * 1000.0
        self._pending: tuple[np.ndarray, float] | None = None
        self._decoded = 0

    @property
    def description(self) -> str:
        return str(self.path)

    def _open(self) -> None:
        check_readable_file(self.path)
        unreadable = f"{self.path}: not a readable video (unknown format or damaged file)"
        self._capture_opened(cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG), unreadable)
        first = self._grab()  # some damaged files open but decode nothing
        if first is None:
            self._release()
            raise SourceError(unreadable)
        self._decoded = 1
        self.size = (first[0].shape[1], first[0].shape[0])
        self._pending = first

    def _read(self) -> tuple[np.ndarray, float] | None:
        while True:
            if self._pending is not None:
                item, self._pending = self._pending, None
            else:
                item = self._grab()
                if item is None:
                    return None
                self._decoded += 1
            pts_ms = item[1]
            if self.end_ms is not None and pts_ms >= self.end_ms:
                return None
            if pts_ms >= self.start_ms:
                return item[0], pts_ms - self.start_ms

    def _on_end(self) -> None:
        expected = self.expected_frames
        reached_end = self.end_ms is None
        # Container frame counts may be off by one; a bigger gap means lost frames.
        if reached_end and expected and self._decoded < expected - 1:
            self.ended_early = True
            log.warning(
                "%s: decoded %d of %d frames; the file looks truncated or damaged",
                self.path,
                self._decoded,
                expected,
            )


class CameraSource(_CaptureSource):
    """A local camera by index (``0`` is the first)."""

    kind = "camera"
    live = True

    def __init__(self, index: int, timeout_s: float = DEFAULT_TIMEOUT_S, **kwargs) -> None:
        super().__init__(**kwargs)
        self.index = index
        self.timeout_ms = int(timeout_s * 1000)

    @property
    def description(self) -> str:
        return f"camera {self.index}"

    def _open(self) -> None:
        cap = cv2.VideoCapture(self.index, cv2.CAP_ANY, timeout_params(self.timeout_ms))
        self._capture_opened(cap, f"camera {self.index} could not be opened (no such camera?)")
        self.expected_frames = None
        self._t0 = time.monotonic()

    def _read(self) -> tuple[np.ndarray, float] | None:
        item = self._grab()
        if item is None:
            raise ReadFailure("camera read failed")
        return item[0], (time.monotonic() - self._t0) * 1000.0


class StreamSource(_CaptureSource):
    """A network URL (rtsp, rtsps, http, https) read through OpenCV's FFmpeg backend.

    A stream whose container reports a frame count (a video file served over HTTP) is
    read like a file; one without (a live camera stream) is live and reconnects.
    """

    kind = "stream"

    def __init__(self, url: str, timeout_s: float = DEFAULT_TIMEOUT_S, **kwargs) -> None:
        self.url = check_url(url)
        self.timeout_ms = int(timeout_s * 1000)
        self.live = True
        super().__init__(**kwargs)
        self._policy_given = kwargs.get("policy") is not None

    @property
    def description(self) -> str:
        return self.url

    def _open(self) -> None:
        cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, timeout_params(self.timeout_ms))
        self._capture_opened(cap, f"{self.url}: could not connect or no video stream found")
        if self._thread is None:  # first open decides whether the stream is live
            self.live = self.expected_frames is None
            if not self._policy_given:
                self.policy = self._default_policy()
                self.buffer = FrameBuffer(self.policy)
        self._t0 = time.monotonic()

    def _read(self) -> tuple[np.ndarray, float] | None:
        item = self._grab()
        if item is None:
            if not self.live:
                return None
            raise ReadFailure("stream read failed")
        image, pts_ms = item
        return image, pts_ms if not self.live else (time.monotonic() - self._t0) * 1000.0

    def _on_end(self) -> None:
        expected = self.expected_frames
        # A served file ends early when the server stalls or the connection drops.
        if not self.live and expected and self.frames_delivered == 0:
            raise SourceError(
                f"{self.url}: the stream ended before its first frame (the server stopped "
                "sending or the connection was lost)"
            )
        if not self.live and expected and self.frames_delivered < expected - 1:
            self.ended_early = True
            log.warning(
                "%s: the stream ended after %d of %d frames (the server stopped sending or "
                "the connection was lost); what follows is incomplete",
                self.url,
                self.frames_delivered,
                expected,
            )
