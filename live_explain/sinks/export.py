"""The one export loop: a pipeline's annotated frames into an H.264 video (and, with a
monitor, its log and report). ``live-explain export``, the app's Export dialog and batch jobs
all run :func:`export_video`, so they count frames, report progress, stop and fail alike.

Stopping (Ctrl-C, the app's Cancel, ``should_stop()``) ends after the frame in flight and
keeps what was written: the playable partial video (and partial log) stay under their
partial names, and the result says where. A failure does the same, and its error names the
partial file. A run that wrote no frame leaves nothing.
"""

from __future__ import annotations

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
    ended_early: bool = False
    monitor_lines: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The one line a front end shows when the export is over."""
        if self.stopped:
            where = f"; partial video kept at {self.kept}" if self.kept else ""
            how = "interrupted" if self.interrupted else "export cancelled"
            return f"{how} after {self.frames} frames{where}"
        width, height = self.size
        incomplete = " (incomplete: the input ended early)" if self.ended_early else ""
        rate = self.frames / max(self.elapsed_s, 1e-9)
        return (
            f"wrote {self.output}: {self.frames} frames{incomplete}, {width}x{height}, "
            f"{self.fps:g} fps, H.264, in {self.elapsed_s:.1f} s ({rate:.1f} frames/s)"
        )


def expected_frames(source: FrameSource, max_frames: int | None = None) -> int | None:
    """Frames an export of ``source`` will write (``None``: unknown until decoded): the
    source's count, or the span of its ``--start``/``--end`` range, within ``max_frames``."""
    total = source.expected_frames
    start_ms, end_ms = getattr(source, "start_ms", 0.0), getattr(source, "end_ms", None)
    if total is not None and (start_ms or end_ms is not None):
        end_ms = total * 1000.0 / source.fps if end_ms is None else end_ms
        total = max(0, round((end_ms - start_ms) * source.fps / 1000.0))
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    return total


def export_video(
    pipeline: Pipeline,
    writer: H264Writer,
    monitor=None,
    progress: Callable[[int, FrameResult], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    name: str = "the input",
) -> ExportResult:
    """Run ``pipeline`` into ``writer`` (and ``monitor``, a
    :class:`~live_explain.monitor.sink.MonitorSink`), calling ``progress(frames, result)``
    after each frame; ``name``: the input, as messages call it. See the module docstring for
    stopping and failing."""
    started = time.perf_counter()
    stopped = interrupted = False
    try:
        for result in pipeline.run():
            writer.write(result.overlay)
            if monitor is not None:
                monitor.write(result)
            if progress is not None:
                progress(writer.frames_written, result)
            if should_stop is not None and should_stop():
                stopped = True
                break
    except KeyboardInterrupt:
        stopped = interrupted = True
    except UserError as exc:  # a full disk, a file that cannot be replaced, ...
        kept = _abort(writer, monitor)
        if kept is None or str(kept) in str(exc):
            raise
        raise UserError(f"{exc}; the partial video is kept at {kept}") from None
    except BaseException:
        _abort(writer, monitor)
        raise
    elapsed = time.perf_counter() - started
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
        return ExportResult(
            **outcome, stopped=True, interrupted=interrupted, kept=_abort(writer, monitor)
        )
    if writer.frames_written == 0:
        _abort(writer, monitor)
        raise UserError(f"{name}: no frames to export in the chosen range")
    try:
        writer.close()
        lines = monitor.close() if monitor is not None else []
    except BaseException:
        _abort(writer, monitor)
        raise
    return ExportResult(**outcome, monitor_lines=lines)


def _abort(writer: H264Writer, monitor) -> Path | None:
    """Stop the writer and the monitor early; the partial video kept (``None``: none)."""
    kept = writer.abort()
    if monitor is not None:
        monitor.abort()
    return kept
