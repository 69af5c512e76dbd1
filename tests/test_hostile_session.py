"""Hostile surroundings of a run: a deleted working folder, a display that is gone, signals
at the start and end of the app and a recording, a settings file that is not the app's, a
name at the file system's length limit, folders of bad images. Each ends in one line (or
succeeds), with the documented exit code, and no file of the user's is changed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import MEDIA, make_video, video_info, wait_for

from live_explain.cli.main import main

DEMO = ("--model", "demo", "--weights", "demo")


def cli_process(*args, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "live_explain.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


def lines_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_deleted_working_folder_is_one_line(tmp_path):
    """A library's loader once printed a fatal error of its own from a deleted folder."""
    gone = tmp_path / "gone"
    gone.mkdir()
    script = (
        "import os, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); "
        "from live_explain.launch import entry; sys.argv[1:] = ['models']; entry()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(gone)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    lines = lines_of(done.stderr)
    assert len(lines) == 1 and "current folder" in lines[0], done.stderr


def test_display_that_is_gone_is_one_line(tmp_path, monkeypatch, capsys):
    """DISPLAY names an X server that is not running: Qt would abort the process."""
    number = next(n for n in range(90, 200) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    monkeypatch.setenv("DISPLAY", f":{number}")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    clip = make_video(tmp_path / "clip.mp4", frames=3)
    assert main(["watch", str(clip), *DEMO]) == 2
    lines = lines_of(capsys.readouterr().err)
    assert len(lines) == 1 and f"cannot reach the display DISPLAY=:{number}" in lines[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is there: --device cuda works")
def test_watch_with_cuda_where_there_is_none_exits_2(tmp_path, capsys):
    clip = make_video(tmp_path / "clip.mp4", frames=3)
    assert main(["watch", str(clip), *DEMO, "--device", "cuda"]) == 2
    lines = lines_of(capsys.readouterr().err)
    assert len(lines) == 1 and "cuda" in lines[0].lower()


def test_signal_once_the_work_is_done_keeps_the_exit_code():
    """A SIGTERM while the interpreter shuts down after the command (here from an exit
    handler) once killed the process by signal; the exit code is the command's."""
    script = (
        "import atexit, os, signal, sys; sys.argv = ['live-explain', 'models']; "
        "atexit.register(lambda: os.kill(os.getpid(), signal.SIGTERM)); "
        "from live_explain.launch import entry; entry()"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


@pytest.mark.slow
def test_ctrl_c_ends_a_recording_with_130_and_keeps_it(tmp_path):
    proc = cli_process("record", "synthetic", "-o", "rec.mp4", cwd=tmp_path)
    assert wait_for(lambda: any(p.stat().st_size > 2000 for p in tmp_path.glob("rec*.mp4")))
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = lines_of(err)
    assert len(lines) == 1 and lines[0].startswith("live-explain: interrupted; recorded"), err
    assert "rec.mp4" in lines[0] and "rec.mp4.json" in lines[0]
    assert video_info(tmp_path / "rec.mp4")["frames"] > 0


@pytest.mark.slow
def test_ctrl_c_closes_the_app_with_130(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", frames=400, size=(320, 192))
    settings = tmp_path / "config"
    env = {"QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(settings)}
    proc = cli_process("watch", clip, *DEMO, cwd=tmp_path, env=env)
    # The window remembers its settings once a frame has been shown with them.
    assert wait_for(lambda: any(settings.rglob("*.ini")), timeout=180), proc.stderr.read()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = lines_of(err)
    assert lines and lines[-1].startswith("live-explain: interrupted"), err
    assert "Traceback" not in err and "propagateSizeHints" not in err, err


def test_a_settings_file_the_app_did_not_write_is_left_alone(tmp_path, qapp):
    from live_explain.ui.settings import AppSettings

    path = tmp_path / "live-explain.ini"
    garbage = b"\x00\xff\xfe garbage [[[ =\n\x89PNG\r\n"
    path.write_bytes(garbage)
    settings = AppSettings(path)
    assert settings.unreadable and "is not text" in settings.unreadable
    settings.save_playback(2.0, True)
    settings.sync()
    assert settings.speed() == 2.0  # remembered for this session
    assert path.read_bytes() == garbage

    other = tmp_path / "other.ini"
    other.write_text("[mail]\nserver=example.org\n")
    assert "[mail]" in (AppSettings(other).unreadable or "")

    own = tmp_path / "own.ini"
    first = AppSettings(own)
    first.save_playback(0.5, False)
    first.sync()
    assert AppSettings(own).unreadable is None  # what the app wrote reads back as its own
    assert AppSettings(own).speed() == 0.5


def test_an_output_name_at_the_length_limit_is_written(tmp_path, capsys):
    """The partial name is longer than the final one: it is cut, the output is not refused."""
    clip = make_video(tmp_path / "clip.mp4", frames=4)
    name = "a" * 250 + ".mp4"
    assert main(["export", str(clip), "-o", str(tmp_path / name), *DEMO]) == 0, capsys.readouterr()
    assert video_info(tmp_path / name)["frames"] == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["clip.mp4", name])


def test_a_folder_of_bad_images_warns_twice_at_most(tmp_path, capsys):
    photo = cv2.resize(cv2.imread(str(MEDIA / "whiteCarLaneSwitch.jpg")), (160, 90))
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        cv2.imwrite(str(frames / f"good{i}.png"), photo)
    for i in range(4):
        cv2.imwrite(str(frames / f"tiny{i}.png"), np.zeros((3, 3, 3), np.uint8))
    code = main(["export", str(frames), "-o", str(tmp_path / "o.mp4"), *DEMO])
    err = capsys.readouterr().err
    assert code == 0, err
    warnings = lines_of(err)
    assert len(warnings) == 2, err
    assert "tiny0.png" in warnings[0] and "4 images skipped in all" in warnings[1]
    assert video_info(tmp_path / "o.mp4")["frames"] == 2


@pytest.mark.slow
def test_ctrl_c_while_faithfulness_is_measured_names_the_finished_video(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", frames=30, size=(320, 192))
    proc = cli_process(
        "export",
        clip,
        "-o",
        "o.mp4",
        "--log",
        "o.jsonl",
        "--faithfulness",
        "30",
        *DEMO,
        "--score-thresh",
        "0",
        cwd=tmp_path,
    )
    assert wait_for(lambda: (tmp_path / "o.mp4").exists())  # the video is done; the log is not
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    lines = lines_of(err)
    if proc.returncode == 0:
        pytest.skip("faithfulness was measured before the signal came")
    assert proc.returncode == 130, err
    assert len(lines) == 1, err
    assert "wrote o.mp4: 30 frames (complete)" in lines[0] and "partial log kept" in lines[0]
    assert video_info(tmp_path / "o.mp4")["frames"] == 30
    assert not (tmp_path / "o.jsonl").exists()


def test_remembered_values_the_app_cannot_use_keep_their_defaults(tmp_path, qapp):
    from live_explain.ui.settings import APP_DEFAULTS, AppSettings

    path = tmp_path / "live-explain.ini"
    path.write_text(
        "[explain]\nalpha=banana\ntopk=-5\nmodel=nosuchmodel\nmethod=evil\n"
        f"layer={'x' * 10_000}\nscore_thresh=0.4\n"
        "[sources]\nrecent=@Variant(\\0\\0\\0\\xff)\n"
    )
    before = path.read_bytes()
    settings = AppSettings(path)
    assert "has values the app cannot use (" in settings.unreadable
    assert "model" in settings.unreadable and "method" in settings.unreadable
    explain = settings.explain()
    assert explain.score_thresh == 0.4  # the usable value is kept
    for name in ("alpha", "topk", "model", "method", "layer"):
        assert getattr(explain, name) == getattr(APP_DEFAULTS, name), name
    settings.save_explain(explain)
    settings.sync()
    assert path.read_bytes() == before  # not the app's doing: never written over
    path.write_text("[explain]\nscore_thresh=nan\n")
    assert AppSettings(path).explain().score_thresh == APP_DEFAULTS.score_thresh


def test_a_folder_of_only_bad_images_is_one_line(tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "a.png").write_bytes(b"")
    (frames / "b.jpg").write_bytes(b"\xff\xd8 cut")
    (frames / "c.png").write_text("text")
    code = main(["export", str(frames), "-o", str(tmp_path / "o.mp4"), *DEMO])
    lines = lines_of(capsys.readouterr().err)
    assert code == 2 and len(lines) == 1, lines
    assert "none of the images could be read (first: a.png" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]
