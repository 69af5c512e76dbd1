"""`live-explain export`: the real clip round trip, options, atomic output, interruption."""

import os
import signal
import subprocess
import sys
import time

import av
import pytest
from conftest import CLIP_FRAMES, make_image, make_video, video_info

FAST = ("--weights", "none", "--device", "cpu")


def test_real_clip_round_trip(cli, clip, tmp_path):
    out = tmp_path / "drive.mp4"
    result = cli("export", clip, "-o", out, *FAST, "--score-thresh", "0.01", "--topk", "3")
    assert result.code == 0, result.err
    assert f"{CLIP_FRAMES} frames" in result.out
    info = video_info(out)
    assert info == {
        "codec": "h264",
        "pix_fmt": "yuv420p",
        "size": (960, 540),
        "fps": 25.0,
        "frames": CLIP_FRAMES,
    }
    assert not list(tmp_path.glob("*.partial*"))


def test_max_frames_and_time_range(cli, clip, tmp_path):
    out = tmp_path / "a.mp4"
    assert cli("export", clip, "-o", out, *FAST, "--max-frames", "7").code == 0
    assert video_info(out)["frames"] == 7
    assert cli("export", clip, "-o", out, *FAST, "--start", "1", "--end", "2").code == 0
    assert video_info(out)["frames"] == 25  # one second at 25 fps


def test_odd_frame_size_is_padded_to_even(cli, tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    for i in range(3):
        make_image(folder / f"{i}.png", size=(101, 75))
    out = tmp_path / "odd.mp4"
    result = cli("export", folder, "-o", out, *FAST, "--fps", "5")
    assert result.code == 0, result.err
    info = video_info(out)
    assert info["size"] == (102, 76) and info["frames"] == 3 and info["fps"] == 5.0


def test_frames_that_change_size_are_letterboxed(cli, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    make_image(folder / "1.png", size=(64, 48))
    make_image(folder / "2.png", size=(80, 80))
    make_image(folder / "3.png", size=(64, 48))
    out = tmp_path / "mixed.mp4"
    result = cli("export", folder, "-o", out, *FAST)
    assert result.code == 0, result.err
    assert len(result.err_lines) == 1 and "frame 1 is 80x80, not 64x48" in result.err
    assert video_info(out)["frames"] == 3


def test_grayscale_and_four_channel_images(cli, tmp_path):
    folder = tmp_path / "channels"
    folder.mkdir()
    make_image(folder / "1.png", channels=1)
    make_image(folder / "2.png", channels=4)
    out = tmp_path / "c.mp4"
    result = cli("export", folder, "-o", out, *FAST)
    assert result.code == 0 and result.err == ""
    assert video_info(out)["frames"] == 2


def test_truncated_video_keeps_decodable_frames_with_warning(cli, tmp_path):
    video = make_video(tmp_path / "v.mp4", frames=40, options={"movflags": "faststart"})
    data = video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    out = tmp_path / "out.mp4"
    result = cli("export", cut, "-o", out, *FAST)
    assert result.code == 0
    frames = video_info(out)["frames"]
    assert 0 < frames < 40
    assert len(result.err_lines) == 1
    assert f"decoded {frames} of 40 frames" in result.err


def test_corrupt_image_in_folder_is_skipped(cli, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    make_image(folder / "1.png")
    (folder / "2.png").write_bytes(b"\x89PNG broken")
    make_image(folder / "3.png")
    out = tmp_path / "out.mp4"
    result = cli("export", folder, "-o", out, *FAST)
    assert result.code == 0
    assert len(result.err_lines) == 1 and "2.png: not a readable image; skipped" in result.err
    assert video_info(out)["frames"] == 2


def test_failed_export_keeps_existing_output(cli, tmp_path):
    out = tmp_path / "keep.mp4"
    out.write_bytes(b"previous export")
    missing = tmp_path / "missing.mp4"
    assert cli("export", missing, "-o", out, *FAST).code == 2
    assert out.read_bytes() == b"previous export"


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_export_leaves_a_playable_partial_file(clip, tmp_path, how):
    out = tmp_path / "drive.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "live_explain.cli", "export", clip, "-o", out, *FAST],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    # wait until at least one fragment (2 s of video at 25 fps) is on disk
    partial = None
    while time.monotonic() < deadline and proc.poll() is None:
        partials = list(tmp_path.glob("drive.partial-*.mp4"))  # this run's own name
        if partials and partials[0].stat().st_size > 150_000:
            partial = partials[0]
            break
        time.sleep(0.2)
    assert proc.poll() is None, "export finished before it could be interrupted"
    os.kill(proc.pid, how)
    _, err = proc.communicate(timeout=60)
    assert not out.exists(), "no half file under the final name"
    assert partial is not None and partial.exists()
    frames = decodable_frames(partial)
    assert 0 < frames < CLIP_FRAMES
    if how == signal.SIGINT:
        assert proc.returncode == 130
        assert "partial video kept at" in err and "Traceback" not in err


def decodable_frames(path) -> int:
    """Frames that decode before the end or the first damaged packet: a ``kill -9`` may cut
    the fragment being written, and the file plays up to the fragment before it."""
    count = 0
    with av.open(str(path)) as container:
        try:
            for _ in container.decode(video=0):
                count += 1
        except av.error.InvalidDataError:
            pass
    return count
