"""The drive log: written by the export's sink, read back by the reader, exactly."""

import json
import logging

import pytest
from monitor_drives import FLIP_FRAME, GONE_FRAMES, truth_results, write_truth_drive

from live_explain.errors import UserError
from live_explain.monitor.events import Thresholds
from live_explain.monitor.frame_monitor import FrameMonitor
from live_explain.monitor.log_reader import read_log
from live_explain.monitor.runlog import (
    SCHEMA_VERSION,
    LogError,
    faithfulness_json,
    frame_json,
    header_json,
)
from live_explain.monitor.sink import DriveInfo, DriveMonitorSink


def test_log_round_trips_through_the_reader(tmp_path):
    log = write_truth_drive(tmp_path)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    drive = read_log(log)
    assert drive.complete and drive.header.schema_version == SCHEMA_VERSION
    assert lines[0] == header_json(drive.header)
    assert [frame_json(f) for f in drive.frames] == lines[1:]  # nothing lost or changed
    assert (drive.header.width, drive.header.height) == (320, 180)
    assert drive.header.thresholds == {
        "attention_in_box": 0.5,
        "flicker": 0.5,
        "dropout_gap": 5,
        "low_score": 0.6,
        "low_score_frames": 10,
    }
    assert not list(tmp_path.glob("*.partial*"))


def test_log_holds_what_the_monitor_saw(tmp_path):
    drive = read_log(write_truth_drive(tmp_path))
    monitor = FrameMonitor()
    for result, record in zip(truth_results(), drive.frames, strict=True):
        checked = monitor(result)
        assert record.frame == result.frame.index and record.pts_ms == result.frame.pts_ms
        assert [d.label for d in record.detections] == result.detections.names
        assert [d.track_id for d in record.detections] == result.detections.track_ids.tolist()
        for row, detection in enumerate(record.detections):
            signal = checked.signals.detections[row]
            assert detection.attention_in_box == pytest.approx(signal.attention_in_box, abs=1e-4)
            assert detection.pointing_hit is True and detection.peak_xy == signal.peak_xy
            assert detection.box == pytest.approx(result.detections.boxes[row], abs=0.051)
        assert [(e.kind, e.detection, e.track_id) for e in record.events] == [
            (e.kind, e.detection, e.track_id) for e in checked.events
        ]
        assert record.lighting == "dusk" and record.latency_ms == 5.0
    kinds = {(f.frame, e.kind) for f in drive.frames for e in f.events}
    assert (FLIP_FRAME, "class_flip") in kinds and (GONE_FRAMES[-1] + 1, "dropout") in kinds
    assert not any(k == "attention_outside_box" for _, k in kinds)  # maps on their objects


def test_interrupted_log_keeps_a_readable_partial_file(tmp_path):
    log = tmp_path / "cut.jsonl"
    drive = DriveInfo("synthetic", "synthetic", 25.0)
    sink = DriveMonitorSink(drive, Thresholds(), log_path=log)
    for result, _ in zip(truth_results(), range(4), strict=False):
        sink.write(result)
    kept = sink.abort()
    assert kept.parent == tmp_path and kept.name.startswith("cut.partial-") and not log.exists()
    assert kept.suffix == ".jsonl"
    with kept.open("a") as file:
        file.write('{"record":"frame","frame":4,"pts')  # the line being written at the kill
    partial = read_log(kept)
    assert len(partial.frames) == 4 and not partial.complete


def test_faithfulness_records_round_trip(tmp_path):
    from live_explain.monitor.runlog import FaithfulnessRecord, RunLogWriter

    log = tmp_path / "f.jsonl"
    writer = RunLogWriter(log)
    writer.write_header(read_log(write_truth_drive(tmp_path)).header)
    curves = (1.0, 0.5, 0.0), (0.0, 1.0, 1.0)
    record = FaithfulnessRecord("hirescam", (3, 9), 4, 2, "blur", 0.25, 0.75, *curves)
    writer.write_faithfulness(record)
    writer.close()
    [back] = read_log(log).faithfulness
    assert faithfulness_json(back) == faithfulness_json(record)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("just some notes\n", "not a live-explain log"),
        ('{"record":"frame","frame":0}\n', "not a live-explain log"),
        ('{"record":"drive","schema_version":99}\n', "schema_version 99 is not supported"),
    ],
)
def test_reader_rejects_what_is_not_a_log(tmp_path, content, message):
    path = tmp_path / "drive.jsonl"
    if content is not None:
        path.write_text(content)
    with pytest.raises(LogError, match=message) as caught:
        read_log(path)
    assert isinstance(caught.value, UserError) and "\n" not in str(caught.value)


def test_reader_names_a_malformed_line(tmp_path, caplog):
    log = write_truth_drive(tmp_path)
    lines = log.read_text().splitlines()
    lines[2] = '{"record":"frame","frame":1}'  # no detections, no pts
    lines[3] = "{oops"
    log.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="live_explain"):
        drive = read_log(log)  # the good part: the frame before the malformed line
    assert len(drive.frames) == 1 and not drive.complete
    assert caplog.messages == [
        f"{log}: line 3 is malformed (detections is missing); the report covers the 1 frame "
        "before it"
    ]
    lines[1] = lines[2]  # no good frame before it: an error
    log.write_text("\n".join(lines) + "\n")
    with pytest.raises(LogError, match=r"line 2 is malformed \(detections is missing\)$"):
        read_log(log)


def test_report_alone_leaves_no_log_behind(tmp_path):
    report = tmp_path / "only.html"
    drive = DriveInfo("synthetic", "synthetic", 25.0)
    sink = DriveMonitorSink(drive, Thresholds(), report_path=report)
    scratch = sink.writer.path.parent
    for result in truth_results(frames=4):
        sink.write(result)
    assert sink.close() == [f"wrote {report}: drive report"]
    assert list(tmp_path.iterdir()) == [report] and not scratch.exists()
    assert "Drive report" in report.read_text()
