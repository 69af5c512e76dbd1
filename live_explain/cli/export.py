"""``live-explain export INPUT -o OUT.mp4``: the annotated H.264 video, with its log and report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from live_explain.cli.monitor_options import (
    add_monitor_options,
    faithfulness_methods,
)
from live_explain.cli.options import (
    add_range_options,
    add_settings_options,
    add_source_options,
    add_workers_option,
    settings_from,
)

if TYPE_CHECKING:
    from live_explain.sinks.export_job import ExportJob


def add_parser(sub) -> None:
    export = sub.add_parser("export", help="write an annotated H.264 video")
    export.add_argument("input", metavar="INPUT")
    export.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.mp4")
    export.add_argument("--log", type=Path, metavar="OUT.jsonl", help="per-frame JSONL log")
    export.add_argument("--report", type=Path, metavar="OUT.html", help="HTML drive report")
    add_range_options(export)
    add_source_options(export)
    add_settings_options(export, ("model", "detector", "policy", "style"))
    add_workers_option(export)
    add_monitor_options(export)
    export.set_defaults(run=run)


def job_from(args: argparse.Namespace, settings=None) -> ExportJob:
    """The export that ``export``'s options describe (``batch`` shares them)."""
    from live_explain.monitor.events import Thresholds
    from live_explain.sinks.export_job import ExportJob

    return ExportJob(
        input=args.input,
        output=args.output,
        settings=settings or settings_from(args),
        log=args.log,
        report=args.report,
        thresholds=Thresholds(
            attention_in_box=args.attention_thresh,
            flicker=args.flicker_thresh,
            dropout_gap=args.dropout_gap,
            low_score=args.low_score,
            low_score_frames=args.low_score_frames,
        ),
        max_frames=args.max_frames,
        start_s=getattr(args, "start", None),
        end_s=getattr(args, "end", None),
        folder_fps=args.fps,
        workers=args.workers,
        faithfulness=args.faithfulness,
        faithfulness_methods=faithfulness_methods(args) if args.faithfulness else (),
    )


def run(args: argparse.Namespace) -> int:
    """Check everything, claim the output, then run the one export loop with a progress bar;
    Ctrl-C keeps the partial video (exit 130)."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    job = job_from(args)
    job.check()
    prepared = job.prepare()
    bar = tqdm(
        total=prepared.total,
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
        result = prepared.run(progress)
    if result.stopped:
        print(f"live-explain: {result.summary()}", file=sys.stderr)
        return 130
    print(result.summary())
    for line in result.monitor_lines:
        print(line)
    return 0
