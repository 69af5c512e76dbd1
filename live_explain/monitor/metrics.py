"""Detection and explanation quality: mAP@0.5 and the energy pointing game."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch
import torchvision


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of xyxy boxes: :func:`torchvision.ops.box_iou` on NumPy
    arrays (in float64), 0 where two boxes without area meet."""
    a = torch.from_numpy(np.asarray(a, np.float64).reshape(-1, 4))
    b = torch.from_numpy(np.asarray(b, np.float64).reshape(-1, 4))
    return torch.nan_to_num(torchvision.ops.box_iou(a, b), nan=0.0).numpy()


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the precision envelope (all-point interpolation, as in VOC 2010+)."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    steps = np.nonzero(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


class DetectionEvaluator:
    """Accumulates detections and ground truth frame by frame; ``ap()`` per class, ``map()``.

    A detection is a true positive when it overlaps a not yet matched ground-truth box of its
    class with IoU >= ``iou``; detections are matched best score first. Ground truth flagged
    ``difficult`` is handled as in PASCAL VOC: it is not counted among the objects to find,
    and a detection whose best match is a difficult object counts neither way.
    """

    def __init__(self, iou: float = 0.5) -> None:
        self.iou = iou
        self._scores: dict[str, list[float]] = defaultdict(list)
        self._hits: dict[str, list[bool]] = defaultdict(list)
        self._truths: dict[str, int] = defaultdict(int)

    def add(self, boxes, labels, scores, truth_boxes, truth_labels, difficult=None) -> None:
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        truth_boxes = np.asarray(truth_boxes, np.float64).reshape(-1, 4)
        hard = np.zeros(len(truth_boxes), bool) if difficult is None else np.asarray(difficult)
        if hard.shape != (len(truth_boxes),):
            raise ValueError("difficult needs one flag per ground-truth box")
        for name in set(labels) | set(truth_labels):
            mine = [i for i, label in enumerate(labels) if label == name]
            theirs = [i for i, label in enumerate(truth_labels) if label == name]
            self._truths[name] += int((~hard[theirs]).sum()) if theirs else 0
            order = sorted(mine, key=lambda i: -scores[i])
            iou = box_iou(boxes[order], truth_boxes[theirs]) if theirs else None
            taken = np.zeros(len(theirs), bool)
            for row, i in enumerate(order):
                hit = False
                if iou is not None:
                    candidates = np.where(~taken, iou[row], -1.0)
                    best = int(np.argmax(candidates))
                    if candidates[best] >= self.iou:
                        if hard[theirs[best]]:
                            continue  # a detection of a difficult object: ignored
                        taken[best] = hit = True
                self._scores[name].append(float(scores[i]))
                self._hits[name].append(hit)

    def ap(self) -> dict[str, float]:
        """AP per class that has ground truth."""
        result = {}
        for name, total in self._truths.items():
            if total == 0:
                continue
            order = np.argsort(-np.asarray(self._scores[name]), kind="stable")
            hits = np.asarray(self._hits[name], bool)[order]
            tp, fp = np.cumsum(hits), np.cumsum(~hits)
            recall = tp / total
            precision = tp / np.maximum(tp + fp, 1)
            result[name] = average_precision(recall, precision) if len(hits) else 0.0
        return result

    def map(self) -> float:
        aps = self.ap()
        return float(np.mean(list(aps.values()))) if aps else 0.0


def box_bounds(box, width: int, height: int) -> tuple[int, int, int, int]:
    """Integer pixel bounds (x0, y0, x1, y1) of an xyxy box, x1/y1 exclusive: the box grown
    to whole pixels and clipped to a (width, height) frame."""
    x0, y0 = int(max(0, np.floor(box[0]))), int(max(0, np.floor(box[1])))
    x1, y1 = int(min(width, np.ceil(box[2]))), int(min(height, np.ceil(box[3])))
    return x0, y0, x1, y1


def energy_in_box(heatmap: np.ndarray, box) -> float:
    """Share of a heatmap's energy (sum) that lies inside ``box`` (xyxy pixels)."""
    total = float(heatmap.sum())
    if total <= 0:
        return 0.0
    height, width = heatmap.shape
    x0, y0, x1, y1 = box_bounds(box, width, height)
    return float(heatmap[y0:y1, x0:x1].sum()) / total
