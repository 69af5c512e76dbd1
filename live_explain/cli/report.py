"""``live-explain report LOGS... -o OUT.html``: one report over one or many drives' logs."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    report = sub.add_parser("report", help="an HTML report over drives' JSONL logs")
    report.add_argument("logs", nargs="+", metavar="LOG")
    report.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.html")
    report.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from live_explain.monitor.log_reader import read_log
    from live_explain.monitor.report import thumbnails_from_video, write_report
    from live_explain.sinks.video import check_output_path

    check_output_path(args.output, tuple(args.logs), suffixes=(".html",))
    drives = [read_log(path) for path in args.logs]
    thumbnails = {i: thumbnails_from_video(drive) for i, drive in enumerate(drives)}
    write_report(args.output, drives, thumbnails)
    frames = sum(len(d.frames) for d in drives)
    print(f"wrote {args.output}: {len(drives)} drive{'s' * (len(drives) != 1)}, {frames} frames")
    return 0
