"""The demo detector: architecture, speed-relevant shape, weights file round trip, resolution."""

import numpy as np
import pytest
import torch
from torchvision.ops import MultiScaleRoIAlign

from live_explain.errors import UserError
from live_explain.model.loading import demo_weights_file, load_model
from live_explain.synthetic.demo_model import DEMO_CATEGORIES, INPUT_SIZE, build_demo_detector
from live_explain.synthetic.train import EVAL_SEEDS, TRAIN_SEEDS, save_weights, to_training_pair


def test_train_and_eval_seeds_are_disjoint():
    assert not set(TRAIN_SEEDS) & set(EVAL_SEEDS)


def test_weights_file_round_trip_is_weights_only(tmp_path):
    torch.manual_seed(5)
    model = build_demo_detector()
    path = tmp_path / "demo.pt"
    save_weights(model, path, {"input_size": list(INPUT_SIZE), "evaluation": None})
    payload = torch.load(path, map_location="cpu", weights_only=True)  # no pickled objects
    assert payload["categories"] == DEMO_CATEGORIES
    loaded = load_model("demo", weights=path)
    assert loaded.categories == DEMO_CATEGORIES and not loaded.training
    for key, value in model.state_dict().items():
        if value.is_floating_point():  # stored in half precision
            assert torch.allclose(loaded.state_dict()[key], value.half().float()), key


def test_demo_runs_at_native_size_and_explains():
    from live_explain.explain import explain_detections

    model = load_model("demo", weights="none")
    image = torch.rand(3, INPUT_SIZE[1], INPUT_SIZE[0])
    [result] = explain_detections(model, [image], topk=3, score_thresh=0.0)
    assert result.heatmaps.shape[1:] == (INPUT_SIZE[1], INPUT_SIZE[0])


def test_coordinate_channels_start_at_zero_and_stage_one_holds_them_there():
    """The body's coordinate channels (CoordConv) start with zero weight, so a new model is
    blind to position; stage 1 keeps them at zero, stage 2 lets them learn."""
    from live_explain.synthetic.demo_model import CoordStage
    from live_explain.synthetic.train import run_stage

    def coordinate_weights(model):
        return [
            m.first_conv.weight.detach()[:, -2:]
            for m in model.modules()
            if isinstance(m, CoordStage)
        ]

    torch.manual_seed(0)
    model = build_demo_detector()
    assert len(coordinate_weights(model)) == 3
    assert all(float(w.abs().max()) == 0.0 for w in coordinate_weights(model))
    cpu = torch.device("cpu")
    run_stage(model, "held", 2, 1, 2e-3, 0, cpu, reseed=False, hold_coords=True)
    assert all(float(w.abs().max()) == 0.0 for w in coordinate_weights(model))
    run_stage(model, "free", 2, 1, 2e-3, 0, cpu, explain_weight=0.6)
    assert all(float(w.abs().max()) > 0.0 for w in coordinate_weights(model))
    # Training's faster pooler and channels-last layout are gone again afterwards.
    assert type(model.roi_heads.box_roi_pool) is MultiScaleRoIAlign
    assert all(p.is_contiguous() for p in model.parameters())


def test_training_pairs_flip_boxes_with_the_image():
    frame = np.zeros((10, 20, 3), np.uint8)
    frame[2:5, 1:4] = 255
    truth = {"boxes": np.array([[1, 2, 4, 5]], np.float32), "labels": ["car"]}
    image, target = to_training_pair(frame, truth, flip=True)
    assert target["boxes"].tolist() == [[16.0, 2.0, 19.0, 5.0]]
    assert image[:, 2:5, 16:19].min() == 1.0 and target["labels"].tolist() == [3]


def test_demo_weights_only_for_the_default_or_demo_model():
    with pytest.raises(UserError, match="--model demo"):
        load_model("retinanet_resnet50_fpn", weights="demo")


BUNDLED = pytest.mark.skipif(not demo_weights_file().is_file(), reason="no demo weights")


@BUNDLED
def test_bundled_weights_carry_their_metadata():
    payload = torch.load(demo_weights_file(), map_location="cpu", weights_only=True)
    meta = payload["meta"]
    assert demo_weights_file().stat().st_size <= 15 * 2**20
    assert payload["categories"] == DEMO_CATEGORIES
    assert meta["input_size"] == list(INPUT_SIZE)
    assert meta["train_seeds"] == [TRAIN_SEEDS.start, TRAIN_SEEDS.stop]
    assert meta["eval_seeds"] == [EVAL_SEEDS.start, EVAL_SEEDS.stop]
    evaluation = meta["evaluation"]
    assert set(evaluation) >= {"map50", "ap50", "energy_pointing"}
    assert evaluation["map50"] > 0.5  # a working detector, well above chance


@BUNDLED
@pytest.mark.slow
def test_bundled_weights_meet_the_quality_goals():
    """Measured again, as ``evaluate`` measures it (400 frames of the unseen seeds: about 4
    minutes on 2 cores), not read from the weights file; the figures the file stores must be
    what the weights do (measured: mAP 0.8182, pointing 0.6106, as stored)."""
    from live_explain.synthetic.evaluate import evaluate

    figures = evaluate(load_model("demo"), list(EVAL_SEEDS), 10, torch.device("cpu"))
    assert figures["frames"] == 400
    assert figures["map50"] >= 0.8, figures
    assert figures["energy_pointing"] >= 0.6, figures
    stored = torch.load(demo_weights_file(), map_location="cpu", weights_only=True)["meta"]
    for key in ("map50", "energy_pointing"):
        assert abs(figures[key] - stored["evaluation"][key]) <= 0.005, (key, figures, stored)


@BUNDLED
def test_bundled_weights_near_the_quality_goals_on_unseen_scenes():
    """The quick re-measurement: 3 frames of each unseen seed, 120 in all (about 16 s on 2
    cores; the goals' own 400 frames are the slow test above). This sample gives mAP 0.800
    and pointing 0.615 (all 400 frames: 0.818 and 0.611; four 40-frame samples fell up to
    0.04 and 0.07 away), so the bounds sit 0.03 below the goals (0.8, 0.6). The frames are
    the same on every run: a bound missed is the weights or the code, not chance."""
    from live_explain.synthetic.evaluate import evaluate

    figures = evaluate(load_model("demo"), list(EVAL_SEEDS), 3, torch.device("cpu"))
    assert figures["frames"] == 120 and figures["pointing_detections"] >= 400, figures
    assert figures["map50"] >= 0.77, figures
    assert figures["energy_pointing"] >= 0.57, figures


def test_bundled_sample_drive(cli, tmp_path):
    from conftest import REPO, video_info

    sample = REPO / "recordings" / "sample_drive.mp4"
    info = video_info(sample)
    assert info["codec"] == "h264" and info["size"] == INPUT_SIZE
    assert 15 <= info["frames"] / info["fps"] <= 30
    assert sample.stat().st_size <= 3 * 2**20
    # the README's main job, on a few frames
    out = tmp_path / "drive_explained.mp4"
    result = cli("export", sample, "-o", out, "--max-frames", "5")
    assert result.code == 0, result.err
    assert video_info(out)["frames"] == 5


@BUNDLED
def test_bundled_demo_grad_cam_points_at_the_objects():
    """Trained to explain (stage 2), the demo's Grad-CAM maps put most of their energy in the
    true box (these 6 frames: 0.66 for the bundled weights; the stage-1 weights gave 0.02)."""
    from live_explain.synthetic.evaluate import evaluate

    figures = evaluate(load_model("demo"), [0, 1], 3, torch.device("cpu"))
    assert figures["pointing_detections"] >= 5
    assert figures["energy_pointing"] > 0.45, figures


def test_evaluate_reports_map_and_pointing_per_method():
    from live_explain.synthetic.evaluate import evaluate

    model = load_model("demo", weights="none")
    figures = evaluate(model, [0], 1, torch.device("cpu"), method="hirescam")
    assert set(figures) >= {"map50", "ap50", "energy_pointing", "pointing_method", "frames"}
    assert figures["pointing_method"] == "hirescam" and figures["frames"] == 1
    assert 0.0 <= figures["map50"] <= 1.0 and 0.0 <= figures["energy_pointing"] <= 1.0
