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
on one level only (its anchor's), and there only on a small window: the class branch is a few
stride-1 convolutions, so the score at anchor (i, j) reads the level's cells within radius r
of it (r = 2 for YOLOv8, YOLO11 and YOLO26). At the default layer the forward therefore runs
without autograd, and afterwards each detection's class branch runs again on its own
(2r + 1)^2 window of the level (a window moved inside the map at its edges, so that every edge
of the window is either the map's own edge, where the convolutions pad with zeros as on the
whole map, or at least r cells away): the exact gradient, on that window, for all K detections
in one small batched backward. Other layers take the general autograd recording.
"""

from __future__ import annotations

import math
import threading
import time
import weakref

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import batched_nms, box_convert

from live_explain.explain.detection_maps import Geometry, Part
from live_explain.explain.family.base import (
    AutogradRecording,
    Detected,
    FamilyAdapter,
    Recording,
    Selector,
)
from live_explain.explain.hooks import capture_layers, frozen_parameters
from live_explain.explain.methods import Evidence, Method
from live_explain.explain.roi_grad import window_rows_cols

PAD_VALUE = 114 / 255  # the grey Ultralytics letterboxes with
IOU_THRESH = 0.7  # Ultralytics' NMS default
MAX_CANDIDATES = 30_000  # boxes NMS looks at, best first (as Ultralytics)
DEFAULT_CONF = 0.25  # lowered by keep() to the user's --score-thresh


def letterbox_geometry(frame: tuple[int, int], size: int, stride: int) -> Geometry:
    """A frame (H, W) resized so that its long side is ``size``, padded at the bottom and
    right to multiples of ``stride``."""
    height, width = frame
    scale = size / max(height, width)
    resized = (max(1, round(height * scale)), max(1, round(width * scale)))
    padded = tuple(math.ceil(side / stride) * stride for side in resized)
    return Geometry(padded, resized, (height, width))


def letterbox(image: torch.Tensor, size: int, stride: int) -> tuple[torch.Tensor, Geometry]:
    """(3, H, W) in [0, 1] letterboxed (:func:`letterbox_geometry`, grey padding): the
    (1, 3, Hp, Wp) input and its geometry."""
    geometry = letterbox_geometry(tuple(image.shape[-2:]), size, stride)
    (height, width), resized, padded = geometry.frame, geometry.resized, geometry.padded
    x = image[None]
    if resized != (height, width):
        x = F.interpolate(x, size=resized, mode="bilinear", align_corners=False)
    pad = (0, padded[1] - resized[1], 0, padded[0] - resized[0])
    if any(pad):
        x = F.pad(x, pad, value=PAD_VALUE)
    return x, geometry


_locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_locks_lock = threading.Lock()


def forward_lock(model: nn.Module) -> threading.Lock:
    """One lock per model: threads that share it (the pipeline's workers) run its forward
    one at a time, since its Detect head keeps anchors for the last input shape it saw."""
    with _locks_lock:
        lock = _locks.get(model)
        if lock is None:
            lock = _locks[model] = threading.Lock()
    return lock


class YOLOAdapter(FamilyAdapter):
    name = "yolo"
    default_layer = "neck"
    layer_hint = "try neck (the default: the P3/P4/P5 maps the Detect head reads) or a model.N"

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self.conf = DEFAULT_CONF
        self.max_det = 300
        self.class_branches = list(class_branches(model.head))
        self.radius = window_radius(self.class_branches)

    @classmethod
    def matches(cls, model: nn.Module) -> bool:
        return type(model).__name__ == "YOLODetector" and hasattr(model, "ultralytics_model")

    def keep(self, score_thresh: float, topk: int) -> None:
        self.conf = min(self.conf, score_thresh)
        self.max_det = max(self.max_det, topk)
        if self.model.end2end:
            self.model.head.max_det = max(self.model.head.max_det, topk)

    def record(self, image: torch.Tensor, layer: str, method: Method, select: Selector):
        windowed = layer == self.default_layer and method.needs_gradients
        if windowed and not method.at_input and self._windows_fit(image):
            return WindowedRecording(self, image, method, select)
        return AutogradRecording(self, image, layer, method, select)

    def _windows_fit(self, image: torch.Tensor) -> bool:
        """Whether a (2r + 1)^2 window fits the coarsest level of this frame's input."""
        if self.radius is None:
            return False
        geometry = letterbox_geometry(tuple(image.shape[-2:]), *self._input_size)
        coarsest = min(geometry.padded) // self.model.stride
        return coarsest >= 2 * self.radius + 1

    @property
    def _input_size(self) -> tuple[int, int]:
        return self.model.image_size, self.model.stride

    def detect(self, image: torch.Tensor) -> Detected:
        x, geometry = letterbox(image, *self._input_size)
        with forward_lock(self.model):  # the head caches anchors for the last input shape
            y, raw = self.model(x)
        if self.model.end2end:
            output = self._queries(y[0], raw["one2one"]["scores"])
        else:
            output = self._nms(y[0])
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

    def _queries(self, prediction: torch.Tensor, logits: torch.Tensor) -> dict:
        """YOLO26's one-to-one head: (max_det, 6) rows x1, y1, x2, y2, score, class, best
        first; no NMS. Each row's anchor comes from the head's own top-k of its class
        probabilities (``logits`` (1, nc, A)), the ranking that made the rows."""
        head = self.model.head
        probabilities = logits.detach().sigmoid().permute(0, 2, 1)
        _, _, anchor_of_row = head.get_topk_index(probabilities, head.max_det)
        kept = torch.nonzero(prediction[:, 4].detach() > self.conf).flatten()
        return {
            "boxes": prediction[kept, :4],
            "scores": prediction[kept, 4],
            "labels": prediction[kept, 5].detach().long(),
            "anchors": anchor_of_row[0][kept],
        }


def class_branches(head: nn.Module):
    """The Detect head's class-score branch of each level (the one-to-one one for YOLO26)."""
    if getattr(head, "end2end", False):
        return head.one2one_cv3
    return head.cv3


def window_radius(branches) -> int | None:
    """How far (in cells) a class score reads around its anchor: the branches' stride-1,
    same-padded convolutions' radii summed (``None``: another kind of branch)."""
    radii = set()
    for branch in branches:
        radius = 0
        for module in branch.modules():
            if isinstance(module, nn.Conv2d):
                (kh, kw), (sh, sw) = module.kernel_size, module.stride
                (dh, dw), padding = module.dilation, module.padding
                reach = (dh * (kh - 1) // 2, dw * (kw - 1) // 2)
                if (sh, sw) != (1, 1) or kh != kw or tuple(padding) != reach:
                    return None
                radius += reach[0]
        radii.add(radius)
    return radii.pop() if len(radii) == 1 else None


class WindowedRecording(Recording):
    """The forward without autograd; afterwards each detection's class branch on its own
    window of its level gives the exact gradient of its score there (see the module)."""

    def __init__(
        self, adapter: YOLOAdapter, image: torch.Tensor, method: Method, select: Selector
    ) -> None:
        self.adapter = adapter
        t0 = time.perf_counter()
        with (
            torch.no_grad(),
            capture_layers(adapter.model, {adapter.default_layer: False}, adapter.modules) as cap,
        ):
            detected = adapter.detect(image)
        self.forward_ms = (time.perf_counter() - t0) * 1000.0
        output = detected.output
        keep = select(output)
        self.boxes = output["boxes"][keep].float()
        self.labels = output["labels"][keep]
        self.scores = output["scores"][keep].float()
        self.anchors = output["anchors"][keep]
        levels = cap[adapter.default_layer].output
        self.activations = {i: level[0] for i, level in enumerate(levels)}
        self.geometry = detected.geometry
        sizes = [level.shape[-2] * level.shape[-1] for level in levels]
        self.starts = torch.tensor([0, *sizes], device=image.device).cumsum(0)

    def evidence_kind(self, method: Method) -> str:
        return "gradients"

    def parts(self, rows: torch.Tensor, method: Method) -> list[Part]:
        anchors, labels = self.anchors[rows], self.labels[rows]
        level_of = torch.bucketize(anchors, self.starts[1:-1], right=True)
        radius, size = self.adapter.radius, 2 * self.adapter.radius + 1
        parts = []
        for level in level_of.unique().tolist():
            acts = self.activations[level]
            height, width = acts.shape[-2:]
            on_level = torch.nonzero(level_of == level).flatten()
            cell = anchors[on_level] - self.starts[level]
            i, j = cell // width, cell % width
            top = (i - radius).clamp(0, height - size)
            left = (j - radius).clamp(0, width - size)
            window = window_rows_cols(top, left, size, size)
            crops = acts[:, window[0], window[1]].permute(1, 0, 2, 3).contiguous()
            grad = self._window_gradients(level, crops, labels[on_level], i - top, j - left)
            parts.append(Part(level, Evidence(acts, grad, window=window), on_level))
        return parts

    def _window_gradients(self, level, crops, labels, rows, cols) -> torch.Tensor:
        """d(score)/d(crop) (n, C, s, s): the class branch on each window, one backward."""
        branch = self.adapter.class_branches[level]
        with frozen_parameters(branch), torch.enable_grad():
            crops = crops.requires_grad_(True)
            logits = branch(crops)  # (n, nc, s, s)
            picked = logits[torch.arange(len(crops), device=crops.device), labels, rows, cols]
            (grad,) = torch.autograd.grad(picked.sigmoid().sum(), crops)
        return grad
