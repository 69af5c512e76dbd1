"""What the drives of a batch report while they run: a :class:`ProgressBoard` held by the
batch (a Ray actor, or a plain object for the inline engine).

Drives only ever send to it, never wait for an answer: a Ray task blocked in ``ray.get``
lends its CPU to the next queued task, and two drives would then share one core. Each
attempt at a drive starts with :meth:`ProgressBoard.begin` under a token of its own, so a
drive that Ray retries after its worker died counts its frames again from 0, and the board
knows which partial files each attempt wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ProgressBoard:
    """``on_update``: called with :meth:`snapshot` after each report (the inline engine's
    progress bar; a Ray actor has none, the batch polls it)."""

    def __init__(self, on_update: Callable[[dict], None] | None = None) -> None:
        self.drives: dict[str, dict[str, Any]] = {}
        self.on_update = on_update

    def begin(self, drive: str, token: str, pid: int, host: str) -> None:
        """A new attempt at ``drive`` (numbered 1, 2...) by process ``pid`` on ``host``."""
        entry = self.drives.setdefault(drive, {"attempt": 0, "partials": [], "tokens": {}})
        entry["attempt"] += 1
        entry["tokens"][token] = entry["attempt"]
        entry.update(token=token, frames=0, total=None, pid=pid, host=host)

    def started(self, drive: str, token: str, total: int | None, partials: list[str]) -> None:
        """The attempt opened its input (``total`` frames, where known) and writes to
        ``partials``."""
        entry = self.drives[drive]
        entry["partials"].append({"attempt": entry["tokens"][token], "files": list(partials)})
        if entry["token"] == token:
            entry["total"] = total
        self._changed()

    def update(self, drive: str, token: str, frames: int) -> None:
        entry = self.drives.get(drive)
        if entry is not None and entry["token"] == token:
            entry["frames"] = frames
        self._changed()

    def _changed(self) -> None:
        if self.on_update is not None:
            self.on_update(self.snapshot())

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {name: dict(entry) for name, entry in self.drives.items()}


def attempt_of(entry: dict[str, Any] | None, token: str | None) -> int:
    """The number of the attempt with ``token`` (else the drive's latest)."""
    if not entry:
        return 1
    return entry["tokens"].get(token, entry["attempt"])


def partials_of(entry: dict[str, Any] | None, attempt: int | None = None) -> list[str]:
    """The partial files the attempt ``attempt`` (``None``: every attempt) registered."""
    return [
        name
        for registered in (entry or {}).get("partials", [])
        if attempt is None or registered["attempt"] == attempt
        for name in registered["files"]
    ]
