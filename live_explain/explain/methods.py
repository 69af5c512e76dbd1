"""Explanation methods, one class each, and the registry every front end reads.

A method turns a layer's activations ``A`` and the gradients ``G`` of K target scores with
respect to ``A`` into K maps on the layer's grid, before alignment and normalisation. What it
needs and offers is declared on the class, so the explainers, the CLI's choices, the app's
menu, faithfulness and monitoring never compare method names:

* ``gradients``: ``"none"`` (the map comes from the activations alone), ``"sums"`` (only each
  channel's gradient summed over the map: Grad-CAM), ``"cells"`` (the gradient cell by cell),
  or ``"input"`` (gradients at the input pixels: saliency, no layer).
* ``channel_weights``: the map is ``relu(sum_c w[k, c] A[c])`` with channel weights that the
  real-time engine keeps and forms again on later frames' activations (reuse by weights).
* ``detectors`` / ``classifiers``: where it applies.

Gradients arrive as :class:`Evidence`: on the whole map, or on a window of it that holds every
non-zero gradient cell (the RoI-local path of Faster R-CNN), with the channel sums of the
activations over the whole map. Methods are written so that cells with a zero gradient add
nothing, which makes both forms give the same result.

Adding a method: one class with its formula, ``@register``, and its tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from live_explain.errors import UserError

EPS = 1e-7


def wide(tensor: torch.Tensor) -> torch.Tensor:
    """The dtype CAM arithmetic runs in: float64 stays, anything narrower becomes float32
    (a bf16 backbone's maps are still computed in fp32)."""
    return tensor if tensor.dtype == torch.float64 else tensor.float()


@dataclass
class Evidence:
    """What a method sees of one part of a layer for n targets.

    ``activations`` (C, h, w): the whole part. ``gradients`` (n, C, ., .): on the whole part,
    or, with ``window`` (rows (n, wh, 1), cols (n, 1, ww)), on each target's own window of it
    that holds all its non-zero cells (``None`` for methods without gradients). ``grad_sums``
    (n, C) may come instead of the gradients: each channel's gradient summed over the part.
    ``targets``: n where no gradient says it.
    """

    activations: torch.Tensor
    gradients: torch.Tensor | None = None
    window: tuple[torch.Tensor, torch.Tensor] | None = None
    grad_sums: torch.Tensor | None = None
    targets: int = 0

    def __post_init__(self) -> None:
        self.activations = wide(self.activations)
        if self.gradients is not None:
            self.gradients = wide(self.gradients)
        self._aligned: torch.Tensor | None = None

    @property
    def count(self) -> int:
        for tensor in (self.gradients, self.grad_sums):
            if tensor is not None:
                return tensor.shape[0]
        return max(self.targets, 1)

    @property
    def cells(self) -> int:
        return self.activations.shape[-2] * self.activations.shape[-1]

    @property
    def activation_sums(self) -> torch.Tensor:
        """Each channel's activations summed over the whole part (C,)."""
        return self.activations.sum(dim=(1, 2))

    @property
    def aligned(self) -> torch.Tensor:
        """The activations where the gradients are: (1, C, h, w), or each target's window
        (n, C, wh, ww)."""
        if self._aligned is None:
            if self.window is None:
                self._aligned = self.activations[None]
            else:
                rows, cols = self.window
                self._aligned = self.activations[:, rows, cols].transpose(0, 1)
        return self._aligned

    @property
    def summed_gradients(self) -> torch.Tensor:
        """Each channel's gradient summed over the part (n, C)."""
        if self.grad_sums is not None:
            return wide(self.grad_sums)
        return self.gradients.sum(dim=(2, 3))


class Method:
    """Base of every method; see the module docstring for the declared needs."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""  # as menus show it
    gradients: ClassVar[str] = "cells"
    channel_weights: ClassVar[bool] = False
    detectors: ClassVar[bool] = True
    classifiers: ClassVar[bool] = True
    makes_maps: ClassVar[bool] = True
    smoothable: ClassVar[bool] = False  # takes --smooth (SmoothGrad)
    not_for_detectors: ClassVar[str] = "does not apply to detectors"  # why, where it does not

    @property
    def needs_gradients(self) -> bool:
        return self.gradients != "none"

    @property
    def at_input(self) -> bool:
        return self.gradients == "input"

    def for_classifier(self, model, layer: str, targets: torch.Tensor) -> Method:
        """The method set up for a classifier's ``targets`` at ``layer`` (most need nothing)."""
        return self

    def weights(
        self, evidence: Evidence | torch.Tensor, gradients: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Channel weights (n, C) (methods with ``channel_weights``) of an :class:`Evidence`,
        or of activations (C, h, w) and gradients (n, C, h, w)."""
        if isinstance(evidence, torch.Tensor):
            evidence = Evidence(evidence, gradients)
        return self.weigh(evidence)

    def weigh(self, evidence: Evidence) -> torch.Tensor:
        """Channel weights (n, C) of ``evidence``: what a method with channel weights defines."""
        raise NotImplementedError

    def cell_maps(self, evidence: Evidence) -> torch.Tensor:
        """Maps (n, ., .) on the evidence's grid (its windows, where it has them); methods
        with channel weights form theirs on the whole part."""
        return weighted_cam(self.weights(evidence), evidence.activations)

    def __call__(self, activations: torch.Tensor, gradients: torch.Tensor | None) -> torch.Tensor:
        """Maps (K, h, w) of activations (C, h, w) and gradients (K, C, h, w)."""
        return self.cell_maps(Evidence(activations, gradients))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def weighted_cam(weights: torch.Tensor, activations: torch.Tensor) -> torch.Tensor:
    """``relu(sum_c w[k, c] * A[c])``: (K, C) channel weights on (C, h, w) -> (K, h, w), or
    on each target's own (K, C, h, w) window."""
    weights = weights.to(activations.dtype)
    if activations.ndim == 4:
        return torch.relu(torch.einsum("kc,kchw->khw", weights, activations))
    return torch.relu(torch.einsum("kc,chw->khw", weights, activations))


REGISTRY: dict[str, type[Method]] = {}


def register(cls: type[Method]) -> type[Method]:
    """Class decorator: make a method known to every front end under ``cls.name``."""
    if not cls.name or cls.name in REGISTRY:
        raise ValueError(f"method name '{cls.name}' is empty or taken")
    REGISTRY[cls.name] = cls
    return cls


@register
class GradCAM(Method):
    """Grad-CAM (Selvaraju et al. 2017): ``w[k, c] = mean_xy dS_k/dA[c, x, y]``.

    >>> GradCAM()(A, G).shape  # (K, h, w)
    """

    name, title = "gradcam", "Grad-CAM"
    gradients = "sums"
    channel_weights = True

    def weigh(self, evidence):
        return evidence.summed_gradients / evidence.cells


@register
class GradCAMPlusPlus(Method):
    """Grad-CAM++ (Chattopadhyay et al. 2018, eq. 19, exponential-score closed form)::

    alpha = G^2 / (2 G^2 + sum_xy(A) * G^3)      (0 where G == 0)
    w[k, c] = sum_xy alpha * relu(G)
    """

    name, title = "gradcam++", "Grad-CAM++"
    channel_weights = True

    def weigh(self, evidence):
        return gradcam_plus_plus_weights(evidence.gradients, evidence.activation_sums)


def gradcam_plus_plus_weights(
    gradients: torch.Tensor, activation_sums: torch.Tensor
) -> torch.Tensor:
    """Grad-CAM++'s channel weights (K, C) from gradients (K, C, h, w) and each channel's sum
    of activations over the whole map (C,). Cells where a gradient is zero add nothing, so
    the gradients may be cut to any window that holds all their non-zero cells."""
    g2 = gradients.pow(2)
    g3 = g2 * gradients
    sum_a = activation_sums.to(gradients.dtype)[None, :, None, None]
    alpha = g2 / (2 * g2 + sum_a * g3 + EPS)
    alpha = torch.where(gradients != 0, alpha, torch.zeros_like(alpha))
    return (alpha * torch.relu(gradients)).sum(dim=(2, 3))


@register
class XGradCAM(Method):
    """XGrad-CAM (Fu et al. 2020, eq. 9): ``w[k, c] = sum_xy (A[c, x, y] / sum_xy A[c]) *
    dS_k/dA[c, x, y]``, the channel weights that satisfy the paper's sensitivity and
    conservation axioms; a channel whose activations sum to zero gets weight zero."""

    name, title = "xgradcam", "XGrad-CAM"
    channel_weights = True

    def weigh(self, evidence):
        products = (evidence.gradients * evidence.aligned).sum(dim=(2, 3))  # (n, C)
        sums = evidence.activation_sums.to(products.dtype)[None]
        safe = torch.where(sums.abs() > EPS, sums, torch.ones_like(sums))
        return torch.where(sums.abs() > EPS, products / safe, torch.zeros_like(products))


@register
class HiResCAM(Method):
    """HiResCAM / element-wise (Draelos & Carin 2020): ``relu(sum_c G[k] * A)``, so the map
    shows exactly where the score's first-order evidence lies (weights per cell, so no reuse
    by channel weights)."""

    name, title = "hirescam", "HiResCAM"

    def cell_maps(self, evidence):
        return torch.relu((evidence.gradients * evidence.aligned).sum(dim=1))


@register
class EigenCAM(Method):
    """EigenCAM (Muhammad & Yeasin 2020): the activations projected on their first principal
    component; no gradient, so the same map serves every target. The component's sign is
    chosen so that the map agrees with the mean activation."""

    name, title = "eigencam", "EigenCAM"
    gradients = "none"

    def cell_maps(self, evidence):
        return self.projection(evidence.activations, evidence.count)

    def __call__(self, activations, gradients=None, count: int = 1):
        return self.projection(activations, count)

    @staticmethod
    def projection(activations: torch.Tensor, count: int) -> torch.Tensor:
        c, h, w = activations.shape
        flat = wide(activations.reshape(c, h * w).T)  # (hw, C)
        centred = flat - flat.mean(dim=0, keepdim=True)
        try:
            _, _, vh = torch.linalg.svd(centred, full_matrices=False)
        except RuntimeError:  # no convergence on degenerate input
            return activations.new_zeros((count, h, w))
        projection = (centred @ vh[0]).reshape(h, w)
        mean_map = flat.mean(dim=1).reshape(h, w)
        if (projection * (mean_map - mean_map.mean())).sum() < 0:
            projection = -projection
        return torch.relu(projection)[None].expand(count, h, w).to(activations.dtype)


@register
class Saliency(Method):
    """Saliency (Simonyan et al. 2014): ``max_channel |dS_k / d pixel|`` at the input image;
    ``smooth`` > 0 adds SmoothGrad (Smilkov et al. 2017) over noisy copies."""

    name, title = "saliency", "Saliency"
    gradients = "input"
    smoothable = True

    def cell_maps(self, evidence):
        return evidence.gradients.abs().amax(dim=1)


@register
class ClassActivationMap(Method):
    """CAM (Zhou et al. 2016) for models ending in global average pooling + linear:
    ``w[k, c] = W_fc[target_k, c]``. Grad-CAM equals it up to scale on such models."""

    name, title = "cam", "CAM"
    gradients = "none"
    detectors = False
    not_for_detectors = "needs a classifier ending in global average pooling + linear"

    def __init__(self, fc_weight: torch.Tensor | None = None, targets=None) -> None:
        self.fc_weight, self.targets = fc_weight, targets

    def for_classifier(self, model, layer, targets):
        """CAM at the stage that feeds the final linear layer through global pooling."""
        from torch import nn

        from live_explain.explain.layers import default_layer

        fc = getattr(model, "fc", None)
        last_stage = default_layer(model) if hasattr(model, "fc") else None
        if not isinstance(fc, nn.Linear) or layer != last_stage:
            raise UserError(
                "CAM needs a classifier that ends in global average pooling + one linear layer "
                "(e.g. a ResNet at layer4); use --method gradcam for other models and layers"
            )
        return ClassActivationMap(fc.weight.detach(), targets)

    def weigh(self, evidence):
        if self.fc_weight.shape[1] != evidence.activations.shape[-3]:
            raise UserError("CAM: the layer's channels do not match the final linear layer")
        return self.fc_weight[self.targets].to(evidence.activations.dtype)

    def __call__(self, activations, gradients=None):
        return weighted_cam(self.weigh(Evidence(activations)), wide(activations))


@register
class NoMaps(Method):
    """Detections only: no maps (the cheapest run)."""

    name, title = "none", "None (boxes only)"
    gradients = "none"
    classifiers = False
    makes_maps = False


def method_names(detectors: bool = True, classifiers: bool = False) -> tuple[str, ...]:
    """Registered method names that apply to detectors and/or classifiers."""
    return tuple(
        name
        for name, cls in REGISTRY.items()
        if (detectors and cls.detectors) or (classifiers and cls.classifiers)
    )


def map_method_names() -> tuple[str, ...]:
    """Detection methods that make maps (what faithfulness compares by default)."""
    return tuple(n for n, cls in REGISTRY.items() if cls.detectors and cls.makes_maps)


def smoothable_names() -> tuple[str, ...]:
    return tuple(name for name, cls in REGISTRY.items() if cls.smoothable)


def gradient_method_names() -> tuple[str, ...]:
    """Detection methods that explain with gradients at a layer (what a layer must support)."""
    return tuple(
        name
        for name, cls in REGISTRY.items()
        if cls.detectors and cls.gradients in ("sums", "cells")
    )


def get_method(name: str, detectors: bool = True) -> Method:
    """The method called ``name``, or a one-line error listing the choices."""
    cls = REGISTRY.get(name)
    if cls is None or not (cls.detectors if detectors else cls.classifiers):
        what = "detectors" if detectors else "this model"
        raise UserError(
            f"method '{name}' does not apply to {what}; use one of "
            f"{', '.join(method_names(detectors, not detectors))}"
        )
    return cls()


# Names, for choices and defaults (the registry decides what they hold).
METHODS = tuple(REGISTRY)


def normalise(maps: torch.Tensor) -> torch.Tensor:
    """Scale each map (K, H, W) to [0, 1] by its maximum; an all-zero map stays zero."""
    peak = maps.flatten(1).amax(dim=1)[:, None, None]
    if not bool(torch.isfinite(peak).all()):  # only a broken model gives inf/NaN maps
        maps = maps.nan_to_num(0.0, 0.0, 0.0)
        peak = maps.flatten(1).amax(dim=1)[:, None, None]
    scale = torch.where(peak > 0, 1.0 / peak.clamp_min(torch.finfo(maps.dtype).tiny), 0.0)
    return (maps * scale).clamp_(0.0, 1.0)
