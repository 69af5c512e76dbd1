"""The per-frame drive log (JSON Lines): its schema, its records and the writer (the reader is
:mod:`live_explain.monitor.log_reader`).

A log is UTF-8 text, one JSON object per line, each with a ``record`` key:

1. one ``drive`` record first: ``schema_version`` (this module's :data:`SCHEMA_VERSION`),
   ``live_explain`` (version), ``created_at`` (ISO 8601), ``source``, ``source_kind``,
   ``video`` (the annotated video written with it, relative to the log's folder, or null),
   ``fps``, ``width``, ``height`` (pixels), ``settings`` (model, weights, method, layer,
   device, score_thresh, topk, classes), ``thresholds`` (the event thresholds) and
   ``buckets`` (the brightness and position rules of the bias audit);
2. one ``frame`` record per frame, in order: ``frame`` (index from 0), ``pts_ms``,
   ``detections`` (a list, best score first, each ``track_id`` (int or null), ``label``,
   ``score``, ``box`` ([x0, y0, x1, y1] frame pixels), ``attention_in_box`` (0-1 or null),
   ``pointing_hit`` (bool or null), ``peak_xy`` ([x, y] or null), ``refreshed`` (bool or
   null)), ``events`` (each ``kind``, ``detection`` (row in ``detections`` or null),
   ``track_id``, ``value``, ``detail``), ``outside_attention`` (0-1 or null),
   ``brightness`` (mean luma 0-255), ``lighting`` (night, dusk, day), ``timings_ms``
   (stage -> ms), ``latency_ms``, ``dropped``, ``source_state`` (null where the engine gave
   none);
3. zero or more ``faithfulness`` records at the end (``--faithfulness N``): ``method``,
   ``frames``, ``detections``, ``steps``, ``baseline``, ``deletion_auc``, ``insertion_auc``,
   ``deletion_curve``, ``insertion_curve``.

Signals and events are defined in :mod:`live_explain.monitor.signals` and
:mod:`live_explain.monitor.events`; docs/log-schema.md has an example. Readers reject other
schema versions. The writer writes ``NAME.partial.jsonl`` and renames it when complete; an
interrupted export keeps the partial file, which
:func:`~live_explain.monitor.log_reader.read_log` also reads.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from live_explain.errors import UserError
from live_explain.monitor.events import Event
from live_explain.sinks.output_files import OutputFile

SCHEMA_VERSION = 1

log = logging.getLogger("live_explain")


class LogError(UserError):
    """A file given as a drive log is missing, is not one, or has another schema version."""


@dataclass(frozen=True)
class DetectionRecord:
    track_id: int | None
    label: str
    score: float
    box: tuple[float, float, float, float]
    attention_in_box: float | None
    pointing_hit: bool | None
    peak_xy: tuple[int, int] | None
    refreshed: bool | None = None


@dataclass(frozen=True)
class FrameRecord:
    frame: int
    pts_ms: float
    detections: tuple[DetectionRecord, ...]
    events: tuple[Event, ...]
    outside_attention: float | None
    brightness: float
    lighting: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    latency_ms: float | None = None
    dropped: int | None = None
    source_state: str | None = None


@dataclass(frozen=True)
class FaithfulnessRecord:
    """Deletion and insertion AUC of one method (see :mod:`live_explain.monitor.faithfulness`)."""

    method: str
    frames: tuple[int, ...]
    detections: int
    steps: int
    baseline: str
    deletion_auc: float | None
    insertion_auc: float | None
    deletion_curve: tuple[float, ...]
    insertion_curve: tuple[float, ...]


@dataclass(frozen=True)
class DriveHeader:
    schema_version: int
    created_at: str
    source: str
    source_kind: str
    video: str | None
    fps: float
    width: int
    height: int
    settings: dict[str, Any]
    thresholds: dict[str, Any]
    buckets: dict[str, Any] = field(default_factory=dict)
    live_explain: str = ""


@dataclass
class DriveLog:
    """One drive as read back: its header, frames in order and faithfulness results."""

    path: Path
    header: DriveHeader
    frames: list[FrameRecord]
    faithfulness: list[FaithfulnessRecord]
    complete: bool = True  # False for a partial log whose last line was cut off
    label: str | None = None  # what reports call the drive (default: the log's file name)

    @property
    def name(self) -> str:
        return self.label or self.path.name

    @property
    def video_path(self) -> Path | None:
        """The annotated video named in the header, resolved against the log's folder."""
        if not self.header.video:
            return None
        return self.path.parent / self.header.video


# -- writing ---------------------------------------------------------------------------------


def _number(value: float | None, digits: int) -> float | None:
    if value is None or not math.isfinite(float(value)):
        return None
    return round(float(value), digits)


def detection_json(record: DetectionRecord) -> dict:
    return {
        "track_id": record.track_id,
        "label": record.label,
        "score": _number(record.score, 4),
        "box": [_number(v, 1) for v in record.box],
        "attention_in_box": _number(record.attention_in_box, 4),
        "pointing_hit": record.pointing_hit,
        "peak_xy": list(record.peak_xy) if record.peak_xy is not None else None,
        "refreshed": record.refreshed,
    }


def event_json(event: Event) -> dict:
    return {
        "kind": event.kind,
        "detection": event.detection,
        "track_id": event.track_id,
        "value": _number(event.value, 4),
        "detail": event.detail,
    }


def frame_json(record: FrameRecord) -> dict:
    return {
        "record": "frame",
        "frame": record.frame,
        "pts_ms": _number(record.pts_ms, 3),
        "detections": [detection_json(d) for d in record.detections],
        "events": [event_json(e) for e in record.events],
        "outside_attention": _number(record.outside_attention, 4),
        "brightness": _number(record.brightness, 2),
        "lighting": record.lighting,
        "timings_ms": {k: _number(v, 3) for k, v in record.timings_ms.items()},
        "latency_ms": _number(record.latency_ms, 3),
        "dropped": record.dropped,
        "source_state": record.source_state,
    }


def faithfulness_json(record: FaithfulnessRecord) -> dict:
    return {
        "record": "faithfulness",
        "method": record.method,
        "frames": list(record.frames),
        "detections": record.detections,
        "steps": record.steps,
        "baseline": record.baseline,
        "deletion_auc": _number(record.deletion_auc, 4),
        "insertion_auc": _number(record.insertion_auc, 4),
        "deletion_curve": [_number(v, 4) for v in record.deletion_curve],
        "insertion_curve": [_number(v, 4) for v in record.insertion_curve],
    }


def header_json(header: DriveHeader) -> dict:
    return {"record": "drive", **asdict(header)}


class RunLogWriter:
    """Writes a drive log line by line to a partial file of its own
    (``NAME.partial-XXXXXXXX.jsonl``, see :mod:`live_explain.sinks.output_files`); :meth:`close`
    moves it to ``path``.

    Every line is flushed as it is written, so a crash loses at most the line in progress.
    """

    def __init__(self, path: str | os.PathLike, inputs: Sequence[str | os.PathLike] = ()) -> None:
        self.path = Path(path)
        self._output = OutputFile(self.path, inputs)
        self.write_path = self._output.partial
        self.frames_written = 0
        self._file = open(self.write_path, "w", encoding="utf-8")  # noqa: SIM115 (closed by close/abort)
        self._header_written = False

    def _line(self, data: dict) -> None:
        try:
            self._file.write(json.dumps(data, separators=(",", ":"), allow_nan=False) + "\n")
            self._file.flush()
        except OSError as exc:  # a full disk
            raise UserError(f"{self.path}: cannot write the log ({exc.strerror})") from None

    def write_header(self, header: DriveHeader) -> None:
        if self._header_written:
            raise RuntimeError("the drive header is written once, first")
        self._line(header_json(header))
        self._header_written = True

    def write_frame(self, record: FrameRecord) -> None:
        if not self._header_written:
            raise RuntimeError("write the drive header before the frames")
        self._line(frame_json(record))
        self.frames_written += 1

    def write_faithfulness(self, record: FaithfulnessRecord) -> None:
        self._line(faithfulness_json(record))

    def close(self) -> Path:
        """Finish the log and move it to its final name."""
        try:
            self._file.close()
        except OSError as exc:
            raise UserError(f"{self.path}: cannot write the log ({exc.strerror})") from None
        return self._output.commit()

    def abort(self) -> Path | None:
        """Stop early: keep the partial log when it holds frames, else remove it."""
        with contextlib.suppress(OSError):  # a full disk: what reached it is kept
            self._file.close()
        if self.frames_written:
            return self._output.keep()
        self._output.discard()
        return None


# -- reading ---------------------------------------------------------------------------------
