"""Explanations for image classifiers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from live_explain.errors import UserError
from live_explain.explain.hooks import capture_layers, find_layer, frozen_parameters
from live_explain.explain.layers import default_layer
from live_explain.explain.methods import (
    GRADIENT_METHODS,
    ClassActivationMap,
    EigenCAM,
    normalise,
)


def _cam_weights(model: nn.Module, layer: str, channels: int) -> torch.Tensor:
    """The final linear layer's weights, when ``layer`` feeds it through global pooling."""
    fc = getattr(model, "fc", None)
    last_stage = default_layer(model) if hasattr(model, "fc") else None
    if not isinstance(fc, nn.Linear) or layer != last_stage or fc.in_features != channels:
        raise UserError(
            "CAM needs a classifier that ends in global average pooling + one linear layer "
            "(e.g. a ResNet at layer4); use --method gradcam for other models and layers"
        )
    return fc.weight.detach()


def saliency(
    model: nn.Module,
    x: torch.Tensor,
    targets: torch.Tensor | None,
    smooth: int = 0,
    noise: float = 0.15,
) -> torch.Tensor:
    """|d score / d pixel|, max over colour channels; SmoothGrad over ``smooth`` noisy copies."""
    copies = max(1, smooth)
    total = torch.zeros(x.shape[0], *x.shape[2:], device=x.device)
    sigma = noise * (x.amax() - x.amin())
    generator = torch.Generator(device=x.device).manual_seed(0)
    with frozen_parameters(model), torch.enable_grad():
        for i in range(copies):
            noisy = x
            if smooth:
                noisy = x + sigma * torch.randn(x.shape, generator=generator, device=x.device)
            noisy = noisy.detach().requires_grad_(True)
            logits = model(noisy)
            if targets is None and i == 0:
                targets = logits.argmax(dim=1)
            score = logits.gather(1, targets[:, None]).sum()
            (grad,) = torch.autograd.grad(score, noisy)
            total += grad.abs().amax(dim=1)
    return normalise(total / copies)


def explain_classifier(
    model: nn.Module,
    x: torch.Tensor,
    layer: str | None = None,
    method: str = "gradcam",
    targets: torch.Tensor | list[int] | None = None,
    smooth: int = 0,
) -> torch.Tensor:
    """Maps (N, H, W) float32 in [0, 1], aligned with ``x``, for each image's target class.

    ``x`` (N, 3, H, W) is already normalised for the model; ``targets`` are class ids
    (default: each image's top-1). ``method``: gradcam, gradcam++, hirescam, eigencam, cam,
    saliency (``smooth`` > 0 averages that many noisy copies: SmoothGrad).

    >>> maps = explain_classifier(resnet, x, layer="layer4", method="gradcam")
    """
    if x.ndim != 4:
        raise ValueError(f"x must be (N, 3, H, W), got {tuple(x.shape)}")
    target_ids = None if targets is None else torch.as_tensor(targets, device=x.device).long()
    if method == "saliency":
        return saliency(model, x, target_ids, smooth=smooth)
    layer = layer or default_layer(model)
    find_layer(model, layer)
    was_training = model.training
    model.eval()
    try:
        with (
            frozen_parameters(model),
            torch.enable_grad(),
            capture_layers(model, {layer: True}) as captured,
        ):
            logits = model(x.detach())
            if target_ids is None:
                target_ids = logits.argmax(dim=1)
            activations = captured[layer].tensors[0]
            if activations.ndim != 4:
                raise UserError(f"layer '{layer}' gives {activations.ndim}-D output, not maps")
            gradients = None
            if method in GRADIENT_METHODS:
                score = logits.gather(1, target_ids[:, None]).sum()  # images are independent
                (gradients,) = torch.autograd.grad(score, activations, allow_unused=True)
                if gradients is None:
                    raise UserError(f"the class scores do not depend on layer '{layer}'")
    finally:
        model.train(was_training)
    activations = activations.detach()
    maps = []
    for n in range(x.shape[0]):
        if method in GRADIENT_METHODS:
            cam = GRADIENT_METHODS[method]()(activations[n], gradients[n : n + 1])
        elif method == "eigencam":
            cam = EigenCAM()(activations[n])
        elif method == "cam":
            fc_weight = _cam_weights(model, layer, activations.shape[1])
            cam = ClassActivationMap(fc_weight, target_ids[n : n + 1])(activations[n], None)
        else:
            raise UserError(f"unknown method '{method}'")
        maps.append(cam[0])
    cams = torch.stack(maps)
    up = F.interpolate(cams[:, None].float(), size=x.shape[-2:], mode="bilinear")[:, 0]
    return normalise(up)
