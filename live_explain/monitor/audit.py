"""Bias audit over many drives: the same signals and event rates split by class, by image
region (left/centre/right, near/far) and by lighting, so that a systematic weakness (say,
pedestrians on the right at dusk resting on context) shows as a number.

The buckets are defined in :mod:`live_explain.monitor.buckets`; each row gives the number of
detections, the mean ``attention_in_box``, the pointing-game hit rate and, per event kind, the
events per detection (``dropout`` and the other track events count on the detection that
raised them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from live_explain.monitor.buckets import (
    DEPTH_REGIONS,
    HORIZONTAL_REGIONS,
    LIGHTING_BUCKETS,
    depth_region,
    horizontal_region,
)
from live_explain.monitor.runlog import DetectionRecord, DriveLog, FrameRecord
from live_explain.monitor.stats import GroupKey, GroupStats, by_class, grouped


def by_horizontal_region(drive: DriveLog, frame: FrameRecord, detection: DetectionRecord) -> str:
    return horizontal_region(detection.box, drive.header.width)


def by_depth(drive: DriveLog, frame: FrameRecord, detection: DetectionRecord) -> str:
    return depth_region(detection.box, drive.header.height)


def by_lighting(drive: DriveLog, frame: FrameRecord, detection: DetectionRecord) -> str:
    return frame.lighting


@dataclass(frozen=True)
class AuditTable:
    """One split of the detections: ``rows`` in a fixed order, then ``overall``."""

    dimension: str
    rows: list[GroupStats]
    overall: GroupStats


AUDIT_SPLITS: tuple[tuple[str, GroupKey, tuple[str, ...]], ...] = (
    ("class", by_class, ()),
    ("horizontal region", by_horizontal_region, HORIZONTAL_REGIONS),
    ("depth", by_depth, DEPTH_REGIONS),
    ("lighting", by_lighting, LIGHTING_BUCKETS),
)


def bias_audit(drives: Iterable[DriveLog]) -> list[AuditTable]:
    """One :class:`AuditTable` per split in :data:`AUDIT_SPLITS`."""
    drives = list(drives)
    overall = grouped(drives, lambda *_: "all").get("all", GroupStats("all"))
    tables = []
    for dimension, key, order in AUDIT_SPLITS:
        groups = grouped(drives, key)
        names = [n for n in order if n in groups] + sorted(n for n in groups if n not in order)
        tables.append(AuditTable(dimension, [groups[n] for n in names], overall))
    return tables
