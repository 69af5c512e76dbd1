"""``live-explain watch``: the QApplication, the window, and the scripted mode.

``watch SOURCE --screenshot OUT.png --exit-after-frames N`` opens the window, plays N
frames, saves a PNG of the whole window and exits 0 (tests and the README image use it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from live_explain.config import Settings
from live_explain.errors import UserError
from live_explain.io.recognise import open_source
from live_explain.io.source import SourceState
from live_explain.sinks.output_files import write_atomic
from live_explain.ui.images import png_bytes
from live_explain.ui.main_window import MainWindow
from live_explain.ui.notices import LogBridge
from live_explain.ui.qt_env import (
    check_platform,
    install_message_handler,
    prepare_qt_environment,
)
from live_explain.ui.settings import APP_DEFAULTS, AppSettings

log = logging.getLogger("live_explain")

INTERRUPTED = 130  # the exit code when Ctrl-C or SIGTERM closed the window
SCREENSHOT_SIZE = (1440, 900)  # the scripted window, so that screenshots are comparable
SCRIPT_TIMEOUT_S = 300  # a scripted run that shows nothing for this long gives up
INSPECTOR_WAIT_S = 10  # how long a screenshot waits for the layer inspector's first picture
DEFAULT_SCREENSHOT_FRAMES = 30


@dataclass
class WatchOptions:
    """What ``live-explain watch`` was asked for. ``overrides`` are the explanation
    settings given on the command line (they win over the remembered ones)."""

    source: str | None = None
    overrides: dict = field(default_factory=dict)
    screenshot: Path | None = None
    exit_after_frames: int | None = None
    settings_file: Path | None = None


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication (an existing one is reused), made after OpenCV's Qt variables
    are undone."""
    prepare_qt_environment()
    check_platform()
    install_message_handler()
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv or [sys.argv[0]])
        app.setApplicationName("live-explain")
        app.setOrganizationName("live-explain")
    return app


def check_source(spec: str) -> None:
    """Raise :class:`UserError` for a source that cannot be right (a missing file, a bad
    URL scheme) before any window opens."""
    open_source(spec)


class ScriptedRun:
    """Plays ``frames`` frames, then saves ``screenshot`` (the whole window) and quits."""

    def __init__(
        self, app: QApplication, window: MainWindow, frames: int, screenshot: Path | None
    ) -> None:
        self.app, self.window, self.frames, self.screenshot = app, window, frames, screenshot
        self.exit_code = 1
        self._finishing = False
        self._waited_s = 0.0
        window.frame_shown.connect(self._frame_shown)
        window.source_state.connect(self._state)
        QTimer.singleShot(SCRIPT_TIMEOUT_S * 1000, self._timed_out)

    def _frame_shown(self, count: int) -> None:
        if count >= self.frames:
            self._finish()

    def _state(self, state: str) -> None:
        if state in (SourceState.ENDED.value, SourceState.FAILED.value):
            self._finish()

    def _timed_out(self) -> None:
        print(
            f"live-explain: error: no {self.frames} frames within {SCRIPT_TIMEOUT_S} s",
            file=sys.stderr,
        )
        self.app.exit(1)

    def _finish(self) -> None:
        if self._finishing:
            return
        self._finishing = True
        if self.window.playing:
            self.window.toggle_play()  # the frame on screen stays while the picture is taken
        self._when_ready()

    def _when_ready(self) -> None:
        inspector = self.window.inspector
        waiting = inspector.isVisible() and inspector.pictures is None
        if waiting and self._waited_s < INSPECTOR_WAIT_S:
            self._waited_s += 0.1
            QTimer.singleShot(100, self._when_ready)
            return
        self._save_and_quit()

    def _save_and_quit(self) -> None:
        window = self.window
        if window.frames_shown == 0:
            errors = window.notices.messages("error")
            reason = errors[-1] if errors else "no frame could be shown"
            print(f"live-explain: error: {reason}", file=sys.stderr)
            self.exit_code = 2
            self.app.exit(2)
            return
        if self.screenshot is not None:
            self.app.processEvents()
            image = window.grab()

            try:  # through a partial file of its own, like every output
                data = png_bytes(image)
                write_atomic(self.screenshot, lambda partial: partial.write_bytes(data))
            except (UserError, ValueError) as exc:
                print(f"live-explain: error: {exc}", file=sys.stderr)
                self.app.exit(2)
                return
            video = window.view.geometry()
            origin = window.view.mapTo(window, window.view.rect().topLeft())
            image_rect = window.view.image_rect().translated(origin.x(), origin.y())
            print(
                f"screenshot {self.screenshot}: window {window.width()}x{window.height()}, "
                f"image {image.width()}x{image.height()}, video area "
                f"{origin.x()},{origin.y()},{video.width()}x{video.height()}, frame at "
                f"{image_rect.x():.0f},{image_rect.y():.0f},"
                f"{image_rect.width():.0f}x{image_rect.height():.0f}, "
                f"{window.frames_shown} frames shown"
            )
        self.exit_code = 0
        window.close()
        self.app.exit(0)


def run_app(options: WatchOptions) -> int:
    """Open the window (blocking until it closes); the process exit code."""
    if options.source is not None:
        check_source(options.source)
    app = make_application()
    signalled: list[int] = []  # Ctrl-C or SIGTERM from here on closes the window cleanly
    previous_signals = _quit_on_signals(app, signalled)
    window, bridge, previous_hook, script = None, None, sys.excepthook, None
    try:
        settings = AppSettings(options.settings_file)
        explain = settings.explain()
        if options.overrides:  # remembered once a frame has been shown with them
            explain = explain.replace(**options.overrides)
        window = MainWindow(settings, explain)
        bridge = LogBridge(log)
        bridge.message.connect(window.notices.notify)
        sys.excepthook = _notice_hook(window)
        if options.screenshot is not None or options.exit_after_frames is not None:
            frames = options.exit_after_frames or DEFAULT_SCREENSHOT_FRAMES
            script = ScriptedRun(app, window, frames, options.screenshot)
            window.resize(*SCREENSHOT_SIZE)
        _open(window, options.source, settings)
        code = 0 if signalled else app.exec()
    finally:
        if window is not None and window.isVisible():  # quit by a signal: stop the engine
            window.close()
        for number, handler in previous_signals.items():
            signal.signal(number, handler)
        sys.excepthook = previous_hook
        if bridge is not None:
            bridge.close()
    if signalled:
        return INTERRUPTED
    if script is not None:
        return script.exit_code if code == 0 else code
    return code


def _open(window: MainWindow, source: str | None, settings: AppSettings) -> None:
    window.show()
    if source is not None:
        window.open_source(source)
    else:
        window.open_source("0")
        window.notices.notify(
            "info", "no SOURCE given: trying camera 0 (open a file, folder or URL from Source)"
        )
    if settings.unreadable is not None:
        window.notices.notify("warning", settings.unreadable)


def _quit_on_signals(app: QApplication, signalled: list[int]) -> dict:
    """Ctrl-C and SIGTERM close the app cleanly (``signalled`` gets their numbers). Python
    only sees a signal when it runs, so a light timer gives it the chance while Qt's loop
    waits."""
    previous = {}

    def quit_app(number, _frame) -> None:
        signalled.append(number)
        app.quit()

    for number in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(number) is signal.SIG_IGN:
            continue  # ignored by whoever started us (nohup, a background job)
        previous[number] = signal.signal(number, quit_app)
    ticker = QTimer(app, interval=200)
    ticker.timeout.connect(lambda: None)
    ticker.start()
    return previous


def _notice_hook(window: MainWindow):
    """An excepthook that reports a bug as a notice instead of aborting the app (its
    traceback on stderr with ``LIVE_EXPLAIN_DEBUG=1``)."""

    def hook(kind, value, tb) -> None:
        log.error("unexpected error: %s", "".join(traceback.format_exception_only(kind, value)))
        if os.environ.get("LIVE_EXPLAIN_DEBUG", "") not in ("", "0"):  # as the CLI's --debug
            traceback.print_exception(kind, value, tb)
        with contextlib.suppress(RuntimeError):  # the window is already gone
            window.notices.notify("error", f"unexpected error: {kind.__name__}: {value}")

    return hook


def overrides_from_args(args) -> dict:
    """The settings given explicitly on the command line (parsed options whose names are
    :class:`~live_explain.config.Settings` fields), checked at once."""
    fields = Settings.__dataclass_fields__
    overrides = {name: value for name, value in vars(args).items() if name in fields}
    APP_DEFAULTS.replace(**overrides).check()  # a bad alpha or policy fails here, at once
    return overrides
