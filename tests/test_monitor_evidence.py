"""Known truth: a detector whose evidence is moved off the object raises attention_outside_box.

The case is built from real parts: the bundled demo detector with HiResCAM (whose maps sit
mostly on the objects: median attention_in_box about 0.6 on synthetic day scenes) on
synthetic frames whose true boxes are known. The "moved" variant returns the very same
detections with every map rolled half a frame across and down, so the evidence of each
detection lies where its object is not.
"""

import dataclasses

import numpy as np
import pytest

from live_explain.io.frame import Frame
from live_explain.model.detector import Detections, Detector
from live_explain.model.loading import load_model
from live_explain.monitor.frame_monitor import FrameMonitor
from live_explain.monitor.metrics import box_iou
from live_explain.realtime.results import FrameResult
from live_explain.synthetic import DrivingScene

FRAMES = 5


def evidence_moved_off(detections: Detections) -> Detections:
    height, width = detections.heatmaps.shape[1:]
    moved = np.roll(detections.heatmaps, (height // 2, width // 2), axis=(1, 2))
    return dataclasses.replace(detections, heatmaps=moved)


@pytest.fixture(scope="module")
def drive():
    """(frame index, image, detections, truth) of a synthetic day drive."""
    detector = Detector(load_model("demo"), "cpu", 0.5, None, 10, method="hirescam")
    scene = DrivingScene(seed=3, size=(640, 360), lighting="day")
    frames = enumerate(scene.frames(FRAMES))
    return [(i, image, detector(image), truth) for i, (image, truth) in frames]


def on_true_objects(detections: Detections, truth: dict) -> np.ndarray:
    """Rows that overlap a true box of their class with IoU >= 0.5."""
    if not len(detections) or not len(truth["boxes"]):
        return np.zeros(len(detections), bool)
    iou = box_iou(detections.boxes, truth["boxes"])
    same = np.array([[n == t for t in truth["labels"]] for n in detections.names])
    return (np.where(same, iou, 0.0) >= 0.5).any(axis=1)


def outside_box_rate(drive, transform=lambda d: d) -> tuple[float, float, int]:
    """Share of true-object detections flagged attention_outside_box, their mean
    attention_in_box, and how many there were."""
    monitor = FrameMonitor()
    flagged, shares = [], []
    for index, image, detections, truth in drive:
        detections = transform(detections)
        result = FrameResult(Frame(index, index * 40.0, image), detections, image, {})
        checked = monitor(result)
        outside = {e.detection for e in checked.events if e.kind == "attention_outside_box"}
        for row in np.flatnonzero(on_true_objects(detections, truth)):
            flagged.append(row in outside)
            shares.append(checked.signals.detections[row].attention_in_box)
    return float(np.mean(flagged)), float(np.mean(shares)), len(flagged)


def test_evidence_off_the_object_raises_attention_outside_box(drive):
    normal_rate, normal_share, count = outside_box_rate(drive)
    moved_rate, moved_share, _ = outside_box_rate(drive, evidence_moved_off)
    assert count >= 10, "too few detections on true objects to judge"
    assert moved_rate >= 0.9 and moved_share < 0.15
    assert normal_rate <= moved_rate - 0.3 and normal_share > moved_share + 0.3
