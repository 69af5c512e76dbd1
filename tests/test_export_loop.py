"""The one export loop (`export`, the app's Export dialog, batch jobs): frame counting and
what stopping keeps."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from conftest import make_video, video_info

from live_explain.config import Settings, build_detector
from live_explain.io.recognise import open_source
from live_explain.realtime.pipeline import Pipeline
from live_explain.sinks.export import expected_frames, export_video
from live_explain.sinks.video import H264Writer


def source(total, fps=25.0, start=None, end=None):
    start_ms = (start or 0.0) * 1000.0
    end_ms = None if end is None else end * 1000.0
    return SimpleNamespace(expected_frames=total, fps=fps, start_ms=start_ms, end_ms=end_ms)


@pytest.mark.parametrize(
    ("case", "max_frames", "expected"),
    [
        (source(221), None, 221),
        (source(221), 5, 5),
        (source(221, end=0.4), None, 10),  # frames 0-9: t < 0.4 s
        (source(250, end=100.0), None, 250),  # an end past the video's own
        (source(250, start=1.01), None, 224),  # the first frame at or after 1.01 s is 26
        (source(None, end=0.4), None, 10),  # no count in the container: the range still tells
        (source(None, start=2.0), None, None),  # unknown until decoded
        (source(None), 7, 7),
    ],
)
def test_expected_frames_counts_what_the_range_delivers(case, max_frames, expected):
    assert expected_frames(case, max_frames) == expected


def test_a_range_counts_the_frames_a_video_delivers(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", frames=30, fps=10)
    for start, end in ((None, 1.5), (0.55, None), (0.5, 2.0)):
        found = open_source(str(clip), start_s=start, end_s=end)
        found.start()
        delivered = sum(1 for _ in iter(found.read, None))
        found.close()
        assert expected_frames(found) == delivered, (start, end)


def test_stopping_keeps_the_playable_partial_video_and_says_where(tmp_path):
    clip = make_video(tmp_path / "clip.mp4", frames=20, fps=10)
    settings = Settings(model="demo", weights="demo", score_thresh=0.5, topk=3)
    pipeline = Pipeline(open_source(str(clip)), build_detector(settings))
    output = tmp_path / "out.mp4"
    writer = H264Writer(output, 10.0, inputs=(str(clip),))
    seen = []
    result = export_video(
        pipeline, writer, None, lambda n, _: seen.append(n), lambda: len(seen) >= 4
    )
    assert result.stopped and not result.interrupted and result.frames == 4 == seen[-1]
    assert not output.exists() and result.kept is not None and result.kept.exists()
    assert str(result.kept) in result.summary() and "cancelled" in result.summary()
    assert video_info(result.kept)["frames"] == 4


def test_names_that_are_not_utf8_are_refused_or_skipped_in_one_line(tmp_path):
    """OpenCV crashes (SIGSEGV) on such a name; the CLI refuses it, a folder skips it."""
    import os
    import shutil

    from conftest import CLIP, MEDIA, run_cli_process

    video = os.path.join(os.fsencode(tmp_path), b"\xff.mp4")
    shutil.copy(CLIP, video)
    image = os.path.join(os.fsencode(tmp_path), b"\xfe.jpg")
    shutil.copy(MEDIA / "whiteCarLaneSwitch.jpg", image)
    demo = ["--model", "demo", "--weights", "demo", "--max-frames", "2"]
    ran = run_cli_process("export", os.fsdecode(video), "-o", tmp_path / "o.mp4", *demo)
    assert ran.returncode == 2 and ran.stderr.count("\n") == 1 and "UTF-8" in ran.stderr
    folder = tmp_path / "frames"
    folder.mkdir()
    shutil.copy(MEDIA / "solidYellowCurve.jpg", folder)
    shutil.copy(image, os.path.join(os.fsencode(folder), b"\xfe.jpg"))
    ran = run_cli_process("export", folder, "-o", tmp_path / "f.mp4", *demo)
    assert ran.returncode == 0 and "UTF-8" in ran.stderr and "skipped" in ran.stderr
    assert video_info(tmp_path / "f.mp4")["frames"] == 1


def test_a_huge_worker_count_is_refused_in_one_line(tmp_path):
    from conftest import run_cli_process

    ran = run_cli_process("export", "x.mp4", "-o", tmp_path / "y.mp4", "--workers", "9" * 20)
    assert ran.returncode == 2 and ran.stderr.count("\n") == 1 and "at most 64" in ran.stderr
