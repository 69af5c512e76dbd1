"""`explain`, `bench` and explained `export` from the command line."""

import json

import numpy as np
import pytest
from conftest import MEDIA, video_info

PHOTO = MEDIA / "whiteCarLaneSwitch.jpg"
RANDOM = ("--weights", "none", "--device", "cpu", "--score-thresh", "0", "--topk", "4")


def test_explain_writes_overlay_and_maps(cli, tmp_path):
    out, maps = tmp_path / "e.png", tmp_path / "e.npz"
    result = cli("explain", PHOTO, "-o", out, "--save-maps", maps, *RANDOM)
    assert result.code == 0, result.err
    saved = np.load(maps)
    assert saved["boxes"].shape == (4, 4) and saved["maps"].shape == (4, 540, 960)
    assert saved["maps"].dtype == np.float32 and saved["maps"].min() >= 0
    assert saved["maps"].max() <= 1 and str(saved["method"]) == "gradcam"
    assert list(saved["labels"].shape) == [4] and len(saved["names"]) == 4
    assert str(saved["model"]) == "fasterrcnn_mobilenet_v3_large_320_fpn"
    import cv2

    overlay, photo = cv2.imread(str(out)), cv2.imread(str(PHOTO))
    assert overlay.shape == photo.shape and not np.array_equal(overlay, photo)


def test_saved_maps_name_the_model_that_ran(cli, tmp_path):
    """``--weights demo`` runs the demo detector in place of the default model."""
    maps = tmp_path / "e.npz"
    result = cli(
        "explain", PHOTO, "-o", tmp_path / "e.png", "--save-maps", maps, "--weights", "demo"
    )
    assert result.code == 0, result.err
    assert str(np.load(maps)["model"]) == "demo"


@pytest.mark.parametrize(
    "extra",
    [
        ("--method", "gradcam++", "--merged", "--colormap", "jet"),
        ("--method", "hirescam", "--alpha", "0.8"),
        ("--method", "eigencam", "--colormap", "inferno"),
        ("--method", "saliency", "--smooth", "2"),
    ],
)
def test_explain_methods_and_styles(cli, tmp_path, extra):
    result = cli("explain", PHOTO, "-o", tmp_path / "e.png", *RANDOM, *extra)
    assert result.code == 0, result.err


def test_explain_a_classifier_and_layer_pictures(cli, tmp_path):
    maps, feats, filters = tmp_path / "c.npz", tmp_path / "f.png", tmp_path / "k.png"
    result = cli(
        "explain",
        PHOTO,
        "-o",
        tmp_path / "c.png",
        "--model",
        "resnet18",
        "--weights",
        "none",
        "--method",
        "cam",
        "--save-maps",
        maps,
        "--feature-maps",
        feats,
        "--filters",
        filters,
    )
    assert result.code == 0, result.err
    assert np.load(maps)["map"].shape == (540, 960)
    assert feats.stat().st_size > 0 and filters.stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--method", "cam"), "needs a classifier"),
        (("--layer", "backbone.bdy"), "close names"),
        (("--alpha", "3"), "--alpha"),
        (("--method", "gradcam", "--smooth", "3"), "saliency only"),
        (("--method", "none"), "needs an explanation method"),
    ],
)
def test_explain_user_errors(cli, tmp_path, args, message):
    result = cli("explain", PHOTO, "-o", tmp_path / "e.png", *RANDOM, *args)
    assert result.code == 2 and len(result.err_lines) == 1, result.err
    assert message in result.err
    assert not (tmp_path / "e.png").exists()


def test_explain_output_must_be_an_image(cli, tmp_path):
    result = cli("explain", PHOTO, "-o", tmp_path / "e.mp4", *RANDOM)
    assert result.code == 2 and "must end in .bmp" in result.err


def test_export_with_explanations(cli, clip, tmp_path):
    out = tmp_path / "x.mp4"
    result = cli("export", clip, "-o", out, *RANDOM, "--method", "hirescam", "--max-frames", "6")
    assert result.code == 0, result.err
    assert video_info(out)["frames"] == 6


def test_bench_json_contract(cli, clip):
    result = cli("bench", clip, "--json", *RANDOM, "--max-frames", "3")
    assert result.code == 0, result.err
    data = json.loads(result.out)
    for key in (
        "model",
        "device",
        "method",
        "topk",
        "frames",
        "width",
        "height",
        "detect_ms",
        "explained_ms",
        "pipeline_fps",
        "latency_ms_p50",
        "latency_ms_p95",
        "refreshed_fraction",
        "reuse_correlation",
        "peak_rss_mb",
        "gpu_peak_mem_mb",
    ):
        assert key in data
    assert data["frames"] == 3 and data["topk"] == 4 and data["method"] == "gradcam"
    assert (data["width"], data["height"]) == (960, 540)
    assert data["detect_ms"] > 0 and data["explained_ms"] > 0
