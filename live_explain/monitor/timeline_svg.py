"""A drive's timeline as inline SVG: detections per frame, attention signals, a row of marks
per event kind, and the flagged frames (links to their thumbnails in the report)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from html import escape

import numpy as np

from live_explain.monitor.events import EVENT_KINDS
from live_explain.monitor.runlog import DriveLog, FrameRecord

KIND_COLOURS = {
    "attention_outside_box": "#d1495b",
    "empty_explanation": "#6c757d",
    "class_flip": "#8e44ad",
    "flicker": "#edae49",
    "dropout": "#00798c",
    "low_confidence_persistent": "#30638e",
}
WIDTH, LEFT, RIGHT = 1000, 190, 16
PLOT = WIDTH - LEFT - RIGHT
PANEL_H, ROW_H, GAP = 46, 12, 5
MAX_BINS = 400  # the plot is at most this many columns wide, however long the drive
TICK_STEPS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600)
ATTENTION, OUTSIDE = "#2ca25f", "#d1495b"


@dataclass(frozen=True)
class _Axis:
    """Seconds to x in the plot."""

    t0: float
    span: float

    def x(self, t: float) -> float:
        return LEFT + (t - self.t0) / self.span * PLOT


@dataclass(frozen=True)
class _Binned:
    """Per column of the plot: its time, the most detections of a frame, the mean
    attention_in_box and the mean share of attention outside every box (NaN: none)."""

    t: list[float]
    count: list[int]
    attention: list[float]
    outside: list[float]


def _mean(values) -> float:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else float("nan")


def _binned(frames: list[FrameRecord]) -> _Binned:
    edges = np.linspace(0, len(frames), min(len(frames), MAX_BINS) + 1).astype(int)
    out = _Binned([], [], [], [])
    for a, b in itertools.pairwise(edges):
        chunk = frames[a:b]
        if not chunk:
            continue
        out.t.append(float(np.mean([f.pts_ms for f in chunk])) / 1000.0)
        out.count.append(max(len(f.detections) for f in chunk))
        out.attention.append(_mean(d.attention_in_box for f in chunk for d in f.detections))
        out.outside.append(_mean(f.outside_attention for f in chunk))
    return out


def _label(y: float, text: str, colour: str = "#333") -> str:
    return (
        f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
        f'fill="{colour}">{escape(text)}</text>'
    )


def _panel(top: float, height: float, fill: str = "none") -> str:
    return (
        f'<rect x="{LEFT}" y="{top}" width="{PLOT}" height="{height}" fill="{fill}" stroke="#ccc"/>'
    )


def _polyline(xs: list[float], ys: list[float], colour: str, dash: str = "") -> str:
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True) if np.isfinite(y))
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"{extra}/>'


def _count_panel(top: float, axis: _Axis, binned: _Binned) -> list[str]:
    most = max([*binned.count, 1])
    xs = [axis.x(t) for t in binned.t]
    base = top + PANEL_H
    parts = [_panel(top, PANEL_H), _label(top + PANEL_H / 2, f"detections (max {most})")]
    if xs:
        ys = [base - c / most * PANEL_H for c in binned.count]
        area = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
        parts.append(
            f'<polygon points="{xs[0]:.1f},{base} {area} {xs[-1]:.1f},{base}" '
            f'fill="#9ecae1" stroke="#3182bd" stroke-width="1"/>'
        )
    return parts


def _signal_panel(top: float, axis: _Axis, binned: _Binned) -> list[str]:
    xs = [axis.x(t) for t in binned.t]
    middle = top + PANEL_H / 2
    return [
        _panel(top, PANEL_H),
        f'<line x1="{LEFT}" x2="{LEFT + PLOT}" y1="{middle}" y2="{middle}" stroke="#eee"/>',
        _polyline(xs, [top + PANEL_H * (1 - v) for v in binned.attention], ATTENTION),
        _polyline(xs, [top + PANEL_H * (1 - v) for v in binned.outside], OUTSIDE, "4 2"),
        _label(middle - 7, "attention in box (0-1)", ATTENTION),
        _label(middle + 8, "outside every box (0-1) - -", OUTSIDE),
    ]


def _event_row(top: float, axis: _Axis, kind: str, frames: list[FrameRecord]) -> list[str]:
    when = [f.pts_ms / 1000.0 for f in frames for e in f.events if e.kind == kind]
    colour = KIND_COLOURS[kind]
    parts = [_panel(top, ROW_H, "#f6f6f6"), _label(top + ROW_H / 2, f"{kind} ({len(when)})")]
    if not when:
        return parts
    edges = np.linspace(axis.t0, axis.t0 + axis.span, MAX_BINS + 1)
    hist, _ = np.histogram(when, bins=edges)
    width = max(PLOT / MAX_BINS, 1.5)
    for i in np.flatnonzero(hist):
        opacity = 0.35 + 0.65 * hist[i] / hist.max()
        parts.append(
            f'<rect x="{axis.x(edges[i]):.1f}" y="{top}" width="{width:.1f}" height="{ROW_H}" '
            f'fill="{colour}" fill-opacity="{opacity:.2f}">'
            f"<title>{escape(kind)}: {hist[i]} at {edges[i]:.1f} s</title></rect>"
        )
    return parts


def _flag_row(top: float, axis: _Axis, frames: list[FrameRecord], anchors: dict) -> list[str]:
    parts = [_label(top + ROW_H / 2, "flagged frames (click one)")]
    for position, anchor in sorted(anchors.items()):
        if 0 <= position < len(frames):
            x = axis.x(frames[position].pts_ms / 1000.0)
            parts.append(
                f'<a href="#{escape(anchor)}"><path d="M{x:.1f},{top} l-5,{ROW_H} h10 z" '
                f'fill="#222"><title>frame {frames[position].frame}</title></path></a>'
            )
    return parts


def _time_axis(top: float, axis: _Axis) -> list[str]:
    step = next((s for s in TICK_STEPS_S if axis.span / s <= 10), TICK_STEPS_S[-1])
    parts = [f'<line x1="{LEFT}" x2="{LEFT + PLOT}" y1="{top}" y2="{top}" stroke="#555"/>']
    for tick in np.arange(np.ceil(axis.t0 / step) * step, axis.t0 + axis.span + 1e-9, step):
        x = axis.x(float(tick))
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + 4}" stroke="#555"/>'
            f'<text x="{x:.1f}" y="{top + 15}" text-anchor="middle" font-size="10" '
            f'fill="#333">{round(float(tick), 1):g} s</text>'
        )
    return parts


def timeline_svg(drive: DriveLog, anchors: dict[int, str] | None = None) -> str:
    """SVG of ``drive`` over time; ``anchors`` maps a frame position to a thumbnail's id."""
    frames = drive.frames
    times = [f.pts_ms / 1000.0 for f in frames] or [0.0]
    axis = _Axis(min(times), max(max(times) - min(times), 1e-3))
    binned = _binned(frames)
    top = 8
    parts = _count_panel(top, axis, binned)
    top += PANEL_H + 10
    parts += _signal_panel(top, axis, binned)
    top += PANEL_H + 14
    for kind in EVENT_KINDS:
        parts += _event_row(top, axis, kind, frames)
        top += ROW_H + GAP
    parts += _flag_row(top, axis, frames, anchors or {})
    top += ROW_H + GAP
    parts += _time_axis(top, axis)
    return (
        f'<svg class="timeline" viewBox="0 0 {WIDTH} {top + 22}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="timeline of {escape(drive.name)}">' + "".join(parts) + "</svg>"
    )
