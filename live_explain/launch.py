"""The ``live-explain`` program's first lines: a Ctrl-C or SIGTERM while the command line's
modules load ends the program in one line (exit 130), and one that comes once the command is
done (the interpreter shutting down) cannot turn its exit code into a death by signal."""

from __future__ import annotations

import os
import signal
import sys

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupted_while_loading(_signum, _frame) -> None:
    os.write(2, b"live-explain: interrupted\n")
    os._exit(130)  # nothing is written yet: nothing to clean up


def entry() -> None:
    """The console script: early signal handling, then :func:`live_explain.cli.main.main`."""
    for signum in SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup and background jobs
            signal.signal(signum, _interrupted_while_loading)
    from live_explain.cli.main import main

    code = 2
    try:
        code = main()
    except SystemExit as exc:  # --help, --version, a usage error
        code = exc.code
    finally:
        for signum in SIGNALS:  # ignored, not reset by Python's shutdown (a handler would be)
            signal.signal(signum, signal.SIG_IGN)
    sys.exit(code)
