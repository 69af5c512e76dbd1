"""The HTML drive report: one self-contained file (inline CSS and SVG, thumbnails as data
URIs, no script, nothing fetched), readable offline in any browser.

Contents: the settings of each drive, headline numbers, a timeline per drive, a per-class
table, thumbnails of the flagged frames with their overlays, the worst tracks, the bias audit
(:mod:`live_explain.monitor.audit`) and, when measured, the faithfulness of each method.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from datetime import datetime
from html import escape
from pathlib import Path

from live_explain import __version__
from live_explain.monitor.events import EVENT_KINDS
from live_explain.monitor.flagged import FlaggedFrames, Thumbnail, cut_from_video
from live_explain.monitor.report_tables import (
    audit_section,
    faithfulness_table,
    kind_headers,
    number_text,
    percent,
    table_row,
    worst_tracks_table,
)
from live_explain.monitor.runlog import DriveLog
from live_explain.monitor.stats import GroupStats, by_class, grouped, total_events
from live_explain.monitor.timeline_svg import KIND_COLOURS, timeline_svg
from live_explain.sinks.output_files import write_text_atomic

MEANINGS = {
    "attention in box": "share of a detection's heatmap energy inside its own box",
    "pointing hit": "the heatmap's peak falls inside the box",
    "outside every box": "share of the merged heatmap's energy outside all boxes: the model "
    "looking at something it did not detect",
    "attention_outside_box": "a detection rests mostly on context (its attention in box is "
    "below the threshold)",
    "empty_explanation": "a detection's heatmap is all zero",
    "class_flip": "a track changed class",
    "flicker": "a track's heatmap moved abruptly between consecutive frames",
    "dropout": "a track vanished for a few frames and came back",
    "low_confidence_persistent": "a track stayed below the low-score threshold for a while",
}
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 color:#222;margin:0 auto;max-width:1160px;padding:18px 24px 40px;background:#fff}
h1{font-size:24px;margin:4px 0 2px}h2{font-size:18px;margin:28px 0 8px;
 border-bottom:2px solid #e3e3e3;padding-bottom:3px}h3{font-size:15px;margin:16px 0 6px}
.sub{color:#666;margin:0 0 12px}.cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}
.card{background:#f4f6f8;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:20px}.card span{color:#555;font-size:12px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;vertical-align:top}
th{background:#f4f6f8}td.l,th.l{text-align:left}td.bad{background:#fbe3e4;font-weight:600}
.thumbs{display:flex;flex-wrap:wrap;gap:12px}figure{margin:0;width:272px}
figure img{width:272px;display:block;border:1px solid #ccc;border-radius:3px}
figure .none{width:270px;height:90px;border:1px dashed #bbb;color:#888;display:flex;
 align-items:center;justify-content:center}
figcaption{font-size:12px;color:#333;margin-top:3px}
.kind{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 14px;font-size:13px}
dt{font-weight:600}dd{margin:0}.muted{color:#777}
"""


# -- sections --------------------------------------------------------------------------------


def _settings(drives: Sequence[DriveLog]) -> str:
    def duration(drive: DriveLog) -> str:
        if not drive.frames:
            return "0 s"
        span = (drive.frames[-1].pts_ms - drive.frames[0].pts_ms) / 1000.0
        return f"{span + 1.0 / max(drive.header.fps, 1e-9):.1f} s"

    def video(drive: DriveLog) -> str:
        path = drive.video_path
        if path is None:
            return "–"
        name = escape(drive.header.video)
        return f'<a href="{escape(path.resolve().as_uri())}">{name}</a>' if path.exists() else name

    def setting(key: str):
        return lambda d: escape(str(d.header.settings.get(key, "–")))

    rows = [
        ("log", lambda d: escape(d.name) + ("" if d.complete else " (cut off)")),
        ("source", lambda d: escape(f"{d.header.source} ({d.header.source_kind})")),
        ("video", video),
        ("frames", lambda d: str(len(d.frames))),
        ("duration", duration),
        ("size", lambda d: f"{d.header.width}x{d.header.height}"),
        ("fps", lambda d: f"{d.header.fps:g}"),
        ("model", setting("model")),
        ("weights", setting("weights")),
        ("method", setting("method")),
        ("layer", setting("layer")),
        ("device", setting("device")),
        ("score threshold", setting("score_thresh")),
        ("top-K", setting("topk")),
        ("classes", setting("classes")),
        (
            "event thresholds",
            lambda d: escape(", ".join(f"{k} {v}" for k, v in d.header.thresholds.items())),
        ),
        ("written", lambda d: escape(d.header.created_at)),
    ]
    columns = len(drives) + 1  # all text: left-aligned
    body = "".join(table_row([name, *[get(d) for d in drives]], left=columns) for name, get in rows)
    return f"<h2>Settings</h2><table>{body}</table>"


def _cards(drives: Sequence[DriveLog]) -> str:
    overall = grouped(drives, lambda *_: "all").get("all", GroupStats("all"))
    frames = sum(len(d.frames) for d in drives)
    events = total_events(drives)
    flagged = sum(1 for d in drives for f in d.frames if f.events)
    cards = [
        (str(len(drives)), "drives" if len(drives) != 1 else "drive"),
        (str(frames), "frames"),
        (str(overall.detections), "detections"),
        (str(sum(events.values())), f"events in {flagged} frames"),
        (percent(overall.mean_attention), "mean attention in box"),
        (percent(overall.pointing_rate), "pointing hits"),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card"><b>{value}</b><span>{escape(label)}</span></div>'
            for value, label in cards
        )
        + "</div>"
    )


def _class_table(drives: Sequence[DriveLog]) -> str:
    groups = sorted(grouped(drives, by_class).values(), key=lambda g: -g.detections)
    if not groups:
        return "<h2>Per class</h2><p class=muted>No detections.</p>"
    head = table_row(
        ["class", "detections", "tracks", "mean score", "attention in box", "pointing hits"],
        header=True,
    )
    head = head.replace("</tr>", "".join(kind_headers()) + "</tr>")
    rows = [
        table_row(
            [
                escape(g.name),
                str(g.detections),
                str(len(g.tracks)) if g.tracks else "–",
                number_text(g.mean_score),
                percent(g.mean_attention),
                percent(g.pointing_rate),
                *[str(g.events[kind]) for kind in EVENT_KINDS],
            ]
        )
        for g in groups
    ]
    return f"<h2>Per class</h2><table>{head}{''.join(rows)}</table>"


def _anchor(drive_index: int, position: int) -> str:
    return f"d{drive_index}-f{position}"


def _thumbnails(drives: Sequence[DriveLog], thumbnails: dict[int, list[Thumbnail]]) -> str:
    parts = ["<h2>Flagged frames</h2>"]
    any_shown = False
    for index, drive in enumerate(drives):
        thumbs = thumbnails.get(index, [])
        if not thumbs:
            continue
        any_shown = True
        if len(drives) > 1:
            parts.append(f"<h3>{escape(drive.name)}</h3>")
        figures = []
        seen = set()
        for thumb in thumbs:
            event = thumb.event
            anchor = _anchor(index, thumb.position)
            id_attr = "" if anchor in seen else f' id="{anchor}"'
            seen.add(anchor)
            if thumb.jpeg:
                data = base64.b64encode(thumb.jpeg).decode("ascii")
                picture = f'<img src="data:image/jpeg;base64,{data}" alt="frame {event.frame}">'
            else:
                picture = '<div class="none">frame not available (no video)</div>'
            detection = ""
            frame = drive.frames[thumb.position] if thumb.position < len(drive.frames) else None
            if frame and event.detection is not None and event.detection < len(frame.detections):
                found = frame.detections[event.detection]
                track = f" #{found.track_id}" if found.track_id is not None else ""
                detection = f" · {escape(found.label)}{track} {found.score:.2f}"
            colour = KIND_COLOURS.get(event.kind, "#999")
            figures.append(
                f"<figure{id_attr}>{picture}<figcaption>"
                f'<span class="kind" style="background:{colour}"></span>'
                f"<b>{escape(event.kind)}</b> · frame {event.frame} · "
                f"{thumb.pts_ms / 1000.0:.2f} s{detection}<br>{escape(event.detail)}"
                f"</figcaption></figure>"
            )
        parts.append(f'<div class="thumbs">{"".join(figures)}</div>')
    if not any_shown:
        parts.append("<p class=muted>No events, or no frames to show.</p>")
    return "".join(parts)


def _meanings() -> str:
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in MEANINGS.items())
    return f"<h2>What the signals mean</h2><dl>{items}</dl>"


# -- the page --------------------------------------------------------------------------------


def render_report(
    drives: Sequence[DriveLog],
    thumbnails: dict[int, list[Thumbnail]] | None = None,
    *,
    title: str | None = None,
    sections: Sequence[str] = (),
) -> str:
    """The report's HTML for ``drives``; ``thumbnails`` per drive index (may be empty);
    ``sections``: more HTML, after the headline numbers (a batch's table of drives)."""
    thumbnails = thumbnails or {}
    if title is None and len(drives) == 1:
        title = f"Drive report: {drives[0].name}"
    elif title is None:
        title = f"Report over {len(drives)} drives"
    made = datetime.now().astimezone().isoformat(timespec="seconds")
    if len(drives) == 1:
        settings = drives[0].header.settings
        model = f"{settings.get('model', '?')} ({settings.get('weights', '?')})"
        what = [drives[0].header.source, model, settings.get("method")]
        summary = " · ".join(str(w) for w in what if w) + " · "
    else:
        summary = ""
    timelines = ["<h2>Timeline</h2>"]
    for index, drive in enumerate(drives):
        anchors = {t.position: _anchor(index, t.position) for t in thumbnails.get(index, [])}
        if len(drives) > 1:
            timelines.append(f"<h3>{escape(drive.name)}</h3>")
        timelines.append(timeline_svg(drive, anchors))
    body = "".join(
        [
            f"<h1>{escape(title)}</h1>",
            f'<p class="sub">{escape(summary)}live-explain {escape(__version__)} · '
            f"made {escape(made)}</p>",
            _cards(drives),
            *sections,
            *timelines,
            _class_table(drives),
            _thumbnails(drives, thumbnails),
            worst_tracks_table(drives),
            audit_section(drives),
            faithfulness_table(drives),
            _settings(drives),
            _meanings(),
        ]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n"
    )


def write_report(
    path: str | os.PathLike,
    drives: Sequence[DriveLog],
    thumbnails: dict[int, list[Thumbnail]] | None = None,
    **page,
) -> Path:
    """Write the report to ``path`` atomically (a partial file of its own, then renamed);
    ``page``: :func:`render_report`'s ``title`` and ``sections``."""
    return write_text_atomic(path, render_report(drives, thumbnails, **page))


def thumbnails_from_video(drive: DriveLog) -> list[Thumbnail]:
    """The flagged frames of a logged drive, cut from its annotated video when it exists
    (else without pictures); chosen by the same rule as during the export."""
    flagged = FlaggedFrames()
    for position, frame in enumerate(drive.frames):
        if frame.events:
            boxes = [d.box for d in frame.detections]
            flagged.offer(position, frame.pts_ms, frame.events, boxes)
    chosen = flagged.thumbnails()
    video = drive.video_path
    if chosen and video is not None and video.is_file():
        chosen = cut_from_video(chosen, video)
    return chosen
