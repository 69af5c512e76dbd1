"""Recording a raw feed: crash-safe H.264 plus a JSON sidecar, as ``live-explain record`` does.

::

    recorder = FeedRecorder(Path("recordings/drive.mp4"), fps=25.0, source="0",
                            source_kind="camera")
    for frame in source:
        recorder.write(frame.image, dropped=source.frames_dropped, pts_ms=frame.pts_ms)
    recorder.close()          # finishes the video and marks the sidecar finished

The video is fragmented MP4 written in place (playable after a crash); the sidecar
``NAME.mp4.json`` (source, start time, fps, size, frames written and dropped) is rewritten
atomically at most once a second and on close. Neither may exist before: a recording never
replaces a file.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import numpy as np

from live_explain.errors import UserError
from live_explain.sinks.output_files import create_new, same_file
from live_explain.sinks.video import H264Writer, check_output_path, write_json_atomic

SIDECAR_EVERY_S = 1.0
RECORDINGS_DIR = Path("recordings")  # where recordings land unless told otherwise


def default_recording_path(source_spec: str) -> Path:
    """``recordings/<source>-<time>.mp4``: a new name for each recording of a source."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() else "-" for c in Path(str(source_spec)).stem)[:40] or "feed"
    return RECORDINGS_DIR / f"{safe}-{stamp}.mp4"


def sidecar_path(video: Path) -> Path:
    """The sidecar of a recording: ``drive.mp4`` -> ``drive.mp4.json`` (one per video)."""
    return video.with_name(f"{video.name}.json")


class FeedRecorder:
    """Raw frames to ``path`` (``.mp4`` or ``.mkv``) with a sidecar beside it.

    ``inputs`` are the paths the recording reads (its source), which it must not write.
    """

    def __init__(
        self, path: Path, fps: float, source: str, source_kind: str, inputs: tuple[str, ...] = ()
    ) -> None:
        path = Path(path)
        check_output_path(path, inputs)
        self.path = path
        self.sidecar_path = sidecar_path(path)
        for taken in (path, self.sidecar_path):
            if taken.exists() or taken.is_symlink():
                raise UserError(f"{taken}: already exists; choose another name")
        if any(given and same_file(given, self.sidecar_path) for given in inputs):
            raise UserError(f"{self.sidecar_path}: the sidecar would be the input")
        create_new(self.sidecar_path)  # both names are this run's from here on
        try:
            self.writer = H264Writer(path, fps, atomic=False, crf=18, keyframe_interval_s=1.0)
        except BaseException:
            self.sidecar_path.unlink(missing_ok=True)
            raise
        self.frames_dropped = 0
        self.sidecar: dict = {
            "source": source,
            "source_kind": source_kind,
            "video": path.name,
            "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            "fps": fps,
            "width": None,
            "height": None,
            "frames_written": 0,
            "frames_dropped": 0,
            "finished": False,
        }
        self._last_save = 0.0
        self._first_pts_ms: float | None = None
        self._previous: np.ndarray | None = None
        self._save()

    @property
    def frames_written(self) -> int:
        return self.writer.frames_written

    def write(self, image_bgr: np.ndarray, dropped: int = 0, pts_ms: float | None = None) -> None:
        """Append one frame; ``dropped`` is the source's count of frames it dropped so far.

        With ``pts_ms`` (a live feed whose frames arrive slower than ``fps``) the previous
        frame is repeated to fill the gap, so the video keeps the feed's real timing.
        """
        if pts_ms is not None:
            if self._first_pts_ms is None:
                self._first_pts_ms = pts_ms
            due = round((pts_ms - self._first_pts_ms) * float(self.writer.fps) / 1000.0)
            while self._previous is not None and self.writer.frames_written < due:
                self.writer.write(self._previous)
            self._previous = image_bgr
        self.writer.write(image_bgr)
        self.frames_dropped = dropped
        if time.monotonic() - self._last_save >= SIDECAR_EVERY_S:
            self._save()

    def close(self) -> Path | None:
        """Finish the recording; ``None`` (and nothing left on disk) if no frame came."""
        if self.writer.frames_written == 0:
            self.writer.abort()  # removes the empty video it created
            self.sidecar_path.unlink(missing_ok=True)  # created by this run
            return None
        self.writer.close()
        self.sidecar["finished"] = True
        self.sidecar["duration_s"] = round(self.writer.frames_written / float(self.writer.fps), 3)
        self._save()
        return self.path

    def _save(self) -> None:
        self.sidecar["frames_written"] = self.writer.frames_written
        self.sidecar["frames_dropped"] = self.frames_dropped
        if self.writer.size:
            self.sidecar["width"], self.sidecar["height"] = self.writer.size
        write_json_atomic(self.sidecar_path, self.sidecar)
        self._last_save = time.monotonic()
