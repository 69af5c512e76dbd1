"""``OUTDIR/batch.jsonl``: what each batch run did to each drive, one JSON object a line,
appended (a run never rewrites what an earlier run recorded), flushed line by line.

A run starts with ``{"record": "run", "run": ID, "started": ..., "settings": {...}, ...}``;
each drive then gets one line when it ends:
``{"record": "drive", "run": ID, "drive": NAME, "source": ..., "state": STATE, ...}`` where
STATE is ``done``, ``failed`` (with its one-line ``error``), ``skipped`` (done by an earlier
run with the same settings; its files are there) or ``stopped`` (Ctrl-C: ``kept`` names the
partial files), with ``frames``, ``attempt`` (Ray retries a drive whose worker died),
``elapsed_s``, ``fps`` and ``finished_after_s`` (since the drives were submitted).
The run ends with ``{"record": "end", "run": ID, ...}`` and its counts.

While a run appends, it holds an advisory lock on the file: a second batch into the same
OUTDIR is refused in one line.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from live_explain.errors import UserError

RECORD_NAME = "batch.jsonl"
STATES = ("done", "failed", "skipped", "stopped")


@dataclass(frozen=True)
class DriveState:
    """A drive's last recorded outcome."""

    drive: str
    source: str
    state: str
    settings_key: str
    data: dict[str, Any]


def read_states(path: Path) -> dict[str, DriveState]:
    """Each drive's last recorded state in ``path`` (empty when there is none). A line cut off
    by a crash, or one that is not this format, is passed over."""
    states: dict[str, DriveState] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return states
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror})") from None
    for line in lines:
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict) or data.get("record") != "drive":
            continue
        drive, source, state = data.get("drive"), data.get("source"), data.get("state")
        if isinstance(drive, str) and isinstance(source, str) and state in STATES:
            states[drive] = DriveState(drive, source, state, str(data.get("settings_key")), data)
    return states


def is_batch_record(path: Path) -> bool:
    """Whether ``path`` starts like a batch record (so its folder is a batch's OUTDIR)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            first = file.readline()
        return json.loads(first).get("record") == "run"
    except (OSError, ValueError, AttributeError):
        return False


class BatchRecord:
    """The open record of this run: :meth:`append` a line, :meth:`close` at the end."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        except OSError as exc:
            raise UserError(f"{path}: cannot be written ({exc.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserError(
                f"{path.parent}: another batch writes to this folder now; wait for it or "
                "choose another -o"
            ) from None
        except OSError:
            pass  # a file system without locks: only the early refusal is lost
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        if self._file.tell() > 0:  # a line an earlier run could not finish ends here
            with open(path, "rb") as tail:
                tail.seek(-1, os.SEEK_END)
                if tail.read(1) != b"\n":
                    self._file.write("\n")

    def append(self, data: dict[str, Any]) -> None:
        try:
            self._file.write(json.dumps(data, separators=(",", ":"), default=str) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())  # other nodes read it (a network file system)
        except OSError as exc:  # a full disk
            raise UserError(f"{self.path}: cannot be written ({exc.strerror})") from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
