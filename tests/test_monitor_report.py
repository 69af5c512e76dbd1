"""The report's parts: which flagged frames it shows, and that it survives odd drives."""

import dataclasses

import numpy as np
from monitor_drives import write_truth_drive

from live_explain.monitor.events import Event
from live_explain.monitor.flagged import FlaggedFrames
from live_explain.monitor.log_reader import read_log
from live_explain.monitor.report import render_report

BOXES = [(10.0, 10.0, 30.0, 30.0), (40.0, 10.0, 60.0, 30.0)]


def outside(frame: int, share: float, track: int | None, row: int = 0) -> Event:
    return Event("attention_outside_box", frame, row, track, share, "")


def test_flagged_frames_keep_the_worst_one_per_track_and_frame():
    flagged = FlaggedFrames(per_kind=2)
    image = np.zeros((40, 80, 3), np.uint8)
    flagged.offer(0, 0.0, [outside(0, 0.4, 1)], BOXES, lambda: image)
    flagged.offer(1, 40.0, [outside(1, 0.1, 1)], BOXES, lambda: image)  # track 1, worse
    flagged.offer(2, 80.0, [outside(2, 0.3, 2), outside(2, 0.2, 3, 1)], BOXES, lambda: image)
    flagged.offer(3, 120.0, [outside(3, 0.35, 4)], BOXES)  # not bad enough to enter
    kept = flagged.thumbnails()
    assert [(t.position, t.event.track_id) for t in kept] == [(1, 1), (2, 3)]
    assert kept[1].box == BOXES[1] and kept[1].jpeg.startswith(b"\xff\xd8")  # a JPEG


def test_flagged_frames_are_chosen_per_kind():
    flagged = FlaggedFrames(per_kind=1)
    flip = Event("class_flip", 5, 0, 1, 1.0, "car -> bus")
    flagged.offer(5, 200.0, [outside(5, 0.2, 1), flip], BOXES)
    assert sorted(t.event.kind for t in flagged.thumbnails()) == [
        "attention_outside_box",
        "class_flip",
    ]


def test_report_escapes_names_and_links_timeline_marks(tmp_path):
    drive = read_log(write_truth_drive(tmp_path))
    header = dataclasses.replace(drive.header, source="<script>alert(1)</script>")
    drive = dataclasses.replace(drive, header=header)
    flagged = FlaggedFrames()
    for position, frame in enumerate(drive.frames):
        flagged.offer(position, frame.pts_ms, frame.events, [d.box for d in frame.detections])
    thumbs = flagged.thumbnails()
    html = render_report([drive], {0: thumbs})
    assert "<script>" not in html and "&lt;script&gt;" in html
    for thumb in thumbs:  # every mark on the timeline leads to a figure
        assert f'href="#d0-f{thumb.position}"' in html and f'id="d0-f{thumb.position}"' in html


def test_report_of_a_drive_without_frames(tmp_path):
    drive = read_log(write_truth_drive(tmp_path))
    empty = dataclasses.replace(drive, frames=[])
    html = render_report([empty])
    assert "No detections." in html and "<svg" in html
