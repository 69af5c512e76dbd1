"""Methods as a registry: XGrad-CAM (added as one class), and a method registered by a test
alone reaching the CLI's choices, the app's menu list, faithfulness's defaults and every
explanation path (the Faster R-CNN RoI windows, a layer below the FPN, the autograd path of the
one-stage families), exact against the one-detection-at-a-time reference."""

from __future__ import annotations

import pytest
import torch
from test_reuse_weights import demo_frames

from live_explain.cli.main import build_parser
from live_explain.explain import DetectionExplainer, naive_detection_maps
from live_explain.explain.methods import (
    REGISTRY,
    Evidence,
    Method,
    XGradCAM,
    map_method_names,
    method_names,
    register,
)
from live_explain.explain.roi_grad import window_rows_cols
from live_explain.model.loading import load_model


@pytest.fixture(scope="module")
def demo():
    return load_model("demo", weights="demo")


def test_xgradcam_follows_the_papers_formula():
    torch.manual_seed(0)
    acts, grads = torch.rand(4, 5, 6), torch.randn(3, 4, 5, 6)
    weights = XGradCAM().weights(acts, grads)
    k, c = 2, 1  # eq. 9 written out for one target and channel
    expected = (acts[c] / acts[c].sum() * grads[k, c]).sum()
    assert torch.isclose(weights[k, c], expected, rtol=1e-5)
    maps = XGradCAM()(acts, grads)
    assert torch.allclose(maps, torch.relu(torch.einsum("kc,chw->khw", weights, acts)))
    dead = acts.clone()
    dead[0] = 0.0  # a channel that never fires weighs nothing (no division by zero)
    assert torch.all(XGradCAM().weights(dead, grads)[:, 0] == 0)


def test_xgradcam_on_a_window_equals_the_whole_map():
    """Gradients zero off each target's window: the window alone gives the same weights."""
    torch.manual_seed(1)
    acts = torch.rand(4, 9, 11)
    top, left = torch.tensor([0, 3, 5]), torch.tensor([2, 0, 6])
    window = torch.randn(3, 4, 4, 5)
    full = torch.zeros(3, 4, 9, 11)
    for i in range(3):
        full[i, :, top[i] : top[i] + 4, left[i] : left[i] + 5] = window[i]
    rows, cols = window_rows_cols(top, left, 4, 5)
    windowed = XGradCAM().weights(Evidence(acts, window, window=(rows, cols)))
    torch.testing.assert_close(windowed, XGradCAM().weights(acts, full))


@pytest.mark.parametrize("layer", [None, "backbone.body"])
def test_xgradcam_maps_are_exact_on_the_demo_detector(demo, layer):
    image = demo_frames(1)[0]
    explainer = DetectionExplainer(demo, "xgradcam", layer, topk=6, score_thresh=0.3)
    result = explainer(image)
    assert len(result) >= 3, "the trained demo detector finds the scene's road users"
    assert len(torch.unique(result.scores)) == len(result), "scores differ: rows can't mix"
    flat = result.heatmaps.flatten(1)
    assert (flat[1:] - flat[:1]).abs().amax() > 0.05, "maps differ between detections"
    keep = torch.arange(len(result))
    reference = naive_detection_maps(demo, image, keep, "xgradcam", explainer.layer)
    torch.testing.assert_close(result.heatmaps, reference, atol=1e-4, rtol=0)
    # Channel weights, so a reused track is formed again from them on a later frame.
    assert result.channel_weights and result.remap is not None
    torch.testing.assert_close(
        result.remap(result.channel_weights), result.heatmaps, atol=1e-5, rtol=0
    )


class _PositiveGradientCAM(Method):
    """LayerCAM's rule (Jiang et al. 2021): ``relu(sum_c relu(G) * A)``, per cell, registered
    by this test only."""

    name, title = "test-layercam", "Test LayerCAM"

    def cell_maps(self, evidence):
        return torch.relu((torch.relu(evidence.gradients) * evidence.aligned).sum(dim=1))


@pytest.fixture
def registered():
    register(_PositiveGradientCAM)
    try:
        yield _PositiveGradientCAM.name
    finally:
        del REGISTRY[_PositiveGradientCAM.name]


def test_a_registered_method_reaches_every_front_end_and_path(registered, demo):
    name = registered
    args = build_parser().parse_args(["export", "in.mp4", "-o", "out.mp4", "--method", name])
    assert args.method == name  # the CLI's choices
    assert name in method_names(detectors=True)  # the app's method menu lists these
    assert name in map_method_names()  # faithfulness compares these by default
    image = demo_frames(1)[0]
    for layer in (None, "backbone.body"):  # RoI windows at the FPN; the VJP below it
        result = DetectionExplainer(demo, name, layer, topk=5, score_thresh=0.3)(image)
        assert len(result) >= 3 and result.heatmaps.flatten(1).amax(dim=1).min() > 0
        keep = torch.arange(len(result))
        reference = naive_detection_maps(demo, image, keep, name, layer or "backbone")
        torch.testing.assert_close(result.heatmaps, reference, atol=1e-4, rtol=0)
        assert result.remap is None  # per-cell weights: no reuse by channel weights


def test_a_registered_method_explains_a_one_stage_detector(registered):
    from test_explain_detection import distinct_model, road_image

    image = road_image()
    model = distinct_model("ssdlite320_mobilenet_v3_large", None, image)
    result = DetectionExplainer(model, registered, topk=4, score_thresh=0.0)(image)
    assert len(result) == 4 and len(torch.unique(result.scores)) == 4
    reference = naive_detection_maps(model, image, torch.arange(4), registered)
    torch.testing.assert_close(result.heatmaps, reference, atol=1e-4, rtol=0)


def test_registry_refuses_a_taken_name_and_says_the_choices():
    with pytest.raises(ValueError, match="taken"):
        register(XGradCAM)
    from live_explain.errors import UserError
    from live_explain.explain.methods import get_method

    with pytest.raises(UserError, match="use one of gradcam, gradcam\\+\\+, xgradcam"):
        get_method("layercam")
    with pytest.raises(UserError, match="does not apply to detectors"):
        get_method("cam")
