"""A folder of images (or one image) as a source, in natural order."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from live_explain.errors import SourceError
from live_explain.io.images import (
    IMAGE_SUFFIXES,
    UnsupportedImage,
    check_image_size,
    decode_image,
    natural_key,
    read_image_file,
    to_bgr_uint8,
)
from live_explain.io.source import FrameSource

log = logging.getLogger("live_explain")

DEFAULT_FOLDER_FPS = 10.0


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
        self._reasons: set[str] = set()  # of skipped images, each warned about once
        self._held: list[tuple[Path, Exception]] = []  # warned of once a frame is read

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
                if str(exc) not in self._reasons:  # once per reason; counted at the end
                    self._reasons.add(str(exc))
                    self._held.append((path, exc))
                continue
            self._say_held()  # once a frame shows that the folder is usable
            if self.size is None:
                self.size = (image.shape[1], image.shape[0])
            return image, position * 1000.0 / self.fps
        return None

    def _say_held(self) -> None:
        for path, reason in self._held:
            log.warning("%s: %s; skipped", path, reason)
        self._held.clear()

    def _on_end(self) -> None:
        if self.frames_delivered == 0:
            first = f" (first: {self._held[0][0].name}: {self._held[0][1]})" if self._held else ""
            raise SourceError(f"{self.path}: none of the images could be read{first}")
        self._say_held()  # those skipped after the last frame
        if len(self.skipped) > len(self._reasons):
            log.warning("%s: %d images skipped in all", self.path, len(self.skipped))
