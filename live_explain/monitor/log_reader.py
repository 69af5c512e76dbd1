"""Reading a drive log back (:func:`read_log`): every field checked, so a malformed or foreign
file fails in one line that names the line and the field
(:class:`~live_explain.monitor.runlog.LogError`). The schema is in
:mod:`live_explain.monitor.runlog`."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Any

from live_explain.monitor.events import Event
from live_explain.monitor.runlog import (
    SCHEMA_VERSION,
    DetectionRecord,
    DriveHeader,
    DriveLog,
    FaithfulnessRecord,
    FrameRecord,
    LogError,
)

log = logging.getLogger("live_explain")


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
    lines = _log_lines(path)
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


def _log_lines(path: Path) -> list[str]:
    """The lines of the log at ``path`` (:class:`LogError` for a file that is missing, not
    UTF-8 text, unreadable or empty)."""
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
    return lines
