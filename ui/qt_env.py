"""Qt's environment, cleaned of what OpenCV put there.

Importing ``cv2`` (the opencv-python wheel, ``cv2/config-3.py``) points
``QT_QPA_PLATFORM_PLUGIN_PATH`` and ``QT_QPA_FONTDIR`` at OpenCV's own bundled Qt plugins
and fonts. PyQt6 would then load platform plugins built for another Qt, which fails or
crashes. :func:`prepare_qt_environment` must run before the ``QApplication`` is made.
"""

from __future__ import annotations

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
