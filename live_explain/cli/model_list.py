"""``live-explain models``: the detectors (torchvision's, the demo, Ultralytics YOLO) and
classifiers, and whether their weights are here."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    models = sub.add_parser("models", help="list models and whether their weights are here")
    models.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from live_explain.model.loading import (
        CLASSIFIERS,
        DEFAULT_DETECTOR,
        DEMO_MODEL,
        DETECTORS,
        YOLO_MODELS,
        demo_weights_file,
        weights_cached,
    )

    print(f"{'model':42} {'kind':10} weights here")
    bundled = "yes (bundled)" if demo_weights_file().is_file() else "no (train them)"
    print(f"{DEMO_MODEL + ' (synthetic scenes)':42} {'detector':10} {bundled}")
    for kind, names in (("detector", DETECTORS), ("classifier", CLASSIFIERS)):
        for name in names:
            mark = " (default)" if name == DEFAULT_DETECTOR else ""
            print(f"{name + mark:42} {kind:10} {'yes' if weights_cached(name) else 'no'}")
    for name in YOLO_MODELS:
        print(f"{name + ' (YOLO)':42} {'detector':10} {_yolo_weights(name)}")
    return 0


def _yolo_weights(name: str) -> str:
    """Whether the official COCO checkpoint ``name.pt`` is here (needs the [yolo] extra)."""
    from live_explain.model.names import available_yolo_models

    if not available_yolo_models():
        return "needs pip install 'live-explain[yolo]'"
    from live_explain.model.yolo import checkpoint_here

    return "yes" if checkpoint_here(name) else "no (--weights none works offline)"
