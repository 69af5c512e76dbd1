"""Per-detection maps from a layer's activations: from gradients (a fresh explanation) or
from channel weights kept from an earlier frame (an incremental one).

A layer gives one or more tensors (the FPN levels of a detector's backbone): its *parts*. A
detection's map is the sum of its parts' maps, scaled by their common peak on the layer's grid,
then aligned to frame pixels. Grad-CAM and Grad-CAM++ are ``relu(sum_c w_c A_c)`` with channel
weights ``w`` from the gradients; :func:`detection_maps` can hand those weights out, and
:func:`weighted_maps` forms the same maps again from them on another frame's activations.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from live_explain.explain.align import to_frame
from live_explain.explain.methods import (
    GRADIENT_METHODS,
    EigenCAM,
    normalise,
    weighted_cam,
    wide,
)

# Methods whose maps are relu(w . A) with channel weights w: their maps can be re-formed from
# kept weights on new activations (HiResCAM's weights are per cell, so it cannot).
CHANNEL_WEIGHT_METHODS = ("gradcam", "gradcam++")

# weights {part: (n, C)} -> maps (n, H, W) on one frame's activations
Remap = Callable[[dict[int, torch.Tensor]], torch.Tensor]


def detection_maps(
    method: str,
    parts: list,
    image_list,
    frame_size: tuple[int, int],
    count: int,
    weights_out: dict[int, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Per-detection maps (count, H0, W0) in [0, 1], aligned to the frame.

    ``parts``: ``(activations (C, h, w), gradients (n, C, h, w) or None, members)``, one per
    tensor of the layer; ``members`` (n,) says which detections the gradients belong to
    (``None``: all). A detection's map is the sum over its parts. Maps are scaled by their
    peak on the layer's grid, before upsampling, so the large arrays are touched once.

    With ``weights_out`` (a dict) and a method of ``CHANNEL_WEIGHT_METHODS``, it receives each
    part's channel weights as ``{position: (count, C)}`` (zero rows for detections without
    that part).
    """
    if not parts:  # ValueError: the explainer names the layer and the method
        raise ValueError("the target layer's output holds no feature maps")
    cams = []
    for key, (acts, grad, members) in enumerate(parts):
        if acts.ndim != 3:
            raise ValueError("the target layer does not give (C, h, w) feature maps")
        if method == "eigencam":
            cam = EigenCAM()(wide(acts), count=count)
        elif members is None and not bool(grad.any()):
            continue  # a tensor of the layer that no kept detection depends on
        else:
            maker = GRADIENT_METHODS[method]()
            if weights_out is not None and method in CHANNEL_WEIGHT_METHODS:
                weights = maker.weights(wide(acts), wide(grad))  # (n, C)
                cam = weighted_cam(weights, wide(acts))
                full = weights.new_zeros((count, weights.shape[1]))
                full[slice(None) if members is None else members] = weights
                weights_out[key] = full
            else:
                cam = maker(wide(acts), wide(grad))
        index = members if members is not None else torch.arange(count, device=cam.device)
        cams.append((cam, index))
    return combine_parts(cams, count, parts[0][0].device, image_list, frame_size)


def weighted_maps(
    weights: dict[int, torch.Tensor],
    activations: dict[int, torch.Tensor],
    image_list,
    frame_size: tuple[int, int],
) -> torch.Tensor:
    """Maps (n, H0, W0) of channel ``weights`` {part: (n, C)} on ``activations``
    {part: (C, h, w)}, combined as :func:`detection_maps` combines a fresh explanation's (a
    zero row: the detection has no map on that part)."""
    count = max((len(w) for w in weights.values()), default=0)
    device = next(iter(activations.values())).device
    cams = []
    for key, w in weights.items():
        members = torch.nonzero(w.abs().sum(dim=1) > 0).flatten()
        if len(members) == 0 or key not in activations:
            continue
        cams.append((weighted_cam(w[members], wide(activations[key])), members))
    return combine_parts(cams, count, device, image_list, frame_size)


# Full-frame maps formed at once before they are written into the output: the scratch memory
# of forming K maps is then CHUNK maps, not K.
CHUNK = 8


def _chunks(cams: list):
    """``(cam, index)`` pairs cut into pieces of at most :data:`CHUNK` maps."""
    for cam, index in cams:
        for start in range(0, len(index), CHUNK):
            yield cam[start : start + CHUNK], index[start : start + CHUNK]


def combine_parts(cams: list, count: int, device, image_list, frame_size) -> torch.Tensor:
    """Sum each detection's part maps ``(cam (n, h, w), detection index (n,))``, scaled by
    the detection's peak on the grid, and align them to the frame: (count, H0, W0) in [0, 1]."""
    padded = tuple(image_list.tensors.shape[-2:])
    resized = tuple(image_list.image_sizes[0])
    if not cams:
        return torch.zeros((count, *frame_size), device=device)
    dtype = cams[0][0].dtype
    peak = torch.zeros(count, device=device, dtype=dtype)
    covered = torch.zeros(count, dtype=torch.long, device=device)
    lit = torch.zeros(count, dtype=torch.long, device=device)  # parts with a non-zero map
    for cam, index in cams:
        part_peak = cam.flatten(1).amax(dim=1)
        peak.scatter_reduce_(0, index, part_peak, reduce="amax")
        covered.index_add_(0, index, torch.ones_like(index))
        lit.index_add_(0, index, (part_peak > 0).long())
    scale = torch.where(peak > 0, 1.0 / peak.clamp_min(torch.finfo(peak.dtype).tiny), 0.0)
    if bool((covered == 1).all()):  # one part each: write the scaled maps straight out
        if len(cams) == 1:
            cam, index = cams[0]
            order = torch.argsort(index)
            scaled = cam[order] * scale[index[order], None, None]
            return to_frame(scaled, padded, resized, frame_size).clamp_(0.0, 1.0).float()
        out = torch.empty((count, *frame_size), device=device, dtype=dtype)
        for cam, index in _chunks(cams):
            out[index] = to_frame(cam * scale[index, None, None], padded, resized, frame_size)
        return out.clamp_(0.0, 1.0).float()
    total = torch.zeros((count, *frame_size), device=device, dtype=dtype)
    for cam, index in _chunks(cams):
        scaled = cam * scale[index, None, None]
        total.index_add_(0, index, to_frame(scaled, padded, resized, frame_size))
    # A map made of several non-zero parts can pass 1 where they overlap: rescale those.
    mixed = torch.nonzero(lit > 1).flatten()
    if len(mixed):
        total[mixed] = normalise(total[mixed])
    return total.clamp_(0.0, 1.0).float()
