"""The Ray engine of ``batch``: one Ray task per drive (frame order within a drive is kept,
which tracking and map reuse need), scheduled by Ray over the local instance or a cluster.

Without an address, a local Ray instance starts with the batch and stops with it. With one
(``--address`` or ``RAY_ADDRESS``), the batch joins that cluster and leaves it running. A
worker process that dies (``kill -9``, out of memory) is retried by Ray (``max_retries``); an
error in the drive itself is not retried, it is that drive's outcome.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from live_explain.errors import UserError, one_line
from live_explain.fleet.job import DriveTask, run_drive
from live_explain.fleet.progress import ProgressBoard, attempt_of, partials_of
from live_explain.fleet.ray_start import RayStart
from live_explain.sinks.output_files import locked_by_another

STOP_WAIT_S = 30.0  # after Ctrl-C, how long running drives get to close their partial files
POLL_S = 0.5

Outcome = Callable[[DriveTask, dict[str, Any]], None]
Progress = Callable[[dict[str, dict[str, Any]]], None]


class RayCluster:
    """Joined (or started) for the time of a ``with`` block; ``started_local``: this batch
    started the instance (and stops it); ``startup_s``: how long joining took."""

    def __init__(self, address: str | None, start: RayStart | None = None) -> None:
        self.start = start or RayStart(address, warm=False)
        self.address = self.start.address
        self.started_local = self.start.started_local
        self.startup_s = 0.0

    def __enter__(self) -> RayCluster:
        """Joined once the start (begun early, or now) is done."""
        self.start.wait()
        self.startup_s = self.start.startup_s
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):
            self.start.close()

    @staticmethod
    def check_resources(cpus: float, gpus: float) -> None:
        """Some node of the cluster can hold one drive (its CPUs and GPUs together): else
        Ray would wait for such a node forever. (On a cluster that adds nodes on demand,
        keep one node of the kind the drives need running.)"""
        import ray

        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        if any(n.get("CPU", 0.0) >= cpus and n.get("GPU", 0.0) >= gpus for n in nodes):
            return
        most_cpus = max((n.get("CPU", 0.0) for n in nodes), default=0.0)
        most_gpus = max((n.get("GPU", 0.0) for n in nodes), default=0.0)
        if gpus > most_gpus:
            raise UserError(
                f"--gpus-per-drive {gpus:g}: no node of the cluster has "
                + ("a GPU" if most_gpus == 0 else f"that many GPUs (the most is {most_gpus:g})")
            )
        if cpus > most_cpus:
            raise UserError(
                f"--cpus-per-drive {cpus:g}: no node of the cluster has that many CPUs "
                f"(the most is {most_cpus:g})"
            )
        raise UserError(
            f"--cpus-per-drive {cpus:g} with --gpus-per-drive {gpus:g}: no node of the "
            "cluster has both"
        )


def _failure(exc: BaseException, entry: dict[str, Any] | None) -> dict[str, Any]:
    """The outcome of a drive whose task Ray could not finish (cancelled by Ctrl-C, or its
    worker dead beyond the retries): the partial files that exist are kept and named."""
    import ray

    attempts = (entry or {}).get("attempt", 0)
    kept = [f for f in partials_of(entry, attempts) if os.path.exists(f)]
    if isinstance(exc, ray.exceptions.TaskCancelledError):
        return {"state": "stopped", "attempt": attempts, "frames": 0, "kept": kept}
    if isinstance(exc, ray.exceptions.WorkerCrashedError | ray.exceptions.NodeDiedError):
        error = f"its worker process died {attempts} time(s) (killed, or out of memory)"
    elif isinstance(exc, ray.exceptions.RayTaskError):
        error = f"internal error in its task ({one_line(exc.cause, 200)})"
    else:
        error = f"Ray could not run it ({type(exc).__name__}: {one_line(exc, 200)})"
    if kept:
        error += f"; partial files kept: {', '.join(kept)}"
    return {"state": "failed", "attempt": attempts, "frames": 0, "error": error, "kept": kept}


def _wait_unlocked(files: Sequence[str], deadline: float) -> None:
    """Until no live process writes ``files`` (a cancelled drive closing its partial files)."""
    while time.monotonic() < deadline and any(
        os.path.exists(f) and locked_by_another(Path(f)) for f in files
    ):
        time.sleep(0.1)


def run_on_ray(
    tasks: Sequence[DriveTask],
    *,
    cpus: float,
    gpus: float,
    retries: int,
    on_outcome: Outcome,
    on_progress: Progress,
) -> None:
    """Run every task on the joined cluster, calling ``on_outcome`` as each drive ends and
    ``on_progress`` with the board twice a second. Ctrl-C cancels every drive (a running one
    stops after its frame in flight and keeps its partial files), waits for them to close
    their files, gives their outcomes, then raises KeyboardInterrupt."""
    run = _RayRun(tasks, cpus, gpus, retries, on_outcome)
    try:
        while run.pending:
            run.collect()
            on_progress(run.snapshot)
    except KeyboardInterrupt:
        run.stop()
        raise


class _RayRun:
    """The drives' tasks in flight, the progress board, and what is left to collect."""

    def __init__(self, tasks, cpus: float, gpus: float, retries: int, on_outcome) -> None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # The board lives beside the batch (on this node) and comes back if its process dies.
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=True)
        self.board = (
            ray.remote(num_cpus=0, max_restarts=-1, max_task_retries=-1)(ProgressBoard)
            .options(scheduling_strategy=here)
            .remote()
        )
        remote = ray.remote(
            num_cpus=cpus,
            num_gpus=gpus,
            max_calls=1 if gpus else 0,  # a GPU drive's worker ends with it (CUDA state)
            max_retries=retries,
            retry_exceptions=False,
        )(run_drive)
        self.refs = {remote.remote(task, self.board): task for task in tasks}
        self.pending = list(self.refs)
        self.snapshot: dict[str, dict[str, Any]] = {}
        self.on_outcome = on_outcome

    def look(self) -> None:
        import ray

        with contextlib.suppress(Exception):  # the board restarting: keep the last look
            self.snapshot = ray.get(self.board.snapshot.remote(), timeout=10)

    def collect(self) -> None:
        """Wait a moment; record the drives that ended."""
        import ray

        done, _ = ray.wait(self.pending, num_returns=len(self.pending), timeout=POLL_S)
        self.look()
        for ref in done:
            task = self.refs[ref]
            entry = self.snapshot.get(task.drive.name)
            try:
                outcome = ray.get(ref)
            except Exception as exc:  # cancelled; its worker died beyond its retries; ...
                outcome = _failure(exc, entry)
            outcome["attempt"] = attempt_of(entry, outcome.pop("token", None))
            self.on_outcome(task, outcome)
            self.pending.remove(ref)  # only once its outcome is recorded

    def stop(self) -> None:
        """Cancel every drive, wait for them to close their files, record them."""
        import ray

        deadline = time.monotonic() + STOP_WAIT_S
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: stop waiting
            for ref in self.pending:
                ray.cancel(ref, force=False)  # a KeyboardInterrupt in the drive's task
            while self.pending and time.monotonic() < deadline:
                self.collect()
            files = [f for entry in self.snapshot.values() for f in partials_of(entry)]
            _wait_unlocked(files, deadline)
        for ref in list(self.pending):
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
            entry = self.snapshot.get(self.refs[ref].drive.name)
            self.on_outcome(self.refs[ref], _failure(ray.exceptions.TaskCancelledError(), entry))
            self.pending.remove(ref)
