"""The detector-family interface and the path every family can take: autograd from the
target layer on.

A family adapter knows how one kind of detector is run on a frame and how its kept
detections' scores connect to a target layer. :meth:`FamilyAdapter.record` runs the one
forward pass and returns a :class:`Recording`: the kept detections, the layer's activations
per part, and how to get the evidence (gradients) of chosen detections afterwards.

:class:`AutogradRecording` is the general way: the forward records autograd only from the
target layer on (parameters frozen, the layer's output made leaves), and one batched backward
(``is_grads_batched``) gives the gradients of all chosen scores. It is exact for every family
whose post-processing indexes the scores out of the head's outputs (torchvision's RetinaNet,
FCOS, SSD; Faster R-CNN at layers outside its RoI-local path). A new family writes an adapter
with its own :meth:`FamilyAdapter.detect` (its input transform and post-processing) and, where
a shortcut exists, its own recording.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from live_explain.errors import UserError
from live_explain.explain.detection_maps import Geometry, Part
from live_explain.explain.hooks import capture_layers, frozen_parameters
from live_explain.explain.methods import Evidence, Method

# (output dict) -> indices of the kept detections, best first
Selector = Callable[[dict], torch.Tensor]


class LayerRefused(UserError):
    """A layer the chosen method cannot explain at; ``reason`` says why (the explainer adds
    the layer, the method and a layer that works)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Detected:
    """A detector's raw output on one image and where its input lay on the frame."""

    output: dict  # boxes (N, 4) frame pixels, labels (N,), scores (N,) (with their graph)
    geometry: Geometry


class Recording:
    """What one forward pass recorded for explaining its kept detections.

    ``boxes`` (K, 4), ``labels`` (K,), ``scores`` (K,): the kept detections, best first,
    detached; ``activations`` {part: (C, h, w)}: the target layer's output, detached (empty
    for methods at the input); ``geometry``: how the layer's grid lies on the frame.
    """

    boxes: torch.Tensor
    labels: torch.Tensor
    scores: torch.Tensor
    activations: dict[int, torch.Tensor]
    geometry: Geometry
    forward_ms: float

    def parts(self, rows: torch.Tensor, method: Method) -> list[Part]:
        """The evidence of the kept detections ``rows`` for ``method``, one entry per part of
        the layer that they depend on."""
        raise NotImplementedError

    def evidence_kind(self, method: Method) -> str:
        """Methods of one kind get the same :meth:`parts` from this recording."""
        return method.gradients


def captured_tensors(capture) -> list[torch.Tensor]:
    """The tensors a hooked layer gave, or a refusal that says why there are none."""
    if not capture.outputs:
        raise LayerRefused("the forward pass never runs it; name one of its layers")
    try:
        return capture.tensors
    except TypeError:
        raise LayerRefused("its output holds no feature maps") from None


def check_feature_maps(tensors: list[torch.Tensor]) -> None:
    """Refuse (in words) a layer output that is not per-image feature maps."""
    if not tensors:
        raise LayerRefused("its output holds no feature maps")
    if any(not t.is_floating_point() for t in tensors):
        raise LayerRefused("its output holds integer tensors, not feature maps")


def check_image_maps(tensors: list[torch.Tensor]) -> None:
    """Refuse outputs that are not (1, C, h, w): a map per proposal, a vector, a sequence."""
    if any(t.ndim != 4 or t.shape[0] != 1 for t in tensors):
        raise LayerRefused("its output is not (C, h, w) feature maps of the image")


class FamilyAdapter:
    """One detector family: how it runs, what it is called, its default layer."""

    name: ClassVar[str] = ""
    default_layer: ClassVar[str] = "backbone"
    # a layer that explains when the one asked for cannot, named in the refusal
    layer_hint: ClassVar[str] = "try backbone (the default)"

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.modules = dict(model.named_modules())  # looked up once, hooked every frame

    @classmethod
    def matches(cls, model: nn.Module) -> bool:
        raise NotImplementedError

    def keep(self, score_thresh: float, topk: int) -> None:
        """Let the model's own post-processing keep what the user's filters ask for."""

    def detect(self, image: torch.Tensor) -> Detected:
        """Run the detector on one (3, H, W) image in [0, 1]."""
        raise NotImplementedError

    def refusal(self, layer: str, method: Method) -> str | None:
        """A reason known before any forward pass why ``method`` cannot explain at ``layer``."""
        return None

    def record(self, image: torch.Tensor, layer: str, method: Method, select: Selector):
        """Run the one forward pass, recording what ``method`` needs at ``layer``."""
        return AutogradRecording(self, image, layer, method, select)


def batched_vjp(outputs, inputs, grad_outputs) -> list[torch.Tensor | None]:
    """K vector-Jacobian products in one batched backward (leading dim of grad_outputs);
    ``None`` for inputs that the outputs do not depend on.

    Falls back to one backward per row where an op has no batching rule.
    """
    k = grad_outputs[0].shape[0]
    try:
        return list(
            torch.autograd.grad(
                outputs,
                inputs,
                grad_outputs,
                retain_graph=True,
                allow_unused=True,
                is_grads_batched=True,
            )
        )
    except RuntimeError as exc:
        if "does not require grad" in str(exc):
            raise
        rows = [
            torch.autograd.grad(
                outputs, inputs, [g[i] for g in grad_outputs], retain_graph=True, allow_unused=True
            )
            for i in range(k)
        ]
        return [
            None if rows[0][j] is None else torch.stack([r[j] for r in rows])
            for j in range(len(inputs))
        ]


class AutogradRecording(Recording):
    """Autograd from the target layer on (or from the pixels, for methods at the input)."""

    def __init__(
        self,
        adapter: FamilyAdapter,
        image: torch.Tensor,
        layer: str,
        method: Method,
        select: Selector,
    ) -> None:
        self.adapter = adapter
        self.image = image
        self.select = select
        needs_graph = method.needs_gradients
        t0 = time.perf_counter()
        grad_mode = torch.enable_grad() if needs_graph else torch.no_grad()
        pixels = image.detach().requires_grad_(True) if method.at_input else image
        names = {} if method.at_input else {layer: needs_graph}
        no_clone = frozenset({adapter.default_layer})
        with (
            frozen_parameters(adapter.model),
            grad_mode,
            capture_layers(adapter.model, names, adapter.modules, no_clone) as captured,
        ):
            detected = adapter.detect(pixels)
        self.forward_ms = (time.perf_counter() - t0) * 1000.0
        output = detected.output
        keep = select(output)
        self._scores = output["scores"][keep]
        self.boxes = output["boxes"][keep].detach().float()
        self.labels = output["labels"][keep].detach()
        self.scores = self._scores.detach().float()
        if method.at_input:
            self.leaves = [pixels]
            self.activations = {}
            h, w = image.shape[-2:]
            self.geometry = Geometry((h, w), (h, w), (h, w))
            return
        tensors = captured_tensors(captured[layer])
        check_feature_maps(tensors)
        check_image_maps(tensors)
        self.leaves = tensors
        self.activations = {i: t.detach()[0] for i, t in enumerate(tensors)}
        self.geometry = detected.geometry

    def gradients(self, rows: torch.Tensor) -> list[torch.Tensor | None]:
        """dS/d(each leaf) (n, ...) for the kept detections ``rows``."""
        scores = self._scores[rows]
        if not scores.requires_grad:
            raise LayerRefused("the detections' scores do not depend on its output")
        eye = torch.eye(len(rows), device=scores.device, dtype=scores.dtype)
        grads = batched_vjp([scores], self.leaves, [eye])
        if all(g is None for g in grads):
            raise LayerRefused("the detections' scores do not depend on its output")
        return grads

    def evidence_kind(self, method: Method) -> str:
        return "gradients" if method.gradients in ("sums", "cells") else method.gradients

    def parts(self, rows: torch.Tensor, method: Method) -> list[Part]:
        if not method.needs_gradients:
            return [
                Part(key, Evidence(acts, targets=len(rows)))
                for key, acts in self.activations.items()
            ]
        grads = self.gradients(rows)
        if method.at_input:  # the pixels (3, H, W): gradients (n, 3, H, W)
            return [Part(0, Evidence(self.image, grads[0]))]
        parts = []
        for key, grad in enumerate(grads):
            if grad is None or not bool(grad.any()):
                continue  # a tensor of the layer that no chosen detection depends on
            parts.append(Part(key, Evidence(self.activations[key], grad[:, 0])))
        return parts


class TorchvisionAdapter(FamilyAdapter):
    """torchvision's detectors: ``model([image])[0]`` with their ``transform``."""

    detector_class: ClassVar[type | None] = None

    @classmethod
    def matches(cls, model: nn.Module) -> bool:
        return cls.detector_class is not None and isinstance(model, cls.detector_class)

    def keep(self, score_thresh: float, topk: int) -> None:
        """torchvision detectors drop boxes below their own threshold (0.05 for Faster
        R-CNN) and keep at most ``detections_per_img``; a lower threshold or larger K must
        reach them."""
        for holder in (getattr(self.model, "roi_heads", None), self.model):
            if holder is None:
                continue
            if hasattr(holder, "score_thresh"):
                holder.score_thresh = min(holder.score_thresh, score_thresh)
            if hasattr(holder, "detections_per_img"):
                holder.detections_per_img = max(holder.detections_per_img, topk)

    def detect(self, image: torch.Tensor) -> Detected:
        frame_size = tuple(image.shape[-2:])
        with capture_layers(self.model, {"transform": False}, self.modules) as captured:
            output = self.model([image])[0]
        image_list = captured["transform"].output[0]
        return Detected(output, Geometry.of_image_list(image_list, frame_size))

    @property
    def layer_hint(self) -> str:  # type: ignore[override]
        for below in ("backbone.body", "backbone.features"):
            if below in self.modules:
                return f"try backbone (the default) or another layer under {below}"
        return "try backbone (the default)"


def smooth_saliency(
    adapter: FamilyAdapter,
    image: torch.Tensor,
    boxes: torch.Tensor,
    labels: torch.Tensor,
    copies: int,
    noise: float = 0.15,
) -> torch.Tensor:
    """SmoothGrad: |gradient| (max over colour) summed over ``copies`` noisy copies of the
    frame, (K, H, W) for the detections ``boxes``, ``labels``.

    A noisy copy gives its own detections; each detection takes the score of the copy's
    detection of the same class that overlaps it most (IoU at least 0.5), and adds nothing
    when there is none.
    """
    from torchvision.ops import box_iou

    total = image.new_zeros((len(boxes), *image.shape[-2:]))
    generator = torch.Generator(device=image.device).manual_seed(0)
    sigma = noise * float(image.max() - image.min())
    for _ in range(copies):
        noise_image = torch.randn(image.shape, generator=generator, device=image.device)
        with frozen_parameters(adapter.model), torch.enable_grad():
            pixels = (image + sigma * noise_image).detach().requires_grad_(True)
            noisy = adapter.detect(pixels).output
            if len(noisy["scores"]) == 0:
                continue
            iou = box_iou(boxes, noisy["boxes"].detach())
            iou[labels[:, None] != noisy["labels"][None, :]] = 0.0
            best_iou, best = iou.max(dim=1)
            matched = torch.nonzero(best_iou >= 0.5).flatten()
            if len(matched) == 0:
                continue
            scores = noisy["scores"][best[matched]]
            eye = torch.eye(len(matched), device=scores.device, dtype=scores.dtype)
            (grad,) = batched_vjp([scores], [pixels], [eye])
        total[matched] += grad.abs().amax(dim=1)
    return total
