"""What the desktop app's replay and recording stand on: exact random access to frames, and
raw recordings that keep a live feed's timing."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import CLIP_FRAMES, make_image, make_video, video_info

from live_explain.errors import SourceError
from live_explain.io.replay import FolderReplay, VideoReplay, open_replay
from live_explain.sinks.recorder import FeedRecorder


def sequential_frames(path, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while len(frames) < count:
        ok, image = capture.read()
        if not ok:
            break
        frames.append(image)
    capture.release()
    return frames


def test_random_access_gives_exactly_the_decoded_frame(clip):
    truth = sequential_frames(clip, CLIP_FRAMES)
    with open_replay(clip) as reader:
        assert isinstance(reader, VideoReplay)
        assert (reader.frame_count, reader.fps, reader.size) == (CLIP_FRAMES, 25.0, (960, 540))
        for index in (150, 3, 220, 219, 0, 151, 149, 100):  # seeks back and forth, steps
            frame = reader.read(index)
            assert frame.index == index
            assert frame.pts_ms == pytest.approx(index * 40.0)
            assert np.array_equal(frame.image, truth[index]), index
        assert reader.read(CLIP_FRAMES) is None
        assert reader.read(-1) is None


def test_a_short_file_ends_where_decoding_ends(tmp_path):
    path = make_video(tmp_path / "short.mp4", frames=12)
    with open_replay(path) as reader:
        frames = [reader.read(i) for i in range(reader.frame_count)]
    assert len(frames) == 12 and all(f is not None for f in frames)


def test_folder_replay_in_natural_order_skipping_unreadable_images(tmp_path):
    for number, value in ((10, 30), (2, 20), (1, 10)):
        make_image(tmp_path / f"frame{number}.png", value=value)
    (tmp_path / "frame5.png").write_bytes(b"not a png")
    reader = open_replay(tmp_path, folder_fps=5.0)
    assert isinstance(reader, FolderReplay)
    assert [p.name for p in reader.files] == [
        "frame1.png",
        "frame2.png",
        "frame5.png",
        "frame10.png",
    ]
    assert reader.read(0).image[0, 0, 0] == 10
    assert reader.read(2) is None  # the unreadable one
    last = reader.read(3)
    assert last.image[0, 0, 0] == 30 and last.pts_ms == pytest.approx(600.0)


def test_live_sources_are_not_replayed_and_bad_paths_say_why(tmp_path):
    assert open_replay("0") is None
    assert open_replay("synthetic") is None
    assert open_replay("rtsp://example.invalid/stream") is None
    with pytest.raises(SourceError, match="no such file"):
        open_replay(tmp_path / "missing.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"\0" * 100)
    with pytest.raises(SourceError, match="not a readable video"):
        open_replay(tmp_path / "junk.mp4")


def test_a_slow_live_feed_is_recorded_with_its_real_timing(tmp_path):
    path = tmp_path / "feed.mp4"
    recorder = FeedRecorder(path, fps=25.0, source="synthetic", source_kind="synthetic")
    images = [np.full((96, 160, 3), v, np.uint8) for v in (0, 80, 160, 240)]
    # frames arrive every 120 ms (3 frame periods): each is held until the next one
    for i, image in enumerate(images):
        recorder.write(image, dropped=2 * i, pts_ms=1000.0 + 120.0 * i)
    assert recorder.close() == path
    info = video_info(path)
    assert info["frames"] == 10 and info["size"] == (160, 96)
    sidecar = json.loads(path.with_name(path.name + ".json").read_text())
    assert sidecar["finished"] and sidecar["frames_written"] == 10
    assert sidecar["frames_dropped"] == 6 and sidecar["duration_s"] == pytest.approx(0.4)


def test_a_recording_without_frames_leaves_nothing(tmp_path):
    path = tmp_path / "empty.mp4"
    recorder = FeedRecorder(path, fps=25.0, source="0", source_kind="camera")
    assert recorder.close() is None
    assert list(tmp_path.iterdir()) == []
