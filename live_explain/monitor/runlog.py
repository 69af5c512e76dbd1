"""The per-frame drive log (JSON Lines): its schema, a writer and a reader.

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
interrupted export keeps the partial file, which :func:`read_log` also reads.
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

    @property
    def name(self) -> str:
        return self.path.name

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

# Pixel coordinates, times and counts in a log stay far below this; larger numbers are damage.
LARGEST_NUMBER = 1e12


class _Malformed(ValueError):
    """A field of a log line that is missing or of the wrong type (the message says which)."""


def _shown(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, float) else repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


def _get(data: dict, key: str, where: str = "") -> Any:
    if key not in data:
        raise _Malformed(f"{where}{key} is missing")
    return data[key]


def _as_number(value: Any, name: str, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or abs(value) > LARGEST_NUMBER
    ):
        raise _Malformed(f"{name} is {_shown(value)}, not a number")
    return float(value)


def _as_int(value: Any, name: str, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > LARGEST_NUMBER:
        raise _Malformed(f"{name} is {_shown(value)}, not a whole number")
    return value


def _as_text(value: Any, name: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise _Malformed(f"{name} is {_shown(value)}, not a string")
    return value


def _as_flag(value: Any, name: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise _Malformed(f"{name} is {_shown(value)}, not true, false or null")
    return value


def _as_object(value: Any, name: str) -> dict:
    if not isinstance(value, dict):
        raise _Malformed(f"{name} is {_shown(value)}, not an object")
    return value


def _as_list(value: Any, name: str, length: int | None = None) -> list:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        what = f"a list of {length}" if length is not None else "a list"
        raise _Malformed(f"{name} is {_shown(value)}, not {what}")
    return value


def _detection(data: Any, where: str) -> DetectionRecord:
    data = _as_object(data, where)
    where += "."
    box = _as_list(_get(data, "box", where), f"{where}box", 4)
    peak = data.get("peak_xy")
    if peak is not None:
        peak = tuple(_as_int(v, f"{where}peak_xy") for v in _as_list(peak, f"{where}peak_xy", 2))
    return DetectionRecord(
        track_id=_as_int(_get(data, "track_id", where), f"{where}track_id", optional=True),
        label=_as_text(_get(data, "label", where), f"{where}label"),
        score=_as_number(_get(data, "score", where), f"{where}score"),
        box=tuple(_as_number(v, f"{where}box") for v in box),
        attention_in_box=_as_number(
            data.get("attention_in_box"), f"{where}attention_in_box", optional=True
        ),
        pointing_hit=_as_flag(data.get("pointing_hit"), f"{where}pointing_hit"),
        peak_xy=peak,
        refreshed=_as_flag(data.get("refreshed"), f"{where}refreshed"),
    )


def _event(data: Any, where: str, frame: int, detections: int) -> Event:
    data = _as_object(data, where)
    where += "."
    row = _as_int(data.get("detection"), f"{where}detection", optional=True)
    if row is not None and not 0 <= row < detections:
        raise _Malformed(f"{where}detection is {row}, but the frame has {detections} detections")
    return Event(
        _as_text(_get(data, "kind", where), f"{where}kind"),
        frame,
        row,
        _as_int(data.get("track_id"), f"{where}track_id", optional=True),
        _as_number(_get(data, "value", where), f"{where}value"),
        _as_text(data.get("detail", ""), f"{where}detail", optional=True) or "",
    )


def _frame(data: dict) -> FrameRecord:
    index = _as_int(_get(data, "frame"), "frame")
    detections = tuple(
        _detection(d, f"detections[{i}]")
        for i, d in enumerate(_as_list(_get(data, "detections"), "detections"))
    )
    timings = _as_object(data.get("timings_ms") or {}, "timings_ms")
    return FrameRecord(
        frame=index,
        pts_ms=_as_number(_get(data, "pts_ms"), "pts_ms"),
        detections=detections,
        events=tuple(
            _event(e, f"events[{i}]", index, len(detections))
            for i, e in enumerate(_as_list(_get(data, "events"), "events"))
        ),
        outside_attention=_as_number(
            data.get("outside_attention"), "outside_attention", optional=True
        ),
        brightness=_as_number(_get(data, "brightness"), "brightness"),
        lighting=_as_text(_get(data, "lighting"), "lighting"),
        timings_ms={
            str(k): _as_number(v, f"timings_ms.{k}", optional=True) for k, v in timings.items()
        },
        latency_ms=_as_number(data.get("latency_ms"), "latency_ms", optional=True),
        dropped=_as_int(data.get("dropped"), "dropped", optional=True),
        source_state=_as_text(data.get("source_state"), "source_state", optional=True),
    )


def _faithfulness(data: dict) -> FaithfulnessRecord:
    def curve(key: str) -> tuple[float, ...]:
        values = _as_list(data.get(key) or [], key)
        return tuple(_as_number(v, key) for v in values)

    return FaithfulnessRecord(
        method=_as_text(_get(data, "method"), "method"),
        frames=tuple(_as_int(f, "frames") for f in _as_list(_get(data, "frames"), "frames")),
        detections=_as_int(_get(data, "detections"), "detections"),
        steps=_as_int(_get(data, "steps"), "steps"),
        baseline=_as_text(_get(data, "baseline"), "baseline"),
        deletion_auc=_as_number(data.get("deletion_auc"), "deletion_auc", optional=True),
        insertion_auc=_as_number(data.get("insertion_auc"), "insertion_auc", optional=True),
        deletion_curve=curve("deletion_curve"),
        insertion_curve=curve("insertion_curve"),
    )


def _header(data: dict, path: Path) -> DriveHeader:
    version = data.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise LogError(
            f"{path}: log schema_version {_shown(version)} is not supported "
            f"(this live-explain reads version {SCHEMA_VERSION})"
        )
    try:
        fps = _as_number(_get(data, "fps"), "fps")
        width = _as_int(_get(data, "width"), "width")
        height = _as_int(_get(data, "height"), "height")
        if fps <= 0 or width <= 0 or height <= 0:
            raise _Malformed(
                f"fps, width and height must be positive, got {fps:g}, {width}, {height}"
            )
        return DriveHeader(
            schema_version=version,
            created_at=_as_text(_get(data, "created_at"), "created_at"),
            source=_as_text(_get(data, "source"), "source"),
            source_kind=_as_text(_get(data, "source_kind"), "source_kind"),
            video=_as_text(_get(data, "video"), "video", optional=True),
            fps=fps,
            width=width,
            height=height,
            settings=_as_object(_get(data, "settings"), "settings"),
            thresholds=_as_object(_get(data, "thresholds"), "thresholds"),
            buckets=_as_object(data.get("buckets", {}), "buckets"),
            live_explain=_as_text(data.get("live_explain", ""), "live_explain"),
        )
    except _Malformed as exc:
        raise LogError(f"{path}: line 1, the drive record, is malformed ({exc})") from None


def _record(line: str) -> tuple[str, dict]:
    """The kind and the fields of one line after the header (:class:`_Malformed` if none)."""
    data = json.loads(line)
    if not isinstance(data, dict):
        raise _Malformed(f"the line is {_shown(data)}, not an object")
    kind = _get(data, "record")
    if kind not in ("frame", "faithfulness"):
        raise _Malformed(f"record {_shown(kind)} where a frame or faithfulness record belongs")
    return kind, data


def read_log(path: str | os.PathLike) -> DriveLog:
    """Read a drive log written by :class:`RunLogWriter` (or its partial file).

    Raises :class:`LogError` (a :class:`UserError`, one line naming the file and the line)
    when the file is missing, is not a live-explain log, has another schema version or a
    malformed drive record. A cut-off last line (a log whose writer was killed) is dropped
    and ``complete`` is False. A malformed line after good frames ends the drive there, with
    one warning (``complete`` is False); one before any frame is a :class:`LogError`.
    """
    path = Path(path)
    if not path.exists():
        raise LogError(f"{path}: no such file")
    if not path.is_file():
        raise LogError(f"{path}: not a regular file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LogError(f"{path}: not a live-explain log (not UTF-8 text)") from None
    except OSError as exc:
        raise LogError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not text.strip():
        raise LogError(f"{path}: the log is empty; not a live-explain log")
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    try:
        first = json.loads(lines[0])
    except (ValueError, RecursionError):  # RecursionError: arrays nested thousands deep
        first = None
    if not isinstance(first, dict) or first.get("record") != "drive":
        raise LogError(f"{path}: not a live-explain log (no drive record on its first line)")
    header = _header(first, path)
    frames, faithfulness, complete = [], [], True
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        try:
            kind, data = _record(line)
            if kind == "frame":
                frames.append(_frame(data))
            else:
                faithfulness.append(_faithfulness(data))
        except (ValueError, RecursionError) as exc:
            not_json = not isinstance(exc, _Malformed)
            if not_json and number == len(lines):  # the line being written when it stopped
                complete = False
                break
            reason = "is not JSON" if not_json else f"is malformed ({exc})"
            if not frames:
                raise LogError(f"{path}: line {number} {reason}") from None
            complete = False
            count = f"{len(frames)} frame{'s' * (len(frames) != 1)}"
            log.warning(
                "%s: line %d %s; the report covers the %s before it", path, number, reason, count
            )
            break
    return DriveLog(path, header, frames, faithfulness, complete)
