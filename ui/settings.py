"""What the app remembers between sessions (QSettings): explanation settings, recent
sources, playback speed and loop, window geometry."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

from PyQt6.QtCore import QByteArray, QSettings

from live_explain.config import Settings, choices_of, field_names
from live_explain.errors import UserError
from live_explain.model.names import DEMO_MODEL, DETECTORS, DRIVING_CLASSES, YOLO_MODELS
from live_explain.realtime.refresh_policy import REFRESH_MODES
from live_explain.ui.qt_env import install_message_handler

RECENT_LIMIT = 8
SETTINGS_GROUPS = ("General", "explain", "sources", "playback", "window")
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
        install_message_handler()  # Qt's parser speaks of a file's unreadable values
        if path is None:
            self.qsettings = QSettings(
                QSettings.Format.IniFormat,
                QSettings.Scope.UserScope,
                "live-explain",
                "live-explain",
            )
        else:
            self.qsettings = QSettings(str(path), QSettings.Format.IniFormat)
        # A file the app did not write (hand-edited into garbage, another program's) is
        # never written over: this session remembers in a scratch file instead.
        self.unreadable: str | None = None
        self._scratch: tempfile.TemporaryDirectory | None = None
        problem = foreign_content(Path(self.qsettings.fileName()))
        keep: list[str] = []
        if problem is None:  # the app's format; values it cannot use say someone else wrote it
            _, unusable = self._remembered()
            if unusable:
                names = ", ".join(key.split("/", 1)[1] for key in unusable[:4])
                names += ", ..." if len(unusable) > 4 else ""
                problem = f"has values the app cannot use ({names})"
                keep = [k for k in self.qsettings.allKeys() if k not in unusable]
        if problem is not None:
            self.unreadable = (
                f"settings file {self.qsettings.fileName()} {problem}: it is left as it is "
                "(remove it to start afresh), and this session's settings are not remembered"
            )
            self._scratch = tempfile.TemporaryDirectory(prefix="live-explain-settings-")
            scratch = QSettings(
                str(Path(self._scratch.name) / "live-explain.ini"), QSettings.Format.IniFormat
            )
            for key in keep:  # what can be used is used, in this session only
                scratch.setValue(key, self.qsettings.value(key))
            self.qsettings = scratch

    def _remembered(self) -> tuple[dict, list[str]]:
        """The remembered explanation settings the app can use (field -> value), and the
        keys of those in the file that it cannot use."""
        values, unusable = {}, []
        for setting in dataclasses.fields(Settings):
            key = f"explain/{setting.name}"
            raw = self.qsettings.value(key, None)
            if raw is None or not setting.metadata["remembered"]:
                continue
            try:
                values[setting.name] = _usable(setting.name, _read(setting, raw))
            except (TypeError, ValueError, KeyError, UserError):
                unusable.append(key)
        return values, unusable

    # -- explanation ----------------------------------------------------------------------
    def explain(self) -> Settings:
        """The remembered settings (every field of :class:`Settings` marked ``remembered``);
        a value that cannot be read back keeps its default."""
        values, _ = self._remembered()
        return APP_DEFAULTS.replace(**values)

    def save_explain(self, settings: Settings) -> None:
        for setting in dataclasses.fields(Settings):
            if setting.metadata["remembered"]:
                value = _written(getattr(settings, setting.name), setting)
                self.qsettings.setValue(f"explain/{setting.name}", value)

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


LONGEST_VALUE = 4096  # characters; a longer remembered value is not one the app wrote


def _usable(name: str, value: object) -> object:
    """``value`` for the setting ``name`` when the app can use it, else an error: one of its
    choices, a detector the app offers, a value :meth:`Settings.check` accepts."""
    if isinstance(value, str) and len(value) > LONGEST_VALUE:
        raise ValueError(f"{name}: {len(value)} characters")
    choices = choices_of(name)
    if choices is not None and value is not None and value not in choices:
        raise ValueError(f"{name}: {value!r} is not one of its choices")
    if name == "model" and value not in (DEMO_MODEL, *DETECTORS, *YOLO_MODELS):
        raise ValueError(f"model: {value!r} is not a detector")
    APP_DEFAULTS.replace(**{name: value}).check()
    return value


def foreign_content(path: Path) -> str | None:
    """Why the INI file at ``path`` is not one this app wrote (``None``: it is, or there is
    none): text in UTF-8 of ``[group]`` headers and ``key=value`` lines in the app's groups."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        return "is not text"
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith((";", "#")):
            continue
        if line.startswith("[") and line.endswith("]"):
            if line[1:-1] not in SETTINGS_GROUPS:
                return f"has a group [{line[1:-1][:40]}] the app does not write (line {number})"
        elif "=" not in line:
            return f"is not a settings file (line {number})"
    return None


def _bool(value: object) -> bool:
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)


def _written(value: object, setting: dataclasses.Field) -> object:
    """A setting as the INI file holds it: ``*`` for every class, "" for the default layer."""
    if setting.name == "classes":
        return "*" if value is None else ",".join(value)
    return "" if value is None else value


def _read(setting: dataclasses.Field, raw: object) -> object:
    """A setting read back from the INI file, by its field's type."""
    kind = str(setting.type)
    if setting.name == "classes":
        return None if raw == "*" else tuple(c for c in str(raw).split(",") if c)
    if "None" in kind and raw == "":
        return None
    if kind.startswith("bool"):
        return _bool(raw)
    if kind.startswith("int"):
        return int(raw)
    if kind.startswith("float"):
        return float(raw)
    return str(raw)
