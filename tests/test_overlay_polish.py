"""Label placement and replay ids, in the library (the window and export both use them)."""

from __future__ import annotations

import json

import cv2
import numpy as np
from conftest import REPO

from live_explain.model.detector import Detections
from live_explain.realtime.track_memory import TrackMemory
from live_explain.realtime.tracking import IoUTracker
from live_explain.render.label_layout import overlap, place_labels
from live_explain.render.overlay import draw_detections


def crowded_truth():
    """Frame 50 of the bundled sample drive: twelve road users, most of them small."""
    frames = json.loads((REPO / "recordings" / "sample_drive.json").read_text())["frames"]
    truth = frames[49]
    return np.array(truth["boxes"], np.float64), truth["labels"], truth["track_ids"]


def label_sizes(names, ids, scale=0.4):
    sizes = []
    for name, track in zip(names, ids, strict=True):
        (tw, th), base = cv2.getTextSize(
            f"{name} #{track} 0.87", cv2.FONT_HERSHEY_SIMPLEX, scale, 1
        )
        sizes.append((tw + 4, th + base + 4))
    return sizes


def overlaps(rects) -> int:
    return sum(overlap(a, b) > 0 for i, a in enumerate(rects) for b in rects[i + 1 :])


def test_labels_of_a_crowded_frame_overlap_nothing_where_naive_ones_pile_up():
    boxes, names, ids = crowded_truth()
    for factor in (1.0, 1.6, 3.0):  # the frame's pixels, and two window sizes
        scaled = boxes * factor
        sizes = label_sizes(names, ids, 0.4 * factor)
        naive = [(b[0], b[1] - h, b[0] + w, b[1]) for b, (w, h) in zip(scaled, sizes, strict=True)]
        assert overlaps(naive) >= 3  # the case is hard: labels above each box pile up
        spots = place_labels(scaled, sizes, (640 * factor, 360 * factor), np.arange(12)[::-1])
        rects = [s.rect for s in spots]
        assert overlaps(rects) == 0
        area = (scaled[:, 2] - scaled[:, 0]) * (scaled[:, 3] - scaled[:, 1])
        for row in np.flatnonzero(area < 4 * np.array([w * h for w, h in sizes])):
            assert all(overlap(r, tuple(scaled[row])) == 0 for r in rects)  # small boxes clear
        for x0, y0, x1, y1 in rects:
            assert x0 >= 0 and x1 <= 640 * factor and y0 >= 0 and y1 <= 360 * factor
        assert any(s.detached for s in spots) and not all(s.detached for s in spots)


def test_export_burns_in_the_same_placement_and_keeps_every_label_whole():
    boxes, names, ids = crowded_truth()
    count = len(boxes)
    image = np.full((360, 640, 3), 90, np.uint8)
    dets = Detections(
        boxes=boxes.astype(np.float32),
        labels=np.arange(count) % 8 + 1,
        scores=np.linspace(0.95, 0.5, count).astype(np.float32),
        names=names,
        track_ids=np.array(ids),
    )
    drawn = draw_detections(image, dets)
    assert not np.array_equal(drawn, image)
    edge = Detections(  # at the frame's edge the label moves in, id and score kept
        boxes=np.array([[600, 0, 640, 30]], np.float32),
        labels=np.array([13]),
        scores=np.array([0.9], np.float32),
        names=["stop sign"],
        track_ids=np.array([7]),
    )
    (width, _), _ = cv2.getTextSize("stop sign #7 0.90", cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
    spot = place_labels(edge.boxes, [(width + 4, 16)], (640, 360))[0]
    assert spot.rect[2] <= 640 and spot.rect[0] >= 0 and spot.rect[2] - spot.rect[0] == width + 4


def test_track_memory_gives_revisited_frames_their_old_ids():
    rng = np.random.default_rng(0)
    tracker, memory = IoUTracker(), TrackMemory()
    start = rng.uniform(0, 300, (4, 2))
    path = [np.hstack([start + 3 * f, start + 3 * f + 40]) for f in range(8)]
    labels = np.array([1, 2, 3, 1])
    first = {
        f: memory.relabel(f, path[f], labels, tracker.update(path[f], labels, labels))
        for f in range(8)
    }
    assert len(set(first[7].tolist())) == 4
    tracker.reset()  # a seek back: the tracker starts over with new ids
    memory.tracker_reset()
    raw = tracker.update(path[3], labels, labels)
    assert set(raw.tolist()).isdisjoint(first[3].tolist())  # without the memory: renumbered
    assert memory.relabel(3, path[3], labels, raw).tolist() == first[3].tolist()
    for f in range(4, 8):  # playing on through what was seen keeps the ids
        ids = memory.relabel(f, path[f], labels, tracker.update(path[f], labels, labels))
        assert ids.tolist() == first[f].tolist()
    new_box = np.array([[500.0, 300.0, 540.0, 340.0]])  # a new object: a new id, above the rest
    more = np.vstack([path[7] + 3, new_box])
    ids = memory.relabel(
        8, more, np.append(labels, 4), tracker.update(more, np.append(labels, 4), np.ones(5))
    )
    assert ids[:4].tolist() == first[7].tolist() and ids[4] > max(first[7])


def test_cold_areas_leave_the_frame_as_it_is_and_hot_ones_take_the_colour():
    from live_explain.render.overlay import HEAT_FULL, blend_heat, colormap_colours

    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    heat = np.zeros((60, 80), np.float32)
    heat[:, 40:] = np.linspace(0.0, 1.0, 40, dtype=np.float32)[None, :]
    for colormap in ("turbo", "inferno", "jet"):
        drawn = blend_heat(image, heat, colormap, 1.0)  # at 100 % opacity
        assert np.array_equal(drawn[:, :40], image[:, :40])  # cold: the frame untouched
        hot = heat >= HEAT_FULL
        colour = colormap_colours(colormap)[(heat[hot] * 255 + 0.5).astype(int)]
        assert np.abs(drawn[hot].astype(int) - colour).max() <= 1  # hot: the colour itself
        warm = (heat > 0.1) & (heat < HEAT_FULL - 0.1)
        assert np.abs(drawn[warm].astype(int) - image[warm]).mean() > 0  # in between: fainter
        error_warm = np.abs(
            drawn[warm].astype(int)
            - colormap_colours(colormap)[(heat[warm] * 255 + 0.5).astype(int)]
        ).mean()
        assert error_warm > 5  # not the full colour there


def test_track_memory_keeps_ids_when_a_jump_lands_next_to_a_frame_seen():
    tracker, memory = IoUTracker(), TrackMemory()
    start = np.array([[10.0, 10.0], [200.0, 50.0], [100.0, 200.0]])
    labels = np.array([1, 2, 3])
    path = [np.hstack([start + 4 * f, start + 4 * f + 60]) for f in range(60)]
    for f in range(5):  # played from the start
        memory.relabel(f, path[f], labels, tracker.update(path[f], labels, labels))
    tracker.reset()  # a seek to frame 49, never seen: new ids
    memory.tracker_reset()
    at_49 = memory.relabel(49, path[49], labels, tracker.update(path[49], labels, labels))
    tracker.reset()  # one step back to 48, never seen either: the objects of 49 are there
    memory.tracker_reset()
    at_48 = memory.relabel(48, path[48], labels, tracker.update(path[48], labels, labels))
    assert at_48.tolist() == at_49.tolist()
    tracker.reset()  # far from every frame seen: new ids, not borrowed ones
    memory.tracker_reset()
    far = memory.relabel(30, path[30], labels, tracker.update(path[30], labels, labels))
    assert set(far.tolist()).isdisjoint(at_49.tolist())
