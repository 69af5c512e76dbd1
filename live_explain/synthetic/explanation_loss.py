"""Explanation supervision for the demo detector: a training term that asks each object's
Grad-CAM map to lie inside the object's box.

The synthetic scenes give every object's true box, so the demo detector can be trained to be
right for the right reasons (Ross et al. 2017; GAIN, Li et al. 2018): for each ground-truth
object, its box is pooled as a region of interest, the box head scores it, and the Grad-CAM
map of that score on the FPN level the box is pooled from is formed exactly as
:mod:`live_explain.explain.detection` forms it at inference (channel weights = the mean of the
score's gradient over the level; ``relu(sum_c w_c A_c)``). The term is the share of the map's
energy outside the box, plus a hinge that keeps the box's strongest evidence positive (at least
``MARGIN`` of the map's largest magnitude): without it a map with no positive evidence
anywhere (empty after the ReLU) gets no gradient at all, and such dead maps pile up.
Gradients flow through both the activations and the channel weights (double backward through
the small box head), so the detector learns features whose Grad-CAM maps point at the object.
The maps the app shows are still plain Grad-CAM of the trained model.
"""

from __future__ import annotations

import torch
from torch import nn

EPS = 1e-6
MARGIN = 0.1


def box_cover(box: torch.Tensor, shape: tuple[int, int], stride: float) -> torch.Tensor:
    """(h, w) share of each grid cell of the given stride covered by the xyxy pixel ``box``."""
    h, w = shape
    device, dtype = box.device, box.dtype
    x0 = torch.arange(w, device=device, dtype=dtype) * stride
    y0 = torch.arange(h, device=device, dtype=dtype) * stride
    cover_x = ((torch.minimum(x0 + stride, box[2]) - torch.maximum(x0, box[0])) / stride).clamp(
        0, 1
    )
    cover_y = ((torch.minimum(y0 + stride, box[3]) - torch.maximum(y0, box[1])) / stride).clamp(
        0, 1
    )
    return cover_y[:, None] * cover_x[None, :]


def gradcam_outside_share(
    model: nn.Module,
    features: dict[str, torch.Tensor],
    boxes: list[torch.Tensor],
    labels: list[torch.Tensor],
    image_sizes: list[tuple[int, int]],
    max_per_image: int = 12,
) -> torch.Tensor:
    """Mean share of Grad-CAM energy outside the true box (plus the dead-map hinge), over up to
    ``max_per_image`` objects per image (a differentiable scalar; 0 when there is no object)."""
    roi_heads = model.roi_heads
    pooler = roi_heads.box_roi_pool
    picked_boxes, picked_labels, owners = [], [], []
    for i, (b, lab) in enumerate(zip(boxes, labels, strict=True)):
        b, lab = b[:max_per_image], lab[:max_per_image]
        picked_boxes.append(b)
        picked_labels.append(lab)
        owners.append(torch.full((len(b),), i, dtype=torch.long, device=b.device))
    owner = torch.cat(owners)
    if len(owner) == 0:
        return next(iter(features.values())).sum() * 0.0
    pooled = pooler(features, picked_boxes, image_sizes)
    logits, _ = roi_heads.box_predictor(roi_heads.box_head(pooled))
    label = torch.cat(picked_labels)
    score = torch.softmax(logits, -1).gather(1, label[:, None])
    (grad,) = torch.autograd.grad(score.sum(), pooled, create_graph=True)
    weights = grad.sum(dim=(2, 3))  # (R, C): the level-mean gradient up to a positive scale
    levels = [v for k, v in features.items() if k in pooler.featmap_names]
    all_boxes = torch.cat(picked_boxes)
    level_of = pooler.map_levels(picked_boxes).long()
    shares = []
    for level, (feature, scale) in enumerate(zip(levels, pooler.scales, strict=True)):
        for r in torch.nonzero(level_of == level).flatten().tolist():
            acts = feature[owner[r]]  # (C, h, w)
            raw = torch.einsum("c,chw->hw", weights[r], acts)
            cam = torch.relu(raw)
            inside = box_cover(all_boxes[r], acts.shape[-2:], 1.0 / scale)
            share = 1.0 - (cam * inside).sum() / (cam.sum() + EPS)
            strongest = (raw / (raw.detach().abs().amax() + EPS))[inside > 0].max()
            shares.append(share + torch.relu(MARGIN - strongest))
    return torch.stack(shares).mean()
