"""One export described as data: an input, its outputs (video, log, report) and the settings.
``live-explain export`` runs one; ``live-explain batch`` runs one per drive, in this process or
on a Ray worker. Both go through :meth:`ExportJob.prepare` and the one export loop
(:func:`~live_explain.sinks.export.export_video`), so they check, claim, count and stop alike.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from live_explain.config import Settings, build_detector
from live_explain.errors import UserError

if TYPE_CHECKING:  # torch comes with these: importing this module costs no torch import
    import torch

    from live_explain.io.source import FrameSource
    from live_explain.monitor.events import Thresholds
    from live_explain.realtime.results import FrameResult
    from live_explain.sinks.export import ExportResult

DEFAULT_SYNTHETIC_FRAMES = 300  # a synthetic scene never ends; export 12 s of it by default
DEFAULT_FOLDER_FPS = 10.0


def check_range(start_s: float | None, end_s: float | None) -> None:
    """``--start``/``--end`` that can hold frames: the end after the start."""
    if start_s is not None and end_s is not None and end_s <= start_s:
        raise UserError(f"--end {end_s} must be after --start {start_s}")


def open_input(
    spec: str,
    *,
    start_s: float | None = None,
    end_s: float | None = None,
    folder_fps: float = DEFAULT_FOLDER_FPS,
    realtime: bool = False,
) -> FrameSource:
    """The (not yet started) source that ``spec`` names, with its ``--start``/``--end``
    range (video files only) and a folder's frame rate."""
    from live_explain.io.capture import VideoFileSource
    from live_explain.io.recognise import open_source

    check_range(start_s, end_s)
    source = open_source(
        spec, start_s=start_s, end_s=end_s, folder_fps=folder_fps, realtime=realtime
    )
    if (start_s is not None or end_s is not None) and not isinstance(source, VideoFileSource):
        raise UserError("--start and --end apply to video files only")
    return source


def default_max_frames(source: FrameSource, max_frames: int | None) -> int | None:
    """``max_frames``, or the default length of a synthetic scene (which never ends)."""
    from live_explain.io.synthetic_source import SyntheticSource

    if isinstance(source, SyntheticSource) and max_frames is None:
        return DEFAULT_SYNTHETIC_FRAMES
    return max_frames


def auto_workers(device: torch.device) -> int:
    """Inference workers for ``auto``: two on a CPU with at least two threads (their forward
    passes overlap, each on its share of the cores), one on a GPU (its streams overlap)."""
    import torch

    return 2 if device.type == "cpu" and torch.get_num_threads() >= 2 else 1


@dataclass(frozen=True)
class ExportJob:
    """An annotated video of ``input`` at ``output`` (with a JSONL ``log`` and an HTML
    ``report`` where given) made with ``settings``; ``workers``: inference workers (``None``:
    :func:`auto_workers`); ``faithfulness``: frames on which to measure each of
    ``faithfulness_methods``."""

    input: str
    output: Path
    settings: Settings = field(default_factory=Settings)
    log: Path | None = None
    report: Path | None = None
    thresholds: Thresholds | None = None  # None: the defaults
    max_frames: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    folder_fps: float = DEFAULT_FOLDER_FPS
    workers: int | None = None
    faithfulness: int | None = None
    faithfulness_methods: tuple[str, ...] = ()

    def check(self) -> None:
        """Raise :class:`UserError` for outputs that cannot be written, before any work."""
        from live_explain.sinks.output_files import check_distinct, check_output_path

        check_output_path(self.output, (self.input,))
        for path, suffix in ((self.log, ".jsonl"), (self.report, ".html")):
            if path is not None:
                check_output_path(path, (self.input,), suffixes=(suffix,))
        check_distinct((self.output, self.log, self.report))
        if self.faithfulness and not (self.log or self.report):
            raise UserError("--faithfulness N needs --log or --report to put its results in")
        self.check_faithfulness()

    def check_faithfulness(self) -> None:
        """Raise :class:`UserError` for a faithfulness method that is not there."""
        if self.faithfulness:
            from live_explain.explain.methods import map_method_names

            methods = self.faithfulness_methods
            unknown = [m for m in methods if m not in map_method_names()]
            if unknown or not methods:
                raise UserError(
                    f"--faithfulness-methods: unknown method {', '.join(unknown) or '(none)'}; "
                    f"use some of {','.join(map_method_names())}"
                )

    def prepare(self) -> PreparedExport:
        """Open the input, claim the outputs and load the model; :meth:`PreparedExport.run`
        then writes. The input's open errors come before the model loads."""
        from live_explain.realtime.pipeline import Pipeline
        from live_explain.sinks.export import expected_frames
        from live_explain.sinks.video import H264Writer

        self.settings.check()
        self.check()
        source = open_input(
            self.input, start_s=self.start_s, end_s=self.end_s, folder_fps=self.folder_fps
        )
        max_frames = default_max_frames(source, self.max_frames)
        writer = monitor = None
        try:
            source.start()
            # Claims the output now: a second export to the same file is refused before work.
            writer = H264Writer(self.output, source.fps, inputs=(self.input,))
            detector = build_detector(self.settings)
            monitor = self._monitor(source, detector)
            workers = self.workers or auto_workers(detector.device)
            if workers > 1 and detector.device.type != "cpu":
                raise UserError(
                    f"--workers {workers}: parallel workers are for CPU inference; "
                    "on a GPU one worker overlaps its work with CUDA streams"
                )
            pipeline = Pipeline(
                source,
                detector,
                max_frames=max_frames,
                style=self.settings.style(),
                policy=self.settings.policy(),
                workers=workers,
            )
        except BaseException:
            if monitor is not None:
                monitor.abort()
            if writer is not None:
                writer.abort()  # nothing written yet: removes the partial file it made
            source.close()
            raise
        return PreparedExport(self, pipeline, writer, monitor, expected_frames(source, max_frames))

    def _monitor(self, source, detector):
        """The monitoring sink, or ``None`` without a log and a report."""
        if not (self.log or self.report):
            return None
        from live_explain.monitor.events import Thresholds
        from live_explain.monitor.sink import DriveInfo, DriveMonitorSink, FaithfulnessPlan

        video = str(Path(self.output).resolve())  # relative to the log's folder if there is one
        if self.log:
            video = os.path.relpath(video, Path(self.log).resolve().parent)
        settings = self.settings
        drive = DriveInfo(
            source=str(self.input),
            source_kind=getattr(source, "kind", "unknown"),
            fps=float(source.fps),
            video=video,
            settings={
                # the model that ran: "demo" where --weights demo (or the fallback) chose it
                "model": getattr(detector.model, "model_name", settings.model),
                "weights": getattr(detector.model, "weights_source", settings.weights),
                "method": settings.method,
                "layer": detector.layer,
                "device": str(detector.device),
                "score_thresh": settings.score_thresh,
                "topk": settings.topk,
                "classes": ",".join(settings.classes) if settings.classes else "all",
            },
        )
        plan = None
        if self.faithfulness:
            plan = FaithfulnessPlan(self.faithfulness, self.faithfulness_methods, detector)
        return DriveMonitorSink(
            drive,
            self.thresholds or Thresholds(),
            log_path=self.log,
            report_path=self.report,
            faithfulness=plan,
            inputs=(str(self.input),),
        )


@dataclass
class PreparedExport:
    """An export whose input is open, outputs claimed and model loaded."""

    job: ExportJob
    pipeline: object  # live_explain.realtime.pipeline.Pipeline
    writer: object  # live_explain.sinks.video.H264Writer
    monitor: object | None
    total: int | None  # frames it will write, where known

    @property
    def partial_files(self) -> Sequence[Path]:
        """The partial files this export writes to (the video's, the log's, the report's)."""
        files = [Path(self.writer.write_path)]
        if self.monitor is not None:
            files += self.monitor.partial_files
        return files

    def run(
        self,
        progress: Callable[[int, FrameResult], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> ExportResult:
        from live_explain.sinks.export import export_video

        return export_video(
            self.pipeline, self.writer, self.monitor, progress, should_stop, str(self.job.input)
        )

    def abandon(self) -> None:
        """Give up before :meth:`run`: what was claimed is released, nothing is kept."""
        if self.monitor is not None:
            self.monitor.abort()
        self.writer.abort()
        self.pipeline.source.close()
