"""RoIAlign's backward as a small dense matrix per RoI.

torchvision's ``roi_align`` is linear in its input: pooled bin ``b`` of RoI ``k`` is a fixed
weighted sum of feature cells. ``roi_align_matrix`` builds those weights, ``W[k, b, cell]``,
with the same sampling and border rules as torchvision's kernel (``aligned=False`` as in
``MultiScaleRoIAlign``), so ``dS_k/dA = dS_k/dP_k @ W[k]`` for every channel at once: one
batched matrix product instead of a scatter over every channel, bin and sample.
``roi_align_window_matrix`` does the same on each RoI's own window of the map (the cells its
samples touch), for methods that need the gradient cell by cell; ``roi_align_mass`` gives
only the matrix's row sums, all that Grad-CAM needs.
"""

from __future__ import annotations

import torch


def _sample_points(
    boxes: torch.Tensor,
    spatial_scale: float,
    height: int,
    width: int,
    output_size: tuple[int, int],
    sampling_ratio: int,
    aligned: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """``roi_align``'s sample coordinates ``y, x`` (K, PH, PW, grid, grid) in feature cells,
    which of them fall outside the map (and add nothing), and the samples per bin."""
    ph, pw = output_size
    dtype, device = boxes.dtype, boxes.device
    offset = 0.5 if aligned else 0.0
    x0 = boxes[:, 0] * spatial_scale - offset
    y0 = boxes[:, 1] * spatial_scale - offset
    roi_w = boxes[:, 2] * spatial_scale - offset - x0
    roi_h = boxes[:, 3] * spatial_scale - offset - y0
    if not aligned:
        roi_w, roi_h = roi_w.clamp_min(1.0), roi_h.clamp_min(1.0)
    bin_w, bin_h = roi_w / pw, roi_h / ph
    if sampling_ratio > 0:
        grid_h = grid_w = sampling_ratio
    else:  # adaptive grids differ per RoI; not used by torchvision's detectors
        raise ValueError("sampling_ratio must be positive")
    py = torch.arange(ph, device=device, dtype=dtype)[:, None, None, None]
    px = torch.arange(pw, device=device, dtype=dtype)[None, :, None, None]
    iy = (torch.arange(grid_h, device=device, dtype=dtype) + 0.5)[None, None, :, None]
    ix = (torch.arange(grid_w, device=device, dtype=dtype) + 0.5)[None, None, None, :]
    y = (
        y0[:, None, None, None, None]
        + (py * bin_h.view(-1, 1, 1, 1, 1))
        + iy * (bin_h / grid_h).view(-1, 1, 1, 1, 1)
    )
    x = (
        x0[:, None, None, None, None]
        + (px * bin_w.view(-1, 1, 1, 1, 1))
        + ix * (bin_w / grid_w).view(-1, 1, 1, 1, 1)
    )
    y, x = torch.broadcast_tensors(y, x)
    outside = (y < -1.0) | (y > height) | (x < -1.0) | (x > width)
    return y, x, outside, grid_h * grid_w


def roi_align_matrix(
    boxes: torch.Tensor,
    spatial_scale: float,
    height: int,
    width: int,
    output_size: tuple[int, int],
    sampling_ratio: int,
    aligned: bool = False,
) -> torch.Tensor:
    """Weights (K, PH*PW, height*width) of ``roi_align`` for ``boxes`` (K, 4) xyxy."""
    taps = _bilinear_taps(boxes, spatial_scale, height, width, output_size, sampling_ratio, aligned)
    y_low, y_high, x_low, x_high, weights = taps
    cells = _corner_cells(y_low, y_high, x_low, x_high, width)
    return _scatter_matrix(cells, weights, output_size, height * width)


def roi_align_window_matrix(
    boxes: torch.Tensor,
    spatial_scale: float,
    height: int,
    width: int,
    output_size: tuple[int, int],
    sampling_ratio: int,
    aligned: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, int]:
    """:func:`roi_align_matrix` on each RoI's own window of the map: the weights
    (K, PH*PW, wh*ww) on the ``wh`` x ``ww`` cells from row ``top[k]``, column ``left[k]``,
    a window (one size for all K, within the map) that holds every cell the RoI's samples
    touch. Every weight off the window is zero, so nothing is lost."""
    taps = _bilinear_taps(boxes, spatial_scale, height, width, output_size, sampling_ratio, aligned)
    y_low, y_high, x_low, x_high, weights = taps
    used = (weights > 0).any(dim=-1)  # samples on the map
    k = boxes.shape[0]
    big = torch.iinfo(torch.long).max

    def span(low, high, size):
        first = torch.where(used, low, big).reshape(k, -1).amin(dim=1)
        last = torch.where(used, high, -1).reshape(k, -1).amax(dim=1)
        first = torch.where(last >= 0, first, 0)  # a RoI with no sample on the map
        length = max(int((last - first).amax()) + 1 if k else 1, 1)
        length = min(length, size)
        return first.clamp(max=size - length), length

    top, wh = span(y_low, y_high, height)
    left, ww = span(x_low, x_high, width)
    view = (k,) + (1,) * (y_low.ndim - 1)
    ry_low = (y_low - top.view(view)).clamp(0, wh - 1)
    ry_high = (y_high - top.view(view)).clamp(0, wh - 1)
    rx_low = (x_low - left.view(view)).clamp(0, ww - 1)
    rx_high = (x_high - left.view(view)).clamp(0, ww - 1)
    cells = _corner_cells(ry_low, ry_high, rx_low, rx_high, ww)
    return _scatter_matrix(cells, weights, output_size, wh * ww), top, left, wh, ww


def _corner_cells(y_low, y_high, x_low, x_high, width: int) -> torch.Tensor:
    """The flat indices (..., 4) of each sample's four cells on a map ``width`` wide, in the
    order of the taps' weights."""
    return torch.stack(
        [
            y_low * width + x_low,
            y_low * width + x_high,
            y_high * width + x_low,
            y_high * width + x_high,
        ],
        dim=-1,
    )


def _scatter_matrix(cells, weights, output_size, size: int) -> torch.Tensor:
    """The (K, PH*PW, size) matrix of the taps' ``weights`` at their ``cells``."""
    k = cells.shape[0]
    ph, pw = output_size
    device = cells.device
    bins = torch.arange(ph * pw, device=device).view(1, ph, pw, 1, 1, 1)
    rows = torch.arange(k, device=device).view(k, 1, 1, 1, 1, 1)
    flat = (rows * (ph * pw) + bins) * size + cells
    matrix = torch.zeros(k * ph * pw * size, dtype=weights.dtype, device=device)
    matrix.index_add_(0, flat.reshape(-1), weights.reshape(-1))
    return matrix.view(k, ph * pw, size)


def _bilinear_taps(boxes, spatial_scale, height, width, output_size, sampling_ratio, aligned):
    """Each sample's four cells (``y_low, y_high, x_low, x_high``, (K, PH, PW, g, g)) and
    their weights (K, PH, PW, g, g, 4), over the samples per bin, zero for samples off the
    map: torchvision's ``bilinear_interpolate`` rules."""
    dtype = boxes.dtype
    y, x, outside, count = _sample_points(
        boxes, spatial_scale, height, width, output_size, sampling_ratio, aligned
    )
    y, x = y.clamp_min(0.0), x.clamp_min(0.0)
    y_low, x_low = y.floor().long(), x.floor().long()
    y_edge, x_edge = y_low >= height - 1, x_low >= width - 1
    y_low = torch.where(y_edge, height - 1, y_low)
    x_low = torch.where(x_edge, width - 1, x_low)
    y = torch.where(y_edge, y_low.to(dtype), y)
    x = torch.where(x_edge, x_low.to(dtype), x)
    y_high = torch.where(y_edge, y_low, y_low + 1)
    x_high = torch.where(x_edge, x_low, x_low + 1)
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    inside = (~outside).to(dtype) / count
    weights = torch.stack([hy * hx, hy * lx, ly * hx, ly * lx], dim=-1) * inside[..., None]
    return y_low, y_high, x_low, x_high, weights


def roi_align_mass(
    boxes: torch.Tensor,
    spatial_scale: float,
    height: int,
    width: int,
    output_size: tuple[int, int],
    sampling_ratio: int,
    aligned: bool = False,
) -> torch.Tensor:
    """Each bin's total weight on the feature map, (K, PH*PW): the row sums of
    :func:`roi_align_matrix` without building it. A sample's bilinear weights sum to one, so
    a bin's mass is the share of its samples that fall on the map (1 inside, less at the
    border). ``sum_cells dS/dA = sum_bins dS/dP * mass``: what Grad-CAM's channel weights
    need, with no gradient map."""
    _, _, outside, count = _sample_points(
        boxes, spatial_scale, height, width, output_size, sampling_ratio, aligned
    )
    inside = (~outside).to(boxes.dtype).sum(dim=(-2, -1)) / count  # (K, PH, PW)
    return inside.flatten(1)


def roi_align_grad(
    pooled_grad: torch.Tensor,
    boxes: torch.Tensor,
    feature_shape: tuple[int, int, int],
    spatial_scale: float,
    output_size: tuple[int, int],
    sampling_ratio: int,
) -> torch.Tensor:
    """Gradient (K, C, h, w) on the feature map of each RoI's own pooled gradient
    ``pooled_grad`` (K, C, PH, PW)."""
    c, h, w = feature_shape
    matrix = roi_align_matrix(boxes, spatial_scale, h, w, output_size, sampling_ratio)
    return _through(pooled_grad, matrix).view(-1, c, h, w)


def roi_align_window_grad(
    pooled_grad: torch.Tensor,
    boxes: torch.Tensor,
    feature_shape: tuple[int, int, int],
    spatial_scale: float,
    output_size: tuple[int, int],
    sampling_ratio: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`roi_align_grad` on each RoI's window only: gradients (K, C, wh, ww) and the
    windows' top rows and left columns (K,) (see :func:`roi_align_window_matrix`); the
    gradient is zero everywhere else."""
    c, h, w = feature_shape
    matrix, top, left, wh, ww = roi_align_window_matrix(
        boxes, spatial_scale, h, w, output_size, sampling_ratio
    )
    return _through(pooled_grad, matrix).view(-1, c, wh, ww), top, left


def _through(pooled_grad: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Pooled gradients (K, C, PH, PW) carried through each RoI's matrix (K, PH*PW, cells):
    (K, C, cells), in the gradients' dtype."""
    k, c = pooled_grad.shape[:2]
    flat = torch.bmm(pooled_grad.reshape(k, c, -1).to(matrix.dtype), matrix)
    return flat.to(pooled_grad.dtype)


def window_rows_cols(top, left, wh: int, ww: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Index tensors (K, wh, 1) and (K, 1, ww) of each window's cells on the map."""
    rows = top[:, None, None] + torch.arange(wh, device=top.device)[None, :, None]
    cols = left[:, None, None] + torch.arange(ww, device=left.device)[None, None, :]
    return rows, cols
