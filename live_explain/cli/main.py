"""The ``live-explain`` command line.

Exit codes: 0 on success, 2 with one line on stderr for a user's mistake, 130 when
interrupted (an export then keeps its playable partial file under a ``.partial`` name).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

from live_explain import __version__
from live_explain.cli import batch, bench, explain, export, model_list, record, report, watch
from live_explain.errors import UserError, one_line, unexpected_error

log = logging.getLogger("live_explain")

DEBUG_ENV = "LIVE_EXPLAIN_DEBUG"  # set to 1: unexpected errors show their traceback
# One module per command, in the order --help lists them; each adds its parser and its run.
COMMANDS = (watch, export, explain, record, bench, model_list, report, batch)


class ArgumentParser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line, exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"live-explain: error: {message} (see {self.prog} --help)\n")


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="live-explain",
        description="Explain a CNN object detector on driving video, live.",
        epilog="SOURCE/INPUT: a camera index, a video file, an image folder, a URL "
        "(rtsp, rtsps, http, https) or 'synthetic'.",
    )
    parser.add_argument("--version", action="version", version=f"live-explain {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help=f"show the traceback of an unexpected error (or set {DEBUG_ENV}=1)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    sub.required = True
    for command in COMMANDS:
        command.add_parser(sub)
    for command in sub.choices.values():  # also accepted after the command's name
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    return parser


class _WarningFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"live-explain: {record.levelname.lower()}: {record.getMessage()}"


class _Interrupts:
    """SIGINT and SIGTERM handling: the first raises KeyboardInterrupt, so that the command
    ends cleanly (an export keeps its partial file); while it cleans up, a second only says
    so, a third ends the process at once (exit 130)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    @classmethod
    def installed_deferred(cls) -> _Interrupts:
        """Installed, holding a signal back until :meth:`deferred`'s block (or the first
        one) ends: one that comes while they are being installed is not lost."""
        made = cls.__new__(cls)
        made.count, made._deferred, made._previous = 0, True, {}
        made._install()
        return made

    def __init__(self) -> None:
        self.count = 0
        self._deferred = False
        self._previous = {}
        self._install()

    def _install(self) -> None:
        for signum in self.SIGNALS:
            # ValueError: not the main thread (main() called from a test's thread)
            with contextlib.suppress(ValueError):
                if signal.getsignal(signum) is signal.SIG_IGN:
                    continue  # ignored by whoever started us (nohup, a background job)
                self._previous[signum] = signal.signal(signum, self)

    def __call__(self, signum, frame) -> None:
        self.count += 1
        if self.count == 1:
            if self._deferred:
                return  # raised when the imports are done (see deferred)
            raise KeyboardInterrupt
        if self.count == 2:
            if os.isatty(2):  # a person pressing Ctrl-C again; a script gets one line only
                os.write(2, b"live-explain: finishing up; interrupt again to quit at once\n")
            return
        os.write(2, b"live-explain: interrupted at once; partial files are left as they are\n")
        os._exit(130)

    @contextlib.contextmanager
    def deferred(self):
        """Hold a Ctrl-C back until the block ends. Raised inside an import of torch, a
        KeyboardInterrupt can cross its C++ code, which then aborts the whole process."""
        self._deferred = True
        try:
            yield
        finally:
            self._deferred = False
        if self.count:
            raise KeyboardInterrupt

    def restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def _check_working_directory() -> None:
    """A deleted working folder: one line here, not a fatal error from a library's loader."""
    try:
        os.getcwd()
    except OSError as exc:
        raise UserError(
            f"the current folder cannot be read ({exc.strerror}); it may have been deleted: "
            "cd to an existing folder"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every failure ends as one line on stderr and an exit code.

    A user's mistake, a full disk, a permission: exit 2. Ctrl-C or SIGTERM: exit 130, also
    during start-up. A bug: exit 2 with one line, or its traceback under ``--debug`` (or
    ``LIVE_EXPLAIN_DEBUG=1``).
    """
    interrupts = _Interrupts.installed_deferred()
    for stream in (sys.stdout, sys.stderr):  # a file name the terminal cannot show
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_WarningFormatter())
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        _check_working_directory()
        with interrupts.deferred():  # the options import torch (its colormaps, its models)
            args = build_parser().parse_args(argv)
            import torchvision  # noqa: F401  (with torch: every command but report)
        debug = debug or args.debug
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
        return args.run(args)
    except UserError as exc:
        print(f"live-explain: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("live-explain: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `live-explain models | head -1`
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 2
    except Exception as exc:  # MemoryError and OSError included
        if debug:
            raise
        print(f"live-explain: error: {unexpected_error(exc)}", file=sys.stderr)
        return 2
    finally:
        log.removeHandler(handler)
        interrupts.restore()
