"""Hostile input through the real CLI: every case fails in one line (or succeeds where it
should), and no file that existed before the run is changed, replaced or removed.

The table runs in-process (``main(argv)``); signals, a full disk, two runs at once and a
stalled network stream run the CLI as a child process or beside it.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import cv2
import pytest
from conftest import MEDIA, make_video, video_info, wait_for

from live_explain.cli.main import main

DEMO = ("--model", "demo", "--weights", "demo")


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A folder of a user's files: videos, images, texts, a folder, an old export."""
    make_video(tmp_path / "clip.mp4", frames=12, size=(160, 96))
    shutil.copy(tmp_path / "clip.mp4", tmp_path / "vic.partial.mp4")
    photo = cv2.imread(str(MEDIA / "whiteCarLaneSwitch.jpg"))
    cv2.imwrite(str(tmp_path / "road.png"), cv2.resize(photo, (320, 180)))
    (tmp_path / "frames").mkdir()
    for i in range(3):
        cv2.imwrite(str(tmp_path / "frames" / f"f{i}.png"), cv2.resize(photo, (160, 90)))
    (tmp_path / "emptydir").mkdir()
    (tmp_path / "notes.txt").write_text("my notes\n")
    (tmp_path / "fake.mp4").write_text("this is not a video\n")
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "existing.mp4").write_bytes(b"previous export")
    (tmp_path / "taken.mp4.json").write_text('{"mine": true}\n')
    (tmp_path / "bad.jsonl").write_text("not json at all\n")
    (tmp_path / "weights.pt").write_text("not a torch file\n")
    (tmp_path / "weightsdir").mkdir()
    (tmp_path / "loop.mp4").symlink_to("loop.mp4")
    (tmp_path / "deep.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n")
    (tmp_path / "bomb.png").write_bytes(pixel_bomb_png(60_000, 60_000))
    (tmp_path / "dangling.mp4").symlink_to("gone/nowhere.mp4")
    (tmp_path / "readonly.mp4").write_bytes(b"a file the user protected")
    (tmp_path / "readonly.mp4").chmod(0o444)
    (tmp_path / "cut.jpg").write_bytes((MEDIA / "whiteCarLaneSwitch.jpg").read_bytes()[:20_000])
    monkeypatch.chdir(tmp_path)
    return tmp_path


def pixel_bomb_png(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder``: its content hash and modification time."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            files[str(path.relative_to(folder))] = (os.readlink(path), 0)
        elif path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            files[str(path.relative_to(folder))] = (digest, path.stat().st_mtime_ns)
    return files


def assert_nothing_lost(before: dict, after: dict, new_allowed: tuple[str, ...] = ()) -> None:
    for name, state in before.items():
        assert name in after, f"{name} was removed"
        assert after[name] == state, f"{name} was changed"
    new = sorted(set(after) - set(before) - set(new_allowed))
    assert not new, f"files left behind: {new}"


# (case id, argv, substring of the one error line). Every case exits 2.
FAILURES = [
    # option values
    ("fps-zero", ["export", "frames", "-o", "o.mp4", "--fps", "0"], "--fps: must be more than 0"),
    ("fps-negative", ["export", "frames", "-o", "o.mp4", "--fps", "-5"], "more than 0"),
    ("fps-nan", ["export", "frames", "-o", "o.mp4", "--fps", "nan"], "finite"),
    ("fps-inf", ["export", "frames", "-o", "o.mp4", "--fps", "inf"], "finite"),
    ("fps-word", ["export", "frames", "-o", "o.mp4", "--fps", "fast"], "not a number"),
    ("fps-huge", ["export", "frames", "-o", "o.mp4", "--fps", "1e300"], "0.01 to 1000"),
    ("fps-tiny", ["record", "frames", "-o", "r.mp4", "--fps", "1e-300"], "0.01 to 1000"),
    ("report-deep-json", ["report", "deep.jsonl", "-o", "r.html"], "not a live-explain log"),
    (
        "budget-huge",
        ["export", "clip.mp4", "-o", "o.mp4", "--explain-budget", "1" + "0" * 400],
        "at most",
    ),
    ("topk-zero", ["export", "clip.mp4", "-o", "o.mp4", "--topk", "0"], "at least 1"),
    ("topk-huge", ["export", "clip.mp4", "-o", "o.mp4", "--topk", "1000000000"], "at most 100"),
    ("topk-word", ["export", "clip.mp4", "-o", "o.mp4", "--topk", "all"], "whole number"),
    ("score-nan", ["export", "clip.mp4", "-o", "o.mp4", "--score-thresh", "nan"], "finite"),
    ("alpha-big", ["export", "clip.mp4", "-o", "o.mp4", "--alpha", "2"], "between 0 and 1"),
    ("alpha-nan", ["export", "clip.mp4", "-o", "o.mp4", "--alpha", "nan"], "finite"),
    ("smooth-neg", ["explain", "road.png", "-o", "o.png", "--smooth", "-1"], "0 to 64"),
    ("smooth-huge", ["explain", "road.png", "-o", "o.png", "--smooth", "99999"], "0 to 64"),
    ("max-frames-0", ["export", "clip.mp4", "-o", "o.mp4", "--max-frames", "0"], "at least 1"),
    ("start-neg", ["export", "clip.mp4", "-o", "o.mp4", "--start", "-1"], "negative"),
    ("end-nan", ["export", "clip.mp4", "-o", "o.mp4", "--end", "nan"], "finite"),
    ("end-before", ["export", "clip.mp4", "-o", "o.mp4", "--start", "5", "--end", "2"], "after"),
    ("fidelity-nan", ["export", "clip.mp4", "-o", "o.mp4", "--reuse-fidelity", "nan"], "finite"),
    ("fidelity-neg", ["export", "clip.mp4", "-o", "o.mp4", "--reuse-fidelity", "-1"], "fidelity"),
    ("smooth-alpha", ["export", "clip.mp4", "-o", "o.mp4", "--smooth-alpha", "7"], "alpha"),
    ("budget-word", ["export", "clip.mp4", "-o", "o.mp4", "--explain-budget", "lots"], "budget"),
    ("method", ["export", "clip.mp4", "-o", "o.mp4", "--method", "magic"], "invalid choice"),
    ("model", ["export", "clip.mp4", "-o", "o.mp4", "--model", "yolov99"], "yolov99"),
    ("device", ["export", "clip.mp4", "-o", "o.mp4", "--device", "tpu"], "invalid choice"),
    ("workers-0", ["export", "clip.mp4", "-o", "o.mp4", "--workers", "0"], "at least 1"),
    ("workers-word", ["export", "clip.mp4", "-o", "o.mp4", "--workers", "many"], "whole number"),
    ("unknown-option", ["export", "clip.mp4", "-o", "o.mp4", "--turbo"], "unrecognized"),
    ("no-command", [], "required"),
    ("cam-detector", ["explain", "road.png", "-o", "o.png", *DEMO, "--method", "cam"], "cam"),
    ("method-none", ["explain", "road.png", "-o", "o.png", "--method", "none"], "none"),
    ("classes", ["export", "clip.mp4", "-o", "o.mp4", *DEMO, "--classes", "unicorn"], "unicorn"),
    ("layer", ["export", "clip.mp4", "-o", "o.mp4", *DEMO, "--layer", "no.such"], "no.such"),
    # weights
    ("weights-missing", ["export", "clip.mp4", "-o", "o.mp4", "--weights", "nope.pt"], "nope"),
    ("weights-text", ["explain", "road.png", "-o", "o.png", "--weights", "weights.pt"], "weights"),
    ("weights-dir", ["explain", "road.png", "-o", "o.png", "--weights", "weightsdir"], "weights"),
    # inputs
    ("input-missing", ["export", "missing.mp4", "-o", "o.mp4"], "no such file"),
    ("input-empty", ["export", "empty.mp4", "-o", "o.mp4"], "empty"),
    ("input-text", ["export", "fake.mp4", "-o", "o.mp4"], "not a readable video"),
    ("input-notes", ["export", "notes.txt", "-o", "o.mp4"], "not a readable video"),
    ("input-no-images", ["export", "emptydir", "-o", "o.mp4"], "no images"),
    ("input-scheme", ["export", "ftp://example.org/a.mp4", "-o", "o.mp4"], "scheme"),
    ("input-devnull", ["export", "/dev/null", "-o", "o.mp4"], "/dev/null"),
    ("input-empty-name", ["export", "", "-o", "o.mp4"], "empty name"),
    ("input-blank-name", ["export", "  ", "-o", "o.mp4"], "empty name"),
    ("input-symlink-loop", ["export", "loop.mp4", "-o", "o.mp4"], "loop.mp4"),
    ("input-camera-huge", ["export", "9" * 30, "-o", "o.mp4"], "no such camera"),
    ("input-superscript", ["export", "\u00b2", "-o", "o.mp4"], "no such file"),
    ("input-bad-ipv6", ["export", "http://[::1/x.mp4", "-o", "o.mp4"], "not a valid URL"),
    ("input-pixel-bomb", ["export", "bomb.png", "-o", "o.mp4"], "too large"),
    ("explain-pixel-bomb", ["explain", "bomb.png", "-o", "o.png"], "too large"),
    ("out-symlink-loop", ["export", "clip.mp4", "-o", "loop.mp4"], "loop.mp4"),
    ("start-on-folder", ["export", "frames", "-o", "o.mp4", "--start", "1"], "video files"),
    ("explain-video", ["explain", "clip.mp4", "-o", "o.png"], "not a readable image"),
    ("explain-missing", ["explain", "nope.png", "-o", "o.png"], "no such file"),
    ("report-missing", ["report", "nope.jsonl", "-o", "r.html"], "nope.jsonl"),
    ("report-not-json", ["report", "bad.jsonl", "-o", "r.html"], "bad.jsonl"),
    ("bench-missing", ["bench", "missing.mp4", "--json"], "no such file"),
    ("record-missing", ["record", "missing.mp4", "-o", "rec.mp4"], "no such file"),
    # outputs
    ("out-is-input", ["export", "clip.mp4", "-o", "clip.mp4"], "same as the input"),
    ("out-is-input-abs", ["export", "clip.mp4", "-o", "./frames/../clip.mp4"], "same as the input"),
    ("out-suffix", ["export", "clip.mp4", "-o", "o.avi"], "must end in"),
    ("out-folder-missing", ["export", "clip.mp4", "-o", "no/such/o.mp4"], "does not exist"),
    ("out-is-folder", ["export", "clip.mp4", "-o", "emptydir.mp4", "--max-frames", "1"], None),
    ("out-parent-file", ["export", "clip.mp4", "-o", "notes.txt/o.mp4"], "not a folder"),
    ("out-partial-name", ["export", "clip.mp4", "-o", "x.partial-abc.mp4"], "partial"),
    ("log-is-output", ["export", "clip.mp4", "-o", "o.mp4", "--log", "o.mp4"], "must end in"),
    ("log-is-input", ["export", "bad.jsonl", "-o", "o.mp4", "--log", "bad.jsonl"], "same as"),
    ("report-suffix", ["export", "clip.mp4", "-o", "o.mp4", "--report", "r.txt"], "must end in"),
    (
        "log-report-same",
        ["export", "clip.mp4", "-o", "o.mp4", "--log", "a.jsonl", "--report", "a.jsonl"],
        "must end in",
    ),
    ("faith-no-log", ["export", "clip.mp4", "-o", "o.mp4", "--faithfulness", "2"], "--log"),
    (
        "explain-same-out",
        ["explain", "road.png", "-o", "y.png", "--feature-maps", "y.png"],
        "two outputs",
    ),
    (
        "explain-maps-same",
        ["explain", "road.png", "-o", "y.png", "--filters", "./y.png"],
        "two outputs",
    ),
    ("explain-is-input", ["explain", "road.png", "-o", "road.png"], "same as the input"),
    ("explain-npz", ["explain", "road.png", "-o", "y.png", "--save-maps", "m.txt"], "must end"),
    ("record-existing", ["record", "clip.mp4", "-o", "existing.mp4"], "already exists"),
    ("record-sidecar", ["record", "clip.mp4", "-o", "taken.mp4"], "taken.mp4.json"),
    ("record-is-input", ["record", "clip.mp4", "-o", "clip.mp4"], "same as the input"),
    ("record-suffix", ["record", "clip.mp4", "-o", "rec.json"], "must end in"),
    ("report-is-log", ["report", "bad.jsonl", "-o", "bad.jsonl"], "must end in"),
    ("out-dangling-link", ["export", "clip.mp4", "-o", "dangling.mp4"], "link to nothing"),
    ("out-read-only", ["export", "clip.mp4", "-o", "readonly.mp4"], "read-only"),
    ("budget-negative", ["export", "clip.mp4", "-o", "o.mp4", "--explain-budget=-5ms"], "budget"),
    ("explain-cut-jpeg", ["explain", "cut.jpg", "-o", "o.png"], "truncated JPEG"),
    ("watch-layer", ["watch", "clip.mp4", *DEMO, "--layer", "no.such"], "no.such"),
    ("watch-classes", ["watch", "clip.mp4", *DEMO, "--classes", "unicorn"], "unicorn"),
    ("watch-model", ["watch", "clip.mp4", "--model", "yolov99"], "yolov99"),
    ("screenshot-suffix", ["watch", "clip.mp4", "--screenshot", "shot.jpg"], "must end in .png"),
    ("screenshot-is-input", ["watch", "road.png", "--screenshot", "road.png"], "same as the input"),
]


@pytest.mark.parametrize(
    ("argv", "message"), [c[1:] for c in FAILURES], ids=[c[0] for c in FAILURES]
)
def test_bad_input_fails_in_one_line_and_loses_nothing(workspace, capsys, argv, message):
    if argv and argv[2:4] == ["-o", "emptydir.mp4"]:
        (workspace / "emptydir.mp4").mkdir()
        message = "folder"
    before = snapshot(workspace)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert message in lines[0], lines[0]
    assert_nothing_lost(before, snapshot(workspace))


def test_export_of_a_file_named_like_a_partial_keeps_it(workspace, capsys):
    """``export vic.partial.mp4 -o vic.mp4`` once replaced its input by its own output."""
    before = snapshot(workspace)
    code = main(["export", "vic.partial.mp4", "-o", "vic.mp4", *DEMO, "--max-frames", "5"])
    assert code == 0, capsys.readouterr().err
    assert_nothing_lost(before, snapshot(workspace), new_allowed=("vic.mp4",))
    assert video_info(workspace / "vic.mp4")["frames"] == 5
    assert video_info(workspace / "vic.partial.mp4")["frames"] == 12


def test_export_replaces_an_output_only_when_named(workspace, capsys):
    """The user named ``existing.mp4`` as the output: it is replaced, nothing else is."""
    before = snapshot(workspace)
    code = main(["export", "clip.mp4", "-o", "existing.mp4", *DEMO, "--max-frames", "3"])
    assert code == 0, capsys.readouterr().err
    after = snapshot(workspace)
    assert after.pop("existing.mp4") != before.pop("existing.mp4")
    assert_nothing_lost(before, after)


def test_record_sidecar_is_one_per_video(workspace, capsys):
    """``rec.mp4`` and ``rec.mkv`` get their own sidecars; an old ``rec.json`` is kept."""
    (workspace / "rec.json").write_text('{"a user": "file"}\n')
    before = snapshot(workspace)
    for name in ("rec.mp4", "rec.mkv"):
        code = main(["record", "clip.mp4", "-o", name, "--max-frames", "4"])
        assert code == 0, capsys.readouterr().err
    assert_nothing_lost(
        before,
        snapshot(workspace),
        new_allowed=("rec.mp4", "rec.mkv", "rec.mp4.json", "rec.mkv.json"),
    )


# -- faults beside the run: signals, a full disk, two runs, a stalled stream -----------------


def cli_process(*args, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "live_explain.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )


@pytest.mark.slow
@pytest.mark.parametrize("delay_s", [1.0, 2.0, 4.0])
def test_ctrl_c_during_start_up_exits_130_in_one_line(workspace, delay_s):
    make_video(workspace / "long.mp4", frames=300, size=(320, 192))  # still running at 4 s
    before = snapshot(workspace)
    proc = cli_process("export", "long.mp4", "-o", "o.mp4", *DEMO, cwd=workspace)
    time.sleep(delay_s)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130, err
    assert len(lines) == 1 and lines[0].startswith("live-explain: interrupted"), err
    assert_nothing_lost(
        before,
        snapshot(workspace),
        new_allowed=tuple(p.name for p in workspace.glob("o.partial-*.mp4")),
    )


@pytest.mark.slow
def test_repeated_ctrl_c_cleans_up_quietly(workspace):
    long_video = make_video(workspace / "long.mp4", frames=400, size=(320, 192))
    proc = cli_process("export", long_video, "-o", "o.mp4", *DEMO, cwd=workspace)
    assert wait_for(lambda: any(p.stat().st_size > 0 for p in workspace.glob("o.partial-*")))
    for _ in range(2):
        proc.send_signal(signal.SIGINT)
        time.sleep(0.05)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert all(line.startswith("live-explain:") for line in err.splitlines() if line.strip())
    assert not (workspace / "o.mp4").exists()


def _small_files():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))


@pytest.mark.slow
def test_write_failure_mid_export_is_one_line_and_keeps_the_partial_file(workspace, clip):
    """A write that fails mid-way (here the file-size limit; a full disk fails alike)."""
    (workspace / "o.mp4").write_bytes(b"the user's earlier export")
    before = snapshot(workspace)
    proc = cli_process(
        "export",
        clip,
        "-o",
        "o.mp4",
        "--log",
        "o.jsonl",
        *DEMO,
        cwd=workspace,
        preexec_fn=_small_files,
    )
    _, err = proc.communicate(timeout=300)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 2, err
    assert len(lines) == 1 and "cannot write the video" in lines[0], err
    assert "partial video is kept at" in lines[0]
    partials = [p.name for p in workspace.glob("o.partial-*")]
    assert_nothing_lost(before, snapshot(workspace), new_allowed=tuple(partials))


def _tmpfs(folder: Path, size: str) -> bool:
    folder.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
    )
    return result.returncode == 0


@pytest.mark.slow
@pytest.mark.parametrize("size", ["24k", "200k"])  # 24k: FFmpeg reports no error at all
def test_full_disk_mid_export_is_one_line(workspace, capsys, clip, size):
    small = workspace / "small"
    if not _tmpfs(small, size):
        pytest.skip("cannot mount a small tmpfs here (needs root in a privileged container)")
    try:
        (small / "keep.txt").write_text("a user's file\n")
        (small / "o.mp4").write_text("an earlier export\n")
        code = main(["export", str(clip), "-o", "small/o.mp4", *DEMO, "--max-frames", "60"])
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1, err
        assert "kept at" in lines[0]
        assert (small / "keep.txt").read_text() == "a user's file\n"
        assert (small / "o.mp4").read_text() == "an earlier export\n"
        assert "no space left" in lines[0] or "reached the disk" in lines[0]
    finally:
        subprocess.run(["umount", str(small)], check=False)


@pytest.mark.slow
def test_second_export_to_the_same_output_is_refused(workspace, capsys):
    long_video = make_video(workspace / "long.mp4", frames=150, size=(320, 192))
    first = cli_process("export", long_video, "-o", "same.mp4", *DEMO, cwd=workspace)
    assert wait_for(lambda: any(workspace.glob("same.partial-*")))
    code = main(["export", "clip.mp4", "-o", "same.mp4", *DEMO, "--max-frames", "3"])
    err = capsys.readouterr().err
    assert code == 2 and "another live-explain run is writing" in err, err
    assert len(err.strip().splitlines()) == 1
    _, first_err = first.communicate(timeout=300)
    assert first.returncode == 0, first_err
    assert video_info(workspace / "same.mp4")["frames"] == 150
    assert not list(workspace.glob("same.partial-*"))


def test_output_written_by_another_program_meanwhile_is_left_alone(workspace):
    from live_explain.errors import UserError
    from live_explain.sinks.output_files import OutputFile

    output = OutputFile(workspace / "o.mp4")
    output.partial.write_bytes(b"ours")
    (workspace / "o.mp4").write_bytes(b"theirs")
    with pytest.raises(UserError, match="another program"):
        output.commit()
    assert (workspace / "o.mp4").read_bytes() == b"theirs"
    assert output.partial.read_bytes() == b"ours"


class _StallingHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files, but stops sending 40% into the body and closes the connection."""

    def copyfile(self, source, outputfile):
        data = source.read()
        outputfile.write(data[: int(len(data) * 0.4)])
        outputfile.flush()

    def log_message(self, *args):
        pass


@pytest.mark.slow
def test_stream_that_stops_early_says_so(workspace, capsys, clip):
    from test_sources import remux_faststart

    remux_faststart(clip, workspace / "served.mp4")
    handler = functools.partial(_StallingHandler, directory=str(workspace))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/served.mp4"
        code = main(["export", url, "-o", "o.mp4", *DEMO])
    finally:
        server.shutdown()
        server.server_close()
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "the stream ended after" in captured.err
    assert "incomplete" in captured.out
    frames = video_info(workspace / "o.mp4")["frames"]
    assert 0 < frames < 221


def test_fifo_named_like_an_image_is_skipped_not_waited_for(workspace, capsys):
    """A FIFO blocks whoever opens it: a folder's non-regular files are skipped."""
    os.mkfifo(workspace / "frames" / "f1b.png")
    code = main(["export", "frames", "-o", "o.mp4", *DEMO])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "f1b.png: not a regular file" in err
    assert video_info(workspace / "o.mp4")["frames"] == 3


def test_watch_without_a_display_is_one_line(workspace, monkeypatch, capsys):
    """Qt aborts the process (SIGABRT) when it finds no screen: checked first."""
    for variable in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(variable, raising=False)
    assert main(["watch", "clip.mp4"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "no display" in lines[0]


def test_names_the_terminal_cannot_encode_do_not_break_the_summary(workspace):
    """An ASCII-only terminal and a file name with an umlaut: the summary line is escaped."""
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "live_explain.cli",
            "export",
            "clip.mp4",
            "-o",
            "f\u00fcr.mp4",
            *DEMO,
            "--max-frames",
            "2",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=workspace,
    )
    assert result.returncode == 0, result.stderr
    assert "f\\xfcr.mp4" in result.stdout


def test_undecodable_file_names_reach_the_video_log_and_report(workspace):
    """File names that are not UTF-8 (any bytes are legal on Linux) are written, and escaped
    where they appear in the report's text."""
    args = [b"export", b"clip.mp4", b"-o", b"\xff.mp4", b"--log", b"\xff.jsonl"]
    args += [b"--report", b"\xff.html", *(a.encode() for a in DEMO), b"--max-frames", b"2"]
    result = subprocess.run(
        [os.fsencode(sys.executable), b"-m", b"live_explain.cli", *args],
        capture_output=True,
        cwd=workspace,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    for suffix in (b".mp4", b".jsonl", b".html"):
        assert (workspace / os.fsdecode(b"\xff" + suffix)).stat().st_size > 0
