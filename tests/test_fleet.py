"""``live-explain batch``: many drives on Ray (a real local instance, and a real two-node
cluster started with ``ray start``) or inline; states, reruns, faults, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import REPO, video_info, wait_for

from live_explain.errors import UserError
from live_explain.fleet.drives import find_drives
from live_explain.fleet.record import read_states
from live_explain.monitor.log_reader import read_log
from live_explain.synthetic.sample_drive import write_synthetic_drive

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'live-explain[fleet]')")

DEMO = ("--model", "demo", "--weights", "demo")
SAMPLE = REPO / "recordings" / "sample_drive.mp4"


def synthetic_drive(path: Path, seed: int, frames: int = 10) -> Path:
    """A short drive of the project's synthetic scenes (with cars the demo detector finds)."""
    return write_synthetic_drive(path, seed, frames, fps=10)


@pytest.fixture
def drives(tmp_path, clip) -> list[Path]:
    """The sample drive, the real clip, two synthetic drives and a corrupt file."""
    folder = tmp_path / "drives"
    folder.mkdir()
    synthetic_drive(folder / "synth_a.mp4", seed=3)
    synthetic_drive(folder / "synth_b.mp4", seed=4)
    (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    return [SAMPLE, clip, folder / "synth_a.mp4", folder / "synth_b.mp4", folder / "corrupt.mp4"]


def states(outdir: Path) -> dict[str, str]:
    return {name: s.state for name, s in read_states(outdir / "batch.jsonl").items()}


def partial_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if ".partial-" in p.name)


def check_done_drive(outdir: Path, name: str, frames: int) -> None:
    """A done drive's three files, complete: a playable video with every frame, its log
    (the same frames) and its report."""
    folder = outdir / name
    assert video_info(folder / "video.mp4")["frames"] == frames
    drive_log = read_log(folder / "log.jsonl")
    assert drive_log.complete and len(drive_log.frames) == frames
    assert drive_log.video_path == folder / "video.mp4"
    assert "<html" in (folder / "report.html").read_text()


# -- which drives -----------------------------------------------------------------------------


def test_inputs_expand_files_folders_patterns_and_manifests(tmp_path):
    videos = tmp_path / "videos"
    (videos / "day2").mkdir(parents=True)
    for name in ("a.mp4", "b.MOV", "day2/a.mp4", ".hidden.mp4", "notes.txt"):
        (videos / name).write_bytes(b"x")
    found = find_drives([str(videos)])
    assert [d.name for d in found] == ["a", "b", "a-2"]  # same stem, distinct folders
    assert found[2].source == str(videos / "day2" / "a.mp4")
    assert [d.name for d in find_drives([str(videos / "*.mp4")])] == ["a"]
    (tmp_path / "list.txt").write_text("# drives\nvideos/b.MOV\n\nvideos/a.mp4\n")
    assert [d.source for d in find_drives([str(tmp_path / "list.txt")])] == [
        str(videos / "b.MOV"),
        str(videos / "a.mp4"),
    ]
    (tmp_path / "m.csv").write_text("path,name\nvideos/a.mp4,Monday drive\nvideos/b.MOV,\n")
    assert [d.name for d in find_drives([str(tmp_path / "m.csv")])] == ["Monday_drive", "b"]
    (tmp_path / "m.jsonl").write_text('{"path": "videos/a.mp4"}\n{"path": "gone.mp4"}\n')
    found = find_drives([str(tmp_path / "m.jsonl"), str(videos / "a.mp4")])  # a given twice
    assert [d.name for d in found] == ["a", "gone"]  # a missing manifest entry fails later
    for bad, message in (
        ([str(tmp_path / "nope.mp4")], "no such file"),
        ([str(tmp_path / "*.mkv")], "matches no videos"),
        ([str(tmp_path / "m.csv").replace("m.csv", "empty.txt")], "no such file"),
    ):
        with pytest.raises(UserError, match=message):
            find_drives(bad)
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(UserError, match="lists no drives"):
        find_drives([str(tmp_path / "empty.txt")])
    (tmp_path / "bad.csv").write_text("file\na.mp4\n")
    with pytest.raises(UserError, match="'path' column"):
        find_drives([str(tmp_path / "bad.csv")])


def test_a_drive_checks_that_its_node_sees_the_batch_outdir(tmp_path):
    """On a node where OUTDIR is not the batch's (no shared file system), or the input is not
    there, the drive fails with a line that says so, and writes nothing."""
    from live_explain.config import Settings
    from live_explain.fleet.drives import Drive
    from live_explain.fleet.job import DriveTask, run_drive
    from live_explain.fleet.progress import ProgressBoard
    from live_explain.sinks.export_job import ExportJob

    outdir = tmp_path / "out"
    outdir.mkdir()
    record = outdir / "batch.jsonl"
    record.write_text('{"record":"run","run":"another-run"}\n')  # a different batch's record
    job = ExportJob(str(SAMPLE), outdir / "d" / "video.mp4", Settings(model="demo"))
    task = DriveTask(Drive("d", str(SAMPLE)), outdir / "d", "this-run", record, job)
    outcome = run_drive(task, ProgressBoard())
    assert outcome["state"] == "failed"
    assert "must be on a path every node can reach" in outcome["error"]
    record.write_text('{"record":"run","run":"this-run"}\n')
    gone = tmp_path / "elsewhere.mp4"
    job = ExportJob(str(gone), outdir / "d" / "video.mp4", Settings(model="demo"))
    outcome = run_drive(DriveTask(Drive("d", str(gone)), outdir / "d", "this-run", record, job),
                        ProgressBoard())  # fmt: skip
    assert outcome["state"] == "failed" and "no such file on node" in outcome["error"]
    assert sorted(p.name for p in outdir.iterdir()) == ["batch.jsonl"]  # no folder left


# -- inline: the plain loop -------------------------------------------------------------------


def test_inline_batch_states_outputs_rerun_and_force(tmp_path, drives, cli):
    outdir = tmp_path / "out"
    args = ("batch", *map(str, drives), "-o", outdir, "--engine", "inline", "--max-frames", "8")
    result = cli(*args, *DEMO)
    assert result.code == 1, result.err  # one drive failed
    assert states(outdir) == {
        "sample_drive": "done",
        "solidWhiteRight": "done",
        "synth_a": "done",
        "synth_b": "done",
        "corrupt": "failed",
    }
    assert result.err_lines == [
        f"live-explain: corrupt: {drives[-1]}: not a readable video (unknown format or "
        "damaged file)"
    ]
    assert "5 drives (4 done, 1 failed); 32 frames" in result.out
    for name in ("sample_drive", "solidWhiteRight", "synth_a", "synth_b"):
        check_done_drive(outdir, name, 8)
    assert not (outdir / "corrupt").exists() and not partial_files(outdir)
    page = (outdir / "fleet.html").read_text()
    assert 'href="synth_a/report.html"' in page and "not a readable video" in page
    # The synthetic drives have detections, so the fleet report's figures are real ones.
    synth = read_log(outdir / "synth_a" / "log.jsonl")
    assert sum(len(f.detections) for f in synth.frames) > 0
    assert "Bias audit" in page and "Timeline" in page

    before = {p: p.stat().st_mtime_ns for p in outdir.rglob("video.mp4")}
    again = cli(*args, *DEMO)
    assert again.code == 1 and "4 skipped, 1 failed" in again.out
    assert {p: p.stat().st_mtime_ns for p in outdir.rglob("video.mp4")} == before
    assert states(outdir)["synth_a"] == "skipped"

    changed = cli(*args, *DEMO, "--score-thresh", "0.7")  # other settings: redone
    assert "4 done, 1 failed" in changed.out
    forced = cli(*args[:-2], "--max-frames", "8", *DEMO, "--score-thresh", "0.7", "--force")
    assert "4 done, 1 failed" in forced.out
    check_done_drive(outdir, "synth_b", 8)
    runs = [
        json.loads(line)
        for line in (outdir / "batch.jsonl").read_text().splitlines()
        if '"record":"run"' in line
    ]
    assert len(runs) == 4  # appended, never rewritten


def test_drives_keep_their_folders_and_outdir_is_not_an_input(tmp_path, cli):
    """A drive keeps its folder when other inputs come; an OUTDIR inside the input folder
    is not searched for drives; a drive named like OUTDIR's own files gets another name."""
    from live_explain.fleet.drives import folder_name

    videos = tmp_path / "videos"
    (videos / "b").mkdir(parents=True)
    synthetic_drive(videos / "b" / "x.mp4", seed=5, frames=3)
    outdir = videos / "out"
    first = cli("batch", videos, "-o", outdir, "--engine", "inline", *DEMO)
    assert first.code == 0, first.err
    (videos / "a").mkdir()
    synthetic_drive(videos / "a" / "x.mp4", seed=6, frames=3)  # comes first in name order
    second = cli("batch", videos, "-o", outdir, "--engine", "inline", *DEMO)
    assert second.code == 0 and "1 done, 1 skipped" in second.out, second.out
    recorded = read_states(outdir / "batch.jsonl")
    assert recorded["x"].source == str(videos / "b" / "x.mp4") and recorded["x"].state == "skipped"
    assert recorded["x-2"].source == str(videos / "a" / "x.mp4")
    assert set(recorded) == {"x", "x-2"}  # nothing from out/ itself
    assert folder_name("fleet.html") == "fleet.html_drive"
    assert folder_name("Batch.JSONL") == "Batch.JSONL_drive"


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--start", "5", "--end", "2"), "--end 2.0 must be after --start 5.0"),
        (("--weights", "missing.pt"), "--weights missing.pt: no such file"),
        (("--device", "cuda"), "--gpus-per-drive"),
        (("--cpus-per-drive", "0.00001"), "steps of 0.0001"),
        (("--model", "nosuchnet"), "nosuchnet"),
    ],
)
def test_command_mistakes_are_one_line_before_any_drive(tmp_path, cli, extra, message):
    result = cli("batch", str(SAMPLE), "-o", tmp_path / "out", *DEMO[2:], *extra)
    assert result.code == 2 and len(result.err_lines) == 1, result.err
    assert message in result.err
    assert not (tmp_path / "out").exists()


def test_outdir_that_holds_other_files_is_refused(tmp_path, cli):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.txt").write_text("keep me")
    result = cli("batch", str(SAMPLE), "-o", folder, "--engine", "inline", *DEMO)
    assert result.code == 2 and len(result.err_lines) == 1
    assert "not a live-explain batch" in result.err
    assert [p.name for p in folder.iterdir()] == ["thesis.txt"]
    (tmp_path / "file").write_text("x")
    result = cli("batch", str(SAMPLE), "-o", tmp_path / "file", "--engine", "inline", *DEMO)
    assert result.code == 2 and "is a file" in result.err
    result = cli("batch", str(SAMPLE), "-o", tmp_path / "no" / "out", "--engine", "inline")
    assert result.code == 2 and "does not exist" in result.err
    result = cli("batch", str(tmp_path / "missing.mp4"), "-o", tmp_path / "o", *DEMO)
    assert result.code == 2 and "no such file" in result.err
    assert not (tmp_path / "o").exists()


def test_without_ray_says_how_to_install_it(tmp_path, cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an install without the extra has
    result = cli("batch", str(SAMPLE), "-o", tmp_path / "out", *DEMO, "--max-frames", "2")
    assert result.code == 2 and len(result.err_lines) == 1
    assert "pip install 'live-explain[fleet]'" in result.err and "--engine inline" in result.err


def test_address_where_no_cluster_answers_is_one_line(tmp_path, cli):
    started = time.monotonic()
    result = cli("batch", str(SAMPLE), "-o", tmp_path / "out", "--address", "127.0.0.1:9")
    assert result.code == 2 and len(result.err_lines) == 1, result.err
    assert "no Ray cluster answers there" in result.err
    assert time.monotonic() - started < 30


# -- Ray: a real local instance ---------------------------------------------------------------


@pytest.mark.slow
def test_ray_batch_matches_the_inline_one(tmp_path, drives, cli):
    """Each drive a Ray task on a local instance: the same states and the same frames as
    the inline loop (the same export; the detections are deterministic on the CPU)."""
    common = (*map(str, drives), "--max-frames", "6", *DEMO)
    before = _ray_processes()
    on_ray = cli("batch", *common, "-o", tmp_path / "ray")
    assert on_ray.code == 1, on_ray.err
    assert "Ray ready in" in on_ray.out
    assert not ray.is_initialized() and _ray_processes() <= before  # stopped with it
    inline = cli("batch", *common, "-o", tmp_path / "inline", "--engine", "inline")
    assert states(tmp_path / "ray") == states(tmp_path / "inline")
    assert states(tmp_path / "ray")["corrupt"] == "failed"
    for name in ("sample_drive", "solidWhiteRight", "synth_a", "synth_b"):
        check_done_drive(tmp_path / "ray", name, 6)
        a = read_log(tmp_path / "ray" / name / "log.jsonl")
        b = read_log(tmp_path / "inline" / name / "log.jsonl")
        scores = [[d.score for d in f.detections] for f in a.frames]
        assert scores == [[d.score for d in f.detections] for f in b.frames]
    counts = [len(f.detections) for f in read_log(tmp_path / "ray/synth_a/log.jsonl").frames]
    assert sum(counts) > 0  # not a degenerate case: the synthetic cars are found
    assert inline.code == 1


@pytest.mark.slow
def test_resources_no_node_has_are_refused(tmp_path, cli):
    result = cli("batch", str(SAMPLE), "-o", tmp_path / "o", *DEMO, "--cpus-per-drive", "64")
    assert result.code == 2 and "no node of the cluster has that many CPUs" in result.err
    result = cli("batch", str(SAMPLE), "-o", tmp_path / "o", *DEMO, "--gpus-per-drive", "0.5")
    assert result.code == 2 and "no node of the cluster has a GPU" in result.err


def _batch_process(*args, env: dict | None = None) -> subprocess.Popen:
    """The CLI in a session of its own, as a terminal runs it (Ctrl-C reaches its group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "live_explain.cli", "batch", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )


def _ray_processes() -> set[int]:
    """Ray's own daemons on this machine (its GCS server and raylets)."""
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as comm:
                if comm.read().strip() in ("raylet", "gcs_server"):
                    found.add(int(pid))
        except OSError:
            continue
    return found


def _writer_of(path: Path) -> int | None:
    """The process that has ``path`` open (the Ray worker exporting that drive)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                    return int(pid)
            except OSError:
                continue
    return None


def _partial_video(folder: Path) -> Path | None:
    found = [p for p in folder.glob("video.partial-*.mp4") if p.stat().st_size > 0]
    return found[0] if found else None


@pytest.mark.slow
def test_worker_killed_mid_drive_is_retried_and_the_batch_completes(tmp_path, clip):
    outdir = tmp_path / "out"
    proc = _batch_process(clip, SAMPLE, "-o", outdir, "--max-frames", "60", *DEMO)
    folder = outdir / "solidWhiteRight"
    assert wait_for(lambda: _partial_video(folder) is not None, timeout=180), proc.stderr
    partial = _partial_video(folder)
    pid = _writer_of(partial)
    assert pid is not None and pid != proc.pid
    os.kill(pid, signal.SIGKILL)  # the worker dies mid-drive
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "2 drives (2 done)" in out
    record = read_states(outdir / "batch.jsonl")["solidWhiteRight"]
    assert record.state == "done" and record.data["attempt"] == 2
    check_done_drive(outdir, "solidWhiteRight", 60)  # one correct output for that drive
    check_done_drive(outdir, "sample_drive", 60)
    assert not partial.exists() and not partial_files(outdir)  # the dead attempt's removed


@pytest.mark.slow
def test_ctrl_c_stops_running_drives_and_records_it(tmp_path, clip):
    outdir = tmp_path / "out"
    proc = _batch_process(clip, SAMPLE, "-o", outdir, *DEMO)
    assert wait_for(
        lambda: all(_partial_video(outdir / n) for n in ("solidWhiteRight", "sample_drive")),
        timeout=180,
    )
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal: the whole process group
    out, err = proc.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130, err
    assert len(lines) == 1 and lines[0].startswith("batch interrupted: 2 drives (2 stopped)")
    recorded = read_states(outdir / "batch.jsonl")
    for name in ("solidWhiteRight", "sample_drive"):
        assert recorded[name].state == "stopped"
        kept = [Path(k) for k in recorded[name].data["kept"]]
        assert kept and all(k.exists() and ".partial-" in k.name for k in kept)
        assert not (outdir / name / "video.mp4").exists()  # no half file under a final name
        assert video_info(next(k for k in kept if k.suffix == ".mp4"))["frames"] > 0
    assert not (outdir / "fleet.html").exists()
    rerun = _batch_process(clip, SAMPLE, "-o", outdir, *DEMO, "--max-frames", "4")
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0 and "2 done" in out, err
    for name in ("solidWhiteRight", "sample_drive"):  # the stopped run's files stay
        assert all(Path(k).exists() for k in recorded[name].data["kept"])


# -- a two-node cluster -----------------------------------------------------------------------


def _ray_cli() -> str:
    return str(Path(sys.executable).with_name("ray"))


@pytest.mark.slow
def test_two_node_cluster_through_address(tmp_path, drives):
    port = 26379 + os.getpid() % 1000
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    head = [_ray_cli(), "start", "--head", f"--port={port}", "--num-cpus=1", "--num-gpus=0"]
    subprocess.run(
        [*head, "--include-dashboard=false", "--disable-usage-stats"],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    try:
        subprocess.run(
            [
                _ray_cli(),
                "start",
                f"--address=127.0.0.1:{port}",
                "--num-cpus=1",
                "--num-gpus=0",
                "--disable-usage-stats",
            ],
            check=True,
            capture_output=True,
            env={**env, "RAY_AUTH_MODE": "token"},  # the head's token (~/.ray/auth_token)
            timeout=120,
        )
        outdir = tmp_path / "out"
        proc = _batch_process(
            *drives[2:],
            SAMPLE,
            "-o",
            outdir,
            "--address",
            f"127.0.0.1:{port}",
            *DEMO,
            "--max-frames",
            "6",
            env=env,
        )
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 1, err  # the corrupt drive
        assert states(outdir) == {
            "synth_a": "done",
            "synth_b": "done",
            "corrupt": "failed",
            "sample_drive": "done",
        }
        check_done_drive(outdir, "synth_b", 6)
        nodes = subprocess.run(
            [sys.executable, "-c", "import ray; ray.init(); print(len(ray.nodes()))"],
            capture_output=True,
            text=True,
            env={**env, "RAY_ADDRESS": f"127.0.0.1:{port}", "RAY_AUTH_MODE": "token"},
            timeout=120,
        )
        assert nodes.stdout.strip().splitlines()[-1] == "2", nodes.stderr
    finally:
        subprocess.run([_ray_cli(), "stop", "--force"], capture_output=True, timeout=120)


def test_synthetic_drive_helper_is_not_blank(tmp_path):
    path = synthetic_drive(tmp_path / "s.mp4", seed=1, frames=3)
    with av.open(str(path)) as container:
        image = next(container.decode(video=0)).to_ndarray(format="bgr24")
    assert np.ptp(image) > 50
