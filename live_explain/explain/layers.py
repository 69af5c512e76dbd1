"""Documented default target layers, per model family.

Detectors: ``backbone`` — its output is what the heads read (the FPN levels of Faster R-CNN,
RetinaNet and FCOS; the feature maps of SSD), so each detection's map comes from the very
features its score was computed from. Ultralytics YOLO: ``neck``, the P3/P4/P5 maps its
Detect head reads. Classifiers: the last convolutional stage.
"""

from __future__ import annotations

from torch import nn

from live_explain.errors import UserError

CLASSIFIER_LAYERS = {
    "ResNet": "layer4",
    "MobileNetV2": "features",
    "MobileNetV3": "features",
    "EfficientNet": "features",
    "ConvNeXt": "features",
    "RegNet": "trunk_output",
    "VGG": "features",
    "DenseNet": "features",
}


def default_layer(model: nn.Module) -> str:
    """The documented default target layer for ``model``."""
    from live_explain.explain.family import ADAPTERS

    for adapter in ADAPTERS:  # a detector: its family's default (backbone; YOLO's neck)
        if adapter.matches(model):
            return adapter.default_layer
    name = CLASSIFIER_LAYERS.get(type(model).__name__)
    if name is None:
        raise UserError(f"no default layer for {type(model).__name__}; pass layer=NAME")
    return name
