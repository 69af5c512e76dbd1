import functools
import http.server
import itertools
import logging
import threading
import time

import av
import numpy as np
import pytest
from conftest import CLIP_FRAMES, make_image, make_video

from live_explain.errors import SourceError
from live_explain.io import source as sources
from live_explain.io.images import natural_key, to_bgr_uint8
from live_explain.io.recognise import open_source
from live_explain.io.source import FrameSource, ReadFailure, SourceState
from live_explain.io.synthetic_source import SyntheticSource


def source_threads():
    return [t for t in threading.enumerate() if t.name.startswith("live-explain-source")]


def test_real_clip_decodes_every_frame_in_order(clip):
    source = open_source(clip)
    assert source.policy.value == "lossless"
    with source:
        frames = list(source)
    assert len(frames) == CLIP_FRAMES
    assert [f.index for f in frames] == list(range(CLIP_FRAMES))
    pts = [f.pts_ms for f in frames]
    assert all(b > a for a, b in itertools.pairwise(pts))
    assert pts[1] - pts[0] == pytest.approx(40.0, abs=1.0)  # 25 fps
    assert frames[0].image.shape == (540, 960, 3) and frames[0].image.dtype == np.uint8
    assert source.fps == pytest.approx(25.0)
    assert source.state is SourceState.ENDED
    assert not source_threads()


def _consume_slowly(source, n, delay):
    got = []
    with source:
        for _ in range(n):
            frame = source.read(timeout=5)
            if frame is None:
                break
            got.append(frame.index)
            time.sleep(delay)
    return got


def test_latest_drops_and_lossless_does_not_under_slow_consumer(clip):
    latest = open_source(clip, policy="latest")
    got_latest = _consume_slowly(latest, 15, 0.05)
    assert latest.frames_dropped > 0
    assert any(b - a > 1 for a, b in itertools.pairwise(got_latest))

    lossless = open_source(clip, policy="lossless")
    got_lossless = _consume_slowly(lossless, 15, 0.05)
    assert lossless.frames_dropped == 0
    assert got_lossless == list(range(15))
    assert not source_threads(), "close() must join the producer thread"


def test_close_releases_capture_when_opening_failed(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    source = open_source(bad)
    with pytest.raises(SourceError, match="not a readable video"):
        source.start()
    assert source._cap is None
    assert not source_threads()
    source.close()  # a second close is harmless


def test_time_range_and_truncation_warning(tmp_path, caplog):
    video = make_video(tmp_path / "v.mp4", frames=40, fps=10, options={"movflags": "faststart"})
    with open_source(video, start_s=1.0, end_s=2.0) as source:
        frames = list(source)
    assert len(frames) == 10 and frames[0].pts_ms == pytest.approx(0.0)

    data = video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    with caplog.at_level(logging.WARNING, logger="live_explain"), open_source(cut) as source:
        frames = list(source)
    assert 0 < len(frames) < 40
    assert f"decoded {len(frames)} of 40 frames" in caplog.text


def test_folder_natural_order_skips_corrupt_and_normalises(tmp_path, caplog):
    make_image(tmp_path / "frame10.png", value=10)
    make_image(tmp_path / "frame2.png", channels=1, value=2)  # grayscale
    make_image(tmp_path / "frame1.png", channels=4, value=1)  # BGRA
    (tmp_path / "frame3.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    (tmp_path / "notes.txt").write_text("ignored")
    source = open_source(tmp_path, folder_fps=5)
    with caplog.at_level(logging.WARNING, logger="live_explain"), source:
        frames = list(source)
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 2, 10]
    assert all(f.image.shape == (48, 64, 3) for f in frames)
    assert [f.pts_ms for f in frames] == [0.0, 200.0, 600.0]  # listing position / fps
    assert "frame3.jpg: truncated JPEG" in caplog.text


def test_natural_key():
    names = ["f10.png", "f2.png", "F1.png", "f1b.png"]
    assert sorted(names, key=natural_key) == ["F1.png", "f1b.png", "f2.png", "f10.png"]


@pytest.mark.parametrize(
    ("image", "shape"),
    [
        (np.zeros((4, 5), np.uint8), (4, 5, 3)),
        (np.zeros((4, 5, 1), np.uint8), (4, 5, 3)),
        (np.zeros((4, 5, 4), np.uint8), (4, 5, 3)),
        (np.zeros((4, 5, 3), np.uint16), (4, 5, 3)),
        (np.ones((4, 5, 3), np.float32), (4, 5, 3)),
    ],
)
def test_to_bgr_uint8(image, shape):
    out = to_bgr_uint8(image)
    assert out.shape == shape and out.dtype == np.uint8 and out.flags.c_contiguous


def test_bgra_keeps_colour_drops_alpha():
    bgra = np.zeros((2, 2, 4), np.uint8)
    bgra[..., 0], bgra[..., 3] = 200, 7
    assert to_bgr_uint8(bgra)[0, 0].tolist() == [200, 0, 0]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("/no/such/file.mp4", "no such file or folder"),
        ("ftp://example.com/x.mp4", "unsupported URL scheme 'ftp'"),
    ],
)
def test_open_source_errors(spec, message):
    with pytest.raises(SourceError, match=message):
        open_source(spec)


def test_missing_camera_is_a_clear_error():
    source = open_source("57")
    assert source.kind == "camera" and source.policy.value == "latest"
    with pytest.raises(SourceError, match="camera 57 could not be opened"):
        source.start()
    assert not source_threads()


def remux_faststart(src, dst):
    """Copy the clip's packets into an MP4 with its index first: Python's test HTTP server
    has no range requests, so the index must come before the data."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)


@pytest.fixture
def http_server(tmp_path, clip):
    remux_faststart(clip, tmp_path / "clip.mp4")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_url_is_read_through_ffmpeg(http_server):
    source = open_source(f"{http_server}/clip.mp4")
    with source:
        frames = list(source)
    assert source.kind == "stream" and not source.live  # a file served over HTTP
    assert len(frames) == CLIP_FRAMES
    assert frames[-1].image.shape == (540, 960, 3)
    with pytest.raises(SourceError, match="could not connect"):
        open_source(f"{http_server}/missing.mp4").start()


def test_synthetic_source_paced_and_unpaced():
    with SyntheticSource(frames=5, size=(320, 180)) as source:
        frames = list(source)
    assert len(frames) == 5 and frames[0].image.shape == (180, 320, 3)
    live = SyntheticSource(frames=6, fps=20, realtime=True)
    assert live.policy.value == "latest"
    start = time.monotonic()
    with live:
        while live.read(timeout=2) is not None:
            pass
    assert time.monotonic() - start >= 0.2  # 6 frames at 20 fps take at least 0.25 s


class FlakyCapture(FrameSource):
    """A live source over a scripted capture: reads and reopens fail on cue.

    It drives the real reconnect logic of FrameSource; only the device is scripted.
    """

    kind = "flaky"
    live = True

    def __init__(self, script, open_failures, **kwargs):
        super().__init__(**kwargs)
        self.script = list(script)  # per read: "ok" or "fail"
        self.open_failures = open_failures
        self.opens = 0

    def _open(self):
        self.opens += 1
        if self.opens > 1 and self.open_failures > 0:
            self.open_failures -= 1
            raise SourceError("device busy")

    def _read(self):
        if not self.script:
            return None
        if self.script.pop(0) == "fail":
            raise ReadFailure("read failed")
        return np.zeros((4, 4, 3), np.uint8), 0.0


def test_live_source_reconnects_with_backoff(monkeypatch):
    monkeypatch.setattr(sources, "RECONNECT_FIRST_WAIT_S", 0.01)
    states = []
    source = FlakyCapture(["ok", "fail", "ok", "ok"], open_failures=2, on_state=states.append)
    source.buffer = type(source.buffer)("lossless")  # keep every frame for counting
    with source:
        frames = []
        while (frame := source.read(timeout=5)) is not None:
            frames.append(frame)
    assert len(frames) == 3
    assert source.reconnects == 1 and source.opens == 4
    assert states == ["connected", "reconnecting", "connected", "ended"]


def test_live_source_fails_after_retries(monkeypatch):
    monkeypatch.setattr(sources, "RECONNECT_FIRST_WAIT_S", 0.01)
    source = FlakyCapture(["ok", "fail"], open_failures=99)
    with source:
        assert source.read(timeout=5) is not None
        with pytest.raises(SourceError, match="lost and not recovered"):
            source.read(timeout=5)
    assert source.state is SourceState.FAILED
    assert not source_threads()
