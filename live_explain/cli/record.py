"""``live-explain record SOURCE -o FILE``: the raw feed, crash-safe, with a JSON sidecar."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

from live_explain.cli.options import (
    add_source_options,
    argument_type,
    non_negative_float,
    open_input,
)
from live_explain.errors import UserError


def add_parser(sub) -> None:
    record = sub.add_parser("record", help="record the raw feed (crash-safe) with a JSON sidecar")
    record.add_argument("source", metavar="SOURCE")
    record.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="default: recordings/<time>.mp4"
    )
    record.add_argument(
        "--duration", type=argument_type(non_negative_float), metavar="S", help="seconds"
    )
    add_source_options(record)
    record.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Record until the source ends, ``--duration``, ``--max-frames`` or Ctrl-C."""
    from live_explain.sinks.recorder import FeedRecorder, default_recording_path

    output = args.output
    if output is None:
        output = default_recording_path(args.source)
        output.parent.mkdir(parents=True, exist_ok=True)
    source = open_input(args, realtime=True)
    source.start()
    try:
        recorder = FeedRecorder(output, source.fps, str(args.source), source.kind, (args.source,))
    except BaseException:
        source.close()
        raise
    started = time.monotonic()
    interrupted = False
    try:
        while args.max_frames is None or recorder.frames_written < args.max_frames:
            if args.duration is not None and time.monotonic() - started >= args.duration:
                break
            frame = source.read(timeout=1.0) if args.duration is not None else source.read()
            if frame is None:
                break
            recorder.write(frame.image, dropped=source.frames_dropped)
    except TimeoutError:
        pass  # the duration check runs on the next loop turn
    except KeyboardInterrupt:
        interrupted = True  # Ctrl-C ends an open-ended recording: what came is kept
    except BaseException:  # a full disk, a failed source: finish what is there (or remove
        with contextlib.suppress(Exception):  # the files this run made, if no frame came)
            recorder.close()
        raise
    finally:
        source.close()
    recorder.frames_dropped = source.frames_dropped
    if recorder.close() is None:
        raise UserError(f"{args.source}: no frames were recorded")
    summary = (
        f"recorded {output}: {recorder.frames_written} frames, "
        f"{source.frames_dropped} dropped; sidecar {recorder.sidecar_path}"
    )
    if interrupted:  # the recording is complete and playable; the exit code says how it ended
        print(f"live-explain: interrupted; {summary}", file=sys.stderr)
        return 130
    print(summary)
    return 0
