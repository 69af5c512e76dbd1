"""The HTML report's tables: the worst tracks, the bias audit and the faithfulness ranking, and
the small formatting helpers every table of the report uses."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from live_explain.monitor.audit import AuditTable, bias_audit
from live_explain.monitor.events import EVENT_KINDS, SHORT_KIND
from live_explain.monitor.runlog import DriveLog, FaithfulnessRecord
from live_explain.monitor.stats import track_stats
from live_explain.monitor.timeline_svg import KIND_COLOURS

WORST_TRACKS = 10


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def number_text(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def table_row(cells: Sequence[str], header: bool = False, left: int = 1) -> str:
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


def kind_headers() -> list[str]:
    return [
        f'<th title="{escape(kind)}"><span class="kind" style="background:{KIND_COLOURS[kind]}">'
        f"</span>{SHORT_KIND[kind]}</th>"
        for kind in EVENT_KINDS
    ]


def worst_tracks_table(drives: Sequence[DriveLog]) -> str:
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
    header = table_row(head, header=True, left=names)
    header = header.replace("</tr>", "".join(kind_headers()) + "</tr>")
    rows = []
    for t in tracks:
        cells = [
            f"#{t.track_id}",
            escape(t.label),
            str(t.detections),
            f"{t.first_ms / 1000.0:.2f} s",
            f"{t.last_ms / 1000.0:.2f} s",
            number_text(t.mean_score),
            percent(t.mean_attention),
            *[str(t.events[kind]) for kind in EVENT_KINDS],
        ]
        if len(drives) > 1:
            cells.insert(0, escape(t.name))
        rows.append(table_row(cells, left=names))
    return (
        f"{title}<p class=sub>Most events per frame first, then the lowest attention in box."
        f"</p><table>{header}{''.join(rows)}</table>"
    )


def audit_table(table: AuditTable) -> str:
    overall = table.overall
    head = table_row(
        [escape(table.dimension), "detections", "attention in box", "pointing hits"], header=True
    )
    head = head.replace("</tr>", "".join(kind_headers()) + "</tr>")
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
            audit_cell(percent(group.mean_attention), weak_attention),
            percent(group.pointing_rate),
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
            cells.append(audit_cell(percent(rate), high))
        rows.append(table_row(cells))
    return f"<h3>By {escape(table.dimension)}</h3><table>{head}{''.join(rows)}</table>"


def audit_cell(text: str, bad: bool) -> str:
    return f'<td class="bad">{text}</td>' if bad else f"<td>{text}</td>"


def audit_section(drives: Sequence[DriveLog]) -> str:
    return (
        "<h2>Bias audit</h2><p class=sub>Signals and event rates (events per detection) split "
        "by class, by where the box sits (left/centre/right third by its centre; near when its "
        "bottom edge is in the lowest 40% of the frame) and by lighting (mean frame brightness: "
        "night below 58, dusk below 86, else day). Shaded: attention in box 10 points below the "
        "overall, or an event rate of at least 5% and 1.5x the overall.</p>"
        + "".join(audit_table(t) for t in bias_audit(drives))
    )


def sparkline(record: FaithfulnessRecord) -> str:
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


def faithfulness_table(drives: Sequence[DriveLog]) -> str:
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
            number_text(record.deletion_auc, 3),
            number_text(record.insertion_auc, 3),
            f"<td>{sparkline(record)}</td>",
        ]
        if len(drives) > 1:
            cells.insert(0, escape(drive.name))
        rows.append(table_row(cells))
    steps = records[0][1].steps
    return (
        "<h2>Faithfulness</h2><p class=sub>Deletion: the most attended pixels are blurred away "
        f"in doubling shares over {steps} steps and the detection's score is followed (red); "
        "insertion puts them back into a blurred frame (green). A faithful method makes the "
        "score fall fast (low deletion AUC) and come back fast (high insertion AUC); most "
        "faithful = largest insertion minus deletion.</p>"
        f"<table>{table_row(head, header=True)}{''.join(rows)}</table>"
    )
