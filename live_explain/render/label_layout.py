"""Where box labels go: beside their own box, clear of each other and of small boxes.

Each label tries spots around its box (above, below, stacked further out, then to the sides),
kept inside the frame; the first spot that covers no placed label and no small box wins. A
label with no such spot is not shown (the box is still drawn; hovering it says what it is):
on a crowded frame in a small window a hidden label is better than a hidden object.
Better-scored detections choose first. The same layout serves the
burned-in labels of an export (in frame pixels) and the window's labels (in screen pixels).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1
STACK_LEVELS = 6  # how many label heights out from its box a label may be stacked
SMALL_BOX_LABELS = 4.0  # a box smaller than this many of its labels must stay visible
LABEL_WEIGHT, SMALL_BOX_WEIGHT, BOX_WEIGHT = 1000.0, 100.0, 0.5  # per unit area covered


@dataclass(frozen=True)
class LabelSpot:
    """One label's rectangle; ``detached``: not touching its box (draw a leader line);
    ``shown``: false when every spot would cover another label or a small box."""

    rect: Rect
    detached: bool
    shown: bool = True


def place_labels(
    boxes: np.ndarray,
    sizes: list[tuple[float, float]],
    frame_size: tuple[float, float],
    priority: np.ndarray | None = None,
    obstacles: list[Rect] = (),
) -> list[LabelSpot]:
    """One spot per box (xyxy, the same units as ``sizes`` (w, h) and ``frame_size`` (W, H)),
    in the boxes' order; ``priority`` (higher first, e.g. scores) decides who chooses first;
    ``obstacles``: rectangles drawn over the frame (a legend) that labels keep clear of."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    count = len(boxes)
    order = range(count) if priority is None else np.argsort(-np.asarray(priority), kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    placed: list[Rect] = list(obstacles)
    spots: dict[int, LabelSpot] = {}
    for row in order:
        row = int(row)
        width, height = sizes[row]
        small = areas < SMALL_BOX_LABELS * width * height
        best: tuple[float, float, LabelSpot] | None = None
        for rect, detached in _candidates(boxes[row], width, height, frame_size):
            blocking, soft = _cost(rect, row, boxes, small, placed)
            if best is None or (blocking, soft) < best[:2]:
                best = (blocking, soft, LabelSpot(rect, detached))
            if blocking == soft == 0.0:
                break
        assert best is not None
        if best[0] > 0:  # nowhere to go without hiding something: not shown
            spots[row] = LabelSpot(best[2].rect, best[2].detached, shown=False)
            continue
        spots[row] = best[2]
        placed.append(best[2].rect)
    return [spots[row] for row in range(count)]


def _candidates(box, width: float, height: float, frame_size: tuple[float, float]):
    """Spots in order of preference: touching the box above or below (left, then right
    aligned), then stacked further out, then beside the box."""
    x0, y0, x1, y1 = (float(v) for v in box)
    frame_w, frame_h = frame_size
    for level in range(STACK_LEVELS + 1):
        detached = level > 0
        for top in (y0 - height * (level + 1), y1 + height * level):
            for left in (x0, x1 - width):
                yield _inside((left, top, left + width, top + height), frame_w, frame_h), detached
        if level == 0:  # inside the top of a large box
            yield _inside((x0, y0, x0 + width, y0 + height), frame_w, frame_h), False
    for left in (x1, x0 - width):
        yield _inside((left, y0, left + width, y0 + height), frame_w, frame_h), False


def _inside(rect: Rect, frame_w: float, frame_h: float) -> Rect:
    x0, y0, x1, y1 = rect
    dx = max(0.0, -x0) - max(0.0, x1 - frame_w)
    dy = max(0.0, -y0) - max(0.0, y1 - frame_h)
    return (x0 + dx, y0 + dy, x1 + dx, y1 + dy)


def _cost(rect: Rect, row: int, boxes: np.ndarray, small: np.ndarray, placed: list[Rect]):
    """(blocking, soft): the area of labels and small boxes covered (weighted), and of the
    other large boxes."""
    blocking = sum(LABEL_WEIGHT * overlap(rect, other) for other in placed)
    covered = _overlaps(rect, boxes)
    others = np.ones(len(boxes), bool)
    others[row] = False
    blocking += SMALL_BOX_WEIGHT * float(covered[small & others].sum())
    blocking += SMALL_BOX_WEIGHT * float(covered[row]) if small[row] else 0.0
    return blocking, BOX_WEIGHT * float(covered[~small & others].sum())


def overlap(a: Rect, b: Rect) -> float:
    """Area shared by two rectangles."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, width) * max(0.0, height)


def _overlaps(rect: Rect, boxes: np.ndarray) -> np.ndarray:
    width = np.minimum(rect[2], boxes[:, 2]) - np.maximum(rect[0], boxes[:, 0])
    height = np.minimum(rect[3], boxes[:, 3]) - np.maximum(rect[1], boxes[:, 1])
    return np.clip(width, 0, None) * np.clip(height, 0, None)


def leader_line(label: Rect, box) -> tuple[tuple[float, float], tuple[float, float]]:
    """From the middle of a detached label's edge that faces its box to the nearest point of
    the box's top (label above) or bottom (label below) edge."""
    x0, y0, x1, y1 = (float(v) for v in box)
    centre = (label[0] + label[2]) / 2
    above = label[3] <= y0
    start = (centre, label[3] if above else label[1])
    return start, (min(max(centre, x0), x1), y0 if above else y1)
