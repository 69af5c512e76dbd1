"""Frame sources: camera, video file, image folder, network stream and synthetic scene.

Every source runs a producer thread that feeds a :class:`~live_explain.io.frame_buffer.FrameBuffer`
and is read the same way::

    with open_source("../shared/media/solidWhiteRight.mp4") as source:
        for frame in source:
            frame.index, frame.pts_ms, frame.image  # int, float ms, (H, W, 3) BGR uint8

Live sources (cameras, live streams, the paced synthetic scene) default to the ``latest``
policy and retry with backoff when a read fails; files and folders default to
``lossless`` and end at their last decodable frame.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from urllib.parse import urlparse

import cv2
import numpy as np

from live_explain.errors import SourceError
from live_explain.io.frame_buffer import BufferClosed, BufferPolicy, FrameBuffer

log = logging.getLogger("live_explain")

# OpenCV prints its own warnings for every failed open ("can't open camera by index");
# the user gets our one-line message instead.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
URL_SCHEMES = ("rtsp", "rtsps", "http", "https")
DEFAULT_FOLDER_FPS = 10.0
DEFAULT_TIMEOUT_S = 5.0
# Reconnect waits 0.5, 1, 2, 4, 8 s: about 15 s of retries before a live source fails.
RECONNECT_ATTEMPTS = 5
RECONNECT_FIRST_WAIT_S = 0.5
# A source that does not stop within this time is abandoned (its thread is a daemon).
JOIN_TIMEOUT_S = 3.0
MAX_CAMERA_INDEX = 99


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    ``index`` counts delivered frames from 0; ``pts_ms`` is the presentation time in
    milliseconds from the start of the source; ``image`` is (H, W, 3) BGR uint8;
    ``captured_s`` the ``time.perf_counter()`` when the frame was decoded (for latency).
    """

    index: int
    pts_ms: float
    image: np.ndarray
    captured_s: float = field(default_factory=time.perf_counter, compare=False)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.image.shape[1], self.image.shape[0]


class SourceState(str, Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    ENDED = "ended"
    FAILED = "failed"


class ReadFailure(Exception):
    """A read from an opened capture failed (not the end of a file)."""


class UnsupportedImage(ValueError):
    """An image whose pixel type, channel count or size live-explain cannot use.

    The message says what is wrong and what to do; callers put the file's name in front
    (:func:`read_image_file`) or skip the image with a warning (:class:`ImageFolderSource`).
    """


# Smaller images give detectors nothing to see, and a thinner one is resized to a sliver
# (a 3000x2 frame would be resized to less than one pixel's height).
MIN_IMAGE_SIDE = 16
MAX_ASPECT_RATIO = 64
SAVE_AS = "save it as 8- or 16-bit unsigned, or float in [0, 1]"


def to_bgr_uint8(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as a contiguous (H, W, 3) BGR uint8 array.

    Accepts grayscale (H, W) or (H, W, 1), BGR, and BGRA (alpha dropped); 16-bit and float
    images are scaled to 8 bits (float images must be finite and in [0, 1]). Anything else
    (signed or 32-bit integers, floats out of range, 2 or 5+ channels) raises
    :class:`UnsupportedImage`.
    """
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or image.size == 0:
        raise UnsupportedImage(f"an array of shape {image.shape} is not an image")
    if image.ndim == 3 and image.shape[2] not in (3, 4):
        raise UnsupportedImage(
            f"{image.shape[2]} colour channels are not supported (use gray, BGR or BGRA)"
        )
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype.kind == "f":
        low, high = float(image.min()), float(image.max())
        if not (np.isfinite(low) and np.isfinite(high)):
            raise UnsupportedImage(f"{image.dtype} pixels include NaN or infinity; {SAVE_AS}")
        if low < 0.0 or high > 1.0:
            raise UnsupportedImage(
                f"{image.dtype} pixels range from {low:g} to {high:g}, outside [0, 1]; {SAVE_AS}"
            )
        image = (image * 255.0 + 0.5).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise UnsupportedImage(f"{image.dtype} pixels are not supported; {SAVE_AS}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image)


def check_image_size(width: int, height: int) -> None:
    """Raise :class:`UnsupportedImage` for an image too small or too thin to detect on."""
    if min(width, height) < MIN_IMAGE_SIDE:
        what = "small" if max(width, height) < MIN_IMAGE_SIDE else "thin"
        raise UnsupportedImage(
            f"too {what} to explain ({width}x{height} pixels; each side needs at least "
            f"{MIN_IMAGE_SIDE})"
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise UnsupportedImage(
            f"too thin to explain ({width}x{height} pixels; the long side may be at most "
            f"{MAX_ASPECT_RATIO} times the short side)"
        )


def decode_image(path: Path) -> np.ndarray:
    """``cv2.imread`` of ``path`` as it is (any depth and channels), or
    :class:`UnsupportedImage` saying why not. Only regular files are opened: a FIFO or a
    device named like an image would block the read for good."""
    if not path.is_file():
        raise UnsupportedImage("not a regular file")
    try:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:  # OpenCV refuses images over its pixel limit (2^30)
        reason = "too large to decode" if "MAX_IMAGE_PIXELS" in str(exc) else "cannot be decoded"
        raise UnsupportedImage(reason) from None
    if image is None or image.size == 0:
        raise UnsupportedImage("not a readable image")
    return image


def read_image_file(path: Path) -> np.ndarray:
    """One image file as (H, W, 3) BGR uint8; :class:`SourceError` (one line naming the file)
    when it is unreadable, of a pixel format live-explain cannot use, or too small or thin."""
    check_readable_file(path)
    try:
        image = to_bgr_uint8(decode_image(path))
        check_image_size(image.shape[1], image.shape[0])
    except UnsupportedImage as exc:
        raise SourceError(f"{path}: {exc}") from None
    return image


def natural_key(name: str) -> list:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


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
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            self.timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            self.timeout_ms,
        ]
        cap = cv2.VideoCapture(self.index, cv2.CAP_ANY, params)
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
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            self.timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            self.timeout_ms,
        ]
        cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
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
        if not self.live and expected and self.frames_delivered < expected - 1:
            self.ended_early = True
            log.warning(
                "%s: the stream ended after %d of %d frames (the server stopped sending or "
                "the connection was lost); what follows is incomplete",
                self.url,
                self.frames_delivered,
                expected,
            )


class ImageFolderSource(FrameSource):
    """The images of a folder in natural order (or a single image file) at ``fps``.

    Images that cannot be read or used (:func:`to_bgr_uint8`, :func:`check_image_size`) are
    skipped with a warning; a single image file that cannot raises :class:`SourceError`.
    """

    kind = "folder"

    def __init__(self, path: str | os.PathLike, fps: float = DEFAULT_FOLDER_FPS, **kwargs):
        super().__init__(**kwargs)
        self.path = Path(path)
        self.fps = fps
        self.files: list[Path] = []
        self._position = 0
        self.skipped: list[Path] = []

    @property
    def description(self) -> str:
        return str(self.path)

    def _open(self) -> None:
        if self.path.is_dir():
            files = [p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
            self.files = sorted(files, key=lambda p: natural_key(p.name))
            if not self.files:
                suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
                raise SourceError(f"{self.path}: no images in this folder ({suffixes})")
        else:
            read_image_file(self.path)  # its own one-line reason, not "none could be read"
            self.files = [self.path]
        self.expected_frames = len(self.files)

    def _read(self) -> tuple[np.ndarray, float] | None:
        while self._position < len(self.files):
            position = self._position
            self._position += 1
            path = self.files[position]
            try:
                image = to_bgr_uint8(decode_image(path))
                check_image_size(image.shape[1], image.shape[0])
            except UnsupportedImage as exc:
                self.skipped.append(path)
                log.warning("%s: %s; skipped", path, exc)
                continue
            if self.size is None:
                self.size = (image.shape[1], image.shape[0])
            return image, position * 1000.0 / self.fps
        return None

    def _on_end(self) -> None:
        if self.frames_delivered == 0:
            raise SourceError(f"{self.path}: none of the images could be read")


class SyntheticSource(FrameSource):
    """Frames of :class:`live_explain.synthetic.DrivingScene`.

    ``realtime=True`` paces frames at ``fps`` like a camera (and makes the source live);
    otherwise frames come as fast as they are consumed. ``frames=None`` never ends.
    """

    kind = "synthetic"

    def __init__(
        self,
        seed: int = 0,
        size: tuple[int, int] = (640, 360),
        fps: float = 25.0,
        frames: int | None = None,
        realtime: bool = False,
        **kwargs,
    ) -> None:
        self.live = realtime
        super().__init__(**kwargs)
        self.seed, self.fps, self.size = seed, fps, size
        self.expected_frames = frames
        self.last_truth: dict | None = None

    def _open(self) -> None:
        from live_explain.synthetic import DrivingScene

        self._frames = DrivingScene(seed=self.seed, size=self.size).frames(self.expected_frames)
        self._count = 0
        self._t0 = time.monotonic()

    def _read(self) -> tuple[np.ndarray, float] | None:
        item = next(self._frames, None)
        if item is None:
            return None
        pts_ms = self._count * 1000.0 / self.fps
        self._count += 1
        if self.live:
            delay = self._t0 + pts_ms / 1000.0 - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return None
        image, self.last_truth = item
        return image, pts_ms


def check_readable_file(path: Path) -> None:
    """Raise :class:`SourceError` unless ``path`` is an existing, non-empty, readable file."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if not path.is_file():
        raise SourceError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise SourceError(f"{path}: permission denied")


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


def open_source(
    spec: str | int | os.PathLike,
    *,
    policy: BufferPolicy | str | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    folder_fps: float = DEFAULT_FOLDER_FPS,
    realtime: bool = False,
    on_state: Callable[[SourceState], None] | None = None,
) -> FrameSource:
    """Make the right source for ``spec``: a camera index, ``'synthetic'``, a URL, a folder
    of images, an image file or a video file. The source is not started yet.

    ``realtime`` paces the synthetic scene like a camera.
    """
    common = {"policy": policy, "on_state": on_state}
    if isinstance(spec, str) and not spec.strip():
        raise SourceError("the input is an empty name; give a file, a folder, a URL or a camera")
    if isinstance(spec, int) or (isinstance(spec, str) and re.fullmatch(r"\s*[0-9]+\s*", spec)):
        index = int(spec)
        if index > MAX_CAMERA_INDEX:
            raise SourceError(
                f"camera {spec.strip() if isinstance(spec, str) else spec}: no such "
                f"camera (camera indices go from 0 to {MAX_CAMERA_INDEX})"
            )
        return CameraSource(index, **common)
    text = os.fspath(spec)
    if text == "synthetic":
        return SyntheticSource(realtime=realtime, **common)
    if "://" in text:
        return StreamSource(text, **common)
    path = Path(text)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFolderSource(path, fps=folder_fps, **common)
    return VideoFileSource(path, start_s=start_s, end_s=end_s, **common)
