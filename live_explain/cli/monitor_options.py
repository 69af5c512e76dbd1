"""The monitoring parts of the command line: ``export --log/--report/--faithfulness`` and
``live-explain report``. Importing this module costs no torch import."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from live_explain.cli.options import argument_type
from live_explain.config import positive_int
from live_explain.errors import UserError

FAITHFULNESS_DEFAULT = "every method that makes maps"


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def add_monitor_options(parser: argparse.ArgumentParser) -> None:
    """Options of ``export`` beside ``--log`` and ``--report`` (which it already has)."""
    group = parser.add_argument_group("monitoring (with --log or --report)")
    group.add_argument(
        "--faithfulness",
        type=argument_type(positive_int),
        metavar="N",
        help="deletion/insertion AUC of each method on N sampled frames (slow: about "
        "60 detector runs per detection and method)",
    )
    group.add_argument(
        "--faithfulness-methods",
        metavar="LIST",
        help=f"methods to compare (default: {FAITHFULNESS_DEFAULT})",
    )
    group.add_argument(
        "--attention-thresh",
        type=fraction,
        default=0.5,
        metavar="T",
        help="attention_outside_box when less than T of a map lies in its box (default: 0.5)",
    )
    group.add_argument(
        "--flicker-thresh",
        type=fraction,
        default=0.5,
        metavar="T",
        help="flicker when more than T of a track's map moves in one frame (default: 0.5)",
    )
    group.add_argument(
        "--low-score",
        type=fraction,
        default=0.6,
        metavar="S",
        help="low_confidence_persistent: a track below S for --low-score-frames (default: 0.6)",
    )
    group.add_argument(
        "--low-score-frames", type=argument_type(positive_int), default=10, metavar="N"
    )
    group.add_argument(
        "--dropout-gap",
        type=argument_type(positive_int),
        default=5,
        metavar="N",
        help="dropout: a track missing for at most N frames comes back (default: 5)",
    )


def check_monitor_outputs(args: argparse.Namespace) -> None:
    """Raise :class:`UserError` for monitoring options that cannot work, before any work."""
    from live_explain.sinks.output_files import check_distinct, check_output_path

    for path, suffix in ((args.log, ".jsonl"), (args.report, ".html")):
        if path is not None:
            check_output_path(path, (args.input,), suffixes=(suffix,))
    check_distinct((args.output, args.log, args.report))
    if args.faithfulness and not (args.log or args.report):
        raise UserError("--faithfulness N needs --log or --report to put its results in")
    if args.faithfulness:
        from live_explain.explain.methods import map_method_names

        methods = faithfulness_methods(args)
        unknown = [m for m in methods if m not in map_method_names()]
        if unknown or not methods:
            raise UserError(
                f"--faithfulness-methods: unknown method {', '.join(unknown) or '(none)'}; "
                f"use some of {','.join(map_method_names())}"
            )


def faithfulness_methods(args: argparse.Namespace) -> tuple[str, ...]:
    """``--faithfulness-methods``, or every registered method that makes maps."""
    if args.faithfulness_methods is None:
        from live_explain.explain.methods import map_method_names

        return map_method_names()
    return tuple(m.strip() for m in args.faithfulness_methods.split(",") if m.strip())


def make_monitor_sink(args: argparse.Namespace, source, detector):
    """The export's monitoring sink, or ``None`` without ``--log`` and ``--report``."""
    if not (args.log or args.report):
        return None
    from live_explain.monitor.events import Thresholds
    from live_explain.monitor.sink import DriveInfo, DriveMonitorSink, FaithfulnessPlan

    video = str(Path(args.output).resolve())  # relative to the log's folder where there is one
    if args.log:
        video = os.path.relpath(video, Path(args.log).resolve().parent)
    drive = DriveInfo(
        source=str(args.input),
        source_kind=getattr(source, "kind", "unknown"),
        fps=float(source.fps),
        video=video,
        settings={
            # the model that ran: "demo" where --weights demo (or the fallback) chose it
            "model": getattr(detector.model, "model_name", args.model),
            "weights": getattr(detector.model, "weights_source", args.weights),
            "method": args.method,
            "layer": detector.layer,
            "device": str(detector.device),
            "score_thresh": args.score_thresh,
            "topk": args.topk,
            "classes": ",".join(args.classes) if args.classes else "all",
        },
    )
    thresholds = Thresholds(
        attention_in_box=args.attention_thresh,
        flicker=args.flicker_thresh,
        dropout_gap=args.dropout_gap,
        low_score=args.low_score,
        low_score_frames=args.low_score_frames,
    )
    plan = None
    if args.faithfulness:
        plan = FaithfulnessPlan(args.faithfulness, faithfulness_methods(args), detector)
    return DriveMonitorSink(
        drive,
        thresholds,
        log_path=args.log,
        report_path=args.report,
        faithfulness=plan,
        inputs=(str(args.input),),
    )
