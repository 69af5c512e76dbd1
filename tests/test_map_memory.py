"""Memory bounded by design: the engine's maps are at most MAP_SIDE pixels on their long side,
upsampled only where drawn, and what they show and measure matches full-resolution maps."""

from __future__ import annotations

import gc

import cv2
import numpy as np
import pytest
import torch
from process_memory import current_rss_mb, peak_since_reset_mb, reset_peak_rss
from torch.nn import functional as F

from live_explain.explain.align import frame_region, map_size_within
from live_explain.io.frame import Frame
from live_explain.model.detector import Detector
from live_explain.model.loading import load_model
from live_explain.monitor.signals import frame_signals
from live_explain.realtime.pipeline import MAP_SIDE, Pipeline
from live_explain.synthetic import DrivingScene


def clip_frames(clip, count: int, size: tuple[int, int] | None = None) -> list[Frame]:
    capture = cv2.VideoCapture(str(clip))
    frames = []
    for index in range(count):
        ok, image = capture.read()
        assert ok
        if size is not None:
            image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)
        frames.append(Frame(index, index * 40.0, image))
    capture.release()
    return frames


def test_a_frame_region_equals_the_whole_map_upsampled_and_cut():
    torch.manual_seed(0)
    heatmap = torch.rand(27, 48)
    whole = F.interpolate(heatmap[None, None], (540, 960), mode="bilinear", align_corners=False)
    whole = whole[0, 0]
    for bounds in [(0, 0, 960, 540), (10, 20, 11, 21), (300, 100, 612, 377), (900, 500, 960, 540)]:
        x0, y0, x1, y1 = bounds
        region = frame_region(heatmap, (540, 960), bounds)
        assert region.shape == (y1 - y0, x1 - x0)
        assert torch.allclose(region, whole[y0:y1, x0:x1], atol=1e-5)
    # A map at the frame's size is cut, not resampled.
    assert torch.equal(frame_region(whole, (540, 960), (5, 6, 70, 80)), whole[6:80, 5:70])


def test_map_sizes_keep_the_frame_shape_within_the_limit():
    assert map_size_within((540, 960), 480) == (270, 480)
    assert map_size_within((1080, 1920), 480) == (270, 480)
    assert map_size_within((1920, 1080), 480) == (480, 270)
    assert map_size_within((180, 320), 480) == (180, 320)  # small frames keep their size


def scene_frames(count: int, size: tuple[int, int]) -> list[Frame]:
    scene = DrivingScene(seed=7, size=size).frames(count)
    return [Frame(index, index * 40.0, image) for index, (image, _) in enumerate(scene)]


@pytest.fixture(scope="module")
def demo_runs():
    """The demo detector on a 1920x1080 synthetic drive (it finds its road users there): the
    engine's bounded maps and the same run with maps at the frame's size."""
    model = load_model("demo")
    frames = scene_frames(6, (1920, 1080))
    runs = {}
    for side in (MAP_SIDE, None):
        detector = Detector(model, "cpu", 0.3, None, 10, method="gradcam")
        pipeline = Pipeline(None, detector, threaded=False, map_side=side)
        runs[side] = [pipeline.process(frame) for frame in frames]
    return runs


def test_the_engine_hands_out_maps_within_map_side_for_a_large_frame(demo_runs):
    for result in demo_runs[MAP_SIDE]:
        detections = result.detections
        assert detections.frame_size == (1920, 1080)
        assert detections.heatmaps.shape[1:] == (270, 480)
        assert detections.map_scale() == (0.25, 0.25)
    full = demo_runs[None][0].detections
    assert full.heatmaps.shape[1:] == (1080, 1920)


def test_bounded_maps_draw_and_measure_like_full_resolution_maps(demo_runs):
    """Same detections, same tracks; the overlay differs by a level or two where the heat is
    drawn, and the signals agree."""
    bounded, full = demo_runs[MAP_SIDE], demo_runs[None]
    first = full[0].detections
    assert len(first) >= 3  # not degenerate: several detections, with maps that differ
    assert np.abs(first.heatmaps[0] - first.heatmaps[1]).max() > 0.1
    first_shrunk = [cv2.resize(m, (480, 270), interpolation=cv2.INTER_AREA) for m in first.heatmaps]
    assert np.abs(np.stack(first_shrunk) - bounded[0].detections.heatmaps).max() < 1e-2
    for small, large in zip(bounded, full, strict=True):
        a, b = small.detections, large.detections
        assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.track_ids, b.track_ids)
        # Full-resolution maps brought to the bounded grid match the bounded maps.
        shrunk = np.stack(
            [cv2.resize(m, (480, 270), interpolation=cv2.INTER_AREA) for m in b.heatmaps]
        )
        # Fresh maps agree to the last bit of shrinking; a map smoothed with the last one
        # moved with its box differs where the move cut its edge on the coarser grid.
        assert np.abs(shrunk - a.heatmaps).mean() < 2e-3
        difference = np.abs(small.overlay.astype(int) - large.overlay.astype(int))
        assert np.percentile(difference, 99) <= 3 and difference.mean() < 0.5
        sa, sb = frame_signals(a), frame_signals(b)
        assert sa.outside_attention == pytest.approx(sb.outside_attention, abs=0.02)
        for row, (da, db) in enumerate(zip(sa.detections, sb.detections, strict=True)):
            assert da.attention_in_box == pytest.approx(db.attention_in_box, abs=0.02)
            assert da.empty == db.empty
            if da.empty:
                continue
            # The bounded map's peak is a peak of the full map too (a plateau may have two).
            x, y = da.peak_xy
            assert b.heatmaps[row, y, x] > 0.9 * b.heatmaps[row].max()


def test_a_large_frame_with_a_hundred_detections_stays_within_bounded_memory(clip):
    """One 1920x1080 frame, K=100 (random weights, threshold 0): full-resolution maps would
    cost 8 MB each, several times over while they are formed (over 4 GB for the frame); the
    bounded ones cost 0.5 MB."""
    model = load_model("fasterrcnn_mobilenet_v3_large_320_fpn", weights="none")
    detector = Detector(model, "cpu", 0.0, None, 100, method="gradcam")
    pipeline = Pipeline(None, detector, threaded=False)
    frames = clip_frames(clip, 3, (1920, 1080))
    pipeline.process(frames[0])  # warm-up: allocator pools, cached matrices
    gc.collect()
    own_peak = reset_peak_rss()
    start = current_rss_mb()
    counts = [len(pipeline.process(frame).detections) for frame in frames[1:]]
    assert min(counts) == 100  # the case is the one meant: a hundred maps a frame
    if not own_peak:
        pytest.skip("this kernel cannot reset the peak RSS")
    grown = peak_since_reset_mb() - start
    assert grown < 1000, f"one frame of 100 maps grew memory by {grown:.0f} MB"
