"""Do YOLO's per-detection maps land on the objects? Train a YOLO briefly on the project's
synthetic driving scenes (with Ultralytics' own trainer), then measure, on scenes of unseen
seeds, the share of each matched detection's Grad-CAM energy inside its true box (the demo
Faster R-CNN's figure, ``python -m live_explain.synthetic.evaluate``, is 0.61).

    python benchmarks/yolo_synthetic.py [--model yolov8n] [--images 800] [--epochs 20]
        [--imgsz 640] [--out /tmp/live-explain-yolo-synthetic] [--eval-only]
        [--methods gradcam,hirescam]

The dataset, Ultralytics' run folder and the trained checkpoint go under ``--out`` (never
into the package: no YOLO weights are bundled). Prints one JSON object: the training time,
mAP@0.5 and the energy pointing figure, from live-explain's own evaluation (the same seeds,
frames and rules as the demo's).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from live_explain.model.loading import load_model
from live_explain.model.names import DRIVING_CLASSES
from live_explain.synthetic.evaluate import evaluate
from live_explain.synthetic.train import EVAL_SEEDS, training_samples


def write_dataset(out: Path, images: int, seed: int = 0) -> Path:
    """``images`` training frames (and a tenth as many for Ultralytics' validation) in YOLO's
    format: one label line per object that is not ``difficult``."""
    for split, count, offset in (("train", images, 0), ("val", max(images // 10, 8), 1)):
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        samples = training_samples(seed + offset)
        for index in range(count):
            frame, truth = next(samples)
            height, width = frame.shape[:2]
            stem = f"{split}{index:05d}"
            cv2.imwrite(str(out / "images" / split / f"{stem}.jpg"), frame)
            lines = []
            for box, name, hard in zip(
                truth["boxes"], truth["labels"], truth["difficult"], strict=True
            ):
                if hard:
                    continue
                x0, y0, x1, y1 = box
                cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
                w, h = (x1 - x0) / width, (y1 - y0) / height
                lines.append(f"{DRIVING_CLASSES.index(name)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
            (out / "labels" / split / f"{stem}.txt").write_text("\n".join(lines) + "\n")
    data = out / "data.yaml"
    names = "\n".join(f"  {i}: {name}" for i, name in enumerate(DRIVING_CLASSES))
    data.write_text(f"path: {out}\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
    return data


def train(model_name: str, data: Path, out: Path, epochs: int, imgsz: int) -> tuple[Path, float]:
    from ultralytics import YOLO

    started = time.perf_counter()
    yolo = YOLO(f"{model_name}.yaml")
    yolo.train(
        data=str(data),
        epochs=epochs,
        imgsz=imgsz,
        batch=16,
        device="cpu",
        workers=2,
        project=str(out / "runs"),
        name="train",
        exist_ok=True,
        pretrained=False,
        amp=False,
        plots=False,
        verbose=False,
    )
    best = out / "runs" / "train" / "weights" / "best.pt"
    last = out / "runs" / "train" / "weights" / "last.pt"
    return (best if best.is_file() else last), time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="yolov8n")
    parser.add_argument("--images", type=int, default=800)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--frames-per-seed", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("/tmp/live-explain-yolo-synthetic"))
    parser.add_argument("--eval-only", action="store_true", help="evaluate the last training")
    parser.add_argument(
        "--methods", default="gradcam", help="comma-separated methods to measure (gradcam)"
    )
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    figures: dict = {"model": args.model, "images": args.images, "epochs": args.epochs}
    checkpoint = args.out / "runs" / "train" / "weights" / "best.pt"
    if not args.eval_only:
        t0 = time.perf_counter()
        data = write_dataset(args.out, args.images)
        figures["dataset_s"] = round(time.perf_counter() - t0, 1)
        checkpoint, seconds = train(args.model, data, args.out, args.epochs, args.imgsz)
        figures["train_s"] = round(seconds, 1)
    model = load_model(args.model, str(checkpoint))
    assert list(model.categories) == list(DRIVING_CLASSES), model.categories
    for method in args.methods.split(","):
        result = evaluate(
            model,
            EVAL_SEEDS,
            args.frames_per_seed,
            torch.device("cpu"),
            method=method,
            categories=list(model.categories),
        )
        figures[f"energy_pointing_{method}"] = result.pop("energy_pointing")
        figures.update(checkpoint=str(checkpoint), image_size=model.image_size, **result)
    figures["energy_pointing"] = figures[f"energy_pointing_{args.methods.split(',')[0]}"]
    figures.pop("ap50", None)
    print(json.dumps(figures))
    return 0 if np.isfinite(figures["energy_pointing"]) else 1


if __name__ == "__main__":
    sys.exit(main())
