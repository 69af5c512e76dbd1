"""Recording the raw feed from the engine's thread (as ``live-explain record`` does)."""

from __future__ import annotations

import logging
from pathlib import Path

from live_explain.errors import UserError
from live_explain.sinks.recorder import FeedRecorder

log = logging.getLogger("live_explain")


class FeedRecording:
    """Start and finish a recording for :class:`~live_explain.ui.engine_worker.EngineWorker`."""

    def _set_recording(self, path: Path | None, fps: float) -> None:
        if path is None:
            self._finish_recording()
            return
        if self._recorder is not None:
            return
        try:
            self._recorder = FeedRecorder(path, fps, self.spec, self._source_kind)
        except (UserError, OSError) as exc:
            self.notice.emit("error", f"cannot record: {exc}")
            self.recording_changed.emit(None)
            return
        self.recording_changed.emit(path)

    def _finish_recording(self) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        try:
            saved = recorder.close()
        except Exception as exc:
            self.notice.emit("error", f"recording failed: {exc}")
            saved = None
        if saved is not None:
            self.notice.emit("info", f"recorded {recorder.frames_written} frames to {saved}")
        self.recording_changed.emit(None)
