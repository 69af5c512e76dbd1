"""Running a torchvision detector (and its explanations) on BGR frames."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from live_explain.errors import UserError
from live_explain.explain.detection import DetectionExplainer
from live_explain.explain.methods import get_method
from live_explain.realtime.device_io import frame_tensor_to_input


@dataclass(frozen=True)
class Detections:
    """Detections of one frame, best score first.

    ``boxes`` (K, 4) float32 xyxy in frame pixels, ``labels`` (K,) int64 label ids,
    ``scores`` (K,) float32, ``names`` the class name of each; ``heatmaps`` (K, h, w) float32
    in [0, 1] over the whole frame, or ``None`` when not explained. The maps are at the
    frame's size, or (the real-time engine's) smaller: ``frame_size`` (W, H) then says the
    frame's, and :meth:`map_boxes` gives the boxes in map pixels (see
    :func:`~live_explain.explain.align.frame_region` for a map at frame pixels). The engine
    adds ``track_ids`` (K,) int64, stable across frames, and ``refreshed`` (K,) bool: whether
    each map was computed on this frame (``False``: a reused explanation: re-formed from its
    kept channel weights, or moved with its box).
    """

    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    names: list[str]
    heatmaps: np.ndarray | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    track_ids: np.ndarray | None = None
    refreshed: np.ndarray | None = None
    frame_size: tuple[int, int] | None = None  # (W, H) when the maps are smaller

    def __len__(self) -> int:
        return len(self.scores)

    def map_scale(self) -> tuple[float, float]:
        """(x, y) map pixels per frame pixel (1, 1 when the maps are at the frame's size)."""
        if self.heatmaps is None or self.frame_size is None:
            return 1.0, 1.0
        height, width = self.heatmaps.shape[-2:]
        return width / self.frame_size[0], height / self.frame_size[1]

    def map_boxes(self) -> np.ndarray:
        """The boxes (K, 4) in map pixels."""
        sx, sy = self.map_scale()
        return np.asarray(self.boxes, np.float32) * np.float32([sx, sy, sx, sy])


PRECISIONS = ("fp32", "bf16")


def set_backbone_precision(model: nn.Module, precision: str, device_type: str) -> None:
    """Run the detector's backbone under bf16 autocast (``bf16``) or as it is (``fp32``).

    The backbone's outputs are cast back to float32, so the heads, the gradients and the CAM
    arithmetic stay in float32.
    """
    backbone = getattr(model, "backbone", None)
    if backbone is None:
        return
    if "forward" in vars(backbone):  # undo an earlier setting
        del backbone.forward
    if precision == "fp32":
        return
    plain = backbone.forward

    def forward(*args, **kwargs):
        with torch.autocast(device_type, dtype=torch.bfloat16):
            out = plain(*args, **kwargs)
        if isinstance(out, dict):
            return type(out)((key, value.float()) for key, value in out.items())
        return out.float()

    backbone.forward = forward


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA when present; asking for CUDA without it is a user error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available here; use --device cpu")
    if device not in ("cpu", "cuda"):
        raise UserError(f"unknown device '{device}'; use auto, cpu or cuda")
    return torch.device(device)


def class_ids(categories: list[str], names: Iterable[str] | None) -> set[int] | None:
    """Label ids for class ``names`` (``None`` keeps every class)."""
    if names is None:
        return None
    ids = set()
    for name in names:
        name = name.strip()
        if not name:
            continue
        if name not in categories:
            valid = [c for c in categories if c and c != "N/A" and c != "__background__"]
            close = difflib.get_close_matches(name, valid, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UserError(f"unknown class '{name}' for this model{hint}")
        ids.add(categories.index(name))
    return ids


def frame_to_tensor(image_bgr: np.ndarray, device: torch.device) -> torch.Tensor:
    """(H, W, 3) BGR uint8 -> (3, H, W) RGB float in [0, 1] on ``device``."""
    tensor = torch.from_numpy(np.ascontiguousarray(image_bgr)).to(device, non_blocking=True)
    return frame_tensor_to_input(tensor)


class Detector:
    """A torchvision detector with the user's filters (score threshold, classes, top-K)
    and, unless ``method`` is ``none``, a heatmap per detection from the same forward."""

    def __init__(
        self,
        model: nn.Module,
        device: torch.device | str = "cpu",
        score_thresh: float = 0.5,
        classes: Iterable[str] | None = None,
        topk: int = 20,
        method: str = "none",
        layer: str | None = None,
        smooth: int = 0,
        precision: str = "fp32",
    ) -> None:
        if precision not in PRECISIONS:
            raise UserError(f"--precision {precision}: use one of {', '.join(PRECISIONS)}")
        if not 0.0 <= score_thresh <= 1.0:
            raise UserError(f"--score-thresh {score_thresh}: must be between 0 and 1")
        if topk < 1:
            raise UserError(f"--topk {topk}: must be at least 1")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        # Inference only: no parameter needs a gradient (maps take gradients with respect to
        # activations), and several threads may then run the model at once.
        self.model.requires_grad_(False)
        self.categories: list[str] = list(model.categories)
        self.method = method
        self.precision = precision
        self.settings = dict(
            score_thresh=score_thresh,
            classes=None if classes is None else list(classes),
            topk=topk,
            method=method,
            layer=layer,
            smooth=smooth,
            precision=precision,
        )
        set_backbone_precision(self.model, precision, self.device.type)
        self.explainer = DetectionExplainer(
            self.model,
            method,
            layer,
            topk,
            score_thresh,
            class_ids(self.categories, classes),
            smooth,
        )

    @property
    def makes_maps(self) -> bool:
        """Whether the method gives maps (``none`` gives detections only)."""
        return self.explainer.method_impl.makes_maps

    @property
    def layer(self) -> str:
        return self.explainer.layer

    def with_settings(self, **changes) -> Detector:
        """A detector on the same model with some settings changed (checked at once)."""
        unknown = set(changes) - set(self.settings)
        if unknown:
            raise ValueError(f"unknown detector settings: {', '.join(sorted(unknown))}")
        at_input = "method" in changes and get_method(changes["method"]).at_input
        if at_input and "layer" not in changes:  # no layer at the input
            changes["layer"] = None
        return Detector(self.model, self.device, **{**self.settings, **changes})

    def __call__(self, image_bgr: np.ndarray) -> Detections:
        result = self.explainer(frame_to_tensor(image_bgr, self.device))
        labels = result.labels.cpu().numpy().astype(np.int64)
        heatmaps = result.heatmaps.cpu().numpy() if self.makes_maps else None
        return Detections(
            boxes=result.boxes.cpu().numpy(),
            labels=labels,
            scores=result.scores.cpu().numpy(),
            names=[self.categories[i] for i in labels],
            heatmaps=heatmaps,
            timings_ms=result.timings_ms,
        )
