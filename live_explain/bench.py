"""``live-explain bench``: what explanations cost on top of detection, on the same frames.

Each frame is run twice, detection only (``torch.inference_mode``) and detection + maps
(the explainer), alternating which goes first so that caches and clock changes hit both
alike; the figures are medians over the frames after a short warm-up.
"""

from __future__ import annotations

import platform
import resource
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from live_explain.detect import frame_to_tensor
from live_explain.explain.detection import DetectionExplainer
from live_explain.explain.selection import select_detections
from live_explain.sources import FrameSource

WARMUP_FRAMES = 2


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
        "pipeline_fps": None,  # the real-time engine issue adds the end-to-end figures
        "latency_ms_p50": None,
        "latency_ms_p95": None,
        "refreshed_fraction": None,
        "reuse_correlation": None,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "gpu_peak_mem_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        if device.type == "cuda"
        else None,
        "torch_threads": torch.get_num_threads(),
    }
