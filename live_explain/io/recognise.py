"""What a source name means: a camera index, 'synthetic', a URL, a folder or image, a video
file. :func:`recognise` is the one place that decides; :func:`open_source` and
:func:`~live_explain.io.replay.open_replay` both ask it."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from live_explain.errors import SourceError
from live_explain.io.capture import CameraSource, StreamSource, VideoFileSource
from live_explain.io.folder import DEFAULT_FOLDER_FPS, ImageFolderSource
from live_explain.io.frame_buffer import BufferPolicy
from live_explain.io.images import IMAGE_SUFFIXES
from live_explain.io.source import FrameSource, SourceState
from live_explain.io.synthetic_source import SyntheticSource

log = logging.getLogger("live_explain")

MAX_CAMERA_INDEX = 99


@dataclass(frozen=True)
class SourceName:
    """What a source name means: ``kind`` is ``camera`` (``camera`` holds its index),
    ``synthetic``, ``url``, ``folder`` (a folder of images, or one image) or ``video``
    (``path`` holds the file or folder)."""

    kind: str
    text: str
    camera: int | None = None
    path: Path | None = None

    @property
    def replayable(self) -> bool:
        """Files and folders can be read at any index; cameras, URLs and scenes cannot."""
        return self.kind in ("folder", "video")


def recognise(spec: str | int | os.PathLike) -> SourceName:
    """Tell what ``spec`` names (:class:`SourceError` for an empty name, a camera index out
    of range, or a path that does not exist)."""
    if isinstance(spec, str) and not spec.strip():
        raise SourceError("the input is an empty name; give a file, a folder, a URL or a camera")
    if isinstance(spec, int) or (isinstance(spec, str) and re.fullmatch(r"\s*[0-9]+\s*", spec)):
        index = int(spec)
        if index > MAX_CAMERA_INDEX:
            raise SourceError(
                f"camera {spec.strip() if isinstance(spec, str) else spec}: no such "
                f"camera (camera indices go from 0 to {MAX_CAMERA_INDEX})"
            )
        return SourceName("camera", str(spec), camera=index)
    text = os.fspath(spec)
    if text == "synthetic":
        return SourceName("synthetic", text)
    if "://" in text:
        return SourceName("url", text)
    path = Path(text)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return SourceName("folder", text, path=path)
    return SourceName("video", text, path=path)


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
    """Make the right source for ``spec`` (see :func:`recognise`); it is not started yet.
    ``realtime`` paces the synthetic scene like a camera."""
    common = {"policy": policy, "on_state": on_state}
    name = recognise(spec)
    if name.kind == "camera":
        return CameraSource(name.camera, **common)
    if name.kind == "synthetic":
        return SyntheticSource(realtime=realtime, **common)
    if name.kind == "url":
        return StreamSource(name.text, **common)
    if name.kind == "folder":
        return ImageFolderSource(name.path, fps=folder_fps, **common)
    return VideoFileSource(name.path, start_s=start_s, end_s=end_s, **common)
