"""`export --log/--report/--faithfulness` end to end, `report` over many logs, bad inputs,
and the report rendered by headless Chromium."""

import contextlib
import io
import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from monitor_drives import write_truth_drive

from live_explain.cli.main import main
from live_explain.monitor.log_reader import read_log

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One export of 40 synthetic frames with a log, a report and faithfulness (in-process,
    like the ``cli`` fixture, but once for the module)."""
    folder = tmp_path_factory.mktemp("drive")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(
            [
                "export",
                "synthetic",
                "--max-frames",
                "40",
                "-o",
                str(folder / "x.mp4"),
                "--log",
                str(folder / "x.jsonl"),
                "--report",
                str(folder / "x.html"),
                "--faithfulness",
                "1",
                "--faithfulness-methods",
                "hirescam",
            ]
        )
    return SimpleNamespace(code=code, out=out.getvalue(), err=err.getvalue(), folder=folder)


def test_export_writes_video_log_and_report(exported):
    assert exported.code == 0, exported.err
    folder = exported.folder
    assert f"wrote {folder / 'x.jsonl'}: 40 frames" in exported.out
    assert f"wrote {folder / 'x.html'}" in exported.out
    assert sorted(p.name for p in folder.iterdir()) == ["x.html", "x.jsonl", "x.mp4"]
    drive = read_log(folder / "x.jsonl")
    assert len(drive.frames) == 40 and drive.header.video == "x.mp4"
    assert drive.video_path == folder / "x.mp4"
    assert [f.frame for f in drive.frames] == list(range(40))
    assert sum(len(f.detections) for f in drive.frames) > 0
    [faithfulness] = drive.faithfulness
    assert faithfulness.method == "hirescam" and faithfulness.detections >= 1
    assert 0.0 <= faithfulness.deletion_auc <= 1.0 and 0.0 <= faithfulness.insertion_auc <= 1.0
    html = (folder / "x.html").read_text()
    for section in ("Timeline", "Per class", "Flagged frames", "Worst tracks", "Bias audit"):
        assert f"<h2>{section}</h2>" in html
    assert "Faithfulness" in html and "hirescam" in html
    events = sum(len(f.events) for f in drive.frames)
    assert (html.count("data:image/jpeg;base64,") > 0) == (events > 0)
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html and "<script" not in html  # nothing to fetch offline


@pytest.mark.parametrize(
    ("options", "model", "weights"),
    [
        (("--weights", "demo"), "demo", "demo (synthetic scenes)"),
        (("--model", "demo", "--weights", "none"), "demo", "random initialisation"),
        (("--weights", "none"), "fasterrcnn_mobilenet_v3_large_320_fpn", "random initialisation"),
    ],
)
def test_log_names_the_model_that_ran(cli, clip, tmp_path, options, model, weights):
    """``--weights demo`` runs the demo detector in place of the default model: the log's
    settings name the demo, not the model asked for."""
    log = tmp_path / "x.jsonl"
    result = cli(
        "export", clip, "-o", tmp_path / "x.mp4", "--max-frames", "2", "--log", log, *options
    )
    assert result.code == 0, result.err
    settings = read_log(log).header.settings
    assert (settings["model"], settings["weights"]) == (model, weights)


def test_report_over_two_drives_with_bias_audit(cli, exported, tmp_path):
    second = write_truth_drive(tmp_path, "dusk_drive")
    out = tmp_path / "all.html"
    result = cli("report", exported.folder / "x.jsonl", second, "-o", out)
    assert result.code == 0, result.err
    assert result.out.strip() == f"wrote {out}: 2 drives, 52 frames"
    html = out.read_text()
    assert "Report over 2 drives" in html and "x.jsonl" in html and "dusk_drive.jsonl" in html
    for dimension in ("class", "horizontal region", "depth", "lighting"):
        assert f"<h3>By {dimension}</h3>" in html
    assert '<td class="l">dusk</td>' in html  # the hand-made drive's lighting bucket
    assert html.count('class="timeline"') == 2
    # Thumbnails of the exported drive are cut from its video; the other has none.
    drive = read_log(exported.folder / "x.jsonl")
    if any(f.events for f in drive.frames):
        assert "data:image/jpeg;base64," in html


def test_report_of_a_hand_made_drive_shows_its_track_events(cli, tmp_path):
    log = write_truth_drive(tmp_path, "truth")
    result = cli("report", log, "-o", tmp_path / "one.html")
    assert result.code == 0, result.err
    html = (tmp_path / "one.html").read_text()
    assert "Drive report: truth.jsonl" in html and "class flip" in html
    assert "frame not available" in html  # no video beside this log
    assert "No track ids" not in html


def one_line_error(result, *fragments):
    assert result.code == 2
    assert len(result.err_lines) == 1 and "Traceback" not in result.err, result.err
    for fragment in fragments:
        assert fragment in result.err


def test_report_bad_inputs(cli, tmp_path):
    good = write_truth_drive(tmp_path)
    out = tmp_path / "r.html"
    one_line_error(cli("report", tmp_path / "none.jsonl", "-o", out), "no such file")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a log\n")
    one_line_error(cli("report", good, notes, "-o", out), "not a live-explain log")
    binary = tmp_path / "noise.jsonl"
    binary.write_bytes(bytes(range(256)) * 4)
    one_line_error(cli("report", binary, "-o", out), "not a live-explain log")
    lines = good.read_text().splitlines()
    header = json.loads(lines[0])
    header["schema_version"] = 2
    future = tmp_path / "future.jsonl"
    future.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    one_line_error(cli("report", future, "-o", out), "schema_version 2 is not supported")
    one_line_error(cli("report", good, "-o", tmp_path / "missing" / "r.html"), "does not exist")
    one_line_error(cli("report", good, "-o", tmp_path / "r.pdf"), "must end in .html")
    assert not out.exists()


def test_export_monitoring_bad_inputs(cli, tmp_path):
    video = tmp_path / "v.mp4"
    base = ("export", "synthetic", "--max-frames", "2", "-o", video)
    one_line_error(cli(*base, "--log", tmp_path / "no" / "x.jsonl"), "does not exist")
    one_line_error(cli(*base, "--report", tmp_path / "no" / "x.html"), "does not exist")
    one_line_error(cli(*base, "--log", tmp_path / "x.txt"), "must end in .jsonl")
    one_line_error(cli(*base, "--faithfulness", "2"), "needs --log or --report")
    one_line_error(
        cli(
            *base,
            "--log",
            tmp_path / "x.jsonl",
            "--faithfulness",
            "1",
            "--faithfulness-methods",
            "gradcam,magic",
        ),
        "unknown method magic",
    )
    one_line_error(cli(*base, "--report", tmp_path / "x.html", "--attention-thresh", "2"))
    assert list(tmp_path.iterdir()) == []  # nothing started, nothing left


def not_blank(png: Path) -> None:
    image = cv2.imread(str(png))
    assert image is not None, "no screenshot"
    inked = (image < 235).any(axis=2)  # not (near) white
    colours = len(np.unique(image.reshape(-1, 3), axis=0))
    assert inked.mean() > 0.05, f"only {inked.mean():.1%} of the page is drawn"
    assert colours > 200, f"only {colours} colours"
    assert inked[:120].mean() > 0.01  # the title and cards at the top


@pytest.mark.skipif(
    not CHROMIUM.is_file(), reason="needs Debian's chromium at /usr/bin/chromium (.ci/run has it)"
)
def test_report_renders_in_headless_chromium(exported, tmp_path):
    assert exported.code == 0, exported.err
    shutil.copy(exported.folder / "x.html", tmp_path / "x.html")  # a copy: no video beside it
    png = tmp_path / "shot.png"
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={png}",
            "--window-size=1200,1600",
            (tmp_path / "x.html").as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    not_blank(png)
