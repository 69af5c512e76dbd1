"""``python -m live_explain``: the ``live-explain`` command."""

from live_explain.launch import entry

entry()
