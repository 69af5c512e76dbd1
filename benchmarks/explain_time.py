"""The explainer's own split of a frame: median forward and explanation milliseconds
(``timings_ms``), per method, on the same frames.

Usage: python benchmarks/explain_time.py SOURCE [MODEL] [WEIGHTS] [SCORE_THRESH] [TOPK] [FRAMES]
  e.g. python benchmarks/explain_time.py recordings/sample_drive.mp4 demo demo 0.5 20 25
       python benchmarks/explain_time.py ../shared/media/solidWhiteRight.mp4 \\
           fasterrcnn_mobilenet_v3_large_320_fpn none 0 5 25
"""

from __future__ import annotations

import json
import statistics
import sys

import torch

from live_explain.io.recognise import open_source
from live_explain.model.detector import Detector, frame_to_tensor
from live_explain.model.loading import load_model

WARMUP = 5
METHODS = ("gradcam", "gradcam++", "hirescam")


def main(argv: list[str]) -> None:
    source = argv[0]
    model_name = argv[1] if len(argv) > 1 else "demo"
    weights = argv[2] if len(argv) > 2 else "demo"
    score_thresh = float(argv[3]) if len(argv) > 3 else 0.5
    topk = int(argv[4]) if len(argv) > 4 else 20
    frames = int(argv[5]) if len(argv) > 5 else 25
    model = load_model(model_name, weights=weights)
    detector = Detector(model, "cpu", score_thresh, None, topk, method=METHODS[0])
    images = []
    with open_source(source) as feed:
        for frame in feed:
            images.append(frame_to_tensor(frame.image, detector.device))
            if len(images) == frames + WARMUP:
                break
    report = {
        "model": model_name,
        "frames": len(images) - WARMUP,
        "threads": torch.get_num_threads(),
    }
    for method in METHODS:
        explainer = detector.with_settings(method=method).explainer
        forward, explain, maps = [], [], []
        for index, image in enumerate(images):
            result = explainer(image)
            if index >= WARMUP:
                forward.append(result.timings_ms["forward"])
                explain.append(result.timings_ms.get("explain", 0.0))
                maps.append(len(result))
        report[method] = {
            "forward_ms": round(statistics.median(forward), 2),
            "explain_ms": round(statistics.median(explain), 2),
            "maps_per_frame": round(statistics.fmean(maps), 2),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1:])
