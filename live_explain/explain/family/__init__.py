"""Detector families as adapters: what differs per family lives behind
:class:`~live_explain.explain.family.base.FamilyAdapter`; a new family is one module with
one adapter class, added to :data:`ADAPTERS`.

>>> adapter = adapter_for(model)   # FasterRCNNAdapter, RetinaNetAdapter, YOLOAdapter, ...
>>> recording = adapter.record(image, "backbone", method, select)
"""

from __future__ import annotations

from torch import nn

from live_explain.errors import UserError
from live_explain.explain.family.base import FamilyAdapter, LayerRefused, Recording
from live_explain.explain.family.dense import FCOSAdapter, RetinaNetAdapter, SSDAdapter
from live_explain.explain.family.faster_rcnn import FasterRCNNAdapter
from live_explain.explain.family.yolo import YOLOAdapter

ADAPTERS: list[type[FamilyAdapter]] = [
    FasterRCNNAdapter,
    RetinaNetAdapter,
    FCOSAdapter,
    SSDAdapter,
    YOLOAdapter,
]


def adapter_for(model: nn.Module) -> FamilyAdapter:
    """The adapter of ``model``'s family, or a one-line error."""
    for adapter in ADAPTERS:
        if adapter.matches(model):
            return adapter(model)
    raise UserError(f"{type(model).__name__} is not a supported detector")


__all__ = ["ADAPTERS", "FamilyAdapter", "LayerRefused", "Recording", "adapter_for"]
