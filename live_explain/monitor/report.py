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
from live_explain.monitor.audit import AuditTable, bias_audit
from live_explain.monitor.events import EVENT_KINDS
from live_explain.monitor.flagged import FlaggedFrames, Thumbnail, cut_from_video
from live_explain.monitor.runlog import DriveLog, FaithfulnessRecord
from live_explain.monitor.stats import GroupStats, by_class, grouped, total_events, track_stats
from live_explain.monitor.timeline_svg import KIND_COLOURS, timeline_svg
from live_explain.sinks.output_files import write_text_atomic

WORST_TRACKS = 10
SHORT_KIND = {
    "attention_outside_box": "outside box",
    "empty_explanation": "empty map",
    "class_flip": "class flip",
    "flicker": "flicker",
    "dropout": "dropout",
    "low_confidence_persistent": "low conf.",
}
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


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _row(cells: Sequence[str], header: bool = False, left: int = 1) -> str:
    """A table row; the first ``left`` cells (names, not numbers) are left-aligned."""
    tag = "th" if header else "td"
    out = []
    for i, cell in enumerate(cells):
        cls = ' class="l"' if i < left else ""
        if cell.startswith("<td") or cell.startswith("<th"):
            out.append(cell)
        else:
            out.append(f"<{tag}{cls}>{cell}</{tag}>")
    return "<tr>" + "".join(out) + "</tr>"


def _kind_headers() -> list[str]:
    return [
        f'<th title="{escape(kind)}"><span class="kind" style="background:{KIND_COLOURS[kind]}">'
        f"</span>{SHORT_KIND[kind]}</th>"
        for kind in EVENT_KINDS
    ]


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
    body = "".join(_row([name, *[get(d) for d in drives]], left=columns) for name, get in rows)
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
        (_pct(overall.mean_attention), "mean attention in box"),
        (_pct(overall.pointing_rate), "pointing hits"),
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
    head = _row(
        ["class", "detections", "tracks", "mean score", "attention in box", "pointing hits"],
        header=True,
    )
    head = head.replace("</tr>", "".join(_kind_headers()) + "</tr>")
    rows = [
        _row(
            [
                escape(g.name),
                str(g.detections),
                str(len(g.tracks)) if g.tracks else "–",
                _num(g.mean_score),
                _pct(g.mean_attention),
                _pct(g.pointing_rate),
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


def _worst_tracks(drives: Sequence[DriveLog]) -> str:
    tracks = track_stats(drives)[:WORST_TRACKS]
    title = "<h2>Worst tracks</h2>"
    if not tracks:
        return title + (
            "<p class=muted>No track ids in the log (the engine's tracker did not run), so no "
            "per-track events either.</p>"
        )
    head = ["track", "class", "frames", "from", "to", "mean score", "attention in box"]
    if len(drives) > 1:
        head.insert(0, "drive")
    names = len(head) - 5  # drive, track and class are names
    header = _row(head, header=True, left=names)
    header = header.replace("</tr>", "".join(_kind_headers()) + "</tr>")
    rows = []
    for t in tracks:
        cells = [
            f"#{t.track_id}",
            escape(t.label),
            str(t.detections),
            f"{t.first_ms / 1000.0:.2f} s",
            f"{t.last_ms / 1000.0:.2f} s",
            _num(t.mean_score),
            _pct(t.mean_attention),
            *[str(t.events[kind]) for kind in EVENT_KINDS],
        ]
        if len(drives) > 1:
            cells.insert(0, escape(t.name))
        rows.append(_row(cells, left=names))
    return (
        f"{title}<p class=sub>Most events per frame first, then the lowest attention in box."
        f"</p><table>{header}{''.join(rows)}</table>"
    )


def _audit_table(table: AuditTable) -> str:
    overall = table.overall
    head = _row(
        [escape(table.dimension), "detections", "attention in box", "pointing hits"], header=True
    )
    head = head.replace("</tr>", "".join(_kind_headers()) + "</tr>")
    rows = []
    for group in [*table.rows, overall]:
        weak_attention = (
            group is not overall
            and group.mean_attention is not None
            and overall.mean_attention is not None
            and group.mean_attention < overall.mean_attention - 0.1
        )
        cells = [
            escape(group.name),
            str(group.detections),
            _cell(_pct(group.mean_attention), weak_attention),
            _pct(group.pointing_rate),
        ]
        for kind in EVENT_KINDS:
            rate, base = group.event_rate(kind), overall.event_rate(kind)
            high = (
                group is not overall
                and rate is not None
                and base is not None
                and rate >= 0.05
                and rate > 1.5 * base
            )
            cells.append(_cell(_pct(rate), high))
        rows.append(_row(cells))
    return f"<h3>By {escape(table.dimension)}</h3><table>{head}{''.join(rows)}</table>"


def _cell(text: str, bad: bool) -> str:
    return f'<td class="bad">{text}</td>' if bad else f"<td>{text}</td>"


def _audit(drives: Sequence[DriveLog]) -> str:
    return (
        "<h2>Bias audit</h2><p class=sub>Signals and event rates (events per detection) split "
        "by class, by where the box sits (left/centre/right third by its centre; near when its "
        "bottom edge is in the lowest 40% of the frame) and by lighting (mean frame brightness: "
        "night below 58, dusk below 86, else day). Shaded: attention in box 10 points below the "
        "overall, or an event rate of at least 5% and 1.5x the overall.</p>"
        + "".join(_audit_table(t) for t in bias_audit(drives))
    )


def _sparkline(record: FaithfulnessRecord) -> str:
    width, height = 120, 28

    def points(curve) -> str:
        n = max(len(curve) - 1, 1)
        return " ".join(
            f"{i / n * width:.1f},{height - 2 - (v or 0.0) * (height - 4):.1f}"
            for i, v in enumerate(curve)
        )

    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}">'
        f'<rect width="{width}" height="{height}" fill="#f6f6f6"/>'
        f'<polyline points="{points(record.deletion_curve)}" fill="none" stroke="#d1495b"/>'
        f'<polyline points="{points(record.insertion_curve)}" fill="none" stroke="#2ca25f"/>'
        "</svg>"
    )


def _faithfulness(drives: Sequence[DriveLog]) -> str:
    records = [(d, r) for d in drives for r in d.faithfulness]
    if not records:
        return ""
    head = ["method", "frames", "detections", "deletion AUC ↓", "insertion AUC ↑", "curves"]
    if len(drives) > 1:
        head.insert(0, "drive")
    valid = [r for _, r in records if r.deletion_auc is not None and r.insertion_auc is not None]
    best = max(valid, key=lambda r: r.insertion_auc - r.deletion_auc) if valid else None
    rows = []
    for drive, record in records:
        name = escape(record.method) + (" (most faithful)" if record is best else "")
        cells = [
            name,
            str(len(record.frames)),
            str(record.detections),
            _num(record.deletion_auc, 3),
            _num(record.insertion_auc, 3),
            f"<td>{_sparkline(record)}</td>",
        ]
        if len(drives) > 1:
            cells.insert(0, escape(drive.name))
        rows.append(_row(cells))
    steps = records[0][1].steps
    return (
        "<h2>Faithfulness</h2><p class=sub>Deletion: the most attended pixels are blurred away "
        f"in doubling shares over {steps} steps and the detection's score is followed (red); "
        "insertion puts them back into a blurred frame (green). A faithful method makes the "
        "score fall fast (low deletion AUC) and come back fast (high insertion AUC); most "
        "faithful = largest insertion minus deletion.</p>"
        f"<table>{_row(head, header=True)}{''.join(rows)}</table>"
    )


def _meanings() -> str:
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in MEANINGS.items())
    return f"<h2>What the signals mean</h2><dl>{items}</dl>"


# -- the page --------------------------------------------------------------------------------


def render_report(
    drives: Sequence[DriveLog], thumbnails: dict[int, list[Thumbnail]] | None = None
) -> str:
    """The report's HTML for ``drives``; ``thumbnails`` per drive index (may be empty)."""
    thumbnails = thumbnails or {}
    if len(drives) == 1:
        title = f"Drive report: {drives[0].name}"
    else:
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
            *timelines,
            _class_table(drives),
            _thumbnails(drives, thumbnails),
            _worst_tracks(drives),
            _audit(drives),
            _faithfulness(drives),
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
) -> Path:
    """Write the report to ``path`` atomically (a partial file of its own, then renamed)."""
    return write_text_atomic(path, render_report(drives, thumbnails))


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
