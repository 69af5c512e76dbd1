"""Choosing which detections to explain: score threshold, classes, top-K."""

from __future__ import annotations

import torch


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
