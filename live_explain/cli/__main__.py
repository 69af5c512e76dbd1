"""``python -m live_explain.cli``: the ``live-explain`` command."""

from live_explain.launch import entry

entry()
