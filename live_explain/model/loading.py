"""Model registry: torchvision detectors and classifiers, and where their weights come from.

``load_model(name, weights=...)`` returns an eval-mode module on the CPU with
``model.categories``, the class names indexed by label id. ``weights`` is one of

* ``"coco"`` (detectors) / ``"imagenet"`` (classifiers): torchvision's own weights API, with its
  download, progress bar and hash check;
* ``"none"``: random initialisation (for timing and tests);
* ``"auto"``: the pretrained weights when they are already in torch's cache, else random
  weights with a notice;
* a path to a state-dict file, loaded with ``torch.load(..., weights_only=True)``: the
  state dict itself, or ``{'state_dict': ..., 'categories': [one class name per class]}``.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
import socket
import warnings
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn
from torchvision.models import get_model, get_model_weights

from live_explain.errors import UserError
from live_explain.model.names import (
    CLASSIFIERS,
    DEFAULT_DETECTOR,
    DEMO_MODEL,
    DETECTORS,
    YOLO_MODELS,
    is_yolo,
)

log = logging.getLogger("live_explain")

WEIGHT_CHOICES = ("auto", "demo", "coco", "none")


def is_detector(name: str) -> bool:
    return name in DETECTORS or name == DEMO_MODEL or is_yolo(name)


def check_model_name(name: str) -> str:
    if is_detector(name) or name in CLASSIFIERS:
        return name
    known = DETECTORS + YOLO_MODELS + CLASSIFIERS
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
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


class PickledObjects(UserError):
    """A weights file that holds Python objects besides tensors (a pickled model)."""


_NO_CATEGORIES = object()  # a weights file without a 'categories' key
STATE_DICT_FORMATS = (
    "expected torch.save(model.state_dict()) or {'state_dict': ..., 'categories': [names]}"
)


def _load_state_dict_file(model: nn.Module, name: str, path: Path) -> list[str] | None:
    """Load the weights file ``path`` into ``model``; its ``categories`` when it has them.

    Accepted: a state dict, or a dict with ``state_dict`` and optionally ``categories`` (a
    list of one class name per class of the model). Anything else is a one-line
    :class:`UserError` naming the file and what is wrong.
    """
    payload = _read_weights_file(path)
    categories = _NO_CATEGORIES
    if isinstance(payload, dict) and "state_dict" in payload:
        categories = payload.get("categories", _NO_CATEGORIES)
        payload = payload["state_dict"]
        _check_state_dict(model, name, f"{path}: its 'state_dict'", payload)
    else:
        _check_state_dict(model, name, f"{path}: the file", payload)
    try:
        model.load_state_dict(payload)
    except RuntimeError as exc:
        detail = str(exc).strip().splitlines()
        reason = detail[1].strip() if len(detail) > 1 else detail[0]
        raise UserError(f"{path}: weights do not fit {name} ({reason})") from None
    if categories is _NO_CATEGORIES:
        return None
    return _check_categories(model, path, categories)


def _read_weights_file(path: Path):
    if path.is_dir():
        raise UserError(f"{path}: a folder, not a weights file; {STATE_DICT_FORMATS}")
    if not path.exists():
        raise UserError(
            f"{path}: weights file not found (--weights takes {', '.join(WEIGHT_CHOICES)} or a "
            "file)"
        )
    if not path.is_file():
        raise UserError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: weights file is empty (0 bytes)")
    if not os.access(path, os.R_OK):
        raise UserError(f"{path}: permission denied")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on stderr
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        if refused:
            raise PickledObjects(
                f"{path}: holds a Python object of type {refused.group(1)}, which live-explain "
                f"does not load (it reads tensors only); {STATE_DICT_FORMATS}"
            ) from None
        raise UserError(
            f"{path}: not a PyTorch weights file (torch.load cannot read it); {STATE_DICT_FORMATS}"
        ) from None


def _check_state_dict(model: nn.Module, name: str, where: str, payload) -> None:
    """A one-line :class:`UserError` (starting with ``where``, the file) unless ``payload``
    has ``model``'s parameter names and shapes."""
    if not isinstance(payload, dict):
        found = "None" if payload is None else f"a {type(payload).__name__}"
        raise UserError(f"{where} holds {found}, not a state dict; {STATE_DICT_FORMATS}")
    keys = list(payload)
    if not any(isinstance(value, torch.Tensor) for value in payload.values()):
        shown = ", ".join(repr(k)[:40] for k in keys[:3]) + (", ..." if len(keys) > 3 else "")
        raise UserError(
            f"{where} holds no tensors ({f'keys {shown}' if keys else 'an empty dict'}); "
            f"{STATE_DICT_FORMATS}"
        )
    not_tensors = [k for k in keys if not isinstance(payload[k], torch.Tensor)]
    if not_tensors:
        first = not_tensors[0]
        raise UserError(
            f"{where} has {len(not_tensors)} entries that are not tensors ({str(first)[:60]!r} is "
            f"{type(payload[first]).__name__}); {STATE_DICT_FORMATS}"
        )
    expected = model.state_dict()
    missing = [k for k in expected if k not in payload]
    unexpected = [k for k in keys if k not in expected]
    reshaped = [
        k for k in keys if k in expected and tuple(payload[k].shape) != tuple(expected[k].shape)
    ]
    if not (missing or unexpected or reshaped):
        return
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing tensors (such as {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensors (such as {unexpected[0]!s})")
    if reshaped:
        k = reshaped[0]
        file_shape, model_shape = tuple(payload[k].shape), tuple(expected[k].shape)
        problems.append(
            f"{len(reshaped)} tensors of other shapes (such as {k}: {file_shape} in the file, "
            f"{model_shape} in the model)"
        )
    hint = "were they saved from another model?"
    if unexpected and all(str(k).startswith("module.") for k in unexpected):
        hint = "names start with 'module.': save model.module.state_dict() instead"
    raise UserError(f"{where} does not fit {name}: {'; '.join(problems)}; {hint}")


def class_count(model: nn.Module) -> int | None:
    """How many classes ``model`` scores (a detector's include its background), if known."""
    roi_heads = getattr(model, "roi_heads", None)
    if roi_heads is not None:
        cls_score = getattr(roi_heads.box_predictor, "cls_score", None)
        return cls_score.out_features if isinstance(cls_score, nn.Linear) else None
    head = getattr(getattr(model, "head", None), "classification_head", None)
    if head is not None:
        count = getattr(head, "num_classes", None) or getattr(head, "num_columns", None)
        return int(count) if count else None
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1].out_features if linears else None


def _check_categories(model: nn.Module, path: Path, categories) -> list[str]:
    """``categories`` from a weights file as a list of class names, or a one-line error."""
    count = class_count(model)
    wanted = f"a list of {count} class names" if count else "a list of class names"
    fix = f"give {wanted} (label id order), or leave the key out"
    if not isinstance(categories, (list, tuple)):
        found = "None" if categories is None else type(categories).__name__
        raise UserError(f"{path}: its 'categories' is {found}, not a list; {fix}")
    if not categories:
        raise UserError(f"{path}: its 'categories' is empty; {fix}")
    for position, item in enumerate(categories):
        if not isinstance(item, str):
            raise UserError(
                f"{path}: its 'categories' item {position} is {type(item).__name__}, not a class "
                f"name; {fix}"
            )
    if count is not None and len(categories) != count:
        raise UserError(
            f"{path}: its 'categories' has {len(categories)} names but the weights score {count} "
            f"classes; {fix}"
        )
    return list(categories)


def _reachable(url: str, timeout_s: float = 3.0) -> bool:
    """Whether ``url``'s host accepts a connection: offline, skip the download attempt
    (and torchvision's "Downloading..." line) altogether."""
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 443), timeout_s):
            return True
    except OSError:
        return False


def demo_weights_file() -> Path:
    from live_explain.synthetic.train import WEIGHTS_FILE

    return WEIGHTS_FILE


def _load_demo(weights: str) -> nn.Module:
    from live_explain.synthetic.demo_model import DEMO_CATEGORIES, build_demo_detector

    if weights == "none":
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = build_demo_detector()
        model.categories, model.weights_source = list(DEMO_CATEGORIES), "random initialisation"
        model.model_name = DEMO_MODEL
        return model.eval()
    path = demo_weights_file() if weights in ("auto", "demo") else Path(weights)
    if weights in ("auto", "demo") and not path.is_file():
        raise UserError(
            f"the demo detector's weights are missing ({path}); train them with "
            "python -m live_explain.synthetic.train"
        )
    if weights == "coco":
        raise UserError("the demo detector has no COCO weights; use --weights demo")
    model = build_demo_detector()
    categories = _load_state_dict_file(model, "the demo detector", path)
    model.categories = categories or list(DEMO_CATEGORIES)
    model.weights_source = "demo (synthetic scenes)" if path == demo_weights_file() else str(path)
    model.model_name = DEMO_MODEL
    return model.eval()


def load_model(name: str = DEFAULT_DETECTOR, weights: str | os.PathLike = "auto") -> nn.Module:
    """Build model ``name`` with ``weights``; eval mode, on the CPU.

    ``name`` is a torchvision model or ``"demo"`` (the bundled detector trained on synthetic
    scenes). For the default detector, ``weights="demo"`` gives the demo detector, and
    ``"auto"`` falls back to it (with one notice) when COCO weights are neither cached nor
    downloadable. The module gets ``categories`` (class names by label id),
    ``weights_source`` (what was loaded, in words) and ``model_name`` (the model that was
    built: ``"demo"`` when the demo detector stands in for ``name``).
    """
    choice = os.fspath(weights)
    if name == DEMO_MODEL:
        return _load_demo(choice)
    check_model_name(name)
    if is_yolo(name):
        from live_explain.model.yolo import load_yolo

        return load_yolo(name, choice)
    if choice == "demo":
        if name != DEFAULT_DETECTOR:
            raise UserError(f"--weights demo is a model of its own; use --model {DEMO_MODEL}")
        return _load_demo("demo")
    categories = list(pretrained_weights(name).meta["categories"])
    pretrained_name = "COCO" if is_detector(name) else "ImageNet"
    model = None
    if choice == "auto":
        choice, model = _resolve_auto(name, pretrained_name)
        if choice == "demo":
            return _load_demo("demo")
    if choice == "loaded":
        source = f"{pretrained_name} ({weights_file(name).name})"
    elif choice in ("coco", "imagenet"):
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
    model.model_name = name
    return model


def _resolve_auto(name: str, pretrained_name: str) -> tuple[str, nn.Module | None]:
    """What ``--weights auto`` means here: ``coco`` (cached), ``loaded`` (just downloaded,
    with the model), ``demo`` (the bundled detector stands in, said in one notice) or
    ``none`` (random weights, said in one notice)."""
    if weights_cached(name):
        return "coco", None
    choice = "auto"
    if name == DEFAULT_DETECTOR and _reachable(pretrained_weights(name).url):
        try:  # torchvision's own download, progress bar and hash check
            return "loaded", _build(name, pretrained_weights(name))
        except OSError as exc:
            log.warning("could not download COCO weights for %s (%s)", name, exc)
            choice = "fallback"
    elif name == DEFAULT_DETECTOR:
        choice = "fallback"
    if choice == "fallback" and demo_weights_file().is_file():
        log.warning(
            "no COCO weights for %s here and none could be downloaded; using the "
            "bundled demo detector (trained on synthetic driving scenes). For real "
            "weights run once with --weights coco where the internet is reachable, "
            "or pass --weights PATH",
            name,
        )
        return "demo", None
    log.warning(
        "no %s weights for %s in torch's cache (%s); using random weights, so "
        "its outputs are meaningless. Get real weights with --weights coco where the "
        "internet is reachable, or pass --weights PATH",
        pretrained_name,
        name,
        weights_file(name).parent,
    )
    return "none", None
