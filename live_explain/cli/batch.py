"""``live-explain batch INPUTS... -o OUTDIR``: many drives, each exported as ``export`` does,
on Ray (or inline), with ``OUTDIR/fleet.html`` over them all and ``OUTDIR/batch.jsonl``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from live_explain.cli.monitor_options import add_monitor_options
from live_explain.cli.options import (
    add_range_options,
    add_settings_options,
    add_source_options,
    argument_type,
    non_negative_float,
)
from live_explain.config import whole_number


def add_parser(sub) -> None:
    batch = sub.add_parser(
        "batch",
        help="export many drives at once on Ray, with a fleet report",
        description="Export every drive (video, JSONL log, HTML report under OUTDIR/<drive>/) "
        "and write OUTDIR/fleet.html and OUTDIR/batch.jsonl. Runs on a local Ray instance, or "
        "on a cluster with --address (or RAY_ADDRESS); OUTDIR and the inputs must then be on "
        "a path every node can reach. A rerun skips drives that are done.",
    )
    batch.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="video files, folders of videos, glob patterns, or manifest files (.txt: one "
        "path a line; .csv or .jsonl with a 'path' column)",
    )
    batch.add_argument("-o", "--output", required=True, type=Path, metavar="OUTDIR")
    engine = batch.add_argument_group("engine")
    engine.add_argument(
        "--engine",
        choices=("ray", "inline"),
        default="ray",
        help="ray: drives in parallel as Ray tasks (default); inline: one after another in "
        "this process, without Ray",
    )
    engine.add_argument(
        "--address",
        metavar="HOST:PORT",
        help="join a running Ray cluster (default: RAY_ADDRESS, else a local instance that "
        "starts and stops with the batch)",
    )
    engine.add_argument(
        "--cpus-per-drive",
        type=argument_type(_positive_share),
        default=1.0,
        metavar="N",
        help="CPUs each drive reserves (default: 1; one inference thread per CPU)",
    )
    engine.add_argument(
        "--gpus-per-drive",
        type=argument_type(_share),
        default=0.0,
        metavar="N",
        help="GPUs each drive reserves; fractions share one GPU (default: 0)",
    )
    engine.add_argument(
        "--retries",
        type=argument_type(_retries),
        default=2,
        metavar="N",
        help="times Ray retries a drive whose worker process died (default: 2)",
    )
    engine.add_argument("--force", action="store_true", help="redo drives already done")
    add_range_options(batch, "of each drive")
    add_source_options(batch)
    add_settings_options(batch, ("model", "detector", "policy", "style"))
    add_monitor_options(batch)
    batch.set_defaults(run=run)


def _share(text: str) -> float:
    """A count of CPUs or GPUs for Ray: fractions to 4 decimals (Ray's precision)."""
    value = non_negative_float(text)
    if round(value, 4) != value or value > 1024:
        raise ValueError(f"must be 0 to 1024 in steps of 0.0001, got {value:g}")
    return value


def _positive_share(text: str) -> float:
    value = _share(text)
    if value == 0:
        raise ValueError("must be more than 0")
    return value


def _retries(text: str) -> int:
    value = whole_number(text)
    if not 0 <= value <= 10:
        raise ValueError(f"must be 0 to 10, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    start = None
    if args.engine == "ray":  # Ray starts while the export code (torch) is imported
        from live_explain.fleet.ray_start import RayStart

        start = RayStart(args.address, args.cpus_per_drive, warm=args.gpus_per_drive == 0)
        start.begin()
    try:
        return _run(args, start)
    finally:
        if start is not None:
            start.close()


def _run(args: argparse.Namespace, start) -> int:
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from live_explain.cli.export import job_from
    from live_explain.fleet.batch import BatchOptions, run_batch

    args.input, args.log, args.report, args.workers = "", None, None, None
    template = job_from(args)  # checked once, before any drive, by run_batch
    options = BatchOptions(
        outdir=args.output,
        job=template,
        engine=args.engine,
        address=args.address,
        cpus_per_drive=args.cpus_per_drive,
        gpus_per_drive=args.gpus_per_drive,
        retries=args.retries,
        force=args.force,
    )
    bar = tqdm(
        total=None,
        unit="frame",
        desc="batch",
        disable=not sys.stderr.isatty(),
        dynamic_ncols=True,
    )

    def progress(shown) -> None:
        if shown.total is not None and bar.total != shown.total:
            bar.total = shown.total
        bar.n = shown.frames
        bar.set_description(f"batch ({shown.note})" if shown.note else "batch", refresh=False)
        bar.set_postfix(
            done=shown.done, failed=shown.failed, running=shown.running, skipped=shown.skipped
        )

    with logging_redirect_tqdm(), bar:
        result = run_batch(args.inputs, options, progress, ray_start=start)
    for drive, outcome in result.rows:
        if outcome["state"] == "failed":
            print(f"live-explain: {drive.name}: {outcome.get('error')}", file=sys.stderr)
    print(result.summary(), file=sys.stderr if result.interrupted else sys.stdout)
    return result.exit_code
