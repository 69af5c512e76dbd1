"""Which settings the engine runs with: a change applies at once or is undone with a notice, the
settings in force are confirmed by the first frame they show, a refused change goes back to the
last that worked, and a remembered setting that no longer works falls back to its default."""

from __future__ import annotations

import dataclasses
import logging
import time

from live_explain.config import Settings
from live_explain.errors import UserError
from live_explain.ui.loaded_model import (
    LoadedModel,
    make_detector,
    usable_settings,
)
from live_explain.ui.settings import APP_DEFAULTS, PIPELINE_KEYS

log = logging.getLogger("live_explain")

# What falls back to its default, in this order, when settings not known to work fail
# before their first frame: loading the model, then building or running the explanation.
MODEL_FALLBACKS = ("weights", "model")
EXPLAIN_FALLBACKS = ("layer", "method", "device", "refresh")
NOTICE_CHARS = 240  # an error in a notice is cut to one line of about this length
# The settings a notice names when it says what was undone: what the app shows and keeps.
DESCRIBED_KEYS = tuple(f.name for f in dataclasses.fields(Settings) if f.metadata["remembered"])


def one_line(exc: BaseException) -> str:
    """``exc`` for a notice: one line, its type named unless it is a user error."""
    text = " ".join(str(exc).split())
    if not isinstance(exc, UserError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= NOTICE_CHARS else text[: NOTICE_CHARS - 1] + "…"


class SettingsGuard:
    """The settings negotiation of :class:`~live_explain.ui.engine_worker.EngineWorker`."""

    def _apply_settings(self, changes: dict) -> bool:
        """Apply ``changes``; True when the current frame should be explained again.
        A change that cannot apply (unknown weights file, say) leaves the old settings."""
        old, old_loaded = self.settings, self.loaded
        new = old.replace(**changes)
        try:
            if (new.model, new.weights) != (old.model, old.weights):
                self._load_model(new.model, new.weights)
            if (new.model, new.weights, new.device) != (old.model, old.weights, old.device):
                detector = make_detector(self.loaded, new)
                if self._pipeline is not None:
                    self._pipeline.update(detector=detector)
                updates = {"detector": detector}
            else:
                updates = self._pipeline_changes(old, new)
                if updates and self._pipeline is not None:
                    self._pipeline.update(**updates)  # checks a new method or layer at once
        except Exception as exc:
            if not isinstance(exc, UserError):
                log.debug("settings change failed", exc_info=True)
            kept = self._describe(old, new, old_loaded)
            self.notice.emit("error", f"{one_line(exc)}; back to {kept}")
            self.settings = old
            if self.loaded is not old_loaded:
                self.loaded = old_loaded
                self.model_ready.emit(old_loaded)
            self.settings_rejected.emit(old)
            return False
        self.settings = new
        self._changed_at = time.perf_counter()  # frames read from now on show ``new``
        return bool(updates)

    # -- which settings work ------------------------------------------------------------------
    def _untested(self) -> bool:
        """Whether the settings in force have not yet shown a frame (since the last that did)."""
        if self._good is None:
            return False
        good, loaded = self._good
        return loaded is not self.loaded or good.replace(selected=None) != self.settings.replace(
            selected=None
        )

    def _confirm(self) -> None:
        """A frame was shown with the settings in force: they work."""
        if self._good is None or self._untested():
            self._good = (self.settings, self.loaded)
            self.settings_working.emit(self.settings)

    def _refuse(self, exc: Exception) -> None:
        """Undo the settings that made the engine fail: back to the last working ones."""
        assert self._good is not None
        log.debug("settings refused", exc_info=True)
        good, loaded = self._good
        refused, refused_loaded = self.settings, self.loaded
        tried = self._describe(refused, good, refused_loaded)
        kept = self._describe(good, refused, loaded)
        reason = one_line(exc)
        self.notice.emit("error", f"{tried}: cannot explain with it ({reason}); back to {kept}")
        if loaded is not refused_loaded:
            self.loaded = loaded
            self.model_ready.emit(loaded)
        self.settings = good.replace(selected=refused.selected)
        self._changed_at = time.perf_counter()
        self.settings_rejected.emit(self.settings)

    def _fall_back(self, keys: tuple[str, ...], exc: Exception) -> bool:
        """Before the first frame of settings not known to work: the first of ``keys`` not at
        its default goes back to it (with a notice); False when none is left to try."""
        if not self.fallback or self._good is not None or self._stopping:
            return False
        defaults = APP_DEFAULTS
        for key in keys:
            value, default = getattr(self.settings, key), getattr(defaults, key)
            if value == default:
                continue
            changes = {key: default}
            if key == "model":
                changes["layer"] = None  # another model: its own default layer
            log.debug("%s %s falls back", key, value, exc_info=True)
            self.notice.emit(
                "warning",
                f"{key} {self._shown(key, value)} cannot be used ({one_line(exc)}); "
                f"using the default ({self._shown(key, default)})",
            )
            self.settings = self.settings.replace(**changes)
            self.settings_rejected.emit(self.settings)
            return True
        return False

    def _describe(self, settings: Settings, other: Settings, loaded: LoadedModel | None) -> str:
        """The settings in which ``settings`` differ from ``other``, as "layer x, topk 5"."""
        parts = [
            f"{key} {self._shown(key, getattr(settings, key), loaded)}"
            for key in DESCRIBED_KEYS
            if getattr(settings, key) != getattr(other, key)
        ]
        return ", ".join(parts) or "these settings"

    def _shown(self, key: str, value, loaded: LoadedModel | None = None) -> str:
        loaded = loaded or self.loaded
        if key == "layer" and value is None:
            return f"{loaded.default_layer} (default)" if loaded else "the model's default"
        if key == "classes":
            return "all" if value is None else ",".join(value)
        return str(value)

    def _pipeline_changes(self, old: Settings, new: Settings) -> dict:
        """``Pipeline.update`` keywords for what differs from ``old`` to ``new``, as the model
        and the app use them (:func:`~live_explain.ui.loaded_model.usable_settings`, the rule
        the pipeline was built by)."""
        was, now = usable_settings(self.loaded, old), usable_settings(self.loaded, new)
        return {k: getattr(now, k) for k in PIPELINE_KEYS if getattr(was, k) != getattr(now, k)}
