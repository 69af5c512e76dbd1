"""Hand-made drives for the monitoring tests: synthetic frames with their true boxes, classes
and track ids as the detections, and maps whose placement the test chooses."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from live_explain.io.frame import Frame
from live_explain.model.detector import Detections
from live_explain.monitor.events import Thresholds
from live_explain.monitor.sink import DriveInfo, DriveMonitorSink
from live_explain.realtime.results import FrameResult
from live_explain.synthetic import DrivingScene
from live_explain.synthetic.scene.constants import LABELS

FLIP_FRAME, GONE_FRAMES = 6, (8, 9)


def blob_at(box, size: tuple[int, int]) -> np.ndarray:
    """A Gaussian map centred on ``box``, as wide as the box."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    sx, sy = max((box[2] - box[0]) / 4, 1.0), max((box[3] - box[1]) / 4, 1.0)
    heat = np.exp(-(((xs - cx) / sx) ** 2 + ((ys - cy) / sy) ** 2) / 2)
    return (heat / heat.max()).astype(np.float32)


def flipped(name: str) -> str:
    return "truck" if name != "truck" else "car"


def truth_results(frames: int = 12, seed: int = 5, lighting: str = "dusk"):
    """FrameResults whose detections are the scene's truth, each with a map on its object;
    the first object's track flips class at FLIP_FRAME and is missing in GONE_FRAMES."""
    scene = DrivingScene(seed, (320, 180), lighting=lighting)
    first = None
    for index, (image, truth) in enumerate(scene.frames(frames)):
        boxes = np.asarray(truth["boxes"], np.float32).reshape(-1, 4)
        names = list(truth["labels"])
        tracks = np.asarray(truth["track_ids"], np.int64)
        if first is None and len(tracks):
            first = int(tracks[0])
        keep = np.ones(len(tracks), bool)
        if index in GONE_FRAMES:
            keep &= tracks != first
        if index >= FLIP_FRAME:
            names = [flipped(n) if t == first else n for t, n in zip(tracks, names, strict=True)]
        boxes, tracks = boxes[keep], tracks[keep]
        names = [n for n, k in zip(names, keep, strict=True) if k]
        maps = [blob_at(box, (320, 180)) for box in boxes]
        detections = Detections(
            boxes=boxes,
            labels=np.asarray([LABELS.index(n) + 1 for n in names], np.int64),
            scores=np.linspace(0.95, 0.7, len(boxes)).astype(np.float32),
            names=names,
            heatmaps=np.stack(maps) if maps else np.zeros((0, 180, 320), np.float32),
            track_ids=tracks,
            refreshed=np.ones(len(boxes), bool),
        )
        frame = Frame(index, index * 40.0, image)
        yield FrameResult(frame, detections, image.copy(), {"detect": 1.0}, latency_ms=5.0)


def write_truth_drive(folder: Path, name: str = "truth", **kwargs) -> Path:
    """Log (and report) a hand-made drive through the export's sink; returns the log path."""
    log = folder / f"{name}.jsonl"
    drive = DriveInfo("synthetic truth", "synthetic", 25.0, None, {"method": "hand-made"})
    sink = DriveMonitorSink(drive, Thresholds(), log_path=log, report_path=folder / f"{name}.html")
    for result in truth_results(**kwargs):
        sink.write(result)
    sink.close()
    return log
