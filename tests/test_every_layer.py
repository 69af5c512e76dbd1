"""Every layer works, or is refused in one line: a sweep over every module of the supported
detectors whose output is a 4-D tensor (or an FPN dict/list of them), the names the app's layer
tree offers, for every gradient method of the registry.

Each layer runs one forward pass; every gradient method then explains the same kept detections
from it (``step.explain(rows, method)``), and must give finite maps of the image's size in
[0, 1], or the layer is refused with a :class:`UserError` of one line that says why and names
a layer that works. A refusal must be one of the designed reasons, not a failure that only the
explainer's safety net turned into words. Small images keep it fast; the big models carry the
slow marker.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import gc

import cv2
import pytest
import torch
from test_engine import MEDIA
from torchvision.models import detection as tv_detection

from live_explain.errors import UserError
from live_explain.explain import DetectionExplainer
from live_explain.explain.hooks import tensors_of
from live_explain.explain.methods import gradient_method_names
from live_explain.model.detector import frame_to_tensor
from live_explain.model.loading import load_model

# What a refusal may say (the explainer's designed reasons).
REASONS = (
    "the gradients go from the backbone's outputs down, and it comes after them",
    "the detections' scores do not depend on its output",
    "its output is not (C, h, w) feature maps of the image",
    "its output holds no feature maps",
    "its output holds integer tensors, not feature maps",
    "the forward pass never runs it; name one of its layers",
)


def feature_layers(model: torch.nn.Module, image: torch.Tensor) -> list[str]:
    """Modules whose output in a forward pass on ``image`` is 4-D tensors (all of them)."""
    outputs: dict[str, object] = {}

    def record(name):
        def hook(module, args, output):
            outputs.setdefault(name, output)

        return hook

    handles = [m.register_forward_hook(record(n)) for n, m in model.named_modules() if n]
    try:
        with torch.no_grad():
            model([image])
    finally:
        for handle in handles:
            handle.remove()
    layers = []
    for name, output in outputs.items():
        try:
            tensors = tensors_of(output)
        except TypeError:
            continue
        if tensors and all(t.ndim == 4 for t in tensors):
            layers.append(name)
    return layers


def road(width: int, height: int) -> torch.Tensor:
    image = cv2.resize(cv2.imread(str(MEDIA / "whiteCarLaneSwitch.jpg")), (width, height))
    return frame_to_tensor(image, torch.device("cpu"))


def sweep(model: torch.nn.Module, image: torch.Tensor) -> dict:
    """Explain at every feature layer with every gradient method; what came out."""
    methods = gradient_method_names()
    found = {"explained": [], "lit": [], "refused": collections.Counter()}
    for layer in feature_layers(model, image):
        try:
            explainer = DetectionExplainer(model, methods[0], layer, topk=2, score_thresh=0.0)
            step = explainer.forward(image)
            assert len(step) > 0, "threshold 0 keeps detections"
            for method in methods:
                maps = step.explain(None, method).maps
                assert maps.shape == (len(step), *image.shape[-2:]), (layer, method)
                assert bool(torch.isfinite(maps).all()), (layer, method)
                assert maps.min() >= 0 and maps.max() <= 1, (layer, method)
                if method == methods[0] and bool(maps.any()):
                    found["lit"].append(layer)
            found["explained"].append(layer)
        except UserError as exc:
            text = str(exc)
            assert "\n" not in text, text
            assert text.startswith(f"--layer {layer}: {methods[0]} cannot explain"), text
            assert "try backbone (the default)" in text, text
            reason = text.split(" at this layer (", 1)[1].split("); try ", 1)[0]
            assert reason in REASONS, f"{layer}: {reason}"
            found["refused"][reason] += 1
    return found


@pytest.fixture(autouse=True)
def give_memory_back():
    """A sweep's autograd graphs leave gigabytes in the allocator's free lists: hand them back
    to the system, so that tests after these in the same process start small."""
    yield
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def check(found: dict, layers_at_least: int) -> None:
    explained = found["explained"]
    print(f"{len(explained)} layers explain, refused: {dict(found['refused'])}")
    assert len(explained) >= layers_at_least
    # Not a degenerate pass: most layers that explain give maps with something in them.
    assert len(found["lit"]) >= 0.5 * len(explained)


def test_every_layer_of_the_demo_detector():
    model = load_model("demo", weights="demo")
    model.transform.min_size, model.transform.max_size = (180,), 320  # half its own size
    found = sweep(model, road(320, 180))
    check(found, 50)
    # The RPN and the RoI heads, and only they, are refused.
    assert sum(found["refused"].values()) <= 12


@pytest.mark.slow
def test_every_layer_of_faster_rcnn_mobilenet():
    torch.manual_seed(0)
    model = tv_detection.fasterrcnn_mobilenet_v3_large_320_fpn(
        weights=None, weights_backbone=None, min_size=128, max_size=128
    ).eval()
    found = sweep(model, road(192, 108))
    check(found, 250)


@pytest.mark.slow
def test_every_layer_of_ssdlite():
    torch.manual_seed(0)
    model = tv_detection.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None)
    model.transform.fixed_size = (160, 160)  # its anchors follow the feature maps' sizes
    model.topk_candidates = 10  # per class before NMS (300): at threshold 0, 90 classes' worth
    model.eval()
    found = sweep(model, road(192, 108))
    check(found, 300)


@pytest.mark.slow
def test_every_layer_of_retinanet():
    torch.manual_seed(0)
    model = tv_detection.retinanet_resnet50_fpn(
        weights=None, weights_backbone=None, min_size=128, max_size=128
    ).eval()
    found = sweep(model, road(192, 108))
    check(found, 120)
