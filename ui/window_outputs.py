"""What the main window writes: recordings of the raw feed, screenshots, and the Export dialog."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from live_explain.errors import UserError
from live_explain.sinks.output_files import write_atomic
from live_explain.sinks.recorder import default_recording_path
from live_explain.ui.export_dialog import ExportDialog, FrameRange
from live_explain.ui.images import png_bytes


def unique_path(path: Path) -> Path:
    """``path``, or ``name-2.ext``, ``name-3.ext`` ... if it exists."""
    candidate, n = path, 2
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


class WindowOutputs:
    """Record, screenshot and export of the main window."""

    def _recording_changed(self, path: Path | None) -> None:
        self.recording = path
        on = path is not None
        self.record_action.setChecked(on)
        self.transport.record_button.setChecked(on)
        self.record_label.setText(f"● REC {path.name}" if on else "")
        self.record_label.setStyleSheet("color: #e33; font-weight: bold" if on else "")

    def toggle_record(self) -> None:
        if self.worker is None:
            self.notices.notify("warning", "nothing to record: open a source first")
            self._recording_changed(None)
            return
        if self.recording is not None:
            self.worker.stop_recording()
            return
        try:
            self.recordings_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.notices.notify("error", f"{self.recordings_dir}: cannot create ({exc.strerror})")
            self._recording_changed(None)
            return
        name = default_recording_path(self.worker.spec).name
        self.worker.start_recording(unique_path(self.recordings_dir / name))

    @property
    def marks(self) -> tuple[int | None, int | None]:
        """The in and out frames of an export (kept by the event strip, which shows them)."""
        return self.event_strip.marks

    def set_mark(self, which: str) -> None:
        """The in (``"in"``) or out mark at the frame on screen, for the Export dialog."""
        info, update = self.source_info, self.last_update
        if info is None or not info.replayable or update is None:
            self.notices.notify("warning", "marks need a video file or an image folder")
            return
        first, last = self.marks
        if which == "in":
            first = update.position
            last = None if last is not None and last < first else last
        else:
            last = update.position
            first = None if first is not None and first > last else first
        self.event_strip.set_marks(first, last)
        said = ", ".join(
            f"{name} at frame {frame + 1}"
            for name, frame in (("in", first), ("out", last))
            if frame is not None
        )
        self.notices.notify("info", f"export marks: {said} (Export uses them)")

    def save_screenshot(self, path: Path | None = None) -> Path | None:
        """A PNG of the video view (with its HUD); returns where it went."""
        if path is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            try:
                self.recordings_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self.notices.notify("error", f"{self.recordings_dir}: cannot create ({exc})")
                return None
            path = unique_path(self.recordings_dir / f"screenshot-{stamp}.png")
        data = png_bytes(self.view.grab())
        try:
            write_atomic(path, lambda partial: partial.write_bytes(data))
        except UserError as exc:  # a full disk, a folder gone
            self.notices.notify("error", f"could not save the screenshot: {exc}")
            return None
        self.notices.notify("info", f"screenshot saved to {path}")
        return path

    def open_export(self) -> ExportDialog | None:
        """The export dialog for the current file or folder (not for live sources)."""
        if self.export_dialog is not None and self.export_dialog.running:
            self.export_dialog.show()
            self.export_dialog.raise_()
            return self.export_dialog
        info = self.source_info
        if info is None or not info.replayable or self.loaded is None:
            self.notices.notify(
                "warning", "export needs a video file or an image folder (record a live feed first)"
            )
            return None
        output = unique_path(self.recordings_dir / f"{Path(info.spec).stem}-explained.mp4")
        here = self.last_update.position if self.last_update is not None else None
        marks = self.marks if any(m is not None for m in self.marks) else None
        self.export_dialog = ExportDialog(
            info.spec,
            self.loaded,
            self.explain.replace(selected=None),
            output,
            duration_s=info.frame_count / info.fps if info.kind == "video" else None,
            current=None if here is None else FrameRange.of_frames(here, None, info.fps),
            marks=None if marks is None else FrameRange.of_frames(*marks, info.fps),
            parent=self,
        )
        self.export_dialog.finished_export.connect(
            lambda ok, message: self.notices.notify("info" if ok else "warning", message)
        )
        self.export_dialog.show()
        return self.export_dialog
