"""Explanations: the Grad-CAM family, EigenCAM, CAM and saliency, for detectors and classifiers.

>>> from live_explain.explain import explain_classifier, explain_detections
"""

from live_explain.explain.classifier import explain_classifier
from live_explain.explain.detection import (
    DetectionExplainer,
    ExplainedDetections,
    explain_detections,
)
from live_explain.explain.methods import METHODS
from live_explain.explain.reference import naive_detection_maps

__all__ = [
    "METHODS",
    "DetectionExplainer",
    "ExplainedDetections",
    "explain_classifier",
    "explain_detections",
    "naive_detection_maps",
]
