"""Export: the annotated H.264 video of the current file or folder, made in the background
with the current explanation settings while the window stays usable.

The job runs the same :class:`~live_explain.realtime.pipeline.Pipeline` and
:class:`~live_explain.sinks.video.H264Writer` as ``live-explain export``, on its own copy of the
model, through the same export loop. Cancel stops it after the frame in flight and keeps the
partial video under its partial name, as Ctrl-C does on the command line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from PyQt6.QtCore import QThread, pyqtSignal
from PyQt6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from live_explain.config import Settings
from live_explain.errors import UserError
from live_explain.io.capture import VideoFileSource
from live_explain.io.recognise import open_source
from live_explain.sinks.export import expected_frames, export_video
from live_explain.sinks.video import H264Writer, check_output_path
from live_explain.ui.loaded_model import LoadedModel, make_pipeline
from live_explain.ui.transport import clock


@dataclass(frozen=True)
class FrameRange:
    """A part of a video in seconds (``None``: from its start, to its end)."""

    start_s: float | None
    end_s: float | None

    @classmethod
    def of_frames(cls, first: int | None, last: int | None, fps: float) -> FrameRange:
        """Frames ``first``..``last`` (inclusive; ``None``: the start or the end), with half a
        frame of slack either side so that the decoder's timestamps fall inside."""
        start = None if not first else (first - 0.5) / fps
        end = None if last is None else (last + 0.5) / fps
        return cls(start, end)


class ExportRate:
    """Frames per second so far and the time left, for the progress bar."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def text(self, done: int, total: int) -> str:
        elapsed = time.monotonic() - self.started
        if done < 2 or elapsed <= 0:
            return ""
        rate = done / elapsed
        left = f", {clock((total - done) / rate * 1000.0)} left" if total > done else ""
        return f"  ·  {rate:.1f} frames/s{left}"


class ExportJob(QThread):
    """Writes ``output`` from ``spec`` (a file or folder); ``cancel()`` stops it."""

    progress = pyqtSignal(int, int)  # frames done, frames expected (0: unknown)
    done = pyqtSignal(bool, str)  # success, message

    def __init__(
        self,
        spec: str,
        output: Path,
        loaded: LoadedModel,
        settings: Settings,
        *,
        start_s: float | None = None,
        end_s: float | None = None,
        folder_fps: float = 10.0,
    ) -> None:
        super().__init__()
        self.setObjectName("live-explain-export")
        self.spec, self.output, self.loaded, self.settings = spec, output, loaded, settings
        self.start_s, self.end_s, self.folder_fps = start_s, end_s, folder_fps
        self.frames_written = 0
        self._cancelled = False

    def cancel(self) -> None:
        """Stop after the frame in flight (the job leaves ``Pipeline.run`` itself)."""
        self._cancelled = True

    def run(self) -> None:
        try:
            self.done.emit(*self._export())
        except UserError as exc:
            self.done.emit(False, str(exc))
        except Exception as exc:
            self.done.emit(False, f"export failed: {type(exc).__name__}: {exc}")

    def _export(self) -> tuple[bool, str]:
        """The one export loop (:func:`~live_explain.sinks.export.export_video`), as the
        command line runs it: Cancel stops after the frame in flight and keeps the partial
        video under its partial name."""
        check_output_path(self.output, (self.spec,))
        source = open_source(
            self.spec, start_s=self.start_s, end_s=self.end_s, folder_fps=self.folder_fps
        )
        if (self.start_s or self.end_s) and not isinstance(source, VideoFileSource):
            raise UserError("a start or end time applies to video files only")
        source.start()
        writer = None
        try:
            writer = H264Writer(self.output, source.fps, inputs=(self.spec,))
            pipeline = make_pipeline(source, self.loaded, self.settings)
        except BaseException:
            if writer is not None:
                writer.abort()  # nothing written yet: removes the partial file it made
            source.close()
            raise
        total = expected_frames(source) or 0

        def progress(frames: int, _result) -> None:
            self.frames_written = frames
            self.progress.emit(frames, total)

        result = export_video(
            pipeline, writer, None, progress, lambda: self._cancelled, name=self.spec
        )
        return not result.stopped, result.summary()


class ExportDialog(QDialog):
    """Output path, range, progress bar, cancel. Non-modal: the window stays usable."""

    progress = pyqtSignal(int, int)  # frames done, frames expected (0: unknown)
    finished_export = pyqtSignal(bool, str)

    def __init__(
        self,
        spec: str,
        loaded: LoadedModel,
        settings: Settings,
        output: Path,
        *,
        duration_s: float | None = None,
        folder_fps: float = 10.0,
        current: FrameRange | None = None,
        marks: FrameRange | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export annotated video")
        self.setModal(False)
        self.spec, self.loaded, self.settings, self.folder_fps = spec, loaded, settings, folder_fps
        self.job: ExportJob | None = None

        self.path_edit = QLineEdit(str(output))
        browse = QToolButton(text="…")
        browse.clicked.connect(self._browse)
        self.start_box = QDoubleSpinBox(suffix=" s", decimals=3, maximum=1e6)
        self.end_box = QDoubleSpinBox(suffix=" s", decimals=3, maximum=1e6)
        self.end_box.setSpecialValueText("end")  # 0 means: to the end
        video = duration_s is not None
        self.start_box.setEnabled(video)
        self.end_box.setEnabled(video)
        if duration_s:
            self.start_box.setMaximum(duration_s)
            self.end_box.setMaximum(duration_s)
        self.summary = QLabel(
            f"{Path(spec).name}: {settings.method} maps of {loaded.ran}, "
            f"{settings.colormap} at {settings.alpha:.0%}, "
            f"{'merged' if settings.merged else 'per box'}, top {settings.topk}, "
            f"score ≥ {settings.score_thresh:.2f}",
            wordWrap=True,
        )
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setVisible(False)
        self.status = QLabel("", wordWrap=True)

        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Output", path_row)
        form.addRow("Start", self.start_box)
        form.addRow("End", self.end_box)
        form.addRow("", self._range_buttons(video, current, marks))
        self._make_buttons()
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.resize(520, 0)

    def _range_buttons(
        self, video: bool, current: FrameRange | None, marks: FrameRange | None
    ) -> QHBoxLayout:
        """ "From this frame" and "In to out marks", which fill Start and End; the marks
        are in already when there are any."""
        row = QHBoxLayout()
        self.from_here_button = QPushButton("From the current frame")
        self.marks_button = QPushButton("Between the in and out marks (I, O)")
        self.whole_button = QPushButton("All")
        for button, chosen in (
            (self.from_here_button, current),
            (self.marks_button, marks),
            (self.whole_button, FrameRange(None, None)),
        ):
            button.setEnabled(video and chosen is not None)
            button.clicked.connect(lambda _=False, r=chosen: self.set_range(r))
            row.addWidget(button)
        if video and marks is not None:
            self.set_range(marks)
        return row

    def set_range(self, chosen: FrameRange) -> None:
        self.start_box.setValue(chosen.start_s or 0.0)
        self.end_box.setValue(chosen.end_s or 0.0)

    def _make_buttons(self) -> None:
        """Export, Cancel (stops a running export, else closes) and Close."""
        self.buttons = QDialogButtonBox()
        self.start_button = QPushButton("Export")
        self.cancel_button = QPushButton("Cancel")
        self.close_button = QPushButton("Close")
        self.buttons.addButton(self.start_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.buttons.addButton(self.close_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.cancel_button.setEnabled(False)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.isRunning()

    def start(self) -> None:
        if self.running:
            return
        output = Path(self.path_edit.text()).expanduser()
        start = self.start_box.value() or None
        end = self.end_box.value() or None
        if start is not None and end is not None and end <= start:
            self.status.setText("the end must come after the start")
            return
        self.job = ExportJob(
            self.spec,
            output,
            self.loaded,
            self.settings,
            start_s=start,
            end_s=end,
            folder_fps=self.folder_fps,
        )
        self.job.progress.connect(self._progress)
        self.job.progress.connect(self.progress)
        self.job.done.connect(self._done)
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setValue(0)
        self.progress_bar.setVisible(True)
        self._rate = ExportRate()
        self.status.setText(f"exporting to {output} …")
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.job.start()

    def cancel(self) -> None:
        if self.running:
            self.status.setText("cancelling …")
            self.job.cancel()
        else:
            self.close()

    def closeEvent(self, event) -> None:
        if self.running:  # closing the dialog does not abandon a running export silently
            self.job.cancel()
            self.job.wait(10_000)
        super().closeEvent(event)

    def _progress(self, done: int, total: int) -> None:
        if total > 0:
            self.progress_bar.setRange(0, total)
            self.progress_bar.setValue(min(done, total))
        self.progress_bar.setFormat(f"{done} / {total or '?'} frames{self._rate.text(done, total)}")

    def _done(self, ok: bool, message: str) -> None:
        self.status.setText(message)
        self.start_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if ok:
            self.progress_bar.setValue(self.progress_bar.maximum())
        self.finished_export.emit(ok, message)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export to", self.path_edit.text(), "Video (*.mp4 *.mkv *.mov)"
        )
        if path:
            self.path_edit.setText(path)
