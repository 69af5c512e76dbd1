"""Where frames go: an H.264 video writer (PyAV/libx264) and JSON sidecars.

Videos are written as fragmented MP4 (or Matroska for ``.mkv``): every finished fragment is
playable, so a crash or a ``kill -9`` leaves a file that decodes up to its last fragment.
"""

from __future__ import annotations

import errno
import json
import logging
import os
from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from live_explain.errors import UserError
from live_explain.sinks import output_files
from live_explain.sinks.output_files import OutputFile

log = logging.getLogger("live_explain")

FRAGMENTED_MP4 = "frag_keyframe+empty_moov+default_base_moof"
VIDEO_SUFFIXES = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mp4", ".mkv": "matroska"}


def fps_fraction(fps: float) -> Fraction:
    """A rational frame rate: 25 -> 25/1, 29.97 -> 30000/1001."""
    return Fraction(fps).limit_denominator(1001)


def check_output_path(
    path: Path, inputs: tuple[str, ...] = (), suffixes: Iterable[str] = VIDEO_SUFFIXES
) -> Path:
    """:func:`live_explain.sinks.output_files.check_output_path` with video suffixes by default."""
    return output_files.check_output_path(path, inputs, suffixes)


class H264Writer:
    """Encode BGR frames to H.264 (yuv420p) at a constant ``fps``.

    The frame size is fixed by the first frame; odd sizes are padded by one pixel to the
    even size yuv420p needs, and later frames of another size are letterboxed into it with
    one warning. With ``atomic=True`` the video is written to a partial file of this run's
    own (see :mod:`live_explain.sinks.output_files`) and moved to ``path`` by ``close()``;
    ``abort()`` keeps the playable partial file. Without it the video is written in place,
    to a file that must not exist yet (a recording). ``inputs`` are the paths the run reads.
    A full disk or another write failure raises :class:`UserError`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        *,
        atomic: bool = True,
        crf: int = 20,
        preset: str = "superfast",
        keyframe_interval_s: float = 2.0,
        inputs: Iterable[str | os.PathLike] = (),
    ) -> None:
        self.path = Path(path)
        self.fps = fps_fraction(fps) if 0 < fps < float("inf") else Fraction(0)
        if self.fps <= 0:
            raise UserError(f"{self.path}: frame rate {fps} is not a usable positive number")
        self.atomic = atomic
        if atomic:
            self._output: OutputFile | None = OutputFile(self.path, inputs)
            self.write_path = self._output.partial
        else:
            output_files.create_new(self.path)
            self._output = None
            self.write_path = self.path
        self.crf, self.preset = crf, preset
        self.gop = max(1, round(float(self.fps) * keyframe_interval_s))
        self.size: tuple[int, int] | None = None  # (width, height) of the encoded video
        self.source_size: tuple[int, int] | None = None
        self.frames_written = 0
        self._resized_warned = False
        self._failed = False
        self._closed = False
        self._bytes_muxed = 0  # encoded bytes handed to the muxer (the file holds at least these)
        self._container = None
        self._stream = None

    def _open(self, width: int, height: int) -> None:
        fmt = VIDEO_SUFFIXES.get(self.path.suffix.lower(), "mp4")
        options = {"movflags": FRAGMENTED_MP4} if fmt == "mp4" else {}
        options["flush_packets"] = "1"  # fragments reach the disk as soon as they are done
        try:
            self._container = av.open(str(self.write_path), mode="w", format=fmt, options=options)
        except OSError as exc:
            raise self._failure(exc) from None
        stream = self._container.add_stream("libx264", rate=self.fps)
        stream.width, stream.height = width + width % 2, height + height % 2
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = self.gop
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        self._stream = stream
        self.source_size = (width, height)
        self.size = (stream.width, stream.height)

    def write(self, image_bgr: np.ndarray) -> None:
        height, width = image_bgr.shape[:2]
        if self._container is None:
            self._open(width, height)
        image = self._fit(image_bgr)
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = self.frames_written
        try:
            self._mux(self._stream.encode(frame))
        except OSError as exc:
            raise self._failure(exc) from None
        self.frames_written += 1

    def _mux(self, packets) -> None:
        for packet in packets:
            self._bytes_muxed += packet.size
            self._container.mux(packet)

    def _failure(self, exc: OSError) -> UserError:
        """A one-line error for a failed write (a full disk, a lost drive)."""
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            reason = "no space left on the device"
        self._failed = True
        return UserError(f"{self.path}: cannot write the video ({reason})")

    def _fit(self, image: np.ndarray) -> np.ndarray:
        out_w, out_h = self.size
        height, width = image.shape[:2]
        if (width, height) != self.source_size:
            if not self._resized_warned:
                log.warning(
                    "frame %d is %dx%d, not %dx%d: later frames of another size are "
                    "letterboxed into the first frame's size",
                    self.frames_written,
                    width,
                    height,
                    *self.source_size,
                )
                self._resized_warned = True
            return letterbox(image, out_w, out_h)
        if (width, height) != (out_w, out_h):  # odd size: pad right/bottom by one pixel
            return cv2.copyMakeBorder(
                image, 0, out_h - height, 0, out_w - width, cv2.BORDER_REPLICATE
            )
        return image

    def _finish_stream(self) -> None:
        if self._container is None:
            return
        try:
            self._mux(self._stream.encode(None))
        except OSError as exc:
            raise self._failure(exc) from None
        finally:
            container, self._container = self._container, None
            try:
                container.close()
            except OSError as exc:
                raise self._failure(exc) from None
        # FFmpeg does not always report a failed write (a full disk at the last fragments):
        # a file smaller than the packets muxed into it is incomplete.
        on_disk = self.write_path.stat().st_size if self.write_path.exists() else 0
        if on_disk < self._bytes_muxed:
            self._failed = True
            raise UserError(
                f"{self.path}: cannot write the video (only {on_disk} of {self._bytes_muxed} "
                "bytes reached the disk: is it full, or a file size limit reached?)"
            )

    def close(self) -> Path:
        """Flush the encoder and, when atomic, move the finished file to ``path``."""
        if self._container is None and self.frames_written == 0:
            raise UserError(f"{self.path}: no frames to write")
        self._finish_stream()
        if self._output is not None:
            self._output.commit()
        self._closed = True
        return self.path

    @property
    def finished(self) -> bool:
        """Whether :meth:`close` completed: the video is under its final name."""
        if self._output is not None:
            return self._output.committed
        return self._closed

    def abort(self) -> Path | None:
        """Stop early: flush what was encoded and keep it under the partial name (a run
        that wrote no frame removes the empty file it created)."""
        try:
            self._finish_stream()
        except Exception as exc:  # keep the partial file even if the flush fails
            if not self._failed:  # a failed write has been reported already
                log.warning("could not flush %s: %s", self.write_path, exc)
        if self.frames_written == 0:
            if self._output is not None:
                self._output.discard()
            elif self.write_path.exists() and self.write_path.stat().st_size == 0:
                self.write_path.unlink()  # the empty file create_new made in this run
            return None
        if self._output is not None:
            return self._output.keep()
        return self.write_path if self.write_path.exists() else None

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def letterbox(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale ``image`` to fit (width, height), keeping its aspect, centred on black."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), np.uint8)
    x0, y0 = (width - new_w) // 2, (height - new_h) // 2
    canvas[y0 : y0 + new_h, x0 : x0 + new_w] = resized
    return canvas


def write_json_atomic(path: Path, data: dict) -> None:
    """Write ``data`` as JSON so that readers see the old or the new file, never half."""
    output_files.write_text_atomic(path, json.dumps(data, indent=2) + "\n")
