"""One drive of a batch, as a worker runs it: the same :class:`ExportJob` as ``export``
(video, log and report under ``OUTDIR/<drive>/``), reporting to the batch's progress board and
stopping when the batch asks. It returns its outcome; it raises nothing a user caused, so one
drive's failure is that drive's alone.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from live_explain.errors import UserError, one_line, unexpected_error
from live_explain.fleet.drives import Drive
from live_explain.sinks.export_job import ExportJob, PreparedExport

VIDEO_NAME, LOG_NAME, REPORT_NAME = "video.mp4", "log.jsonl", "report.html"
REPORT_EVERY_S = 0.25  # how often a drive tells the board its frames (and hears of a stop)


@dataclass(frozen=True)
class DriveTask:
    """``drive``'s export into ``folder`` (``OUTDIR/<drive>``) for the run ``run_id`` whose
    record is ``record``; ``threads``: torch threads (``None``: as the process has them)."""

    drive: Drive
    folder: Path
    run_id: str
    record: Path
    job: ExportJob
    threads: int | None = None
    hide_gpus: bool = False  # a drive that reserved no GPU must not use one (Ray shows them all)


def outputs(folder: Path) -> dict[str, Path]:
    return {
        "video": folder / VIDEO_NAME,
        "log": folder / LOG_NAME,
        "report": folder / REPORT_NAME,
    }


class _Board:
    """Reports to the batch's board, a Ray actor or a plain object; never waiting for an
    answer (see :mod:`live_explain.fleet.progress`)."""

    def __init__(self, board) -> None:
        self.board = board
        self.remote = hasattr(board, "_actor_id")

    def __call__(self, method: str, *args) -> None:
        if self.remote:
            getattr(self.board, method).remote(*args)
        else:
            getattr(self.board, method)(*args)


def _check_reachable(task: DriveTask, host: str) -> None:
    """The batch's OUTDIR, as this node sees it, is the one the batch writes (its record
    names this run), and the input is here: else one line that says why."""
    try:
        here = task.run_id in task.record.read_text(encoding="utf-8", errors="replace")
    except OSError:
        here = False
    if not here:
        raise UserError(
            f"{task.record.parent}: not the batch's output folder on node {host}; OUTDIR "
            "must be on a path every node can reach (a shared file system)"
        )
    source = task.drive.source
    if "://" not in source and source != "synthetic" and not os.path.exists(source):
        raise UserError(
            f"{source}: no such file on node {host}; inputs must be on a path every node can reach"
        )


def _prepare(task: DriveTask, host: str) -> PreparedExport:
    """The drive's export, prepared in its folder (made here; removed again, empty, when
    the drive cannot start)."""
    _check_reachable(task, host)
    made_folder = not task.folder.exists()
    task.folder.mkdir(exist_ok=True)
    try:
        return task.job.prepare()
    except BaseException:  # also Ctrl-C, or Ray's cancel
        if made_folder:  # nothing is in it: no empty folder stays
            with contextlib.suppress(OSError):
                task.folder.rmdir()
        raise


def run_drive(task: DriveTask, board: Any) -> dict[str, Any]:
    """Export one drive; returns its outcome: ``state`` (``done``, ``failed``, ``stopped``),
    ``frames``, ``elapsed_s``, ``fps``, ``error``, ``kept`` (partial files), ``token`` (this
    attempt's, on the board). Ctrl-C (the inline engine) or Ray's cancel (a KeyboardInterrupt
    here) stops it after the frame in flight, its partial files kept."""
    started = time.perf_counter()
    host = socket.gethostname()
    call = _Board(board)
    token = uuid.uuid4().hex
    call("begin", task.drive.name, token, os.getpid(), host)
    outcome: dict[str, Any] = {"token": token, "host": host, "frames": 0}
    if task.hide_gpus:  # before CUDA starts in this process (it reads this once)
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    if task.threads is not None:
        import torch

        torch.set_num_threads(task.threads)
    try:
        prepared = _prepare(task, host)
    except Exception as exc:  # a bug, memory, the system: this drive alone
        error = one_line(exc) if isinstance(exc, UserError) else unexpected_error(exc)
        elapsed = round(time.perf_counter() - started, 3)
        return {**outcome, "state": "failed", "error": error, "elapsed_s": elapsed}
    partials = [str(p) for p in prepared.partial_files]
    call("started", task.drive.name, token, prepared.total, partials)
    last = [0.0]  # when the board last heard

    def progress(frames: int, _result) -> None:
        now = time.perf_counter()
        if now - last[0] >= REPORT_EVERY_S:
            last[0] = now
            call("update", task.drive.name, token, frames)

    try:
        result = prepared.run(progress)
    except Exception as exc:  # its error names the partial file it kept
        error = one_line(exc) if isinstance(exc, UserError) else unexpected_error(exc)
        elapsed = round(time.perf_counter() - started, 3)
        return {**outcome, "state": "failed", "error": error, "elapsed_s": elapsed}
    call("update", task.drive.name, token, result.frames)
    elapsed = time.perf_counter() - started
    outcome.update(
        frames=result.frames,
        elapsed_s=round(elapsed, 3),
        export_s=round(result.elapsed_s, 3),
        fps=round(result.frames / max(result.elapsed_s, 1e-9), 2),
        ended_early=result.ended_early,
    )
    if result.stopped:
        kept = [str(p) for p in (result.kept, result.kept_log) if p is not None]
        return {**outcome, "state": "stopped", "kept": kept, "summary": result.summary()}
    return {**outcome, "state": "done", "summary": result.summary()}
