"""What the drives of a batch report while they run: a :class:`ProgressBoard` held by the
batch (a Ray actor, or a plain object for the inline engine). Each attempt at a drive starts
with :meth:`ProgressBoard.begin`, so a drive that Ray retries after its worker died counts its
frames again from 0; every call answers whether the batch asks its drives to stop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ProgressBoard:
    """``on_update``: called with :meth:`snapshot` after each report (the inline engine's
    progress bar; a Ray actor has none, the batch polls it)."""

    def __init__(self, on_update: Callable[[dict], None] | None = None) -> None:
        self.drives: dict[str, dict[str, Any]] = {}
        self.stop = False
        self.on_update = on_update

    def begin(self, drive: str, pid: int, host: str) -> int:
        """A new attempt at ``drive`` by process ``pid`` on ``host``: its number (1, 2...)."""
        entry = self.drives.setdefault(drive, {"attempt": 0, "partials": []})
        entry.update(attempt=entry["attempt"] + 1, frames=0, total=None, pid=pid, host=host)
        return entry["attempt"]

    def started(self, drive: str, attempt: int, total: int | None, partials: list[str]) -> bool:
        """The attempt opened its input (``total`` frames, where known) and writes to
        ``partials``."""
        entry = self.drives[drive]
        entry["partials"].append({"attempt": attempt, "files": list(partials)})
        if entry["attempt"] == attempt:
            entry["total"] = total
        return self.stop

    def update(self, drive: str, attempt: int, frames: int) -> bool:
        entry = self.drives.get(drive)
        if entry is not None and entry["attempt"] == attempt:
            entry["frames"] = frames
        if self.on_update is not None:
            self.on_update(self.snapshot())
        return self.stop

    def request_stop(self) -> None:
        self.stop = True

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: dict(entry) for name, entry in self.drives.items()}
