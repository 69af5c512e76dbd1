"""One settings object for every front end: the CLI, the desktop app, ``bench`` and batch jobs.

A :class:`Settings` holds what a user chooses: the model and its weights, the method and
layer, device and precision, thresholds, classes and top-K, the refresh policy of maps across
frames, smoothing, and the overlay's style. Each field says which stage it belongs to
(``model``, ``detector``, ``policy``, ``style``) and carries its command-line help, so the CLI
makes its flags from the fields (:mod:`live_explain.cli.options`), the app its widgets and saved
settings, and the pipeline knows what a change touches. :func:`build_detector` is the one
function that makes a detector from settings.

Adding an option: a field here (with its stage and help), its widget in the app; nothing else.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from live_explain.errors import UserError
from live_explain.model.names import DEFAULT_DETECTOR

MAX_TOPK = 100  # torchvision's own default limit of detections per image
MAX_SMOOTH = 64
STAGES = ("model", "detector", "policy", "style")


def _setting(
    default: Any, stage: str, help: str, remembered: bool = True, flag: bool = True, **read: Any
) -> Any:
    """A field of :class:`Settings`: its ``stage``, its command-line ``help`` and how the flag
    reads (``type``, ``choices``: a tuple or a function that gives one, ``metavar``).
    ``remembered``: the app saves it between sessions; ``flag``: the CLI has a flag for it."""
    metadata = {"stage": stage, "help": help, "remembered": remembered, "flag": flag, **read}
    return field(default=default, metadata=metadata)


def _method_names() -> tuple[str, ...]:
    from live_explain.explain.methods import REGISTRY

    return tuple(REGISTRY)


def _colormaps() -> tuple[str, ...]:
    from live_explain.render.overlay import COLORMAPS

    return tuple(sorted(COLORMAPS))


def _refresh_modes() -> tuple[str, ...]:
    from live_explain.realtime.refresh_policy import REFRESH_MODES

    return REFRESH_MODES


def _reuse_modes() -> tuple[str, ...]:
    from live_explain.realtime.refresh_policy import REUSE_MODES

    return REUSE_MODES


def _precisions() -> tuple[str, ...]:
    from live_explain.model.detector import PRECISIONS

    return PRECISIONS


# Readers of option values: each raises ValueError with the one line a user sees (the CLI
# turns it into its usage error).
def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"not a whole number: {text!r}") from None


def positive_int(text: str) -> int:
    value = whole_number(text)
    if value < 1:
        raise ValueError(f"must be at least 1, got {value}")
    return value


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {text}")
    return value


def topk_value(text: str) -> int:
    """``--topk``: 1 to :data:`MAX_TOPK` detections a frame."""
    value = positive_int(text)
    if value > MAX_TOPK:
        raise ValueError(f"at most {MAX_TOPK} detections a frame are explained, got {value}")
    return value


def smooth_value(text: str) -> int:
    """``--smooth``: 0 to :data:`MAX_SMOOTH` SmoothGrad copies (each is one more backward)."""
    value = whole_number(text)
    if not 0 <= value <= MAX_SMOOTH:
        raise ValueError(f"must be 0 to {MAX_SMOOTH}, got {value}")
    return value


def class_names(text: str) -> tuple[str, ...] | None:
    """``--classes car,person``: the names; an empty text means every class (``None``)."""
    if not text.strip():
        return None
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise ValueError(f"no class names in {text!r}; give names like car,person")
    return names


@dataclass(frozen=True)
class Settings:
    """What a user chose; frozen, so it can cross threads and be compared. ``layer=None``: the
    model's default target layer; ``classes=None``: every class; ``selected``: the track id
    whose map alone is drawn."""

    model: str = _setting(DEFAULT_DETECTOR, "model", "model name (see live-explain models)")
    weights: str = _setting(
        "auto", "model", "auto, demo, coco, none (random) or a state-dict PATH (default: auto)"
    )
    device: str = _setting("auto", "model", "auto, cpu or cuda", choices=("auto", "cpu", "cuda"))
    method: str = _setting(
        "gradcam", "detector", "explanation method (default: gradcam)", choices=_method_names
    )
    layer: str | None = _setting(
        None,
        "detector",
        "target layer, a name from the model's named_modules() (default: the FPN levels for "
        "detectors, the last convolutional stage for classifiers)",
    )
    precision: str = _setting(
        "fp32",
        "detector",
        "bf16: the backbone under bfloat16 autocast (maps still in fp32)",
        choices=_precisions,
        remembered=False,
    )
    score_thresh: float = _setting(
        0.5, "detector", "keep detections scoring at least T", type=finite_float, metavar="T"
    )
    classes: tuple[str, ...] | None = _setting(
        None,
        "detector",
        "comma-separated class names to keep, e.g. car,person (default: all)",
        type=class_names,
    )
    topk: int = _setting(
        20,
        "detector",
        f"at most K detections a frame, 1 to {MAX_TOPK} (default: 20)",
        type=topk_value,
        metavar="K",
    )
    smooth: int = _setting(
        0,
        "detector",
        f"SmoothGrad copies for saliency, 0 to {MAX_SMOOTH} (default: 0)",
        type=smooth_value,
        metavar="N",
        remembered=False,
    )
    refresh: str = _setting(
        "adaptive",
        "policy",
        "adaptive: reuse a track's explanation until it goes stale (default); "
        "every-frame: recompute every map on every frame",
        choices=_refresh_modes,
    )
    reuse: str = _setting(
        "weights",
        "policy",
        "how a reused explanation is shown: weights: its channel weights on this frame's "
        "activations (Grad-CAM, Grad-CAM++; default); warp: its last map moved with the box "
        "(what other methods always do)",
        choices=_reuse_modes,
        remembered=False,
    )
    reuse_fidelity: float = _setting(
        0.95,
        "policy",
        "adaptive: each refresh checks what reuse would have shown; a track whose check "
        "stays below F (correlation) is refreshed more often, one above it less "
        "(default: 0.95; 0: a fixed 12-frame window)",
        type=finite_float,
        metavar="F",
        remembered=False,
    )
    smooth_alpha: float = _setting(
        0.6,
        "policy",
        "weight of the new map in each track's moving average; 1 = no smoothing (default: 0.6)",
        type=finite_float,
        metavar="A",
        remembered=False,
    )
    explain_budget: str | None = _setting(
        None,
        "policy",
        "at most N map refreshes per frame, or a time budget like 25ms (default: none)",
        metavar="N|MSms",
        remembered=False,
    )
    colormap: str = _setting("turbo", "style", "heatmap colours", choices=_colormaps)
    alpha: float = _setting(
        0.45, "style", "heatmap opacity, 0 to 1 (default: 0.45)", type=finite_float
    )
    merged: bool = _setting(
        False, "style", "one full-frame map (maximum over detections) instead of a map per box"
    )
    boxes: bool = _setting(True, "style", "draw boxes and labels", remembered=False, flag=False)
    selected: int | None = _setting(
        None, "style", "the track whose map alone is drawn", remembered=False, flag=False
    )

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (unknown names raise ``TypeError``)."""
        return dataclasses.replace(self, **changes)

    def of_stage(self, stage: str) -> dict[str, Any]:
        """The fields of one stage, by name."""
        return {name: getattr(self, name) for name in field_names(stage)}

    def changed_stages(self, other: Settings) -> set[str]:
        """The stages whose fields differ between ``self`` and ``other``."""
        return {
            f.metadata["stage"]
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        }

    def check(self) -> Settings:
        """Raise :class:`UserError` for values no stage accepts; returns ``self``."""
        if not 0.0 <= self.alpha <= 1.0:
            raise UserError(f"--alpha {self.alpha}: must be between 0 and 1")
        if not 0.0 <= self.score_thresh <= 1.0:  # NaN fails too
            raise UserError(f"--score-thresh {self.score_thresh}: must be between 0 and 1")
        if not 1 <= self.topk <= MAX_TOPK:
            raise UserError(f"--topk {self.topk}: must be 1 to {MAX_TOPK}")
        if not 0 <= self.smooth <= MAX_SMOOTH:
            raise UserError(f"--smooth {self.smooth}: must be 0 to {MAX_SMOOTH}")
        self.policy()  # a refresh budget or fidelity it cannot take
        return self

    def style(self):
        """The overlay's :class:`~live_explain.render.overlay.RenderStyle`."""
        from live_explain.render.overlay import RenderStyle

        return RenderStyle(**self.of_stage("style"))

    def policy(self):
        """The :class:`~live_explain.realtime.refresh_policy.RefreshPolicy` (raises UserError for a
        bad budget or fidelity)."""
        from live_explain.realtime.refresh_policy import RefreshPolicy

        return RefreshPolicy.from_options(
            self.refresh, self.smooth_alpha, self.explain_budget, self.reuse, self.reuse_fidelity
        )

    @classmethod
    def from_options(cls, options: Any, base: Settings | None = None) -> Settings:
        """Settings from an object with attributes named as the fields (parsed command-line
        options); fields it lacks keep ``base``'s values."""
        base = base or cls()
        given = {
            f.name: getattr(options, f.name)
            for f in dataclasses.fields(cls)
            if hasattr(options, f.name)
        }
        return base.replace(**given)


def field_names(stage: str) -> tuple[str, ...]:
    """The names of one stage's fields, in order."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; one of {', '.join(STAGES)}")
    return tuple(f.name for f in dataclasses.fields(Settings) if f.metadata["stage"] == stage)


def choices_of(name: str) -> tuple[str, ...] | None:
    """The values a field takes, where it has a fixed set."""
    choices: tuple | Callable[[], tuple] | None = Settings.__dataclass_fields__[name].metadata.get(
        "choices"
    )
    return choices() if callable(choices) else choices


def build_detector(settings: Settings, model=None):
    """The :class:`~live_explain.model.detector.Detector` that ``settings`` describe: on
    ``model`` (a loaded module, which the detector then owns) or on the model it loads. Raises
    :class:`UserError` for a classifier, a method that cannot explain detections, a device that
    is not here, or a class name the model does not know, each before the model loads."""
    from live_explain.model.detector import Detector, resolve_device
    from live_explain.model.loading import check_model_name, is_detector, load_model

    if model is None:
        check_model_name(settings.model)
        if not is_detector(settings.model):
            raise UserError(f"{settings.model} is a classifier; this command needs a detector")
    check_detector_method(settings)
    device = resolve_device(settings.device)
    if model is None:
        model = load_model(settings.model, weights=settings.weights)
    return Detector(
        model,
        device,
        settings.score_thresh,
        list(settings.classes) if settings.classes is not None else None,
        settings.topk,
        method=settings.method,
        layer=settings.layer,
        smooth=settings.smooth,
        precision=settings.precision,
    )


def check_detector_method(settings: Settings) -> None:
    """A method that explains detections, and SmoothGrad only where it applies."""
    from live_explain.explain.methods import REGISTRY, map_method_names, smoothable_names

    method = REGISTRY[settings.method]
    if not method.detectors:
        first, *others = map_method_names()
        raise UserError(
            f"--method {settings.method} {method.not_for_detectors}; "
            f"use {first} (or {', '.join(others)}) for detectors"
        )
    if settings.smooth and not method.smoothable:
        raise UserError(
            f"--smooth N (SmoothGrad) applies to --method {' or '.join(smoothable_names())} only"
        )
    if settings.smooth < 0:
        raise UserError(f"--smooth {settings.smooth}: must not be negative")
