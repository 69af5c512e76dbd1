"""``live-explain export INPUT -o OUT.mp4``: the annotated H.264 video, with its log and report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from live_explain.cli.monitor_options import (
    add_monitor_options,
    check_monitor_outputs,
    make_monitor_sink,
)
from live_explain.cli.options import (
    add_settings_options,
    add_source_options,
    add_workers_option,
    argument_type,
    inference_workers,
    non_negative_float,
    open_input,
    settings_from,
)
from live_explain.config import build_detector


def add_parser(sub) -> None:
    export = sub.add_parser("export", help="write an annotated H.264 video")
    export.add_argument("input", metavar="INPUT")
    export.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.mp4")
    export.add_argument("--log", type=Path, metavar="OUT.jsonl", help="per-frame JSONL log")
    export.add_argument("--report", type=Path, metavar="OUT.html", help="HTML drive report")
    seconds = argument_type(non_negative_float)
    export.add_argument("--start", type=seconds, metavar="S", help="start (seconds)")
    export.add_argument("--end", type=seconds, metavar="S", help="end (seconds)")
    add_source_options(export)
    add_settings_options(export, ("model", "detector", "policy", "style"))
    add_workers_option(export)
    add_monitor_options(export)
    export.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check everything, claim the output, then run the one export loop with a progress bar;
    Ctrl-C keeps the partial video (exit 130)."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from live_explain.realtime.pipeline import Pipeline
    from live_explain.sinks.export import expected_frames, export_video
    from live_explain.sinks.video import H264Writer, check_output_path

    settings = settings_from(args)
    check_output_path(args.output, (args.input,))
    check_monitor_outputs(args)
    source = open_input(args)
    writer = None
    try:
        source.start()  # open errors (unreadable file, no camera) come before the model loads
        # Claims the output now: a second export to the same file is refused before any work.
        writer = H264Writer(args.output, source.fps, inputs=(args.input,))
        detector = build_detector(settings)
        monitor = make_monitor_sink(args, source, detector)  # None without --log/--report
        pipeline = Pipeline(
            source,
            detector,
            max_frames=args.max_frames,
            style=settings.style(),
            policy=settings.policy(),
            workers=inference_workers(args, detector.device),
        )
    except BaseException:
        if writer is not None:
            writer.abort()  # nothing written yet: removes the partial file it made
        source.close()
        raise
    bar = tqdm(
        total=expected_frames(source, args.max_frames),
        unit="frame",
        desc="export",
        disable=not sys.stderr.isatty(),
        dynamic_ncols=True,
    )

    def progress(_frames: int, result) -> None:
        bar.update(1)
        refreshed = result.detections.refreshed
        fresh = int(refreshed.sum()) if refreshed is not None else 0
        bar.set_postfix(detections=len(result.detections), refreshed=fresh)

    with logging_redirect_tqdm(), bar:
        result = export_video(pipeline, writer, monitor, progress, name=str(args.input))
    if result.stopped:
        print(f"live-explain: {result.summary()}", file=sys.stderr)
        return 130
    print(result.summary())
    for line in result.monitor_lines:
        print(line)
    return 0
