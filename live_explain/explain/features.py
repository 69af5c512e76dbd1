"""Looking inside a layer: its most active feature maps, and what its filters respond to.

* :func:`feature_map_grid` — the N channels of a layer with the highest mean activation on
  the current frame, each scaled to [0, 1] and shown as a colour-mapped tile.
* :func:`first_conv_filters` — the kernels of the model's first convolution as colour patches.
* :func:`top_patches` — for a deeper layer, the frame patch that most excites each of its
  most active channels (the patch around the channel's peak, one receptive-field stride wide
  on each side).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import nn

from live_explain.errors import UserError
from live_explain.explain.hooks import capture_layers, tensors_of

TILE = 96  # pixels per tile side in the grids


@dataclass(frozen=True)
class LayerView:
    """What a layer did on one frame: activations (C, h, w) of its first (finest) tensor
    and how its grid maps onto the frame (pixels per cell, y and x)."""

    activations: torch.Tensor
    cell_size: tuple[float, float]


def capture_layer(model: nn.Module, image_bgr: np.ndarray, layer: str) -> LayerView:
    """Run ``model`` (a detector of any family, or a classifier) on one BGR frame and keep
    ``layer``'s output. A detector runs through its family adapter (its own input transform:
    torchvision's resize, YOLO's letterbox), whose geometry gives the layer's cell size."""
    from live_explain.explain.family import ADAPTERS
    from live_explain.model.detector import frame_to_tensor

    device = next(model.parameters()).device
    image = frame_to_tensor(image_bgr, device)
    adapter = next((a(model) for a in ADAPTERS if a.matches(model)), None)
    geometry = None
    with torch.no_grad(), capture_layers(model, {layer: False}) as captured:
        if adapter is not None:
            geometry = adapter.detect(image).geometry
        else:
            mean = torch.tensor([0.485, 0.456, 0.406], device=device)[:, None, None]
            std = torch.tensor([0.229, 0.224, 0.225], device=device)[:, None, None]
            model(((image - mean) / std)[None])
    tensors = [t for t in tensors_of(captured[layer].output) if t.ndim == 4]
    if not tensors:
        raise UserError(f"layer '{layer}' does not give feature maps")
    activations = max(tensors, key=lambda t: t.shape[-1] * t.shape[-2])[0]
    height, width = image_bgr.shape[:2]
    if geometry is not None:
        (hp, wp), (hr, wr) = geometry.padded, geometry.resized
        # one cell covers (hp / h) resized pixels = (hp / h) * (height / hr) frame pixels
        cell = (hp / activations.shape[1] * height / hr, wp / activations.shape[2] * width / wr)
    else:
        cell = (height / activations.shape[1], width / activations.shape[2])
    return LayerView(activations.float(), cell)


def most_active_channels(activations: torch.Tensor, count: int) -> torch.Tensor:
    return torch.argsort(activations.mean(dim=(1, 2)), descending=True)[:count]


GAP = 4  # pixels between tiles


def grid_shape(count: int, columns: int | None = None) -> tuple[int, int]:
    """(rows, columns) of a grid of ``count`` tiles (square-ish unless ``columns`` is given)."""
    columns = max(1, min(columns or int(np.ceil(np.sqrt(count))), max(count, 1)))
    return int(np.ceil(count / columns)), columns


def tile_origin(index: int, columns: int) -> tuple[int, int]:
    """(x, y) pixel of tile ``index``'s top left corner in its grid."""
    r, c = divmod(index, columns)
    return GAP + c * (TILE + GAP), GAP + r * (TILE + GAP)


def _grid(
    tiles: list[np.ndarray],
    captions: list[str],
    columns: int | None = None,
    burn_captions: bool = True,
) -> np.ndarray:
    """Tiles (TILE x TILE BGR) in a grid, with a caption burned into each unless
    ``burn_captions`` is false (the app draws them at screen resolution)."""
    rows, columns = grid_shape(len(tiles), columns)
    grid = np.full((rows * (TILE + GAP) + GAP, columns * (TILE + GAP) + GAP, 3), 32, np.uint8)
    for i, (tile, caption) in enumerate(zip(tiles, captions, strict=True)):
        x, y = tile_origin(i, columns)
        grid[y : y + TILE, x : x + TILE] = tile
        if not burn_captions:
            continue
        cv2.putText(
            grid,
            caption,
            (x + 3, y + 14),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return grid


def feature_map_grid(
    view: LayerView,
    count: int = 16,
    colormap: int = cv2.COLORMAP_VIRIDIS,
    columns: int | None = None,
    burn_captions: bool = True,
):
    """A grid image of the ``count`` most active channels, each scaled to [0, 1]."""
    acts = view.activations
    tiles, captions = [], []
    for channel in most_active_channels(acts, count).tolist():
        fmap = acts[channel]
        low, high = float(fmap.min()), float(fmap.max())
        scaled = (fmap - low) / (high - low) if high > low else torch.zeros_like(fmap)
        tile = cv2.resize(
            (scaled.cpu().numpy() * 255).astype(np.uint8),
            (TILE, TILE),
            interpolation=cv2.INTER_NEAREST,
        )
        tiles.append(cv2.applyColorMap(tile, colormap))
        captions.append(f"ch {channel}")
    return _grid(tiles, captions, columns, burn_captions)


def first_conv(model: nn.Module) -> nn.Conv2d:
    for module in model.modules():
        if isinstance(module, nn.Conv2d) and module.in_channels == 3:
            return module
    raise UserError(f"{type(model).__name__} has no convolution on the colour image")


def first_conv_filters(
    model: nn.Module, count: int = 32, columns: int | None = None, burn_captions: bool = True
) -> np.ndarray:
    """The first convolution's kernels as colour patches (each scaled to [0, 1])."""
    weight = first_conv(model).weight.detach().float().cpu()[:count]  # (n, 3, k, k) RGB
    tiles, captions = [], []
    for index, kernel in enumerate(weight):
        low, high = float(kernel.min()), float(kernel.max())
        scaled = (kernel - low) / (high - low) if high > low else torch.zeros_like(kernel)
        rgb = (scaled.permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        tile = cv2.resize(rgb[:, :, ::-1], (TILE, TILE), interpolation=cv2.INTER_NEAREST)
        tiles.append(np.ascontiguousarray(tile))
        captions.append(f"f {index}")
    return _grid(tiles, captions, columns, burn_captions)


def top_patches(
    view: LayerView,
    image_bgr: np.ndarray,
    count: int = 16,
    columns: int | None = None,
    burn_captions: bool = True,
) -> np.ndarray:
    """For the ``count`` most active channels: the frame patch around each one's peak."""
    acts = view.activations
    cell_y, cell_x = view.cell_size
    height, width = image_bgr.shape[:2]
    half = max(cell_y, cell_x) * 1.5  # the peak cell and a neighbour on each side
    tiles, captions = [], []
    for channel in most_active_channels(acts, count).tolist():
        y, x = divmod(int(acts[channel].argmax()), acts.shape[2])
        cy, cx = (y + 0.5) * cell_y, (x + 0.5) * cell_x
        # a peak in the detector's padding (below or right of the frame): nearest frame patch
        cy, cx = min(cy, height - 1.0), min(cx, width - 1.0)
        y0, y1 = int(max(0, cy - half)), int(min(height, cy + half))
        x0, x1 = int(max(0, cx - half)), int(min(width, cx + half))
        patch = image_bgr[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]
        tiles.append(cv2.resize(patch, (TILE, TILE), interpolation=cv2.INTER_LINEAR))
        captions.append(f"ch {channel}")
    return _grid(tiles, captions, columns, burn_captions)
