"""``live-explain bench [SOURCE]``: detection-only vs explained cost, pipeline fps, latency."""

from __future__ import annotations

import argparse
import json
import sys

from live_explain.cli.options import (
    add_settings_options,
    add_source_options,
    add_workers_option,
    inference_workers,
    open_input,
    settings_from,
)
from live_explain.config import build_detector
from live_explain.errors import UserError

DEFAULT_BENCH_FRAMES = 30


def add_parser(sub) -> None:
    bench = sub.add_parser("bench", help="detection-only vs explained cost, fps, latency")
    bench.add_argument("source", nargs="?", default="synthetic", metavar="SOURCE")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    add_source_options(bench)
    add_settings_options(bench, ("model", "detector", "policy"))
    add_workers_option(bench)
    bench.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Three measurements on the same frames: detect vs explain, the threaded pipeline, and
    map reuse against fresh maps; one JSON object (``--json``) or one line per figure."""
    from tqdm import tqdm

    from live_explain.model.loading import check_model_name, is_detector
    from live_explain.realtime.bench import measure_reuse, run_bench, run_pipeline_bench
    from live_explain.realtime.pipeline import Pipeline

    settings = settings_from(args)
    if not is_detector(settings.model):
        check_model_name(settings.model)
        raise UserError(f"{settings.model} is a classifier; bench measures detectors")
    policy = settings.policy()
    frames = args.max_frames or DEFAULT_BENCH_FRAMES
    args.max_frames = None  # the bench reads warm-up frames beyond the measured ones
    source = open_input(args)
    source.start()
    try:
        detector = build_detector(settings)
    except BaseException:
        source.close()
        raise
    quiet = not sys.stderr.isatty()
    with tqdm(total=frames, unit="frame", desc="bench: detect vs explain", disable=quiet) as bar:
        result = run_bench(
            source,
            detector.model,
            detector.device,
            method=settings.method,
            layer=settings.layer,
            topk=settings.topk,
            score_thresh=settings.score_thresh,
            class_ids=detector.explainer.class_ids,
            max_frames=frames,
            model_name=getattr(detector.model, "model_name", settings.model),
            progress=bar.update,
        )
    if not result:
        raise UserError(f"{args.source}: not enough frames to measure")
    result["precision"] = detector.precision
    result["refresh"] = policy.mode
    result["workers"] = inference_workers(args, detector.device)
    source = open_input(args)
    pipeline = Pipeline(source, detector, policy=policy, workers=result["workers"])
    with tqdm(total=frames, unit="frame", desc="bench: pipeline", disable=quiet) as bar:
        result.update(run_pipeline_bench(pipeline, source.fps, frames, progress=bar.update))
    if detector.makes_maps:
        with tqdm(total=frames, unit="frame", desc="bench: map reuse", disable=quiet) as bar:
            result.update(measure_reuse(open_input(args), detector, policy, frames, bar.update))
    _add_ratios_and_memory(result, detector.device)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:26} {value}")
    return 0


def _add_ratios_and_memory(result: dict, device) -> None:
    from live_explain.realtime.bench import peak_rss_mb

    result["detect_fps"] = round(1000.0 / result["detect_ms"], 2)
    result["pipeline_over_detect_fps"] = (
        round(result["pipeline_fps"] / result["detect_fps"], 3)
        if result.get("pipeline_fps")
        else None
    )
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    if device.type == "cuda":
        import torch

        result["gpu_peak_mem_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
