"""The synthetic dashcam scenes: determinism, the truth's format and geometry, tracks, classes,
the lighting and weather options, and that every truth box sits on a drawn object."""

from __future__ import annotations

import copy
import itertools

import cv2
import numpy as np
import pytest

from live_explain.synthetic import DrivingScene
from live_explain.synthetic.scene import CAM_H, FOCAL, HORIZON, LABELS

W, H = 640, 360
F = FOCAL * W  # focal length in pixels


def run(seed: int, n: int, keep_every: int = 0, **options) -> tuple[list[dict], list[np.ndarray]]:
    """Truth of ``n`` frames of a scene, and every ``keep_every``-th frame (0: none)."""
    truths, frames = [], []
    for i, (frame, truth) in enumerate(DrivingScene(seed=seed, **options).frames(n)):
        truths.append(truth)
        if keep_every and i % keep_every == 0:
            frames.append(frame)
    return truths, frames


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def inside(box, margin: float = 1.0) -> bool:
    """Whether a box is clear of the frame's edges (so it is not clipped)."""
    x0, y0, x1, y1 = box
    return x0 > margin and y0 > margin and x1 < W - margin and y1 < H - margin


@pytest.fixture(scope="module")
def drive() -> list[dict]:
    """24 s of a daytime drive (seed 3): the truth of 600 frames, shared by several tests."""
    return run(3, 600, lighting="day", weather="clear")[0]


def test_same_seed_gives_identical_frames_and_truth():
    options = {"size": (320, 192), "weather": "rain", "motion_blur": True}  # every random path
    a = list(DrivingScene(seed=7, **options).frames(30))
    b = list(DrivingScene(seed=7, **options).frames(30))
    for (fa, ta), (fb, tb) in zip(a, b, strict=True):
        assert np.array_equal(fa, fb)
        assert np.array_equal(ta["boxes"], tb["boxes"])
        assert ta["labels"] == tb["labels"] and ta["track_ids"] == tb["track_ids"]
    c = list(DrivingScene(seed=8, **options).frames(30))
    assert sum(not np.array_equal(fa, fc) for (fa, _), (fc, _) in zip(a, c, strict=True)) == 30


def test_options_change_the_look_not_the_world():
    """Lighting, weather, blur and noise leave traffic and truth exactly as they are."""
    base, frames = run(4, 60, keep_every=59, lighting="day", weather="clear")
    for options in ({"lighting": "night"}, {"weather": "rain", "motion_blur": True, "noise": 9}):
        other, other_frames = run(4, 60, keep_every=59, **{"lighting": "day", **options})
        for ta, tb in zip(base, other, strict=True):
            assert np.array_equal(ta["boxes"], tb["boxes"]) and ta["track_ids"] == tb["track_ids"]
        assert not np.array_equal(frames[-1], other_frames[-1])


def test_frames_and_truth_have_the_promised_format(drive):
    frames = DrivingScene(seed=1, size=(320, 192)).frames(3)
    for frame, truth in frames:
        assert frame.shape == (192, 320, 3) and frame.dtype == np.uint8
        assert frame.flags.c_contiguous
        assert truth["boxes"].dtype == np.float32 and truth["boxes"].shape[1:] == (4,)
    for truth in drive:
        m = len(truth["labels"])
        assert truth["boxes"].shape == (m, 4)
        assert len(truth["track_ids"]) == len(truth["occlusion"]) == len(truth["distance"]) == m
        assert all(isinstance(t, int) for t in truth["track_ids"])
        assert set(truth["labels"]) <= set(LABELS)
        assert len(set(truth["track_ids"])) == m  # an id once per frame
        assert truth["lighting"] == "day" and truth["weather"] == "clear"


def test_frames_runs_n_frames_or_forever():
    scene = DrivingScene(seed=2, size=(160, 96))
    assert len(list(scene.frames(4))) == 4
    endless = scene.frames()  # n=None never stops
    assert len(list(itertools.islice(endless, 50))) == 50


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="lighting"):
        DrivingScene(lighting="noon")
    with pytest.raises(ValueError, match="weather"):
        DrivingScene(weather="snow")
    with pytest.raises(ValueError, match="size"):
        DrivingScene(size=(16, 9))


def test_boxes_lie_in_the_frame_and_are_big_enough(drive):
    boxes = np.concatenate([t["boxes"] for t in drive])
    assert len(boxes) > 1000
    x0, y0, x1, y1 = boxes.T
    assert (x0 >= 0).all() and (y0 >= 0).all() and (x1 <= W).all() and (y1 <= H).all()
    assert (x1 > x0).all() and (y1 > y0).all()
    assert (y1 - y0 >= 6.0).all()  # smaller objects are left out
    occlusion = np.concatenate([t["occlusion"] for t in drive])
    assert occlusion.max() <= 0.7  # more hidden than that: left out
    assert (occlusion > 0.2).sum() > 50  # partly hidden objects are kept, with their whole box
    difficult = np.concatenate([t["difficult"] for t in drive]).astype(bool)
    assert np.array_equal(difficult, (y1 - y0 < 12.0) | (occlusion > 0.5))
    assert 0.05 < difficult.mean() < 0.6  # flagged, not dropped: both kinds are common


def test_density_is_realistic(drive):
    counts = np.array([len(t["labels"]) for t in drive])
    assert 2 <= np.median(counts) <= 10
    assert counts.max() <= 25


def test_track_ids_follow_the_same_object(drive):
    ious = []
    for prev, cur in itertools.pairwise(drive):
        before = dict(zip(prev["track_ids"], prev["boxes"], strict=True))
        for track_id, box in zip(cur["track_ids"], cur["boxes"], strict=True):
            if track_id in before:
                ious.append(iou(before[track_id], box))
    ious = np.array(ious)
    assert len(ious) > 1000
    assert np.median(ious) > 0.85
    assert (ious > 0.5).mean() > 0.95


@pytest.mark.parametrize("seed", [3, 8])
def test_every_class_shows_within_600_frames(seed, drive):
    truths = drive if seed == 3 else run(seed, 600)[0]
    seen = {label for t in truths for label in t["labels"]}
    assert seen == set(LABELS)


def test_objects_grow_as_they_approach(drive):
    tracks: dict[int, list] = {}
    for t in drive:
        for track_id, box, dist in zip(t["track_ids"], t["boxes"], t["distance"], strict=True):
            tracks.setdefault(track_id, []).append((box[3] - box[1], dist))
    growing = [
        track
        for track in tracks.values()
        if len(track) > 20 and track[-1][0] > 2 * track[0][0] and track[-1][1] < track[0][1] / 2
    ]
    assert len(growing) >= 3


def test_perspective_is_consistent(drive):
    """Size is inversely proportional to distance and boxes stand on the road."""
    heights, bottoms = [], []
    for t in drive:
        for box, label, dist, occ in zip(
            t["boxes"], t["labels"], t["distance"], t["occlusion"], strict=True
        ):
            if label != "car" or occ > 0 or not inside(box) or dist < 6:
                continue
            h = box[3] - box[1]
            heights.append(h * dist / F)  # the car's height in metres
            ground = HORIZON * H + F * CAM_H / dist  # where the road is at that distance
            bottoms.append(abs(box[3] - ground) / h)
    heights, bottoms = np.array(heights), np.array(bottoms)
    assert len(heights) > 200
    assert 1.2 < np.median(heights) < 2.0 and (heights > 2.6).mean() < 0.05
    assert np.median(bottoms) < 0.05 and (bottoms > 0.2).mean() < 0.05


def test_truth_boxes_sit_on_drawn_objects():
    """Render a frame, then the same world with the labelled objects taken away: every fully
    visible object changes pixels inside its box, right up to the box's edges."""
    scene = DrivingScene(seed=5, lighting="day", weather="clear", noise=0)
    frame, truth = next(itertools.islice(scene.frames(120), 119, None))
    again = copy.deepcopy(scene)
    assert np.array_equal(again._render()[0], frame)  # rendering depends on the state only
    empty = copy.deepcopy(scene)
    empty._vehicles = [empty._ego]
    empty._oncoming, empty._cross, empty._people = [], [], []
    empty._props = [p for p in empty._props if p.track_id == 0]
    background, nothing = empty._render()
    assert len(nothing["labels"]) == 0
    changed = np.abs(frame.astype(np.int16) - background).max(axis=2) > 10
    checked = 0
    for box, occ in zip(truth["boxes"], truth["occlusion"], strict=True):
        x0, y0, x1, y1 = (round(float(v)) for v in box)
        if occ > 0 or not inside(box, 2) or y1 - y0 < 10:
            continue
        patch = changed[y0 - 1 : y1 + 1, x0 - 1 : x1 + 1]
        assert patch.mean() > 0.15
        rows, cols = np.flatnonzero(patch.any(axis=1)), np.flatnonzero(patch.any(axis=0))
        assert rows[-1] - rows[0] >= (y1 - y0) - 3 and cols[-1] - cols[0] >= (x1 - x0) - 3
        checked += 1
    assert checked >= 3
    # ... and nothing labelled is drawn far from the boxes (only shadows and poles).
    covered = np.zeros_like(changed)
    for x0, y0, x1, y1 in truth["boxes"].round().astype(int):
        covered[max(y0 - 6, 0) : y1 + 12, max(x0 - 6, 0) : x1 + 6] = True
    assert (changed & ~covered).sum() < 0.2 * changed.sum()


def without(scene: DrivingScene, track_id: int) -> DrivingScene:
    """A copy of ``scene`` with one labelled object (and a vehicle's rider) taken out."""
    other = copy.deepcopy(scene)
    other._vehicles = [v for v in other._vehicles if v.track_id != track_id]
    other._oncoming = [v for v in other._oncoming if v.track_id != track_id]
    other._cross = [v for v in other._cross if v.track_id != track_id]
    other._people = [p for p in other._people if p.track_id != track_id]
    other._props = [p for p in other._props if p.track_id != track_id]
    return other


def test_truth_boxes_are_tight():
    """Taking one object out changes exactly the pixels inside its box: its left, right and
    top edges are where its drawn pixels end."""
    scene = DrivingScene(seed=8, lighting="day", weather="clear", noise=0)
    checked = 0
    for frame, truth in itertools.islice(scene.frames(), 40, 200, 40):
        for box, label, track_id, occ in zip(
            truth["boxes"], truth["labels"], truth["track_ids"], truth["occlusion"], strict=True
        ):
            if label not in ("car", "truck", "bus", "person") or occ > 0 or not inside(box, 3):
                continue
            riders = {v.rider.track_id for v in scene._vehicles if v.rider is not None}
            if box[3] - box[1] < 12 or track_id in riders:  # a rider goes with its bike
                continue
            rest = without(scene, track_id)._render()[0]
            changed = np.abs(frame.astype(np.int16) - rest).max(axis=2) > 30
            assert changed.any(), (label, box)
            x0, y0, x1, y1 = box
            upper = changed[int(y0) : int(y0 + 0.7 * (y1 - y0))]  # no shadow up there
            cols = np.flatnonzero(upper.any(axis=0))
            rows = np.flatnonzero(changed[:, int(x0) : int(np.ceil(x1))].any(axis=1))
            # cv2's anti-aliasing bleeds up to a pixel past an edge: 2.5 px, not 1
            assert abs(cols[0] - x0) <= 2.5 and abs(cols[-1] + 1 - x1) <= 2.5, (label, box)
            assert abs(rows[0] - y0) <= 2.5, (label, box)
            checked += 1
    assert checked >= 5


def lightness(frames: list[np.ndarray]) -> float:
    return float(np.mean([f.mean() for f in frames]))


def test_lighting_changes_brightness_and_lights_show_at_night():
    shots = {
        light: run(6, 40, keep_every=10, lighting=light, weather="clear")
        for light in ("day", "dusk", "night")
    }
    day, dusk, night = (lightness(shots[k][1]) for k in ("day", "dusk", "night"))
    assert night < 0.6 * day and night < dusk < day
    # At night vehicles show their lights: bright red tail lights inside vehicle boxes.
    truths, frames = shots["night"]
    lit = 0
    for frame, truth in zip(frames, truths[::10], strict=True):
        red = (frame[..., 2] > 170) & (frame[..., 2].astype(int) - frame[..., 1] > 80)
        for box, label in zip(truth["boxes"].astype(int), truth["labels"], strict=True):
            if label in ("car", "truck", "bus"):
                lit += bool(red[box[1] : box[3], box[0] : box[2]].any())
    assert lit >= 4


def test_rain_is_darker_and_flatter():
    clear = run(9, 30, keep_every=10, lighting="day", weather="clear", noise=0)[1]
    rain = run(9, 30, keep_every=10, lighting="day", weather="rain", noise=0)[1]
    assert lightness(rain) < lightness(clear) - 5
    assert np.mean([f.std() for f in rain]) < 0.85 * np.mean([f.std() for f in clear])


def test_sensor_noise_option():
    quiet = run(9, 5, keep_every=2, lighting="day", weather="clear", noise=0)[1]
    noisy = run(9, 5, keep_every=2, lighting="day", weather="clear", noise=8)[1]
    default = run(9, 5, keep_every=2, lighting="day", weather="clear")[1]
    for q, n, d in zip(quiet, noisy, default, strict=True):
        diff = n.astype(np.float64) - q
        assert 5.0 < diff.std() < 9.0 and abs(diff.mean()) < 1.0
        assert 0 < np.abs(d.astype(np.int16) - q).mean() < 3  # a little noise by default


def test_motion_blur_softens_the_image():
    def sharpness(frames):
        grey = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
        return np.mean([cv2.Laplacian(g, cv2.CV_64F).var() for g in grey])

    sharp = run(9, 30, keep_every=10, lighting="day", weather="clear", noise=0)[1]
    blurred = run(9, 30, keep_every=10, lighting="day", weather="clear", noise=0, motion_blur=True)
    assert sharpness(blurred[1]) < 0.5 * sharpness(sharp)
