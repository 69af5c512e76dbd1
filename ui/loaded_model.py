"""A loaded detector model, and the Detectors and Pipelines made from it.

The app needs the same model in several threads at once (the engine, the layer inspector,
an export). Forward hooks make a module unsafe to share between threads, so the loaded
model is kept as a *template* that never runs; every user gets its own copy.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from torch import nn

from live_explain.config import Settings, build_detector
from live_explain.errors import UserError
from live_explain.explain.layers import default_layer
from live_explain.explain.methods import get_method
from live_explain.io.source import FrameSource
from live_explain.model.detector import Detector
from live_explain.model.loading import is_detector, load_model
from live_explain.realtime.pipeline import Pipeline


@dataclass(frozen=True)
class LoadedModel:
    """``template`` is never run, only copied; ``layers`` are (name, type) pairs from
    ``named_modules()`` in order; ``categories`` the class names by label id."""

    name: str
    weights: str
    template: nn.Module
    categories: tuple[str, ...]
    layers: tuple[tuple[str, str], ...]
    weights_source: str
    default_layer: str

    @property
    def ran(self) -> str:
        """The model that runs: ``demo`` where the demo detector stands in for ``name``."""
        return getattr(self.template, "model_name", self.name)

    @property
    def shown_name(self) -> str:
        """What the HUD calls it: the model that runs, and what it stands in for."""
        if self.ran != self.name:  # the demo detector in place of another model
            return f"{self.ran} (in place of {self.name})"
        demo = " (demo weights)" if self.weights_source.startswith("demo") else ""
        return self.name + demo

    @property
    def class_names(self) -> tuple[str, ...]:
        """The real classes (no background or N/A placeholders), in label order."""
        return tuple(c for c in self.categories if c and c not in ("__background__", "N/A"))

    def copy_model(self) -> nn.Module:
        return copy.deepcopy(self.template)


def load_detector_model(name: str, weights: str) -> LoadedModel:
    """Load ``name`` with ``weights`` (see :func:`live_explain.model.loading.load_model`)."""
    if not is_detector(name):
        raise UserError(f"{name} is not a detector")
    model = load_model(name, weights=weights)
    layers = tuple((n, type(m).__name__) for n, m in model.named_modules() if n)
    return LoadedModel(
        name=name,
        weights=weights,
        template=model,
        categories=tuple(model.categories),
        layers=layers,
        weights_source=getattr(model, "weights_source", weights),
        default_layer=default_layer(model),
    )


def usable_classes(loaded: LoadedModel, classes: tuple[str, ...] | None) -> list[str] | None:
    """``classes`` restricted to what the model knows (``None``: every class)."""
    if classes is None:
        return None
    known = set(loaded.class_names)
    return [c for c in classes if c in known]


def usable_settings(loaded: LoadedModel, settings: Settings) -> Settings:
    """``settings`` as this model and the app can use them: the classes the model does not
    know left out, no layer for a method at the input pixels (the layer tree's choice stays
    for the next method), and no SmoothGrad copies but for saliency (there is no widget for
    them; ``watch --smooth N`` sets them)."""
    method = get_method(settings.method)
    usable = settings.replace(classes=usable_classes(loaded, settings.classes))
    if method.at_input:
        usable = usable.replace(layer=None)
    if not method.smoothable:
        usable = usable.replace(smooth=0)
    return usable


def make_detector(loaded: LoadedModel, settings: Settings) -> Detector:
    """A Detector on its own copy of the model, configured by ``settings``."""
    return build_detector(usable_settings(loaded, settings), loaded.copy_model())


def make_pipeline(
    source: FrameSource | None, loaded: LoadedModel, settings: Settings, *, burn_labels: bool = True
) -> Pipeline:
    """A pipeline on its own copy of the model, as ``settings`` say (``source=None``:
    frames are handed to ``Pipeline.process``). ``burn_labels=False``: the overlay has the
    heatmaps only, the window draws boxes and labels at screen resolution."""
    usable = usable_settings(loaded, settings)
    if not burn_labels:
        usable = usable.replace(boxes=False)
    return Pipeline.from_settings(source, usable, loaded.copy_model())
