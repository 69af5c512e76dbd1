"""Random access to the frames of a video file or an image folder, for replay.

A :class:`~live_explain.io.source.FrameSource` delivers frames in order through a producer
thread; replay needs more: step one frame back, seek anywhere, play every frame at any
speed. A reader does that in the calling thread::

    with open_replay("../shared/media/solidWhiteRight.mp4") as reader:
        reader.frame_count, reader.fps      # 221, 25.0
        frame = reader.read(100)           # Frame(index=100, pts_ms=4000.0, image=...)

Sequential reads decode one frame each; any other index seeks (OpenCV seeks to the
keyframe before it and decodes forward, so the frame is exact). A few recent frames are
kept so that stepping back and forth does not decode again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from live_explain.errors import SourceError
from live_explain.io.folder import DEFAULT_FOLDER_FPS
from live_explain.io.frame import Frame
from live_explain.io.images import (
    IMAGE_SUFFIXES,
    UnsupportedImage,
    check_readable_file,
    decode_image,
    natural_key,
    to_bgr_uint8,
)
from live_explain.io.recognise import recognise

log = logging.getLogger("live_explain")

# Recently decoded frames are kept up to this many bytes (about 1.3 s of 960x540 video), so
# stepping back through what was just played costs no seek.
RECENT_BYTES = 64 * 1024 * 1024


class ReplayReader:
    """Frames by index. Subclasses implement ``_decode(index)`` (``None``: not decodable).

    ``frame_count`` may shrink when the end of a file turns out to come earlier than its
    container said; ``read`` is thread-safe.
    """

    kind = "replay"

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps
        self.frame_count = 0
        self.size: tuple[int, int] | None = None
        self._recent: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return str(self.path)

    def pts_ms(self, index: int) -> float:
        """Presentation time of frame ``index`` in milliseconds (constant frame rate)."""
        return index * 1000.0 / self.fps

    def read(self, index: int) -> Frame | None:
        """Frame ``index`` (0-based), or ``None`` when it is out of range or undecodable."""
        if not 0 <= index < self.frame_count:
            return None
        with self._lock:
            image = self._recent.get(index)
            if image is None:
                image = self._decode(index)
                if image is None:
                    return None
                try:
                    image = to_bgr_uint8(image)
                except UnsupportedImage as exc:  # an int16 TIFF in a folder, say
                    log.warning("frame %d: %s, skipped", index, exc)
                    return None
                self._recent[index] = image
                keep = max(2, RECENT_BYTES // image.nbytes)
                while len(self._recent) > keep:
                    self._recent.popitem(last=False)
            else:
                self._recent.move_to_end(index)
        return Frame(index, self.pts_ms(index), image)

    def close(self) -> None:
        """Release the decoder; safe to call more than once."""

    def __enter__(self) -> ReplayReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _decode(self, index: int) -> np.ndarray | None:
        raise NotImplementedError


class VideoReplay(ReplayReader):
    """A video file read through OpenCV's FFmpeg backend."""

    kind = "video"

    def __init__(self, path: str | os.PathLike) -> None:
        path = Path(path)
        check_readable_file(path)
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{path}: not a readable video (unknown format or damaged file)")
        fps = cap.get(cv2.CAP_PROP_FPS)
        super().__init__(path, fps if 1.0 <= fps <= 1000.0 else 25.0)
        self._cap: cv2.VideoCapture | None = cap
        self._next = 0  # the index the capture decodes next
        self.frame_count = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        first = self._decode(0)
        if first is None:
            self.close()
            raise SourceError(f"{path}: not a readable video (unknown format or damaged file)")
        self.size = (first.shape[1], first.shape[0])
        self.frame_count = max(self.frame_count, 1)

    def _decode(self, index: int) -> np.ndarray | None:
        if self._cap is None:
            return None
        if index != self._next:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = self._cap.read()
        if not ok or image is None:
            self._next = -1  # position unknown: seek next time
            if index > 0 and index < self.frame_count:
                # Container counts can overstate; a failed read near the end is the end.
                log.warning("%s: frame %d is not decodable; replay ends there", self.path, index)
                self.frame_count = index
            return None
        self._next = index + 1
        return image

    def close(self) -> None:
        with self._lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None


class FolderReplay(ReplayReader):
    """The images of a folder in natural order (or one image file) at ``fps``."""

    kind = "folder"

    def __init__(self, path: str | os.PathLike, fps: float = DEFAULT_FOLDER_FPS) -> None:
        path = Path(path)
        super().__init__(path, fps)
        if path.is_dir():
            files = [p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
            self.files = sorted(files, key=lambda p: natural_key(p.name))
            if not self.files:
                raise SourceError(f"{path}: no images in this folder")
        else:
            check_readable_file(path)
            self.files = [path]
        self.frame_count = len(self.files)
        first = next((f for f in map(self.read, range(self.frame_count)) if f is not None), None)
        if first is None:
            raise SourceError(f"{path}: none of the images could be read")
        self.size = first.size

    def _decode(self, index: int) -> np.ndarray | None:
        try:
            return decode_image(self.files[index])
        except UnsupportedImage as exc:
            log.warning("%s: %s; skipped", self.files[index], exc)
            return None


def open_replay(
    spec: str | os.PathLike, folder_fps: float = DEFAULT_FOLDER_FPS
) -> ReplayReader | None:
    """A reader for a video file, an image folder or an image file; ``None`` for a live
    source (a camera index, a URL, ``synthetic``), which cannot be replayed."""
    name = recognise(spec)
    if not name.replayable:
        return None
    if name.kind == "folder":
        return FolderReplay(name.path, folder_fps)
    return VideoReplay(name.path)
