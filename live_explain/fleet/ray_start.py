"""Ray's start, begun early: ``batch`` starts the local instance (or joins the cluster) in a
thread of its own while it imports torch and plans its drives, and then has the workers import
the export code while the first drives are submitted. Nothing here imports torch.

Without an address a fresh local instance starts (``address="local"``, even where a cluster
runs on this machine); with one (``--address`` or ``RAY_ADDRESS``) the batch joins it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from live_explain.errors import UserError, one_line

LOCAL_OBJECT_STORE_BYTES = 256 * 1024 * 1024  # outcomes are small; no need for Ray's 30 % of RAM
MAX_WARM_WORKERS = 16  # at most this many workers import the export code ahead of the drives


def check_address(address: str) -> None:
    """A ``host:port`` address that nothing answers at: one line now, not Ray's retries."""
    if address in ("auto", "local") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--address {address}: expected HOST:PORT (the head's GCS port, 6379)")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except OSError as exc:
        raise UserError(
            f"--address {address}: no Ray cluster answers there ({exc.strerror or exc}); "
            "start one with 'ray start --head', or leave --address out for a local instance"
        ) from None


def token_mode() -> None:
    """Clusters that ``ray start --head`` makes (Ray 2.5x and later) ask for the token it
    writes to ``~/.ray/auth_token``; a client sends it only in token mode. Where a token is
    here and no mode is set, send it (a cluster without authentication ignores it)."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    token_file = os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or os.path.isfile(token_file):
        os.environ["RAY_AUTH_MODE"] = "token"


def init_options(started_local: bool) -> dict[str, Any]:
    options: dict[str, Any] = dict(
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
    )
    if started_local:
        options["object_store_memory"] = LOCAL_OBJECT_STORE_BYTES
        # Ray runs its workers at nice 15; the drives are this command's work, and run at
        # the priority that `export` would have.
        options["_system_config"] = {"worker_niceness": 0}
    return options


def _warm() -> None:
    """In a worker: import what a drive runs (torch, torchvision, PyAV, OpenCV, the export)."""
    import live_explain.fleet.job  # noqa: F401


class RayStart:
    """``begin()`` checks the address at once and starts Ray in a thread; ``wait()`` joins it
    (raising its failure as one line); ``startup_s``: how long the start took."""

    def __init__(self, address: str | None, cpus_per_drive: float = 1.0, warm: bool = True):
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.started_local = self.address is None
        self.cpus_per_drive, self.warm = cpus_per_drive, warm
        self.startup_s = 0.0
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()  # Ray is up (or failed to come up)
        self._release = threading.Event()  # Ray is shut down: the keeping thread may end

    def begin(self) -> RayStart:
        if self.address is not None:
            check_address(self.address)
            token_mode()  # before Ray is imported: it reads its settings then
        self._thread = threading.Thread(target=self._start, name="ray-start", daemon=True)
        self._thread.start()
        return self

    def _start(self) -> None:
        """Start Ray, then keep this thread alive until Ray is shut down: a local instance's
        processes are bound to the thread that started them (they die with it)."""
        started = time.perf_counter()
        try:
            import ray

            ray.init(address=self.address or "local", **init_options(self.started_local))
            self.startup_s = time.perf_counter() - started
            if self.warm:
                self._warm_workers(ray)
        except BaseException as exc:  # raised in the caller's thread by wait()
            self._error = exc
            return
        finally:
            self._ready.set()
        self._release.wait()

    def _warm_workers(self, ray) -> None:
        """As many workers as drives can run at once import the export code now, while the
        batch still plans; the drives then start on workers that have it (Ray keeps a
        task's worker for the next task of the same shape)."""
        slots = int(ray.cluster_resources().get("CPU", 0) // max(self.cpus_per_drive, 1e-6))
        warm = ray.remote(num_cpus=self.cpus_per_drive)(_warm)
        for _ in range(min(slots, MAX_WARM_WORKERS)):
            warm.remote()

    def close(self, timeout_s: float = 120.0) -> None:
        """After the batch, whatever happened: the start is finished (a local instance half
        started when the batch stopped would outlive it) and Ray shut down."""
        if self._thread is None:
            return
        self._ready.wait(timeout_s)
        try:
            if self._error is None:
                import ray

                if ray.is_initialized():
                    ray.shutdown()
        finally:
            self._release.set()
            self._thread.join(timeout_s)

    def wait(self) -> None:
        if self._thread is None:
            self.begin()
        self._ready.wait()
        exc = self._error
        if exc is None:
            return
        if isinstance(exc, ImportError):
            raise UserError(
                "batch runs on Ray, which is not installed: pip install 'live-explain[fleet]', "
                "or run the drives one after another with --engine inline"
            ) from None
        if isinstance(exc, (ConnectionError, RuntimeError, ValueError)):
            if self.started_local:
                raise UserError(
                    f"Ray could not start a local instance: {one_line(exc, 200)}"
                ) from None
            raise UserError(
                f"Ray could not join the cluster at {self.address}: {one_line(exc, 160)} (a "
                "cluster with token authentication needs its token: RAY_AUTH_TOKEN, or "
                "~/.ray/auth_token copied from the head)"
            ) from None
        raise exc
