"""Choosing which detections to explain: score threshold, classes, top-K."""

from __future__ import annotations

import torch
from torch import nn


def select_detections(
    labels: torch.Tensor,
    scores: torch.Tensor,
    score_thresh: float,
    class_ids: set[int] | None,
    topk: int,
) -> torch.Tensor:
    """Indices of the detections to keep, best score first."""
    keep = scores >= score_thresh
    if class_ids is not None:
        allowed = torch.tensor(sorted(class_ids), device=labels.device, dtype=labels.dtype)
        keep &= torch.isin(labels, allowed)
    index = torch.nonzero(keep).flatten()
    return index[torch.argsort(scores[index], descending=True, stable=True)][:topk]


def let_detector_keep(model: nn.Module, score_thresh: float, topk: int) -> None:
    """torchvision detectors drop boxes below their own threshold (0.05 for Faster R-CNN)
    and keep at most ``detections_per_img``; a lower threshold or larger K must reach them."""
    for holder in (getattr(model, "roi_heads", None), model):
        if holder is None:
            continue
        if hasattr(holder, "score_thresh"):
            holder.score_thresh = min(holder.score_thresh, score_thresh)
        if hasattr(holder, "detections_per_img"):
            holder.detections_per_img = max(holder.detections_per_img, topk)
