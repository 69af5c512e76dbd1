"""The one export loop: a pipeline's annotated frames into an H.264 video (and, with a
monitor, its log and report). ``live-explain export``, the app's Export dialog and batch jobs
all run :func:`export_video`, so they count frames, report progress, stop and fail alike.

Stopping (Ctrl-C, the app's Cancel, ``should_stop()``) ends after the frame in flight and
keeps what was written: the playable partial video (and partial log) stay under their
partial names, and the result says where. A failure does the same, and its error names the
partial file. A run that wrote no frame leaves nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from live_explain.errors import UserError
from live_explain.io.source import FrameSource
from live_explain.realtime.pipeline import Pipeline
from live_explain.realtime.results import FrameResult
from live_explain.sinks.video import H264Writer


@dataclass(frozen=True)
class ExportResult:
    """What an export made: ``frames`` written in ``elapsed_s``; ``stopped`` when asked to stop
    (``kept``: its partial video); ``ended_early`` when the input ended before its end (a
    truncated file, a stalled stream); ``monitor_lines``: one line per log or report file."""

    output: Path
    frames: int
    size: tuple[int, int]
    fps: float
    elapsed_s: float
    stopped: bool = False
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM
    kept: Path | None = None
    kept_log: Path | None = None  # a partial log kept when stopped
    video_done: bool = False  # stopped only after the video was complete (while the log closed)
    ended_early: bool = False
    monitor_lines: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The one line a front end shows when the export is over."""
        if self.stopped:
            how = "interrupted" if self.interrupted else "export cancelled"
            log = f"; partial log kept at {self.kept_log}" if self.kept_log else ""
            if self.video_done:
                return (
                    f"{how} while the log and report were finished; wrote {self.output}: "
                    f"{self.frames} frames (complete){log}; no report"
                )
            where = f"; partial video kept at {self.kept}" if self.kept else ""
            return f"{how} after {self.frames} frames{where}{log}"
        width, height = self.size
        incomplete = " (incomplete: the input ended early)" if self.ended_early else ""
        rate = self.frames / max(self.elapsed_s, 1e-9)
        return (
            f"wrote {self.output}: {self.frames} frames{incomplete}, {width}x{height}, "
            f"{self.fps:g} fps, H.264, in {self.elapsed_s:.1f} s ({rate:.1f} frames/s)"
        )


def expected_frames(source: FrameSource, max_frames: int | None = None) -> int | None:
    """Frames an export of ``source`` will write (``None``: unknown until decoded): the
    source's count, or the frames whose times fall in its ``--start``/``--end`` range (frame
    i shows at i / fps; the range holds start <= t < end), within ``max_frames``."""
    total = source.expected_frames
    start_ms, end_ms = getattr(source, "start_ms", 0.0) or 0.0, getattr(source, "end_ms", None)
    if start_ms or end_ms is not None:
        first = _first_index_at(start_ms, source.fps)
        end = total if end_ms is None else _first_index_at(end_ms, source.fps)
        if total is not None and end is not None:
            end = min(end, total)
        total = None if end is None else max(0, end - first)
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    return total


def _first_index_at(time_ms: float, fps: float) -> int:
    """The first frame index whose time is at or after ``time_ms``."""
    return math.ceil(time_ms * fps / 1000.0 - 1e-6)


def export_video(
    pipeline: Pipeline,
    writer: H264Writer,
    monitor=None,
    progress: Callable[[int, FrameResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    name: str = "the input",
) -> ExportResult:
    """Run ``pipeline`` into ``writer`` (and ``monitor``, a
    :class:`~live_explain.monitor.sink.DriveMonitorSink`), calling ``progress(frames, result)``
    after each frame; ``name``: the input, as messages call it. See the module docstring for
    stopping and failing."""
    started = time.perf_counter()
    try:
        stopped = _write_frames(pipeline, writer, monitor, progress, should_stop)
        elapsed = time.perf_counter() - started
        if not stopped and writer.frames_written == 0:  # the handler below removes the file
            raise UserError(f"{name}: no frames in the chosen range")
        lines = [] if stopped else _close(writer, monitor)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM, in the loop or while the files close
        stopped, elapsed, lines = "interrupted", time.perf_counter() - started, []
    except UserError as exc:  # a full disk, a file that cannot be replaced, ...
        kept, _ = _abort(writer, monitor)
        if kept is None or str(kept) in str(exc):
            raise
        raise UserError(f"{exc}; the partial video is kept at {kept}") from None
    except BaseException:
        _abort(writer, monitor)
        raise
    source = pipeline.source
    outcome = dict(
        output=writer.path,
        frames=writer.frames_written,
        size=writer.size,
        fps=float(writer.fps),
        elapsed_s=elapsed,
        ended_early=bool(source is not None and source.ended_early),
    )
    if stopped:
        return _stopped(writer, monitor, outcome, interrupted=stopped == "interrupted")
    return ExportResult(**outcome, monitor_lines=lines)


def _stopped(writer: H264Writer, monitor, outcome: dict, interrupted: bool) -> ExportResult:
    """Stop the files and say what is kept: a finished video stays finished."""
    video_done = writer.finished
    kept, kept_log = _abort(writer, monitor)
    return ExportResult(
        **outcome,
        stopped=True,
        interrupted=interrupted,
        kept=None if video_done else kept,
        kept_log=kept_log,
        video_done=video_done,
    )


def _write_frames(pipeline, writer, monitor, progress, should_stop) -> bool:
    """Every frame of the pipeline into the writer and the monitor; True when asked to stop."""
    for result in pipeline.run():
        writer.write(result.overlay)
        if monitor is not None:
            monitor.write(result)
        if progress is not None:
            progress(writer.frames_written, result)
        if should_stop is not None and should_stop():
            return True
    return False


def _close(writer: H264Writer, monitor) -> list[str]:
    """Finish the video (moved to its name) and the log and report; one line per file."""
    writer.close()
    return monitor.close() if monitor is not None else []


def _abort(writer: H264Writer, monitor) -> tuple[Path | None, Path | None]:
    """Stop the writer and the monitor early; the partial video and log kept (``None``:
    none; a finished video stays finished)."""
    kept = None if writer.finished else writer.abort()
    kept_log = monitor.abort() if monitor is not None else None
    return kept, kept_log
