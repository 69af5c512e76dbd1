"""``python -m live_explain``: the ``live-explain`` command."""

from live_explain.cli.main import entry

entry()
