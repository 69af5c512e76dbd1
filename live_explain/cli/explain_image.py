"""The work of ``live-explain explain IMAGE``: one image, its detections (or class) and their
maps, and the outputs asked for (imported when the command runs: it needs torch)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from live_explain.cli.options import settings_from
from live_explain.config import Settings, build_detector
from live_explain.errors import UserError
from live_explain.io.images import read_image_file
from live_explain.render.overlay import blend_heat, draw_detections
from live_explain.sinks import output_files
from live_explain.sinks.video import check_output_path

IMAGE_OUTPUTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
CLASSIFIER_SHORT_SIDE = 224  # the resolution torchvision's classifiers were trained at
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def read_image(path: Path) -> np.ndarray:
    """The image at ``path`` as BGR uint8, or a one-line :class:`UserError` saying why not."""
    return read_image_file(path)


def write_atomic(path: Path, write: Callable[[Path], None], inputs: tuple[str, ...] = ()) -> None:
    """Write through a partial file of this run's own, then move it to ``path``."""
    output_files.write_atomic(path, write, inputs)


def _imwrite(path: Path, picture: np.ndarray, output: Path) -> None:
    """Encode in memory, then write the bytes: a failed write is then Python's OSError (one
    line from :func:`write_atomic`), not libpng's own message on stderr."""
    ok, encoded = cv2.imencode(Path(output).suffix.lower(), picture)
    if not ok:
        raise UserError(f"{output}: could not encode the image")
    path.write_bytes(encoded.tobytes())


def explain_image(args: argparse.Namespace) -> int:
    """``live-explain explain IMAGE -o OUT.png``: detect (or classify) and explain, then write
    the overlay and the outputs asked for."""
    from live_explain.model.loading import check_model_name, is_detector

    settings = settings_from(args)
    style = settings.style()

    image_path = Path(args.image)
    check_output_path(args.output, (args.image,), IMAGE_OUTPUTS)
    if args.save_maps:
        check_output_path(args.save_maps, (args.image,), (".npz",))
    image = read_image(image_path)
    check_model_name(args.model)
    from live_explain.explain.methods import REGISTRY

    if not REGISTRY[args.method].makes_maps:
        raise UserError(f"--method {args.method}: explain needs an explanation method")
    for extra in (args.feature_maps, args.filters):
        if extra:
            check_output_path(extra, (args.image,), IMAGE_OUTPUTS)
    output_files.check_distinct((args.output, args.save_maps, args.feature_maps, args.filters))
    if is_detector(args.model):
        model, overlay, arrays, summary = _explain_detections(args, image, settings)
    else:
        model, overlay, arrays, summary = _explain_classification(args, image, style)
    extras = _layer_pictures(args, model, image)

    inputs = (str(args.image),)
    write_atomic(args.output, lambda tmp: _imwrite(tmp, overlay, args.output), inputs)
    if args.save_maps:
        write_atomic(args.save_maps, lambda tmp: _save_npz(tmp, arrays), inputs)
    for path, picture in extras.items():
        write_atomic(path, lambda tmp, p=path, pic=picture: _imwrite(tmp, pic, p), inputs)
    saved = f"; maps in {args.save_maps}" if args.save_maps else ""
    saved += "".join(f"; {path}" for path in extras)
    print(f"{summary} -> {args.output}{saved}")
    return 0


def _layer_pictures(args, model, image) -> dict[Path, np.ndarray]:
    """The feature-map grid and the filter picture the user asked for."""
    from live_explain.explain.features import (
        capture_layer,
        feature_map_grid,
        first_conv_filters,
        top_patches,
    )
    from live_explain.explain.layers import default_layer

    pictures = {}
    if not (args.feature_maps or args.filters):
        return pictures
    layer = args.layer or default_layer(model)
    view = capture_layer(model, image, layer)
    if args.feature_maps:
        pictures[args.feature_maps] = feature_map_grid(view)
    if args.filters:  # the first convolution's kernels, or what a chosen layer responds to
        pictures[args.filters] = (
            top_patches(view, image) if args.layer else first_conv_filters(model)
        )
    return pictures


def _save_npz(tmp: Path, arrays: dict) -> None:
    with open(tmp, "wb") as handle:  # a file object keeps numpy from appending ".npz"
        np.savez_compressed(handle, **arrays)


def _explain_detections(args, image, settings: Settings):
    detector = build_detector(settings)
    detections = detector(image)
    overlay = draw_detections(image, detections, settings.style())
    arrays = {
        "boxes": detections.boxes.astype(np.float32),
        "labels": detections.labels,
        "scores": detections.scores.astype(np.float32),
        "names": np.array(detections.names, dtype=str),
        "maps": detections.heatmaps.astype(np.float32),
        "method": np.array(args.method),
        "layer": np.array(detector.layer),
        "model": np.array(getattr(detector.model, "model_name", args.model)),
    }
    summary = (
        f"{len(detections)} detections explained with {args.method} at layer '{detector.layer}'"
    )
    return detector.model, overlay, arrays, summary


def _explain_classification(args, image, style):
    from live_explain.explain import explain_classifier
    from live_explain.model.detector import resolve_device
    from live_explain.model.loading import load_model

    device = resolve_device(args.device)
    model = load_model(args.model, weights=args.weights).to(device)
    height, width = image.shape[:2]
    factor = CLASSIFIER_SHORT_SIDE / min(height, width)
    small = cv2.resize(image, (max(1, round(width * factor)), max(1, round(height * factor))))
    rgb = torch.from_numpy(np.ascontiguousarray(small[:, :, ::-1])).to(device)
    x = rgb.permute(2, 0, 1).float().div(255.0)
    mean = torch.tensor(IMAGENET_MEAN, device=device)[:, None, None]
    std = torch.tensor(IMAGENET_STD, device=device)[:, None, None]
    x = ((x - mean) / std)[None]
    with torch.no_grad():
        probs = torch.softmax(model(x), dim=1)[0]
    class_id = int(probs.argmax())
    maps = explain_classifier(
        model, x, layer=args.layer, method=args.method, targets=[class_id], smooth=args.smooth
    )
    heat = cv2.resize(maps[0].cpu().numpy(), (width, height), interpolation=cv2.INTER_LINEAR)
    overlay = blend_heat(image, np.clip(heat, 0, 1), style.colormap, style.alpha)
    name = model.categories[class_id]
    cv2.putText(
        overlay,
        f"{name} {float(probs[class_id]):.2f}",
        (8, 28),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.8,
        (255, 255, 255),
        2,
        cv2.LINE_AA,
    )
    arrays = {
        "class_id": np.array(class_id),
        "class_name": np.array(name),
        "score": np.array(float(probs[class_id]), dtype=np.float32),
        "map": heat.astype(np.float32),
        "method": np.array(args.method),
        "model": np.array(getattr(model, "model_name", args.model)),
    }
    summary = f"{name} ({float(probs[class_id]):.2f}) explained with {args.method}"
    return model, overlay, arrays, summary
