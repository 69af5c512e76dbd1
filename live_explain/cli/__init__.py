"""The command line: one module per command, the shared options, and :func:`main`."""

from live_explain.cli.main import main

__all__ = ["main"]
