"""Monitoring signals and events on hand-made maps and detection sequences."""

import numpy as np
import pytest

from live_explain.model.detector import Detections
from live_explain.monitor.buckets import depth_region, horizontal_region, lighting_bucket
from live_explain.monitor.events import EventDetector, Thresholds
from live_explain.monitor.signals import detection_signals, frame_signals

H, W = 60, 100


def blob(x: int, y: int, radius: int = 4) -> np.ndarray:
    """A map with a square of energy centred at (x, y)."""
    heat = np.zeros((H, W), np.float32)
    heat[max(0, y - radius) : y + radius, max(0, x - radius) : x + radius] = 1.0
    return heat


def detections(boxes, maps=None, names=None, scores=None, tracks=None) -> Detections:
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    k = len(boxes)
    names = names or ["car"] * k
    return Detections(
        boxes=boxes,
        labels=np.full(k, 3, np.int64),
        scores=np.asarray(scores if scores is not None else [0.9] * k, np.float32),
        names=list(names),
        heatmaps=None if maps is None else np.stack(maps).astype(np.float32),
        track_ids=None if tracks is None else np.asarray(tracks, np.int64),
    )


def test_map_inside_its_box_hits_and_has_all_its_energy_there():
    signals = detection_signals(blob(30, 30), (20, 20, 40, 40))
    assert signals.attention_in_box == pytest.approx(1.0)
    assert signals.pointing_hit is True and signals.peak_xy == (26, 26)


def test_map_beside_its_box_misses():
    signals = detection_signals(blob(80, 30), (20, 20, 40, 40))
    assert signals.attention_in_box == pytest.approx(0.0)
    assert signals.pointing_hit is False and signals.peak_xy == (76, 26)


def test_energy_split_between_box_and_context():
    heat = blob(30, 30) + blob(80, 30)  # two equal squares, one in the box
    assert detection_signals(heat, (20, 20, 40, 40)).attention_in_box == pytest.approx(0.5)


def test_all_zero_map_is_empty_with_no_signals():
    signals = detection_signals(np.zeros((H, W), np.float32), (20, 20, 40, 40))
    assert signals.empty and signals.attention_in_box is None and signals.pointing_hit is None


def test_frame_signal_is_the_merged_energy_outside_every_box():
    dets = detections([(20, 20, 40, 40), (60, 20, 75, 40)], [blob(30, 30), blob(90, 30)])
    signals = frame_signals(dets)
    # merged = max of both: one square inside the first box, one right of the second box
    assert signals.outside_attention == pytest.approx(0.5)
    assert [s.pointing_hit for s in signals.detections] == [True, False]


def test_no_maps_give_no_signals_and_no_map_events():
    dets = detections([(20, 20, 40, 40)])
    signals = frame_signals(dets)
    assert signals.outside_attention is None and signals.detections[0].attention_in_box is None
    assert EventDetector().update(0, dets, signals) == []


def run(sequence, thresholds=None):
    """Events of each frame of ``sequence`` (a list of Detections)."""
    events = EventDetector(thresholds)
    return [events.update(i, d, frame_signals(d)) for i, d in enumerate(sequence)]


def kinds(frames_events):
    return [[e.kind for e in events] for events in frames_events]


def test_attention_outside_box_uses_the_threshold():
    dets = detections([(20, 20, 40, 40)], [blob(30, 30) + blob(80, 30) + blob(80, 50)])
    [[event]] = run([dets])  # a third of the map in the box: below 0.5
    assert event.kind == "attention_outside_box" and event.value == pytest.approx(1 / 3)
    assert event.detection == 0 and event.track_id is None
    assert run([dets], Thresholds(attention_in_box=0.3)) == [[]]


def test_empty_map_raises_empty_explanation_without_tracks():
    dets = detections([(20, 20, 40, 40)], [np.zeros((H, W), np.float32)])
    assert kinds(run([dets])) == [["empty_explanation"]]


def test_class_flip_of_a_track():
    box, good = (20, 20, 40, 40), [blob(30, 30)]
    sequence = [
        detections([box], good, names=["car"], tracks=[7]),
        detections([box], good, names=["car"], tracks=[7]),
        detections([box], good, names=["truck"], tracks=[7]),
    ]
    result = run(sequence)
    assert kinds(result) == [[], [], ["class_flip"]]
    assert result[2][0].track_id == 7 and result[2][0].detail == "car -> truck"


def test_flicker_when_a_tracks_map_jumps():
    box = (20, 20, 60, 50)
    sequence = [
        detections([box], [blob(30, 30) + blob(50, 40)], tracks=[1]),
        detections([box], [blob(31, 30) + blob(50, 40)], tracks=[1]),  # moved a pixel
        detections([box], [blob(50, 25) + blob(30, 45)], tracks=[1]),  # jumped
    ]
    result = run(sequence)
    assert kinds(result) == [[], [], ["flicker"]]
    assert result[2][0].value > 0.9


def test_dropout_when_a_track_returns_within_the_gap():
    box, good = (20, 20, 40, 40), [blob(30, 30)]
    seen, gone = detections([box], good, tracks=[3]), detections([], None, tracks=[])
    result = run([seen, gone, gone, seen, gone, gone, gone, seen], Thresholds(dropout_gap=2))
    assert kinds(result) == [[], [], [], ["dropout"], [], [], [], []]  # 3 missing: a new track
    assert result[3][0].value == 2


def test_low_confidence_persistent_once_per_run():
    box, good = (20, 20, 40, 40), [blob(30, 30)]
    scores = [0.55] * 5 + [0.9] + [0.55] * 3
    sequence = [detections([box], good, scores=[s], tracks=[2]) for s in scores]
    result = run(sequence, Thresholds(low_score=0.6, low_score_frames=3))
    flagged = [i for i, events in enumerate(result) if events]
    assert flagged == [2, 8] and result[2][0].kind == "low_confidence_persistent"


def test_untracked_rows_raise_no_track_events():
    box = (20, 20, 40, 40)
    sequence = [
        detections([box], [blob(30, 30)], names=["car"]),
        detections([box], [blob(30, 30)], names=["truck"]),
    ]
    assert kinds(run(sequence)) == [[], []]


def test_reset_forgets_tracks():
    box, good = (20, 20, 40, 40), [blob(30, 30)]
    events = EventDetector()
    first = detections([box], good, names=["car"], tracks=[1])
    events.update(0, first, frame_signals(first))
    events.reset()
    flipped = detections([box], good, names=["bus"], tracks=[1])
    assert events.update(1, flipped, frame_signals(flipped)) == []


def test_buckets():
    assert [horizontal_region((x, 0, x + 10, 10), 300) for x in (5, 140, 280)] == [
        "left",
        "centre",
        "right",
    ]
    assert depth_region((0, 0, 10, 70), 100) == "near"
    assert depth_region((0, 0, 10, 50), 100) == "far"
    assert [lighting_bucket(b) for b in (30, 70, 120)] == ["night", "dusk", "day"]


def test_lighting_buckets_match_the_synthetic_scenes_lighting():
    from live_explain.monitor.buckets import frame_brightness
    from live_explain.synthetic import DrivingScene

    for lighting in ("day", "dusk", "night"):
        for seed in (11, 12):
            [(image, truth)] = DrivingScene(seed, (320, 180), lighting=lighting).frames(1)
            assert lighting_bucket(frame_brightness(image)) == truth["lighting"], (lighting, seed)


def test_a_map_moving_with_its_box_is_no_flicker():
    sequence = [
        detections([(10 + 6 * i, 20, 24 + 6 * i, 34)], [blob(17 + 6 * i, 27, 3)], tracks=[4])
        for i in range(8)
    ]
    assert kinds(run(sequence)) == [[]] * 8
