"""``live-explain watch [SOURCE]``: the desktop app."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from live_explain.cli.options import add_settings_options, argument_type
from live_explain.config import positive_int
from live_explain.errors import UserError


def add_parser(sub) -> None:
    watch = sub.add_parser(
        "watch",
        help="open the desktop app",
        description="Open the desktop app on SOURCE (default: camera 0). Options not given "
        "keep the values the app remembers from last time.",
    )
    watch.add_argument("source", nargs="?", metavar="SOURCE")
    watch.add_argument(
        "--screenshot", type=Path, metavar="OUT.png", help="save a PNG of the window and exit"
    )
    watch.add_argument(
        "--exit-after-frames",
        type=argument_type(positive_int),
        metavar="N",
        help="play N frames, then exit (with --screenshot: take it then; default 30)",
    )
    # Not given: the app's remembered settings apply instead of the defaults.
    add_settings_options(watch, ("model", "detector", "policy", "style"), remembered=True)
    watch.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from live_explain.sinks.video import check_output_path
    from live_explain.ui.app import WatchOptions, overrides_from_args, run_app

    if args.screenshot is not None:
        check_output_path(args.screenshot, (args.source,), suffixes=(".png",))
    overrides = overrides_from_args(args)
    check_display()
    return run_app(
        WatchOptions(
            source=args.source,
            overrides=overrides,
            screenshot=args.screenshot,
            exit_after_frames=args.exit_after_frames,
        )
    )


def check_display() -> None:
    """Raise :class:`UserError` where Qt would abort for want of a screen to open."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform not in ("", "xcb", "wayland"):
        return  # offscreen, vnc, another OS: Qt has what it needs
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise UserError(
            "no display to open the window on (DISPLAY is not set); run it in a desktop "
            "session, under xvfb-run, or with QT_QPA_PLATFORM=offscreen for --screenshot"
        )
