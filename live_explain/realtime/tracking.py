"""A lightweight IoU tracker: stable ids for detections across frames.

Each frame, detections are matched greedily to the live tracks by box overlap (IoU), the
best pairs first; a pair of the same class wins over a pair of another class, so a track
keeps its id when the detector flips its class (the monitor reports that as an event). A
track that finds no detection survives ``max_misses`` frames, so a detection that drops
out for a few frames comes back under its old id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live_explain.monitor.metrics import box_iou


@dataclass
class Track:
    """One tracked object: its latest box, label and score, and how long it has lived."""

    track_id: int
    box: np.ndarray
    label: int
    score: float
    first_frame: int
    last_frame: int
    misses: int = 0


class IoUTracker:
    """Assigns track ids to each frame's detections (see the module docstring)."""

    def __init__(self, iou_thresh: float = 0.3, max_misses: int = 5) -> None:
        self.iou_thresh = iou_thresh
        self.max_misses = max_misses
        self.tracks: dict[int, Track] = {}
        self._next_id = 1
        self._frame = -1

    def reset(self) -> None:
        """Forget every track (after a seek); ids keep counting up."""
        self.tracks.clear()

    def update(self, boxes: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Track ids (K,) int64 for this frame's detections."""
        self._frame += 1
        count = len(boxes)
        ids = np.zeros(count, np.int64)
        live = list(self.tracks.values())
        matched_dets: set[int] = set()
        matched_tracks: set[int] = set()
        if count and live:
            iou = box_iou(boxes, np.stack([t.box for t in live]))
            same = np.asarray(labels)[:, None] == np.array([t.label for t in live])[None, :]
            rank = iou + same  # same-class pairs first, then by overlap
            for flat in np.argsort(-rank, axis=None, kind="stable"):
                d, t = divmod(int(flat), len(live))
                if iou[d, t] < self.iou_thresh:
                    continue
                if d in matched_dets or t in matched_tracks:
                    continue
                matched_dets.add(d)
                matched_tracks.add(t)
                ids[d] = live[t].track_id
        for d in range(count):
            if d not in matched_dets:
                ids[d] = self._next_id
                self._next_id += 1
        seen = set(ids.tolist())
        for track in live:
            if track.track_id not in seen:
                track.misses += 1
                if track.misses > self.max_misses:
                    del self.tracks[track.track_id]
        for d in range(count):
            tid = int(ids[d])
            track = self.tracks.get(tid)
            if track is None:
                track = Track(tid, boxes[d], int(labels[d]), float(scores[d]), self._frame, 0)
                self.tracks[tid] = track
            track.box = np.asarray(boxes[d], np.float32).copy()
            track.label, track.score = int(labels[d]), float(scores[d])
            track.last_frame, track.misses = self._frame, 0
        return ids
