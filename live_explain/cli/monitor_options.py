"""The monitoring parts of the command line: ``export --log/--report/--faithfulness`` and
``live-explain report``. Importing this module costs no torch import."""

from __future__ import annotations

import argparse

from live_explain.cli.options import argument_type
from live_explain.config import positive_int

FAITHFULNESS_DEFAULT = "every method that makes maps"


def fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def add_monitor_options(parser: argparse.ArgumentParser) -> None:
    """Options of ``export`` beside ``--log`` and ``--report`` (which it already has)."""
    group = parser.add_argument_group("monitoring (with --log or --report)")
    group.add_argument(
        "--faithfulness",
        type=argument_type(positive_int),
        metavar="N",
        help="deletion/insertion AUC of each method on N sampled frames (slow: about "
        "60 detector runs per detection and method)",
    )
    group.add_argument(
        "--faithfulness-methods",
        metavar="LIST",
        help=f"methods to compare (default: {FAITHFULNESS_DEFAULT})",
    )
    group.add_argument(
        "--attention-thresh",
        type=fraction,
        default=0.5,
        metavar="T",
        help="attention_outside_box when less than T of a map lies in its box (default: 0.5)",
    )
    group.add_argument(
        "--flicker-thresh",
        type=fraction,
        default=0.5,
        metavar="T",
        help="flicker when more than T of a track's map moves in one frame (default: 0.5)",
    )
    group.add_argument(
        "--low-score",
        type=fraction,
        default=0.6,
        metavar="S",
        help="low_confidence_persistent: a track below S for --low-score-frames (default: 0.6)",
    )
    group.add_argument(
        "--low-score-frames", type=argument_type(positive_int), default=10, metavar="N"
    )
    group.add_argument(
        "--dropout-gap",
        type=argument_type(positive_int),
        default=5,
        metavar="N",
        help="dropout: a track missing for at most N frames comes back (default: 5)",
    )


def faithfulness_methods(args: argparse.Namespace) -> tuple[str, ...]:
    """``--faithfulness-methods``, or every registered method that makes maps."""
    if args.faithfulness_methods is None:
        from live_explain.explain.methods import map_method_names

        return map_method_names()
    return tuple(m.strip() for m in args.faithfulness_methods.split(",") if m.strip())
