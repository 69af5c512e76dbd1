"""The ``live-explain`` command line.

Exit codes: 0 on success, 2 with one line on stderr for a user's mistake, 130 when
interrupted (an export then keeps its playable partial file under a ``.partial`` name).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import signal
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from live_explain import __version__
from live_explain.errors import UserError

log = logging.getLogger("live_explain")

DEFAULT_BENCH_FRAMES = 30
# Each explained detection costs a full-frame map in the results (2 MB at 960x540, fp32);
# torchvision's detectors keep at most 100 detections an image by default.
MAX_TOPK = 100
MAX_SMOOTH = 64
MAX_FPS = 1000.0  # as for a video's own frame rate (sources trust 1 to 1000)
MIN_FPS = 0.01  # one image every 100 s; slower rates round to 0 in a video's time base
DEFAULT_SYNTHETIC_FRAMES = 300  # a synthetic scene never ends; export 12 s of it by default
RECORDINGS_DIR = Path("recordings")
DEBUG_ENV = "LIVE_EXPLAIN_DEBUG"  # set to 1: unexpected errors show their traceback


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"live-explain: error: {message} (see {self.prog} --help)\n")


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def positive_int(text: str) -> int:
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value:g}")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, got {value:g}")
    return value


def frame_rate(text: str) -> float:
    """``--fps``: :data:`MIN_FPS` to :data:`MAX_FPS` frames a second."""
    value = positive_float(text)
    if not MIN_FPS <= value <= MAX_FPS:
        raise argparse.ArgumentTypeError(
            f"must be {MIN_FPS:g} to {MAX_FPS:g} frames a second, got {value:g}"
        )
    return value


def smooth_option(text: str) -> int:
    """``--smooth``: 0 to :data:`MAX_SMOOTH` SmoothGrad copies (each is one more backward)."""
    value = whole_number(text)
    if not 0 <= value <= MAX_SMOOTH:
        raise argparse.ArgumentTypeError(f"must be 0 to {MAX_SMOOTH}, got {value}")
    return value


def topk_option(text: str) -> int:
    """``--topk``: 1 to :data:`MAX_TOPK` detections a frame."""
    value = positive_int(text)
    if value > MAX_TOPK:
        raise argparse.ArgumentTypeError(
            f"at most {MAX_TOPK} detections a frame are explained, got {value}"
        )
    return value


def add_model_options(parser: argparse.ArgumentParser) -> None:
    from live_explain.model.names import DEFAULT_DETECTOR

    group = parser.add_argument_group("model and explanation")
    group.add_argument("--model", default=DEFAULT_DETECTOR, help="torchvision model name")
    group.add_argument(
        "--weights",
        default="auto",
        help="auto, demo, coco, none (random) or a state-dict PATH (default: auto)",
    )
    from live_explain.explain.methods import REGISTRY

    group.add_argument(
        "--method",
        default="gradcam",
        choices=tuple(REGISTRY),
        help="explanation method (default: gradcam)",
    )
    group.add_argument(
        "--layer",
        help="target layer, a name from the model's named_modules() (default: 'backbone' for "
        "detectors, the last convolutional stage for classifiers)",
    )
    group.add_argument(
        "--smooth",
        type=smooth_option,
        default=0,
        metavar="N",
        help=f"SmoothGrad copies for saliency, 0 to {MAX_SMOOTH} (default: 0)",
    )
    group.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    group.add_argument(
        "--topk",
        type=topk_option,
        default=20,
        metavar="K",
        help=f"at most K detections a frame, 1 to {MAX_TOPK} (default: 20)",
    )
    group.add_argument("--score-thresh", type=finite_float, default=0.5, metavar="T")
    group.add_argument(
        "--classes", help="comma-separated class names to keep, e.g. car,person (default: all)"
    )
    group.add_argument(
        "--precision",
        default="fp32",
        choices=("fp32", "bf16"),
        help="bf16: the backbone under bfloat16 autocast (maps still in fp32)",
    )


def add_refresh_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("maps across frames")
    group.add_argument(
        "--refresh",
        default="adaptive",
        choices=("adaptive", "every-frame"),
        help="adaptive: reuse a track's explanation until it goes stale (default); "
        "every-frame: recompute every map on every frame",
    )
    group.add_argument(
        "--reuse",
        default="weights",
        choices=("weights", "warp"),
        help="how a reused explanation is shown: weights: its channel weights on this "
        "frame's activations (Grad-CAM, Grad-CAM++; default); warp: its last map moved "
        "with the box (what other methods always do)",
    )
    group.add_argument(
        "--reuse-fidelity",
        type=finite_float,
        default=0.95,
        metavar="F",
        help="adaptive: each refresh checks what reuse would have shown; a track whose check "
        "stays below F (correlation) is refreshed more often, one above it less "
        "(default: 0.95; 0: a fixed 12-frame window)",
    )
    group.add_argument(
        "--smooth-alpha",
        type=finite_float,
        default=0.6,
        metavar="A",
        help="weight of the new map in each track's moving average; 1 = no smoothing "
        "(default: 0.6)",
    )
    group.add_argument(
        "--explain-budget",
        metavar="N|MSms",
        help="at most N map refreshes per frame, or a time budget like 25ms (default: none)",
    )


def add_workers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=workers_option,
        default=None,
        metavar="N|auto",
        help="inference workers whose frames overlap; tracking and maps stay in frame order "
        "(default auto: 2 on a CPU with 2+ cores, 1 on a GPU)",
    )


def workers_option(text: str) -> int | None:
    """``--workers``: ``auto`` (None) or a count of at least 1."""
    return None if text == "auto" else positive_int(text)


def inference_workers(args: argparse.Namespace, device) -> int:
    """``auto``: two workers on a CPU with at least two cores (their forward passes overlap,
    each on its share of the cores), one on a GPU (its streams already overlap the work)."""
    import torch

    if args.workers is not None:
        if args.workers > 1 and device.type != "cpu":
            raise UserError(
                f"--workers {args.workers}: parallel workers are for CPU inference; "
                "on a GPU one worker overlaps its work with CUDA streams"
            )
        return args.workers
    return 2 if device.type == "cpu" and torch.get_num_threads() >= 2 else 1


def refresh_policy(args: argparse.Namespace):
    from live_explain.realtime.reuse import RefreshPolicy

    return RefreshPolicy.from_options(
        args.refresh, args.smooth_alpha, args.explain_budget, args.reuse, args.reuse_fidelity
    )


def add_render_options(parser: argparse.ArgumentParser) -> None:
    from live_explain.render.overlay import COLORMAPS

    group = parser.add_argument_group("overlay")
    group.add_argument("--colormap", default="turbo", choices=sorted(COLORMAPS))
    group.add_argument(
        "--alpha", type=finite_float, default=0.45, help="heatmap opacity, 0 to 1 (default: 0.45)"
    )
    group.add_argument(
        "--merged",
        action="store_true",
        help="one full-frame map (maximum over detections) instead of a map per box",
    )


def render_style(args: argparse.Namespace):
    from live_explain.render.overlay import RenderStyle

    if not 0.0 <= args.alpha <= 1.0:
        raise UserError(f"--alpha {args.alpha}: must be between 0 and 1")
    return RenderStyle(colormap=args.colormap, alpha=args.alpha, merged=args.merged)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-frames", type=positive_int, metavar="N", help="stop after N frames")
    parser.add_argument(
        "--fps",
        type=frame_rate,
        default=10.0,
        help="frame rate of an image folder (default: 10)",
    )


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="live-explain",
        description="Explain a CNN object detector on driving video, live.",
        epilog="SOURCE/INPUT: a camera index, a video file, an image folder, a URL "
        "(rtsp, rtsps, http, https) or 'synthetic'.",
    )
    parser.add_argument("--version", action="version", version=f"live-explain {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help=f"show the traceback of an unexpected error (or set {DEBUG_ENV}=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    sub.required = True

    watch = sub.add_parser(
        "watch",
        help="open the desktop app",
        description="Open the desktop app on SOURCE (default: camera 0). Options not given "
        "keep the values the app remembers from last time.",
    )
    watch.add_argument("source", nargs="?", metavar="SOURCE")
    watch.add_argument(
        "--screenshot", type=Path, metavar="OUT.png", help="save a PNG of the window and exit"
    )
    watch.add_argument(
        "--exit-after-frames",
        type=positive_int,
        metavar="N",
        help="play N frames, then exit (with --screenshot: take it then; default 30)",
    )
    add_model_options(watch)
    add_refresh_options(watch)
    add_render_options(watch)
    # None = not given: the app's remembered settings apply instead of the defaults.
    remembered = ("model", "weights", "method", "device", "topk", "score_thresh", "colormap")
    watch.set_defaults(alpha=None, refresh=None, **dict.fromkeys(remembered))

    export = sub.add_parser("export", help="write an annotated H.264 video")
    export.add_argument("input", metavar="INPUT")
    export.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.mp4")
    export.add_argument("--log", type=Path, metavar="OUT.jsonl", help="per-frame JSONL log")
    export.add_argument("--report", type=Path, metavar="OUT.html", help="HTML drive report")
    export.add_argument("--start", type=non_negative_float, metavar="S", help="start (seconds)")
    export.add_argument("--end", type=non_negative_float, metavar="S", help="end (seconds)")
    add_source_options(export)
    add_model_options(export)
    add_refresh_options(export)
    add_workers_option(export)
    add_render_options(export)
    from live_explain.cli.monitor_options import add_monitor_options

    add_monitor_options(export)

    explain = sub.add_parser("explain", help="explain the detections in one image")
    explain.add_argument("image", metavar="IMAGE")
    explain.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.png")
    explain.add_argument(
        "--save-maps", type=Path, metavar="OUT.npz", help="boxes, labels, scores and raw maps"
    )
    explain.add_argument(
        "--feature-maps",
        type=Path,
        metavar="OUT.png",
        help="a grid of the most active channels of --layer (default layer if not given)",
    )
    explain.add_argument(
        "--filters",
        type=Path,
        metavar="OUT.png",
        help="the first convolution's kernels; with --layer, the frame patches that most "
        "excite that layer's most active channels",
    )
    add_model_options(explain)
    add_render_options(explain)

    record = sub.add_parser("record", help="record the raw feed (crash-safe) with a JSON sidecar")
    record.add_argument("source", metavar="SOURCE")
    record.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="default: recordings/<time>.mp4"
    )
    record.add_argument("--duration", type=non_negative_float, metavar="S", help="seconds")
    add_source_options(record)

    bench = sub.add_parser("bench", help="detection-only vs explained cost, fps, latency")
    bench.add_argument("source", nargs="?", default="synthetic", metavar="SOURCE")
    bench.add_argument("--json", action="store_true", help="print one JSON object")
    add_source_options(bench)
    add_model_options(bench)
    add_refresh_options(bench)
    add_workers_option(bench)

    sub.add_parser("models", help="list models and whether their weights are here")

    report = sub.add_parser("report", help="an HTML report over drives' JSONL logs")
    report.add_argument("logs", nargs="+", metavar="LOG")
    report.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.html")
    for command in sub.choices.values():  # also accepted after the command's name
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    return parser


# -- commands -------------------------------------------------------------------------------


def open_input(args: argparse.Namespace, *, realtime: bool = False):
    from live_explain.io.sources import SyntheticSource, VideoFileSource, open_source

    start = getattr(args, "start", None)
    end = getattr(args, "end", None)
    if start is not None and end is not None and end <= start:
        raise UserError(f"--end {end} must be after --start {start}")
    source = open_source(
        args.input if hasattr(args, "input") else args.source,
        start_s=start,
        end_s=end,
        folder_fps=args.fps,
        realtime=realtime,
    )
    if (start is not None or end is not None) and not isinstance(source, VideoFileSource):
        raise UserError("--start and --end apply to video files only")
    if isinstance(source, SyntheticSource) and args.max_frames is None and not realtime:
        args.max_frames = DEFAULT_SYNTHETIC_FRAMES
    return source


def make_detector(args: argparse.Namespace):
    from live_explain.model.detector import Detector, resolve_device
    from live_explain.model.loading import check_model_name, is_detector, load_model

    check_model_name(args.model)
    if not is_detector(args.model):
        raise UserError(f"{args.model} is a classifier; this command needs a detector")
    check_method_for_detectors(args)
    device = resolve_device(args.device)
    model = load_model(args.model, weights=args.weights)
    classes = args.classes.split(",") if args.classes else None
    return Detector(
        model,
        device,
        args.score_thresh,
        classes,
        args.topk,
        method=args.method,
        layer=args.layer,
        smooth=args.smooth,
        precision=getattr(args, "precision", "fp32"),
    )


def check_method_for_detectors(args: argparse.Namespace) -> None:
    from live_explain.explain.methods import REGISTRY, map_method_names, smoothable_names

    method = REGISTRY[args.method]
    if not method.detectors:
        first, *others = map_method_names()
        raise UserError(
            f"--method {args.method} {method.not_for_detectors}; "
            f"use {first} (or {', '.join(others)}) for detectors"
        )
    if args.smooth and not method.smoothable:
        raise UserError(
            f"--smooth N (SmoothGrad) applies to --method {' or '.join(smoothable_names())} only"
        )
    if args.smooth < 0:
        raise UserError(f"--smooth {args.smooth}: must not be negative")


def expected_total(source, max_frames: int | None) -> int | None:
    total = source.expected_frames
    if total is not None and getattr(source, "end_ms", None) is not None:
        total = None  # unknown until decoded
    if max_frames is not None:
        total = max_frames if total is None else min(total, max_frames)
    return total


def cmd_export(args: argparse.Namespace) -> int:
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from live_explain.cli.monitor_options import check_monitor_outputs, make_monitor_sink
    from live_explain.realtime.pipeline import Pipeline
    from live_explain.sinks.video import H264Writer, check_output_path

    style = render_style(args)
    policy = refresh_policy(args)
    check_output_path(args.output, (args.input,))
    check_monitor_outputs(args)
    source = open_input(args)
    writer = monitor = None
    try:
        source.start()  # open errors (unreadable file, no camera) come before the model loads
        # Claims the output now: a second export to the same file is refused before any work.
        writer = H264Writer(args.output, source.fps, inputs=(args.input,))
        detector = make_detector(args)
        monitor = make_monitor_sink(args, source, detector)  # None without --log/--report
        pipeline = Pipeline(
            source,
            detector,
            max_frames=args.max_frames,
            style=style,
            policy=policy,
            workers=inference_workers(args, detector.device),
        )
    except BaseException:
        if writer is not None:
            writer.abort()  # nothing written yet: removes the partial file it made
        source.close()
        raise
    monitor_lines: list[str] = []
    started = time.perf_counter()
    bar = tqdm(
        total=expected_total(source, args.max_frames),
        unit="frame",
        desc="export",
        disable=not sys.stderr.isatty(),
        dynamic_ncols=True,
    )
    try:
        with logging_redirect_tqdm(), bar:
            for result in pipeline.run():
                writer.write(result.overlay)
                if monitor:
                    monitor.write(result)
                bar.update(1)
                refreshed = result.detections.refreshed
                fresh = int(refreshed.sum()) if refreshed is not None else 0
                bar.set_postfix(detections=len(result.detections), refreshed=fresh)
        if writer.frames_written == 0:
            raise UserError(f"{args.input}: no frames in the chosen range")
        writer.close()
        elapsed = time.perf_counter() - started  # the video's own time, not the report's
        if monitor:
            monitor_lines = monitor.close()
    except KeyboardInterrupt:
        kept = writer.abort()
        if monitor:
            monitor.abort()
        where = f"; partial video kept at {kept}" if kept else ""
        done = writer.frames_written
        print(f"live-explain: interrupted after {done} frames{where}", file=sys.stderr)
        return 130
    except UserError as exc:  # a full disk, a file that cannot be replaced, ...
        kept = writer.abort()
        if monitor:
            monitor.abort()
        if kept is None or str(kept) in str(exc):
            raise
        raise UserError(f"{exc}; the partial video is kept at {kept}") from None
    except BaseException:
        writer.abort()
        if monitor:
            monitor.abort()
        raise
    width, height = writer.size
    incomplete = " (incomplete: the input ended early)" if source.ended_early else ""
    print(
        f"wrote {args.output}: {writer.frames_written} frames{incomplete}, {width}x{height}, "
        f"{float(writer.fps):g} fps, H.264, in {elapsed:.1f} s "
        f"({writer.frames_written / max(elapsed, 1e-9):.1f} frames/s)"
    )
    for line in monitor_lines:
        print(line)
    return 0


def default_recording_path(source_spec: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    safe = "".join(c if c.isalnum() else "-" for c in Path(str(source_spec)).stem)[:40] or "feed"
    return RECORDINGS_DIR / f"{safe}-{stamp}.mp4"


def cmd_record(args: argparse.Namespace) -> int:
    from live_explain.sinks.recorder import FeedRecorder

    output = args.output
    if output is None:
        output = default_recording_path(args.source)
        output.parent.mkdir(parents=True, exist_ok=True)
    source = open_input(args, realtime=True)
    source.start()
    try:
        recorder = FeedRecorder(output, source.fps, str(args.source), source.kind, (args.source,))
    except BaseException:
        source.close()
        raise
    started = time.monotonic()
    interrupted = False
    try:
        while args.max_frames is None or recorder.frames_written < args.max_frames:
            if args.duration is not None and time.monotonic() - started >= args.duration:
                break
            frame = source.read(timeout=1.0) if args.duration is not None else source.read()
            if frame is None:
                break
            recorder.write(frame.image, dropped=source.frames_dropped)
    except TimeoutError:
        pass  # the duration check runs on the next loop turn
    except KeyboardInterrupt:
        interrupted = True  # Ctrl-C is the normal way to end an open-ended recording
    except BaseException:  # a full disk, a failed source: finish what is there (or remove
        with contextlib.suppress(Exception):  # the files this run made, if no frame came)
            recorder.close()
        raise
    finally:
        source.close()
    recorder.frames_dropped = source.frames_dropped
    if recorder.close() is None:
        raise UserError(f"{args.source}: no frames were recorded")
    how = "stopped by the user; " if interrupted else ""
    print(
        f"recorded {output}: {how}{recorder.frames_written} frames, "
        f"{source.frames_dropped} dropped; sidecar {recorder.sidecar_path}"
    )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from live_explain.model.loading import (
        CLASSIFIERS,
        DEFAULT_DETECTOR,
        DEMO_MODEL,
        DETECTORS,
        demo_weights_file,
        weights_cached,
    )

    print(f"{'model':42} {'kind':10} weights here")
    bundled = "yes (bundled)" if demo_weights_file().is_file() else "no (train them)"
    print(f"{DEMO_MODEL + ' (synthetic scenes)':42} {'detector':10} {bundled}")
    for kind, names in (("detector", DETECTORS), ("classifier", CLASSIFIERS)):
        for name in names:
            mark = " (default)" if name == DEFAULT_DETECTOR else ""
            print(f"{name + mark:42} {kind:10} {'yes' if weights_cached(name) else 'no'}")
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from live_explain.sinks.video import check_output_path
    from live_explain.ui.app import WatchOptions, overrides_from_args, run_app

    if args.screenshot is not None:
        check_output_path(args.screenshot, (args.source,), suffixes=(".png",))
    check_display()
    return run_app(
        WatchOptions(
            source=args.source,
            overrides=overrides_from_args(args),
            screenshot=args.screenshot,
            exit_after_frames=args.exit_after_frames,
        )
    )


def check_display() -> None:
    """Raise :class:`UserError` where Qt would abort for want of a screen to open."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform not in ("", "xcb", "wayland"):
        return  # offscreen, vnc, another OS: Qt has what it needs
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError(
            "no display to open the window on (DISPLAY is not set); run it in a desktop "
            "session, under xvfb-run, or with QT_QPA_PLATFORM=offscreen for --screenshot"
        )


def cmd_explain(args: argparse.Namespace) -> int:
    from live_explain.cli.explain_image import explain_image

    return explain_image(args, render_style(args), make_detector)


def cmd_bench(args: argparse.Namespace) -> int:
    import json

    from tqdm import tqdm

    from live_explain.model.loading import check_model_name, is_detector
    from live_explain.realtime.bench import (
        measure_reuse,
        peak_rss_mb,
        run_bench,
        run_pipeline_bench,
    )
    from live_explain.realtime.pipeline import Pipeline

    if not is_detector(args.model):
        check_model_name(args.model)
        raise UserError(f"{args.model} is a classifier; bench measures detectors")
    policy = refresh_policy(args)
    frames = args.max_frames or DEFAULT_BENCH_FRAMES
    args.max_frames = None  # the bench reads warm-up frames beyond the measured ones
    source = open_input(args)
    source.start()
    try:
        detector = make_detector(args)
    except BaseException:
        source.close()
        raise
    quiet = not sys.stderr.isatty()
    with tqdm(total=frames, unit="frame", desc="bench: detect vs explain", disable=quiet) as bar:
        result = run_bench(
            source,
            detector.model,
            detector.device,
            method=args.method,
            layer=args.layer,
            topk=args.topk,
            score_thresh=args.score_thresh,
            class_ids=detector.explainer.class_ids,
            max_frames=frames,
            model_name=getattr(detector.model, "model_name", args.model),
            progress=bar.update,
        )
    if not result:
        raise UserError(f"{args.source}: not enough frames to measure")
    result["precision"] = detector.precision
    result["refresh"] = policy.mode
    source = open_input(args)
    result["workers"] = inference_workers(args, detector.device)
    pipeline = Pipeline(source, detector, policy=policy, workers=result["workers"])
    with tqdm(total=frames, unit="frame", desc="bench: pipeline", disable=quiet) as bar:
        result.update(run_pipeline_bench(pipeline, source.fps, frames, progress=bar.update))
    if detector.makes_maps:
        with tqdm(total=frames, unit="frame", desc="bench: map reuse", disable=quiet) as bar:
            reuse = measure_reuse(open_input(args), detector, policy, frames, bar.update)
        result.update(reuse)
    result["detect_fps"] = round(1000.0 / result["detect_ms"], 2)
    result["pipeline_over_detect_fps"] = (
        round(result["pipeline_fps"] / result["detect_fps"], 3)
        if result.get("pipeline_fps")
        else None
    )
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    if detector.device.type == "cuda":
        import torch

        peak = torch.cuda.max_memory_allocated(detector.device)
        result["gpu_peak_mem_mb"] = round(peak / 2**20, 1)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:26} {value}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from live_explain.cli.monitor_options import report_command

    return report_command(args)


COMMANDS = {
    "watch": cmd_watch,
    "export": cmd_export,
    "explain": cmd_explain,
    "record": cmd_record,
    "bench": cmd_bench,
    "models": cmd_models,
    "report": cmd_report,
}


class _WarningFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"live-explain: {record.levelname.lower()}: {record.getMessage()}"


class _Interrupts:
    """SIGINT and SIGTERM handling: the first raises KeyboardInterrupt, so that the command
    ends cleanly (an export keeps its partial file); while it cleans up, a second only says
    so, a third ends the process at once (exit 130)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.count = 0
        self._deferred = False
        self._previous = {}
        for signum in self.SIGNALS:
            # ValueError: not the main thread (main() called from a test's thread)
            with contextlib.suppress(ValueError):
                if signal.getsignal(signum) is signal.SIG_IGN:
                    continue  # ignored by whoever started us (nohup, a background job)
                self._previous[signum] = signal.signal(signum, self)

    def __call__(self, signum, frame) -> None:
        self.count += 1
        if self.count == 1:
            if self._deferred:
                return  # raised when the imports are done (see deferred)
            raise KeyboardInterrupt
        if self.count == 2:
            os.write(2, b"live-explain: finishing up; interrupt again to quit at once\n")
            return
        os._exit(130)

    @contextlib.contextmanager
    def deferred(self):
        """Hold a Ctrl-C back until the block ends. Raised inside an import of torch, a
        KeyboardInterrupt can cross its C++ code, which then aborts the whole process."""
        self._deferred = True
        try:
            yield
        finally:
            self._deferred = False
        if self.count:
            raise KeyboardInterrupt

    def restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _system_error(exc: OSError) -> str:
    """A failure of the system (a full disk, a permission, a lost drive) in one line."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    where = exc.filename if exc.filename is not None else None
    return _one_line(f"{where}: {reason}" if where else reason)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure ends as one line on stderr and an exit code.

    A user's mistake, a full disk, a permission: exit 2. Ctrl-C or SIGTERM: exit 130, also
    during start-up. A bug: exit 2 with one line, or its traceback under ``--debug`` (or
    ``LIVE_EXPLAIN_DEBUG=1``).
    """
    interrupts = _Interrupts()
    for stream in (sys.stdout, sys.stderr):  # a file name the terminal cannot show
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_WarningFormatter())
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        with interrupts.deferred():  # the options import torch (its colormaps, its models)
            args = build_parser().parse_args(argv)
            import torchvision  # noqa: F401  (with torch: every command but report)
        debug = debug or args.debug
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
        return COMMANDS[args.command](args)
    except UserError as exc:
        print(f"live-explain: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("live-explain: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `live-explain models | head -1`
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 2
    except MemoryError:
        if debug:
            raise
        print(
            "live-explain: error: out of memory; try a smaller --topk, a smaller input or "
            "--device cpu",
            file=sys.stderr,
        )
        return 2
    except OSError as exc:
        if debug:
            raise
        print(f"live-explain: error: {_system_error(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:
        if debug:
            raise
        print(
            f"live-explain: error: internal error ({type(exc).__name__}: {_one_line(exc, 200)}); "
            f"please report it; run with --debug for the traceback",
            file=sys.stderr,
        )
        return 2
    finally:
        interrupts.restore()
        log.removeHandler(handler)
