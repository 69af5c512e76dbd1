"""Ultralytics YOLO (YOLOv8, YOLO11, YOLO26) as a detector family.

The frame is letterboxed to the model's input (the long side to 640 px, padded at the bottom
and right to a multiple of the stride) and run through Ultralytics' own forward. The Detect
head gives, per anchor, a decoded box and the sigmoid probability of each class. A kept
detection's score is that probability at its own anchor, for its class, as Ultralytics reports
it (and as torchvision's detectors report theirs): it is picked out of the head's output by
indexing, the anchors NMS keeps (YOLOv8, YOLO11) or the queries the one-to-one head ranks
first (YOLO26, no NMS). Autograd from the target layer on then connects every kept score to
its own anchor, so the general recording of :mod:`~live_explain.explain.family.base` is exact,
with one batched backward for all K detections of a frame.

Default layer ``neck``: the P3/P4/P5 maps the Detect head reads. Each detection's score depends
on one level only (its anchor's), so its map comes from that level, as on an FPN.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms, box_convert

from live_explain.explain.detection_maps import Geometry
from live_explain.explain.family.base import Detected, FamilyAdapter

PAD_VALUE = 114 / 255  # the grey Ultralytics letterboxes with
IOU_THRESH = 0.7  # Ultralytics' NMS default
MAX_CANDIDATES = 30_000  # boxes NMS looks at, best first (as Ultralytics)
DEFAULT_CONF = 0.25  # lowered by keep() to the user's --score-thresh


def letterbox(image: torch.Tensor, size: int, stride: int) -> tuple[torch.Tensor, Geometry]:
    """(3, H, W) in [0, 1] resized so that its long side is ``size``, padded at the bottom and
    right to multiples of ``stride``: the (1, 3, Hp, Wp) input and its geometry."""
    height, width = image.shape[-2:]
    scale = size / max(height, width)
    resized = (max(1, round(height * scale)), max(1, round(width * scale)))
    padded = tuple(math.ceil(side / stride) * stride for side in resized)
    x = image[None]
    if resized != (height, width):
        x = F.interpolate(x, size=resized, mode="bilinear", align_corners=False)
    pad = (0, padded[1] - resized[1], 0, padded[0] - resized[0])
    if any(pad):
        x = F.pad(x, pad, value=PAD_VALUE)
    return x, Geometry(padded, resized, (height, width))


class YOLOAdapter(FamilyAdapter):
    name = "yolo"
    default_layer = "neck"
    layer_hint = "try neck (the default: the P3/P4/P5 maps the Detect head reads) or a model.N"

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self.conf = DEFAULT_CONF
        self.max_det = 300

    @classmethod
    def matches(cls, model: nn.Module) -> bool:
        return type(model).__name__ == "YOLODetector" and hasattr(model, "ultralytics_model")

    def keep(self, score_thresh: float, topk: int) -> None:
        self.conf = min(self.conf, score_thresh)
        self.max_det = max(self.max_det, topk)
        if self.model.end2end:
            self.model.head.max_det = max(self.model.head.max_det, topk)

    def detect(self, image: torch.Tensor) -> Detected:
        x, geometry = letterbox(image, self.model.image_size, self.model.stride)
        y = self.model(x)
        y = y[0] if isinstance(y, (tuple, list)) else y
        output = self._queries(y[0]) if self.model.end2end else self._nms(y[0])
        (height, width), (rh, rw) = geometry.frame, geometry.resized
        scale = output["boxes"].new_tensor([width / rw, height / rh, width / rw, height / rh])
        boxes = output["boxes"] * scale
        limit = boxes.new_tensor([width, height, width, height])
        output["boxes"] = torch.minimum(boxes.clamp(min=0), limit)
        return Detected(output, geometry)

    def _nms(self, prediction: torch.Tensor) -> dict:
        """YOLOv8/YOLO11: (4 + nc, A) boxes (cx, cy, w, h) and class probabilities per anchor;
        each anchor's best class, above the threshold, then class-wise NMS."""
        probabilities = prediction[4:]
        scores, labels = probabilities.max(dim=0)  # the score keeps its path to its anchor
        candidates = torch.nonzero(scores.detach() > self.conf).flatten()
        if len(candidates) > MAX_CANDIDATES:
            best = scores.detach()[candidates].topk(MAX_CANDIDATES).indices
            candidates = candidates[best]
        boxes = box_convert(prediction[:4, candidates].T, "cxcywh", "xyxy")
        kept = batched_nms(
            boxes.detach(), scores.detach()[candidates], labels[candidates], IOU_THRESH
        )[: self.max_det]
        anchors = candidates[kept]
        return {
            "boxes": boxes[kept],
            "scores": scores[anchors],
            "labels": labels[anchors],
            "anchors": anchors,
        }

    def _queries(self, prediction: torch.Tensor) -> dict:
        """YOLO26's one-to-one head: (max_det, 6) rows x1, y1, x2, y2, score, class, best
        first; no NMS."""
        kept = torch.nonzero(prediction[:, 4].detach() > self.conf).flatten()
        return {
            "boxes": prediction[kept, :4],
            "scores": prediction[kept, 4],
            "labels": prediction[kept, 5].detach().long(),
        }
