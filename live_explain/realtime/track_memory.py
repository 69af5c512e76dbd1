"""Track ids that survive a replay's revisits: step back, seek, or a settings change.

The tracker forgets its tracks on every jump (the frames in between were not seen), so on
its own it gives the same object a new id each time a frame is shown again. A
:class:`TrackMemory` remembers, per frame index, which box had which id; a frame shown again
gets its old ids back by box overlap (same class first), and the tracker's new ids are
translated to the remembered ones from then on, so playing on from a revisited frame keeps
them too. Objects never seen before get ids above every id handed out so far.
"""

from __future__ import annotations

import numpy as np

from live_explain.monitor.metrics import box_iou

SAME_OBJECT_IOU = 0.5  # a box on a revisited frame this close to a remembered one is that object
NEAR_FRAMES = 5  # after a jump to a frame not seen, the nearest one seen this close is used
NEAR_IOU = 0.3  # ... with the tracker's own overlap (the objects moved a little in between)


class TrackMemory:
    """Translates a tracker's ids into ids that stay put across revisits (see the module)."""

    def __init__(self, iou_thresh: float = SAME_OBJECT_IOU) -> None:
        self.iou_thresh = iou_thresh
        self._frames: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._alias: dict[int, int] = {}  # tracker id -> shown id, since its last reset
        self._next = 1

    def tracker_reset(self) -> None:
        """The tracker forgot its tracks: its next ids are new and need translating anew."""
        self._alias.clear()

    def relabel(
        self, index: int, boxes: np.ndarray, labels: np.ndarray, tracker_ids: np.ndarray
    ) -> np.ndarray:
        """The ids (K,) int64 to show for frame ``index``'s detections."""
        count = len(boxes)
        shown = np.zeros(count, np.int64)
        taken: set[int] = set()
        for row, known_id in self._remembered(index, boxes, labels).items():
            shown[row] = known_id
            taken.add(known_id)
        for row in range(count):
            if shown[row]:
                continue
            alias = self._alias.get(int(tracker_ids[row]))
            if alias is None or alias in taken:
                alias = self._next
                self._next += 1
            shown[row] = alias
            taken.add(alias)
        for row in range(count):
            self._alias[int(tracker_ids[row])] = int(shown[row])
        if count:
            self._next = max(self._next, int(shown.max()) + 1)
        self._frames[index] = (
            np.asarray(boxes, np.float32).copy(),
            np.asarray(labels).copy(),
            shown.copy(),
        )
        return shown

    def _nearest(self, index: int) -> tuple[tuple[np.ndarray, ...] | None, float]:
        """What was seen on frame ``index`` (and the overlap that makes a match), or, right
        after a jump (the tracker reset) to a frame not seen, on the nearest frame seen."""
        if index in self._frames:
            return self._frames[index], self.iou_thresh
        if self._alias:  # playing on: the tracker carries the ids from the frame before
            return None, self.iou_thresh
        near = [i for i in self._frames if abs(i - index) <= NEAR_FRAMES]
        if not near:
            return None, self.iou_thresh
        return self._frames[min(near, key=lambda i: (abs(i - index), i))], NEAR_IOU

    def _remembered(self, index: int, boxes: np.ndarray, labels: np.ndarray) -> dict[int, int]:
        """Row -> remembered id, for this frame's boxes that were seen on it (or, after a
        jump, on a frame next to it) before."""
        known, thresh = self._nearest(index)
        if known is None or not len(boxes) or not len(known[0]):
            return {}
        old_boxes, old_labels, old_ids = known
        iou = box_iou(np.asarray(boxes, np.float32), old_boxes)
        same = np.asarray(labels)[:, None] == old_labels[None, :]
        rank = iou + same  # the same class first, then by overlap
        found: dict[int, int] = {}
        used: set[int] = set()
        for flat in np.argsort(-rank, axis=None, kind="stable"):
            row, old = divmod(int(flat), len(old_boxes))
            if iou[row, old] < thresh or row in found or old in used:
                continue
            found[row] = int(old_ids[old])
            used.add(old)
        return found
