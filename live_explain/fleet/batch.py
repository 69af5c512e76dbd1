"""A batch: many drives exported into ``OUTDIR/<drive>/`` (video, log, report), a record of
each drive's state (``OUTDIR/batch.jsonl``) and ``OUTDIR/fleet.html`` over them all.

Engines: ``ray`` (one Ray task per drive, on a local instance or a cluster; see
:mod:`live_explain.fleet.ray_engine`) or ``inline`` (the drives one after another in this
process). Both run each drive through :func:`live_explain.fleet.job.run_drive`.

Nothing is lost: OUTDIR must be new, empty or an earlier batch's; a drive that fails is
recorded and the others go on; a drive done by an earlier run with the same settings is
skipped (``force`` redoes it); only complete files ever get their final names; partial files
of an attempt whose worker died are removed once a later attempt has finished that drive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from live_explain import __version__
from live_explain.errors import UserError
from live_explain.fleet.drives import Drive, find_drives
from live_explain.fleet.job import DriveTask, outputs, run_drive
from live_explain.fleet.preflight import check_options, check_outdir, make_outdir, settings_key
from live_explain.fleet.progress import ProgressBoard
from live_explain.fleet.ray_start import RayStart
from live_explain.fleet.record import RECORD_NAME, BatchRecord, read_states
from live_explain.fleet.report import REPORT_NAME_FLEET, read_drive_log, write_fleet_report
from live_explain.sinks.export_job import ExportJob
from live_explain.sinks.output_files import PARTIAL_MARK, locked_by_another

ENGINES = ("ray", "inline")


@dataclass(frozen=True)
class BatchOptions:
    """How to run a batch: ``job`` is the export every drive gets (its input and outputs are
    filled in per drive); ``engine``, Ray's ``address``, resources per drive, Ray's
    ``retries`` of a drive whose worker died, ``force`` (redo drives already done)."""

    outdir: Path
    job: ExportJob
    engine: str = "ray"
    address: str | None = None
    cpus_per_drive: float = 1.0
    gpus_per_drive: float = 0.0
    retries: int = 2
    force: bool = False


@dataclass
class Progress:
    """What a progress bar shows: ``frames`` of ``total`` (``None``: unknown), and counts."""

    frames: int = 0
    total: int | None = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    running: int = 0
    note: str = ""  # what happens before the first frame ("starting Ray", ...)


@dataclass
class BatchResult:
    outdir: Path
    rows: list[tuple[Drive, dict[str, Any]]] = field(default_factory=list)
    elapsed_s: float = 0.0
    startup_s: float | None = None  # Ray's start-up (or join) time
    report: Path | None = None
    interrupted: bool = False

    def count(self, state: str) -> int:
        return sum(1 for _, outcome in self.rows if outcome["state"] == state)

    @property
    def frames(self) -> int:
        """Frames exported by this run (skipped drives' not counted)."""
        return sum(o.get("frames", 0) for _, o in self.rows if o["state"] != "skipped")

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if self.count("failed") else 0

    def summary(self) -> str:
        counts = ", ".join(
            f"{self.count(s)} {s}"
            for s in ("done", "skipped", "failed", "stopped")
            if self.count(s)
        )
        rate = self.frames / max(self.elapsed_s, 1e-9)
        start = f"; Ray ready in {self.startup_s:.1f} s" if self.startup_s is not None else ""
        what = "batch interrupted" if self.interrupted else "batch"
        text = (
            f"{what}: {len(self.rows)} drive{'s' * (len(self.rows) != 1)} ({counts}); "
            f"{self.frames} frames in "
            f"{self.elapsed_s:.1f} s ({rate:.1f} frames/s{start})"
        )
        if self.report is not None:
            text += f"; wrote {self.report}"
        elif self.interrupted:
            text += f"; partial files left as partial, states in {self.outdir / RECORD_NAME}"
        return text


def _is_done(drive: Drive, outdir: Path, previous, key: str) -> bool:
    state = previous.get(drive.name)
    if state is None or state.state not in ("done", "skipped"):
        return False
    if state.source != drive.source or state.settings_key != key:
        return False
    return all(path.is_file() for path in outputs(outdir / drive.name).values())


def _remove_dead_attempts(folder: Path, since_ns: int) -> list[str]:
    """Once a drive is done: partial files in its folder that an attempt of this run left
    when its worker died (killed, out of memory). Only this batch writes OUTDIR while it
    holds the record's lock, so a partial file made since the run started, that no live
    process writes (its lock died with its process), is this run's. Returns their names."""
    removed = []
    for path in folder.glob(f"*{PARTIAL_MARK}*"):
        try:
            made_here = path.is_file() and path.stat().st_ctime_ns >= since_ns
        except OSError:
            continue
        if made_here and not locked_by_another(path):
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


@contextlib.contextmanager
def _signals_held():
    """Ctrl-C and SIGTERM wait until a drive's outcome is recorded (in the record and in
    the result, never one without the other)."""
    held = {signal.SIGINT, signal.SIGTERM}
    try:
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (ValueError, OSError):  # not possible here: record as it comes
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def run_batch(
    inputs: Sequence[str],
    options: BatchOptions,
    progress: Callable[[Progress], None] | None = None,
    ray_start: RayStart | None = None,
) -> BatchResult:
    """Run the batch; the result's rows hold each drive's outcome. Raises :class:`UserError`
    before any drive runs for inputs, OUTDIR or options that cannot work. ``ray_start``: Ray
    already starting (begun by the caller before its imports), else it starts when needed."""
    if options.engine not in ENGINES:
        raise UserError(f"--engine {options.engine}: use one of {', '.join(ENGINES)}")
    check_options(options)
    outdir = check_outdir(options.outdir)
    record_path = outdir / RECORD_NAME
    previous = read_states(record_path)
    known = {state.source: name for name, state in previous.items()}  # folders stay theirs
    drives = find_drives(inputs, known, exclude=(outdir,))
    make_outdir(outdir)
    record = BatchRecord(record_path)  # locked: a second batch into OUTDIR is refused
    try:
        return _BatchRun(options, outdir, record, progress, ray_start).run(drives, previous)
    finally:
        record.close()


class _BatchRun:
    """One run of a batch: plans which drives to skip, runs the rest on the engine, records
    each outcome as it comes, then writes the fleet report and the run's end."""

    def __init__(
        self,
        options: BatchOptions,
        outdir: Path,
        record: BatchRecord,
        progress,
        ray_start: RayStart | None = None,
    ):
        self.options, self.outdir, self.record, self.progress = options, outdir, record, progress
        self.ray_start = ray_start
        self.run_id = uuid.uuid4().hex[:12]
        self.key = settings_key(options.job)
        self.result = BatchResult(outdir)
        self.shown = Progress(total=0)
        self.totals: dict[str, int | None] = {}  # frames of each drive not yet finished
        self.finished_frames = 0
        self.submitted = time.perf_counter()
        self.started_ns = time.time_ns() - 2_000_000_000  # file times may lag a little

    def run(self, drives: Sequence[Drive], previous) -> BatchResult:
        started = time.perf_counter()
        self._start_record(len(drives))
        tasks: list[DriveTask] = []
        try:
            tasks += self._plan(drives, previous)
            self.submitted = time.perf_counter()
            self.on_progress({}, polled=False)
            if self.options.engine == "inline":
                _run_inline(tasks, self.on_outcome, self.on_progress)
            elif tasks:
                self.shown.note = "starting Ray"
                self.on_progress({}, polled=False)
                self.result.startup_s = _run_ray(
                    tasks, self.options, self.on_outcome, self.on_progress, self.ray_start
                )
            self.shown.note = ""
            self.on_progress({}, polled=False)
        except KeyboardInterrupt:
            self.result.interrupted = True
        finished = {d.name for d, _ in self.result.rows}
        for drive in drives:  # drives that never got an outcome (Ctrl-C before they started)
            if drive.name not in finished:
                outcome = {"state": "stopped", "frames": 0, "kept": [], "note": "not started"}
                self._append(drive, outcome)
        order = {d.name: i for i, d in enumerate(drives)}
        self.result.rows.sort(key=lambda row: order[row[0].name])
        self.result.elapsed_s = time.perf_counter() - started
        if not self.result.interrupted:
            try:
                self.result.report = self._fleet_report()
            except KeyboardInterrupt:
                self.result.interrupted = True
        self._end_record()
        return self.result

    def _start_record(self, drives: int) -> None:
        self.record.append(
            {
                "record": "run",
                "run": self.run_id,
                "started": datetime.now().astimezone().isoformat(timespec="seconds"),
                "engine": self.options.engine,
                "drives": drives,
                "settings_key": self.key,
                "settings": dataclasses.asdict(self.options.job.settings),
                "live_explain": __version__,
            }
        )

    def _plan(self, drives: Sequence[Drive], previous) -> list[DriveTask]:
        """The drives' tasks; those done by an earlier run (same settings) are skipped now."""
        options = self.options
        threads, workers = _threads_and_workers(options)
        tasks = []
        for drive in drives:
            if not options.force and _is_done(drive, self.outdir, previous, self.key):
                earlier = previous[drive.name].data
                outcome = {"state": "skipped", "frames": earlier.get("frames", 0)}
                outcome.update({k: earlier[k] for k in ("fps", "elapsed_s") if k in earlier})
                self._append(drive, outcome)
                self.shown.skipped += 1
                continue
            folder = self.outdir / drive.name
            files = outputs(folder)
            job = dataclasses.replace(
                options.job,
                input=drive.source,
                output=files["video"],
                log=files["log"],
                report=files["report"],
                workers=workers,
            )
            hide_gpus = options.engine == "ray" and options.gpus_per_drive == 0
            tasks.append(
                DriveTask(drive, folder, self.run_id, self.record.path, job, threads, hide_gpus)
            )
            self.totals[drive.name] = _probe_frames(drive, options.job.max_frames)
        # Longest first: the last drives to start are short ones, so that the cores stay busy
        # until the end (the record and the report keep the order given).
        tasks.sort(key=lambda t: -(self.totals[t.drive.name] or 0))
        return tasks

    def _append(self, drive: Drive, outcome: dict[str, Any]) -> None:
        line = {"record": "drive", "run": self.run_id, "drive": drive.name}
        line.update(source=drive.source, state=outcome["state"], settings_key=self.key)
        line.update({k: v for k, v in outcome.items() if k not in ("state", "summary")})
        self.record.append(line)
        self.result.rows.append((drive, outcome))

    def on_outcome(self, task: DriveTask, outcome: dict[str, Any]) -> None:
        with _signals_held():
            self._outcome(task, outcome)

    def _outcome(self, task: DriveTask, outcome: dict[str, Any]) -> None:
        outcome.pop("token", None)
        outcome.setdefault("attempt", 1)
        if outcome["state"] == "done" and outcome["attempt"] > 1:
            outcome["removed"] = _remove_dead_attempts(task.folder, self.started_ns)
        outcome["finished_after_s"] = round(time.perf_counter() - self.submitted, 3)
        self._append(task.drive, outcome)
        self.finished_frames += outcome.get("frames", 0)
        self.totals.pop(task.drive.name, None)
        if outcome["state"] in ("done", "failed"):
            setattr(self.shown, outcome["state"], getattr(self.shown, outcome["state"]) + 1)

    def on_progress(self, board: dict[str, dict[str, Any]], polled: bool = True) -> None:
        """``board``: the engine's progress board (``polled``: the engine runs drives)."""
        running = {n: e for n, e in board.items() if n in self.totals}
        for name, entry in running.items():
            if entry.get("total") is not None:
                self.totals[name] = entry["total"]
        shown = self.shown
        shown.frames = self.finished_frames + sum(e.get("frames", 0) for e in running.values())
        known = list(self.totals.values())
        shown.total = None if None in known else self.finished_frames + sum(known)
        shown.running = len(running)
        if polled:  # Ray is up; the drives' workers open their inputs and load the model
            started = any(e.get("total") is not None for e in board.values())
            shown.note = "" if started else "loading models"
        if self.progress is not None:
            self.progress(shown)

    def _fleet_report(self) -> Path:
        rows = []
        for drive, outcome in self.result.rows:
            finished = outcome["state"] in ("done", "skipped")
            drive_log = read_drive_log(self.outdir / drive.name, drive) if finished else None
            rows.append((drive, outcome, drive_log))
        return write_fleet_report(self.outdir / REPORT_NAME_FLEET, rows)

    def _end_record(self) -> None:
        result = self.result
        self.record.append(
            {
                "record": "end",
                "run": self.run_id,
                "interrupted": result.interrupted,
                "elapsed_s": round(result.elapsed_s, 3),
                "startup_s": round(result.startup_s, 3) if result.startup_s is not None else None,
                "frames": result.frames,
                **{s: result.count(s) for s in ("done", "failed", "skipped", "stopped")},
            }
        )


def _threads_and_workers(options: BatchOptions) -> tuple[int | None, int | None]:
    """Torch threads and inference workers of a drive. Ray: one thread per worker, as many
    workers as the drive has CPUs (one on a GPU, with the CPUs as threads). Inline: the
    process's threads and ``--workers``' default."""
    if options.engine == "inline":
        return None, options.job.workers
    cpus = max(1, int(options.cpus_per_drive))
    if options.gpus_per_drive > 0:
        return cpus, 1
    return 1, cpus


def _probe_frames(drive: Drive, max_frames: int | None) -> int | None:
    """A drive's frame count for the progress bar before its worker opens it (cheap)."""
    if "://" in drive.source or not os.path.isfile(drive.source):
        return max_frames
    import cv2

    capture = cv2.VideoCapture(drive.source)
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) if capture.isOpened() else 0
    finally:
        capture.release()
    if count <= 0:
        return max_frames or 0
    return min(count, max_frames) if max_frames else count


def _run_inline(tasks, on_outcome, on_progress) -> None:
    """The drives one after another in this process: a plain loop. Ctrl-C stops the drive in
    flight (its partial files kept) and the batch."""
    live = ProgressBoard(on_update=on_progress)
    for task in tasks:
        try:
            outcome = run_drive(task, live)
        except KeyboardInterrupt:  # while the drive opened: it claimed nothing that stays
            on_outcome(task, {"state": "stopped", "frames": 0, "kept": [], "attempt": 1})
            raise
        on_outcome(task, outcome)
        if outcome["state"] == "stopped":  # only Ctrl-C stops a drive here
            raise KeyboardInterrupt


def _run_ray(tasks, options: BatchOptions, on_outcome, on_progress, start=None) -> float:
    """The drives as Ray tasks; returns Ray's start-up (or join) time."""
    from live_explain.fleet.ray_engine import RayCluster, run_on_ray

    with RayCluster(options.address, start) as cluster:
        cluster.check_resources(options.cpus_per_drive, options.gpus_per_drive)
        run_on_ray(
            tasks,
            cpus=options.cpus_per_drive,
            gpus=options.gpus_per_drive,
            retries=options.retries,
            on_outcome=on_outcome,
            on_progress=on_progress,
        )
    return cluster.startup_s
