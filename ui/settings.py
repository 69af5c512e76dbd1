"""What the app remembers between sessions (QSettings): explanation settings, recent
sources, playback speed and loop, window geometry."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QByteArray, QSettings

from live_explain.config import Settings, field_names
from live_explain.model.names import DRIVING_CLASSES
from live_explain.realtime.refresh_policy import REFRESH_MODES

RECENT_LIMIT = 8
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)
REFRESH_POLICIES = REFRESH_MODES  # adaptive, every-frame


# The app's defaults: the road users only (the command line keeps every class).
APP_DEFAULTS = Settings(classes=DRIVING_CLASSES)
# Settings a running pipeline takes as they are (model, weights, device need a new model).
PIPELINE_KEYS = field_names("detector") + field_names("policy") + field_names("style")


class AppSettings:
    """A typed view of the app's QSettings. ``path`` gives an INI file of its own (tests);
    by default the user's ``live-explain/live-explain.ini`` in their config folder."""

    def __init__(self, path: Path | None = None) -> None:
        if path is None:
            self.qsettings = QSettings(
                QSettings.Format.IniFormat,
                QSettings.Scope.UserScope,
                "live-explain",
                "live-explain",
            )
        else:
            self.qsettings = QSettings(str(path), QSettings.Format.IniFormat)

    # -- explanation ----------------------------------------------------------------------
    def explain(self) -> Settings:
        s, d = self.qsettings, APP_DEFAULTS
        classes = s.value("explain/classes", None)
        if classes is None:
            chosen = d.classes
        elif classes == "*":
            chosen = None
        else:
            chosen = tuple(c for c in str(classes).split(",") if c)
        return APP_DEFAULTS.replace(
            model=str(s.value("explain/model", d.model)),
            weights=str(s.value("explain/weights", d.weights)),
            device=str(s.value("explain/device", d.device)),
            method=str(s.value("explain/method", d.method)),
            layer=str(s.value("explain/layer", "")) or None,
            classes=chosen,
            score_thresh=float(s.value("explain/score_thresh", d.score_thresh)),
            topk=int(s.value("explain/topk", d.topk)),
            colormap=str(s.value("explain/colormap", d.colormap)),
            alpha=float(s.value("explain/alpha", d.alpha)),
            merged=_bool(s.value("explain/merged", d.merged)),
            refresh=str(s.value("explain/refresh", d.refresh)),
        )

    def save_explain(self, settings: Settings) -> None:
        s = self.qsettings
        for key in ("model", "weights", "device", "method", "colormap", "refresh"):
            s.setValue(f"explain/{key}", getattr(settings, key))
        s.setValue("explain/layer", settings.layer or "")
        classes = "*" if settings.classes is None else ",".join(settings.classes)
        s.setValue("explain/classes", classes)
        s.setValue("explain/score_thresh", settings.score_thresh)
        s.setValue("explain/topk", settings.topk)
        s.setValue("explain/alpha", settings.alpha)
        s.setValue("explain/merged", settings.merged)

    # -- sources and playback ---------------------------------------------------------------
    def recent_sources(self) -> list[str]:
        value = self.qsettings.value("sources/recent", [])
        if isinstance(value, str):  # QSettings gives a lone string for a one-item list
            value = [value]
        return [str(v) for v in value or []]

    def add_recent_source(self, spec: str) -> None:
        recent = [spec] + [s for s in self.recent_sources() if s != spec]
        self.qsettings.setValue("sources/recent", recent[:RECENT_LIMIT])

    def speed(self) -> float:
        speed = float(self.qsettings.value("playback/speed", 1.0))
        return speed if speed in SPEEDS else 1.0

    def loop(self) -> bool:
        return _bool(self.qsettings.value("playback/loop", False))

    def save_playback(self, speed: float, loop: bool) -> None:
        self.qsettings.setValue("playback/speed", speed)
        self.qsettings.setValue("playback/loop", loop)

    # -- window -----------------------------------------------------------------------------
    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        return self.qsettings.value("window/geometry"), self.qsettings.value("window/state")

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)

    def sync(self) -> None:
        self.qsettings.sync()


def _bool(value: object) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)
