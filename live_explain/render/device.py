"""Heatmap colouring and blending as tensor ops, on the device the maps live on.

The same arithmetic as :func:`live_explain.render.overlay.heat_layer` + :func:`blend_heat` (OpenCV's
colormaps as a 256-entry lookup table, ``round(image * (1 - a) + colour * a)`` with the
opacity ``a`` following the heat), so on a GPU
the frame never leaves the device between inference and the final readback. Boxes and text
are drawn afterwards with OpenCV on the host.
"""

from __future__ import annotations

import numpy as np
import torch

from live_explain.explain.align import frame_region
from live_explain.render.overlay import HEAT_FULL, box_pixels, colormap_colours

_LUTS: dict[tuple[str, torch.device], torch.Tensor] = {}


def colormap_lut(name: str, device: torch.device) -> torch.Tensor:
    """(256, 3) uint8 BGR lookup table of an OpenCV colormap, cached per device."""
    key = (name, device)
    if key not in _LUTS:
        table = np.ascontiguousarray(colormap_colours(name))
        _LUTS[key] = torch.from_numpy(table).to(device)
    return _LUTS[key]


def blend_heat_tensor(
    image: torch.Tensor,
    heatmaps: torch.Tensor,
    boxes: np.ndarray | torch.Tensor,
    scores: np.ndarray | torch.Tensor,
    colormap: str = "turbo",
    alpha: float = 0.45,
    merged: bool = False,
    selected_row: int | None = None,
) -> torch.Tensor:
    """``image`` (H, W, 3) uint8 BGR with the maps (K, h, w) in [0, 1] over the whole frame
    (at its size or smaller: upsampled where drawn) blended in.

    Per box: each map inside its own box, the better score on top. Merged: the maximum over
    the maps, everywhere. ``selected_row``: that map alone, everywhere. ``boxes`` and
    ``scores`` decide only where each map goes: give the host copies that the caller holds
    (a device tensor is read back here).
    """
    height, width = image.shape[:2]
    if heatmaps is None or len(heatmaps) == 0:
        return image.clone()
    defined = None
    frame, whole = (height, width), (0, 0, width, height)
    if selected_row is not None:
        heat = frame_region(heatmaps[selected_row], frame, whole)
    elif merged:
        heat = frame_region(heatmaps.amax(dim=0), frame, whole)
    else:
        heat = torch.zeros((height, width), device=image.device, dtype=heatmaps.dtype)
        defined = torch.zeros((height, width), device=image.device, dtype=torch.bool)
        order = np.argsort(_host(scores), kind="stable").tolist()
        bounds = [box_pixels(box, width, height) for box in _host(boxes)]
        for index in order:  # best drawn last
            x0, y0, x1, y1 = bounds[index]
            heat[y0:y1, x0:x1] = frame_region(heatmaps[index], frame, bounds[index])
            defined[y0:y1, x0:x1] = True
    levels = (heat.float() * 255.0 + 0.5).clamp_(0, 255).to(torch.uint8)
    coloured = colormap_lut(colormap, image.device)[levels.long()]
    weight = (heat.float().clamp(max=HEAT_FULL) * (alpha / HEAT_FULL))[..., None]
    blended = image.float() * (1.0 - weight) + coloured.float() * weight
    blended = blended.add_(0.5).floor_().clamp_(0, 255).to(torch.uint8)
    if defined is None:
        return blended
    return torch.where(defined[..., None], blended, image)


def _host(values: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        return values.detach().float().cpu().numpy()
    return np.asarray(values, np.float32)
