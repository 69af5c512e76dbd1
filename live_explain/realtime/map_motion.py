"""Maps that move with their boxes (an affine warp, on the CPU with OpenCV, elsewhere with
``grid_sample``) and how alike two maps are (correlation on a coarse grid)."""

from __future__ import annotations

import cv2
import numpy as np
import torch


def box_warp(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 affine matrix taking box ``src`` onto box ``dst`` (both xyxy)."""
    sx = (dst[2] - dst[0]) / max(src[2] - src[0], 1e-6)
    sy = (dst[3] - dst[1]) / max(src[3] - src[1], 1e-6)
    return np.array([[sx, 0.0, dst[0] - sx * src[0]], [0.0, sy, dst[1] - sy * src[1]]], np.float32)


def warp_map(heatmap: torch.Tensor, src: np.ndarray, dst: np.ndarray) -> torch.Tensor:
    """``heatmap`` (H, W) moved and scaled with its box from ``src`` to ``dst``; zero outside.

    OpenCV's ``warpAffine`` on the CPU (on a view, no copy); ``grid_sample`` with the same
    pixel-centre convention on a GPU, so the map stays on the device.
    """
    if np.allclose(src, dst):
        return heatmap
    matrix = box_warp(src, dst)
    if heatmap.device.type == "cpu":
        return warp_opencv(heatmap, matrix)
    return warp_grid_sample(heatmap, matrix)


def warp_opencv(heatmap: torch.Tensor, matrix: np.ndarray) -> torch.Tensor:
    """Affine warp of a CPU map with OpenCV (bilinear, zero outside)."""
    height, width = heatmap.shape
    warped = cv2.warpAffine(
        heatmap.numpy(),
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )
    return torch.from_numpy(warped)


def warp_grid_sample(heatmap: torch.Tensor, matrix: np.ndarray) -> torch.Tensor:
    """The same axis-aligned warp as :func:`warp_opencv` with ``grid_sample`` (any device)."""
    height, width = heatmap.shape
    (sx, _, tx), (_, sy, ty) = matrix.tolist()
    xs = (torch.arange(width, device=heatmap.device, dtype=torch.float32) - tx) / sx
    ys = (torch.arange(height, device=heatmap.device, dtype=torch.float32) - ty) / sy
    gx = 2.0 * xs / max(width - 1, 1) - 1.0
    gy = 2.0 * ys / max(height - 1, 1) - 1.0
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], dim=-1)[None]
    warped = torch.nn.functional.grid_sample(
        heatmap[None, None].float(), grid, mode="bilinear", padding_mode="zeros", align_corners=True
    )
    return warped[0, 0].to(heatmap.dtype)


def correlations(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each pair of maps ``a[i]``, ``b[i]`` (n, ...) -> (n,) float64, on
    their device (one result for the whole batch, no host round trip per map); as
    :func:`correlation` for constant maps."""
    a, b = a.flatten(1).double(), b.flatten(1).double()
    a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
    denom = torch.sqrt((a * a).sum(dim=1) * (b * b).sum(dim=1))
    equal = (a - b).abs().amax(dim=1) <= 1e-8 + 1e-5 * b.abs().amax(dim=1)
    flat = torch.where(equal, 1.0, 0.0).to(a.dtype)
    return torch.where(denom > 0, (a * b).sum(dim=1) / denom.clamp_min(1e-300), flat)


def coarse_correlations(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> list[float]:
    """:func:`correlations` of map pairs on every fourth pixel each way (enough to tell a
    new look), in one batch on the second maps' device."""
    if not pairs:
        return []
    coarse = (slice(None), slice(None, None, 4), slice(None, None, 4))
    first = torch.stack([a for a, _ in pairs])[coarse]
    second = torch.stack([b for _, b in pairs])[coarse]
    return correlations(first.to(second.device), second).tolist()


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Pearson correlation of two maps (1.0 when both are constant and equal)."""
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    denom = torch.sqrt((a * a).sum() * (b * b).sum())
    if float(denom) == 0.0:
        return 1.0 if bool(torch.allclose(a, b)) else 0.0
    return float((a * b).sum() / denom)
