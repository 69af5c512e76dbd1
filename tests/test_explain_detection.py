"""Per-detection maps: exact against the one-detection-at-a-time reference, for every
torchvision detector family (random weights scaled so that detections differ) and for the
trained demo detector, aligned with the frame, from one forward."""

from __future__ import annotations

import cv2
import pytest
import torch
from conftest import MEDIA
from distinct_rows import assert_rows_differ, unit_scale_weights

from live_explain.errors import UserError
from live_explain.explain import DetectionExplainer, explain_detections, naive_detection_maps
from live_explain.explain.family.faster_rcnn import (
    _pooled_score_gradients,
    _summed_score_gradients,
)
from live_explain.explain.hooks import capture_layers
from live_explain.explain.selection import select_detections
from live_explain.model.detector import frame_to_tensor
from live_explain.model.loading import load_model

# Every family, at a small input size so that the reference (one backward per detection)
# stays affordable; the code paths are those of full-size inputs.
FAMILIES = {
    "fasterrcnn_mobilenet_v3_large_320_fpn": None,  # MLP box head: written-out backward
    "fasterrcnn_resnet50_fpn_v2": (288, 384),  # conv box head: autograd on the K rows
    "retinanet_resnet50_fpn": (288, 384),
    "fcos_resnet50_fpn": (288, 384),
    "ssd300_vgg16": None,
    "ssdlite320_mobilenet_v3_large": None,
}
SLOW_FAMILIES = {
    "fasterrcnn_resnet50_fpn": (288, 384),
    "fasterrcnn_mobilenet_v3_large_fpn": (288, 384),
    "retinanet_resnet50_fpn_v2": (288, 384),
}
TOPK = 5


def road_image(size=(400, 240)) -> torch.Tensor:
    image = cv2.imread(str(MEDIA / "whiteCarLaneSwitch.jpg"))
    return frame_to_tensor(cv2.resize(image, size), torch.device("cpu"))


def small_model(name: str, sizes: tuple[int, int] | None):
    model = load_model(name, weights="none")
    if sizes is not None:
        model.transform.min_size, model.transform.max_size = (sizes[0],), sizes[1]
    if hasattr(model, "rpn"):  # fewer proposals: the reference backward stays affordable
        model.rpn._pre_nms_top_n["testing"] = min(model.rpn._pre_nms_top_n["testing"], 300)
        model.rpn._post_nms_top_n["testing"] = min(model.rpn._post_nms_top_n["testing"], 100)
    return model


def distinct_model(name: str, sizes: tuple[int, int] | None, image: torch.Tensor):
    """``small_model`` with its layers scaled to unit activations on ``image``: random
    weights as built leave every Faster R-CNN MobileNet detection with the same score and map
    (and SSDlite's scores tied), where a row mixed up with another would still match."""
    return unit_scale_weights(small_model(name, sizes), image)


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    if not a.any() and not b.any():
        return 1.0
    return float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1])


# Faster R-CNN v2's conv box head re-run on K rows sums in another order than on all rows;
# Grad-CAM++'s cubed gradients amplify that float32 noise to ~8e-4 on random weights, so that
# case is checked in float64, where the summation order no longer shows.
FLOAT64_CASES = {("fasterrcnn_resnet50_fpn_v2", "gradcam++")}


def check_exact(model, image, method, layer=None, dtype=torch.float32, atol=1e-4):
    model, image = model.to(dtype), image.to(dtype)
    explainer = DetectionExplainer(model, method, layer, topk=TOPK, score_thresh=0.0)
    result = explainer(image)
    assert len(result) == TOPK, "random weights at threshold 0 still give detections"
    with torch.no_grad():
        output = model([image])[0]
    keep = select_detections(output["labels"], output["scores"], 0.0, None, TOPK)
    assert torch.allclose(output["boxes"][keep].float(), result.boxes)
    reference = naive_detection_maps(model, image, keep, method, explainer.layer)
    assert result.heatmaps.shape == reference.shape == (TOPK, *image.shape[-2:])
    assert result.heatmaps.any(), "maps must not all be empty"
    # Only where detections differ can a map compared with the wrong row's reference fail.
    assert_rows_differ(output["scores"][keep], reference, min_map_difference=10 * atol)
    for ours, ref in zip(result.heatmaps, reference, strict=True):
        assert correlation(ours, ref) >= 0.999
        assert float((ours - ref).abs().max()) <= atol
    return result


@pytest.mark.parametrize("name", FAMILIES)
def test_maps_equal_the_per_detection_reference(name):
    image = road_image()
    model = distinct_model(name, FAMILIES[name], image)
    for method in ("gradcam", "gradcam++", "hirescam"):
        dtype = torch.float64 if (name, method) in FLOAT64_CASES else torch.float32
        check_exact(model, image, method, dtype=dtype)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW_FAMILIES)
def test_maps_equal_the_reference_other_variants(name):
    image = road_image()
    check_exact(distinct_model(name, SLOW_FAMILIES[name], image), image, "gradcam")


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "hirescam"])
def test_layer_below_the_fpn_is_exact_too(method):
    image = road_image()
    model = distinct_model("fasterrcnn_mobilenet_v3_large_320_fpn", None, image)
    check_exact(model, image, method, layer="backbone.body")


def test_random_weights_as_built_fail_the_precondition():
    """Why the exactness tests scale their weights: as built, every detection of the random
    Faster R-CNN MobileNet has the same score and map, and ``check_exact`` must refuse it."""
    image = road_image()
    model = small_model("fasterrcnn_mobilenet_v3_large_320_fpn", None)
    with pytest.raises(AssertionError, match="degenerate weights"):
        check_exact(model, image, "gradcam")
    check_exact(unit_scale_weights(model, image), image, "gradcam")


def demo_frame(kind: str) -> torch.Tensor:
    """A frame for the trained demo detector: a real dashcam photo (960x540, which its
    transform resizes to its native 640x360) or a scene of the synthetic world it learnt."""
    if kind == "photo":
        frame = cv2.imread(str(MEDIA / "solidYellowCurve.jpg"))
    else:
        from live_explain.synthetic import DrivingScene
        from live_explain.synthetic.demo_model import INPUT_SIZE

        frame, _ = next(iter(DrivingScene(seed=7, size=INPUT_SIZE).frames(1)))
    return frame_to_tensor(frame, torch.device("cpu"))


# Measured on the demo detector against the reference in float32 (README, "Exact and
# cheap"): Grad-CAM and HiResCAM within 7e-6. Grad-CAM++ divides by sums of cubed gradients
# and so amplifies float32's summation-order noise: at the FPN levels it differs by up to
# 3.5e-3 (the photo's fourth detection; 1.5e-4 on the scene), below the FPN by 4e-7. In
# float64 it is within 3e-8 everywhere, which the float64 check holds to 1e-6.
DEMO_GRADCAMPP_FPN_ATOL = 5e-3


@pytest.mark.parametrize("layer", ["backbone", "backbone.body"])
@pytest.mark.parametrize("kind", ["photo", "scene"])
def test_trained_demo_maps_equal_the_reference(kind, layer):
    """Trained weights: detections with their own scores and their own maps (asserted by
    ``check_exact``), at the default layer and below the FPN."""
    model, image = load_model("demo"), demo_frame(kind)
    for method in ("gradcam", "gradcam++", "hirescam"):
        fpn_gradcampp = method == "gradcam++" and layer == "backbone"
        atol = DEMO_GRADCAMPP_FPN_ATOL if fpn_gradcampp else 1e-4
        check_exact(model, image, method, layer=layer, atol=atol)
    if layer == "backbone":  # Grad-CAM++'s float32 noise gone: exact to far below 1e-4
        check_exact(model, image, "gradcam++", layer=layer, dtype=torch.float64, atol=1e-6)


def test_one_forward_pass_per_frame():
    model = small_model("fasterrcnn_mobilenet_v3_large_320_fpn", None)
    calls = []
    handle = model.backbone.register_forward_hook(lambda *a: calls.append(1))
    try:
        DetectionExplainer(model, "gradcam", topk=TOPK, score_thresh=0.0)(road_image())
    finally:
        handle.remove()
    assert len(calls) == 1


def test_maps_are_aligned_with_the_frame():
    """HiResCAM of a Faster R-CNN detection lives on its RoI: in frame pixels the energy
    must sit in the detection's box, for a frame the transform resizes and pads unevenly."""
    model = small_model("fasterrcnn_mobilenet_v3_large_320_fpn", None)
    image = road_image(size=(520, 200))  # 520x200 -> resized to 640x246, padded to 640x256
    result = DetectionExplainer(model, "hirescam", topk=TOPK, score_thresh=0.0)(image)
    stride = 32 * 200 / 246  # one feature cell of the coarsest level, in frame pixels
    ys = torch.arange(image.shape[1], dtype=torch.float32)[:, None]
    xs = torch.arange(image.shape[2], dtype=torch.float32)[None, :]
    for box, heat in zip(result.boxes, result.heatmaps, strict=True):
        x0, y0, x1, y1 = box.tolist()
        # RoIAlign reads one cell beyond the RoI and upsampling spreads one more
        margin = 2 * stride
        grown = heat[max(0, int(y0 - margin)) : int(y1 + margin), max(0, int(x0 - margin)) :]
        grown = grown[:, : int(x1 + margin) - max(0, int(x0 - margin))]
        assert float(grown.sum() / heat.sum()) > 0.95
        y, x = divmod(int(heat.argmax()), heat.shape[1])
        assert x0 - stride <= x <= x1 + stride and y0 - stride <= y <= y1 + stride
        cy, cx = float((heat * ys).sum() / heat.sum()), float((heat * xs).sum() / heat.sum())
        # torchvision's RoIAlign (aligned=False) reads cells half a cell off the box, so
        # the centre of mass may sit up to one cell from the box, never further
        assert x0 - stride <= cx <= x1 + stride and y0 - stride <= cy <= y1 + stride


@pytest.mark.parametrize("method", ["eigencam", "saliency"])
def test_gradient_free_and_pixel_methods(method):
    model = small_model("fasterrcnn_mobilenet_v3_large_320_fpn", None)
    [result] = explain_detections(model, [road_image()], method=method, topk=3, score_thresh=0.0)
    assert result.heatmaps.shape == (3, 240, 400)
    assert torch.isfinite(result.heatmaps).all() and result.heatmaps.max() <= 1.0
    assert result.heatmaps.any()


def test_nothing_detected_gives_empty_maps():
    model = small_model("fasterrcnn_mobilenet_v3_large_320_fpn", None)
    [result] = explain_detections(model, [road_image()], topk=5, score_thresh=1.0)
    assert len(result) == 0 and result.heatmaps.shape == (0, 240, 400)


def test_hooks_removed_and_flags_restored_after_an_error():
    model = small_model("retinanet_resnet50_fpn", (288, 384))
    flags = [p.requires_grad for p in model.parameters()]
    explainer = DetectionExplainer(model, "gradcam", topk=3, score_thresh=0.0)
    with pytest.raises(TypeError):
        explainer(torch.zeros(3, 64, 64, dtype=torch.int64))  # the transform cannot normalise
    assert all(not (m._forward_hooks or m._forward_pre_hooks) for m in model.modules()), (
        "hooks left behind"
    )
    assert [p.requires_grad for p in model.parameters()] == flags


def test_unknown_layer_and_method_are_clear_errors():
    model = small_model("fasterrcnn_mobilenet_v3_large_320_fpn", None)
    with pytest.raises(UserError, match=r"close names: backbone\.body"):
        DetectionExplainer(model, layer="backbone.bod")
    with pytest.raises(UserError, match="does not apply to detectors"):
        DetectionExplainer(model, method="cam")


@pytest.mark.parametrize("name", ["fasterrcnn_mobilenet_v3_large_320_fpn", "ssd300_vgg16"])
def test_threads_explaining_at_once_get_their_own_maps(name):
    """Hooks record only their own thread's forward: two threads explaining two different
    frames with one explainer get exactly what each gets alone (the engine's parallel
    inference workers rely on it)."""
    import threading

    model = small_model(name, None)
    model.requires_grad_(False)
    explainer = DetectionExplainer(model, "gradcam", topk=TOPK, score_thresh=0.0)
    images = [road_image(), road_image().flip(-1)]
    alone = [explainer(image) for image in images]
    results: dict[int, list] = {0: [], 1: []}

    def work(i: int) -> None:
        for _ in range(3):
            step = explainer.forward(images[i])
            results[i].append(step.result(torch.arange(len(step))))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(2):
        for got in results[i]:
            assert torch.equal(got.boxes, alone[i].boxes)
            assert torch.allclose(got.heatmaps, alone[i].heatmaps, atol=1e-5)


def test_summed_fc6_gives_the_pooled_gradients_summed_over_bins():
    """Grad-CAM on an MLP box head sums fc6's weight over the bins once; rows with bins off
    the map (mass below 1) take the full product. Both equal the pooled gradients summed."""
    model = small_model("fasterrcnn_mobilenet_v3_large_320_fpn", None)
    explainer = DetectionExplainer(model, "gradcam", topk=TOPK, score_thresh=0.0)
    names = dict.fromkeys(
        ("roi_heads.box_roi_pool", "roi_heads.box_head.fc6", "roi_heads.box_head.fc7"), False
    )
    names["roi_heads.box_predictor"] = False
    with torch.no_grad(), capture_layers(model, names) as captured:
        model([road_image()])
    rows = torch.arange(6)
    labels = torch.tensor([3, 1, 8, 3, 10, 6])
    pooled = captured["roi_heads.box_roi_pool"].output[rows]
    mass = torch.ones(6, 49)
    mass[2, :7] = 0.5  # a top row of bins half off the map
    mass[4, 42:] = 0.0  # the bottom row off it
    ours = _summed_score_gradients(
        explainer.adapter, model.roi_heads, pooled, labels, captured, rows, mass
    )
    grad = _pooled_score_gradients(model.roi_heads, pooled, labels, captured, rows)
    expected = (grad.flatten(2) * mass[:, None, :]).sum(dim=2)
    assert ours.shape == (6, pooled.shape[1]) and ours.abs().max() > 0
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-8)
