"""Does ``batch`` (Ray, one thread per drive) export drives faster than ``export`` run on
them one after another? Both make the same files per drive (video, log, report), both as a
user runs them (the command line, start-up included), in one run on the same drives.

    python benchmarks/fleet_throughput.py [--drives 4] [--frames 300] [--repeats 2]
        [--out /tmp/fleet-bench] [--before CHECKOUT]

The drives: the real clip, the bundled sample drive and synthetic drives, each cut to
``--frames`` frames. Prints one JSON object: frames per second of each way, their ratio,
and the local Ray instance's start-up time against the whole batch. ``--before CHECKOUT``
(another checkout, e.g. ``git worktree add /tmp/before HEAD~1``) also runs that checkout's
``batch`` in each repeat, for before/after figures of a change in one run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import av

from live_explain.synthetic.sample_drive import write_synthetic_drive

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO.parent / "shared" / "media" / "solidWhiteRight.mp4"
SAMPLE = REPO / "recordings" / "sample_drive.mp4"
DEMO = ["--model", "demo", "--weights", "demo"]


def video_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def cli(*args: str, checkout: Path | None = None) -> float:
    """Run ``live-explain ARGS`` (from ``checkout`` if given); its wall-clock seconds."""
    command = [sys.executable, "-m", "live_explain.cli"]
    if checkout is not None:
        command = [sys.executable, str(REPO / "benchmarks" / "checkout_cli.py"), str(checkout)]
    started = time.perf_counter()
    done = subprocess.run([*command, *args], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"live-explain {' '.join(args)} failed: {done.stderr.strip()}")
    return time.perf_counter() - started


def check_record(outdir: Path, drives: int, frames: int) -> dict:
    """The batch's end line, checked: every drive done, every frame there."""
    end = json.loads((outdir / "batch.jsonl").read_text().splitlines()[-1])
    assert end["done"] == drives and end["frames"] == frames, (end, frames)
    return end


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drives", type=int, default=4)
    parser.add_argument("--frames", type=int, default=300, help="at most, per drive")
    parser.add_argument("--repeats", type=int, default=2, help="pairs of runs (median shown)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/fleet-bench"))
    parser.add_argument("--before", type=Path, help="another checkout's batch, run alongside")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    (args.out / "drives").mkdir(parents=True)
    drives = [CLIP, SAMPLE]
    for seed in range(args.drives - len(drives)):
        path = args.out / "drives" / f"synthetic_{seed}.mp4"
        drives.append(write_synthetic_drive(path, seed + 100, args.frames))
    drives = drives[: args.drives]
    frames = ["--max-frames", str(args.frames)]
    lengths = [min(args.frames, video_frames(d)) for d in drives]
    runs = []
    for repeat in range(args.repeats):  # alternated, so that drift of the machine hits both
        sequential = 0.0
        for i, drive in enumerate(drives):
            out = args.out / f"export{repeat}" / f"d{i}"
            out.mkdir(parents=True)
            sequential += cli(
                "export", str(drive), "-o", str(out / "video.mp4"), "--log",
                str(out / "log.jsonl"), "--report", str(out / "report.html"), *frames, *DEMO,
            )  # fmt: skip
        before = None
        if args.before is not None:
            outdir = args.out / f"before{repeat}"
            before = cli("batch", *map(str, drives), "-o", str(outdir), *frames, *DEMO,
                         checkout=args.before)  # fmt: skip
            check_record(outdir, len(drives), sum(lengths))
        outdir = args.out / f"batch{repeat}"
        batch = cli("batch", *map(str, drives), "-o", str(outdir), *frames, *DEMO)
        end = check_record(outdir, len(drives), sum(lengths))
        runs.append((sequential, batch, end["startup_s"], before))
    total = sum(lengths)
    ratios = sorted(s / b for s, b, _, _ in runs)
    sequential, batch, startup, before = sorted(runs, key=lambda r: r[0] / r[1])[len(runs) // 2]
    figures = {
        "drives": len(drives),
        "frames_per_drive": lengths,
        "frames": total,
        "repeats": args.repeats,
        "ratios": [round(r, 2) for r in ratios],
        "export_sequential_s": round(sequential, 2),
        "export_sequential_fps": round(total / sequential, 2),
        "batch_s": round(batch, 2),
        "batch_fps": round(total / batch, 2),
        "batch_over_sequential": round(sequential / batch, 2),
        "ray_startup_s": startup,
        "ray_startup_share": round(startup / batch, 3),
    }
    figures["runs_s"] = [  # per repeat: export one after another, batch, (before's batch)
        [round(r[0], 1), round(r[1], 1), *([round(r[3], 1)] if r[3] is not None else [])]
        for r in runs
    ]
    if args.before is not None:
        figures["before_ratios"] = sorted(round(r[0] / r[3], 2) for r in runs)
        figures["before_batch_s"] = round(before, 2)
        figures["before_over_sequential"] = round(sequential / before, 2)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
