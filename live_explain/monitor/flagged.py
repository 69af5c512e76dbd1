"""The flagged frames a report shows: per event kind, the frames of its most severe events,
as small JPEG thumbnails of the overlay with the flagged detection outlined.

Kept while a drive is exported (a bounded number, so memory does not grow with the drive),
or chosen from a log afterwards and cut from the annotated video the log names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from live_explain.io.images import has_utf8_name
from live_explain.monitor.events import Event

PER_KIND = 4
THUMBNAIL_WIDTH = 320
JPEG_QUALITY = 80


@dataclass(frozen=True)
class Thumbnail:
    """One flagged frame: ``position`` is its place in the log and the video (from 0)."""

    event: Event
    position: int
    pts_ms: float
    box: tuple[float, ...] | None  # the flagged detection's box in frame pixels
    jpeg: bytes | None = None


def thumbnail_jpeg(image_bgr: np.ndarray, box: Sequence[float] | None) -> bytes:
    """A JPEG of ``image`` shrunk to :data:`THUMBNAIL_WIDTH` with ``box`` outlined and, for a
    small box, a magnified inset of it and its surroundings in the far top corner."""
    height, width = image_bgr.shape[:2]
    scale = min(1.0, THUMBNAIL_WIDTH / width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(image_bgr, size, interpolation=cv2.INTER_AREA)
    if box is not None:
        # Outlined a few pixels outside the box, so the overlay's own box stays visible.
        x0, y0, x1, y1 = (round(v * scale) for v in box)
        corners = (x0 - 4, y0 - 4), (x1 + 4, y1 + 4)
        cv2.rectangle(small, *corners, (0, 0, 0), 4, cv2.LINE_AA)
        cv2.rectangle(small, *corners, (0, 255, 255), 2, cv2.LINE_AA)
        if (box[2] - box[0]) < width / 4 and (box[3] - box[1]) < height / 3:
            _inset(small, image_bgr, box)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


def _inset(thumbnail: np.ndarray, image: np.ndarray, box: Sequence[float]) -> None:
    """Paste the box's neighbourhood (three times its size) from the full-size ``image``,
    enlarged to half the thumbnail's height, into the top corner away from the box."""
    height, width = image.shape[:2]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half_h = max(box[3] - box[1], 16.0) * 1.5
    half_w = max(box[2] - box[0], half_h * 4 / 3 / 1.5) * 1.5
    x0, x1 = int(max(0, cx - half_w)), int(min(width, cx + half_w))
    y0, y1 = int(max(0, cy - half_h)), int(min(height, cy + half_h))
    crop = image[y0:y1, x0:x1]
    inset_h = thumbnail.shape[0] // 2
    inset_w = max(1, min(thumbnail.shape[1] // 2, round(crop.shape[1] * inset_h / crop.shape[0])))
    inset = cv2.resize(crop, (inset_w, inset_h), interpolation=cv2.INTER_LINEAR)
    left = cx > width / 2  # the box is on the right: the inset goes top left
    ix = 0 if left else thumbnail.shape[1] - inset_w
    thumbnail[0:inset_h, ix : ix + inset_w] = inset
    cv2.rectangle(thumbnail, (ix, 0), (ix + inset_w - 1, inset_h - 1), (0, 255, 255), 1)


class FlaggedFrames:
    """Keeps, per event kind, the frames of that kind's ``per_kind`` most severe events
    (ties: the earlier frame), at most one per frame and one per track, so that one bad
    track does not fill a kind's row."""

    def __init__(self, per_kind: int = PER_KIND) -> None:
        self.per_kind = per_kind
        self._kept: dict[str, list[tuple[tuple[float, int], Thumbnail]]] = {}

    def offer(
        self,
        position: int,
        pts_ms: float,
        events: Iterable[Event],
        boxes: Sequence[Sequence[float]],
        image: Callable[[], np.ndarray] | None = None,
    ) -> None:
        """Consider one frame; ``image()`` (the overlay) is only called for a kept event."""
        for event in sorted(events, key=lambda e: -e.severity):
            kept = self._kept.setdefault(event.kind, [])
            if any(thumb.position == position for _, thumb in kept):
                continue  # this frame is in already, with a worse event of this kind
            key = (event.severity, -position)
            same_track = [
                item
                for item in kept
                if event.track_id is not None and item[1].event.track_id == event.track_id
            ]
            if same_track:
                out = same_track[0]
            elif len(kept) >= self.per_kind:
                out = min(kept, key=lambda item: item[0])
            else:
                out = None
            if out is not None and key <= out[0]:
                continue
            row = event.detection
            box = tuple(float(v) for v in boxes[row]) if row is not None else None
            jpeg = thumbnail_jpeg(image(), box) if image is not None else None
            if out is not None:
                kept.remove(out)
            kept.append((key, Thumbnail(event, position, pts_ms, box, jpeg)))

    def thumbnails(self) -> list[Thumbnail]:
        """Kept frames by kind, each kind's in frame order."""
        return [
            thumb
            for kind in sorted(self._kept)
            for _, thumb in sorted(self._kept[kind], key=lambda item: item[1].position)
        ]


def cut_from_video(thumbnails: list[Thumbnail], video: Path) -> list[Thumbnail]:
    """Fill in the JPEGs of ``thumbnails`` from frames of ``video`` (frame = position).

    Thumbnails whose frame cannot be read keep ``jpeg=None``.
    """
    if not has_utf8_name(video):  # OpenCV crashes on such a name: no thumbnails then
        return thumbnails
    wanted = sorted({t.position for t in thumbnails})
    images: dict[int, np.ndarray] = {}
    capture = cv2.VideoCapture(str(video))
    try:
        current = 0  # the position of the next frame the capture returns
        for position in wanted:
            if position - current > 50:  # far ahead: seek rather than decode every frame
                capture.set(cv2.CAP_PROP_POS_FRAMES, position)
                current = position
            while current < position and capture.grab():
                current += 1
            ok, image = capture.read()
            if not ok:
                break
            current += 1
            images[position] = image
    finally:
        capture.release()
    return [
        replace(t, jpeg=thumbnail_jpeg(images[t.position], t.box)) if t.position in images else t
        for t in thumbnails
    ]
