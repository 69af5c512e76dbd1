"""Faithfulness of explanation methods: deletion and insertion curves (Petsiuk et al. 2018,
RISE), adapted to detections.

For one detection (box, class) and its map, pixels are ranked by the map, most attended
first. **Deletion** replaces the top pixels of the frame by a baseline (the frame blurred
with a Gaussian of sigma = 1/25 of its longer side) in doubling shares: none, 1/2^(steps-1),
..., 1/4, 1/2, all of them (``steps + 1`` points; with the default 10 steps the first share is
0.2 % of the frame, about a small car's worth of pixels). **Insertion** starts from the
baseline and puts the top pixels back in the same shares. After each step the detector runs
again and the detection's score is read: the best score among detections of the same class
whose box overlaps the original with IoU >= 0.5 (0 when none). The AUC is the area under that
score curve with the steps evenly spaced over [0, 1] (doubling shares: a road user covers a
percent or two of a frame, so the small first shares, where its own pixels go, count as much
as the large ones). A faithful map makes the score fall fast under deletion (low deletion AUC)
and rise fast under insertion (high insertion AUC). Scores below the detector's own floor
(0.05 for torchvision's Faster R-CNN) count as 0.

Cost: ``2 * (steps + 1)`` detector forwards per detection, on up to
:data:`DETECTIONS_PER_FRAME` detections per sampled frame and method.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np
import torch
from torch import nn

from live_explain.explain.methods import map_method_names
from live_explain.model.detector import Detector, frame_to_tensor
from live_explain.monitor.metrics import box_iou
from live_explain.monitor.runlog import FaithfulnessRecord

DEFAULT_STEPS = 10
DETECTIONS_PER_FRAME = 3
MATCH_IOU = 0.5
BASELINE = "blur"
BLUR_SIGMA_SHARE = 1 / 25
BATCH = 4  # perturbed frames per detector forward


def blurred(image_bgr: np.ndarray) -> np.ndarray:
    """The deletion/insertion baseline: the frame without its detail."""
    sigma = max(image_bgr.shape[:2]) * BLUR_SIGMA_SHARE
    return cv2.GaussianBlur(image_bgr, (0, 0), sigmaX=sigma)


def area_under(curve: np.ndarray) -> float:
    """Trapezoidal area under a curve whose points are evenly spaced over [0, 1]."""
    curve = np.asarray(curve, np.float64)
    return float(((curve[:-1] + curve[1:]) / 2).mean()) if len(curve) > 1 else float(curve[0])


def matched_score(output: dict, box: np.ndarray, label: int) -> float:
    """Best score of a detection of ``label`` overlapping ``box`` with IoU >= 0.5."""
    same = output["labels"].cpu().numpy() == label
    if not same.any():
        return 0.0
    boxes = output["boxes"].detach().cpu().numpy()[same]
    scores = output["scores"].detach().cpu().numpy()[same]
    overlap = box_iou(np.asarray(box)[None], boxes)[0]
    hits = scores[overlap >= MATCH_IOU]
    return float(hits.max()) if len(hits) else 0.0


@torch.no_grad()
def perturbation_curves(
    model: nn.Module,
    image: torch.Tensor,
    baseline: torch.Tensor,
    heatmap: torch.Tensor,
    box: np.ndarray,
    label: int,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Deletion and insertion score curves, ``steps + 1`` points each.

    ``image`` and ``baseline`` are (3, H, W) float in [0, 1] on the model's device;
    ``heatmap`` (H, W) ranks the pixels (ties in a fixed random order, not raster order).
    """
    height, width = heatmap.shape
    count = height * width
    generator = torch.Generator().manual_seed(seed)
    jitter = torch.rand(count, generator=generator).to(heatmap.device) * 1e-6
    order = torch.argsort(heatmap.flatten().float() + jitter, descending=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(count, device=order.device)
    rank = rank.view(height, width)
    cuts = [0] + [round(count * 2.0 ** (i - steps)) for i in range(1, steps + 1)]
    # (cut, insert?) per perturbed frame: all deletion steps, then all insertion steps.
    plan = [(cut, False) for cut in cuts] + [(cut, True) for cut in cuts]
    scores = []
    for start in range(0, len(plan), BATCH):  # built per batch: memory stays at BATCH frames
        batch = [
            torch.where(rank < cut, image, baseline)
            if insert
            else torch.where(rank < cut, baseline, image)
            for cut, insert in plan[start : start + BATCH]
        ]
        scores += [matched_score(output, box, label) for output in model(batch)]
    scores = np.asarray(scores, np.float64)
    return scores[: steps + 1], scores[steps + 1 :]


def evaluate_faithfulness(
    detector: Detector,
    frames: Sequence[tuple[int, np.ndarray]],
    methods: Sequence[str] | None = None,
    *,
    steps: int = DEFAULT_STEPS,
    detections_per_frame: int = DETECTIONS_PER_FRAME,
    progress: Callable[[], None] | None = None,
) -> list[FaithfulnessRecord]:
    """Deletion and insertion AUC per method over ``frames`` ((index, BGR image) pairs).

    ``detector`` gives the model, device and filters (score threshold, classes, layer); each
    method explains its best ``detections_per_frame`` detections per frame, the same ones
    for every method, so the numbers compare methods, not detections. ``progress`` is called
    once per (method, frame).
    """
    methods = map_method_names() if methods is None else methods  # default: every one
    model, device = detector.model, detector.device
    tensors = [(index, frame_to_tensor(image, device)) for index, image in frames]
    baselines = [frame_to_tensor(blurred(image), device) for _, image in frames]
    records = []
    for method in methods:
        explain = detector.with_settings(method=method, topk=detections_per_frame)
        deletion, insertion = [], []
        for (_, image), baseline in zip(tensors, baselines, strict=True):
            result = explain.explainer(image)
            for row in range(len(result)):
                curves = perturbation_curves(
                    model,
                    image,
                    baseline,
                    result.heatmaps[row],
                    result.boxes[row].cpu().numpy(),
                    int(result.labels[row]),
                    steps,
                    seed=row,
                )
                deletion.append(curves[0])
                insertion.append(curves[1])
            if progress is not None:
                progress()
        records.append(_record(method, [i for i, _ in tensors], steps, deletion, insertion))
    return records


def _record(method, frames, steps, deletion, insertion) -> FaithfulnessRecord:
    if not deletion:
        return FaithfulnessRecord(method, tuple(frames), 0, steps, BASELINE, None, None, (), ())
    deletion_curve = np.mean(deletion, axis=0)
    insertion_curve = np.mean(insertion, axis=0)
    return FaithfulnessRecord(
        method=method,
        frames=tuple(frames),
        detections=len(deletion),
        steps=steps,
        baseline=BASELINE,
        deletion_auc=float(np.mean([area_under(c) for c in deletion])),
        insertion_auc=float(np.mean([area_under(c) for c in insertion])),
        deletion_curve=tuple(float(v) for v in deletion_curve),
        insertion_curve=tuple(float(v) for v in insertion_curve),
    )
