"""Run ``live-explain`` from another checkout of the project instead of the installed one,
for before/after figures in one run: ``python benchmarks/checkout_cli.py CHECKOUT ARGS...``
(make the checkout with ``git worktree add /tmp/before <commit>``). Only this command's own
process runs that code; Ray's workers import the installed project."""

import runpy
import sys

checkout = sys.argv.pop(1)
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f)]  # the installed one
sys.path.insert(0, checkout)
import live_explain  # noqa: E402

assert live_explain.__file__.startswith(checkout), live_explain.__file__
runpy.run_module("live_explain.cli", run_name="__main__", alter_sys=True)
