"""What the engine's thread sends the window: immutable, so it can cross threads."""

from __future__ import annotations

from dataclasses import dataclass

from live_explain.io.source import SourceState
from live_explain.model.detector import Detections
from live_explain.realtime.results import FrameResult


@dataclass(frozen=True)
class SourceInfo:
    """What was opened: ``frame_count`` is ``None`` for live sources (no transport)."""

    spec: str
    description: str
    kind: str
    fps: float
    frame_count: int | None

    @property
    def replayable(self) -> bool:
        return self.frame_count is not None


@dataclass(frozen=True)
class FrameUpdate:
    """One explained frame as the GUI shows it.

    ``attention`` is each detection's share of its heatmap's energy inside its own box
    (``None`` per detection when unexplained); ``selection_keys`` the ids a click selects
    (track ids, or row numbers when untracked); ``fps`` the measured display rate.
    """

    result: FrameResult
    attention: tuple[float | None, ...]
    selection_keys: tuple[int, ...]
    position: int
    frame_count: int | None
    fps: float
    events: tuple[str, ...] = ()  # kinds of the monitoring events raised on this frame
    pointing: tuple[bool | None, ...] = ()  # per detection: the map's peak inside its box
    row_events: tuple[str, ...] = ()  # per detection: its events on this frame, joined

    @property
    def detections(self) -> Detections:
        return self.result.detections

    @property
    def source_state(self) -> str:
        """The source's state (a replay, reading frames by index, is always connected)."""
        return self.result.source_state or SourceState.CONNECTED.value


def selection_keys(detections: Detections) -> tuple[int, ...]:
    if detections.track_ids is not None:
        return tuple(int(t) for t in detections.track_ids)
    return tuple(range(len(detections)))
