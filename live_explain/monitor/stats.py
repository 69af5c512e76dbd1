"""Numbers over one or many drive logs: per group of detections (a class, an image region,
a lighting bucket) and per track.

An event counts for the detection it names (its ``detection`` row), so event counts and
rates can be split the same ways as the detections.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from live_explain.monitor.runlog import DetectionRecord, DriveLog, FrameRecord

# key(drive, frame, detection) -> the group a detection falls in
GroupKey = Callable[[DriveLog, FrameRecord, DetectionRecord], str]


@dataclass
class GroupStats:
    """Detections of one group: how many, their scores and signals, and their events."""

    name: str
    detections: int = 0
    scores: list[float] = field(default_factory=list)
    attention: list[float] = field(default_factory=list)  # attention_in_box where defined
    hits: list[bool] = field(default_factory=list)  # pointing_hit where defined
    tracks: set[tuple[str, int]] = field(default_factory=set)  # (log, track id)
    events: Counter = field(default_factory=Counter)

    def add(self, drive: DriveLog, detection: DetectionRecord) -> None:
        self.detections += 1
        self.scores.append(detection.score)
        if detection.attention_in_box is not None:
            self.attention.append(detection.attention_in_box)
        if detection.pointing_hit is not None:
            self.hits.append(detection.pointing_hit)
        if detection.track_id is not None:
            self.tracks.add((str(drive.path), detection.track_id))

    @property
    def mean_score(self) -> float | None:
        return float(np.mean(self.scores)) if self.scores else None

    @property
    def mean_attention(self) -> float | None:
        return float(np.mean(self.attention)) if self.attention else None

    @property
    def pointing_rate(self) -> float | None:
        return float(np.mean(self.hits)) if self.hits else None

    def event_rate(self, kind: str) -> float | None:
        """Events of ``kind`` per detection of the group."""
        return self.events[kind] / self.detections if self.detections else None


def grouped(drives: Iterable[DriveLog], key: GroupKey) -> dict[str, GroupStats]:
    """Detections and their events grouped by ``key``, groups in first-seen order."""
    groups: dict[str, GroupStats] = {}
    for drive in drives:
        for frame in drive.frames:
            names = []
            for detection in frame.detections:
                name = key(drive, frame, detection)
                groups.setdefault(name, GroupStats(name)).add(drive, detection)
                names.append(name)
            for event in frame.events:
                row = event.detection
                if row is not None and 0 <= row < len(names):
                    groups[names[row]].events[event.kind] += 1
    return groups


def by_class(drive: DriveLog, frame: FrameRecord, detection: DetectionRecord) -> str:
    return detection.label


def total_events(drives: Iterable[DriveLog]) -> Counter:
    """Events per kind over all frames (also those not tied to a detection)."""
    counts: Counter = Counter()
    for drive in drives:
        for frame in drive.frames:
            counts.update(event.kind for event in frame.events)
    return counts


@dataclass
class TrackStats(GroupStats):
    """One track of one drive; ``name`` is the log's file name."""

    track_id: int = -1
    labels: Counter = field(default_factory=Counter)
    first_ms: float = 0.0
    last_ms: float = 0.0

    @property
    def label(self) -> str:
        """The class the track carried most often (``a/b`` when it flipped)."""
        names = [name for name, _ in self.labels.most_common()]
        return "/".join(names)

    @property
    def badness(self) -> tuple[float, float]:
        """Sort key, worst first: events per frame, then low attention."""
        attention = self.mean_attention
        per_frame = sum(self.events.values()) / max(self.detections, 1)
        return (-per_frame, attention if attention is not None else 1.0)


def track_stats(drives: Iterable[DriveLog]) -> list[TrackStats]:
    """Every track of every drive, worst first (see :attr:`TrackStats.badness`)."""
    tracks: dict[tuple[str, int], TrackStats] = {}
    for drive in drives:
        for frame in drive.frames:
            for row, detection in enumerate(frame.detections):
                if detection.track_id is None:
                    continue
                key = (str(drive.path), detection.track_id)
                track = tracks.get(key)
                if track is None:
                    track = TrackStats(drive.name, track_id=detection.track_id)
                    track.first_ms = frame.pts_ms
                    tracks[key] = track
                track.add(drive, detection)
                track.labels[detection.label] += 1
                track.last_ms = frame.pts_ms
                track.events.update(e.kind for e in frame.events if e.detection == row)
    return sorted(tracks.values(), key=lambda t: t.badness)
