"""The dense one-stage families of torchvision: RetinaNet, FCOS, SSD (and SSDlite).

Their post-processing picks each kept detection's score out of the head's per-anchor class
logits (top-k per level, then NMS) by indexing, so autograd from the target layer on
connects every kept score to its own anchor: the general recording of
:mod:`~live_explain.explain.family.base` is exact for them, with one batched backward.
"""

from __future__ import annotations

from torchvision.models.detection import FCOS, RetinaNet
from torchvision.models.detection.ssd import SSD

from live_explain.explain.family.base import TorchvisionAdapter


class RetinaNetAdapter(TorchvisionAdapter):
    name = "retinanet"
    detector_class = RetinaNet


class FCOSAdapter(TorchvisionAdapter):
    name = "fcos"
    detector_class = FCOS


class SSDAdapter(TorchvisionAdapter):
    name = "ssd"
    detector_class = SSD
