"""Events a safety engineer can search for, raised frame by frame from detections and their
signals, with per-track state.

=========================== ==================================================================
kind                        raised when (``value`` is)
=========================== ==================================================================
attention_outside_box       a detection's ``attention_in_box`` is below
                            ``Thresholds.attention_in_box``: it rests mostly on context
                            (the road, the sky) rather than the object (attention_in_box)
empty_explanation           a detection was explained but its map is all zero (1.0)
class_flip                  a track's class differs from its class on the previous frame
                            it was seen (1.0; ``detail`` says from what to what)
flicker                     a track's map changed abruptly: the total-variation distance
                            between its map on this and on the previous frame, both as
                            distributions over the frame, is above ``Thresholds.flicker``
                            (that distance, 0 to 1). The previous map is first moved with
                            the box, so an object's motion alone is no flicker; maps are
                            compared on a 48-column grid smoothed by one cell
dropout                     a track comes back after missing 1 to ``Thresholds.dropout_gap``
                            frames (the number of frames it was missing)
low_confidence_persistent   a track's score stayed below ``Thresholds.low_score`` for
                            ``Thresholds.low_score_frames`` frames in a row; raised once per
                            such run (the score now)
=========================== ==================================================================

The first two are per detection and work without tracks. The rest need track ids
(``Detections.track_ids``); untracked rows (``track_ids`` is ``None``) raise none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from live_explain.model.detector import Detections
from live_explain.monitor.signals import FrameSignals

EVENT_KINDS = (
    "attention_outside_box",
    "empty_explanation",
    "class_flip",
    "flicker",
    "dropout",
    "low_confidence_persistent",
)
# Each kind in a few words, as the report's tables and the app's marks and legends say it.
SHORT_KIND = {
    "attention_outside_box": "outside box",
    "empty_explanation": "empty map",
    "class_flip": "class flip",
    "flicker": "flicker",
    "dropout": "dropout",
    "low_confidence_persistent": "low conf.",
}
FLICKER_GRID_WIDTH = 48  # maps are compared on a grid this wide (keeps state small and fast)


@dataclass(frozen=True)
class Thresholds:
    """When events are raised; see the module docstring for each kind."""

    attention_in_box: float = 0.5
    flicker: float = 0.5
    dropout_gap: int = 5
    low_score: float = 0.6
    low_score_frames: int = 10

    def __post_init__(self) -> None:
        for name in ("attention_in_box", "flicker", "low_score"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.dropout_gap < 1 or self.low_score_frames < 1:
            raise ValueError("dropout_gap and low_score_frames must be at least 1")


@dataclass(frozen=True)
class Event:
    """One event on ``frame``; ``detection`` is its row in that frame's detections."""

    kind: str
    frame: int
    detection: int | None
    track_id: int | None
    value: float
    detail: str = ""

    @property
    def severity(self) -> float:
        """How bad this event is compared with others of its kind (larger is worse)."""
        if self.kind in ("attention_outside_box", "low_confidence_persistent"):
            return 1.0 - self.value
        return self.value


@dataclass(frozen=True)
class MapSnapshot:
    """A map as a distribution on the flicker grid, and its box centre in grid cells."""

    distribution: np.ndarray
    centre: tuple[float, float]


@dataclass
class _Track:
    label: str
    last_frame: int
    snapshot: MapSnapshot | None  # its last non-empty map
    low_run: int = 0  # frames in a row with a score below the low-score threshold


def map_snapshot(heatmap: np.ndarray, box) -> MapSnapshot | None:
    """``heatmap`` shrunk to the flicker grid, smoothed by a cell and scaled to sum 1;
    ``None`` for an all-zero map."""
    height, width = heatmap.shape
    scale = FLICKER_GRID_WIDTH / width
    grid = (FLICKER_GRID_WIDTH, max(1, round(height * scale)))
    small = cv2.resize(heatmap.astype(np.float32), grid, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=1.0)
    total = float(small.sum())
    if total <= 0:
        return None
    centre = ((box[0] + box[2]) / 2 * scale, (box[1] + box[3]) / 2 * scale)
    return MapSnapshot(small / total, (float(centre[0]), float(centre[1])))


def map_change(before: MapSnapshot, after: MapSnapshot) -> float:
    """Share of the map's energy that moved other than with its box (total variation, 0-1)."""
    dx, dy = after.centre[0] - before.centre[0], after.centre[1] - before.centre[1]
    height, width = before.distribution.shape
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    moved = cv2.warpAffine(before.distribution, shift, (width, height), flags=cv2.INTER_LINEAR)
    total = float(moved.sum())
    if total <= 0:
        return 1.0  # moved out of the frame with its box: nothing left to compare
    return 0.5 * float(np.abs(moved / total - after.distribution).sum())


class EventDetector:
    """Raises :data:`EVENT_KINDS` events, one frame at a time, in frame order.

    >>> events = EventDetector(Thresholds(attention_in_box=0.4))
    >>> events.update(frame_index, detections, frame_signals(detections))  # -> [Event, ...]

    Call :meth:`reset` after a seek: track state only makes sense between consecutive frames.
    """

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()
        self._tracks: dict[int, _Track] = {}

    def reset(self) -> None:
        self._tracks.clear()

    def update(self, frame: int, detections: Detections, signals: FrameSignals) -> list[Event]:
        """The events of ``frame``, in detection order (per-detection kinds first)."""
        track_ids = detections.track_ids
        events = self._per_detection(frame, signals, track_ids)
        if track_ids is not None:
            events += self._per_track(frame, detections, signals)
        # A track missing for longer than the gap is gone; if it returns it starts afresh.
        gap = self.thresholds.dropout_gap
        for track_id in [t for t, s in self._tracks.items() if frame - s.last_frame > gap]:
            del self._tracks[track_id]
        return events

    def _per_detection(
        self, frame: int, signals: FrameSignals, track_ids: np.ndarray | None
    ) -> list[Event]:
        events = []
        for row, signal in enumerate(signals.detections):
            track_id = None if track_ids is None else int(track_ids[row])
            share = signal.attention_in_box
            if signal.empty:
                events.append(Event("empty_explanation", frame, row, track_id, 1.0, "all-zero map"))
            elif share is not None and share < self.thresholds.attention_in_box:
                detail = f"{share:.0%} of the map inside the box"
                events.append(Event("attention_outside_box", frame, row, track_id, share, detail))
        return events

    def _per_track(self, frame: int, detections: Detections, signals: FrameSignals) -> list[Event]:
        limits = self.thresholds
        events: list[Event] = []
        seen: set[int] = set()
        map_boxes = detections.map_boxes()  # the maps may be smaller than the frame
        for row, track_id in enumerate(int(t) for t in detections.track_ids):
            if track_id in seen:
                continue  # a tracker gives each id once per frame; ignore a repeat
            seen.add(track_id)
            name, score = detections.names[row], float(detections.scores[row])
            snapshot = None
            if detections.heatmaps is not None and not signals.detections[row].empty:
                snapshot = map_snapshot(detections.heatmaps[row], map_boxes[row])
            track = self._tracks.get(track_id)
            missing = frame - track.last_frame - 1 if track else 0
            if track is None or missing > limits.dropout_gap:
                track = self._tracks[track_id] = _Track(name, frame, snapshot)
            else:
                events += self._changes(frame, row, track_id, track, name, snapshot, missing)
                track.label, track.last_frame = name, frame
                if snapshot is not None:
                    track.snapshot = snapshot
            track.low_run = track.low_run + 1 if score < limits.low_score else 0
            if track.low_run == limits.low_score_frames:
                detail = f"below {limits.low_score:g} for {limits.low_score_frames} frames"
                events.append(
                    Event("low_confidence_persistent", frame, row, track_id, score, detail)
                )
        return events

    def _changes(
        self,
        frame: int,
        row: int,
        track_id: int,
        track: _Track,
        name: str,
        snapshot: MapSnapshot | None,
        missing: int,
    ) -> list[Event]:
        """Dropout, class flip and flicker of a known track seen again on ``frame``."""
        events = []
        if missing >= 1:
            track.low_run = 0  # a run of low scores must be unbroken
            detail = f"missing for {missing} frame{'s' if missing > 1 else ''}"
            events.append(Event("dropout", frame, row, track_id, float(missing), detail))
        if name != track.label:
            detail = f"{track.label} -> {name}"
            events.append(Event("class_flip", frame, row, track_id, 1.0, detail))
        if snapshot is not None and track.snapshot is not None and missing == 0:
            change = map_change(track.snapshot, snapshot)
            if change > self.thresholds.flicker:
                detail = f"{change:.0%} of the map moved"
                events.append(Event("flicker", frame, row, track_id, change, detail))
        return events
