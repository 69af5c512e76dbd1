"""Train the demo detector on synthetic driving scenes: ``python -m live_explain.synthetic.train``.

Two stages: the detector first learns to detect (2000 iterations), then goes on detecting while
it learns to explain (2400 iterations): a term (weight 0.8) asks each object's Grad-CAM map to
lie inside its true box (see ``explanation_loss``). ``--init WEIGHTS`` runs stage 2 alone from
stage-1 weights.

Reproducible: the scenes come from fixed training seeds (disjoint from the evaluation seeds),
the model is initialised and the batches are drawn from fixed seeds. About 31 minutes on
two CPU cores with the defaults (14 + 17, measured on an idle machine); faster on a GPU.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from live_explain.synthetic import DrivingScene
from live_explain.synthetic.demo_model import (
    DEMO_CATEGORIES,
    INPUT_SIZE,
    build_demo_detector,
    hold_coordinates,
)
from live_explain.synthetic.explanation_loss import gradcam_outside_share
from live_explain.synthetic.sparse_roi_align import SparseMultiScaleRoIAlign

TRAIN_SEEDS = range(1000, 1600)
EVAL_SEEDS = range(0, 40)  # evaluate.py; never used for training
WEIGHTS_FILE = Path(__file__).with_name("demo_detector.pt")


def training_samples(seed: int, scenes_at_once: int = 8) -> Iterator[tuple[np.ndarray, dict]]:
    """Frames from many training scenes, interleaved, a few frames apart so that
    consecutive samples differ; scenes are replaced by fresh seeds as they are used up."""
    rng = np.random.default_rng(seed)
    seeds = iter(rng.permutation(np.array(TRAIN_SEEDS)).tolist() * 1000)

    def new_scene():
        return DrivingScene(seed=next(seeds), size=INPUT_SIZE).frames()

    scenes = [new_scene() for _ in range(scenes_at_once)]
    used = [0] * scenes_at_once
    while True:
        i = int(rng.integers(scenes_at_once))
        for _ in range(int(rng.integers(2, 9))):
            frame, truth = next(scenes[i])
        used[i] += 1
        if used[i] >= 60:
            scenes[i], used[i] = new_scene(), 0
        yield frame, truth


def to_training_pair(frame: np.ndarray, truth: dict, flip: bool):
    image = torch.from_numpy(np.ascontiguousarray(frame[:, :, ::-1])).permute(2, 0, 1)
    image = image.float().div_(255.0)
    boxes = torch.as_tensor(np.asarray(truth["boxes"], np.float32).reshape(-1, 4))
    if flip:
        image = image.flip(-1)
        width = image.shape[-1]
        boxes = torch.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], 1)
    labels = torch.tensor([DEMO_CATEGORIES.index(n) for n in truth["labels"]], dtype=torch.int64)
    flags = truth.get("difficult", [False] * len(labels))  # a scene's truth always has them
    difficult = torch.as_tensor(flags, dtype=torch.bool).reshape(-1)
    return image, {"boxes": boxes, "labels": labels, "difficult": difficult}


def learning_rate(step: int, total: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1.0 + math.cos(math.pi * progress))


def save_weights(model: torch.nn.Module, path: Path, meta: dict) -> None:
    """Half-precision state dict + categories + metadata, loadable with weights_only=True."""
    state = {
        k: v.half().contiguous() if v.is_floating_point() else v
        for k, v in model.state_dict().items()
    }
    payload = {"state_dict": state, "categories": DEMO_CATEGORIES, "meta": meta}
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def _batch(samples, flips, batch_size: int, device: torch.device):
    """The next ``batch_size`` training pairs, each flipped left-right with chance 1/2."""
    images, targets = [], []
    for _ in range(batch_size):
        pair = to_training_pair(*next(samples), flip=bool(flips.random() < 0.5))
        images.append(pair[0].to(device))
        targets.append({k: v.to(device) for k, v in pair[1].items()})
    return images, targets


def _losses(model, seen: dict, images, targets, explain_weight: float):
    """The detection losses, plus ``explain_weight`` times the Grad-CAM-outside-the-box term
    (on the features and resized targets the hooks in ``seen`` caught), and what the
    progress bar shows of it."""
    losses = model(images, targets)
    postfix = {}
    if explain_weight > 0:
        image_list, sized = seen["input"]
        easy = [~t["difficult"] for t in sized]  # as evaluated: no difficult ones
        outside = gradcam_outside_share(
            model,
            seen["features"],
            [t["boxes"][e] for t, e in zip(sized, easy, strict=True)],
            [t["labels"][e] for t, e in zip(sized, easy, strict=True)],
            image_list.image_sizes,
        )
        losses["explanation"] = explain_weight * outside
        postfix["outside"] = f"{float(outside.detach()):.2f}"
    return losses, postfix


def _prepare_stage(model, hold_coords: bool, fast: bool, device: torch.device):
    """Hooks that catch the resized input and the features (for the explanation term), the
    coordinate channels held at zero (``hold_coords``) and, with ``fast``, the CPU's faster
    pooler and memory layout; returns what the stage undoes at its end."""
    seen = {}
    hooks = [
        model.transform.register_forward_hook(lambda m, a, out: seen.__setitem__("input", out)),
        model.backbone.register_forward_hook(lambda m, a, out: seen.__setitem__("features", out)),
    ]
    if hold_coords:
        hooks += hold_coordinates(model)
    pooler = model.roi_heads.box_roi_pool
    if fast and device.type == "cpu":  # same values; torchvision's CUDA kernels are fast
        model.roi_heads.box_roi_pool = SparseMultiScaleRoIAlign.like(pooler)
    if fast:
        model.to(memory_format=torch.channels_last)  # ~10% faster convolutions on a CPU
    return seen, hooks, pooler


def run_stage(
    model: torch.nn.Module,
    name: str,
    iterations: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: torch.device,
    explain_weight: float = 0.0,
    reseed: bool = True,
    hold_coords: bool = False,
    fast: bool = True,
) -> float:
    """One training stage: AdamW with warm-up and cosine decay from ``lr``, the detection
    losses plus ``explain_weight`` times the Grad-CAM-outside-the-box term. With ``reseed``
    (stage 2) torch's generator, the scenes and the flips all start from ``seed``, so a stage
    run on its own (``--init``) repeats the same stage of a full run, up to the half-precision
    rounding of the weights file it starts from. Stage 1 (``reseed=False``) goes on from the
    generator state the model's initialisation left. ``hold_coords`` keeps the body's coordinate
    channels at their zero weights (stage 1). With ``fast``, while it trains on a CPU, the box
    head pools with :mod:`sparse_roi_align` (torchvision's RoIAlign, the same values computed
    faster there), and the weights are laid out channels-last (faster convolutions); both
    only change float rounding (``benchmarks/train_speed.py`` compares). Returns the seconds
    it took."""
    from tqdm import tqdm

    if reseed:
        torch.manual_seed(seed)
    seen, hooks, pooler = _prepare_stage(model, hold_coords, fast, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    samples = training_samples(seed)
    flips = np.random.default_rng(seed + 1)
    warmup = min(200, iterations // 10)
    started = time.monotonic()
    smoothed = None
    model.train()
    try:
        with tqdm(total=iterations, unit="it", desc=name, file=sys.stderr) as bar:
            for step in range(iterations):
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(step, iterations, lr, warmup)
                images, targets = _batch(samples, flips, batch_size, device)
                losses, postfix = _losses(model, seen, images, targets, explain_weight)
                loss = sum(losses.values())
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
                optimizer.step()
                value = float(loss.detach())
                smoothed = value if smoothed is None else 0.98 * smoothed + 0.02 * value
                postfix["lr"] = f"{optimizer.param_groups[0]['lr']:.1e}"
                bar.set_postfix(loss=f"{smoothed:.3f}", **postfix)
                bar.update(1)
    finally:
        for hook in hooks:
            hook.remove()
        model.roi_heads.box_roi_pool = pooler
        model.to(memory_format=torch.contiguous_format)
    return time.monotonic() - started


def train(
    iterations: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: torch.device,
    out: Path,
    explain_iterations: int = 2400,
    explain_weight: float = 0.8,
    explain_lr: float = 1e-3,
    init: Path | None = None,
) -> Path:
    """Stage 1 (skipped with ``init``): learn to detect. Stage 2: go on learning to detect
    while learning to explain (Grad-CAM inside the box), from a fresh learning-rate cycle."""
    torch.manual_seed(seed)
    model = build_demo_detector()
    seconds, init_meta = {}, None
    if init is None:
        model = model.to(device)
        seconds["detect"] = run_stage(  # torch's generator goes on from the initialisation
            model,
            "1/2 detect",
            iterations,
            batch_size,
            lr,
            seed,
            device,
            reseed=False,
            hold_coords=True,  # position-blind while it learns to detect
        )
    else:
        payload = torch.load(init, map_location="cpu", weights_only=True)
        model.load_state_dict({k: v.float() for k, v in payload["state_dict"].items()})
        model = model.to(device)
        init_meta = payload.get("meta")  # the recipe and figures of the weights started from
    if explain_iterations > 0:
        seconds["explain"] = run_stage(
            model,
            "2/2 detect + explain",
            explain_iterations,
            batch_size,
            explain_lr,
            seed + 100,
            device,
            explain_weight,
        )
    recipe = dict(
        iterations=None if init is not None else iterations,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        init=None if init is None else {"file": init.name, "meta": init_meta},
        explain_iterations=explain_iterations,
        explain_weight=explain_weight,
        explain_lr=explain_lr,
    )
    meta = _training_meta(recipe, seconds, device)
    save_weights(model.eval(), out, meta)
    return out


def _training_meta(recipe: dict, seconds: dict, device: torch.device) -> dict:
    """What the weights file records of its training: the model, the seeds, the recipe, the
    time each stage took, the versions."""
    return {
        "architecture": "FasterRCNN, DemoBody (CoordConv stages 3-5) + 3-level FPN (64 ch), "
        "TwoMLPHead 256",
        "input_size": list(INPUT_SIZE),
        "train_seeds": [TRAIN_SEEDS.start, TRAIN_SEEDS.stop],
        "eval_seeds": [EVAL_SEEDS.start, EVAL_SEEDS.stop],
        **recipe,
        "train_seconds": {k: round(v, 1) for k, v in seconds.items()},
        "device": str(device),
        "torch": str(torch.__version__),
        "evaluation": None,  # filled in by evaluate.py --write-meta
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m live_explain.synthetic.train")
    parser.add_argument("--iterations", type=int, default=2000, help="stage 1: detection only")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--explain-iterations",
        type=int,
        default=2400,
        help="stage 2: detection + the Grad-CAM-inside-the-box term (0: skip)",
    )
    parser.add_argument("--explain-weight", type=float, default=0.8, help="weight of that term")
    parser.add_argument("--explain-lr", type=float, default=1e-3)
    parser.add_argument("--init", type=Path, help="skip stage 1: start from these weights")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("-o", "--out", type=Path, default=WEIGHTS_FILE)
    args = parser.parse_args(argv)
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    path = train(
        args.iterations,
        args.batch_size,
        args.lr,
        args.seed,
        device,
        args.out,
        args.explain_iterations,
        args.explain_weight,
        args.explain_lr,
        args.init,
    )
    print(
        f"saved {path} ({path.stat().st_size / 2**20:.1f} MB); now run "
        "python -m live_explain.synthetic.evaluate --write-meta"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
