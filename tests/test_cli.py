"""The command line: help, user errors as one line with exit code 2, record, models."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import CLIP, run_cli_process, video_info

COMMANDS = ("watch", "export", "explain", "record", "bench", "models", "report")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(cli, command):
    result = cli(command, "--help")
    assert result.code == 0 and "usage: live-explain" in result.out


def _files(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("this is not a video\n")


# name -> (arguments given the test's folder p, text the one error line must contain)
BAD_INPUTS = {
    "missing path": (lambda p: ["export", p / "nope.mp4", "-o", p / "out.mp4"], "no such file"),
    "zero-byte file": (lambda p: ["export", p / "empty.mp4", "-o", p / "out.mp4"], "(0 bytes)"),
    "text file named .mp4": (
        lambda p: ["export", p / "notes.mp4", "-o", p / "out.mp4"],
        "not a readable video",
    ),
    "unsupported URL scheme": (
        lambda p: ["export", "ftp://host/a.mp4", "-o", p / "out.mp4"],
        "URL scheme 'ftp'",
    ),
    "camera that does not exist": (lambda p: ["export", "63", "-o", p / "out.mp4"], "camera 63"),
    "output folder not writable": (
        lambda p: ["export", CLIP, "-o", "/proc/out.mp4"],
        "not writable",
    ),
    "output folder missing": (
        lambda p: ["export", CLIP, "-o", p / "no" / "o.mp4"],
        "does not exist",
    ),
    "output equals input": (lambda p: ["export", CLIP, "-o", CLIP], "same as the input"),
    "output not a video name": (lambda p: ["export", CLIP, "-o", p / "o.txt"], "must end in"),
    "unknown model": (
        lambda p: ["export", CLIP, "-o", p / "out.mp4", "--model", "yolo"],
        "unknown model",
    ),
    "unknown class": (
        lambda p: ["export", CLIP, "-o", p / "out.mp4", "--classes", "kar"],
        "did you mean car",
    ),
    "cuda without a GPU": (
        lambda p: ["export", CLIP, "-o", p / "out.mp4", "--device", "cuda"],
        "CUDA",
    ),
    "bad weights file": (
        lambda p: ["export", CLIP, "-o", p / "out.mp4", "--weights", p / "notes.mp4"],
        "not a PyTorch weights file",
    ),
    "end before start": (
        lambda p: ["export", CLIP, "-o", p / "out.mp4", "--start", "3", "--end", "1"],
        "--end",
    ),
    "usage error": (lambda p: ["export", CLIP], "required"),
    "not a number": (lambda p: ["export", CLIP, "-o", p / "out.mp4", "--topk", "x"], "--topk"),
    "no workers": (lambda p: ["export", CLIP, "-o", p / "out.mp4", "--workers", "0"], "--workers"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path, case):
    if case == "cuda without a GPU":
        pytest.importorskip("torch")
        import torch

        if torch.cuda.is_available():
            pytest.skip("CUDA is available here")
    _files(tmp_path)
    make_args, message = BAD_INPUTS[case]
    args = make_args(tmp_path)
    result = cli(*args, "--weights", "none") if "--weights" not in args else cli(*args)
    assert result.code == 2, result.err
    assert len(result.err_lines) == 1, result.err
    assert message in result.err_lines[0]
    assert "Traceback" not in result.err
    assert not (tmp_path / "out.mp4").exists()


def test_user_error_in_a_real_process_has_no_traceback(tmp_path):
    proc = run_cli_process("export", tmp_path / "nope.mp4", "-o", tmp_path / "o.mp4")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "no such file" in proc.stderr


def test_models_lists_detectors_and_weights(cli):
    result = cli("models")
    assert result.code == 0
    assert "fasterrcnn_mobilenet_v3_large_320_fpn (default)" in result.out
    assert "resnet50" in result.out


def test_record_synthetic_with_sidecar(cli, tmp_path):
    out = tmp_path / "rec.mp4"
    result = cli("record", "synthetic", "-o", out, "--duration", "1.5")
    assert result.code == 0, result.err
    sidecar = json.loads((tmp_path / "rec.mp4.json").read_text())
    info = video_info(out)
    assert info["codec"] == "h264" and info["frames"] == sidecar["frames_written"]
    assert sidecar["finished"] is True and sidecar["source"] == "synthetic"
    assert (sidecar["width"], sidecar["height"]) == info["size"]
    assert sidecar["fps"] == 25.0 and "started_at" in sidecar
    # paced like a camera: at most ~1.5 s at 25 fps (fewer when a loaded machine renders slowly)
    assert 5 <= sidecar["frames_written"] <= 45
    assert cli("record", "synthetic", "-o", out, "--duration", "1").code == 2  # no overwrite


def test_record_killed_mid_way_still_decodes(tmp_path):
    out = tmp_path / "crash.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "live_explain.cli", "record", "synthetic", "-o", out],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sidecar = out.with_name(out.name + ".json")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sidecar.exists() and json.loads(sidecar.read_text())["frames_written"] >= 60:
            break
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    info = video_info(out)
    assert info["codec"] == "h264" and info["frames"] >= 25
    assert json.loads(sidecar.read_text())["finished"] is False


def test_record_default_folder(tmp_path, monkeypatch, cli):
    monkeypatch.chdir(tmp_path)
    result = cli("record", "synthetic", "--max-frames", "5")
    assert result.code == 0, result.err
    videos = list((tmp_path / "recordings").glob("synthetic-*.mp4"))
    assert len(videos) == 1 and video_info(videos[0])["frames"] == 5
