"""Exact per-detection explanations from the detector's own forward pass.

For every kept detection ``k`` with score ``S_k`` the map comes from ``dS_k / dA`` where ``A``
is the target layer's output in the forward pass that produced the detections (no second
forward). How the K gradients are obtained depends on the family:

* **Faster R-CNN** (fast path). ``S_k`` depends only on its own RoI's pooled features
  ``P_k``. The forward runs without autograd; afterwards the small box head is re-applied to
  the K pooled rows to get ``dS_k/dP_k`` in one backward (rows are independent), and
  RoIAlign's backward, which is linear and needs no activations, carries each ``dS_k/dP_k``
  to the FPN level the RoI was pooled from. No backward ever touches the other proposals.
  Grad-CAM at the FPN needs even less: its channel weights are the level-mean of that
  gradient, which is ``dS_k/dP_k`` summed over the bins (weighted by each bin's share on
  the map), so its maps cost one small product on the activations and no gradient map.
  For a layer below the FPN the K level gradients go further down in one batched
  vector-Jacobian product.
* **RetinaNet, FCOS, SSD**. The forward records autograd only from the target layer on
  (parameters frozen, the layer's output made a leaf); one batched backward
  (``is_grads_batched``) gives all K gradients.

Maps are computed on the layer's grid, aligned to original frame pixels (the transform's
resize and padding undone) and scaled to [0, 1] per detection.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from live_explain.errors import UserError
from live_explain.explain.detection_maps import (
    CHANNEL_WEIGHT_METHODS,
    Remap,
    combine_parts,
    detection_maps,
    weighted_maps,
)
from live_explain.explain.hooks import capture_layers, find_layer, frozen_parameters
from live_explain.explain.layers import DETECTOR_LAYER, detector_family
from live_explain.explain.methods import (
    GRADIENT_METHODS,
    gradcam_plus_plus_weights,
    normalise,
    wide,
)
from live_explain.explain.roi_grad import (
    roi_align_grad,
    roi_align_mass,
    roi_align_window_grad,
    window_rows_cols,
)
from live_explain.explain.selection import let_detector_keep, select_detections
from live_explain.sources import UnsupportedImage, check_image_size

DETECTION_METHODS = (*GRADIENT_METHODS, "eigencam", "saliency", "none")

# choose(boxes, labels, scores) -> the rows to explain
Chooser = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class ExplainedDetections:
    """Detections of one image and their maps.

    ``boxes`` (K, 4) float32 xyxy pixels of the input image, ``labels`` (K,) int64,
    ``scores`` (K,) float32, ``heatmaps`` (K, H, W) float32 in [0, 1] aligned with the image
    (empty (0, H, W) when nothing is kept or the method is ``none``), best score first.
    When the caller chose to explain only some detections, ``heatmaps`` holds the maps of
    the rows listed in ``explained`` (in that order); ``None`` means every row.

    For Grad-CAM and Grad-CAM++, ``channel_weights`` holds the maps' channel weights per part
    of the layer, ``{part: (n, C)}`` in the order of ``heatmaps``, and ``remap(weights)``
    forms the maps of any such weights on this frame's activations (the real-time engine
    re-forms a track's map from its last weights without a backward); both are ``None`` for
    the other methods.
    """

    boxes: torch.Tensor
    labels: torch.Tensor
    scores: torch.Tensor
    heatmaps: torch.Tensor
    timings_ms: dict[str, float] = field(default_factory=dict)
    explained: torch.Tensor | None = None
    channel_weights: dict[int, torch.Tensor] | None = None
    remap: Remap | None = None

    def __len__(self) -> int:
        return len(self.scores)


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


class DetectionExplainer:
    """Explains a torchvision detector's detections, one image at a time.

    >>> explainer = DetectionExplainer(model, method="gradcam", topk=10, score_thresh=0.3)
    >>> result = explainer(image)  # (3, H, W) float in [0, 1]
    >>> result.heatmaps.shape     # (K, H, W)
    """

    def __init__(
        self,
        model: nn.Module,
        method: str = "gradcam",
        layer: str | None = None,
        topk: int = 10,
        score_thresh: float = 0.3,
        class_ids: set[int] | None = None,
        smooth: int = 0,
    ) -> None:
        if smooth and method != "saliency":
            raise UserError("smooth (SmoothGrad) applies to the saliency method only")
        self.smooth = smooth
        if method not in DETECTION_METHODS:
            raise UserError(
                f"method '{method}' does not apply to detectors; use one of "
                f"{', '.join(DETECTION_METHODS)}"
            )
        self.model = model.eval()
        self.family = detector_family(model)
        self.method = method
        if method == "saliency" and layer:
            raise UserError("--layer does not apply to saliency (gradients at the input pixels)")
        self.layer = "input" if method == "saliency" else layer or DETECTOR_LAYER
        if method != "saliency":
            find_layer(model, self.layer)
        self.topk, self.score_thresh, self.class_ids = topk, score_thresh, class_ids
        let_detector_keep(model, score_thresh, topk)
        self._modules = dict(model.named_modules())  # looked up once, hooked every frame
        self._calls = threading.local()  # per-thread state of a call in progress

    # -- entry point ----------------------------------------------------------------------
    def __call__(self, image: torch.Tensor, choose: Chooser | None = None) -> ExplainedDetections:
        """Detect and explain ``image`` (3, H, W) in [0, 1].

        ``choose(boxes, labels, scores)`` (the kept detections, best first) may return the
        rows to explain (a long tensor); the rest get no map and cost nothing. The real-time
        engine uses it to refresh only the tracks whose maps went stale.
        """
        self._calls.choose = choose
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(f"image must be (3, H, W), got {tuple(image.shape)}")
        try:  # a detector resizes a thinner frame to a sliver of no pixels
            check_image_size(image.shape[2], image.shape[1])
        except UnsupportedImage as exc:
            raise UserError(f"this frame is {exc}") from None
        if self.method == "none":
            with torch.no_grad():
                return self._plain(image)
        if self.method == "saliency":
            return self._saliency(image)
        self._calls.choose_failed = None
        try:
            if self.family == "faster_rcnn" and self.method in GRADIENT_METHODS:
                return self._faster_rcnn(image)
            return self._generic(image)
        except UserError:
            raise
        except Exception as exc:
            if not self._fails_for_the_layer(exc, image):
                raise
            raise UserError(self._layer_failure(exc)) from exc

    # -- a layer the method cannot explain at -----------------------------------------------
    def _fails_for_the_layer(self, exc: Exception, image: torch.Tensor) -> bool:
        """Whether ``exc`` comes from the chosen layer with this method: the same image
        explains at the default layer. A bug elsewhere (in ``choose``, out of memory, in the
        default path) stays what it is."""
        if self.layer == DETECTOR_LAYER or isinstance(exc, torch.OutOfMemoryError):
            return False
        if exc is getattr(self._calls, "choose_failed", None):
            return False
        default = DetectionExplainer(
            self.model, self.method, None, self.topk, self.score_thresh, self.class_ids
        )
        try:
            default(image)
        except Exception:
            return False
        return True

    def _no_gradient_reason(self) -> str:
        if self.family == "faster_rcnn" and self.method in GRADIENT_METHODS:
            if not self.layer.startswith(f"{DETECTOR_LAYER}."):  # the heads, the RPN
                return "the gradients go from the backbone's outputs down, and it comes after them"
            if self.layer.startswith(f"{DETECTOR_LAYER}.fpn."):
                return "not every FPN level the heads read depends on it"
        return "the scores cannot be differentiated back to its output"

    def _layer_failure(self, exc: Exception) -> str:
        text = str(exc)
        reasons = (
            ("in-place", "the next operation overwrites its output in place"),
            ("was not reached", "the forward pass never runs it; name one of its layers"),
            ("floating point dtype", "its output holds integer tensors, not feature maps"),
            ("cannot be empty", "its output holds no feature maps"),
            ("holds no feature maps", "its output holds no feature maps"),
            ("(C, h, w)", "its output is not (C, h, w) feature maps"),
            ("does not require grad", self._no_gradient_reason()),
        )
        reason = next((why for key, why in reasons if key in text), None)
        if reason is None:
            first = text.strip().splitlines()[0] if text.strip() else ""
            reason = f"{type(exc).__name__}: {first[:100]}" if first else type(exc).__name__
        return (
            f"--layer {self.layer}: {self.method} cannot explain detections at this layer "
            f"({reason}); try {DETECTOR_LAYER} (the default) or another layer under "
            f"{DETECTOR_LAYER}.body"
        )

    def _select(self, output: dict) -> torch.Tensor:
        return select_detections(
            output["labels"], output["scores"], self.score_thresh, self.class_ids, self.topk
        )

    def _chosen(self, output: dict, keep: torch.Tensor) -> torch.Tensor | None:
        """Rows of ``keep`` to explain, or ``None`` for all of them."""
        choose = getattr(self._calls, "choose", None)
        if choose is None:
            return None
        try:
            rows = choose(
                output["boxes"][keep].detach(),
                output["labels"][keep],
                output["scores"][keep].detach(),
            )
        except Exception as exc:  # the caller's failure, not the layer's
            self._calls.choose_failed = exc
            raise
        return torch.as_tensor(rows, dtype=torch.long, device=keep.device).flatten()

    def _kept(self, output: dict) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """The kept detections, the rows chosen for maps (``None``: all), and their indices."""
        all_keep = self._select(output)
        chosen = self._chosen(output, all_keep)
        return all_keep, chosen, all_keep if chosen is None else all_keep[chosen]

    def _nothing_to_explain(
        self, output, all_keep, chosen, image, remap: Remap | None = None
    ) -> ExplainedDetections:
        empty = image.new_zeros((0, *image.shape[-2:]))
        weights = {} if remap is not None else None
        return self._result(output, all_keep, empty, {}, chosen, weights, remap)

    def _remap(self, activations: dict, image_list, frame_size) -> Remap | None:
        """Maps of given channel weights on this frame's ``activations`` {part: (C, h, w)}."""
        if self.method not in CHANNEL_WEIGHT_METHODS or not activations:
            return None
        activations = {key: acts.detach() for key, acts in activations.items()}
        return lambda weights: weighted_maps(weights, activations, image_list, frame_size)

    def _result(
        self, output, keep, heatmaps, timings, rows=None, weights=None, remap=None
    ) -> ExplainedDetections:
        return ExplainedDetections(
            boxes=output["boxes"][keep].detach().float(),
            labels=output["labels"][keep].detach(),
            scores=output["scores"][keep].detach().float(),
            heatmaps=heatmaps.detach(),
            timings_ms=timings,
            explained=rows,
            channel_weights=weights,
            remap=remap,
        )

    def _plain(self, image: torch.Tensor) -> ExplainedDetections:
        t0 = time.perf_counter()
        output = self.model([image])[0]
        keep = self._select(output)
        empty = image.new_zeros((0, *image.shape[-2:]))
        timings = {"forward": (time.perf_counter() - t0) * 1000.0}
        return self._result(output, keep, empty, timings, keep.new_zeros(0))

    # -- Faster R-CNN: RoI-local gradients --------------------------------------------------
    def _faster_rcnn(self, image: torch.Tensor) -> ExplainedDetections:
        roi_heads = self.model.roi_heads
        below_fpn = self.layer != DETECTOR_LAYER
        names = {
            "transform": False,
            DETECTOR_LAYER: False,
            "roi_heads.box_roi_pool": False,
            "roi_heads.box_predictor": False,
        }
        if _has_mlp_head(roi_heads):
            names.update({"roi_heads.box_head.fc6": False, "roi_heads.box_head.fc7": False})
        if below_fpn:
            names[self.layer] = True
        t0 = time.perf_counter()
        pooler_inputs = {}

        caller = threading.get_ident()

        def keep_inputs(module, args):
            if threading.get_ident() == caller:  # not another thread's forward
                pooler_inputs["features"], pooler_inputs["proposals"] = args[0], args[1]

        grad_mode = torch.enable_grad() if below_fpn else torch.no_grad()
        pool_hook = roi_heads.box_roi_pool.register_forward_pre_hook(keep_inputs)
        try:
            frozen = frozen_parameters(self.model) if below_fpn else contextlib.nullcontext()
            with frozen, grad_mode, capture_layers(self.model, names, self._modules) as captured:
                output = self.model([image])[0]
        finally:
            pool_hook.remove()
        t1 = time.perf_counter()
        frame_size = tuple(image.shape[-2:])
        all_keep, chosen, keep = self._kept(output)
        image_list = captured["transform"].output[0]
        pooled_names = roi_heads.box_roi_pool.featmap_names
        features = pooler_inputs.get("features", {})
        if below_fpn:
            activations = {i: leaf[0] for i, leaf in enumerate(captured[self.layer].tensors)}
        else:  # the pooled FPN levels, in the pooler's order
            levels = [v for name, v in features.items() if name in pooled_names]
            activations = {i: level[0] for i, level in enumerate(levels)}
        remap = self._remap(activations, image_list, frame_size) if len(all_keep) else None
        if len(keep) == 0:
            return self._nothing_to_explain(output, all_keep, chosen, image, remap)

        labels, scores = output["labels"][keep], output["scores"][keep]
        proposals = pooler_inputs["proposals"][0]
        image_shape = image_list.image_sizes[0]
        class_logits, box_regression = captured["roi_heads.box_predictor"].output
        rows = _match_proposals(
            roi_heads,
            class_logits,
            box_regression,
            proposals,
            image_shape,
            frame_size,
            output["boxes"][keep],
            labels,
            scores,
        )
        pooled = captured["roi_heads.box_roi_pool"].output[rows].detach()
        weights = {} if remap is not None else None
        pooler, roi_boxes = roi_heads.box_roi_pool, proposals[rows]
        if below_fpn:  # the K level gradients, carried down to the layer in one batched VJP
            pooled_grad = _pooled_score_gradients(roi_heads, pooled, labels, captured, rows)
            levels, parts = _level_gradients(pooler, features, roi_boxes, pooled_grad)
            full = [feature.new_zeros((len(rows), *feature.shape)) for feature in levels]
            for level, grad, on_level in parts:
                full[level][on_level] = grad[:, None]
            leaves = captured[self.layer].tensors
            backbone_out = captured[DETECTOR_LAYER].output
            outputs = [v for name, v in backbone_out.items() if name in pooled_names]
            grads = _batched_vjp(outputs, leaves, full)
            parts = [
                (leaf.detach()[0], g[:, 0], None) for leaf, g in zip(leaves, grads, strict=True)
            ]
            heatmaps = detection_maps(
                self.method, parts, image_list, frame_size, len(keep), weights_out=weights
            )
        elif self.method == "gradcam":  # only each RoI's gradient summed over the level
            levels, level_of, mass = _bin_masses(pooler, features, roi_boxes)
            summed = self._summed_score_gradients(roi_heads, pooled, labels, captured, rows, mass)
            level_weights = _level_channel_weights(pooler, levels, level_of, summed)
            heatmaps = weighted_maps(level_weights, activations, image_list, frame_size)
            if weights is not None:
                weights.update(level_weights)
        else:  # Grad-CAM++, HiResCAM: gradients on each RoI's window of its level only
            pooled_grad = _pooled_score_gradients(roi_heads, pooled, labels, captured, rows)
            heatmaps = _windowed_maps(
                self.method,
                pooler,
                features,
                roi_boxes,
                pooled_grad,
                activations,
                image_list,
                frame_size,
                weights,
            )
        t2 = time.perf_counter()
        timings = {"forward": (t1 - t0) * 1000.0, "explain": (t2 - t1) * 1000.0}
        return self._result(output, all_keep, heatmaps, timings, chosen, weights, remap)

    def _summed_score_gradients(self, roi_heads, pooled, labels, captured, rows, mass):
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
            summed = wide(d_h6 @ self._fc6_over_bins(fc6, channels, bins))
            partial = torch.nonzero((mass < 1).any(dim=1)).flatten()
            if len(partial):
                full = wide(d_h6[partial] @ fc6).view(len(partial), channels, bins)
                summed[partial] = (full * mass[partial, None, :].to(full.dtype)).sum(dim=2)
        return summed

    def _fc6_over_bins(self, fc6: torch.Tensor, channels: int, bins: int) -> torch.Tensor:
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

    # -- every other case: autograd from the target layer on ------------------------------
    def _generic(self, image: torch.Tensor) -> ExplainedDetections:
        needs_grad = self.method in GRADIENT_METHODS
        names = {"transform": False, self.layer: needs_grad}
        t0 = time.perf_counter()
        grad_mode = torch.enable_grad() if needs_grad else torch.no_grad()
        with (
            frozen_parameters(self.model),
            grad_mode,
            capture_layers(self.model, names, self._modules) as cap,
        ):
            output = self.model([image])[0]
            t1 = time.perf_counter()
            frame_size = tuple(image.shape[-2:])
            all_keep, chosen, keep = self._kept(output)
            leaves = cap[self.layer].tensors
            image_list = cap["transform"].output[0]
            activations = {i: leaf[0] for i, leaf in enumerate(leaves)}
            remap = self._remap(activations, image_list, frame_size) if len(all_keep) else None
            if len(keep) == 0:
                return self._nothing_to_explain(output, all_keep, chosen, image, remap)
            if needs_grad:
                scores = output["scores"][keep]
                eye = torch.eye(len(keep), device=scores.device, dtype=scores.dtype)
                grads = [g[:, 0] for g in _batched_vjp([scores], leaves, [eye])]
            else:
                grads = [None] * len(leaves)
        parts = [(leaf.detach()[0], g, None) for leaf, g in zip(leaves, grads, strict=True)]
        weights = {} if remap is not None else None
        heatmaps = detection_maps(
            self.method, parts, image_list, frame_size, len(keep), weights_out=weights
        )
        t2 = time.perf_counter()
        timings = {"forward": (t1 - t0) * 1000.0, "explain": (t2 - t1) * 1000.0}
        return self._result(output, all_keep, heatmaps, timings, chosen, weights, remap)

    def _saliency(self, image: torch.Tensor) -> ExplainedDetections:
        t0 = time.perf_counter()
        with frozen_parameters(self.model), torch.enable_grad():
            pixels = image.detach().requires_grad_(True)
            output = self.model([pixels])[0]
            t1 = time.perf_counter()
            all_keep, chosen, keep = self._kept(output)
            if len(keep) == 0:
                return self._nothing_to_explain(output, all_keep, chosen, image)
            scores = output["scores"][keep]
            eye = torch.eye(len(keep), device=scores.device, dtype=scores.dtype)
            (grad,) = _batched_vjp([scores], [pixels], [eye])
        saliency = grad.abs().amax(dim=1)
        if self.smooth:
            saliency = saliency + self._smooth_saliency(image, output, keep)
        heatmaps = normalise(saliency / (1 + self.smooth))
        t2 = time.perf_counter()
        timings = {"forward": (t1 - t0) * 1000.0, "explain": (t2 - t1) * 1000.0}
        return self._result(output, all_keep, heatmaps, timings, chosen)

    def _smooth_saliency(self, image, output, keep, noise: float = 0.15) -> torch.Tensor:
        """SmoothGrad: |gradient| summed over ``smooth`` noisy copies of the frame.

        A noisy copy gives its own detections; each kept detection takes the score of the
        copy's detection of the same class that overlaps it most (IoU at least 0.5), and
        adds nothing when there is none.
        """
        from torchvision.ops import box_iou

        boxes, labels = output["boxes"][keep].detach(), output["labels"][keep]
        total = image.new_zeros((len(keep), *image.shape[-2:]))
        generator = torch.Generator(device=image.device).manual_seed(0)
        sigma = noise * float(image.max() - image.min())
        for _ in range(self.smooth):
            noise_image = torch.randn(image.shape, generator=generator, device=image.device)
            with frozen_parameters(self.model), torch.enable_grad():
                pixels = (image + sigma * noise_image).detach().requires_grad_(True)
                noisy = self.model([pixels])[0]
                if len(noisy["scores"]) == 0:
                    continue
                iou = box_iou(boxes, noisy["boxes"].detach())
                iou[labels[:, None] != noisy["labels"][None, :]] = 0.0
                best_iou, best = iou.max(dim=1)
                matched = torch.nonzero(best_iou >= 0.5).flatten()
                if len(matched) == 0:
                    continue
                scores = noisy["scores"][best[matched]]
                eye = torch.eye(len(matched), device=scores.device, dtype=scores.dtype)
                (grad,) = _batched_vjp([scores], [pixels], [eye])
            total[matched] += grad.abs().amax(dim=1)
        return total


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
    level that has RoIs."""
    for level, (feature, scale) in enumerate(zip(levels, pooler.scales, strict=True)):
        on_level = torch.nonzero(level_of == level).flatten()
        if len(on_level):
            yield level, feature, scale, on_level


def _pooled_levels(pooler, features, roi_boxes) -> tuple[list, torch.Tensor]:
    """The pooled FPN levels (in the pooler's order) and the level each RoI was pooled from."""
    levels = [v for k, v in features.items() if k in pooler.featmap_names]
    if len(levels) == 1:
        level_of = torch.zeros(len(roi_boxes), dtype=torch.long, device=roi_boxes.device)
    else:
        level_of = pooler.map_levels([roi_boxes]).long()
    return levels, level_of


def _windowed_maps(
    method, pooler, features, roi_boxes, pooled_grad, activations, image_list, frame_size, out
) -> torch.Tensor:
    """Grad-CAM++ and HiResCAM maps at the FPN from each RoI's gradient on its own window of
    its level (:func:`roi_align_window_grad`): the gradient is zero off the window, so
    Grad-CAM++'s sums and HiResCAM's products over the window are those over the level, at a
    fraction of the cells. Grad-CAM++'s channel weights go to ``out`` (a dict) when given."""
    levels, level_of = _pooled_levels(pooler, features, roi_boxes)
    count, channels = pooled_grad.shape[:2]
    cams, level_weights = [], {}
    for level, feature, scale, on_level in _rois_by_level(pooler, levels, level_of):
        acts = wide(activations[level])  # (C, h, w)
        grad, top, left = roi_align_window_grad(
            pooled_grad[on_level],
            roi_boxes[on_level],
            feature.shape[1:],
            scale,
            pooler.output_size,
            pooler.sampling_ratio,
        )
        grad = wide(grad)
        if method == "gradcam++":
            weights = acts.new_zeros((count, channels))
            weights[on_level] = gradcam_plus_plus_weights(grad, acts.sum(dim=(1, 2)))
            level_weights[level] = weights
            continue
        rows, cols = window_rows_cols(top, left, *grad.shape[-2:])
        crops = acts[:, rows, cols].transpose(0, 1)  # (n, C, wh, ww)
        cam = acts.new_zeros((len(on_level), *acts.shape[-2:]))
        index = torch.arange(len(on_level), device=cam.device)[:, None, None]
        cam[index, rows, cols] = torch.relu((grad * crops).sum(dim=1))
        cams.append((cam, on_level))
    if method == "gradcam++":
        if out is not None:
            out.update(level_weights)
        return weighted_maps(level_weights, activations, image_list, frame_size)
    device = pooled_grad.device
    return combine_parts(cams, count, device, image_list, frame_size)


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


def _level_channel_weights(pooler, levels, level_of, summed) -> dict[int, torch.Tensor]:
    """Grad-CAM's channel weights of each RoI on the level it was pooled from,
    ``{level: (K, C)}`` (zero rows for the RoIs of other levels), from ``summed`` (K, C): the
    pooled score gradients summed over the bins, weighted by the bins' masses.

    Grad-CAM's weight is the mean over the level of RoIAlign's backward; since each bin's
    bilinear weights sum to its share of samples on the map (:func:`roi_align_mass`), that
    mean is ``summed`` over the level's cell count: no (K, C, h, w) gradient map and no
    RoIAlign matrix.
    """
    out = {}
    for level, feature, _, on_level in _rois_by_level(pooler, levels, level_of):
        h, w = feature.shape[-2:]
        weights = summed.new_zeros(summed.shape)
        weights[on_level] = summed[on_level] / (h * w)
        out[level] = weights
    return out


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


def _batched_vjp(outputs, inputs, grad_outputs):
    """K vector-Jacobian products in one batched backward (leading dim of grad_outputs).

    Falls back to one backward per row where an op has no batching rule. Inputs the outputs
    do not depend on get zeros.
    """
    k = grad_outputs[0].shape[0]
    try:
        grads = torch.autograd.grad(
            outputs,
            inputs,
            grad_outputs,
            retain_graph=True,
            allow_unused=True,
            is_grads_batched=True,
        )
    except RuntimeError:
        rows = []
        for i in range(k):
            rows.append(
                torch.autograd.grad(
                    outputs,
                    inputs,
                    [g[i] for g in grad_outputs],
                    retain_graph=True,
                    allow_unused=True,
                )
            )
        grads = [
            None if rows[0][j] is None else torch.stack([r[j] for r in rows])
            for j in range(len(inputs))
        ]
    return [
        torch.zeros((k, *x.shape), dtype=x.dtype, device=x.device) if g is None else g
        for g, x in zip(grads, inputs, strict=True)
    ]


def naive_detection_maps(
    model: nn.Module,
    image: torch.Tensor,
    keep: torch.Tensor,
    method: str = "gradcam",
    layer: str = DETECTOR_LAYER,
) -> torch.Tensor:
    """The reference: for each kept detection, autograd of that one detection's score with
    respect to ``layer``, one detection at a time (one backward each). (K, H, W) in [0, 1]."""
    with (
        frozen_parameters(model),
        torch.enable_grad(),
        capture_layers(model, {"transform": False, layer: True}) as captured,
    ):
        output = model([image])[0]
        leaves = captured[layer].tensors
        image_list = captured["transform"].output[0]
        maps = []
        for k in keep.tolist():
            grads = torch.autograd.grad(
                output["scores"][k], leaves, retain_graph=True, allow_unused=True
            )
            parts = [
                (leaf.detach()[0], grad[0][None], None)
                for leaf, grad in zip(leaves, grads, strict=True)
                if grad is not None
            ]
            maps.append(detection_maps(method, parts, image_list, tuple(image.shape[-2:]), 1)[0])
    return torch.stack(maps) if maps else image.new_zeros((0, *image.shape[-2:]))


def explain_detections(
    model: nn.Module,
    images: list[torch.Tensor],
    method: str = "gradcam",
    layer: str | None = None,
    topk: int = 10,
    score_thresh: float = 0.3,
    class_ids: set[int] | None = None,
    smooth: int = 0,
) -> list[ExplainedDetections]:
    """Detect and explain: one :class:`ExplainedDetections` per image.

    ``images``: (3, H, W) float tensors in [0, 1] (torchvision's detection convention), on
    the model's device. ``layer`` defaults to ``backbone`` (the features the heads read);
    ``smooth`` > 0 averages saliency over that many noisy copies (SmoothGrad).

    >>> [result] = explain_detections(model, [image], method="gradcam", topk=10)
    >>> result.boxes.shape, result.heatmaps.shape  # (K, 4), (K, H, W)
    """
    explainer = DetectionExplainer(model, method, layer, topk, score_thresh, class_ids, smooth)
    return [explainer(image) for image in images]
