"""``live-explain bench``: what explanations cost on top of detection, on the same frames.

Each frame is run twice, detection only (``torch.inference_mode``) and detection + maps
(the explainer), alternating which goes first so that caches and clock changes hit both
alike; the figures are medians over the frames after a short warm-up.
"""

from __future__ import annotations

import dataclasses
import platform
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from live_explain.explain.detection import DetectionExplainer
from live_explain.explain.selection import select_detections
from live_explain.io.source import FrameSource
from live_explain.model.detector import Detector, frame_to_tensor
from live_explain.realtime.map_motion import correlation, warp_map
from live_explain.realtime.pipeline import Pipeline
from live_explain.realtime.refresh_policy import RefreshPolicy
from live_explain.realtime.reuse import MapCache
from live_explain.realtime.scene_cuts import SceneCutDetector
from live_explain.realtime.tracking import IoUTracker
from live_explain.render.overlay import box_pixels
from live_explain.sinks.video import H264Writer

WARMUP_FRAMES = 2
# The pipeline fills its queues, the encoder its lookahead and the allocator its pools first.
PIPELINE_WARMUP_FRAMES = 8


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024


def _detect_and_explain(explainer: DetectionExplainer, image: torch.Tensor):
    """The two things the bench times on ``image``: detection alone (the explainer's own
    selection of detections, no maps) and detection with every kept detection's map."""

    def detect():
        # no_grad, not inference_mode: a model's caches (YOLO's anchors) stay usable by autograd
        with torch.no_grad():  # the family's own input transform and post-processing
            out = explainer.adapter.detect(image).output
            keep = select_detections(
                out["labels"],
                out["scores"],
                explainer.score_thresh,
                explainer.class_ids,
                explainer.topk,
            )
            return out["boxes"][keep].cpu()

    def explain():
        return explainer(image).heatmaps.cpu()

    return detect, explain


def _timed_pair(detect, explain, explain_first: bool, device) -> tuple[float, float, int]:
    """Milliseconds of ``detect()`` and ``explain()`` on one frame, in the order given (the
    order alternates, so that neither always runs on a warm cache), and the maps counted."""
    order = (explain, detect) if explain_first else (detect, explain)
    timings, count = {}, 0
    for step in order:
        _sync(device)
        start = time.perf_counter()
        result = step()
        _sync(device)
        timings[step] = (time.perf_counter() - start) * 1000.0
        if step is explain:
            count = len(result)
    return timings[detect], timings[explain], count


def run_bench(
    source: FrameSource,
    model: nn.Module,
    device: torch.device,
    method: str = "gradcam",
    layer: str | None = None,
    topk: int = 10,
    score_thresh: float = 0.3,
    class_ids: set[int] | None = None,
    max_frames: int = 30,
    model_name: str = "",
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Time detection-only and explained inference on up to ``max_frames`` frames."""
    model = model.to(device).eval()
    explainer = DetectionExplainer(model, method, layer, topk, score_thresh, class_ids)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    detect_ms, explained_ms, counts = [], [], []
    size = None
    source.start()
    try:
        for index in range(max_frames + WARMUP_FRAMES):
            frame = source.read()
            if frame is None:
                break
            size = frame.size
            detect, explain = _detect_and_explain(explainer, frame_to_tensor(frame.image, device))
            detect_time, explain_time, count = _timed_pair(detect, explain, index % 2, device)
            counts.append(count)
            if index >= WARMUP_FRAMES:
                detect_ms.append(detect_time)
                explained_ms.append(explain_time)
                if progress:
                    progress(1)
    finally:
        source.close()
    if not detect_ms:
        return {}
    detect, explained = statistics.median(detect_ms), statistics.median(explained_ms)
    return _bench_record(
        model_name or type(model).__name__,
        device,
        method,
        explainer.layer,
        topk,
        score_thresh,
        size,
        detect_ms,
        counts,
        detect,
        explained,
    )


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, np.float64), q))


def run_pipeline_bench(
    pipeline: Pipeline, fps: float, frames: int, progress: Callable[[int], None] | None = None
) -> dict:
    """End to end through the threaded pipeline, decode to encoded H.264 (to a temporary
    file): frames per second after a warm-up, latency percentiles, share of maps refreshed."""
    latencies, refreshed, maps = [], 0, 0
    started = None
    counted = 0
    with tempfile.TemporaryDirectory() as folder:
        writer = H264Writer(Path(folder) / "bench.mp4", fps)
        try:
            for index, result in enumerate(pipeline.run()):
                writer.write(result.overlay)
                if index + 1 == PIPELINE_WARMUP_FRAMES:
                    started = time.perf_counter()
                if index < PIPELINE_WARMUP_FRAMES:
                    continue
                latencies.append(result.latency_ms + (time.perf_counter() - result.ready_s) * 1e3)
                flags = result.detections.refreshed
                if flags is not None and result.detections.heatmaps is not None:
                    refreshed += int(flags.sum())
                    maps += len(flags)
                counted += 1
                if progress:
                    progress(1)
                if counted >= frames:
                    break
        finally:
            writer.abort()
    if not counted or started is None:
        return {}
    elapsed = time.perf_counter() - started
    return {
        "pipeline_fps": round(counted / elapsed, 2),
        "pipeline_frames": counted,
        "latency_ms_p50": round(_percentile(latencies, 50), 1),
        "latency_ms_p95": round(_percentile(latencies, 95), 1),
        "refreshed_fraction": round(refreshed / maps, 3) if maps else None,
    }


def measure_reuse(
    source: FrameSource,
    detector: Detector,
    policy: RefreshPolicy,
    frames: int,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Fidelity and flicker of reused maps. Every map is computed fresh on every frame, the
    adaptive policy runs alongside, and each map it would reuse (re-formed from kept weights,
    or warped with its box, as its ``reuse`` says) is correlated with the fresh one; the
    warped map's correlation too. Flicker: see :class:`_Flicker`."""
    adaptive = MapCache(dataclasses.replace(policy, mode="adaptive"))
    tracker, cuts = IoUTracker(), SceneCutDetector()
    correlations, warped, flicker = [], [], _Flicker()
    planned = total = 0
    source.start()
    try:
        for index in range(frames):
            frame = source.read()
            if frame is None:
                break
            step = detector.explainer.forward(frame_to_tensor(frame.image, detector.device))
            boxes, labels, scores = (
                t.cpu().numpy() for t in (step.boxes, step.labels, step.scores)
            )
            every = step.explain()  # every map fresh, on the compute device
            fresh = every.maps
            ids = tracker.update(boxes, labels, scores)
            cut = cuts(frame.image)
            rows = adaptive.plan(ids, boxes, labels, scores, index, cut)
            kept_rows = sorted(set(range(len(ids))) - set(rows.tolist()))
            reform_rows, weights = adaptive.reform_request(ids, labels, rows, cut)
            reformed = None
            if reform_rows:
                reformed = dict(zip(reform_rows, step.remap(weights), strict=True))
            kept = adaptive.reused(ids, boxes, kept_rows, reformed)
            found = _compare_kept(adaptive, ids, boxes, kept, fresh)
            correlations, warped = correlations + found[0], warped + found[1]
            shown = _shown_maps(
                adaptive, every, (ids, boxes, labels, scores), rows, index, cut, reformed
            )
            planned += len(rows)
            total += len(ids)
            # the readback for the flicker figures
            flicker.add(ids, boxes, shown.cpu(), fresh.float().cpu())
            if progress:
                progress(1)
    finally:
        source.close()
    mean = statistics.fmean
    return {
        "reuse_correlation": round(mean(correlations), 4) if correlations else None,
        "reuse_correlation_warp": round(mean(warped), 4) if warped else None,
        "reuse_mode": policy.reuse,
        "reused_maps_compared": len(correlations),
        "reuse_refreshed_fraction": round(planned / total, 3) if total else None,
        "flicker_adaptive": flicker.mean(flicker.adaptive),
        "flicker_every_frame": flicker.mean(flicker.fresh),
    }


def _shown_maps(cache: MapCache, every, seen, rows, index: int, cut: bool, reformed):
    """The maps the adaptive policy shows: the fresh maps of the ``rows`` it would refresh
    (taken from ``every``, all maps fresh), composed with the kept ones."""
    ids, boxes, labels, scores = seen
    chosen = torch.as_tensor(rows, device=every.maps.device)
    weights = every.weights
    if weights is not None:
        weights = {key: w[chosen] for key, w in weights.items()}
    shown, _ = cache.compose(
        ids, boxes, labels, scores, rows, every.maps[chosen], index, cut, weights, reformed
    )
    return shown


def _compare_kept(cache: MapCache, ids, boxes, kept: dict, fresh: torch.Tensor):
    """Correlations with the fresh maps of the kept maps (as the policy shows them) and of the
    same tracks' last maps warped with their boxes."""
    shown, warped = [], []
    for row, (reused, _) in kept.items():
        shown.append(correlation(reused, fresh[row]))
        state = cache.tracks[int(ids[row])]
        warped.append(correlation(warp_map(state.heatmap, state.box, boxes[row]), fresh[row]))
    return shown, warped


class _Flicker:
    """Mean absolute change of each track's map from one frame to the next inside its box,
    for the maps shown (adaptive) and the maps computed fresh every frame."""

    def __init__(self) -> None:
        self.adaptive: list[float] = []
        self.fresh: list[float] = []
        self._last: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def add(self, ids, boxes, shown: torch.Tensor, fresh: torch.Tensor) -> None:
        for row, tid in enumerate(ids.tolist()):
            if tid in self._last:
                last_shown, last_fresh = self._last[tid]
                x0, y0, x1, y1 = box_pixels(boxes[row], fresh.shape[-1], fresh.shape[-2])
                change = (shown[row] - last_shown)[y0:y1, x0:x1].abs().mean()
                self.adaptive.append(float(change))
                self.fresh.append(float((fresh[row] - last_fresh)[y0:y1, x0:x1].abs().mean()))
        self._last = {tid: (shown[row], fresh[row]) for row, tid in enumerate(ids.tolist())}

    @staticmethod
    def mean(values: list[float]) -> float | None:
        return round(statistics.fmean(values), 5) if values else None


def _bench_record(
    name, device, method, layer, topk, score_thresh, size, detect_ms, counts, detect, explained
) -> dict:
    """The bench's JSON object (the pipeline and reuse figures are filled in later)."""
    return {
        "model": name,
        "device": str(device),
        "method": method,
        "layer": layer,
        "topk": topk,
        "score_thresh": score_thresh,
        "frames": len(detect_ms),
        "width": size[0],
        "height": size[1],
        "detections_per_frame": statistics.mean(counts[WARMUP_FRAMES:] or counts),
        "detect_ms": round(detect, 2),
        "explained_ms": round(explained, 2),
        "explained_over_detect": round(explained / detect, 3),
        "pipeline_fps": None,  # filled in by run_pipeline_bench
        "latency_ms_p50": None,
        "latency_ms_p95": None,
        "refreshed_fraction": None,
        "reuse_correlation": None,  # filled in by measure_reuse
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "gpu_peak_mem_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        if device.type == "cuda"
        else None,
        "torch_threads": torch.get_num_threads(),
    }
