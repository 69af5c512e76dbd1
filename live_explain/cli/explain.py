"""``live-explain explain IMAGE -o OUT.png``: one image, its detections (or class) and their
maps. The work is in :mod:`live_explain.cli.explain_image`, imported when the command runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from live_explain.cli.options import add_settings_options


def add_parser(sub) -> None:
    explain = sub.add_parser("explain", help="explain the detections in one image")
    explain.add_argument("image", metavar="IMAGE")
    explain.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.png")
    explain.add_argument(
        "--save-maps", type=Path, metavar="OUT.npz", help="boxes, labels, scores and raw maps"
    )
    explain.add_argument(
        "--feature-maps",
        type=Path,
        metavar="OUT.png",
        help="a grid of the most active channels of --layer (default layer if not given)",
    )
    explain.add_argument(
        "--filters",
        type=Path,
        metavar="OUT.png",
        help="the first convolution's kernels; with --layer, the frame patches that most "
        "excite that layer's most active channels",
    )
    add_settings_options(explain, ("model", "detector", "style"))
    explain.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from live_explain.cli.explain_image import explain_image

    return explain_image(args)
