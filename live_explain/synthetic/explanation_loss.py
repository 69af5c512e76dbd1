"""Explanation supervision for the demo detector: a training term that asks each object's
Grad-CAM map to lie inside the object's box.

The synthetic scenes give every object's true box, so the demo detector can be trained to be
right for the right reasons (Ross et al. 2017; GAIN, Li et al. 2018): for each ground-truth
object, its box is pooled as a region of interest, the box head scores it, and the Grad-CAM
map of that score on the FPN level the box is pooled from is formed exactly as
:mod:`live_explain.explain.detection` forms it at inference (channel weights = the mean of the
score's gradient over the level; ``relu(sum_c w_c A_c)``). The term is the share of the map's
energy outside the box, measured on the map as the app shows it (bilinearly upsampled to the
frame's pixels, as :func:`live_explain.explain.align.to_frame` does, which the evaluation's
pointing game measures too; a box of a cell or two loses much of a cell's energy to its
neighbours there), plus a hinge that keeps the box's strongest evidence positive (at least
``MARGIN`` of the map's largest magnitude): without it a map with no positive evidence
anywhere (empty after the ReLU) gets no gradient at all, and such dead maps pile up.
Gradients flow through both the activations and the channel weights (double backward through
the small box head), so the detector learns features whose Grad-CAM maps point at the object.
The maps the app shows are still plain Grad-CAM of the trained model.
"""

from __future__ import annotations

import torch
from torch import nn

from live_explain.explain.align import resize_matrix
from live_explain.monitor.metrics import box_bounds

EPS = 1e-6
MARGIN = 0.1


def upsampled_cover(
    box: torch.Tensor, shape: tuple[int, int], stride: float, frame: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell weights ``(inside, total)`` (h, w) such that for a map on a grid of ``shape`` and
    ``stride`` over the padded input, ``(cam * inside).sum()`` and ``(cam * total).sum()`` are
    the map's energy inside the xyxy pixel ``box`` and over the (height, width) ``frame``
    after bilinear upsampling to pixels (the explainer's ``to_frame``, exactly)."""
    h, w = shape
    height, width = frame
    device, dtype = box.device, box.dtype
    ry = resize_matrix(h, round(h * stride), height, str(device), dtype)
    rx = resize_matrix(w, round(w * stride), width, str(device), dtype)
    x0, y0, x1, y1 = box_bounds(box.detach().tolist(), width, height)  # as energy_in_box
    inside = ry[y0:y1].sum(0)[:, None] * rx[x0:x1].sum(0)[None, :]
    total = ry.sum(0)[:, None] * rx.sum(0)[None, :]
    return inside, total


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
            inside, total = upsampled_cover(
                all_boxes[r], acts.shape[-2:], 1.0 / scale, image_sizes[owner[r]]
            )
            share = 1.0 - (cam * inside).sum() / ((cam * total).sum() + EPS)
            strongest = (raw / (raw.detach().abs().amax() + EPS))[inside > 0].max()
            shares.append(share + torch.relu(MARGIN - strongest))
    return torch.stack(shares).mean()
