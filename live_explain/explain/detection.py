"""Exact per-detection explanations from the detector's own forward pass, in two steps.

``step = explainer.forward(image)`` runs the one forward pass and returns the kept
detections (boxes, labels, scores, best first) with what it recorded for explaining them;
``step.explain(rows)`` then gives fresh maps (and channel weights, where the method has them)
for the chosen rows with one batched backward (or a family's shortcut), and
``step.remap(weights)`` forms the maps of kept channel weights on this frame's activations.
Nothing calls back into the caller: the real-time engine decides between the two steps which
rows to explain.

For every kept detection ``k`` with score ``S_k`` the map comes from ``dS_k / dA`` where ``A``
is the target layer's output in the forward pass that produced the detections (no second
forward). How the gradients are obtained is the family's business
(:mod:`~live_explain.explain.family`); how a map comes from them is the method's
(:mod:`~live_explain.explain.methods`).

Maps are computed on the layer's grid, aligned to original frame pixels (the transform's
resize and padding undone) and scaled to [0, 1] per detection.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from live_explain.errors import UserError
from live_explain.explain.detection_maps import Geometry, detection_maps, weighted_maps
from live_explain.explain.family import LayerRefused, Recording, adapter_for
from live_explain.explain.family.base import smooth_saliency
from live_explain.explain.hooks import find_layer
from live_explain.explain.methods import Method, get_method, normalise
from live_explain.explain.selection import select_detections
from live_explain.io.images import UnsupportedImage, check_image_size


@dataclass
class Explanation:
    """Fresh maps of some kept detections of one frame.

    ``rows`` (n,) the kept rows explained, ``maps`` (n, H, W) float32 in [0, 1] aligned with
    the frame, ``weights`` ``{part: (n, C)}`` their channel weights (methods with channel
    weights; else ``None``), ``ms`` what it took.
    """

    rows: torch.Tensor
    maps: torch.Tensor
    weights: dict[int, torch.Tensor] | None
    ms: float


@dataclass
class ExplainedDetections:
    """Detections of one image and their maps.

    ``boxes`` (K, 4) float32 xyxy pixels of the input image, ``labels`` (K,) int64,
    ``scores`` (K,) float32, ``heatmaps`` (K, H, W) float32 in [0, 1] aligned with the image
    (empty (0, H, W) when nothing is kept or the method is ``none``), best score first.
    When only some detections were explained, ``heatmaps`` holds the maps of the rows listed
    in ``explained`` (in that order); ``None`` means every row.

    For methods with channel weights (Grad-CAM, Grad-CAM++, XGrad-CAM), ``channel_weights``
    holds the maps' channel weights per part of the layer, ``{part: (n, C)}`` in the order of
    ``heatmaps``, and :attr:`remap` forms the maps of any such weights on this frame's
    activations; both are ``None`` for the other methods.
    """

    boxes: torch.Tensor
    labels: torch.Tensor
    scores: torch.Tensor
    heatmaps: torch.Tensor
    timings_ms: dict[str, float] = field(default_factory=dict)
    explained: torch.Tensor | None = None
    channel_weights: dict[int, torch.Tensor] | None = None
    step: DetectionStep | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def remap(self):
        """``step.remap`` where the method has channel weights, else ``None``."""
        if self.step is None or not self.step.method.channel_weights:
            return None
        return self.step.remap


class DetectionStep:
    """One frame's forward pass, ready to explain any of its kept detections.

    ``boxes``, ``labels``, ``scores``: the kept detections, best first (on the model's
    device); ``timings_ms``: ``forward`` (and ``explain`` once explained).
    """

    def __init__(
        self,
        explainer: DetectionExplainer,
        image: torch.Tensor,
        recording: Recording | None,
        boxes: torch.Tensor,
        labels: torch.Tensor,
        scores: torch.Tensor,
        forward_ms: float,
        map_size: tuple[int, int] | None = None,
    ) -> None:
        self.explainer = explainer
        self.method: Method = explainer.method_impl
        self.image = image
        self.recording = recording  # None: detections only
        self.boxes, self.labels, self.scores = boxes, labels, scores
        self.timings_ms: dict[str, float] = {"forward": forward_ms}
        self.frame_size = tuple(image.shape[-2:])
        # (H, W) the maps are formed at: the frame's, or smaller (the real-time engine's).
        self.map_size = tuple(map_size or self.frame_size)

    def __len__(self) -> int:
        return len(self.scores)

    def _empty(self) -> torch.Tensor:
        return self.image.new_zeros((0, *self.map_size))

    @property
    def geometry(self) -> Geometry:
        """How the layer's grid lies on the maps (the frame, or :attr:`map_size`)."""
        return dataclasses.replace(self.recording.geometry, frame=self.map_size)

    def explain(self, rows=None, method: str | None = None) -> Explanation:
        """Fresh maps of the kept ``rows`` (indices, best-first order; ``None``: all).

        ``method`` may name another method that needs what the explainer's recorded (another
        gradient method at the same layer): several methods compare on one forward pass."""
        device = self.scores.device
        if rows is None:
            rows = torch.arange(len(self.scores), device=device)
        rows = torch.as_tensor(rows, dtype=torch.long).flatten().to(device)
        compare = method is not None
        method = self.method if method is None else self._other(method)
        weights = {} if method.channel_weights else None
        if not method.makes_maps or len(rows) == 0:
            return Explanation(rows, self._empty(), weights, 0.0)
        t0 = time.perf_counter()
        with self.explainer.layer_errors(self.image):
            parts = self._parts(rows, method, compare)
            if method.at_input:
                maps = self._saliency(parts, rows)
            else:
                maps = detection_maps(
                    method, parts, self.geometry, len(rows), weights, self.image.device
                )
        ms = (time.perf_counter() - t0) * 1000.0
        self.timings_ms["explain"] = self.timings_ms.get("explain", 0.0) + ms
        return Explanation(rows, maps.detach(), weights, ms)

    def _parts(self, rows: torch.Tensor, method: Method, compare: bool) -> list:
        """The recording's evidence of ``rows``; methods compared on this step (``compare``)
        share it where they need the same gradients, so the backward runs once."""
        if not compare:
            return self.recording.parts(rows, method)
        key = (tuple(rows.tolist()), self.recording.evidence_kind(method))
        cache = self.__dict__.setdefault("_compared", {})
        if key not in cache:
            cache.clear()  # one set of gradients held at a time
            cache[key] = self.recording.parts(rows, method)
        return cache[key]

    def _other(self, name: str) -> Method:
        other = get_method(name)
        same = (other.needs_gradients, other.at_input, other.makes_maps) == (
            self.method.needs_gradients,
            self.method.at_input,
            self.method.makes_maps,
        )
        if not same:
            raise ValueError(f"{name} needs another forward pass than {self.method.name}")
        return other

    def _saliency(self, parts, rows) -> torch.Tensor:
        saliency = self.method.cell_maps(parts[0].evidence)
        smooth = self.explainer.smooth
        if smooth:
            saliency = saliency + smooth_saliency(
                self.explainer.adapter,
                self.image,
                self.recording.boxes[rows],
                self.recording.labels[rows],
                smooth,
            )
        saliency = normalise(saliency / (1 + smooth))
        if self.map_size != self.frame_size:  # area: a pixel map, shrunk without aliasing
            shrunk = F.interpolate(saliency[:, None], self.map_size, mode="area")[:, 0]
            saliency = normalise(shrunk)  # peaks at 1 again, as every map does
        return saliency

    def remap(self, weights: dict[int, torch.Tensor]) -> torch.Tensor:
        """Maps (n, H, W) of channel ``weights`` ``{part: (n, C)}`` on this frame's
        activations, combined as a fresh explanation's are."""
        recording = self.recording
        if not self.method.channel_weights or recording is None or not recording.activations:
            raise ValueError(f"{self.method.name} maps cannot be formed from channel weights")
        activations = {key: acts.detach() for key, acts in recording.activations.items()}
        return weighted_maps(weights, activations, self.geometry)

    def result(self, rows=None) -> ExplainedDetections:
        """The kept detections with the maps of ``rows`` (``None``: all), as one result."""
        if self.recording is None:
            empty = self._empty()
            return ExplainedDetections(
                self.boxes,
                self.labels,
                self.scores,
                empty,
                dict(self.timings_ms),
                torch.zeros(0, dtype=torch.long, device=empty.device),
            )
        explained = self.explain(rows)
        return ExplainedDetections(
            boxes=self.boxes,
            labels=self.labels,
            scores=self.scores,
            heatmaps=explained.maps,
            timings_ms=dict(self.timings_ms),
            explained=None if rows is None else explained.rows,
            channel_weights=explained.weights,
            step=self,
        )


class DetectionExplainer:
    """Explains a detector's detections, one image at a time.

    >>> explainer = DetectionExplainer(model, method="gradcam", topk=10, score_thresh=0.3)
    >>> step = explainer.forward(image)  # (3, H, W) float in [0, 1]
    >>> step.explain([0, 2]).maps.shape  # (2, H, W)
    >>> explainer(image).heatmaps.shape  # forward + every kept detection: (K, H, W)
    """

    def __init__(
        self,
        model: nn.Module,
        method: str = "gradcam",
        layer: str | None = None,
        topk: int = 10,
        score_thresh: float = 0.3,
        class_ids: set[int] | None = None,
        smooth: int = 0,
    ) -> None:
        self.method_impl = get_method(method, detectors=True)
        if smooth and not self.method_impl.smoothable:
            raise UserError("smooth (SmoothGrad) applies to the saliency method only")
        self.smooth = smooth
        self.model = model.eval()
        self.adapter = adapter_for(model)
        self.family = self.adapter.name
        self.method = method
        if self.method_impl.at_input and layer:
            raise UserError(f"--layer does not apply to {method} (gradients at the input pixels)")
        default = self.adapter.default_layer
        self.layer = "input" if self.method_impl.at_input else layer or default
        if not self.method_impl.at_input:
            find_layer(model, self.layer)
        self.topk, self.score_thresh, self.class_ids = topk, score_thresh, class_ids
        self.adapter.keep(score_thresh, topk)
        refusal = None
        if self.method_impl.makes_maps and not self.method_impl.at_input:
            refusal = self.adapter.refusal(self.layer, self.method_impl)
        if refusal:
            raise UserError(self._refusal(refusal))

    def _select(self, output: dict) -> torch.Tensor:
        return select_detections(
            output["labels"], output["scores"], self.score_thresh, self.class_ids, self.topk
        )

    # -- the two steps --------------------------------------------------------------------
    def forward(
        self, image: torch.Tensor, map_size: tuple[int, int] | None = None
    ) -> DetectionStep:
        """Run the one forward pass on ``image`` (3, H, W) in [0, 1]; the step's maps are
        (H, W), or ``map_size`` (a smaller (h, w) over the same frame)."""
        if image.ndim != 3 or image.shape[0] != 3:
            raise ValueError(f"image must be (3, H, W), got {tuple(image.shape)}")
        try:  # a detector resizes a thinner frame to a sliver of no pixels
            check_image_size(image.shape[2], image.shape[1])
        except UnsupportedImage as exc:
            raise UserError(f"this frame is {exc}") from None
        if not self.method_impl.makes_maps:
            t0 = time.perf_counter()
            with torch.no_grad():
                output = self.adapter.detect(image).output
            keep = self._select(output)
            return DetectionStep(
                self,
                image,
                None,
                output["boxes"][keep].detach().float(),
                output["labels"][keep].detach(),
                output["scores"][keep].detach().float(),
                (time.perf_counter() - t0) * 1000.0,
                map_size,
            )
        with self.layer_errors(image):
            recording = self.adapter.record(image, self.layer, self.method_impl, self._select)
        return DetectionStep(
            self,
            image,
            recording,
            recording.boxes,
            recording.labels,
            recording.scores,
            recording.forward_ms,
            map_size,
        )

    def __call__(self, image: torch.Tensor) -> ExplainedDetections:
        """Detect and explain every kept detection of ``image`` (3, H, W) in [0, 1]."""
        return self.forward(image).result()

    # -- a layer the method cannot explain at -----------------------------------------------
    def layer_errors(self, image: torch.Tensor):
        """A context in which a failure that comes from the chosen layer becomes one line."""
        return _LayerErrors(self, image)

    def _refusal(self, reason: str) -> str:
        return (
            f"--layer {self.layer}: {self.method} cannot explain detections at this layer "
            f"({reason}); {self.adapter.layer_hint}"
        )

    def _fails_for_the_layer(self, exc: Exception, image: torch.Tensor) -> bool:
        """Whether ``exc`` comes from the chosen layer with this method: the same image
        explains at the default layer. A bug elsewhere (out of memory, in the default path)
        stays what it is."""
        if self.layer in ("input", self.adapter.default_layer):
            return False
        if isinstance(exc, torch.OutOfMemoryError):
            return False
        default = DetectionExplainer(
            self.model, self.method, None, self.topk, self.score_thresh, self.class_ids
        )
        try:
            default(image)
        except Exception:
            return False
        return True

    def _layer_failure(self, exc: Exception) -> str:
        text = str(exc)
        reasons = (
            ("in-place", "the next operation overwrites its output in place"),
            ("floating point dtype", "its output holds integer tensors, not feature maps"),
            ("does not require grad", "the detections' scores do not depend on its output"),
        )
        reason = next((why for key, why in reasons if key in text), None)
        if reason is None:
            first = text.strip().splitlines()[0] if text.strip() else ""
            reason = f"{type(exc).__name__}: {first[:100]}" if first else type(exc).__name__
        return self._refusal(reason)


class _LayerErrors:
    """See :meth:`DetectionExplainer.layer_errors`."""

    def __init__(self, explainer: DetectionExplainer, image: torch.Tensor) -> None:
        self.explainer, self.image = explainer, image

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        explainer = self.explainer
        if isinstance(exc, LayerRefused):
            raise UserError(explainer._refusal(exc.reason)) from None
        if isinstance(exc, UserError):
            return False
        if explainer._fails_for_the_layer(exc, self.image):
            raise UserError(explainer._layer_failure(exc)) from exc
        return False


def explain_detections(
    model: nn.Module,
    images: list[torch.Tensor],
    method: str = "gradcam",
    layer: str | None = None,
    topk: int = 10,
    score_thresh: float = 0.3,
    class_ids: set[int] | None = None,
    smooth: int = 0,
) -> list[ExplainedDetections]:
    """Detect and explain: one :class:`ExplainedDetections` per image.

    ``images``: (3, H, W) float tensors in [0, 1] (torchvision's detection convention), on
    the model's device. ``layer`` defaults to ``backbone`` (the features the heads read);
    ``smooth`` > 0 averages saliency over that many noisy copies (SmoothGrad).

    >>> [result] = explain_detections(model, [image], method="gradcam", topk=10)
    >>> result.boxes.shape, result.heatmaps.shape  # (K, 4), (K, H, W)
    """
    explainer = DetectionExplainer(model, method, layer, topk, score_thresh, class_ids, smooth)
    return [explainer(image) for image in images]
