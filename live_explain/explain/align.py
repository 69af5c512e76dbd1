"""Bringing maps from a layer's grid back to original frame pixels.

A detector's transform resizes the frame (H0, W0) to (Hr, Wr) and pads the batch to
(Hp, Wp); a layer map (h, w) covers the padded image. Bilinear upsampling to
(Hp * H0 / Hr, Wp * W0 / Wr), keeping the top-left (H0, W0), undoes both.

The upsampling is done as two small matrix products, ``Ry @ map @ Rx.T``, whose rows are
PyTorch's bilinear weights (``align_corners=False``); only the kept rows and columns are
computed, and the matrices are cached per size.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch


@lru_cache(maxsize=64)
def resize_matrix(n_in: int, n_out: int, keep: int, device: str, dtype) -> torch.Tensor:
    """(keep, n_in): the first ``keep`` rows of bilinear resizing from n_in to n_out."""
    dst = torch.arange(keep, dtype=torch.float64)
    src = ((dst + 0.5) * (n_in / n_out) - 0.5).clamp_min(0.0)
    low = src.floor().long().clamp_max(n_in - 1)
    high = (low + 1).clamp_max(n_in - 1)
    frac = src - low
    matrix = torch.zeros(keep, n_in, dtype=torch.float64)
    rows = torch.arange(keep)
    matrix.index_put_((rows, low), 1.0 - frac, accumulate=True)
    matrix.index_put_((rows, high), frac, accumulate=True)
    return matrix.to(device=device, dtype=dtype)


def to_frame(
    maps: torch.Tensor,
    padded_size: tuple[int, int],
    resized_size: tuple[int, int],
    frame_size: tuple[int, int],
) -> torch.Tensor:
    """(K, h, w) maps over the padded input -> (K, H0, W0) over the original frame
    (float32, or float64 for float64 maps)."""
    hp, wp = padded_size
    hr, wr = resized_size
    h0, w0 = frame_size
    _, h, w = maps.shape
    out_h = max(h0, math.ceil(hp * h0 / hr))
    out_w = max(w0, math.ceil(wp * w0 / wr))
    dtype = torch.float64 if maps.dtype == torch.float64 else torch.float32
    ry = resize_matrix(h, out_h, h0, str(maps.device), dtype)
    rx = resize_matrix(w, out_w, w0, str(maps.device), dtype)
    return torch.matmul(torch.matmul(ry, maps.to(dtype)), rx.T)


def frame_region(
    heatmap: torch.Tensor, frame_size: tuple[int, int], bounds: tuple[int, int, int, int]
) -> torch.Tensor:
    """The pixels ``bounds`` (x0, y0, x1, y1; x1, y1 exclusive) of a map (h, w) over the whole
    frame (H, W), bilinearly upsampled (``align_corners=False``, as :func:`to_frame`): the
    same values as upsampling the whole map and cutting the region out, for the region's cost.
    A map already at the frame's size is cut, not resampled."""
    x0, y0, x1, y1 = bounds
    h, w = heatmap.shape[-2:]
    height, width = frame_size
    if (h, w) == (height, width):
        return heatmap[..., y0:y1, x0:x1]
    dtype = torch.float64 if heatmap.dtype == torch.float64 else torch.float32
    device = str(heatmap.device)
    ry = resize_matrix(h, height, height, device, dtype)[y0:y1]
    rx = resize_matrix(w, width, width, device, dtype)[x0:x1]
    return torch.matmul(torch.matmul(ry, heatmap.to(dtype)), rx.T)


def frame_total(heatmap: torch.Tensor, frame_size: tuple[int, int]) -> torch.Tensor:
    """The sum of a map (h, w) bilinearly upsampled to the frame (H, W), computed on the
    map's grid: each map pixel weighs by the frame pixels it reaches."""
    h, w = heatmap.shape[-2:]
    height, width = frame_size
    if (h, w) == (height, width):
        return heatmap.sum(dim=(-2, -1))
    dtype = torch.float64 if heatmap.dtype == torch.float64 else torch.float32
    device = str(heatmap.device)
    ry = resize_matrix(h, height, height, device, dtype).sum(dim=0)
    rx = resize_matrix(w, width, width, device, dtype).sum(dim=0)
    return torch.einsum("h,...hw,w->...", ry, heatmap.to(dtype), rx)


def map_size_within(frame_size: tuple[int, int], longest: int) -> tuple[int, int]:
    """(h, w) of maps over a frame (H, W), shrunk (keeping its shape) so that their longer
    side is at most ``longest``; the frame's own size when it is already within."""
    height, width = frame_size
    scale = longest / max(height, width)
    if scale >= 1.0:
        return height, width
    return max(1, round(height * scale)), max(1, round(width * scale))
