"""Ultralytics YOLO (the optional ``[yolo]`` extra): exact per-detection maps, every method,
reuse, weights files and the command line. Skipped where Ultralytics is not installed."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest
import torch
from conftest import CLIP, MEDIA, make_video, video_info
from yolo_weights import scrambled

pytest.importorskip("ultralytics", reason="the [yolo] extra (Ultralytics) is not installed")

from ultralytics.utils.nms import non_max_suppression

from live_explain.cli.main import main
from live_explain.errors import UserError
from live_explain.explain.detection import DetectionExplainer
from live_explain.explain.detection_maps import Part, detection_maps
from live_explain.explain.family.yolo import letterbox
from live_explain.explain.methods import Evidence, get_method
from live_explain.model.detector import Detector, frame_to_tensor
from live_explain.model.loading import _reachable, load_model
from live_explain.model.yolo import ASSETS_URL

GENERATIONS = ("yolov8n", "yolo11n", "yolo26n")
GRADIENT_METHODS = ("gradcam", "gradcam++", "xgradcam", "hirescam")
TOPK = 12


@pytest.fixture(scope="module")
def road() -> torch.Tensor:
    image = cv2.imread(str(MEDIA / "whiteCarLaneSwitch.jpg"))
    return frame_to_tensor(cv2.resize(image, (640, 360)), torch.device("cpu"))


def reference(model, image: torch.Tensor, method: str, conf: float):
    """One detection at a time through Ultralytics' own module and its own NMS: leaves at
    the Detect head's input, one backward per detection. [(score, label, map)], best first."""
    ultralytics_model, head = model.ultralytics_model, model.head
    x, geometry = letterbox(image, model.image_size, model.stride)
    leaves: list[torch.Tensor] = []

    def as_leaves(_module, args):
        leaves[:] = [t.detach().requires_grad_(True) for t in args[0]]
        return (list(leaves),)

    handle = head.register_forward_pre_hook(as_leaves)
    try:
        with torch.enable_grad():
            y = ultralytics_model(x)
    finally:
        handle.remove()
    y = y[0] if isinstance(y, (tuple, list)) else y
    if model.end2end:  # the one-to-one head: its queries, no NMS
        rows = torch.nonzero(y[0, :, 4] > conf).flatten().tolist()
        targets = [(y[0, r, 4], int(y[0, r, 5])) for r in rows]
    else:
        kept, anchors = non_max_suppression(y, conf_thres=conf, iou_thres=0.7, return_idxs=True)
        pairs = zip(kept[0][:, 5].tolist(), anchors[0].tolist(), strict=True)
        targets = [(y[0, 4 + int(c), int(a)], int(c)) for c, a in pairs]
    chosen = get_method(method)
    out = []
    targets = sorted(targets, key=lambda t: -float(t[0].detach()))[:TOPK]
    for score, label in targets:
        grads = torch.autograd.grad(score, leaves, retain_graph=True, allow_unused=True)
        parts = [
            Part(key, Evidence(leaf.detach()[0], grad[0][None]))
            for key, (leaf, grad) in enumerate(zip(leaves, grads, strict=True))
            if grad is not None and bool(grad.any())
        ]
        out.append((float(score.detach()), label, detection_maps(chosen, parts, geometry, 1)[0]))
    return out


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(torch.corrcoef(torch.stack([a.flatten().double(), b.flatten().double()]))[0, 1])


@pytest.mark.parametrize("name", GENERATIONS)
@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_maps_equal_the_one_at_a_time_reference(name, method, road):
    model = scrambled(name)
    explained = DetectionExplainer(model, method, None, topk=TOPK, score_thresh=0.3)(road)
    expected = reference(model, road, method, 0.3)[:TOPK]
    scores = explained.scores.tolist()
    # Not degenerate: several detections, of different scores, with maps that differ.
    assert len(scores) == TOPK and len({round(s, 6) for s in scores}) == TOPK, scores
    assert np.allclose(scores, [s for s, _, _ in expected], atol=1e-5)
    assert explained.labels.tolist() == [label for _, label, _ in expected]
    maps = explained.heatmaps
    lit = [i for i in range(len(maps)) if float(maps[i].max()) > 0]
    assert len(lit) >= TOPK // 2
    assert min(correlation(maps[lit[0]], maps[i]) for i in lit[1:]) < 0.99  # maps differ
    for ours, (_, _, theirs) in zip(maps, expected, strict=True):
        if float(theirs.max()) == 0:  # no positive evidence at all: both maps are empty
            assert float(ours.max()) == 0
        else:
            assert correlation(ours, theirs) >= 0.9999


@pytest.mark.parametrize("name", GENERATIONS)
def test_each_detection_is_explained_on_its_own_level(name, road):
    """Every detection's score depends on its own anchor's level only."""
    model = scrambled(name)
    for branch in ("cv3", "one2one_cv3"):  # P4 and P5 score higher: every level keeps some
        for level in list(getattr(model.head, branch, None) or ())[1:]:
            level[-1].bias.add_(4.0)
    explainer = DetectionExplainer(model, "gradcam", None, topk=100, score_thresh=0.3)
    step = explainer.forward(road)
    rows = torch.arange(len(step.scores))
    parts = step.recording.parts(rows, get_method("gradcam"))
    members = torch.cat([part.members for part in parts])
    assert sorted(members.tolist()) == rows.tolist()  # each detection in one part only
    assert {part.key for part in parts} == {0, 1, 2}  # not degenerate: every level has some
    for part in parts:  # and its gradient lies on its own small window of that level
        assert part.evidence.gradients.shape[-2:] == (5, 5)


@pytest.mark.parametrize("method", ["eigencam", "saliency", "none"])
def test_every_other_method_runs(method, road):
    model = scrambled("yolov8n")
    result = DetectionExplainer(model, method, None, topk=10, score_thresh=0.3)(road)
    assert len(result.scores) >= 5
    if method == "none":
        return
    maps = result.heatmaps
    assert maps.shape[1:] == road.shape[1:] and torch.isfinite(maps).all()
    assert float(maps.amax()) > 0 and float(maps[0].std()) > 0
    if method == "saliency":  # EigenCAM is one map per level, the same for its detections
        assert correlation(maps[0], maps[-1]) < 0.999


def test_saliency_equals_input_gradients(road):
    model = scrambled("yolo11n")
    result = DetectionExplainer(model, "saliency", None, topk=3, score_thresh=0.3)(road)
    pixels = road.clone().requires_grad_(True)
    with torch.enable_grad():
        x, _ = letterbox(pixels, model.image_size, model.stride)
        y = model.ultralytics_model(x)[0]
        kept, anchors = non_max_suppression(y, conf_thres=0.3, iou_thres=0.7, return_idxs=True)
        score = y[0, 4 + int(kept[0][0, 5]), int(anchors[0][0])]
        (grad,) = torch.autograd.grad(score, pixels)
    expected = grad.abs().amax(0)
    assert correlation(result.heatmaps[0], expected / expected.max()) >= 0.9999


def test_any_layer_explains(road):
    model = scrambled("yolov8n")
    for layer in ("model.2", "model.9", "model.15"):  # backbone, SPPF, the P3 output
        result = DetectionExplainer(model, "gradcam", layer, topk=5, score_thresh=0.3)(road)
        assert result.heatmaps.shape[0] == len(result.scores) > 0
        assert float(result.heatmaps.amax()) > 0


def test_reuse_by_channel_weights_across_frames(road):
    """A kept detection's channel weights re-form its map on the next frame's activations."""
    model = scrambled("yolov8n")
    explainer = DetectionExplainer(model, "gradcam", None, topk=10, score_thresh=0.3)
    first = explainer.forward(road)
    fresh = first.explain()
    assert fresh.weights and fresh.maps.shape[0] == len(first.scores)
    same = first.remap(fresh.weights)  # on the frame they came from: the fresh maps again
    assert correlation(same, fresh.maps) > 0.9999
    moved = torch.roll(road, shifts=8, dims=2)
    reused = explainer.forward(moved).remap(fresh.weights)
    assert reused.shape == fresh.maps.shape and float(reused.amax()) > 0
    assert not torch.allclose(reused, fresh.maps)


def test_detector_and_categories(road):
    model = load_model("yolov8n", "none")
    assert model.categories[:3] == ["person", "bicycle", "car"] and len(model.categories) == 80
    detector = Detector(model, "cpu", score_thresh=0.0, topk=10, classes=["car", "person"])
    detections = detector(cv2.imread(str(MEDIA / "solidYellowCurve.jpg")))
    assert set(detections.names) <= {"car", "person"}


def test_weights_files(tmp_path, capsys):
    """A state dict loads with weights_only=True; an Ultralytics checkpoint (a pickle) loads
    through Ultralytics' loader with a notice; anything else is one line."""
    from ultralytics.nn.tasks import DetectionModel

    trained = DetectionModel("yolov8n.yaml", nc=80, verbose=False).eval()
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in trained.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.01)
    state = tmp_path / "state.pt"
    torch.save(trained.state_dict(), state)
    loaded = load_model("yolov8n", str(state))
    x = torch.rand(1, 3, 320, 320, generator=generator)
    with torch.no_grad():
        expected, got = trained(x)[0], loaded.ultralytics_model(x)[0]
    assert float(expected[:, 4:].std()) > 0  # not degenerate
    assert torch.allclose(expected, got, atol=1e-3, rtol=1e-3)  # fused as Ultralytics does

    checkpoint = tmp_path / "best.pt"
    trained.names = {i: f"class{i}" for i in range(80)}
    torch.save({"model": trained, "train_args": {}}, checkpoint)
    code = main(
        [
            "explain",
            str(MEDIA / "solidYellowCurve.jpg"),
            "-o",
            str(tmp_path / "x.png"),
            "--model",
            "yolov8n",
            "--weights",
            str(checkpoint),
            "--score-thresh",
            "0.3",
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Ultralytics checkpoint (a pickle" in err
    assert (tmp_path / "x.png").is_file()

    from ultralytics.nn.tasks import SegmentationModel

    segment = tmp_path / "seg.pt"
    torch.save({"model": SegmentationModel("yolov8n-seg.yaml", nc=80, verbose=False)}, segment)
    with pytest.raises(UserError, match="Segment model, not a detection one"):
        load_model("yolov8n", str(segment))

    (tmp_path / "text.pt").write_text("not weights")
    assert (
        main(
            [
                "explain",
                str(MEDIA / "solidYellowCurve.jpg"),
                "-o",
                str(tmp_path / "y.png"),
                "--model",
                "yolov8n",
                "--weights",
                str(tmp_path / "text.pt"),
            ]
        )
        == 2
    )
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "text.pt" in lines[0]


def _offline() -> bool:
    return not _reachable(ASSETS_URL)


@pytest.mark.skipif(not _offline(), reason="the internet is reachable: auto downloads")
def test_auto_weights_offline_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "explain",
            str(MEDIA / "solidYellowCurve.jpg"),
            "-o",
            "x.png",
            "--model",
            "yolov8n",
            "--weights",
            "auto",
        ]
    )
    lines = capsys.readouterr().err.splitlines()
    assert code == 2 and len(lines) == 1
    assert "--weights none" in lines[0] and "--weights PATH.pt" in lines[0]
    assert os.listdir(tmp_path) == []


def test_models_lists_yolo(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in ("yolov8n", "yolo11n", "yolo26n"):
        assert name in out


@pytest.mark.slow
def test_export_of_the_real_clip(tmp_path, capsys):
    out = tmp_path / "out.mp4"
    code = main(
        [
            "export",
            str(CLIP),
            "-o",
            str(out),
            "--model",
            "yolov8n",
            "--weights",
            "none",
            "--max-frames",
            "8",
            "--log",
            str(tmp_path / "out.jsonl"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert video_info(out)["frames"] == 8


def test_export_of_a_short_drive(tmp_path, capsys):
    clip = make_video(tmp_path / "clip.mp4", frames=4, size=(320, 192))
    code = main(
        [
            "export",
            str(clip),
            "-o",
            str(tmp_path / "o.mp4"),
            "--model",
            "yolo26n",
            "--weights",
            "none",
            "--score-thresh",
            "0",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert video_info(tmp_path / "o.mp4")["frames"] == 4


def test_bench_times_a_yolo_model(tmp_path, capsys):
    clip = make_video(tmp_path / "clip.mp4", frames=4, size=(320, 192))
    code = main(
        [
            "bench",
            str(clip),
            "--model",
            "yolov8n",
            "--weights",
            "none",
            "--score-thresh",
            "0",
            "--max-frames",
            "3",
            "--json",
            "--method",
            "saliency",  # autograd from the pixels after no-grad detection passes
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "yolov8n" in out
