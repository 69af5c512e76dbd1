"""Model registry: torchvision detectors and classifiers, and where their weights come from.

``load_model(name, weights=...)`` returns an eval-mode module on the CPU with
``model.categories``, the class names indexed by label id. ``weights`` is one of

* ``"coco"`` (detectors) / ``"imagenet"`` (classifiers): torchvision's own weights API, with its
  download, progress bar and hash check;
* ``"none"``: random initialisation (for timing and tests);
* ``"auto"``: the pretrained weights when they are already in torch's cache, else random
  weights with a notice;
* a path to a state-dict file, loaded with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import difflib
import logging
import os
from pathlib import Path

import torch
from torch import nn
from torchvision.models import get_model, get_model_weights

from live_explain.errors import UserError
from live_explain.model_names import CLASSIFIERS, DEFAULT_DETECTOR, DETECTORS

log = logging.getLogger("live_explain")

WEIGHT_CHOICES = ("auto", "demo", "coco", "none")


def is_detector(name: str) -> bool:
    return name in DETECTORS


def check_model_name(name: str) -> str:
    if name in DETECTORS or name in CLASSIFIERS:
        return name
    close = difflib.get_close_matches(name, DETECTORS + CLASSIFIERS, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see `live-explain models`"
    raise UserError(f"unknown model '{name}'{hint}")


def pretrained_weights(name: str):
    """torchvision's default pretrained weights enum member for ``name``."""
    return get_model_weights(name).DEFAULT


def weights_file(name: str) -> Path:
    """Where torchvision's download of ``name``'s pretrained weights lives in torch's cache."""
    url = pretrained_weights(name).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def weights_cached(name: str) -> bool:
    return weights_file(name).is_file()


def _build(name: str, weights) -> nn.Module:
    kwargs = {"weights": weights}
    if is_detector(name):
        kwargs["weights_backbone"] = None  # never fetch ImageNet backbones implicitly
    return get_model(name, **kwargs)


def _load_state_dict_file(model: nn.Module, name: str, path: Path) -> list[str] | None:
    if not path.is_file():
        raise UserError(f"{path}: weights file not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: not a loadable weights file ({first})") from None
    categories = None
    if isinstance(payload, dict) and "state_dict" in payload:
        categories = payload.get("categories")
        payload = payload["state_dict"]
    if not isinstance(payload, dict):
        raise UserError(f"{path}: expected a state dict, found {type(payload).__name__}")
    try:
        model.load_state_dict(payload)
    except RuntimeError as exc:
        detail = str(exc).strip().splitlines()
        reason = detail[1].strip() if len(detail) > 1 else detail[0]
        raise UserError(f"{path}: weights do not fit {name} ({reason})") from None
    return list(categories) if categories else None


def load_model(name: str = DEFAULT_DETECTOR, weights: str | os.PathLike = "auto") -> nn.Module:
    """Build torchvision model ``name`` with ``weights``; eval mode, on the CPU.

    The module gets ``categories`` (class names by label id) and ``weights_source``
    (what was loaded, in words).
    """
    check_model_name(name)
    choice = os.fspath(weights)
    categories = list(pretrained_weights(name).meta["categories"])
    pretrained_name = "COCO" if is_detector(name) else "ImageNet"
    if choice == "auto":
        if weights_cached(name):
            choice = "coco"
        else:
            log.warning(
                "no %s weights for %s in torch's cache (%s); using random weights, so "
                "detections are meaningless. Get real weights with --weights coco where the "
                "internet is reachable, or pass --weights PATH",
                pretrained_name,
                name,
                weights_file(name).parent,
            )
            choice = "none"
    if choice == "demo":
        raise UserError("the bundled demo detector is not available yet; use --weights none")
    if choice in ("coco", "imagenet"):
        try:
            model = _build(name, pretrained_weights(name))
        except OSError as exc:  # URLError, connection errors, unwritable cache
            raise UserError(
                f"could not get {pretrained_name} weights for {name} ({exc}); use "
                "--weights demo, or --weights PATH with a state-dict file"
            ) from None
        source = f"{pretrained_name} ({weights_file(name).name})"
    elif choice == "none":
        with torch.random.fork_rng():  # the same random model every time, for fair timings
            torch.manual_seed(0)
            model = _build(name, None)
        source = "random initialisation"
    else:
        path = Path(choice)
        model = _build(name, None)
        categories = _load_state_dict_file(model, name, path) or categories
        source = str(path)
    model.eval()
    model.categories = categories
    model.weights_source = source
    return model
