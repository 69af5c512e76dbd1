"""RoIAlign as a sparse matrix product, for training the demo detector fast on a CPU.

torchvision's CPU ``roi_align`` backward runs on one thread and scatters every sampling
point's gradient into the feature map one by one: it took over a third of a demo-detector
training step on two cores. RoIAlign is linear in the features, so for one pyramid level it is
one sparse matrix ``M`` (a row per output bin, sixteen bilinear weights in a row for a 2x2
sampling grid) times the level's features laid out as (cells, channels); its backward is
``M^T`` times the gradient. Both products run in MKL's threaded sparse kernels, and building
``M`` and ``M^T`` takes a few vectorised tensor ops (no sort for ``M``, one for ``M^T``).

It computes what ``torchvision.ops.roi_align(..., aligned=False)`` with a fixed
``sampling_ratio`` computes (tested against it, values and gradients): sampling point
``(j + 0.5) / s`` of a bin in the box scaled to the level, a box at least one cell wide,
bilinear sampling with coordinates clamped to the feature map, and zero for points more than
one cell outside it. There is no gradient for the boxes (torchvision gives none either).
Only training uses it (:class:`SparseMultiScaleRoIAlign`); the weights do not depend on the
pooling code, and inference keeps torchvision's pooler.
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor
from torchvision.ops import MultiScaleRoIAlign


def _axis_weights(
    start: Tensor, length: Tensor, bins: int, s: int, cells: int
) -> tuple[Tensor, Tensor]:
    """Along one axis: for each box and bin, the 2s cells its s sampling points read and their
    weights (each point's two bilinear weights over s). Returns ``(index, weight)`` (R, bins, 2s).
    """
    steps = (torch.arange(bins * s, device=start.device, dtype=start.dtype) + 0.5) / s
    pos = start[:, None] + (length.clamp(min=1.0) / bins)[:, None] * steps  # (R, bins * s)
    inside = ((pos >= -1.0) & (pos <= cells)).to(pos.dtype)
    pos = pos.clamp(min=0.0)
    low = pos.floor().long().clamp(max=cells - 1)
    last = low >= cells - 1
    pos = torch.where(last, low.to(pos.dtype), pos)
    high = torch.where(last, low, low + 1)
    frac = pos - low.to(pos.dtype)
    index = torch.stack([low, high], -1).reshape(len(start), bins, 2 * s)
    weight = torch.stack([(1.0 - frac) * inside, frac * inside], -1) / s
    return index, weight.reshape(len(start), bins, 2 * s)


def roi_align_matrix(
    rois: Tensor, shape: tuple[int, int, int], bins: int, spatial_scale: float, s: int
) -> tuple[Tensor, Tensor, Tensor]:
    """The RoIAlign of ``rois`` (R, 5: image index, x0, y0, x1, y1 in input pixels) on features
    of ``shape`` (N, h, w) as a sparse matrix in COO parts ``(rows, cols, values)``: row
    ``(r * bins + i) * bins + j`` is bin (i, j) of RoI r, column ``(n * h + y) * w + x`` a cell;
    ``(2s)^2`` entries per row, in row order (a row's columns may repeat: they add up)."""
    _, h, w = shape
    b = rois[:, 1:] * spatial_scale
    iy, wy = _axis_weights(b[:, 1], b[:, 3] - b[:, 1], bins, s, h)
    ix, wx = _axis_weights(b[:, 0], b[:, 2] - b[:, 0], bins, s, w)
    image = rois[:, 0].long()[:, None, None, None, None]
    cols = (image * h + iy[:, :, None, :, None]) * w + ix[:, None, :, None, :]  # (R, i, j, y, x)
    values = wy[:, :, None, :, None] * wx[:, None, :, None, :]
    rows = torch.arange(len(rois) * bins * bins, device=rois.device)
    rows = rows.reshape(len(rois), bins, bins, 1, 1).expand_as(cols)
    return rows.reshape(-1), cols.reshape(-1), values.reshape(-1)


class _SparseProduct(torch.autograd.Function):
    """``matrix @ x`` with the backward ``transpose @ grad`` (itself differentiable)."""

    @staticmethod
    def forward(ctx, x: Tensor, matrix: Tensor, transpose: Tensor) -> Tensor:
        ctx.matrices = (matrix, transpose)
        return torch.sparse.mm(matrix, x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        matrix, transpose = ctx.matrices
        return _SparseProduct.apply(grad.contiguous(), transpose, matrix), None, None


def sparse_roi_align(
    feature: Tensor, rois: Tensor, output_size: int, spatial_scale: float, sampling_ratio: int
) -> Tensor:
    """``torchvision.ops.roi_align(feature, rois, output_size, spatial_scale, sampling_ratio)``
    (``aligned=False``) for ``feature`` (N, C, h, w) and ``rois`` (R, 5) ->
    (R, C, output_size, output_size)."""
    if sampling_ratio <= 0:
        raise ValueError("sparse_roi_align needs a fixed sampling_ratio (> 0)")
    n, channels, h, w = feature.shape
    bins, count = output_size, len(rois)
    if count == 0:
        return feature.new_zeros((0, channels, bins, bins))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
        rows, cols, values = roi_align_matrix(
            rois.to(feature.dtype), (n, h, w), bins, spatial_scale, sampling_ratio
        )
        per_row = (2 * sampling_ratio) ** 2
        shape = (count * bins * bins, n * h * w)
        crow = torch.arange(0, len(values) + 1, per_row, device=feature.device)
        # Indices are in range by construction; checking them would cost a pass each step.
        matrix = torch.sparse_csr_tensor(crow, cols, values, shape, check_invariants=False)
        order = torch.argsort(cols, stable=True)
        counts = torch.bincount(cols, minlength=shape[1])
        crow_t = torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)])
        transpose = torch.sparse_csr_tensor(
            crow_t, rows[order], values[order], shape[::-1], check_invariants=False
        )
    cells = feature.permute(0, 2, 3, 1).reshape(n * h * w, channels)  # (cells, C)
    pooled = _SparseProduct.apply(cells, matrix, transpose)  # (R * bins * bins, C)
    return pooled.reshape(count, bins, bins, channels).permute(0, 3, 1, 2)


class SparseMultiScaleRoIAlign(MultiScaleRoIAlign):
    """torchvision's ``MultiScaleRoIAlign`` (same levels, same level mapping) pooling with
    :func:`sparse_roi_align`. Make it from a model's pooler with :meth:`like`."""

    @classmethod
    def like(cls, pooler: MultiScaleRoIAlign) -> SparseMultiScaleRoIAlign:
        height, width = pooler.output_size
        if height != width:
            raise ValueError("sparse RoIAlign pools square bins")
        return cls(
            pooler.featmap_names,
            height,
            pooler.sampling_ratio,
            canonical_scale=pooler.canonical_scale,
            canonical_level=pooler.canonical_level,
        )

    def forward(
        self, x: dict[str, Tensor], boxes: list[Tensor], image_shapes: list[tuple[int, int]]
    ) -> Tensor:
        if self.scales is None or self.map_levels is None:
            super().forward(x, [b[:0] for b in boxes], image_shapes)  # sets scales and mapper
        levels = [x[name] for name in self.featmap_names]
        rois = torch.cat(
            [torch.cat([b.new_full((len(b), 1), float(i)), b], 1) for i, b in enumerate(boxes)]
        )
        level_of = self.map_levels(boxes)
        bins = self.output_size[0]
        first = levels[0]
        result = first.new_zeros((len(rois), first.shape[1], bins, bins))
        for level, (feature, scale) in enumerate(zip(levels, self.scales, strict=True)):
            rows = torch.nonzero(level_of == level).flatten()
            if len(rows):
                pooled = sparse_roi_align(feature, rois[rows], bins, scale, self.sampling_ratio)
                result = result.index_put((rows,), pooled)
        return result
