"""Seconds per iteration of the demo detector's two training stages, with the training
speed-ups (sparse RoIAlign, channels-last) and without them (torchvision's pooler), measured
in one run so that their ratio holds on a noisy machine.

Usage: python benchmarks/train_speed.py [ITERATIONS]   (default 60 per stage and variant)
"""

from __future__ import annotations

import json
import sys

import torch

from live_explain.synthetic.demo_model import build_demo_detector
from live_explain.synthetic.train import run_stage

WARMUP = 5


def seconds_per_iteration(fast: bool, explain_weight: float, iterations: int) -> float:
    torch.manual_seed(0)
    model = build_demo_detector()
    cpu = torch.device("cpu")
    lr = 1e-3 if explain_weight else 2e-3
    hold = not explain_weight  # stage 1 holds the coordinate channels at zero

    def stage(name: str, count: int) -> float:
        return run_stage(
            model,
            name,
            count,
            4,
            lr,
            0,
            cpu,
            explain_weight,
            reseed=False,
            hold_coords=hold,
            fast=fast,
        )

    stage("warm-up", WARMUP)
    return stage("fast" if fast else "torchvision", iterations) / iterations


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    figures = {"threads": torch.get_num_threads(), "iterations": iterations}
    for name, weight in (("stage1", 0.0), ("stage2", 0.6)):
        for fast in (True, False):
            key = f"{name}_{'fast' if fast else 'torchvision'}_s_per_it"
            figures[key] = round(seconds_per_iteration(fast, weight, iterations), 4)
        figures[f"{name}_speedup"] = round(
            figures[f"{name}_torchvision_s_per_it"] / figures[f"{name}_fast_s_per_it"], 2
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
