"""Qt's environment, cleaned of what OpenCV put there.

Importing ``cv2`` (the opencv-python wheel, ``cv2/config-3.py``) points
``QT_QPA_PLATFORM_PLUGIN_PATH`` and ``QT_QPA_FONTDIR`` at OpenCV's own bundled Qt plugins
and fonts. PyQt6 would then load platform plugins built for another Qt, which fails or
crashes. :func:`prepare_qt_environment` must run before the ``QApplication`` is made.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from pathlib import Path

OPENCV_QT_VARIABLES = ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR")

# The user's own values, when this module is imported before cv2 is.
_before_opencv: dict[str, str | None] | None = (
    None if "cv2" in sys.modules else {v: os.environ.get(v) for v in OPENCV_QT_VARIABLES}
)


def _opencv_dir() -> Path | None:
    spec = importlib.util.find_spec("cv2")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).resolve().parent


def prepare_qt_environment() -> None:
    """Undo OpenCV's Qt variables: restore the user's values where they are known, else
    drop any value that points inside the cv2 package. Safe to call more than once."""
    cv2_dir = _opencv_dir()
    for variable in OPENCV_QT_VARIABLES:
        value = os.environ.get(variable)
        if value is None:
            continue
        if _before_opencv is not None and _before_opencv[variable] is not None:
            os.environ[variable] = _before_opencv[variable]
        elif cv2_dir is not None and Path(value).resolve().is_relative_to(cv2_dir):
            del os.environ[variable]


def platform_plugins() -> list[str]:
    """The Qt platform plugins this PyQt6 has (``xcb``, ``offscreen``, ...)."""
    from PyQt6.QtCore import QLibraryInfo

    folder = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    names = [p.name for p in folder.glob("libq*")] if folder.is_dir() else []
    return sorted(name[4:].split(".")[0] for name in names)


def check_platform() -> None:
    """Raise :class:`UserError` for a ``QT_QPA_PLATFORM`` that names no plugin of this Qt
    (Qt itself would abort the process)."""
    from live_explain.errors import UserError

    wanted = os.environ.get("QT_QPA_PLATFORM", "")
    names = [n.split(":")[0].strip() for n in wanted.split(";") if n.strip()]
    available = platform_plugins()
    known = [n for n in names if any(n == a or n.startswith(f"{a}-") for a in available)]
    if names and available and not known:  # wayland-egl is a key of the wayland plugin
        raise UserError(
            f"QT_QPA_PLATFORM={wanted}: no such Qt platform here; use one of "
            f"{', '.join(available)} (or leave it unset)"
        )


# Qt messages that say nothing to a user: the offscreen platform cannot resize a window; a
# settings file's unreadable value (the app then keeps its default).
QUIET_QT_MESSAGES = ("propagateSizeHints", "Trying to construct an instance of an invalid type")


def _qt_message(kind, _context, message: str) -> None:
    """Qt's own messages: debug and info dropped, known noise dropped, the rest one line."""
    from PyQt6.QtCore import QtMsgType

    if kind in (QtMsgType.QtDebugMsg, QtMsgType.QtInfoMsg):
        return
    if any(quiet in message for quiet in QUIET_QT_MESSAGES):
        return
    with contextlib.suppress(OSError, ValueError):
        print(f"live-explain: qt: {' '.join(message.split())}", file=sys.stderr)


def install_message_handler() -> None:
    """Route Qt's messages through :func:`_qt_message` (before any QSettings or window)."""
    from PyQt6.QtCore import qInstallMessageHandler

    qInstallMessageHandler(_qt_message)
