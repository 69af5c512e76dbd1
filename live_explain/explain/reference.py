"""The naive reference every exactness test compares with: one detection at a time, its own
forward and backward through plain autograd, none of the explainer's shortcuts."""

from __future__ import annotations

import torch
from torch import nn

from live_explain.explain.detection_maps import Geometry, Part, detection_maps
from live_explain.explain.hooks import capture_layers, frozen_parameters
from live_explain.explain.methods import Evidence, get_method


def naive_detection_maps(
    model: nn.Module,
    image: torch.Tensor,
    keep: torch.Tensor,
    method: str = "gradcam",
    layer: str = "backbone",
) -> torch.Tensor:
    """The reference: for each kept detection, autograd of that one detection's score with
    respect to ``layer``, one detection at a time (one backward each). (K, H, W) in [0, 1]."""
    with (
        frozen_parameters(model),
        torch.enable_grad(),
        capture_layers(model, {"transform": False, layer: True}) as captured,
    ):
        output = model([image])[0]
        leaves = captured[layer].tensors
        geometry = Geometry.of_image_list(captured["transform"].output[0], image.shape[-2:])
        chosen = get_method(method)
        maps = []
        for k in keep.tolist():
            grads = torch.autograd.grad(
                output["scores"][k], leaves, retain_graph=True, allow_unused=True
            )
            parts = [
                Part(key, Evidence(leaf.detach()[0], grad[0][None]))
                for key, (leaf, grad) in enumerate(zip(leaves, grads, strict=True))
                if grad is not None
            ]
            maps.append(detection_maps(chosen, parts, geometry, 1, device=image.device)[0])
    return torch.stack(maps) if maps else image.new_zeros((0, *image.shape[-2:]))
