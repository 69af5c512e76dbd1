"""Per-detection maps from a layer's activations: from gradients (a fresh explanation) or
from channel weights kept from an earlier frame (an incremental one).

A layer gives one or more tensors (the FPN levels of a detector's backbone): its *parts*. A
detection's map is the sum of its parts' maps, scaled by their common peak on the layer's grid,
then aligned to frame pixels. Grad-CAM and Grad-CAM++ are ``relu(sum_c w_c A_c)`` with channel
weights ``w`` from the gradients; :func:`detection_maps` can hand those weights out, and
:func:`weighted_maps` forms the same maps again from them on another frame's activations.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from live_explain.explain.align import to_frame
from live_explain.explain.methods import Evidence, Method, normalise, weighted_cam, wide


@dataclass(frozen=True)
class Geometry:
    """How a layer's grid lies on the frame: the detector's input was the frame (H0, W0)
    resized to ``resized`` (Hr, Wr) and padded to ``padded`` (Hp, Wp); every layer map covers
    the padded input."""

    padded: tuple[int, int]
    resized: tuple[int, int]
    frame: tuple[int, int]

    @classmethod
    def of_image_list(cls, image_list, frame_size: tuple[int, int]) -> Geometry:
        """From a torchvision detector's transformed ``ImageList``."""
        padded = tuple(int(v) for v in image_list.tensors.shape[-2:])
        resized = tuple(int(v) for v in image_list.image_sizes[0])
        return cls(padded, resized, tuple(frame_size))


@dataclass
class Part:
    """One part of a layer (an FPN level, one call of a shared module) with the evidence of
    the targets that depend on it: ``members`` (n,) says which of the ``count`` targets the
    evidence rows belong to (``None``: all, in order)."""

    key: int
    evidence: Evidence
    members: torch.Tensor | None = None


def detection_maps(
    method: Method,
    parts: list[Part],
    geometry: Geometry,
    count: int,
    weights_out: dict[int, torch.Tensor] | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Per-detection maps (count, H0, W0) in [0, 1], aligned to the frame (on ``device``
    where no part has evidence).

    A detection's map is the sum over its parts. Methods with channel weights form their maps
    on the whole part; the others give them on the evidence's grid, which a window places on
    the part's. Maps are scaled by their peak on the
    layer's grid, before upsampling, so the large arrays are touched once.

    With ``weights_out`` (a dict) and a method with channel weights, it receives each part's
    channel weights as ``{key: (count, C)}`` (zero rows for detections without that part).
    """
    cams = []
    for part in parts:
        acts = part.evidence.activations
        device = acts.device
        index = part.members
        if index is None:
            index = torch.arange(count, device=acts.device)
        if method.channel_weights:
            weights = method.weights(part.evidence)  # (n, C)
            cam = weighted_cam(weights, acts)
            if weights_out is not None:
                full = weights.new_zeros((count, weights.shape[1]))
                full[index] = weights
                weights_out[part.key] = full
        else:
            cam = method.cell_maps(part.evidence)
            if part.evidence.window is not None:
                rows, cols = part.evidence.window
                placed = cam.new_zeros((len(cam), *acts.shape[-2:]))
                at = torch.arange(len(cam), device=cam.device)[:, None, None]
                placed[at, rows, cols] = cam
                cam = placed
        cams.append((cam, index))
    # No part at all: the chosen detections' gradients are zero on the whole layer (it
    # reaches their scores, but nothing in it moves them): zero maps.
    return combine_parts(cams, count, device, geometry)


def weighted_maps(
    weights: dict[int, torch.Tensor],
    activations: dict[int, torch.Tensor],
    geometry: Geometry,
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
    return combine_parts(cams, count, device, geometry)


# Full-frame maps formed at once before they are written into the output: the scratch memory
# of forming K maps is then CHUNK maps, not K.
CHUNK = 8


def _chunks(cams: list):
    """``(cam, index)`` pairs cut into pieces of at most :data:`CHUNK` maps."""
    for cam, index in cams:
        for start in range(0, len(index), CHUNK):
            yield cam[start : start + CHUNK], index[start : start + CHUNK]


def combine_parts(cams: list, count: int, device, geometry: Geometry) -> torch.Tensor:
    """Sum each detection's part maps ``(cam (n, h, w), detection index (n,))``, scaled by
    the detection's peak on the grid, and align them to the frame: (count, H0, W0) in [0, 1]."""
    padded, resized, frame_size = geometry.padded, geometry.resized, geometry.frame
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
