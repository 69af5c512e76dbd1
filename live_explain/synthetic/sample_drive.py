"""Render the bundled sample drive: ``python -m live_explain.synthetic.sample_drive``.

A deterministic 20 s synthetic drive at 640x360, 25 fps, H.264, written to
``recordings/sample_drive.mp4`` with its ground truth beside it (``sample_drive.json``:
per frame, the boxes, labels and track ids of the visible objects).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from live_explain.sinks.video import H264Writer, write_json_atomic
from live_explain.synthetic import DrivingScene
from live_explain.synthetic.demo_model import INPUT_SIZE

SAMPLE_SEED = 2024  # outside the training seeds
FPS = 25
SECONDS = 20


def find_sample_drive() -> Path | None:
    """The bundled sample drive where it is: ``recordings/`` of this folder, or of the
    checkout the package runs from (``None`` when neither has it)."""
    for folder in (Path.cwd(), Path(__file__).resolve().parents[2]):
        path = folder / "recordings" / "sample_drive.mp4"
        if path.is_file():
            return path
    return None


def write_synthetic_drive(out: Path, seed: int, frames: int, fps: float = FPS) -> Path:
    """A drive of ``frames`` frames of the synthetic scene as H.264 at the demo detector's
    size, without ground truth: the short drives of tests and benchmarks."""
    writer = H264Writer(out, fps)
    try:
        for image, _truth in DrivingScene(seed=seed, size=INPUT_SIZE).frames(frames):
            writer.write(image)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    return out


def render(out: Path, seed: int = SAMPLE_SEED, seconds: float = SECONDS) -> Path:
    frames = round(seconds * FPS)
    truth_per_frame = []
    writer = H264Writer(out, FPS, crf=26, preset="slow")
    try:
        for index, (image, truth) in enumerate(
            DrivingScene(seed=seed, size=INPUT_SIZE).frames(frames)
        ):
            writer.write(image)
            truth_per_frame.append(
                {
                    "frame": index,
                    "boxes": np.round(np.asarray(truth["boxes"]), 1).tolist(),
                    "labels": list(truth["labels"]),
                    "track_ids": [int(t) for t in truth["track_ids"]],
                }
            )
    except BaseException:
        writer.abort()
        raise
    writer.close()
    write_json_atomic(
        out.with_suffix(".json"),
        {"seed": seed, "fps": FPS, "size": list(INPUT_SIZE), "frames": truth_per_frame},
    )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m live_explain.synthetic.sample_drive")
    parser.add_argument("-o", "--out", type=Path, default=Path("recordings/sample_drive.mp4"))
    parser.add_argument("--seed", type=int, default=SAMPLE_SEED)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    args = parser.parse_args(argv)
    path = render(args.out, args.seed, args.seconds)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.2f} MB) and {path.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
