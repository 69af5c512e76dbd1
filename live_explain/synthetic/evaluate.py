"""Evaluate the demo detector on scenes from unseen seeds:
``python -m live_explain.synthetic.evaluate``.

Prints mAP@0.5 (all classes) and the energy pointing game of its Grad-CAM maps: for every
detection that matches a ground-truth object, the share of its map's energy inside that
object's true box, averaged. Objects the scene marks ``difficult`` (under 12 px tall or more than
half hidden) are handled as PASCAL VOC does: neither asked for nor held against the detector,
and left out of the pointing game; ``map50_all`` is the mAP with every listed object asked for.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from live_explain.explain import DetectionExplainer
from live_explain.model.detector import frame_to_tensor
from live_explain.monitor.metrics import DetectionEvaluator, box_iou, energy_in_box
from live_explain.synthetic import DrivingScene
from live_explain.synthetic.demo_model import DEMO_CATEGORIES, INPUT_SIZE
from live_explain.synthetic.train import EVAL_SEEDS, WEIGHTS_FILE, save_weights

POINTING_SCORE = 0.5  # detections a user would see
FRAME_STEP = 10  # frames apart within a scene, so that samples differ


def evaluate(
    model,
    seeds,
    frames_per_seed: int,
    device: torch.device,
    progress=None,
    method="gradcam",
    categories=None,
) -> dict:
    """The figures above for ``model``; ``categories``: its class names by label id (the
    demo's by default; a YOLO trained on the scenes has no background class)."""
    categories = DEMO_CATEGORIES if categories is None else categories
    model = model.to(device).eval()
    explainer = DetectionExplainer(model, method, topk=50, score_thresh=0.05)
    evaluator = DetectionEvaluator(iou=0.5)
    every_object = DetectionEvaluator(iou=0.5)
    energies = []
    for seed in seeds:
        scene = DrivingScene(seed=seed, size=INPUT_SIZE).frames(frames_per_seed * FRAME_STEP)
        for index, (frame, truth) in enumerate(scene):
            if index % FRAME_STEP:
                continue
            result = explainer(frame_to_tensor(frame, device))
            boxes = result.boxes.cpu().numpy()
            scores = result.scores.cpu().numpy()
            names = [categories[i] for i in result.labels.tolist()]
            truth_boxes = np.asarray(truth["boxes"], np.float32).reshape(-1, 4)
            difficult = truth["difficult"]
            evaluator.add(boxes, names, scores, truth_boxes, truth["labels"], difficult)
            every_object.add(boxes, names, scores, truth_boxes, truth["labels"])
            if len(truth_boxes) == 0:
                continue
            iou = box_iou(boxes, truth_boxes)
            maps = result.heatmaps.cpu().numpy()
            for k, (name, score) in enumerate(zip(names, scores, strict=True)):
                same = [j for j, t in enumerate(truth["labels"]) if t == name and not difficult[j]]
                if score < POINTING_SCORE or not same:
                    continue
                best = max(same, key=lambda j: iou[k, j])
                if iou[k, best] >= 0.5:
                    energies.append(energy_in_box(maps[k], truth_boxes[best]))
            if progress:
                progress(1)
    aps = evaluator.ap()
    return {
        "map50": round(evaluator.map(), 4),
        "map50_all": round(every_object.map(), 4),
        "ap50": {name: round(ap, 4) for name, ap in sorted(aps.items())},
        "energy_pointing": round(float(np.mean(energies)), 4) if energies else 0.0,
        "pointing_detections": len(energies),
        "pointing_method": method,
        "seeds": [min(seeds), max(seeds) + 1],
        "frames": len(seeds) * frames_per_seed,
    }


def main(argv: list[str] | None = None) -> int:
    from tqdm import tqdm

    from live_explain.model.loading import load_model

    parser = argparse.ArgumentParser(prog="python -m live_explain.synthetic.evaluate")
    parser.add_argument("--weights", type=Path, default=WEIGHTS_FILE)
    parser.add_argument("--seeds", type=int, default=len(EVAL_SEEDS), help="how many eval seeds")
    parser.add_argument("--frames-per-seed", type=int, default=10)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument(
        "--method",
        default="gradcam",
        choices=("gradcam", "gradcam++", "hirescam", "eigencam", "saliency"),
        help="the explanation the pointing game measures (the demo's goal is for gradcam)",
    )
    parser.add_argument(
        "--write-meta", action="store_true", help="store the figures in the weights file"
    )
    args = parser.parse_args(argv)
    model = load_model("demo", weights=args.weights)
    seeds = list(EVAL_SEEDS)[: args.seeds]
    with tqdm(total=len(seeds) * args.frames_per_seed, desc="evaluate", file=sys.stderr) as bar:
        figures = evaluate(
            model, seeds, args.frames_per_seed, torch.device(args.device), bar.update, args.method
        )
    print(
        f"mAP@0.5 {figures['map50']:.3f} (every object, difficult ones too: "
        f"{figures['map50_all']:.3f})   {args.method} energy in box "
        f"{figures['energy_pointing']:.3f}"
    )
    print(json.dumps(figures))
    if args.write_meta and args.method != "gradcam":
        print("not writing figures: the stored pointing figure is Grad-CAM's", file=sys.stderr)
    elif args.write_meta:
        payload = torch.load(args.weights, map_location="cpu", weights_only=True)
        meta = dict(payload.get("meta") or {})
        meta["evaluation"] = figures
        model.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()}
        )
        save_weights(model, args.weights, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
