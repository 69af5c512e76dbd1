"""Bringing maps from a layer's grid back to original frame pixels.

A detector's transform resizes the frame (H0, W0) to (Hr, Wr) and pads the batch to
(Hp, Wp); a layer map (h, w) covers the padded image. Upsampling it to
(Hp * H0 / Hr, Wp * W0 / Wr) and cropping the top-left (H0, W0) undoes both.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def to_frame(
    maps: torch.Tensor,
    padded_size: tuple[int, int],
    resized_size: tuple[int, int],
    frame_size: tuple[int, int],
) -> torch.Tensor:
    """(K, h, w) maps over the padded input -> (K, H0, W0) over the original frame."""
    hp, wp = padded_size
    hr, wr = resized_size
    h0, w0 = frame_size
    out_h = max(h0, math.ceil(hp * h0 / hr))
    out_w = max(w0, math.ceil(wp * w0 / wr))
    up = F.interpolate(maps[:, None].float(), size=(out_h, out_w), mode="bilinear")
    return up[:, 0, :h0, :w0]
