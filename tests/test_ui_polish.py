"""The app for people who watch drives: ids that stay put, labels that stay readable.

Real engine, the bundled demo detector (trained weights) on the bundled sample drive, whose
frame 50 is crowded (twelve road users, most of them small, in the middle of the road)."""

from __future__ import annotations

import numpy as np
import pytest

from live_explain.ui.qt_env import prepare_qt_environment

prepare_qt_environment()  # before pytest-qt makes the QApplication

from PyQt6.QtCore import QPoint, QRectF, Qt  # noqa: E402

from live_explain.render.label_layout import overlap  # noqa: E402
from live_explain.synthetic.sample_drive import find_sample_drive  # noqa: E402
from live_explain.ui.loaded_model import load_detector_model  # noqa: E402
from live_explain.ui.main_window import MainWindow  # noqa: E402
from live_explain.ui.settings import APP_DEFAULTS, AppSettings  # noqa: E402

SETTINGS = APP_DEFAULTS.replace(model="demo", weights="demo", score_thresh=0.3)
WAIT_MS = 30_000
CROWDED = 49  # frame index (50 in the transport) with the most objects of the sample drive


@pytest.fixture(scope="module")
def trained_demo():
    return load_detector_model("demo", "demo")


@pytest.fixture(scope="module")
def sample_drive():
    path = find_sample_drive()
    assert path is not None, "recordings/sample_drive.mp4 is part of the checkout"
    return path


@pytest.fixture
def window(qtbot, tmp_path, trained_demo):
    win = MainWindow(AppSettings(tmp_path / "s.ini"), SETTINGS, trained_demo, tmp_path / "rec")
    qtbot.addWidget(win)
    win.resize(1440, 900)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close()


def shown(qtbot, win, action):
    with qtbot.waitSignal(win.frame_shown, timeout=WAIT_MS):
        action()
    return win.last_update


def ids_by_box(update) -> dict[tuple, int]:
    """Each detection's id, keyed by its box rounded to whole pixels."""
    boxes = np.round(update.detections.boxes).astype(int)
    return {tuple(b): int(k) for b, k in zip(boxes, update.selection_keys, strict=True)}


def same_objects_same_ids(before, after, iou_at_least: float = 0.9) -> int:
    """How many boxes of ``before`` came back (IoU > 0.9) in ``after``, each asserted to carry
    the same id; the count, so a caller can check that the case is not empty."""
    from live_explain.monitor.metrics import box_iou

    iou = box_iou(before.detections.boxes, after.detections.boxes)
    matched = 0
    for row in range(len(before.detections)):
        col = int(np.argmax(iou[row]))
        if iou[row, col] > iou_at_least:
            assert before.selection_keys[row] == after.selection_keys[col], (row, col)
            matched += 1
    return matched


def test_ids_stay_put_across_left_right_seek_and_a_method_change(qtbot, window, sample_drive):
    first = shown(qtbot, window, lambda: window.open_source(str(sample_drive), playing=False))
    seen = {first.position: first}
    for _ in range(6):
        update = shown(qtbot, window, lambda: qtbot.keyClick(window, Qt.Key.Key_Right))
        seen[update.position] = update
    assert sorted(seen) == list(range(7))
    assert len(seen[6].detections) >= 3 and len(set(seen[6].selection_keys)) >= 3  # not empty

    back = shown(qtbot, window, lambda: qtbot.keyClick(window, Qt.Key.Key_Left))
    assert back.position == 5
    assert same_objects_same_ids(seen[5], back) >= 3
    again = shown(qtbot, window, lambda: qtbot.keyClick(window, Qt.Key.Key_Right))
    assert same_objects_same_ids(seen[6], again) >= 3

    sought = shown(qtbot, window, lambda: window.seek(2))
    assert sought.position == 2 and same_objects_same_ids(seen[2], sought) >= 3

    eigen = shown(qtbot, window, lambda: window.controls.set_method("eigencam"))
    assert eigen.position == 2
    assert not np.allclose(eigen.detections.heatmaps, sought.detections.heatmaps, atol=1e-3)
    assert same_objects_same_ids(sought, eigen) >= 3  # the method changed, the ids did not

    # a seek to a frame not seen yet, then one step back (to another frame not seen): the
    # objects of the frame just shown keep their ids
    far = shown(qtbot, window, lambda: window.seek(CROWDED))
    assert far.position == CROWDED
    before = shown(qtbot, window, lambda: qtbot.keyClick(window, Qt.Key.Key_Left))
    assert before.position == CROWDED - 1
    assert same_objects_same_ids(far, before, iou_at_least=0.6) >= 5
    eigen = shown(qtbot, window, lambda: window.seek(2))

    # a selected track stays selected through all of it
    key = eigen.selection_keys[0]
    window.select_detection(key)
    stepped = shown(qtbot, window, lambda: qtbot.keyClick(window, Qt.Key.Key_Right))
    assert key in stepped.selection_keys and window.view.selected == key
    assert window.view.hud.note == ""
    window.select_detection(99_999)  # a track not on this frame: the HUD says so
    window._show_hud()
    assert window.view.hud.note.startswith("selected #99999: not on this frame")


def test_labels_do_not_overlap_in_a_crowded_frame(qtbot, window, sample_drive):
    for size in ((1024, 640), (1440, 900), (1920, 1080)):
        window.resize(*size)
        update = shown(qtbot, window, lambda: window.open_source(str(sample_drive), False))
        update = shown(qtbot, window, lambda: window.seek(CROWDED))
        assert update.position == CROWDED
        dets = update.detections
        assert len(dets) >= 8, f"the crowded frame shows {len(dets)} detections"  # crowded
        qtbot.wait(50)
        window.view.repaint()
        spots = window.view.label_spots
        assert len(spots) == len(dets)
        assert sum(s.shown for s in spots) >= 0.8 * len(spots)  # hardly any label left out
        rects = [s.rect for s in spots if s.shown]
        for i, a in enumerate(rects):
            for b in rects[i + 1 :]:
                assert overlap(a, b) == 0.0, (size, a, b)
        area = window.view.image_rect()
        hud, legend = window.view.hud_rect(), window.view.legend_rect
        assert not legend.isEmpty()
        for rect in rects:  # clear of the HUD and the legend drawn over the picture
            assert overlap(rect, hud.getCoords()) == 0 and overlap(rect, legend.getCoords()) == 0
        for x0, y0, x1, y1 in rects:  # inside the picture, at screen resolution
            assert area.left() - 0.5 <= x0 and x1 <= area.right() + 1.5
            assert area.top() - 0.5 <= y0 and y1 <= area.bottom() + 1.5
            assert y1 - y0 >= 12  # readable: not the 6 px of text burned into a 640 px frame
        small = [
            window.view.to_widget(box)
            for box in dets.boxes
            if (box[2] - box[0]) * (box[3] - box[1]) < 400
        ]
        assert small  # the crowded frame has small objects
        for box in small:
            for x0, y0, x1, y1 in rects:
                assert overlap((x0, y0, x1, y1), box.getCoords()) == 0.0


def test_a_colormap_legend_shows_with_maps_and_goes_without(qtbot, window, sample_drive):
    update = shown(qtbot, window, lambda: window.open_source(str(sample_drive), False))
    assert update.detections.heatmaps is not None and len(update.detections)
    window.view.repaint()
    legend = window.view.legend_rect
    assert not legend.isEmpty() and window.view.image_rect().contains(legend)
    assert window.view.legend == ("turbo", "Grad-CAM: each box its own map")
    picture = window.view.grab().toImage()
    inside = picture.pixelColor(int(legend.center().x()), int(legend.center().y()))
    assert inside.getRgb()[:3] != (0, 0, 0)  # the gradient is painted there
    shown(qtbot, window, lambda: window.controls.set_method("none"))
    window.view.repaint()
    assert window.view.legend_rect.isEmpty()


def test_the_hud_counts_fresh_and_reused_maps_and_labels_mark_reused_ones(
    qtbot, window, sample_drive
):
    from live_explain.ui.box_labels import label_texts

    window.open_source(str(sample_drive), playing=True)
    qtbot.waitUntil(lambda: window.frames_shown >= 12, timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not window.playing, timeout=WAIT_MS)
    seen = []
    for _ in range(4):  # steps forward: the adaptive policy reuses some maps by weights
        update = shown(qtbot, window, lambda: qtbot.keyClick(window, Qt.Key.Key_Right))
        seen.append(update)
    reused = [u for u in seen if not u.detections.refreshed.all()]
    assert reused, "no step reused a map: the case is degenerate"
    last = window.last_update
    fresh = int(last.detections.refreshed.sum())
    assert window.view.hud.maps == (
        f"maps: {fresh} fresh, {len(last.detections) - fresh} reused (↺)"
    )
    update = reused[-1]
    texts = label_texts(update)
    marks = [t.endswith("↺") for t in texts]
    assert marks == [not r for r in update.detections.refreshed.tolist()]


def test_the_inspector_shows_the_paused_frame_counted_as_the_transport_counts(
    qtbot, window, sample_drive
):
    shown(qtbot, window, lambda: window.open_source(str(sample_drive), False))
    for _ in range(3):  # quick steps: faster than the inspector looks
        shown(qtbot, window, lambda: qtbot.keyClick(window, Qt.Key.Key_Right))
    position = window.last_update.position
    inspector = window.inspector
    qtbot.waitUntil(
        lambda: inspector.pictures is not None and inspector.pictures.frame_index == position,
        timeout=WAIT_MS,
    )
    assert f"on frame {position + 1}" in inspector.caption.text()
    assert f"frame {position + 1}/" in window.transport.time_label.text()


def test_the_hover_outline_follows_the_boxes_under_a_still_mouse(qtbot, window, sample_drive):
    from PyQt6.QtCore import QPointF

    update = shown(qtbot, window, lambda: window.open_source(str(sample_drive), False))
    view = window.view
    box = view.to_widget(update.detections.boxes[0])
    qtbot.mouseMove(view, box.center().toPoint())
    qtbot.waitUntil(lambda: view.hovered is not None, timeout=WAIT_MS)
    view.mouse = QPointF(2, 2)  # the mouse is now over empty space; a new frame comes
    shown(qtbot, window, lambda: qtbot.keyClick(window, Qt.Key.Key_Right))
    assert view.hovered is None
    qtbot.mouseMove(view, QPoint(1, 1))
    view.leaveEvent(None)
    assert view.hovered is None and view.mouse is None


def test_track_history_plots_the_selected_track_and_a_click_seeks_there(
    qtbot, window, sample_drive
):
    first = shown(qtbot, window, lambda: window.open_source(str(sample_drive), False))
    for _ in range(8):
        shown(qtbot, window, lambda: qtbot.keyClick(window, Qt.Key.Key_Right))
    key = window.last_update.selection_keys[0]
    window.select_detection(key)
    qtbot.keyClick(window, Qt.Key.Key_H)  # the Track history dock comes to the front
    qtbot.waitUntil(window.history.isVisible, timeout=WAIT_MS)
    points = window.history.plot.points
    assert len(points) >= 5 and all(p.frame >= first.position for p in points)
    scores = [p.score for p in points]
    attention = [p.attention for p in points]
    assert len(set(scores)) > 1 and None not in attention  # a real line: not flat, not empty
    assert f"#{key}</b>" in window.history.caption.text()
    assert window.history.plot.position == window.last_update.position
    target = points[2].frame
    x = window.history.plot.x_of(target)
    y = window.history.plot.plot_rect().center().y()
    plot = window.history.plot
    qtbot.mouseClick(plot, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(y)))
    qtbot.waitUntil(lambda: window.last_update.position == target, timeout=WAIT_MS)


def test_compare_view_shows_two_methods_maps_of_one_detection(qtbot, window, sample_drive):
    shown(qtbot, window, lambda: window.open_source(str(sample_drive), False))
    window.seek(CROWDED)
    qtbot.waitUntil(lambda: window.last_update.position == CROWDED, timeout=WAIT_MS)
    update = window.last_update
    # the truck that Grad-CAM explains by its context: the two methods disagree most there
    key = update.selection_keys[int(np.argmax([(b[2] - b[0]) for b in update.detections.boxes]))]
    window.select_detection(key)
    qtbot.keyClick(window, Qt.Key.Key_C)
    compare = window.compare
    qtbot.waitUntil(compare.isVisible, timeout=WAIT_MS)
    assert [m.currentData() for m in compare.methods] == ["gradcam", "hirescam"]
    qtbot.waitUntil(lambda: compare.frame == CROWDED and len(compare.sides) == 2, timeout=WAIT_MS)
    grad, hires = compare.sides
    assert grad.picture is not None and hires.picture is not None
    assert grad.title.startswith("Grad-CAM") and hires.title.startswith("HiResCAM")
    row = update.selection_keys.index(key)
    assert grad.score == pytest.approx(float(update.detections.scores[row]), abs=1e-4)
    assert grad.score == pytest.approx(hires.score, abs=1e-4)  # one detection, two maps
    assert not np.array_equal(grad.picture, hires.picture)
    assert grad.attention != pytest.approx(hires.attention, abs=0.02)
    # the Grad-CAM side is the map the main view shows for that detection
    assert grad.attention == pytest.approx(update.attention[row], abs=0.02)
    assert "attention in box" in compare.captions[0].text()
    compare.methods[1].setCurrentIndex(compare.methods[1].findData("eigencam"))
    qtbot.waitUntil(lambda: compare.sides[1].title.startswith("EigenCAM"), timeout=WAIT_MS)
    # a colormap changed while paused: both sides are drawn again with it
    before = compare.sides[0].picture
    window.controls.colormap_box.setCurrentIndex(window.controls.colormap_box.findText("jet"))
    qtbot.waitUntil(
        lambda: compare.sides and not np.array_equal(compare.sides[0].picture, before),
        timeout=WAIT_MS,
    )
    # another model on one side: loaded with weights auto (offline: the demo detector stands
    # in for it, and the side's title says so)
    other = "fasterrcnn_mobilenet_v3_large_320_fpn"
    compare.models[1].setCurrentIndex(compare.models[1].findData(other))
    qtbot.waitUntil(lambda: other in compare.sides[1].title, timeout=WAIT_MS)


def test_a_note_says_when_the_demo_detector_runs_on_real_footage(qtbot, window, sample_drive):
    from conftest import CLIP

    shown(qtbot, window, lambda: window.open_source(str(sample_drive), False))
    assert not [m for m in window.notices.shown() if "real footage" in m[1]]  # synthetic
    shown(qtbot, window, lambda: window.open_source(str(CLIP), False))
    notes = [m for m in window.notices.shown() if "real footage" in m[1]]
    assert len(notes) == 1 and notes[0][0] == "info"


def test_zoom_with_the_wheel_pan_with_a_drag_and_fit_with_a_double_click(
    qtbot, window, sample_drive
):
    from PyQt6.QtCore import QPointF

    update = shown(qtbot, window, lambda: window.open_source(str(sample_drive), False))
    view = window.view
    fitted = view.image_rect()
    box = update.detections.boxes[0]
    centre = view.to_widget(box).center()
    view.zoom_at(centre, 1.25**4)  # what four wheel notches over the box do
    zoomed = view.image_rect()
    assert zoomed.width() == pytest.approx(fitted.width() * 1.25**4)
    after = view.to_widget(box).center()
    assert abs(after.x() - centre.x()) < 1 and abs(after.y() - centre.y()) < 1  # stays put
    assert view.detection_at(after) == 0  # hover and clicks follow the zoom
    view.repaint()
    assert view.visible_rect().contains(QRectF(*view.hud_rect().getRect()))
    start = after.toPoint()
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    qtbot.mouseMove(view, start + QPoint(60, 30))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=start + QPoint(60, 30))
    moved = view.image_rect()
    assert moved.x() - zoomed.x() == pytest.approx(60, abs=2)
    assert window.view.selected is None  # a drag is not a click: nothing was selected
    seen = view.visible_rect()
    for spot, box in zip(view.label_spots, update.detections.boxes, strict=True):
        if not view.to_widget(box).intersects(seen):  # off screen: no label pinned at the edge
            assert not spot.shown
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert view.image_rect() == fitted and view.zoom == 1.0
    wheel_at = view.to_widget(box).center()
    from PyQt6.QtCore import QPoint as P
    from PyQt6.QtGui import QWheelEvent

    event = QWheelEvent(
        QPointF(wheel_at),
        QPointF(view.mapToGlobal(wheel_at.toPoint())),
        P(0, 0),
        P(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    view.wheelEvent(event)
    assert view.zoom == pytest.approx(1.25)


def test_export_between_in_and_out_marks_with_rate_and_time_left(
    qtbot, window, sample_drive, tmp_path
):
    import av

    shown(qtbot, window, lambda: window.open_source(str(sample_drive), False))
    for frame, key in ((10, Qt.Key.Key_I), (29, Qt.Key.Key_O)):
        window.seek(frame)
        qtbot.waitUntil(lambda f=frame: window.last_update.position == f, timeout=WAIT_MS)
        qtbot.keyClick(window, key)
    assert window.marks == (10, 29) and window.event_strip.marks == (10, 29)
    qtbot.keyClick(window, Qt.Key.Key_E)
    dialog = window.export_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.start_box.value() == pytest.approx(9.5 / 25, abs=1e-3)
    assert dialog.end_box.value() == pytest.approx(29.5 / 25, abs=1e-3)
    formats: list[str] = []
    dialog.progress.connect(lambda *_: formats.append(dialog.progress_bar.format()))
    out = tmp_path / "marked.mp4"
    dialog.path_edit.setText(str(out))
    with qtbot.waitSignal(dialog.finished_export, timeout=120_000) as finished:
        dialog.start()
    assert finished.args[0], finished.args[1]
    with av.open(str(out)) as video:
        frames = sum(1 for _ in video.decode(video=0))
    assert frames == 20  # frames 11..30 as the transport counts them, the marks included
    assert any("frames/s" in f and "left" in f for f in formats), formats[-3:]
    dialog.from_here_button.click()  # the current frame (30) to the end
    assert dialog.start_box.value() == pytest.approx(28.5 / 25, abs=1e-3)
    assert dialog.end_box.value() == 0.0  # "end"


def test_inspector_grids_fit_their_panes_with_captions_at_screen_size(qtbot, window, sample_drive):
    from live_explain.ui.tile_grid import best_columns

    assert best_columns(16, 400, 100) > best_columns(16, 100, 400)  # wide panes: more columns
    window.resize(1920, 1080)
    shown(qtbot, window, lambda: window.open_source(str(sample_drive), False))
    inspector = window.inspector
    qtbot.waitUntil(lambda: inspector.pictures is not None, timeout=WAIT_MS)
    pane = inspector.feature_pane
    grid, _ = inspector.pictures.columns
    assert grid == best_columns(16, pane.width(), pane.height())
    fill = pane.image_rect()
    square_tile = min(pane.width(), pane.height()) / 4  # a 4 x 4 grid, as before
    assert fill.width() / grid > 0.95 * square_tile  # the tiles are no smaller than square
    assert len(pane.captions) == 16 and pane.captions[0].startswith("ch ")
    # one caption per kernel the model has (the demo detector's first convolution has 16)
    from live_explain.explain.features import first_conv

    kernels = first_conv(window.loaded.template).out_channels
    assert kernels < 32 and len(inspector.filter_pane.captions) == kernels


def test_a_second_click_picks_the_box_around_the_one_picked(qtbot, window, sample_drive):
    shown(qtbot, window, lambda: window.open_source(str(sample_drive), False))
    window.seek(CROWDED)
    qtbot.waitUntil(lambda: window.last_update.position == CROWDED, timeout=WAIT_MS)
    update, view = window.last_update, window.view
    boxes = update.detections.boxes
    nested = [
        (inner, outer)
        for inner in range(len(boxes))
        for outer in range(len(boxes))
        if inner != outer
        and boxes[outer][0] <= boxes[inner][0]
        and boxes[outer][1] <= boxes[inner][1]
        and boxes[inner][2] <= boxes[outer][2]
        and boxes[inner][3] <= boxes[outer][3]
    ]
    assert nested, "the crowded frame has a box inside another"
    inner, outer = nested[0]
    point = view.to_widget(boxes[inner]).center().toPoint()
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=point)
    assert view.selected == update.selection_keys[inner]
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=point)
    assert view.selected == update.selection_keys[outer]
    # a double-click as a mouse sends it (click, double-click, release): its first click
    # picks, the double-click fits the frame, the release after it is no second click
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=point)
    assert view.selected == update.selection_keys[inner]
    qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=point)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=point)
    assert view.selected == update.selection_keys[inner] and view.zoom == 1.0


def test_event_strip_table_and_layer_tree_are_readable(qtbot, window, sample_drive):
    window.resize(1920, 1080)
    window.open_source(str(sample_drive), playing=True)
    strip = window.event_strip
    qtbot.waitUntil(lambda: len(strip.events) >= 1, timeout=WAIT_MS)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not window.playing, timeout=WAIT_MS)
    frame = min(strip.events)
    tip = strip.tip_at(strip.x_of(frame))
    assert tip.startswith(f"frame {frame + 1}\n") and ":" in tip.splitlines()[1]  # its meaning
    empty = max(range(strip.frame_count), key=lambda f: min(abs(f - e) for e in strip.events))
    assert "one row per kind" in strip.tip_at(strip.x_of(empty))
    assert strip.height() >= 5 * 6 + 15  # 5 px rows and a legend under them
    table = window.table
    header = table.horizontalHeader()
    for column in range(table.columnCount()):  # no header is clipped
        text = table.horizontalHeaderItem(column).text()
        assert header.sectionSize(column) >= header.fontMetrics().horizontalAdvance(text)
    events = sum(header.sectionSize(c) for c in range(table.columnCount() - 1))
    assert events < table.viewport().width()  # the events column starts inside the table
    tree = window.controls.layer_tree
    big = tree.height()
    window.resize(1440, 900)
    qtbot.wait(200)
    assert big >= 170 and big > tree.height() >= 170  # it grows with the window
