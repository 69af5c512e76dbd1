"""YOLO speed, in one run on the same frames: detection alone, detection with a map for each of
10 detections (live-explain), and Ultralytics' own ``visualize`` heatmaps (one merged LayerCAM
map per image, one backward per prediction, up to 16).

``explain_10``: maps at the frame's size (the Python API's ``Detector``);
``explain_10_engine_maps``:
maps within 480 px on their long side, as ``export`` and the app form them.

yolov8n at 640 px (the real clip's 960x540 frames letterboxed to 640x384), random weights
redrawn so that detections' scores differ (``tests/yolo_weights.py``), torch on ``--threads``
CPU threads (2: the figure the issue asks for). Prints one JSON object.

    python benchmarks/yolo_speed.py [--model yolov8n] [--frames 20] [--threads 2] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import torch

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "media" / "solidWhiteRight.mp4"
sys.path.insert(0, str(ROOT / "tests"))  # the redrawn random weights the tests use

from yolo_weights import redraw  # noqa: E402

from live_explain.explain.align import map_size_within  # noqa: E402
from live_explain.model.detector import Detector, frame_to_tensor  # noqa: E402
from live_explain.model.loading import load_model  # noqa: E402
from live_explain.realtime.pipeline import MAP_SIDE  # noqa: E402


def frames_of(clip: Path, count: int) -> list:
    capture = cv2.VideoCapture(str(clip))
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def per_frame_ms(run, frames: list, warmup: int = 2) -> dict:
    for frame in frames[:warmup]:
        run(frame)
    times = []
    for frame in frames:
        t0 = time.perf_counter()
        run(frame)
        times.append((time.perf_counter() - t0) * 1000.0)
    median, mean = statistics.median(times), statistics.fmean(times)
    return {"median_ms": round(median, 1), "mean_ms": round(mean, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="yolov8n")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--clip", type=Path, default=CLIP)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    frames = frames_of(args.clip, args.frames)
    model = load_model(args.model, "none")
    redraw(model)
    detect = Detector(model, args.device, method="none", score_thresh=0.0, topk=10)
    explain = Detector(model, args.device, method="gradcam", score_thresh=0.0, topk=10)
    kept = len(explain(frames[0]))
    device = explain.device
    map_size = map_size_within(frames[0].shape[:2], MAP_SIDE)

    def engine_maps(frame):  # maps as export and the app form them: within MAP_SIDE px
        return explain.explainer.forward(frame_to_tensor(frame, device), map_size).result()

    results = {
        "model": args.model,
        "device": args.device,
        "threads": args.threads,
        "frames": len(frames),
        "frame_size": list(frames[0].shape[1::-1]),
        "detections_explained": kept,
        "detect": per_frame_ms(detect, frames),
        "explain_10": per_frame_ms(explain, frames),  # maps at the frame's own size
        "explain_10_engine_maps": per_frame_ms(engine_maps, frames),
        "engine_map_size": list(map_size[::-1]),
    }
    from ultralytics import YOLO

    yolo = YOLO(f"{args.model}.yaml")
    yolo.model = model.ultralytics_model  # the same redrawn weights
    with tempfile.TemporaryDirectory() as scratch:
        common = dict(imgsz=640, device=args.device, verbose=False, project=scratch, conf=0.25)
        results["ultralytics_detect"] = per_frame_ms(
            lambda f: yolo.predict(f, save=False, **common), frames
        )
        results["ultralytics_visualize"] = per_frame_ms(
            lambda f: yolo.predict(f, visualize=True, **common), frames
        )
    ours, theirs = results["explain_10"]["median_ms"], results["detect"]["median_ms"]
    results["explain_over_detect"] = round(ours / theirs, 2)
    engine = results["explain_10_engine_maps"]["median_ms"]
    results["engine_explain_over_detect"] = round(engine / theirs, 2)
    results["visualize_over_explain"] = round(
        results["ultralytics_visualize"]["median_ms"] / ours, 2
    )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
