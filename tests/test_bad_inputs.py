"""A user's bad input gives one line on stderr and exit code 2 (or, where the input can be
skipped, a warning and a result), and leaves every input file as it was.

Pixel formats and sizes of images, weights files, drive logs and --layer choices; the demo
detector keeps every case fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import make_image

from live_explain.errors import UserError
from live_explain.explain.detection import DetectionExplainer
from live_explain.explain.family.base import AutogradRecording
from live_explain.io.images import UnsupportedImage, to_bgr_uint8
from live_explain.model.loading import load_model

DEMO = ("--model", "demo", "--weights", "demo")
ERROR = "live-explain: error: "
WARNING = "live-explain: warning: "


def snapshot(*paths: Path) -> dict[Path, bytes]:
    """The bytes of every file under ``paths``, to compare after the run."""
    files = {}
    for path in paths:
        for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
            files[file] = file.read_bytes()
    return files


def assert_one_error(result, *words: str) -> str:
    """Exit code 2 and exactly one line on stderr, a live-explain error holding ``words``."""
    assert result.code == 2, result.err
    assert len(result.err_lines) == 1, result.err
    line = result.err_lines[0]
    assert line.startswith(ERROR) and "Traceback" not in result.err, line
    assert "internal error" not in line, line
    for word in words:
        assert word in line, line
    return line


def road_frame(size=(320, 180)) -> np.ndarray:
    """A synthetic driving scene: the demo detector finds road users in it."""
    from live_explain.synthetic import DrivingScene

    [(image, _)] = DrivingScene(seed=3, size=size).frames(1)
    return image


@pytest.fixture(scope="module")
def road_png(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("road") / "road.png"
    assert cv2.imwrite(str(path), road_frame())
    return path


# -- 1. pixel formats an image folder skips and `explain` refuses ------------------------------

UNUSABLE_PIXELS = {
    "int8": (np.full((48, 64), -3, np.int8), "int8 pixels are not supported"),
    "int16": (np.full((48, 64), -300, np.int16), "int16 pixels are not supported"),
    "int32": (np.arange(48 * 64, dtype=np.int32).reshape(48, 64), "int32 pixels"),
    "int16x3": (np.full((48, 64, 3), 7, np.int16), "int16 pixels"),
    "float64": (np.full((48, 64), 300.0), "float64 pixels range from 300 to 300"),
    "float32-nan": (np.full((48, 64, 3), np.nan, np.float32), "NaN or infinity"),
}


@pytest.mark.parametrize("kind", sorted(UNUSABLE_PIXELS))
def test_explain_refuses_an_unusable_pixel_format(cli, tmp_path, kind):
    pixels, words = UNUSABLE_PIXELS[kind]
    image = tmp_path / f"{kind}.tif"
    assert cv2.imwrite(str(image), pixels)
    before = snapshot(image)
    result = cli("explain", image, "-o", tmp_path / "out.png", *DEMO)
    assert_one_error(result, str(image), words, "save it as 8- or 16-bit unsigned")
    assert snapshot(image) == before and not (tmp_path / "out.png").exists()


def test_folder_skips_unusable_pixel_formats_and_goes_on(cli, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    make_image(folder / "0.png", size=(96, 64), value=100)
    for i, kind in enumerate(("int8", "int32", "float64"), start=1):
        assert cv2.imwrite(str(folder / f"{i}.tif"), UNUSABLE_PIXELS[kind][0])
    make_image(folder / "4.png", size=(96, 64), value=200)
    before = snapshot(folder)
    result = cli("export", folder, "-o", tmp_path / "out.mp4", "--max-frames", "2", *DEMO)
    assert result.code == 0, result.err
    assert "wrote" in result.out and "2 frames" in result.out
    assert len(result.err_lines) == 3 and all(
        line.startswith(WARNING) and line.endswith("; skipped") for line in result.err_lines
    ), result.err
    assert [line.split(": ")[2] for line in result.err_lines] == [
        str(folder / "1.tif"),
        str(folder / "2.tif"),
        str(folder / "3.tif"),
    ]
    assert snapshot(folder) == before


@pytest.mark.parametrize(
    ("pixels", "words"),
    [
        (np.zeros((8, 8, 2), np.uint8), "2 colour channels"),
        (np.zeros((8, 8, 5), np.uint8), "5 colour channels"),
        (np.zeros((8, 8, 3), np.uint32), "uint32 pixels"),
        (np.full((8, 8), -0.5, np.float32), "outside [0, 1]"),
        (np.zeros((2, 8, 8, 3), np.uint8), "not an image"),
    ],
)
def test_unusable_arrays_are_refused_with_the_reason(pixels, words):
    with pytest.raises(UnsupportedImage, match=words.replace("[", r"\[").replace("]", r"\]")):
        to_bgr_uint8(pixels)


# -- 2. images too small or too thin to detect on ---------------------------------------------


@pytest.mark.parametrize(
    ("size", "words"),
    [
        ((3000, 2), "too thin to explain (3000x2 pixels; each side needs at least 16)"),
        ((2, 3000), "too thin to explain (2x3000 pixels"),
        ((1, 1), "too small to explain (1x1 pixels"),
        ((5, 5), "too small to explain (5x5 pixels"),
        ((1100, 16), "too thin to explain (1100x16 pixels; the long side may be at most 64"),
    ],
)
def test_explain_refuses_an_image_too_small_or_too_thin(cli, tmp_path, size, words):
    image = make_image(tmp_path / "tiny.png", size=size)
    before = snapshot(image)
    result = cli("explain", image, "-o", tmp_path / "out.png", *DEMO)
    assert_one_error(result, str(image), words)
    assert snapshot(image) == before


def test_smallest_images_allowed_are_explained(cli, tmp_path):
    for size in ((16, 16), (1024, 16)):
        result = cli(
            "explain", make_image(tmp_path / "ok.png", size=size), "-o", tmp_path / "out.png", *DEMO
        )
        assert result.code == 0 and not result.err_lines, result.err
        assert cv2.imread(str(tmp_path / "out.png")).shape[:2] == size[::-1]


def test_folder_skips_an_image_too_thin(cli, tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    make_image(folder / "0.png", size=(96, 64))
    make_image(folder / "1.png", size=(3000, 2))
    make_image(folder / "2.png", size=(96, 64))
    before = snapshot(folder)
    result = cli("export", folder, "-o", tmp_path / "out.mp4", "--max-frames", "2", *DEMO)
    assert result.code == 0 and "2 frames" in result.out, result.err
    assert result.err_lines == [
        f"{WARNING}{folder / '1.png'}: too thin to explain (3000x2 pixels; each side needs at "
        "least 16); skipped"
    ]
    assert snapshot(folder) == before


def test_a_frame_too_thin_is_one_error_from_the_explainer():
    explainer = DetectionExplainer(load_model("demo", weights="demo"), "gradcam")
    with pytest.raises(UserError, match=r"this frame is too thin to explain \(3000x2 pixels"):
        explainer(torch.zeros(3, 2, 3000))


# -- 3. weights files -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_state():
    return load_model("demo", weights="demo").state_dict()


def with_categories(value):
    return lambda state: {"state_dict": state, "categories": value}


BAD_WEIGHTS = {
    "categories-str": (with_categories("car"), "'categories' is str, not a list"),
    "categories-int": (with_categories(3), "'categories' is int, not a list"),
    "categories-none": (with_categories(None), "'categories' is None, not a list"),
    "categories-dict": (with_categories({"a": {"b": 1}}), "'categories' is dict"),
    "categories-empty": (with_categories([]), "'categories' is empty"),
    "categories-ints": (with_categories(list(range(9))), "'categories' item 0 is int"),
    "categories-nested": (with_categories([{"name": "car"}] * 9), "item 0 is dict"),
    "categories-short": (with_categories(["a", "b"]), "has 2 names but the weights score 9"),
    "categories-tensor": (with_categories(torch.arange(9)), "'categories' is Tensor"),
    "shapes": (
        lambda state: {k: v[:1] if v.ndim else v for k, v in state.items()},
        "tensors of other shapes (such as backbone.body.stage1.0.weight: (1, 3, 3, 3) in the "
        "file, (16, 3, 3, 3) in the model)",
    ),
    "missing": (lambda state: dict(list(state.items())[:3]), "missing tensors"),
    "not-tensors": (lambda state: {**state, "extra": 3}, "1 entries that are not tensors"),
    "state-dict-none": (lambda state: {"state_dict": None}, "its 'state_dict' holds None"),
    "list": (lambda state: [1, 2], "holds a list, not a state dict"),
    "checkpoint": (lambda state: {"model": {}, "epoch": 3}, "holds no tensors (keys 'model'"),
    "object": (lambda state: {"state_dict": object()}, "holds a Python object of type object"),
}


@pytest.mark.parametrize("case", sorted(BAD_WEIGHTS))
def test_bad_weights_file_is_one_error(cli, tmp_path, demo_state, road_png, case):
    make, words = BAD_WEIGHTS[case]
    weights = tmp_path / "w.pt"
    torch.save(make(demo_state), weights)
    before = snapshot(weights, road_png)
    result = cli(
        "explain", road_png, "-o", tmp_path / "o.png", "--model", "demo", "--weights", weights
    )
    assert_one_error(result, str(weights), words)
    assert snapshot(weights, road_png) == before


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"just some text, not torch", "not a PyTorch weights file"),
        (b"PK\x03\x04 a broken zip", "not a PyTorch weights file"),
        (b"", "weights file is empty (0 bytes)"),
        (None, "a folder, not a weights file"),
    ],
)
def test_weights_that_are_no_torch_file_are_one_error(cli, tmp_path, road_png, content, words):
    weights = tmp_path / "w.pt"
    if content is None:
        weights.mkdir()
    else:
        weights.write_bytes(content)
    result = cli(
        "explain", road_png, "-o", tmp_path / "o.png", "--model", "demo", "--weights", weights
    )
    assert_one_error(result, str(weights), words)


def test_weights_with_good_categories_still_load(tmp_path, demo_state):
    names = [f"class{i}" for i in range(9)]
    path = tmp_path / "w.pt"
    torch.save({"state_dict": demo_state, "categories": names}, path)
    assert load_model("demo", weights=path).categories == names


# -- 4. drive logs given to `report` ----------------------------------------------------------


@pytest.fixture(scope="module")
def drive_log(tmp_path_factory) -> list[str]:
    """The lines of a real log: `export synthetic --log` with the demo detector."""
    import contextlib
    import io

    from live_explain.cli.main import main

    folder = tmp_path_factory.mktemp("log")
    args = ["export", "synthetic", "-o", folder / "x.mp4", "--log", folder / "x.jsonl"]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main([str(a) for a in args] + ["--max-frames", "4", *DEMO])
    assert code == 0
    return (folder / "x.jsonl").read_text().splitlines()


def damaged(lines: list[str], header=None, frame=None, at: int = 1) -> list[str]:
    """``lines`` with the header changed by ``header(dict)`` and the frame on line ``at + 1``
    replaced by ``frame(dict)`` (or by the text ``frame``)."""
    lines = list(lines)
    if header is not None:
        data = json.loads(lines[0])
        header(data)
        lines[0] = json.dumps(data)
    if frame is not None:
        if isinstance(frame, str):
            lines[at] = frame
        else:
            data = json.loads(lines[at])
            frame(data)
            lines[at] = json.dumps(data)
    return lines


def first_score(value):
    return lambda data: data["detections"][0].update(score=value)


LOG_ERRORS = {
    "no-fps": (
        dict(header=lambda d: d.pop("fps")),
        "line 1, the drive record, is malformed (fps is missing)",
    ),
    "no-settings": (dict(header=lambda d: d.pop("settings")), "(settings is missing)"),
    "settings-list": (
        dict(header=lambda d: d.update(settings=[1])),
        "settings is [1], not an object",
    ),
    "settings-null": (dict(header=lambda d: d.update(settings=None)), "settings is null"),
    "width-text": (dict(header=lambda d: d.update(width="x")), 'width is "x", not a whole'),
    "fps-zero": (dict(header=lambda d: d.update(fps=0)), "must be positive"),
    "line-array": (
        dict(frame="[1, 2]"),
        "line 2 is malformed (the line is [1, 2], not an object)",
    ),
    "line-null": (dict(frame="null"), "line 2 is malformed (the line is null"),
    "score-text": (dict(frame=first_score("hi")), 'detections[0].score is "hi", not a number'),
    "box-short": (
        dict(frame=lambda d: d["detections"][0].update(box=[1, 2])),
        "detections[0].box is [1, 2], not a list of 4",
    ),
    "events-text": (dict(frame=lambda d: d.update(events="x")), 'events is "x", not a list'),
    "frame-float": (dict(frame=lambda d: d.update(frame=1.5)), "frame is 1.5, not a whole"),
    "second-drive": (dict(frame=None), 'record "drive" where a frame'),
}


@pytest.mark.parametrize("case", sorted(LOG_ERRORS))
def test_report_on_a_malformed_log_is_one_error(cli, tmp_path, drive_log, case):
    how, words = LOG_ERRORS[case]
    lines = damaged(drive_log, **how)
    if case == "second-drive":
        lines[1] = drive_log[0]
    log = tmp_path / "drive.jsonl"
    log.write_text("\n".join(lines) + "\n")
    assert any(d["detections"] for d in map(json.loads, drive_log[1:]))  # a real drive
    before = snapshot(log)
    result = cli("report", log, "-o", tmp_path / "r.html")
    assert_one_error(result, str(log), words)
    assert snapshot(log) == before and not (tmp_path / "r.html").exists()


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "the log is empty"),
        (bytes(range(256)) * 8, "not a live-explain log (not UTF-8 text)"),
    ],
)
def test_report_on_an_empty_or_binary_file_is_one_error(cli, tmp_path, content, words):
    log = tmp_path / "drive.jsonl"
    log.write_bytes(content)
    result = cli("report", log, "-o", tmp_path / "r.html")
    assert_one_error(result, str(log), words)
    assert log.read_bytes() == content


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        (first_score("hi"), 'line 4 is malformed (detections[0].score is "hi", not a number)'),
        ("[1, 2]", "line 4 is malformed (the line is [1, 2], not an object)"),
        (lambda d: d.update(lighting=5), "line 4 is malformed (lighting is 5, not a string)"),
    ],
)
def test_report_over_the_good_part_of_a_damaged_log(cli, tmp_path, drive_log, frame, words):
    log = tmp_path / "drive.jsonl"
    log.write_text("\n".join(damaged(drive_log, frame=frame, at=3)) + "\n")
    before = snapshot(log)
    result = cli("report", log, "-o", tmp_path / "r.html")
    assert result.code == 0, result.err
    assert result.err_lines == [
        f"{WARNING}{log}: {words}; the report covers the 2 frames before it"
    ]
    assert "1 drive, 2 frames" in result.out
    assert "(cut off)" in (tmp_path / "r.html").read_text()
    assert snapshot(log) == before


# -- 5. --layer: the layers a method cannot explain at ----------------------------------------

DEMO_LAYERS = [
    ("rpn.head.conv", "gradcam++", "the gradients go from the backbone's outputs down"),
    ("roi_heads.box_head.fc6", "gradcam", "the gradients go from the backbone's outputs down"),
    ("backbone.fpn.inner_blocks", "eigencam", "the forward pass never runs it"),
    ("roi_heads", "gradcam", "its output holds no feature maps"),  # (was: integer tensors)
    ("roi_heads", "eigencam", "its output holds no feature maps"),
    ("roi_heads.box_head.fc6", "eigencam", "its output is not (C, h, w) feature maps"),
    ("transform", "gradcam", "its output holds no feature maps"),
]


@pytest.mark.parametrize(("layer", "method", "words"), DEMO_LAYERS)
def test_explain_at_a_layer_the_method_cannot_use_is_one_error(
    cli, tmp_path, road_png, layer, method, words
):
    before = snapshot(road_png)
    result = cli(
        "explain", road_png, "-o", tmp_path / "o.png", *DEMO, "--layer", layer, "--method", method
    )
    line = assert_one_error(result, words)
    assert line.startswith(
        f"{ERROR}--layer {layer}: {method} cannot explain detections at this layer ("
    )
    assert line.endswith("; try backbone (the default) or another layer under backbone.body")
    assert snapshot(road_png) == before and not (tmp_path / "o.png").exists()


def test_export_at_a_layer_the_method_cannot_use_is_one_error(cli, tmp_path, road_png):
    """(Before the second explanation core, a layer whose output the next operation changes
    in place was refused; now it explains, so a layer outside the backbone stands in.)"""
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i}.png"), road_frame())
    before = snapshot(folder)
    out = tmp_path / "out.mp4"
    result = cli(
        "export",
        folder,
        "-o",
        out,
        "--max-frames",
        "2",
        *DEMO,
        "--layer",
        "rpn.head.conv",
    )
    assert_one_error(result, "--layer rpn.head.conv: gradcam cannot explain")
    assert snapshot(folder) == before and not out.exists()


def test_layers_the_methods_can_use_still_work(cli, tmp_path, road_png):
    # The first three were refused before the second explanation core: the next operation
    # changes their output in place, or not every FPN level depends on it.
    for layer, method in (
        ("backbone.body.stage1.1", "gradcam"),
        ("backbone.body.stage3.0.1", "hirescam"),
        ("backbone.fpn.layer_blocks.0", "hirescam"),
        ("backbone.body.stage2.0.1", "gradcam"),
        ("backbone.body.stage1.0", "gradcam"),
        ("rpn.head.conv", "eigencam"),
    ):
        result = cli(
            "explain",
            road_png,
            "-o",
            tmp_path / "o.png",
            *DEMO,
            "--layer",
            layer,
            "--method",
            method,
        )
        assert result.code == 0 and not result.err_lines, result.err
        assert "detections explained" in result.out and "0 detections" not in result.out


def test_unknown_layer_is_one_error(cli, tmp_path, road_png):
    result = cli("explain", road_png, "-o", tmp_path / "o.png", *DEMO, "--layer", "nope.layer")
    assert_one_error(
        result,
        "--layer nope.layer: no layer of that name in FasterRCNN",
        "names start with one of: transform, backbone, rpn, roi_heads",
    )
    result = cli("explain", road_png, "-o", tmp_path / "o.png", *DEMO, "--layer", "backbone.bod")
    assert_one_error(result, "close names: backbone.body")


def test_a_failure_that_is_not_the_layers_stays_a_bug(monkeypatch):
    """Only a failure the default layer does not have becomes a user error: one in the
    default path too is raised as it is."""
    model = load_model("demo", weights="demo")
    image = torch.from_numpy(road_frame()[:, :, ::-1].copy()).permute(2, 0, 1).float() / 255
    explainer = DetectionExplainer(model, "eigencam", "rpn.head.conv", score_thresh=0.3)
    assert len(explainer(image)) > 0

    def broken(self, rows, method):
        raise RuntimeError("a bug in the explainer")

    monkeypatch.setattr(AutogradRecording, "parts", broken)
    with pytest.raises(RuntimeError, match="a bug in the explainer"):
        explainer(image)
