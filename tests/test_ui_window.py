"""The desktop app's window, for real: the real clip and the synthetic scene through the
real engine and the bundled demo detector, on Qt's offscreen platform (pytest-qt)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import CLIP_FRAMES, video_info

from live_explain.ui.qt_env import prepare_qt_environment

prepare_qt_environment()  # before pytest-qt makes the QApplication

from PyQt6.QtCore import QElapsedTimer, QPoint, Qt, QTimer  # noqa: E402

from live_explain.render.overlay import RenderStyle, draw_detections  # noqa: E402
from live_explain.ui.event_words import event_words  # noqa: E402
from live_explain.ui.frame_update import FrameUpdate  # noqa: E402
from live_explain.ui.loaded_model import load_detector_model  # noqa: E402
from live_explain.ui.main_window import MainWindow  # noqa: E402
from live_explain.ui.settings import APP_DEFAULTS, AppSettings  # noqa: E402

# The demo detector's architecture with its fixed random initialisation: fast, the same on
# every machine whatever its training state, and with no threshold it keeps five boxes a frame.
TEST_SETTINGS = APP_DEFAULTS.replace(model="demo", weights="none", score_thresh=0.0, topk=5)
WAIT_MS = 30_000  # generous: the machine is shared


@pytest.fixture(scope="module")
def demo_model():
    return load_detector_model("demo", "none")


@pytest.fixture
def window(qtbot, tmp_path, demo_model):
    win = MainWindow(
        AppSettings(tmp_path / "settings.ini"),
        TEST_SETTINGS,
        demo_model,
        recordings_dir=tmp_path / "recordings",
    )
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def next_update(qtbot, win: MainWindow, action=None) -> FrameUpdate:
    """Run ``action`` and wait for the frame it brings."""
    with qtbot.waitSignal(win.frame_shown, timeout=WAIT_MS):
        if action is not None:
            action()
    return win.last_update


def wait_frames(qtbot, win: MainWindow, count: int) -> None:
    target = win.frames_shown + count
    qtbot.waitUntil(lambda: win.frames_shown >= target, timeout=WAIT_MS)


def open_paused(qtbot, win: MainWindow, spec) -> FrameUpdate:
    return next_update(qtbot, win, lambda: win.open_source(str(spec), playing=False))


def test_play_pause_step_and_seek_the_real_clip(qtbot, window, clip):
    positions: list[int] = []
    window.frame_shown.connect(lambda _: positions.append(window.last_update.position))
    window.open_source(str(clip))
    wait_frames(qtbot, window, 6)
    assert window.source_info.frame_count == CLIP_FRAMES
    assert window.playing
    # lossless replay: every frame, in order
    assert positions[:6] == list(range(6))
    assert window.transport.slider.maximum() == CLIP_FRAMES - 1

    qtbot.keyClick(window, Qt.Key.Key_Space)  # pause
    qtbot.waitUntil(lambda: not window.playing, timeout=WAIT_MS)
    qtbot.wait(100)  # a frame in flight may still land
    shown = window.frames_shown
    qtbot.wait(600)
    assert window.frames_shown == shown, "paused, yet frames kept coming"

    here = window.last_update.position
    assert next_update(
        qtbot, window, lambda: qtbot.keyClick(window, Qt.Key.Key_Right)
    ).position == (here + 1)
    assert next_update(qtbot, window, lambda: window.step(-1)).position == here
    assert next_update(qtbot, window, lambda: window.step(-1)).position == here - 1

    update = next_update(qtbot, window, lambda: window.transport.slider.setValue(150))
    assert update.position == 150
    capture = cv2.VideoCapture(str(clip))
    for _ in range(150):
        capture.grab()
    ok, frame150 = capture.read()
    capture.release()
    assert ok and np.array_equal(update.result.frame.image, frame150)
    assert "frame 151/221" in window.transport.time_label.text()
    assert "0:06.0" in window.transport.time_label.text()

    next_update(qtbot, window, lambda: qtbot.keyClick(window, Qt.Key.Key_Space))  # play again
    assert window.playing
    wait_frames(qtbot, window, 2)
    assert window.last_update.position > 150


def test_speed_and_loop_controls(qtbot, window, tmp_path):
    assert window.transport.speed == 1.0
    qtbot.keyClick(window, Qt.Key.Key_Up)
    assert window.transport.speed == 2.0
    qtbot.keyClick(window, Qt.Key.Key_Down)
    qtbot.keyClick(window, Qt.Key.Key_Down)
    qtbot.keyClick(window, Qt.Key.Key_Down)
    assert window.transport.speed == 0.25
    for _ in range(6):
        qtbot.keyClick(window, Qt.Key.Key_Up)
    assert window.transport.speed == 4.0  # capped

    from conftest import make_video

    short = make_video(tmp_path / "short.mp4", frames=8, fps=25)
    window.transport.loop_box.setChecked(True)
    positions: list[int] = []
    window.frame_shown.connect(lambda _: positions.append(window.last_update.position))
    window.open_source(str(short))
    qtbot.waitUntil(lambda: positions.count(0) >= 2, timeout=WAIT_MS)  # came round again
    assert positions[:9] == [*range(8), 0]
    window.transport.loop_box.setChecked(False)
    qtbot.waitUntil(lambda: not window.playing, timeout=WAIT_MS)  # stops at the end
    assert window.last_update.position == 7


def drawn_with(update: FrameUpdate, **style) -> np.ndarray:
    """The library's own drawing of ``update``'s heatmaps with ``style`` (the window draws
    the boxes and labels itself, at screen resolution)."""
    style = RenderStyle(boxes=False, **style)
    return draw_detections(update.result.frame.image, update.detections, style)


def test_method_and_opacity_changes_apply_on_the_next_frame(qtbot, window, clip):
    first = open_paused(qtbot, window, clip)
    assert len(first.detections) >= 1 and first.detections.heatmaps is not None
    assert np.array_equal(first.result.overlay, drawn_with(first, alpha=0.45))

    faint = next_update(qtbot, window, lambda: window.controls.set_opacity(0.0))
    assert faint.position == first.position  # paused: the same frame, drawn again
    assert window.explain.alpha == 0.0 and window.controls.opacity_label.text() == "0%"
    assert np.array_equal(faint.result.overlay, drawn_with(faint, alpha=0.0))
    assert not np.array_equal(faint.result.overlay, first.result.overlay)

    strong = next_update(qtbot, window, lambda: window.controls.set_opacity(0.9))
    assert np.array_equal(strong.result.overlay, drawn_with(strong, alpha=0.9))

    eigen = next_update(qtbot, window, lambda: window.controls.set_method("eigencam"))
    assert window.explain.method == "eigencam"
    assert eigen.position == first.position
    assert eigen.detections.heatmaps is not None and len(eigen.detections) == len(first.detections)
    assert not np.allclose(eigen.detections.heatmaps, first.detections.heatmaps, atol=1e-3)

    boxes_only = next_update(qtbot, window, lambda: window.controls.set_method("none"))
    assert boxes_only.detections.heatmaps is None
    assert set(boxes_only.attention) == {None}
    assert window.table.item(0, 3).text() == "n/a"


def test_select_a_detection_in_the_view_and_in_the_table(qtbot, window, clip):
    first = open_paused(qtbot, window, clip)
    dets = first.detections
    assert len(dets) >= 2
    assert window.table.rowCount() == len(dets)
    assert [window.table.item(r, 1).text() for r in range(len(dets))] == dets.names
    # the monitoring signals: peak in box and this frame's events per detection
    assert {window.table.item(r, 4).text() for r in range(len(dets))} <= {"yes", "no", "n/a"}
    flagged = [r for r in range(len(dets)) if first.row_events[r]]
    assert all(first.attention[r] < 0.5 for r in flagged if first.attention[r] is not None)
    words = [window.table.item(r, 5).text() for r in range(len(dets))]
    assert words == [event_words(events) for events in first.row_events]

    # outside every box, per-box maps leave the frame untouched (labels are drawn by the
    # window, not into the frame)
    height, width = first.result.frame.image.shape[:2]
    outside = np.ones((height, width), bool)
    for x0, y0, x1, y1 in dets.boxes.astype(int):
        outside[max(0, y0) : y1 + 1, max(0, x0) : x1 + 1] = False
    assert outside.sum() > 0.3 * outside.size
    changed = np.any(first.result.overlay != first.result.frame.image, axis=2)
    assert not changed[outside].any()

    view = window.view
    areas = (dets.boxes[:, 2] - dets.boxes[:, 0]) * (dets.boxes[:, 3] - dets.boxes[:, 1])
    row = int(np.argmin(areas))
    centre = view.to_widget(dets.boxes[row]).center()
    assert view.detection_at(centre) == row
    key = first.selection_keys[row]
    hover = view.describe(row)
    assert dets.names[row] in hover and f"#{key}" in hover and "attention in box" in hover

    def click(point: QPoint) -> None:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=point)

    chosen = next_update(qtbot, window, lambda: click(centre.toPoint()))
    assert window.explain.selected == key
    assert window.table.selected == key
    assert window.table.selectionModel().selectedRows()[0].row() == row
    # that detection's map alone now covers the whole frame, outside the boxes too
    changed = np.any(chosen.result.overlay != chosen.result.frame.image, axis=2)
    assert changed[outside].any()

    corner = QPoint(int(view.image_rect().x()) + 2, int(view.image_rect().bottom()) - 2)
    assert view.detection_at(corner.toPointF()) is None
    cleared = next_update(qtbot, window, lambda: click(corner))
    assert window.explain.selected is None and window.table.selectionModel().selectedRows() == []
    changed = np.any(cleared.result.overlay != cleared.result.frame.image, axis=2)
    assert not changed[outside].any()

    other = (row + 1) % len(dets)
    next_update(qtbot, window, lambda: window.table.selectRow(other))
    assert window.explain.selected == first.selection_keys[other]
    assert view.selected == first.selection_keys[other]


def test_records_a_few_seconds_of_the_synthetic_scene(qtbot, window, tmp_path):
    window.open_source("synthetic")
    wait_frames(qtbot, window, 3)
    assert window.source_info.frame_count is None  # live: no seeking
    assert not window.transport.slider.isEnabled()

    recorded_pts: list[float] = []  # the frames shown while recording are the ones written

    def shown(_: int) -> None:
        if window.recording is not None:
            recorded_pts.append(window.last_update.result.frame.pts_ms)

    window.frame_shown.connect(shown)
    qtbot.keyClick(window, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: window.recording is not None, timeout=WAIT_MS)
    path = window.recording
    assert path.parent == tmp_path / "recordings"
    assert window.record_label.text().startswith("● REC")
    button = window.transport.record_button
    assert button.isChecked() and button.text() == "■ Stop rec"

    def red_at_edge() -> bool:  # the button's own colour, beside its text
        image = button.grab().toImage()
        colour = image.pixelColor(4, image.height() // 2)
        return colour.red() > 150 and colour.green() < 90

    assert red_at_edge()  # plain to see while it records
    qtbot.wait(2500)
    qtbot.keyClick(window, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: window.recording is None, timeout=WAIT_MS)
    assert not button.isChecked() and button.text() == "● Rec" and not red_at_edge()

    info = video_info(path)
    assert info["codec"] == "h264" and info["size"] == (640, 360) and info["fps"] == 25.0
    # the feed's real timing, however slowly inference ran: frames dropped by the live
    # source are filled by holding the previous frame
    assert len(recorded_pts) >= 3
    span_frames = round((recorded_pts[-1] - recorded_pts[0]) * 25 / 1000) + 1
    assert info["frames"] == span_frames >= len(recorded_pts)
    sidecar = json.loads(path.with_name(path.name + ".json").read_text())
    assert sidecar["finished"] and sidecar["frames_written"] == info["frames"]
    assert sidecar["source"] == "synthetic" and (sidecar["width"], sidecar["height"]) == (640, 360)

    # a change reaches the running live pipeline: a frame or two may already be in flight
    def drawn_merged() -> bool:
        update = window.last_update
        return np.array_equal(update.result.overlay, drawn_with(update, merged=True))

    assert not drawn_merged()
    window.controls.map_box.setCurrentIndex(window.controls.map_box.findData(True))
    qtbot.waitUntil(drawn_merged, timeout=WAIT_MS)
    assert any("recorded" in m for m in window.notices.messages("info"))


def test_export_in_the_background_with_progress_and_cancel(qtbot, window, clip, tmp_path):
    open_paused(qtbot, window, clip)
    qtbot.keyClick(window, Qt.Key.Key_E)
    dialog = window.export_dialog
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    output = tmp_path / "short.mp4"
    dialog.path_edit.setText(str(output))
    dialog.end_box.setValue(0.4)  # 10 frames at 25 fps
    progress: list[tuple[int, int]] = []
    dialog.progress.connect(lambda done, total: progress.append((done, total)))
    with qtbot.waitSignal(dialog.finished_export, timeout=120_000) as done:
        dialog.start()
        assert dialog.running and dialog.cancel_button.isEnabled()
        # the window stays usable meanwhile
        next_update(qtbot, window, lambda: window.step(1))
    assert done.args[0] is True, done.args[1]
    assert video_info(output)["frames"] == 10
    assert progress[-1] == (10, 10) and dialog.progress_bar.value() == 10

    whole = tmp_path / "whole.mp4"
    dialog.path_edit.setText(str(whole))
    dialog.end_box.setValue(0.0)  # to the end
    with qtbot.waitSignal(dialog.finished_export, timeout=120_000) as done:
        dialog.start()
        qtbot.waitUntil(lambda: dialog.job.frames_written >= 3, timeout=120_000)
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    ok, message = done.args
    assert not ok and "cancelled" in message
    assert 3 <= dialog.job.frames_written < CLIP_FRAMES
    # Cancel keeps the playable partial video, as Ctrl-C does in `live-explain export`.
    [partial] = tmp_path.glob("whole.partial-*.mp4")
    assert not whole.exists() and str(partial) in message
    assert video_info(partial)["frames"] == dialog.job.frames_written
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()
    dialog.close()


def test_the_event_loop_stays_responsive_while_a_source_plays(qtbot, window, clip):
    window.open_source(str(clip))
    wait_frames(qtbot, window, 2)
    frames_before = window.frames_shown
    delays: list[int] = []
    clock = QElapsedTimer()
    timer = QTimer(window, singleShot=True, interval=10)
    timer.setTimerType(Qt.TimerType.PreciseTimer)

    def fired() -> None:  # a 10 ms timer, restarted each time it fires
        delays.append(clock.elapsed())
        clock.start()
        timer.start()

    timer.timeout.connect(fired)
    clock.start()
    timer.start()
    # measure while at least 5 frames are explained and painted, however slow the machine
    qtbot.waitUntil(
        lambda: window.frames_shown - frames_before >= 5 and len(delays) >= 50, timeout=120_000
    )
    timer.timeout.disconnect(fired)
    timer.stop()
    assert window.playing
    assert max(delays) < 100, f"a 10 ms timer fired after {max(delays)} ms"


def test_layer_inspector_follows_the_target_layer(qtbot, window, clip):
    open_paused(qtbot, window, clip)
    qtbot.waitUntil(lambda: window.inspector.pictures is not None, timeout=WAIT_MS)
    pictures = window.inspector.pictures
    assert pictures.layer == "backbone" and pictures.frame_index == 0
    assert pictures.feature_maps.std() > 5 and pictures.filters.std() > 5

    item = window.controls.layer_tree.findItems(
        "body", Qt.MatchFlag.MatchRecursive | Qt.MatchFlag.MatchExactly
    )[0]
    assert item.data(0, Qt.ItemDataRole.UserRole) == "backbone.body"
    update = next_update(qtbot, window, lambda: window.controls._layer_chosen(item))
    assert window.explain.layer == "backbone.body"
    assert update.detections.heatmaps is not None
    qtbot.waitUntil(lambda: window.inspector.pictures.layer == "backbone.body", timeout=WAIT_MS)


def test_a_bad_weights_file_is_a_notice_and_the_old_model_stays(qtbot, window, clip, tmp_path):
    open_paused(qtbot, window, clip)
    missing = str(tmp_path / "missing.pt")
    window.controls.weights_box.setCurrentText(missing)
    window.controls._weights_entered()
    qtbot.waitUntil(
        lambda: any("weights file not found" in m for m in window.notices.messages("error")),
        timeout=WAIT_MS,
    )
    qtbot.waitUntil(lambda: window.explain.weights == "none", timeout=WAIT_MS)
    assert window.controls.weights_box.currentText() == "none"
    assert next_update(qtbot, window, lambda: window.step(1)).position == 1  # still working


def test_a_missing_camera_is_a_notice_not_a_frozen_window(qtbot, window):
    with qtbot.waitSignal(
        window.source_state, timeout=WAIT_MS, check_params_cb=lambda s: s == "failed"
    ):
        window.open_source("7")
    assert any("camera 7" in m for m in window.notices.messages("error"))
    assert "failed" in window.source_label.text()
    clock = QElapsedTimer()
    clock.start()
    qtbot.wait(50)
    assert clock.elapsed() < 1000


def test_settings_and_recent_sources_persist(qtbot, tmp_path, demo_model, clip):
    settings_file = tmp_path / "settings.ini"
    win = MainWindow(AppSettings(settings_file), TEST_SETTINGS, demo_model, tmp_path / "rec")
    qtbot.addWidget(win)
    win.controls.set_opacity(0.7)
    win.controls.colormap_box.setCurrentText("inferno")
    win.open_source(str(clip), playing=False)
    win.close()

    again = AppSettings(settings_file)
    remembered = again.explain()
    assert remembered.alpha == pytest.approx(0.7) and remembered.colormap == "inferno"
    assert remembered.model == "demo" and remembered.weights == "none"
    assert remembered.score_thresh == 0.0 and remembered.topk == 5
    assert again.recent_sources()[0] == str(clip)
    win2 = MainWindow(again, loaded=demo_model, recordings_dir=tmp_path / "rec")
    qtbot.addWidget(win2)
    assert win2.controls.opacity_slider.value() == 70
    assert win2.controls.colormap_box.currentText() == "inferno"


def test_screenshot_key_saves_the_view(qtbot, window, clip, tmp_path):
    open_paused(qtbot, window, clip)
    qtbot.keyClick(window, Qt.Key.Key_S)
    shots = list((tmp_path / "recordings").glob("screenshot-*.png"))
    assert len(shots) == 1
    image = cv2.imread(str(shots[0]))
    ratio = window.view.devicePixelRatioF()
    assert image.shape[:2] == (
        round(window.view.height() * ratio),
        round(window.view.width() * ratio),
    )
    assert image.std() > 10


def test_event_strip_marks_events_and_a_click_jumps_to_the_frame(qtbot, window, clip):
    window.open_source(str(clip))
    wait_frames(qtbot, window, 8)
    qtbot.keyClick(window, Qt.Key.Key_Space)  # pause
    qtbot.waitUntil(lambda: not window.playing, timeout=WAIT_MS)
    strip = window.event_strip
    assert strip.isVisible() and strip.frame_count == CLIP_FRAMES
    # random weights: maps rest on context, so attention_outside_box is raised
    assert any("attention_outside_box" in kinds for kinds in strip.events.values())
    update = next_update(qtbot, window, lambda: window.seek(150))
    assert update.position == 150
    target = min(strip.events)
    x = round(strip.x_of(target))
    update = next_update(
        qtbot, window, lambda: qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    )
    assert update.position == target


def test_watch_refresh_options_reach_the_apps_pipeline(demo_model):
    """``watch --smooth-alpha/--explain-budget`` set the app's map refresh policy; a bad one
    is a clear error before any window opens."""
    from live_explain.cli.main import build_parser
    from live_explain.errors import UserError
    from live_explain.ui.app import overrides_from_args
    from live_explain.ui.loaded_model import make_pipeline

    parser = build_parser()
    args = parser.parse_args(["watch", "synthetic", "--smooth-alpha", "0.3"])
    settings = TEST_SETTINGS.replace(**overrides_from_args(args))
    args = parser.parse_args(["watch", "synthetic", "--explain-budget", "2"])
    budget = TEST_SETTINGS.replace(**overrides_from_args(args))
    policies = [make_pipeline(None, demo_model, s).cache.policy for s in (settings, budget)]
    assert policies[0].smooth_alpha == 0.3 and policies[0].max_refreshes is None
    assert policies[1].max_refreshes == 2 and policies[1].smooth_alpha == 0.6
    for bad in (["--smooth-alpha", "0"], ["--explain-budget", "two"]):
        with pytest.raises(UserError):
            overrides_from_args(parser.parse_args(["watch", "synthetic", *bad]))


def test_keys_go_to_the_focused_widget_first(qtbot, window, clip):
    """Up in the Score box changes the score, not the speed; Right and Down in the layer
    tree and the Detections table move there, not the video; away from them the keys still
    step and change speed."""
    open_paused(qtbot, window, clip)
    position = window.last_update.position
    score = window.controls.score_box
    score.setFocus()
    qtbot.waitUntil(score.hasFocus)
    before = score.value()
    qtbot.keyClick(score, Qt.Key.Key_Up)
    assert score.value() == pytest.approx(before + 0.05) and window.transport.speed == 1.0
    tree = window.controls.layer_tree
    tree.setFocus()
    qtbot.waitUntil(tree.hasFocus)
    tree.setCurrentItem(tree.topLevelItem(0))
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_Up):
        qtbot.keyClick(tree, key)
    table = window.table
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    qtbot.keyClick(table, Qt.Key.Key_Down)
    qtbot.keyClick(table, Qt.Key.Key_Right)
    qtbot.wait(300)  # a step would have brought a frame by now
    assert window.last_update.position == position and window.transport.speed == 1.0
    table.clearFocus()  # away from them: the window's shortcuts again
    qtbot.keyClick(window, Qt.Key.Key_Right)  # (a redraw for the new score may come first)
    qtbot.waitUntil(lambda: window.last_update.position == position + 1, timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Up)
    assert window.transport.speed == 2.0


@pytest.mark.parametrize("size", [(1024, 640), (1440, 900), (1920, 1080)])
def test_seek_slider_spans_the_video_and_the_event_strip_lines_up(qtbot, window, clip, size):
    window.resize(*size)
    open_paused(qtbot, window, clip)
    qtbot.wait(100)  # the layout settles
    slider, strip, view = window.transport.slider, window.event_strip, window.view
    assert slider.width() >= 0.95 * view.width() - 12, (slider.width(), view.width())
    left = slider.mapTo(window, slider.rect().topLeft()).x()
    strip_left = strip.mapTo(window, strip.rect().topLeft()).x()
    assert abs(left - strip_left) <= 2 and abs(slider.width() - strip.width()) <= 2
    assert (
        strip.mapTo(window, strip.rect().topLeft()).y()
        >= slider.mapTo(window, slider.rect().bottomLeft()).y()
    )  # right under it


def test_notices_float_over_the_video_once_each_and_go_with_their_source(qtbot, window, clip):
    open_paused(qtbot, window, clip)
    qtbot.wait(100)
    notices, view = window.notices, window.view
    geometry = view.geometry()
    notices.notify("error", "camera 7: not found")
    notices.notify("warning", "source lost; reconnecting …")
    notices.notify("error", "camera 7: not found")  # again: not a second row
    assert notices.shown() == [
        ("error", "camera 7: not found"),
        ("warning", "source lost; reconnecting …"),
    ]
    qtbot.wait(50)
    assert view.geometry() == geometry  # the video did not move
    assert notices.isVisible() and notices.geometry().top() == 0
    assert notices.geometry().width() == window.centralWidget().width()
    open_paused(qtbot, window, clip)  # reopened: what was said about the last source goes
    assert not [m for m in notices.shown() if m[0] != "info"]


def test_the_hud_names_the_demo_detector_when_it_stands_in(qtbot, window, clip):
    """Model fasterrcnn_mobilenet_v3_large_320_fpn with Weights "demo" runs the demo
    detector: the HUD and a notice say so, and library messages name widgets, not flags."""
    import logging

    from live_explain.ui.notices import LogBridge

    open_paused(qtbot, window, clip)
    other = "fasterrcnn_mobilenet_v3_large_320_fpn"
    with qtbot.waitSignal(window.frame_shown, timeout=WAIT_MS):
        window.change_settings({"model": other, "weights": "demo"})
    qtbot.waitUntil(lambda: window.loaded is not None and window.loaded.name == other)
    assert window.loaded.ran == "demo"
    hud = " ".join(window.view.hud.lines())
    assert f"demo (in place of {other})" in hud
    assert any("runs in place of" in m for m in window.notices.messages("info"))
    bridge = LogBridge(logging.getLogger("live_explain"))
    bridge.message.connect(window.notices.notify)
    try:
        logging.getLogger("live_explain").warning(
            "for real weights run once with --weights coco where the internet is reachable, "
            "or pass --weights PATH"
        )
        qtbot.waitUntil(lambda: bool(window.notices.messages("warning")), timeout=WAIT_MS)
    finally:
        bridge.close()
    said = window.notices.messages("warning")[-1]
    assert "--" not in said and 'Weights "coco"' in said and "weights file" in said


def test_the_hud_says_paused_instead_of_a_stale_frame_rate(qtbot, window, clip):
    open_paused(qtbot, window, clip)
    assert window.view.hud.lines()[0].startswith("PAUSED")
    assert "fps" not in window.view.hud.lines()[0]
    next_update(qtbot, window, window.toggle_play)
    wait_frames(qtbot, window, 3)
    assert "fps" in window.view.hud.lines()[0] and "PAUSED" not in window.view.hud.lines()[0]
    window.toggle_play()
    qtbot.waitUntil(lambda: window.view.hud.lines()[0].startswith("PAUSED"), timeout=WAIT_MS)


def test_help_menu_has_the_shortcut_sheet_and_a_page_on_each_method(qtbot, window):
    from live_explain.explain.methods import REGISTRY
    from live_explain.ui.help_pages import METHOD_PAGES

    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    assert "Help" in menus
    qtbot.keyClick(window, Qt.Key.Key_F1)
    sheet = window.help_dialog
    assert sheet is not None and sheet.isVisible() and not sheet.isModal()
    from PyQt6.QtWidgets import QTextBrowser

    text = sheet.findChild(QTextBrowser, "shortcuts-text").toPlainText()
    for keys, what in (("Space", "Play / pause"), ("Left", "Step back"), ("R", "Record")):
        assert keys in text and what in text
    window.show_methods()
    page = window.help_dialog.findChild(QTextBrowser, "methods-text").toPlainText()
    assert set(REGISTRY) <= set(METHOD_PAGES)  # every method the app offers has a page
    for title, _ in METHOD_PAGES.values():
        assert title in page
    assert "attention in box" in page and not sheet.isVisible()  # one help window at a time


def test_empty_state_opens_the_sample_drive_and_files_can_be_dropped(qtbot, window, clip):
    from PyQt6.QtCore import QMimeData, QPointF, QUrl
    from PyQt6.QtGui import QDragEnterEvent, QDropEvent
    from PyQt6.QtWidgets import QApplication

    empty = window.empty_state
    assert empty.isVisible() and empty.sample_button.isEnabled()
    with qtbot.waitSignal(window.frame_shown, timeout=WAIT_MS):
        qtbot.mouseClick(empty.sample_button, Qt.MouseButton.LeftButton)
    assert window.spec.endswith("recordings/sample_drive.mp4") and not empty.isVisible()

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(clip))])
    actions = Qt.DropAction.CopyAction
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(window.rect().center(), actions, mime, buttons, modifiers)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(window.rect().center()), actions, mime, buttons, modifiers)
    with qtbot.waitSignal(window.frame_shown, timeout=WAIT_MS):
        QApplication.sendEvent(window, drop)
    assert window.spec == str(clip)
    text = QMimeData()
    text.setText("not a file")
    ignored = QDragEnterEvent(window.rect().center(), actions, text, buttons, modifiers)
    QApplication.sendEvent(window, ignored)
    assert not ignored.isAccepted()
