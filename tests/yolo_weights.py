"""Random YOLO weights whose detections differ (for tests and benchmarks).

Ultralytics' initialisation gives nearly constant features, so every anchor gets one and the
same score: a test on it would be degenerate. :func:`scrambled` draws the convolutions again
(He-normal) and scales each class head's last layer so that its logits spread by 2 around -12
on the road photo: scores then differ from anchor to anchor, and some pass 0.3.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import torch

from live_explain.explain.family.yolo import letterbox
from live_explain.model.detector import frame_to_tensor
from live_explain.model.loading import load_model

ROAD = Path(__file__).resolve().parents[2] / "shared" / "media" / "whiteCarLaneSwitch.jpg"


def scrambled(name: str, seed: int = 0):
    """``name`` (``yolov8n`` ...) loaded with ``--weights none``, then drawn again as the
    module docstring says."""
    model = load_model(name, "none")
    redraw(model, seed)
    return model


def redraw(model, seed: int = 0) -> None:
    """Redraw the weights of a loaded YOLO detector in place (see the module docstring)."""
    generator = torch.Generator().manual_seed(seed)
    dfl = set(model.head.dfl.modules()) if isinstance(model.head.dfl, torch.nn.Module) else set()
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d) and module not in dfl:
            fan_in = module.weight[0].numel()
            module.weight.copy_(torch.randn(module.weight.shape, generator=generator))
            module.weight.mul_((2.0 / fan_in) ** 0.5)
            if module.bias is not None:
                module.bias.zero_()
    lasts = [
        level[-1]
        for branch in ("cv3", "one2one_cv3")
        for level in getattr(model.head, branch, None) or ()
    ]
    seen = {}
    hooks = [
        last.register_forward_hook(lambda m, args, _out: seen.__setitem__(m, args[0][0]))
        for last in lasts
    ]
    image = cv2.resize(cv2.imread(str(ROAD)), (640, 360))
    with torch.no_grad():
        model(letterbox(frame_to_tensor(image, torch.device("cpu")), 640, model.stride)[0])
    for hook in hooks:
        hook.remove()
    for last in lasts:
        features = seen[last].flatten(1)  # (C, h * w)
        weights = torch.randn(last.weight.shape[:2], generator=generator)
        weights = weights / features.std(1).clamp(min=1e-6) / features.shape[0] ** 0.5 * 2.0
        last.weight.copy_(weights.view_as(last.weight))
        last.bias.copy_(-12.0 - weights @ features.mean(1))
