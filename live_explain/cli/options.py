"""Options that several commands share: the settings' flags (made from the fields of
:class:`~live_explain.config.Settings`), sources, workers, and reading them back."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any

from live_explain.config import Settings, choices_of, finite_float, positive_int
from live_explain.errors import UserError

MAX_FPS = 1000.0  # as for a video's own frame rate (sources trust 1 to 1000)
MIN_FPS = 0.01  # one image every 100 s; slower rates round to 0 in a video's time base
# The settings' stages as the --help groups them.
GROUPS = {
    "model": "model and explanation",
    "detector": "model and explanation",
    "policy": "maps across frames",
    "style": "overlay",
}


def argument_type(read: Callable[[str], Any]) -> Callable[[str], Any]:
    """``read`` as an argparse type: its ValueError becomes the usage error's text."""

    def parse(text: str) -> Any:
        try:
            return read(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = read.__name__
    return parse


def non_negative_float(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise ValueError(f"must not be negative, got {value:g}")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if value <= 0:
        raise ValueError(f"must be more than 0, got {value:g}")
    return value


def frame_rate(text: str) -> float:
    """``--fps``: :data:`MIN_FPS` to :data:`MAX_FPS` frames a second."""
    value = positive_float(text)
    if not MIN_FPS <= value <= MAX_FPS:
        raise ValueError(f"must be {MIN_FPS:g} to {MAX_FPS:g} frames a second, got {value:g}")
    return value


def add_settings_options(
    parser: argparse.ArgumentParser, stages: tuple[str, ...], remembered: bool = False
) -> None:
    """A flag for every field of ``stages``: ``--score-thresh`` for ``score_thresh``, with the
    field's help, reader and choices. ``remembered``: a flag not given leaves no value (the
    app's remembered settings apply instead of the defaults)."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    defaults = Settings()
    for setting in dataclasses.fields(Settings):
        stage = setting.metadata["stage"]
        if stage not in stages or not setting.metadata["flag"]:
            continue
        title = GROUPS[stage]
        group = groups.get(title) or groups.setdefault(title, parser.add_argument_group(title))
        flag = "--" + setting.name.replace("_", "-")
        default = argparse.SUPPRESS if remembered else getattr(defaults, setting.name)
        meta = setting.metadata
        if isinstance(setting.default, bool):
            group.add_argument(flag, action="store_true", default=default, help=meta["help"])
            continue
        extra = {}
        if "type" in meta:
            extra["type"] = argument_type(meta["type"])
        if (choices := choices_of(setting.name)) is not None:
            extra["choices"] = choices
        if "metavar" in meta:
            extra["metavar"] = meta["metavar"]
        group.add_argument(flag, default=default, help=meta["help"], **extra)


def settings_from(args: argparse.Namespace, base: Settings | None = None) -> Settings:
    """The settings the command line gives (fields it lacks keep ``base``'s), checked."""
    return Settings.from_options(args, base).check()


def add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-frames", type=argument_type(positive_int), metavar="N", help="stop after N frames"
    )
    parser.add_argument(
        "--fps",
        type=argument_type(frame_rate),
        default=10.0,
        help="frame rate of an image folder (default: 10)",
    )


def add_range_options(parser: argparse.ArgumentParser, of: str = "") -> None:
    """``--start`` and ``--end`` (seconds) of a video file."""
    seconds = argument_type(non_negative_float)
    what = f" {of}" if of else ""
    parser.add_argument("--start", type=seconds, metavar="S", help=f"start{what} (seconds)")
    parser.add_argument("--end", type=seconds, metavar="S", help=f"end{what} (seconds)")


def add_workers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=argument_type(workers_option),
        default=None,
        metavar="N|auto",
        help="inference workers whose frames overlap; tracking and maps stay in frame order "
        "(default auto: 2 on a CPU with 2+ cores, 1 on a GPU)",
    )


MAX_WORKERS = 64  # each is a thread with a forward pass in flight; far beyond any CPU's use


def workers_option(text: str) -> int | None:
    """``--workers``: ``auto`` (None) or a count of 1 to :data:`MAX_WORKERS`."""
    if text == "auto":
        return None
    count = positive_int(text)
    if count > MAX_WORKERS:
        raise ValueError(f"at most {MAX_WORKERS} workers, got {count}")
    return count


def inference_workers(args: argparse.Namespace, device) -> int:
    """``--workers``, or :func:`~live_explain.sinks.export_job.auto_workers` for ``auto``."""
    from live_explain.sinks.export_job import auto_workers

    if args.workers is not None:
        if args.workers > 1 and device.type != "cpu":
            raise UserError(
                f"--workers {args.workers}: parallel workers are for CPU inference; "
                "on a GPU one worker overlaps its work with CUDA streams"
            )
        return args.workers
    return auto_workers(device)


def open_input(args: argparse.Namespace, *, realtime: bool = False):
    """The source that ``args`` name (``input`` or ``source``), with ``--start``/``--end``
    and ``--fps``; a synthetic scene without ``--max-frames`` gets a default length."""
    from live_explain.sinks.export_job import default_max_frames
    from live_explain.sinks.export_job import open_input as open_named

    source = open_named(
        args.input if hasattr(args, "input") else args.source,
        start_s=getattr(args, "start", None),
        end_s=getattr(args, "end", None),
        folder_fps=args.fps,
        realtime=realtime,
    )
    if not realtime:
        args.max_frames = default_max_frames(source, args.max_frames)
    return source
