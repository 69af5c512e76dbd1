"""Old import path of :mod:`live_explain.model` (``from live_explain.models import load_model``
as the README and the design once showed it), kept for users' code."""

from live_explain.model.loading import load_model

__all__ = ["load_model"]
