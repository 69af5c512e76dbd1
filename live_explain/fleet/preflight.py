"""Checks before a batch runs any drive: the options (mistakes that would fail every drive
alike are one line now, exit 2) and OUTDIR; and what makes two runs of a drive the same."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from live_explain.errors import UserError
from live_explain.fleet.record import RECORD_NAME, is_batch_record
from live_explain.sinks.export_job import ExportJob, check_range

if TYPE_CHECKING:
    from live_explain.fleet.batch import BatchOptions


def settings_key(job: ExportJob) -> str:
    """What makes two runs of a drive the same: the settings and every export option."""
    fields = {
        f.name: getattr(job, f.name)
        for f in dataclasses.fields(job)
        if f.name not in ("input", "output", "log", "report", "workers")
    }
    text = json.dumps(fields, sort_keys=True, default=repr)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def check_outdir(outdir: Path) -> Path:
    """OUTDIR checked (made later by :func:`make_outdir`): new (its parent must exist), empty,
    or an earlier batch's; never a folder of other files, which drives' folders would mix
    with."""
    outdir = Path(os.path.abspath(outdir))
    if outdir.exists() and not outdir.is_dir():
        raise UserError(f"{outdir}: -o must be a folder, and this is a file")
    if not outdir.exists():
        if not outdir.parent.is_dir():
            raise UserError(f"{outdir.parent}: output folder does not exist")
        return outdir
    record = outdir / RECORD_NAME
    if record.exists():
        if not is_batch_record(record):
            raise UserError(f"{record}: not a live-explain batch record; choose another -o")
        return outdir
    try:
        if any(outdir.iterdir()):
            raise UserError(
                f"{outdir}: holds files that are not a live-explain batch; choose a new or "
                "empty folder"
            )
    except OSError as exc:
        raise UserError(f"{outdir}: cannot be read ({exc.strerror})") from None
    return outdir


def make_outdir(outdir: Path) -> None:
    try:
        outdir.mkdir(exist_ok=True)
    except OSError as exc:
        raise UserError(f"{outdir}: cannot be created ({exc.strerror})") from None


def check_options(options: BatchOptions) -> None:
    """Mistakes in the command that would fail every drive alike: one line now, before any
    drive runs (exit 2), not one failure per drive."""
    from live_explain.config import check_detector_method
    from live_explain.model.loading import check_model_name

    job = options.job
    job.settings.check()
    check_model_name(job.settings.model)
    check_detector_method(job.settings)
    job.check_faithfulness()
    check_range(job.start_s, job.end_s)
    weights = job.settings.weights
    if weights not in ("auto", "demo", "coco", "none") and not os.path.isfile(weights):
        raise UserError(f"--weights {weights}: no such file")
    if options.engine == "ray" and options.gpus_per_drive == 0:
        if job.settings.device == "cuda":
            raise UserError(
                "--device cuda: give each drive a GPU, or a share of one, with "
                "--gpus-per-drive (e.g. 0.5)"
            )
    elif options.engine == "inline" and job.settings.device == "cuda":
        from live_explain.model.detector import resolve_device

        resolve_device("cuda")  # no CUDA here: one line now
