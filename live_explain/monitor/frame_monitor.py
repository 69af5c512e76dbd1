"""Signals and events for each :class:`~live_explain.realtime.results.FrameResult`, in frame order.

The one entry point the front ends need (the export sink, the desktop app's detections panel
and its event timeline)::

    monitor = FrameMonitor(Thresholds())
    for result in pipeline.run():
        checked = monitor(result)
        checked.signals.detections[row].attention_in_box   # per detection row
        checked.signals.outside_attention                  # per frame
        checked.events                                     # Event(kind, frame, detection, ...)

Call ``monitor.reset()`` after a seek: the track-based events compare consecutive frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from live_explain.monitor.events import Event, EventDetector, Thresholds
from live_explain.monitor.signals import FrameSignals, frame_signals

if TYPE_CHECKING:
    from live_explain.realtime.results import FrameResult


@dataclass(frozen=True)
class MonitoredFrame:
    """What the monitor made of one frame; immutable so it can cross threads."""

    frame: int
    pts_ms: float
    signals: FrameSignals
    events: tuple[Event, ...]


class FrameMonitor:
    """Computes :class:`FrameSignals` and raises events for each result it is given."""

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.events = EventDetector(thresholds)

    @property
    def thresholds(self) -> Thresholds:
        return self.events.thresholds

    def reset(self) -> None:
        self.events.reset()

    def __call__(self, result: FrameResult) -> MonitoredFrame:
        signals = frame_signals(result.detections)
        index = result.frame.index
        events = self.events.update(index, result.detections, signals)
        return MonitoredFrame(index, float(result.frame.pts_ms), signals, tuple(events))
