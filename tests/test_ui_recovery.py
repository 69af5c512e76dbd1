"""The window recovers from what the engine cannot do, for real: the real window, engine and
demo detector (random weights) on the bundled sample drive and the synthetic scene.

A layer the engine cannot explain with is undone and never remembered; remembered settings
that no longer work fall back to their defaults at start-up; an error in the engine's
thread mid-play restarts it with the last working settings."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from conftest import REPO

from live_explain.ui.qt_env import prepare_qt_environment

prepare_qt_environment()  # before pytest-qt makes the QApplication

from PyQt6.QtCore import Qt  # noqa: E402

from live_explain.ui.app import WatchOptions, run_app  # noqa: E402
from live_explain.ui.frame_update import FrameUpdate  # noqa: E402
from live_explain.ui.loaded_model import load_detector_model  # noqa: E402
from live_explain.ui.main_window import MainWindow  # noqa: E402
from live_explain.ui.settings import APP_DEFAULTS, AppSettings  # noqa: E402

SAMPLE = REPO / "recordings" / "sample_drive.mp4"  # 640x360, 25 fps
TEST_SETTINGS = APP_DEFAULTS.replace(model="demo", weights="none", score_thresh=0.0, topk=5)
# The demo detector has this layer, but the detections' scores depend on it only through the
# proposals' boxes (no gradient): the engine cannot explain with it. (Before the second
# explanation core this was backbone.fpn.layer_blocks.0, which now explains.)
FAILING_LAYER = "rpn.head.conv"
WAIT_MS = 30_000  # generous: the machine is shared


@pytest.fixture(scope="module")
def demo_model():
    return load_detector_model("demo", "none")


def make_window(qtbot, settings_file, explain=None, loaded=None) -> MainWindow:
    """The window as ``live-explain watch`` makes it, without the layer inspector (its own
    forward passes would only slow these tests down)."""
    win = MainWindow(AppSettings(settings_file), explain, loaded, settings_file.parent / "rec")
    qtbot.addWidget(win)
    win.inspector_dock.hide()
    win.show()
    qtbot.waitExposed(win)
    return win


@pytest.fixture
def window(qtbot, tmp_path, demo_model):
    win = make_window(qtbot, tmp_path / "settings.ini", TEST_SETTINGS, demo_model)
    yield win
    win.close()


def next_update(qtbot, win: MainWindow, action=None) -> FrameUpdate:
    with qtbot.waitSignal(win.frame_shown, timeout=WAIT_MS):
        if action is not None:
            action()
    return win.last_update


def wait_frames(qtbot, win: MainWindow, count: int) -> None:
    target = win.frames_shown + count
    qtbot.waitUntil(lambda: win.frames_shown >= target, timeout=WAIT_MS)


def wait_notice(qtbot, win: MainWindow, level: str, *words: str) -> str:
    def found() -> str | None:
        return next((m for m in win.notices.messages(level) if all(w in m for w in words)), None)

    qtbot.waitUntil(lambda: found() is not None, timeout=WAIT_MS)
    return found()


def settings_text(win: MainWindow) -> str:
    """The settings file as it is on disk now."""
    win.app_settings.sync()
    path = Path(win.app_settings.qsettings.fileName())
    return path.read_text() if path.exists() else ""


def click_layer(qtbot, win: MainWindow, name: str) -> None:
    """Click ``name`` in the layer tree, as the user would."""
    tree = win.controls.layer_tree
    item = win.controls._layer_items[name]
    tree.scrollToItem(item)
    qtbot.mouseClick(
        tree.viewport(), Qt.MouseButton.LeftButton, pos=tree.visualItemRect(item).center()
    )


def assert_default_layer_shown(win: MainWindow) -> None:
    assert win.explain.layer is None and win.controls.settings.layer is None
    assert win.controls.layer_label.text() == "backbone  (default)"
    assert win.controls.layer_tree.currentItem().data(0, Qt.ItemDataRole.UserRole) == "backbone"


# -- a layer the engine cannot use ------------------------------------------------------------
def test_a_failing_layer_chosen_while_paused_is_undone_and_never_saved(qtbot, window):
    first = next_update(qtbot, window, lambda: window.open_source(str(SAMPLE), playing=False))
    assert first.position == 0
    click_layer(qtbot, window, FAILING_LAYER)
    # asked for, not yet shown with: the settings file must not have it, even for a moment
    assert FAILING_LAYER not in settings_text(window)

    message = wait_notice(qtbot, window, "error", FAILING_LAYER, "back to layer backbone")
    assert "\n" not in message
    # the frame on screen is drawn again with the layer that works
    qtbot.waitUntil(lambda: window.frames_shown >= 2, timeout=WAIT_MS)
    assert_default_layer_shown(window)
    assert window.worker is not None and not window.playing
    assert window.transport.play_button.isEnabled()
    assert next_update(qtbot, window, lambda: window.step(1)).position == 1  # still working
    assert window.last_update.detections.heatmaps is not None
    window.close()
    assert FAILING_LAYER not in settings_text(window)
    assert AppSettings(window.app_settings.qsettings.fileName()).explain().layer is None


@pytest.mark.parametrize("source", [str(SAMPLE), "synthetic"], ids=["file", "live"])
def test_a_failing_layer_chosen_while_playing_is_undone_and_frames_keep_coming(
    qtbot, window, source
):
    window.open_source(source)
    wait_frames(qtbot, window, 2)
    click_layer(qtbot, window, FAILING_LAYER)
    assert FAILING_LAYER not in settings_text(window)
    wait_notice(qtbot, window, "error", FAILING_LAYER, "back to layer backbone")
    assert_default_layer_shown(window)
    wait_frames(qtbot, window, 3)
    assert window.playing and window.worker is not None
    assert window.last_update.detections.heatmaps is not None
    assert not window.notices.messages("warning")  # undone in place: no restart was needed
    assert FAILING_LAYER not in settings_text(window)

    # a layer that works is remembered once a frame was shown with it
    click_layer(qtbot, window, "backbone.body")
    qtbot.waitUntil(lambda: "backbone.body" in settings_text(window), timeout=WAIT_MS)


# -- remembered settings that no longer work --------------------------------------------------
@pytest.mark.parametrize(
    ("saved", "key", "default"),
    [
        ({"layer": FAILING_LAYER}, "layer", None),
        ({"layer": "backbone.no_such_layer"}, "layer", None),
        ({"weights": "missing.pt"}, "weights", "auto"),
    ],
    ids=["failing-layer", "unknown-layer", "missing-weights"],
)
def test_a_remembered_setting_that_fails_falls_back_to_its_default(
    qtbot, tmp_path, saved, key, default
):
    settings_file = tmp_path / "settings.ini"
    if "weights" in saved:
        saved = {"weights": str(tmp_path / saved["weights"])}
    remembered = AppSettings(settings_file)
    remembered.save_explain(TEST_SETTINGS.replace(**saved))
    remembered.sync()
    assert str(saved[key]) in settings_file.read_text()

    win = make_window(qtbot, settings_file)  # the remembered settings, no model loaded yet
    assert getattr(win.explain, key) == saved[key]
    update = next_update(qtbot, win, lambda: win.open_source(str(SAMPLE), playing=False))
    assert update.position == 0 and update.detections.heatmaps is not None
    message = wait_notice(qtbot, win, "warning", f"{key} ", "using the default")
    assert "\n" not in message
    assert getattr(win.explain, key) == default
    assert getattr(win.controls.settings, key) == default
    if key == "weights":
        assert win.controls.weights_box.currentText() == "auto"
        assert win.loaded.weights == "auto"
    else:
        assert_default_layer_shown(win)
    assert win.transport.play_button.isEnabled() and win.worker is not None
    assert next_update(qtbot, win, lambda: win.step(1)).position == 1
    win.close()
    assert str(saved[key]) not in settings_file.read_text()
    assert getattr(AppSettings(settings_file).explain(), key) == default


def test_watch_starts_despite_a_remembered_layer_and_weights_that_fail(qapp, tmp_path):
    """What ``live-explain watch SOURCE --exit-after-frames N`` runs: it used to exit 2."""
    settings_file = tmp_path / "settings.ini"
    missing = str(tmp_path / "gone.pt")
    remembered = AppSettings(settings_file)
    remembered.save_explain(TEST_SETTINGS.replace(weights=missing, layer=FAILING_LAYER))
    remembered.sync()
    options = WatchOptions(source=str(SAMPLE), exit_after_frames=2, settings_file=settings_file)
    # In-process, the window's closing would leave the shared QApplication a quit event
    # for after run_app returns, which ends every later test's event loop at once.
    qapp.setQuitOnLastWindowClosed(False)
    try:
        assert run_app(options) == 0
    finally:
        qapp.setQuitOnLastWindowClosed(True)
    again = AppSettings(settings_file).explain()
    assert (again.weights, again.layer) == ("auto", None)
    assert (again.model, again.topk) == ("demo", 5)  # what worked stays


# -- an error in the engine mid-play ----------------------------------------------------------
class FailingHook:
    """A forward hook on the real model that raises once ``armed`` (``times``: how often)."""

    def __init__(self, times: int | None = 1) -> None:
        self.armed = threading.Event()
        self.times = times
        self.raised = 0

    def __deepcopy__(self, memo) -> FailingHook:
        return self  # every copy of the model the app makes shares this one hook

    def __call__(self, module, inputs, output) -> None:
        if self.armed.is_set() and (self.times is None or self.raised < self.times):
            self.raised += 1
            raise RuntimeError("injected failure in backbone.body")


@pytest.fixture
def hooked_window(qtbot, tmp_path):
    """A window on its own demo model with a :class:`FailingHook` on ``backbone.body``
    (each copy the engine makes of the model keeps it)."""
    loaded = load_detector_model("demo", "none")
    hooks = []

    def make(times: int | None) -> MainWindow:
        hook = FailingHook(times)
        hooks.append(loaded.template.get_submodule("backbone.body").register_forward_hook(hook))
        win = make_window(qtbot, tmp_path / "settings.ini", TEST_SETTINGS, loaded)
        win.hook = hook
        return win

    yield make
    for handle in hooks:
        handle.remove()


def test_an_engine_error_mid_play_restarts_it_with_the_last_working_settings(qtbot, hooked_window):
    window = hooked_window(times=1)
    window.open_source(str(SAMPLE))
    wait_frames(qtbot, window, 2)
    next_update(qtbot, window, lambda: window.controls.set_opacity(0.2))
    qtbot.waitUntil(lambda: "alpha=0.2" in settings_text(window), timeout=WAIT_MS)
    first_worker = window.worker
    positions: list[int] = []
    window.frame_shown.connect(lambda _: positions.append(window.last_update.position))

    window.hook.armed.set()
    message = wait_notice(qtbot, window, "warning", "injected failure", "restarted")
    assert "RuntimeError" in message and "\n" not in message
    assert window.hook.raised == 1
    wait_frames(qtbot, window, 3)
    assert window.worker is not None and window.worker is not first_worker
    assert window.playing and window.transport.play_button.isEnabled()
    # it goes on where it was, with what worked: no frame skipped, none repeated
    assert positions == list(range(positions[0], positions[0] + len(positions)))
    assert window.explain.alpha == 0.2 and window.controls.opacity_slider.value() == 20
    assert window.worker.settings.alpha == 0.2
    assert not window.notices.messages("error")

    qtbot.keyClick(window, Qt.Key.Key_Space)  # and it still obeys
    qtbot.waitUntil(lambda: not window.playing, timeout=WAIT_MS)
    here = window.last_update.position
    qtbot.wait(100)
    assert next_update(qtbot, window, lambda: window.step(1)).position > here


def test_an_engine_error_that_keeps_coming_stops_it_with_the_controls_off(qtbot, hooked_window):
    window = hooked_window(times=None)
    window.open_source(str(SAMPLE))
    wait_frames(qtbot, window, 2)
    with qtbot.waitSignal(
        window.source_state, timeout=WAIT_MS, check_params_cb=lambda s: s == "failed"
    ):
        window.hook.armed.set()
    assert any("injected failure" in m for m in window.notices.messages("error"))
    assert "failed" in window.source_label.text()
    transport = window.transport
    for widget in (transport.play_button, transport.forward_button, transport.slider):
        assert not widget.isEnabled()
    assert not window.play_action.isEnabled() and not window.record_action.isEnabled()
    assert not window.playing and window.worker is None
    # a settings change with no engine is simply remembered for the next source
    window.controls.set_opacity(0.3)
    assert window.explain.alpha == 0.3 and "alpha=0.3" in settings_text(window)

    window.hook.armed.clear()
    update = next_update(qtbot, window, lambda: window.open_source(str(SAMPLE), playing=False))
    assert update.position == 0 and window.worker is not None  # a new source: controls back
    assert transport.play_button.isEnabled() and transport.slider.isEnabled()
    assert window.play_action.isEnabled() and window.record_action.isEnabled()
