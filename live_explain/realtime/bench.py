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
            image = frame_to_tensor(frame.image, device)

            def detect(image=image):
                with torch.inference_mode():
                    out = model([image])[0]
                    keep = select_detections(
                        out["labels"], out["scores"], score_thresh, class_ids, topk
                    )
                    return out["boxes"][keep].cpu()

            def explain(image=image):
                return explainer(image).heatmaps.cpu()

            order = (detect, explain) if index % 2 == 0 else (explain, detect)
            timings = {}
            for step in order:
                _sync(device)
                start = time.perf_counter()
                result = step()
                _sync(device)
                timings[step] = (time.perf_counter() - start) * 1000.0
                if step is explain:
                    counts.append(len(result))
            if index >= WARMUP_FRAMES:
                detect_ms.append(timings[detect])
                explained_ms.append(timings[explain])
                if progress:
                    progress(1)
    finally:
        source.close()
    if not detect_ms:
        return {}
    detect, explained = statistics.median(detect_ms), statistics.median(explained_ms)
    return {
        "model": model_name or type(model).__name__,
        "device": str(device),
        "method": method,
        "layer": explainer.layer,
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
    """Fidelity and flicker of reused maps: every map is computed fresh on every frame, the
    adaptive policy runs alongside, and each map it would reuse (as its ``reuse`` says: re-formed
    from kept channel weights, or warped with its box) is compared with the fresh one (Pearson
    correlation); the warped map's correlation is reported too, for comparison. Flicker is the
    mean absolute change of a track's shown map from one frame to the next inside its box
    (where a per-box overlay shows it), for the adaptive policy (with its smoothing) and for
    plain per-frame recompute."""
    adaptive = MapCache(dataclasses.replace(policy, mode="adaptive"))
    tracker, cuts = IoUTracker(), SceneCutDetector()
    correlations, warped, flicker_adaptive, flicker_fresh = [], [], [], []
    last_shown: dict[int, torch.Tensor] = {}
    last_fresh: dict[int, torch.Tensor] = {}
    planned = total = 0
    source.start()
    try:
        for index in range(frames):
            frame = source.read()
            if frame is None:
                break
            step = detector.explainer.forward(frame_to_tensor(frame.image, detector.device))
            boxes = step.boxes.cpu().numpy()
            labels = step.labels.cpu().numpy()
            scores = step.scores.cpu().numpy()
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
            for row, (reused, _) in kept.items():
                correlations.append(correlation(reused, fresh[row]))
                state = adaptive.tracks[int(ids[row])]
                moved = warp_map(state.heatmap, state.box, boxes[row])
                warped.append(correlation(moved, fresh[row]))
            chosen = torch.as_tensor(rows, device=fresh.device)
            fresh_weights = every.weights
            if fresh_weights is not None:
                fresh_weights = {key: w[chosen] for key, w in fresh_weights.items()}
            shown, _ = adaptive.compose(
                ids,
                boxes,
                labels,
                scores,
                rows,
                fresh[chosen],
                index,
                cut,
                fresh_weights,
                reformed,
            )
            fresh = fresh.float().cpu()  # the readback for the flicker figures
            shown = shown.cpu()
            planned += len(rows)
            total += len(ids)
            for row, tid in enumerate(ids.tolist()):
                if tid in last_shown:
                    x0, y0, x1, y1 = box_pixels(boxes[row], fresh.shape[-1], fresh.shape[-2])
                    change = (shown[row] - last_shown[tid])[y0:y1, x0:x1].abs().mean()
                    flicker_adaptive.append(float(change))
                    change = (fresh[row] - last_fresh[tid])[y0:y1, x0:x1].abs().mean()
                    flicker_fresh.append(float(change))
            last_shown = {tid: shown[row] for row, tid in enumerate(ids.tolist())}
            last_fresh = {tid: fresh[row] for row, tid in enumerate(ids.tolist())}
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
        "flicker_adaptive": round(mean(flicker_adaptive), 5) if flicker_adaptive else None,
        "flicker_every_frame": round(mean(flicker_fresh), 5) if flicker_fresh else None,
    }
