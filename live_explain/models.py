"""Old import path of :mod:`live_explain.model` (``from live_explain.models import load_model``
as the README and the design show it), kept for users' code."""

from live_explain.model.loading import (
    CLASSIFIERS,
    DEFAULT_DETECTOR,
    DEMO_MODEL,
    DETECTORS,
    WEIGHT_CHOICES,
    check_model_name,
    demo_weights_file,
    is_detector,
    load_model,
    weights_cached,
)

__all__ = [
    "CLASSIFIERS",
    "DEFAULT_DETECTOR",
    "DEMO_MODEL",
    "DETECTORS",
    "WEIGHT_CHOICES",
    "check_model_name",
    "demo_weights_file",
    "is_detector",
    "load_model",
    "weights_cached",
]
