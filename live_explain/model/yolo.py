"""Ultralytics YOLO detectors (YOLOv8, YOLO11, YOLO26), through the optional ``[yolo]`` extra.

Ultralytics is AGPL-3.0 and optional: it is imported here, lazily, when a YOLO model is
loaded, and nowhere else in the package. :class:`YOLODetector` holds an Ultralytics
``DetectionModel`` as it is (its layers keep their names, ``model.0`` ... ``model.22``; its
own forward runs) and adds one module, ``neck``: the P3/P4/P5 feature maps that the Detect
head reads, passed through unchanged, so that they can be chosen as one target layer.

Weights (``--weights``):

* ``none``: the architecture from the model file Ultralytics ships (``yolov8n.yaml`` ...),
  randomly initialised: works offline;
* ``auto`` / ``coco``: the official COCO checkpoint (``yolov8n.pt``), from Ultralytics' weights
  folder, else downloaded there by Ultralytics where the internet is reachable (loaded with
  its safe loader); offline, a one-line error that says what to pass instead;
* a path: a plain state-dict file loads with ``torch.load(..., weights_only=True)``; a trained
  Ultralytics checkpoint (a pickle) loads through Ultralytics' own loader, restricted to its
  known classes where that Ultralytics version can, with a one-line notice.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from live_explain.errors import UserError
from live_explain.model.loading import _reachable

log = logging.getLogger("live_explain")

IMAGE_SIZE = 640  # the long side of the detector's input, as Ultralytics predicts by default
ASSETS_URL = "https://github.com/"  # where Ultralytics downloads its official weights
INSTALL_HINT = "pip install 'live-explain[yolo]'"
DETECT_HEADS = ("Detect", "v10Detect")  # not Segment, Pose, OBB (subclasses of Detect)


class Levels(nn.Module):
    """The feature maps the Detect head reads (P3, P4, P5), passed through unchanged: a
    module of their own so that a hook (a target layer) sees them together."""

    def forward(self, levels: list[torch.Tensor]) -> list[torch.Tensor]:
        return list(levels)

    def route(self, _head: nn.Module, args: tuple) -> tuple:
        """Forward pre-hook of the Detect head: its input goes through this module first.
        The head gets a copy of the list (it writes into the list it is given)."""
        return (list(self(list(args[0]))), *args[1:])


class YOLODetector(nn.Module):
    """An Ultralytics ``DetectionModel`` as live-explain runs it.

    ``model`` is the Ultralytics layer sequence (names as in Ultralytics); ``neck`` the
    Detect head's input levels; ``forward`` is Ultralytics' own. ``end2end``: the NMS-free
    one-to-one head of YOLO26 (a detection is one of its queries), else NMS picks them.
    """

    def __init__(
        self, detection_model: nn.Module, name: str, categories: list[str], weights_source: str
    ) -> None:
        super().__init__()
        self.model = detection_model.model
        object.__setattr__(self, "ultralytics_model", detection_model)  # not a submodule
        self.neck = Levels()
        object.__setattr__(self, "head", self.model[-1])  # under ``model`` already
        self.head.register_forward_pre_hook(self.neck.route)
        self.categories = list(categories)
        self.model_name = name
        self.weights_source = weights_source
        self.stride = max(int(detection_model.stride.max()), 32)
        # the size it was trained at, for a trained checkpoint; else Ultralytics' default
        self.image_size = getattr(detection_model, "live_explain_image_size", None) or IMAGE_SIZE
        self.end2end = bool(getattr(self.head, "end2end", False))

    def forward(self, x: torch.Tensor):
        return self.ultralytics_model(x)

    def _apply(self, fn, recurse: bool = True):
        self.ultralytics_model._apply(fn)  # also moves the head's strides and anchors
        return self


def _ultralytics():
    """Import Ultralytics quietly (no banner, no settings chatter, no package installs)."""
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import ultralytics  # noqa: F401
            from ultralytics.nn import tasks
    except ImportError:
        raise UserError(
            f"the YOLO models need Ultralytics, an optional extra: {INSTALL_HINT}"
        ) from None
    return tasks


def coco_names() -> list[str]:
    """The 80 COCO class names, from the dataset file Ultralytics ships."""
    from ultralytics.utils import ROOT, YAML

    names = YAML.load(ROOT / "cfg" / "datasets" / "coco.yaml")["names"]
    return [names[i] for i in range(len(names))]


def weights_dir() -> Path:
    """Ultralytics' weights folder (its settings' ``weights_dir``)."""
    from ultralytics.utils import SETTINGS

    return Path(SETTINGS["weights_dir"])


def official_checkpoint(name: str) -> Path:
    """Where the official checkpoint ``name.pt`` lives: Ultralytics' weights folder (the
    working folder is not searched: a file there is loaded only when named)."""
    return weights_dir() / f"{name}.pt"


def checkpoint_here(name: str) -> bool:
    """Whether ``name``'s COCO checkpoint is on this machine (for ``live-explain models``)."""
    try:
        _ultralytics()
    except UserError:
        return False
    return official_checkpoint(name).is_file()


def _build(tasks, name: str) -> nn.Module:
    """The architecture of ``name`` from Ultralytics' own model file, random weights."""
    with torch.random.fork_rng():  # the same random model every time, for fair timings
        torch.manual_seed(0)
        model = tasks.DetectionModel(f"{name}.yaml", nc=80, verbose=False)
    return model


def _prepared(model: nn.Module, name: str, categories: list[str], source: str) -> YOLODetector:
    model = model.float().eval()
    if model.yaml.get("end2end") and hasattr(model, "end2end"):
        model.end2end = True  # YOLO26: its one-to-one head, no NMS
    with contextlib.redirect_stdout(io.StringIO()):
        model = model.fuse(verbose=False)  # Conv+BN folded, as Ultralytics predicts
    for module in model.modules():
        if hasattr(module, "inplace"):
            module.inplace = False  # activations stay as autograd recorded them
    model.requires_grad_(False)
    return YOLODetector(model, name, categories, source).eval()


def _official(tasks, name: str) -> tuple[nn.Module, str]:
    """The official COCO checkpoint: in Ultralytics' weights folder, or downloaded there by
    Ultralytics; loaded with its safe loader only (the official files need nothing more)."""
    path = official_checkpoint(name)
    if not path.is_file():
        if not _reachable(ASSETS_URL):
            raise UserError(
                f"no COCO weights for {name} here ({path}) and the internet is not reachable "
                "to download them; use --weights none (random weights), or --weights PATH.pt "
                f"(a trained Ultralytics checkpoint, such as {name}.pt copied from a machine "
                "that has it)"
            )
        from ultralytics.utils.downloads import attempt_download_asset

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path = Path(attempt_download_asset(str(path)))
        except Exception as exc:
            raise UserError(f"could not download the COCO weights of {name} ({exc})") from None
    model, _ = _safe_checkpoint(tasks, path)
    return model, f"COCO ({path.name})"


def _safe_checkpoint(tasks, path: Path) -> tuple[nn.Module, list[str] | None]:
    """An Ultralytics detection checkpoint through Ultralytics' loader, limited to its known
    classes; one line when it cannot be loaded or is not a detection model."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            checkpoint, _ = tasks.torch_safe_load(str(path), safe_only=True)
    except Exception as exc:
        raise UserError(
            f"{path}: Ultralytics cannot load it as a checkpoint ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:160]})"
        ) from None
    model = None
    if isinstance(checkpoint, dict):
        model = checkpoint.get("ema") or checkpoint.get("model")
    if not isinstance(model, nn.Module) or not hasattr(model, "yaml"):
        raise UserError(f"{path}: not an Ultralytics detection checkpoint (no model in it)")
    head = model.model[-1] if hasattr(model, "model") else None
    task = getattr(model, "task", "detect")
    if task != "detect" or type(head).__name__ not in DETECT_HEADS:
        raise UserError(
            f"{path}: an Ultralytics {type(head).__name__} model, not a detection one; "
            "live-explain explains detection models (YOLOv8, YOLO11, YOLO26 detect)"
        )
    names = getattr(model, "names", None)
    if isinstance(names, dict):
        names = [str(names[i]) for i in sorted(names)]
    size = (checkpoint.get("train_args") or {}).get("imgsz")
    model.live_explain_image_size = size if isinstance(size, int) and size >= 32 else None
    return model, names


def _checkpoint(tasks, path: Path) -> tuple[nn.Module, list[str] | None]:
    """A trained checkpoint the user named (a pickle): Ultralytics' safe loader, with a
    notice once it is known to be one."""
    loaded = _safe_checkpoint(tasks, path)
    log.warning(
        "%s is an Ultralytics checkpoint (a pickle, which can run code): loaded with "
        "Ultralytics' own loader, limited to its known classes, because you named it",
        path,
    )
    return loaded


def _from_file(tasks, name: str, path: Path) -> tuple[nn.Module, list[str] | None]:
    """A plain state-dict file (tensors only, perhaps with ``categories``) for ``name``'s
    architecture, or a trained Ultralytics checkpoint (the file then holds Python objects)."""
    from live_explain.model.loading import PickledObjects, _load_state_dict_file

    model = _build(tasks, name)
    try:
        return model, _load_state_dict_file(model, name, path)
    except PickledObjects:
        return _checkpoint(tasks, path)


def load_yolo(name: str, weights: str) -> YOLODetector:
    """Load the YOLO detector ``name`` (``yolov8n`` ...) with ``weights`` (see the module)."""
    tasks = _ultralytics()
    categories = coco_names()
    if weights == "demo":
        raise UserError("--weights demo is the demo detector's; use --model demo")
    if weights == "none":
        return _prepared(_build(tasks, name), name, categories, "random initialisation")
    if weights in ("auto", "coco"):
        model, source = _official(tasks, name)
        return _prepared(model, name, categories, source)
    path = Path(weights)
    model, names = _from_file(tasks, name, path)
    return _prepared(model, name, names or categories, str(path))
