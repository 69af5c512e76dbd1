"""The PyQt6 desktop app (installed as ``live_explain.ui``): ``live-explain watch``.

It imports :mod:`live_explain`; the library never imports it. Importing this package
undoes OpenCV's Qt plugin path (see :mod:`live_explain.ui.qt_env`), so a ``QApplication``
made afterwards loads PyQt6's own plugins.
"""

from live_explain.ui.qt_env import prepare_qt_environment

prepare_qt_environment()
