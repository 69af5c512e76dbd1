"""Explanation methods: how a map comes from a layer's activations and gradients.

Each method maps activations ``A`` (C, h, w) of one image and the gradients ``G`` (K, C, h, w)
of K target scores with respect to ``A`` to K maps (K, h, w), before alignment and
normalisation. Subclasses differ only in how channel weights come from gradients.
"""

from __future__ import annotations

import torch

EPS = 1e-7


def wide(tensor: torch.Tensor) -> torch.Tensor:
    """The dtype CAM arithmetic runs in: float64 stays, anything narrower becomes float32
    (a bf16 backbone's maps are still computed in fp32)."""
    return tensor if tensor.dtype == torch.float64 else tensor.float()


class CamMethod:
    """Base: ``cam = relu(sum_c w[k, c] * A[c])`` with ``w`` from :meth:`weights`."""

    name = "cam-base"
    needs_gradients = True

    def weights(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, activations: torch.Tensor, gradients: torch.Tensor | None) -> torch.Tensor:
        return weighted_cam(self.weights(activations, gradients), activations)


def weighted_cam(weights: torch.Tensor, activations: torch.Tensor) -> torch.Tensor:
    """``relu(sum_c w[k, c] * A[c])``: (K, C) channel weights on (C, h, w) -> (K, h, w)."""
    return torch.relu(torch.einsum("kc,chw->khw", weights.to(activations.dtype), activations))


class GradCAM(CamMethod):
    """Grad-CAM (Selvaraju et al. 2017): ``w[k, c] = mean_xy dS_k/dA[c, x, y]``.

    >>> GradCAM()(A, G).shape  # (K, h, w)
    """

    name = "gradcam"

    def weights(self, activations, gradients):
        return gradients.mean(dim=(2, 3))


class GradCAMPlusPlus(CamMethod):
    """Grad-CAM++ (Chattopadhyay et al. 2018, eq. 19, exponential-score closed form)::

    alpha = G^2 / (2 G^2 + sum_xy(A) * G^3)      (0 where G == 0)
    w[k, c] = sum_xy alpha * relu(G)
    """

    name = "gradcam++"

    def weights(self, activations, gradients):
        return gradcam_plus_plus_weights(gradients, activations.sum(dim=(1, 2)))


def gradcam_plus_plus_weights(
    gradients: torch.Tensor, activation_sums: torch.Tensor
) -> torch.Tensor:
    """Grad-CAM++'s channel weights (K, C) from gradients (K, C, h, w) and each channel's sum
    of activations over the whole map (C,). Cells where a gradient is zero add nothing, so
    the gradients may be cut to any window that holds all their non-zero cells."""
    g2 = gradients.pow(2)
    g3 = g2 * gradients
    sum_a = activation_sums[None, :, None, None]
    alpha = g2 / (2 * g2 + sum_a * g3 + EPS)
    alpha = torch.where(gradients != 0, alpha, torch.zeros_like(alpha))
    return (alpha * torch.relu(gradients)).sum(dim=(2, 3))


class HiResCAM(CamMethod):
    """HiResCAM / element-wise (Draelos & Carin 2020): ``relu(sum_c G[k] * A)``, so the map
    shows exactly where the score's first-order evidence lies."""

    name = "hirescam"

    def __call__(self, activations, gradients):
        return torch.relu((gradients * activations[None]).sum(dim=1))


class EigenCAM(CamMethod):
    """EigenCAM (Muhammad & Yeasin 2020): the activations projected on their first principal
    component; no gradient, so the same map serves every target. The component's sign is
    chosen so that the map agrees with the mean activation."""

    name = "eigencam"
    needs_gradients = False

    def __call__(self, activations, gradients=None, count: int = 1):
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


class ClassActivationMap(CamMethod):
    """CAM (Zhou et al. 2016) for models ending in global average pooling + linear:
    ``w[k, c] = W_fc[target_k, c]``. Grad-CAM equals it up to scale on such models."""

    name = "cam"
    needs_gradients = False

    def __init__(self, fc_weight: torch.Tensor, targets: torch.Tensor) -> None:
        self.fc_weight, self.targets = fc_weight, targets

    def weights(self, activations, gradients):
        return self.fc_weight[self.targets].to(activations.dtype)


GRADIENT_METHODS = {m.name: m for m in (GradCAM, GradCAMPlusPlus, HiResCAM)}
METHODS = (*GRADIENT_METHODS, "eigencam", "saliency", "cam")


def normalise(maps: torch.Tensor) -> torch.Tensor:
    """Scale each map (K, H, W) to [0, 1] by its maximum; an all-zero map stays zero."""
    peak = maps.flatten(1).amax(dim=1)[:, None, None]
    if not bool(torch.isfinite(peak).all()):  # only a broken model gives inf/NaN maps
        maps = maps.nan_to_num(0.0, 0.0, 0.0)
        peak = maps.flatten(1).amax(dim=1)[:, None, None]
    scale = torch.where(peak > 0, 1.0 / peak.clamp_min(torch.finfo(maps.dtype).tiny), 0.0)
    return (maps * scale).clamp_(0.0, 1.0)
