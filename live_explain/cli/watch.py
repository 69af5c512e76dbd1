"""``live-explain watch [SOURCE]``: the desktop app."""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from pathlib import Path

from live_explain.cli.options import add_settings_options, argument_type
from live_explain.config import positive_int
from live_explain.errors import UserError

INTERRUPTED = 130  # run_app's code when Ctrl-C or SIGTERM closed the window


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
    check_model_options(overrides)
    check_display()
    code = run_app(
        WatchOptions(
            source=args.source,
            overrides=overrides,
            screenshot=args.screenshot,
            exit_after_frames=args.exit_after_frames,
        )
    )
    if code == INTERRUPTED:
        print("live-explain: interrupted; the window closed", file=sys.stderr)
    return code


def check_model_options(overrides: dict) -> None:
    """A model, layer, class list, method or device given on the command line that cannot
    work: one line and exit 2 here (a remembered one only gets a notice in the app)."""
    from live_explain.config import build_detector
    from live_explain.ui.settings import AppSettings

    checked = ("model", "weights", "device", "method", "layer", "classes", "smooth")
    if not set(checked) & overrides.keys():
        return
    # The model the app will run: the remembered one unless the command line names another;
    # only the layer and classes given here are checked against it (remembered ones that do
    # not fit it get a notice in the app instead).
    remembered = AppSettings().explain()
    settings = remembered.replace(
        layer=overrides.get("layer"),
        classes=overrides.get("classes"),
        **{k: v for k, v in overrides.items() if k not in ("layer", "classes")},
    )
    quiet = logging.getLogger("live_explain")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # the app says the same (a fallback, say) once it loads
    try:
        build_detector(settings)
    finally:
        quiet.setLevel(level)


def check_display() -> None:
    """Raise :class:`UserError` where Qt would abort for want of a screen to open."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform not in ("", "xcb", "wayland"):
        return  # offscreen, vnc, another OS: Qt has what it needs
    x11, wayland = os.environ.get("DISPLAY", ""), os.environ.get("WAYLAND_DISPLAY", "")
    if not (x11 or wayland):
        raise UserError(
            "no display to open the window on (DISPLAY is not set); run it in a desktop "
            "session, under xvfb-run, or with QT_QPA_PLATFORM=offscreen for --screenshot"
        )
    reachable = (platform != "xcb" and wayland and _wayland_reachable(wayland)) or (
        platform != "wayland" and x11 and _x11_reachable(x11)
    )
    if not reachable:
        shown = " or ".join(
            f"{name}={value}"
            for name, value in (("WAYLAND_DISPLAY", wayland), ("DISPLAY", x11))
            if value
        )
        raise UserError(
            f"cannot reach the display {shown}; is the desktop session (or Xvfb) still "
            "running? For --screenshot without a screen set QT_QPA_PLATFORM=offscreen"
        )


def _connects(family: int, address, timeout_s: float = 1.0) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout_s)
        try:
            probe.connect(address)
        except OSError:
            return False
    return True


def _x11_reachable(display: str) -> bool:
    """Whether an X server answers at ``display`` (``[host]:N[.screen]``)."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return False
    if host.startswith("/"):
        return True  # a socket path of another form: Qt is left to try it
    if host in ("", "unix"):
        path = f"/tmp/.X11-unix/X{number}"
        return _connects(socket.AF_UNIX, path) or _connects(socket.AF_UNIX, "\0" + path)
    return _connects(socket.AF_INET, (host.strip("[]"), 6000 + int(number)))


def _wayland_reachable(name: str) -> bool:
    path = (
        name if name.startswith("/") else os.path.join(os.environ.get("XDG_RUNTIME_DIR", ""), name)
    )
    return _connects(socket.AF_UNIX, path)
