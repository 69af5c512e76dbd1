"""The export's monitoring sink: signals and events per frame into the drive log, flagged
frames kept as thumbnails, faithfulness measured at the end, and the HTML report.

The export loop only calls ``sink.write(result)`` per frame and ``sink.close()`` (or
``sink.abort()``) at the end. The report is made from the log as read back (a temporary one
when only ``--report`` is asked for), so ``export --report`` and ``live-explain report``
share one code path; only the thumbnails differ: the export keeps the exact overlays of the
flagged frames in memory (at most :data:`~live_explain.monitor.flagged.PER_KIND` per event
kind), while ``report`` cuts them from the annotated video named in the log.
"""

from __future__ import annotations

import logging
import random
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from live_explain import __version__
from live_explain.errors import UserError
from live_explain.monitor.buckets import (
    DUSK_BELOW,
    NEAR_FROM,
    NIGHT_BELOW,
    frame_brightness,
    lighting_bucket,
)
from live_explain.monitor.flagged import FlaggedFrames
from live_explain.monitor.frame_monitor import FrameMonitor, MonitoredFrame
from live_explain.monitor.log_reader import read_log
from live_explain.monitor.runlog import (
    SCHEMA_VERSION,
    DetectionRecord,
    DriveHeader,
    FrameRecord,
    RunLogWriter,
)
from live_explain.sinks.output_files import OutputFile

if TYPE_CHECKING:
    from live_explain.monitor.events import Thresholds
    from live_explain.realtime.results import FrameResult

log = logging.getLogger("live_explain")


@dataclass(frozen=True)
class DriveInfo:
    """What the log header says about the drive besides the frame size."""

    source: str
    source_kind: str
    fps: float
    video: str | None = None  # the annotated video, relative to the log's folder
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FaithfulnessPlan:
    """``frames`` frames with detections, sampled uniformly over the drive (a fixed seed),
    explained by each of ``methods`` with ``detector``'s model and filters."""

    frames: int
    methods: tuple[str, ...]
    detector: Any  # live_explain.model.detector.Detector
    seed: int = 0


def frame_record(result: FrameResult, checked: MonitoredFrame) -> FrameRecord:
    """One log record from a pipeline result and what the monitor made of it."""
    detections = result.detections
    tracks, refreshed = detections.track_ids, detections.refreshed
    rows = tuple(
        DetectionRecord(
            track_id=int(tracks[row]) if tracks is not None else None,
            label=detections.names[row],
            score=float(detections.scores[row]),
            box=tuple(float(v) for v in detections.boxes[row]),
            attention_in_box=signal.attention_in_box,
            pointing_hit=signal.pointing_hit,
            peak_xy=signal.peak_xy,
            refreshed=bool(refreshed[row]) if refreshed is not None else None,
        )
        for row, signal in enumerate(checked.signals.detections)
    )
    brightness = frame_brightness(result.frame.image)
    state = getattr(result, "source_state", None)
    latency = getattr(result, "latency_ms", None)
    dropped = getattr(result, "dropped", None)
    return FrameRecord(
        frame=checked.frame,
        pts_ms=checked.pts_ms,
        detections=rows,
        events=checked.events,
        outside_attention=checked.signals.outside_attention,
        brightness=brightness,
        lighting=lighting_bucket(brightness),
        timings_ms=dict(result.timings_ms),
        latency_ms=float(latency) if latency is not None else None,
        dropped=int(dropped) if dropped is not None else None,
        source_state=str(getattr(state, "value", state)) if state else None,
    )


class DriveMonitorSink:
    """Monitors an export: ``write(result)`` per frame, then ``close()`` or ``abort()``.

    ``log_path`` and ``report_path`` may each be ``None`` (not both). The log and the report
    are written atomically (partial files of their own, renamed on close; see
    :mod:`live_explain.sinks.output_files`); ``inputs`` are the paths the export reads.
    """

    def __init__(
        self,
        drive: DriveInfo,
        thresholds: Thresholds,
        *,
        log_path: Path | None = None,
        report_path: Path | None = None,
        faithfulness: FaithfulnessPlan | None = None,
        inputs: Sequence[str] = (),
    ) -> None:
        if log_path is None and report_path is None:
            raise ValueError("a monitoring sink needs a log path, a report path or both")
        self.drive = drive
        self.monitor = FrameMonitor(thresholds)
        self.log_path, self.report_path = log_path, report_path
        self._scratch = None
        if log_path is None:  # the report is made from a log all the same
            self._scratch = Path(tempfile.mkdtemp(prefix="live-explain-log-"))
            log_path = self._scratch / "drive.jsonl"
        self.writer = RunLogWriter(log_path, inputs)
        # Claimed now, so that a second run on the same report is refused before any work.
        self._report = OutputFile(report_path, inputs) if report_path is not None else None
        self.flagged = FlaggedFrames()
        self.faithfulness = faithfulness
        self._samples: list[tuple[int, np.ndarray]] = []
        self._candidates = 0  # frames with detections seen (for reservoir sampling)
        self._rng = random.Random(faithfulness.seed if faithfulness else 0)
        self.frames = 0
        self.events = 0

    def _header(self, result: FrameResult) -> DriveHeader:
        height, width = result.frame.image.shape[:2]
        drive = self.drive
        return DriveHeader(
            schema_version=SCHEMA_VERSION,
            created_at=datetime.now().astimezone().isoformat(timespec="seconds"),
            source=drive.source,
            source_kind=drive.source_kind,
            video=drive.video,
            fps=float(drive.fps),
            width=int(width),
            height=int(height),
            settings=dict(drive.settings),
            thresholds=asdict(self.monitor.thresholds),
            buckets={"night_below": NIGHT_BELOW, "dusk_below": DUSK_BELOW, "near_from": NEAR_FROM},
            live_explain=__version__,
        )

    def write(self, result: FrameResult) -> MonitoredFrame:
        if self.frames == 0:
            self.writer.write_header(self._header(result))
        checked = self.monitor(result)
        self.writer.write_frame(frame_record(result, checked))
        if checked.events:
            boxes = result.detections.boxes
            self.flagged.offer(
                self.frames, checked.pts_ms, checked.events, boxes, lambda: result.overlay
            )
        if self.faithfulness is not None and len(result.detections):
            self._sample(result.frame.index, result.frame.image)
        self.frames += 1
        self.events += len(checked.events)
        return checked

    def _sample(self, index: int, image: np.ndarray) -> None:
        """Reservoir sampling: every frame with detections is equally likely to be kept."""
        self._candidates += 1
        if len(self._samples) < self.faithfulness.frames:
            self._samples.append((index, image))
            return
        slot = self._rng.randrange(self._candidates)
        if slot < self.faithfulness.frames:
            self._samples[slot] = (index, image)

    def _measure_faithfulness(self) -> None:
        from live_explain.monitor.faithfulness import evaluate_faithfulness

        plan = self.faithfulness
        samples = sorted(self._samples, key=lambda s: s[0])
        log.debug(  # a line on stderr would be a second one beside the summary
            "measuring faithfulness: %d frame%s x %d method%s",
            len(samples),
            "s" * (len(samples) != 1),
            len(plan.methods),
            "s" * (len(plan.methods) != 1),
        )
        records = evaluate_faithfulness(plan.detector, samples, plan.methods)
        for record in records:
            self.writer.write_faithfulness(record)

    def close(self) -> list[str]:
        """Finish the log (and the report); returns one line per file written."""
        lines = []
        try:
            if self.faithfulness is not None:
                self._measure_faithfulness()
            written = self.writer.close()
            if self.log_path is not None:
                lines.append(f"wrote {written}: {self.frames} frames, {self.events} events")
            if self.report_path is not None:
                from live_explain.monitor.report import render_report

                drive = read_log(written)
                html = render_report([drive], {0: self.flagged.thumbnails()})
                try:
                    self._report.partial.write_text(
                        html, encoding="utf-8", errors="backslashreplace"
                    )
                except OSError as exc:  # a full disk
                    raise UserError(
                        f"{self.report_path}: cannot write the report ({exc.strerror})"
                    ) from None
                self._report.commit()
                lines.append(f"wrote {self.report_path}: drive report")
        finally:
            if self._report is not None and not self._report.committed:
                self._report.discard()
            self._clean_scratch()
        return lines

    @property
    def partial_files(self) -> list[Path]:
        """The partial files this sink writes (its log's, its report's)."""
        files = [Path(self.writer.write_path)]
        if self._report is not None:
            files.append(Path(self._report.partial))
        return files

    def abort(self) -> Path | None:
        """Stop early: keep a partial log that holds frames (not a scratch one)."""
        kept = self.writer.abort()
        if self._report is not None:
            self._report.discard()
        self._clean_scratch()
        return kept if self._scratch is None else None

    def _clean_scratch(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
