"""The training pooler computes torchvision's RoIAlign: values and gradients."""

import pytest
import torch
from torchvision.ops import MultiScaleRoIAlign, roi_align

from live_explain.synthetic.sparse_roi_align import SparseMultiScaleRoIAlign, sparse_roi_align


def random_boxes(generator: torch.Generator, count: int, width: float, height: float):
    corner = torch.rand(count, 2, generator=generator) * torch.tensor([width, height])
    size = torch.rand(count, 2, generator=generator) ** 2 * torch.tensor([width, height]) / 2
    boxes = torch.cat([corner, corner + size + 0.2], dim=1)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    edge_cases = torch.tensor(
        [
            [0.0, 0.0, width, height],  # the whole frame
            [width - 0.5, height - 0.5, width, height],  # a sliver in the far corner
            [3.0, 4.0, 3.1, 4.1],  # under one cell: widened to one
            [-20.0, -20.0, 4.0, 4.0],  # sampling points more than a cell outside: zero there
            [10.0, 20.0, 310.0, 270.0],  # pooled from the middle pyramid level at 640x360
        ]
    )
    return torch.cat([edge_cases, boxes])


@pytest.mark.parametrize(("scale", "sampling_ratio"), [(1 / 8, 2), (1 / 16, 1), (1 / 4, 3)])
def test_values_and_gradients_equal_torchvision_roi_align(scale, sampling_ratio):
    generator = torch.Generator().manual_seed(3)
    width, height = 320, 180
    h, w = int(height * scale) + 1, int(width * scale) + 1
    feature = torch.randn(2, 8, h, w, generator=generator)
    boxes = [random_boxes(generator, 30, width, height) for _ in range(2)]
    rois = torch.cat(
        [torch.cat([torch.full((len(b), 1), float(i)), b], 1) for i, b in enumerate(boxes)]
    )
    grad_out = torch.randn(len(rois), 8, 7, 7, generator=generator)

    ours_in = feature.clone().requires_grad_()
    ours = sparse_roi_align(ours_in, rois, 7, scale, sampling_ratio)
    (ours * grad_out).sum().backward()
    ref_in = feature.clone().requires_grad_()
    ref = roi_align(ref_in, rois, 7, spatial_scale=scale, sampling_ratio=sampling_ratio)
    (ref * grad_out).sum().backward()

    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, atol=5e-5, rtol=1e-5)  # float sums in another order
    torch.testing.assert_close(ours_in.grad, ref_in.grad, atol=2e-4, rtol=1e-5)
    assert ref.abs().sum() > 0 and ref_in.grad.abs().sum() > 0  # a comparison of something


def test_multiscale_pooler_equals_torchvision_and_is_twice_differentiable():
    generator = torch.Generator().manual_seed(0)
    names = ["0", "1", "2"]
    shapes = [(45, 80), (23, 40), (12, 20)]
    features = {
        n: torch.randn(2, 4, *s, generator=generator) for n, s in zip(names, shapes, strict=True)
    }
    boxes = [random_boxes(generator, 40, 640, 360) for _ in range(2)]
    image_sizes = [(360, 640), (360, 640)]
    reference = MultiScaleRoIAlign(names, 7, 2)
    ours = SparseMultiScaleRoIAlign.like(reference)
    expected = reference(features, boxes, image_sizes)
    got = ours(features, boxes, image_sizes)
    levels = reference.map_levels(boxes)
    assert len(torch.unique(levels)) == 3  # every level pooled some boxes
    torch.testing.assert_close(got, expected, atol=5e-5, rtol=1e-5)

    # The explanation term differentiates through the pooled features' gradient.
    small = {n: f[:, :2, :8, :8].double().requires_grad_() for n, f in features.items()}
    few = [b[4:7].double().clamp(max=60) for b in boxes]

    def pool(*levels):
        return ours(dict(zip(names, levels, strict=True)), few, [(64, 64), (64, 64)])

    ours.scales = ours.map_levels = None  # set up again for the smaller frames
    inputs = tuple(small.values())
    assert torch.autograd.gradcheck(pool, inputs)
    assert torch.autograd.gradgradcheck(pool, inputs)


def test_empty_rois_give_an_empty_result():
    feature = torch.randn(1, 3, 10, 10)
    out = sparse_roi_align(feature, torch.zeros((0, 5)), 7, 0.5, 2)
    assert out.shape == (0, 3, 7, 7)
