"""Explanations for image classifiers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from live_explain.errors import UserError
from live_explain.explain.hooks import capture_layers, find_layer, frozen_parameters
from live_explain.explain.layers import default_layer
from live_explain.explain.methods import Evidence, Method, get_method, normalise


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
    chosen = get_method(method, detectors=False)
    if chosen.at_input:
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
            if chosen.needs_gradients:
                score = logits.gather(1, target_ids[:, None]).sum()  # images are independent
                (gradients,) = torch.autograd.grad(score, activations, allow_unused=True)
                if gradients is None:
                    raise UserError(f"the class scores do not depend on layer '{layer}'")
    finally:
        model.train(was_training)
    activations = activations.detach()
    maps = []
    for n in range(x.shape[0]):
        grads = None if gradients is None else gradients[n : n + 1]
        explainer: Method = chosen.for_classifier(model, layer, target_ids[n : n + 1])
        maps.append(explainer.cell_maps(Evidence(activations[n], grads))[0])
    cams = torch.stack(maps)
    up = F.interpolate(cams[:, None].float(), size=x.shape[-2:], mode="bilinear")[:, 0]
    return normalise(up)
