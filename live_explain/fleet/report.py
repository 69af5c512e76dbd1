"""``OUTDIR/fleet.html``: the report over every finished drive of a batch (the same report as
``live-explain report`` over their logs: headline numbers, timelines, classes, flagged frames,
worst tracks, the bias audit) with a table of all drives first: state, frames, detections,
events, mean attention in box and speed, each linking to the drive's own report."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from live_explain.errors import UserError
from live_explain.fleet.drives import Drive
from live_explain.fleet.job import LOG_NAME, REPORT_NAME, VIDEO_NAME
from live_explain.monitor.report_tables import percent, table_row
from live_explain.monitor.runlog import DriveLog

log = logging.getLogger("live_explain")
THUMBNAIL_DRIVES = 24  # beyond this many drives the report carries no flagged-frame pictures
REPORT_NAME_FLEET = "fleet.html"


def _drive_figures(drive_log: DriveLog | None) -> dict[str, Any]:
    if drive_log is None:
        return {}
    detections = [d for f in drive_log.frames for d in f.detections]
    attention = [d.attention_in_box for d in detections if d.attention_in_box is not None]
    return {
        "frames": len(drive_log.frames),
        "detections": len(detections),
        "events": sum(len(f.events) for f in drive_log.frames),
        "attention": sum(attention) / len(attention) if attention else None,
    }


def drives_table(rows: Sequence[tuple[Drive, dict[str, Any], DriveLog | None]]) -> str:
    """The table of drives: one row each, its name linking to its report."""
    header = (
        "<tr><th class=l>drive</th><th class=l>state</th><th>frames</th><th>detections</th>"
        "<th>events</th><th>attention in box</th><th>frames/s</th><th class=l>files</th>"
        "<th class=l>source / error</th></tr>"
    )
    body = []
    for drive, outcome, drive_log in rows:
        figures = _drive_figures(drive_log)
        state = outcome.get("state", "?")
        folder = escape(drive.name, quote=True)
        if drive_log is not None:
            name = f'<a href="{folder}/{REPORT_NAME}">{escape(drive.name)}</a>'
            files = (
                f'<a href="{folder}/{VIDEO_NAME}">video</a> · <a href="{folder}/{LOG_NAME}">log</a>'
            )
        else:
            name, files = escape(drive.name), ""
        fps = outcome.get("fps")
        detail = outcome.get("error") or drive.source
        cells = [
            name,
            escape(state),
            str(figures.get("frames", outcome.get("frames", 0))),
            str(figures.get("detections", "")),
            str(figures.get("events", "")),
            percent(figures.get("attention")) if drive_log is not None else "",
            f"{fps:.1f}" if isinstance(fps, int | float) else "",
            f'<td class="l">{files}</td>',
            f'<td class="l">{escape(str(detail))}</td>',
        ]
        row = table_row(cells, left=2)
        if state == "failed":
            row = row.replace("<tr>", '<tr class="failed">', 1)
        body.append(row)
    counts: dict[str, int] = {}
    for _, outcome, _ in rows:
        counts[outcome.get("state", "?")] = counts.get(outcome.get("state", "?"), 0) + 1
    said = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    return (
        f"<h2>Drives</h2><p class=sub>{escape(said)}. A skipped drive was done by an earlier "
        "run with the same settings; its files are reused.</p>"
        f"<style>tr.failed td{{background:#fbe3e4}}</style><table>{header}{''.join(body)}</table>"
    )


def read_drive_log(folder: Path, drive: Drive) -> DriveLog | None:
    """The log of a finished drive (``None`` where it cannot be read: said once)."""
    from live_explain.monitor.log_reader import read_log

    try:
        drive_log = read_log(folder / LOG_NAME)
    except UserError as exc:
        log.warning("%s: its log is left out of the fleet report (%s)", drive.name, exc)
        return None
    drive_log.label = drive.name
    return drive_log


def write_fleet_report(
    path: Path, rows: Sequence[tuple[Drive, dict[str, Any], DriveLog | None]]
) -> Path:
    """Write ``fleet.html`` (atomically) for the batch's ``rows``."""
    from live_explain.monitor.report import thumbnails_from_video, write_report

    logs = [drive_log for _, _, drive_log in rows if drive_log is not None]
    thumbnails = {}
    if len(logs) <= THUMBNAIL_DRIVES:
        thumbnails = {i: thumbnails_from_video(d) for i, d in enumerate(logs)}
    title = f"Fleet report: {len(rows)} drive{'s' * (len(rows) != 1)}"
    return write_report(path, logs, thumbnails, title=title, sections=[drives_table(rows)])
