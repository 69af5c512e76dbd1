"""Explanation methods, alignment, RoIAlign's backward, and the classifier API."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import roi_align

from live_explain.errors import UserError
from live_explain.explain import explain_classifier
from live_explain.explain.align import to_frame
from live_explain.explain.methods import EigenCAM, GradCAM, GradCAMPlusPlus, HiResCAM, normalise
from live_explain.explain.roi_grad import (
    roi_align_grad,
    roi_align_mass,
    roi_align_matrix,
    roi_align_window_grad,
    window_rows_cols,
)
from live_explain.model.loading import load_model


def all_hooks(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks) + len(m._forward_pre_hooks) + len(m._backward_hooks)
        for m in model.modules()
    )


def test_gradcam_and_gradcam_plus_plus_formulas():
    torch.manual_seed(0)
    acts, grads = torch.rand(4, 5, 6), torch.randn(2, 4, 5, 6)
    expected = torch.relu(torch.einsum("kc,chw->khw", grads.mean(dim=(2, 3)), acts))
    assert torch.allclose(GradCAM()(acts, grads), expected)
    # Grad-CAM++ eq. 19 written out element by element for one detection and channel
    k, c = 1, 2
    g, a = grads[k, c], acts[c]
    alpha = g**2 / (2 * g**2 + a.sum() * g**3)
    weight = (alpha * torch.relu(g)).sum()
    assert torch.isclose(GradCAMPlusPlus().weights(acts, grads)[k, c], weight, rtol=1e-4)
    hires = HiResCAM()(acts, grads)
    assert torch.allclose(hires, torch.relu((grads * acts).sum(dim=1)))


def test_eigencam_follows_the_dominant_pattern():
    acts = torch.zeros(8, 10, 10)
    acts[:, 2:5, 6:9] = torch.rand(8, 1, 1) + 1.0  # one strong blob in every channel
    cam = normalise(EigenCAM()(acts, count=3))
    assert cam.shape == (3, 10, 10)
    peak = torch.nonzero(cam[0] == cam[0].max())[0]
    assert 2 <= peak[0] < 5 and 6 <= peak[1] < 9


def test_zero_maps_stay_zero_and_finite():
    maps = torch.zeros(2, 4, 4)
    maps[1, 0, 0] = 3.0
    out = normalise(maps)
    assert torch.equal(out[0], torch.zeros(4, 4)) and out[1].max() == 1.0
    assert torch.isfinite(normalise(torch.full((1, 3, 3), 1e-30))).all()


def test_to_frame_matches_interpolate_and_crop():
    maps = torch.rand(3, 9, 15)
    padded, resized, frame = (288, 480), (270, 470), (540, 940)
    out_h, out_w = 576, 960  # ceil(288 * 540 / 270), ceil(480 * 940 / 470)
    expected = F.interpolate(maps[:, None], size=(out_h, out_w), mode="bilinear")[:, 0]
    assert torch.allclose(
        to_frame(maps, padded, resized, frame), expected[:, :540, :940], atol=1e-5
    )


@pytest.mark.parametrize("scale", [1 / 32, 1 / 8, 1.0])
def test_roi_align_backward_matrix_equals_torchvision(scale):
    torch.manual_seed(1)
    h, w, k = 12, 20, 9
    extent = torch.tensor([w / scale, h / scale] * 2)
    boxes = torch.rand(k, 4) * extent * 0.7
    boxes[:, 2:] = boxes[:, :2] + torch.rand(k, 2) * extent[:2] * 0.5
    boxes[0] = extent * torch.tensor([0, 0, 1, 1])  # the whole map
    boxes[1] = torch.cat([extent[:2] - 2, extent[:2] + 30])  # over the border
    boxes[2] = torch.tensor([3.0, 3.0, 3.2, 3.1])  # tiny
    grad_out = torch.randn(k, 16, 7, 7)
    copies = torch.zeros(k, 16, h, w, requires_grad=True)
    rois = torch.cat([torch.arange(k, dtype=torch.float32)[:, None], boxes], 1)
    pooled = roi_align(copies, rois, 7, scale, 2)
    (expected,) = torch.autograd.grad(pooled, copies, grad_out)
    ours = roi_align_grad(grad_out, boxes, (16, h, w), scale, (7, 7), 2)
    assert torch.allclose(ours, expected, atol=1e-5)


@pytest.mark.parametrize("scale", [1 / 32, 1 / 8, 1.0])
def test_roi_align_mass_is_the_matrix_row_sum(scale):
    """Grad-CAM's shortcut: each bin's mass on the map, without the matrix; boxes over the
    border lose the samples that fall off it."""
    torch.manual_seed(2)
    h, w, k = 12, 20, 9
    extent = torch.tensor([w / scale, h / scale] * 2)
    boxes = torch.rand(k, 4) * extent * 0.7
    boxes[:, 2:] = boxes[:, :2] + torch.rand(k, 2) * extent[:2] * 0.5
    boxes[1] = torch.cat([extent[:2] - 2 / scale, extent[:2] + 30 / scale])  # half off
    boxes[2] = torch.tensor([-40.0, -40.0, 3.2, 3.1]) / scale  # mostly off, top left
    mass = roi_align_mass(boxes, scale, h, w, (7, 7), 2)
    matrix = roi_align_matrix(boxes, scale, h, w, (7, 7), 2)
    assert torch.allclose(mass, matrix.sum(dim=2), atol=1e-6)
    assert float(mass[1].min()) == 0.0 and float(mass[0].min()) == 1.0


@pytest.mark.parametrize("scale", [1 / 32, 1 / 8, 1.0])
def test_window_gradients_are_the_full_gradients_cut_to_each_roi(scale):
    """Grad-CAM++ and HiResCAM take each RoI's gradient on its own window: put back on the
    map, it must be the whole gradient, for boxes inside, over the border, tiny or huge."""
    torch.manual_seed(4)
    h, w, k = 12, 20, 9
    extent = torch.tensor([w / scale, h / scale] * 2)
    boxes = torch.rand(k, 4) * extent * 0.7
    boxes[:, 2:] = boxes[:, :2] + torch.rand(k, 2) * extent[:2] * 0.3
    boxes[0] = extent * torch.tensor([0, 0, 1, 1])  # the whole map
    boxes[1] = torch.cat([extent[:2] - 2 / scale, extent[:2] + 30 / scale])  # over the border
    boxes[2] = torch.tensor([3.0, 3.0, 3.2, 3.1]) / scale  # tiny
    grad_out = torch.randn(k, 16, 7, 7)
    full = roi_align_grad(grad_out, boxes, (16, h, w), scale, (7, 7), 2)
    window, top, left = roi_align_window_grad(grad_out, boxes, (16, h, w), scale, (7, 7), 2)
    rows, cols = window_rows_cols(top, left, *window.shape[-2:])
    back = torch.zeros_like(full)
    index = torch.arange(k)[:, None, None]
    back.permute(0, 2, 3, 1)[index, rows, cols] = window.permute(0, 2, 3, 1)
    torch.testing.assert_close(back, full, atol=1e-6, rtol=1e-5)
    small, _, _ = roi_align_window_grad(grad_out[2:3], boxes[2:3], (16, h, w), scale, (7, 7), 2)
    assert small.shape[-2] * small.shape[-1] <= 4  # a tiny box touches a couple of cells


class RedFinder(nn.Module):
    """A real, tiny CNN whose class 1 means 'there is red here': conv -> ReLU -> GAP -> fc."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Conv2d(3, 2, kernel_size=3, padding=1, bias=False)
        with torch.no_grad():
            self.features.weight.zero_()
            self.features.weight[0, :, 1, 1] = torch.tensor([1.0, -1.0, -1.0])  # red
            self.features.weight[1, :, 1, 1] = torch.tensor([-1.0, 1.0, 1.0])  # not red
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[0.0, 1.0], [1.0, 0.0]]))
            self.fc.bias.zero_()

    def forward(self, x):
        return self.fc(self.pool(torch.relu(self.features(x))).flatten(1))


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "hirescam", "saliency"])
def test_classifier_map_peaks_on_the_object(method):
    x = torch.full((1, 3, 64, 96), 0.3)
    x[0, :, 40:52, 10:22] = torch.tensor([1.0, 0.0, 0.0])[:, None, None]  # a red square
    maps = explain_classifier(RedFinder(), x, layer="features", method=method, targets=[1])
    assert maps.shape == (1, 64, 96) and maps.dtype == torch.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    y, x_ = divmod(int(maps[0].argmax()), 96)
    assert 39 <= y <= 52 and 9 <= x_ <= 22
    inside = maps[0, 38:54, 8:24].sum() / maps[0].sum()
    assert inside > 0.9


def test_gradcam_equals_cam_on_gap_linear_models():
    model = load_model("resnet18", weights="none")
    x = torch.randn(2, 3, 96, 128)
    cam = explain_classifier(model, x, layer="layer4", method="cam", targets=[3, 7])
    grad_cam = explain_classifier(model, x, layer="layer4", method="gradcam", targets=[3, 7])
    assert cam.abs().sum() > 0
    assert torch.allclose(cam, grad_cam, atol=1e-5)


def test_cam_refuses_models_without_gap_linear():
    model = load_model("mobilenet_v3_small", weights="none")
    with pytest.raises(UserError, match="global average pooling"):
        explain_classifier(model, torch.randn(1, 3, 64, 64), method="cam")


def test_zero_gradients_give_an_all_zero_map():
    model = load_model("resnet18", weights="none")
    with torch.no_grad():
        model.fc.weight.zero_()
    maps = explain_classifier(model, torch.randn(1, 3, 64, 64), method="gradcam")
    assert torch.equal(maps, torch.zeros_like(maps))


def test_hooks_and_grad_flags_are_restored_after_an_error():
    model = load_model("resnet18", weights="none")
    flags = [p.requires_grad for p in model.parameters()]
    with pytest.raises(RuntimeError):
        explain_classifier(model, torch.randn(1, 1, 32, 32), layer="layer4")  # 1 channel
    assert all_hooks(model) == 0
    assert [p.requires_grad for p in model.parameters()] == flags


def test_unknown_layer_lists_close_names():
    model = load_model("resnet18", weights="none")
    with pytest.raises(UserError, match="close names: layer4"):
        explain_classifier(model, torch.randn(1, 3, 32, 32), layer="layer5")


@pytest.mark.parametrize(
    "name", ["mobilenet_v3_large", "efficientnet_b0", "convnext_tiny", "regnet_y_400mf"]
)
def test_default_layers_of_classifier_families(name):
    model = load_model(name, weights="none")
    maps = explain_classifier(model, torch.randn(1, 3, 96, 96), method="gradcam")
    assert maps.shape == (1, 96, 96) and torch.isfinite(maps).all()


def test_layer_views_pick_the_most_active_channels_and_their_patches():
    import numpy as np

    from live_explain.explain.features import (
        TILE,
        LayerView,
        feature_map_grid,
        most_active_channels,
        top_patches,
    )

    acts = torch.zeros(4, 6, 8)
    acts[2, 1, 5] = 9.0  # channel 2: most active, peak at cell (1, 5)
    acts[0] += 0.1  # mean 0.1 < channel 2 mean 9 / 48
    assert most_active_channels(acts, 2).tolist() == [2, 0]
    view = LayerView(acts, (10.0, 10.0))  # 10 frame pixels per cell
    frame = np.zeros((60, 80, 3), np.uint8)
    frame[5:25, 45:65] = (0, 0, 255)  # red around the centre of cell (1, 5): pixel (15, 55)
    grid = top_patches(view, frame, count=1)
    tile = grid[4 + 20 : 4 + TILE - 20, 4 + 20 : 4 + TILE - 20]
    assert tile[..., 2].mean() > 200 and tile[..., 0].mean() < 50
    assert feature_map_grid(view, count=4).shape[2] == 3


def test_a_peak_in_the_padding_below_the_frame_gives_the_nearest_patch():
    import numpy as np

    from live_explain.explain.features import LayerView, top_patches

    acts = torch.zeros(2, 8, 8)
    acts[1, 7, 3] = 5.0  # cell row 7 covers pixels 70-80: below a 60-pixel frame (padding)
    grid = top_patches(LayerView(acts, (10.0, 10.0)), np.full((60, 80, 3), 90, np.uint8), 1)
    assert grid.ndim == 3 and grid[8:-8, 8:-8].mean() > 0
