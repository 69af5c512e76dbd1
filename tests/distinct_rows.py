"""Weights and checks for tests whose detections must differ from one another.

torchvision detectors built with ``weights=None`` shrink their activations layer by layer:
Faster R-CNN MobileNet's pooled RoI features are about 1e-7, so every RoI gets the box head's
bias as its output, every detection the same score and the same map, and a test that compares
detection k with reference k would pass with the rows mixed up. ``unit_scale_weights`` gives
such a model weights under which detections differ; ``assert_rows_differ`` is the precondition
a test asserts before it trusts a per-row comparison.
"""

from __future__ import annotations

import torch
from torch import nn

# A map that some row-indexing bug swapped for another row's must miss a comparison's
# tolerance by far: any two detections' maps differ by at least this much somewhere (the
# exactness tests ask for ten times their tolerance).
MIN_MAP_DIFFERENCE = 1e-2
# No two kept scores tie, relative to the largest (ties leave the order of rows to chance;
# RetinaNet v2's scaled random scores are about 1e-4 and lie 5e-7 apart, distinct all
# the same).
MIN_SCORE_GAP = 1e-4


@torch.no_grad()
def unit_scale_weights(model: nn.Module, image: torch.Tensor) -> nn.Module:
    """Rescale each convolution and linear layer (weight and bias) so that its output on
    ``image`` has unit standard deviation, in the order the forward pass reaches them
    (layer-sequential unit variance, Mishkin and Matas 2016). A layer called more than once
    (RPN and one-stage heads run per FPN level) is scaled on its first call. In place;
    returns ``model``. (Scaling the weights alone, biases as built, leaves RetinaNet's
    random boxes without width, and Grad-CAM++'s maps of them alike.)"""
    scaled: set[nn.Module] = set()

    def rescale(module, _inputs, output):
        if module in scaled:
            return None
        scaled.add(module)
        std = float(output.float().std())
        if not std > 0.0:
            return None
        module.weight.div_(std)
        if module.bias is not None:
            module.bias.div_(std)
        return output / std

    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    handles = [m.register_forward_hook(rescale) for m in layers]
    try:
        model.eval()([image])
    finally:
        for handle in handles:
            handle.remove()
    return model


def assert_rows_differ(
    scores: torch.Tensor,
    maps: torch.Tensor,
    maps_per_detection: bool = True,
    min_map_difference: float = MIN_MAP_DIFFERENCE,
) -> None:
    """The precondition of a per-detection comparison: no two scores tie (they lie
    ``MIN_SCORE_GAP`` of the largest apart) and no two maps are alike (each pair differs by
    ``min_map_difference`` somewhere), but for maps that are both empty (Grad-CAM's ReLU
    empties a map whose weighted sum is negative everywhere; two such rows swapped show
    the same), of which there must be at most ``len(maps) - 2``. EigenCAM's map is the
    frame's, the same for every detection: ``maps_per_detection=False`` checks the scores
    only."""
    assert len(scores) >= 2, "needs at least two detections to tell rows apart"
    ordered = scores.double().sort().values
    gap = float((ordered[1:] - ordered[:-1]).min())
    assert gap > MIN_SCORE_GAP * float(ordered.abs().max()), (
        f"degenerate weights: kept scores tie ({scores.tolist()})"
    )
    if not maps_per_detection:
        return
    flat = maps.float().flatten(1)
    shown = flat.abs().amax(dim=1) > 0
    assert int(shown.sum()) >= 2, "degenerate weights: fewer than two maps are not empty"
    apart = (flat[:, None] - flat[None]).abs().amax(dim=-1)
    apart.fill_diagonal_(float("inf"))
    apart[~shown[:, None] & ~shown[None, :]] = float("inf")  # two empty maps
    closest = float(apart.min())
    assert closest >= min_map_difference, (
        f"degenerate weights: two detections' maps differ by at most {closest:.2e}"
    )


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two maps (1 for two empty maps)."""
    a, b = a.double().flatten(), b.double().flatten()
    if not a.any() and not b.any():
        return 1.0
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


def _as_tensors(detections) -> list[torch.Tensor]:
    fields = (detections.boxes, detections.labels, detections.scores, detections.heatmaps)
    return [torch.as_tensor(x).detach().cpu() for x in fields]


def assert_maps_agree(
    reference,
    other,
    min_corr: float = 0.98,
    min_iou: float = 0.9,
    score_atol: float = 0.01,
    maps_per_detection: bool = True,
) -> list[tuple[int, int]]:
    """``other`` (the same frame at another precision or on another device) finds the
    detections of ``reference`` and gives each a map that correlates with the reference's
    (Pearson, at least ``min_corr``; a map empty in one run must be empty in the other).

    Detections pair by label and box (IoU at least ``min_iou``, scores within
    ``score_atol``), not by rank: close scores may swap places between runs. A reference
    detection may go unpaired only where its score comes within ``score_atol`` of the lowest
    that ``other`` kept (``other`` may have ranked it just below its top-k). The reference must
    pass ``assert_rows_differ`` (``maps_per_detection`` as there). Takes
    :class:`~live_explain.model.detector.Detections` (NumPy) or ``ExplainedDetections`` (tensors);
    returns the pairs (reference row, other row)."""
    from torchvision.ops import box_iou

    boxes, labels, scores, maps = _as_tensors(reference)
    other_boxes, other_labels, other_scores, other_maps = _as_tensors(other)
    assert_rows_differ(scores, maps, maps_per_detection)
    assert other_maps.shape[1:] == maps.shape[1:]
    iou = box_iou(boxes.float(), other_boxes.float()) if len(other_boxes) else None
    lowest = float(other_scores.min()) if len(other_scores) else 1.0
    used: set[int] = set()
    pairs = []
    for k in range(len(labels)):
        candidates = [
            j
            for j in range(len(other_labels))
            if j not in used
            and other_labels[j] == labels[k]
            and iou[k, j] >= min_iou
            and abs(float(other_scores[j] - scores[k])) <= score_atol
        ]
        if not candidates:
            assert float(scores[k]) <= lowest + score_atol, (
                f"detection {k} ({int(labels[k])}, score {float(scores[k]):.3f}) not found: "
                f"{other_labels.tolist()} {other_scores.tolist()}"
            )
            continue
        j = max(candidates, key=lambda j: float(iou[k, j]))
        used.add(j)
        pairs.append((k, j))
    assert len(pairs) >= 2, "needs at least two detections found in both runs"
    shown = [k for k, _ in pairs if maps[k].any()]
    assert len(shown) >= 2, "needs at least two maps that are not empty"
    for k, j in pairs:
        ours, theirs = maps[k], other_maps[j]
        assert bool(theirs.any()) == bool(ours.any()), f"map {k} empty in one run only"
        corr = correlation(ours, theirs)
        assert corr >= min_corr, f"map {k}: correlation {corr:.4f} < {min_corr}"
    return pairs
