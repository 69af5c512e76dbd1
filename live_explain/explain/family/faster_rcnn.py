"""Faster R-CNN: exact per-detection gradients from each RoI's own pooled features.

``S_k`` depends on the target layer only through its own RoI's pooled features ``P_k``. The
forward runs without autograd (at the FPN); afterwards the small box head's backward is
applied to the K pooled rows to get ``dS_k/dP_k`` (rows are independent; for torchvision's
two-layer MLP head it is written out from the forward's own activations), and RoIAlign's
backward, which is linear and needs no activations, carries each ``dS_k/dP_k`` to the FPN
level the RoI was pooled from (:mod:`~live_explain.explain.roi_grad`). No backward ever
touches the other proposals:

* methods that need only each channel's gradient summed over the map (Grad-CAM) get it
  from ``dS_k/dP_k`` summed over the bins, weighted by each bin's share on the map: no
  gradient map at all;
* the others get the gradient on each RoI's own window of its level (zero elsewhere);
* for a layer below the FPN, the K level gradients go further down in one batched
  vector-Jacobian product (the forward then records autograd from that layer on).

Layers outside the backbone (the RPN, the RoI heads) have no gradient path to the scores
that this family's maps could use, and are refused for gradient methods.
"""

from __future__ import annotations

import threading
import time

import torch
from torch import nn
from torchvision.models.detection import FasterRCNN

from live_explain.explain.detection_maps import Part
from live_explain.explain.family.base import (
    AutogradRecording,
    LayerRefused,
    Recording,
    TorchvisionAdapter,
    batched_vjp,
    captured_tensors,
    check_feature_maps,
    check_image_maps,
)
from live_explain.explain.hooks import capture_layers, frozen_parameters
from live_explain.explain.methods import Evidence, Method, wide
from live_explain.explain.roi_grad import (
    roi_align_grad,
    roi_align_mass,
    roi_align_window_grad,
    window_rows_cols,
)

BACKBONE = "backbone"


class FasterRCNNAdapter(TorchvisionAdapter):
    """torchvision's Faster R-CNN (and its subclasses)."""

    name = "faster_rcnn"
    detector_class = FasterRCNN

    def record(self, image, layer, method, select):
        inside = layer == BACKBONE or layer.startswith(f"{BACKBONE}.")
        if not method.needs_gradients or method.at_input:
            return AutogradRecording(self, image, layer, method, select)
        if not inside:  # what the output is tells first; then why it cannot be explained
            with torch.no_grad(), capture_layers(self.model, {layer: False}, self.modules) as cap:
                self.detect(image)
            check_feature_maps(captured_tensors(cap[layer]))
            raise LayerRefused(
                "the gradients go from the backbone's outputs down, and it comes after them"
            )
        return RoiRecording(self, image, layer, method, select)

    def fc6_over_bins(self, fc6: torch.Tensor, channels: int, bins: int) -> torch.Tensor:
        """fc6's weight (R, C * bins) summed over the bins, (R, C); kept until the weight
        changes (a new tensor, another device, or an in-place update such as loading weights)."""
        key = (fc6.data_ptr(), fc6._version, fc6.device, fc6.dtype, channels, bins)
        cached = getattr(self, "_fc6_bins", None)
        if cached is None or cached[0] != key:
            with torch.no_grad():
                summed = fc6.view(fc6.shape[0], channels, bins).sum(dim=2)
            cached = (key, summed)
            self._fc6_bins = cached
        return cached[1]


class RoiRecording(Recording):
    """One Faster R-CNN forward with what the RoI-local gradients need."""

    def __init__(self, adapter: FasterRCNNAdapter, image, layer: str, method: Method, select):
        model = adapter.model
        roi_heads = model.roi_heads
        self.adapter, self.layer = adapter, layer
        self.at_fpn = layer == BACKBONE
        names = {
            BACKBONE: False,
            "roi_heads.box_roi_pool": False,
            "roi_heads.box_predictor": False,
        }
        if _has_mlp_head(roi_heads):
            names.update({"roi_heads.box_head.fc6": False, "roi_heads.box_head.fc7": False})
        if not self.at_fpn:
            names[layer] = True
        t0 = time.perf_counter()
        inputs = {}
        caller = threading.get_ident()

        def keep_inputs(module, args):
            if threading.get_ident() == caller:  # not another thread's forward
                inputs["features"], inputs["proposals"] = args[0], args[1]

        grad_mode = torch.no_grad() if self.at_fpn else torch.enable_grad()
        pool_hook = roi_heads.box_roi_pool.register_forward_pre_hook(keep_inputs)
        try:
            with (
                frozen_parameters(model),
                grad_mode,
                capture_layers(model, names, adapter.modules) as captured,
            ):
                detected = adapter.detect(image)
        finally:
            pool_hook.remove()
        self.forward_ms = (time.perf_counter() - t0) * 1000.0
        output = detected.output
        self.geometry = detected.geometry
        self.keep = select(output)
        self.boxes = output["boxes"][self.keep].detach().float()
        self.labels = output["labels"][self.keep].detach()
        self.scores = output["scores"][self.keep].detach().float()
        self._scores = output["scores"][self.keep].detach()
        self._boxes = output["boxes"][self.keep].detach()
        self.captured = captured
        pooled_names = roi_heads.box_roi_pool.featmap_names
        self.features = inputs.get("features", {})
        self.proposals = inputs["proposals"][0] if "proposals" in inputs else None
        if self.at_fpn:  # the pooled FPN levels, in the pooler's order
            levels = [v for name, v in self.features.items() if name in pooled_names]
            self.activations = {i: level[0] for i, level in enumerate(levels)}
        else:
            tensors = captured_tensors(captured[layer])
            check_feature_maps(tensors)
            check_image_maps(tensors)
            self.leaves = tensors
            self.activations = {i: leaf.detach()[0] for i, leaf in enumerate(tensors)}
            backbone_out = captured[BACKBONE].output
            self.outputs = [v for name, v in backbone_out.items() if name in pooled_names]

    def parts(self, rows: torch.Tensor, method: Method) -> list[Part]:
        roi_heads = self.adapter.model.roi_heads
        pooler = roi_heads.box_roi_pool
        labels, scores = self.labels[rows], self._scores[rows]
        class_logits, box_regression = self.captured["roi_heads.box_predictor"].output
        proposal_rows = _match_proposals(
            roi_heads,
            class_logits,
            box_regression,
            self.proposals,
            self.geometry.resized,
            self.geometry.frame,
            self._boxes[rows],
            labels,
            scores,
        )
        pooled = self.captured["roi_heads.box_roi_pool"].output[proposal_rows].detach()
        roi_boxes = self.proposals[proposal_rows]
        captured = self.captured
        if not self.at_fpn:
            return self._below_fpn(roi_heads, pooled, labels, proposal_rows, roi_boxes)
        if method.gradients == "sums":  # only each RoI's gradient summed over its level
            levels, level_of, mass = _bin_masses(pooler, self.features, roi_boxes)
            summed = _summed_score_gradients(
                self.adapter, roi_heads, pooled, labels, captured, proposal_rows, mass
            )
            parts = []
            for level, _, _, on_level in _rois_by_level(pooler, levels, level_of):
                evidence = Evidence(self.activations[level], grad_sums=summed[on_level])
                parts.append(Part(level, evidence, on_level))
            return parts
        pooled_grad = _pooled_score_gradients(roi_heads, pooled, labels, captured, proposal_rows)
        levels, level_of = _pooled_levels(pooler, self.features, roi_boxes)
        parts = []
        for level, feature, scale, on_level in _rois_by_level(pooler, levels, level_of):
            grad, top, left = roi_align_window_grad(
                pooled_grad[on_level],
                roi_boxes[on_level],
                feature.shape[1:],
                scale,
                pooler.output_size,
                pooler.sampling_ratio,
            )
            window = window_rows_cols(top, left, *grad.shape[-2:])
            evidence = Evidence(self.activations[level], grad, window=window)
            parts.append(Part(level, evidence, on_level))
        return parts

    def _below_fpn(self, roi_heads, pooled, labels, proposal_rows, roi_boxes) -> list[Part]:
        """The K level gradients, carried down to the layer in one batched VJP."""
        pooler = roi_heads.box_roi_pool
        pooled_grad = _pooled_score_gradients(
            roi_heads, pooled, labels, self.captured, proposal_rows
        )
        levels, level_parts = _level_gradients(pooler, self.features, roi_boxes, pooled_grad)
        full = [feature.new_zeros((len(proposal_rows), *feature.shape)) for feature in levels]
        for level, grad, on_level in level_parts:
            full[level][on_level] = grad[:, None]
        reach = [i for i, out in enumerate(self.outputs) if out.requires_grad]
        if not reach:
            raise LayerRefused("the detections' scores do not depend on its output")
        grads = batched_vjp([self.outputs[i] for i in reach], self.leaves, [full[i] for i in reach])
        if all(g is None for g in grads):
            raise LayerRefused("the detections' scores do not depend on its output")
        parts = []
        for key, grad in enumerate(grads):
            if grad is None or not bool(grad.any()):
                continue
            parts.append(Part(key, Evidence(self.activations[key], grad[:, 0])))
        return parts


def _match_proposals(
    roi_heads: nn.Module,
    class_logits: torch.Tensor,
    box_regression: torch.Tensor,
    proposals: torch.Tensor,
    image_shape: tuple[int, int],
    frame_size: tuple[int, int],
    boxes: torch.Tensor,
    labels: torch.Tensor,
    scores: torch.Tensor,
) -> torch.Tensor:
    """The proposal row each final detection came from.

    torchvision's post-processing keeps no index; a detection (box, label, score) is the
    row whose softmax score for that label and decoded box equal it (the same arithmetic on
    the same tensors). Rows that agree in both give the same map. ``boxes`` are in frame
    pixels; the rows' boxes in the resized ``image_shape``.
    """
    h, w = image_shape
    ratio = boxes.new_tensor([w / frame_size[1], h / frame_size[0]]).repeat(2)
    boxes = boxes * ratio
    pred_scores = torch.softmax(class_logits, -1)
    diff = (pred_scores[:, labels] - scores[None]).abs()  # (rows, K)
    close = diff <= diff.min(dim=0, keepdim=True).values + 1e-6
    rows = close.to(torch.uint8).argmax(dim=0)  # first close row per detection
    if int(close.sum()) == len(labels):
        return rows
    # Ties on the score: decide by the decoded box, all tied rows in one decode.
    pair_row, pair_det = torch.nonzero(close, as_tuple=True)
    decoded = roi_heads.box_coder.decode(box_regression[pair_row], [proposals[pair_row]])
    decoded = decoded[torch.arange(len(pair_row)), labels[pair_det]]
    decoded[:, 0::2] = decoded[:, 0::2].clamp(0, w)
    decoded[:, 1::2] = decoded[:, 1::2].clamp(0, h)
    distance = (decoded - boxes[pair_det]).abs().sum(dim=1)
    best = torch.full((len(labels),), float("inf"), device=distance.device, dtype=distance.dtype)
    best.scatter_reduce_(0, pair_det, distance, reduce="amin")
    winner = distance <= best[pair_det]
    rows[pair_det[winner].flip(0)] = pair_row[winner].flip(0)  # first winner per detection
    return rows


def _summed_score_gradients(adapter, roi_heads, pooled, labels, captured, rows, mass):
    """``sum_b mass[k, b] * dS_k/dP_k[:, b]`` (K, C): each RoI's score gradient on its
    pooled features, summed over the bins with their masses on the map.

    For torchvision's two-layer MLP head the bins are summed in fc6's weight once (the
    head's first layer reads the flattened (C, 7, 7) features), so a row costs a product
    with a (1024, C) matrix instead of the (1024, C * 49) one; only RoIs with a bin off
    the map (mass below 1: boxes are clipped to the image, so rarely) take the full
    product. Other heads: the pooled gradients, summed.
    """
    if not _has_mlp_head(roi_heads):
        grad = wide(_pooled_score_gradients(roi_heads, pooled, labels, captured, rows))
        return (grad.flatten(2) * mass[:, None, :].to(grad.dtype)).sum(dim=2)
    fc6 = roi_heads.box_head.fc6.weight
    channels, bins = pooled.shape[1], mass.shape[1]
    with torch.no_grad():
        d_h6 = _mlp_head_input_gradient(roi_heads, labels, captured, rows)
        summed = wide(d_h6 @ adapter.fc6_over_bins(fc6, channels, bins))
        partial = torch.nonzero((mass < 1).any(dim=1)).flatten()
        if len(partial):
            full = wide(d_h6[partial] @ fc6).view(len(partial), channels, bins)
            summed[partial] = (full * mass[partial, None, :].to(full.dtype)).sum(dim=2)
    return summed


def _level_gradients(pooler, features, roi_boxes, pooled_grad):
    """Carry each RoI's pooled gradient back to the FPN level it was pooled from.

    Returns the pooled levels (in the pooler's order) and, per level with RoIs on it,
    ``(level index, gradients (n, C, h, w), which detections)``.
    """
    levels, level_of = _pooled_levels(pooler, features, roi_boxes)
    parts = []
    for level, feature, scale, on_level in _rois_by_level(pooler, levels, level_of):
        grad = roi_align_grad(
            pooled_grad[on_level],
            roi_boxes[on_level],
            feature.shape[1:],
            scale,
            pooler.output_size,
            pooler.sampling_ratio,
        )
        parts.append((level, grad, on_level))
    return levels, parts


def _rois_by_level(pooler, levels: list, level_of: torch.Tensor):
    """``(level index, level, its spatial scale, the RoIs pooled from it)`` for each pooled
    level that has RoIs. The RoIs' levels are read back once (K numbers), not once a level."""
    on_host = level_of.cpu()
    for level, (feature, scale) in enumerate(zip(levels, pooler.scales, strict=True)):
        on_level = torch.nonzero(on_host == level).flatten()
        if len(on_level):
            yield level, feature, scale, on_level.to(level_of.device, non_blocking=True)


def _pooled_levels(pooler, features, roi_boxes) -> tuple[list, torch.Tensor]:
    """The pooled FPN levels (in the pooler's order) and the level each RoI was pooled from."""
    levels = [v for k, v in features.items() if k in pooler.featmap_names]
    if len(levels) == 1:
        level_of = torch.zeros(len(roi_boxes), dtype=torch.long, device=roi_boxes.device)
    else:
        level_of = pooler.map_levels([roi_boxes]).long()
    return levels, level_of


def _bin_masses(pooler, features, roi_boxes) -> tuple[list, torch.Tensor, torch.Tensor]:
    """The pooled levels, each RoI's level, and each RoI's bin masses (K, PH*PW) on its
    level (:func:`roi_align_mass`)."""
    levels, level_of = _pooled_levels(pooler, features, roi_boxes)
    ph, pw = pooler.output_size
    mass = roi_boxes.new_ones((len(roi_boxes), ph * pw))
    for _, feature, scale, on_level in _rois_by_level(pooler, levels, level_of):
        h, w = feature.shape[-2:]
        mass[on_level] = roi_align_mass(
            roi_boxes[on_level], scale, h, w, pooler.output_size, pooler.sampling_ratio
        )
    return levels, level_of, mass


def _has_mlp_head(roi_heads: nn.Module) -> bool:
    head, predictor = roi_heads.box_head, roi_heads.box_predictor
    return (
        type(head).__name__ == "TwoMLPHead"
        and isinstance(getattr(head, "fc6", None), nn.Linear)
        and isinstance(getattr(head, "fc7", None), nn.Linear)
        and isinstance(getattr(predictor, "cls_score", None), nn.Linear)
    )


def _pooled_score_gradients(roi_heads, pooled, labels, captured, rows) -> torch.Tensor:
    """dS_k/dP_k (K, C, 7, 7) for each detection's own pooled features.

    Rows of the box head are independent, so the gradient of the sum of the K scores gives
    every row its own gradient. For torchvision's two-layer MLP head the backward is written
    out from the forward's own activations (no recompute); other heads are re-run on the K
    rows under autograd.
    """
    if _has_mlp_head(roi_heads):
        with torch.no_grad():
            return _mlp_head_gradients(roi_heads, pooled, labels, captured, rows)
    with frozen_parameters(roi_heads), torch.enable_grad():
        pooled = pooled.detach().requires_grad_(True)
        logits, _ = roi_heads.box_predictor(roi_heads.box_head(pooled))
        score = torch.softmax(logits, -1).gather(1, labels[:, None])
        (grad,) = torch.autograd.grad(score.sum(), pooled)
    return grad


def _mlp_head_gradients(roi_heads, pooled, labels, captured, rows) -> torch.Tensor:
    """The backward of TwoMLPHead + FastRCNNPredictor's classifier, written out."""
    d_h6 = _mlp_head_input_gradient(roi_heads, labels, captured, rows)
    return (d_h6 @ roi_heads.box_head.fc6.weight).view_as(pooled)


def _mlp_head_input_gradient(roi_heads, labels, captured, rows) -> torch.Tensor:
    """dS_k / d(fc6's pre-activation) (K, R) for each detection's own row, from the
    forward's own activations."""
    head, predictor = roi_heads.box_head, roi_heads.box_predictor
    z6 = captured["roi_heads.box_head.fc6"].output[rows]
    z7 = captured["roi_heads.box_head.fc7"].output[rows]
    logits = captured["roi_heads.box_predictor"].output[0][rows]
    probs = torch.softmax(logits, -1)
    score = probs.gather(1, labels[:, None])
    d_logits = -score * probs  # d softmax_c / d logits = S (onehot_c - p)
    d_logits.scatter_add_(1, labels[:, None], score)
    d_h7 = (d_logits @ predictor.cls_score.weight) * (z7 > 0)
    return (d_h7 @ head.fc7.weight) * (z6 > 0)
