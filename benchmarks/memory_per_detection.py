"""Peak memory of an export against the number of explained detections a frame.

Each run is its own ``live-explain export`` process (its peak RSS read from ``wait4``), on the
real 960x540 clip and on the same frames upscaled to 1920x1080, with random weights and
``--score-thresh 0`` so that every frame has K detections. Prints one JSON line per run and
the memory per detection (the slope from K=1 to the largest K) per frame size.

    python benchmarks/memory_per_detection.py [--clip PATH] [--topk 1 20 100] [--frames 15]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

CLIP = Path(__file__).resolve().parents[2] / "shared" / "media" / "solidWhiteRight.mp4"
CLI = "import sys; from live_explain.cli.main import main; sys.exit(main())"
MODEL = ["--model", "fasterrcnn_mobilenet_v3_large_320_fpn", "--weights", "none"]


def upscaled(clip: Path, frames: int, folder: Path) -> Path:
    """The clip's first ``frames`` frames at 1920x1080 (MJPEG, so no encoder is needed)."""
    out = folder / "clip_1080p.avi"
    capture = cv2.VideoCapture(str(clip))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 25, (1920, 1080))
    for _ in range(frames):
        ok, frame = capture.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, (1920, 1080), interpolation=cv2.INTER_LINEAR))
    writer.release()
    capture.release()
    return out


def peak_mb(command: list[str]) -> float:
    """Peak RSS in MB of ``command`` run as a child process (it must succeed)."""
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    error = child.stderr.read().decode(errors="replace").strip()
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {error.splitlines()[-1:]}")
    return usage.ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=CLIP)
    parser.add_argument("--topk", type=int, nargs="+", default=[1, 20, 100])
    parser.add_argument("--frames", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        inputs = {"960x540": args.clip, "1920x1080": upscaled(args.clip, args.frames, Path(folder))}
        for size, clip in inputs.items():
            peaks = {}
            for k in args.topk:
                output = Path(folder) / f"out_{size}_{k}.mp4"
                command = [sys.executable, "-c", CLI, "export", str(clip)]
                command += ["-o", str(output), "--max-frames", str(args.frames), *MODEL]
                command += ["--score-thresh", "0", "--topk", str(k)]
                peaks[k] = peak_mb(command)
                print(json.dumps({"size": size, "topk": k, "peak_rss_mb": round(peaks[k])}))
            low, high = min(peaks), max(peaks)
            if high > low:
                slope = (peaks[high] - peaks[low]) / (high - low)
                print(json.dumps({"size": size, "mb_per_detection": round(slope, 2)}))


if __name__ == "__main__":
    main()
