"""Shared test helpers: the real media, small videos and images made on the fly, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from live_explain.cli.main import main

REPO = Path(__file__).resolve().parents[1]
MEDIA = REPO.parent / "shared" / "media"
CLIP = MEDIA / "solidWhiteRight.mp4"  # real dashcam: 960x540, 25 fps, 221 frames
CLIP_FRAMES = 221

# Qt tests run without a display.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_collection_modifyitems(config, items):
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def wait_for(predicate, timeout: float = 120.0) -> bool:
    """Poll ``predicate`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="session")
def clip() -> Path:
    if not CLIP.is_file():
        pytest.fail(f"real clip missing: {CLIP} (shared/ must sit beside the checkout)")
    return CLIP


def make_video(
    path: Path,
    frames: int = 20,
    size: tuple[int, int] = (160, 96),
    fps: int = 10,
    options: dict | None = None,
) -> Path:
    """Write a small H.264 video of a moving square; ``options`` go to the muxer."""
    width, height = size
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.gop_size = 5
        for i in range(frames):
            image = np.full((height, width, 3), 40, np.uint8)
            x = (i * 7) % (width - 20)
            cv2.rectangle(image, (x, 20), (x + 20, 40), (0, 0, 255), -1)
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def make_image(path: Path, size=(64, 48), channels: int = 3, value: int = 128) -> Path:
    width, height = size
    shape = (height, width) if channels == 1 else (height, width, channels)
    image = np.full(shape, value, np.uint8)
    assert cv2.imwrite(str(path), image)
    return path


def video_info(path: Path) -> dict:
    """Codec, pixel format, size, frame rate and decoded frame count of a video file."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        info = {
            "codec": stream.codec_context.name,
            "pix_fmt": stream.codec_context.pix_fmt,
            "size": (stream.width, stream.height),
            "fps": float(stream.average_rate),
        }
        info["frames"] = sum(1 for _ in container.decode(video=0))
    return info


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err
        self.err_lines = [line for line in err.splitlines() if line.strip()]


@pytest.fixture
def cli(capsys):
    """Run ``live-explain ARGS...`` in-process; returns exit code and captured output."""

    def run(*args: str) -> CliResult:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def run_cli_process(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """Run the CLI in a child process (for signals, exit codes and real stderr)."""
    return subprocess.run(
        [sys.executable, "-m", "live_explain.cli", *map(str, args)],
        capture_output=True,
        text=True,
        **kwargs,
    )
