"""The main window: video view with HUD and transport, explanation controls, detections
table, layer inspector, source menus, record, screenshot and export.

The window owns no model and runs no inference: an :class:`EngineWorker` thread plays the
current source and sends :class:`FrameUpdate` snapshots, which the window only paints.

The settings file only ever gets settings the engine has shown a frame with (a change still
on its way keeps its last working value there). When the engine fails mid-play, the window
starts it again with the last working settings; when it cannot, the transport goes off.
"""

from __future__ import annotations

import time
from pathlib import Path

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtGui import QCloseEvent
from PyQt6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QVBoxLayout,
    QWidget,
)

from live_explain.config import Settings
from live_explain.errors import UserError
from live_explain.io.source import SourceState
from live_explain.model.detector import resolve_device
from live_explain.sinks.recorder import RECORDINGS_DIR
from live_explain.ui.box_labels import map_freshness, selection_note
from live_explain.ui.empty_state import EmptyState
from live_explain.ui.engine_worker import EngineWorker
from live_explain.ui.event_strip import EventStrip
from live_explain.ui.export_dialog import ExportDialog
from live_explain.ui.focused_keys import FocusedWidgetKeys
from live_explain.ui.frame_update import FrameUpdate, SourceInfo
from live_explain.ui.heat_legend import legend_title
from live_explain.ui.loaded_model import LoadedModel
from live_explain.ui.notices import NoticeArea
from live_explain.ui.settings import AppSettings
from live_explain.ui.transport import Transport
from live_explain.ui.video_view import Hud, VideoView
from live_explain.ui.window_menus import WindowMenus
from live_explain.ui.window_outputs import WindowOutputs
from live_explain.ui.window_views import WindowViews

DEFAULT_SIZE = (1400, 880)
# The engine is restarted after an error at most this often within RESTART_WINDOW_S; a
# failure that keeps coming back stops it instead.
RESTARTS_AT_MOST = 3
RESTART_WINDOW_S = 60.0


class MainWindow(WindowOutputs, WindowViews, WindowMenus, QMainWindow):
    """``loaded``: an already loaded model (else the first source loads ``settings.model``).

    ``frame_shown(count)`` fires after each painted frame; ``source_state(state)`` when the
    source connects, reconnects, ends or fails.
    """

    frame_shown = pyqtSignal(int)
    source_state = pyqtSignal(str)

    def __init__(
        self,
        app_settings: AppSettings,
        explain: Settings | None = None,
        loaded: LoadedModel | None = None,
        recordings_dir: Path = RECORDINGS_DIR,
    ) -> None:
        super().__init__()
        self.setWindowTitle("live-explain")
        self.app_settings = app_settings
        self.explain = explain or app_settings.explain()
        self.loaded = loaded
        self.recordings_dir = recordings_dir
        self.worker: EngineWorker | None = None
        self.spec: str | None = None  # the source opened last
        self.working: Settings | None = None  # the last settings a frame was shown with
        self._untested: set[str] = set()  # keys changed since, not yet shown with
        self._restarts: list[float] = []  # monotonic times of the engine's recent restarts
        self.source_info: SourceInfo | None = None
        self.export_dialog: ExportDialog | None = None
        self.recording: Path | None = None
        self.frames_shown = 0
        self.playing = False
        self.last_update: FrameUpdate | None = None
        self._retired: list[EngineWorker] = []  # stopped workers still finishing a frame
        self._state = ""

        self.notices = NoticeArea()
        self.view = VideoView()
        self.transport = Transport()
        self.transport.set_speed(app_settings.speed())
        self.transport.loop_box.setChecked(app_settings.loop())
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.view, 1)
        self.notices.float_over(central)  # over the video's top: the video never moves
        self.event_strip = EventStrip()
        column.addWidget(self.transport)
        self.transport.add_under_slider(self.event_strip)  # its marks line up with the slider
        self.setCentralWidget(central)

        self._make_docks(loaded)

        self.source_label = QLabel("no source")
        self.record_label = QLabel()
        self.statusBar().addWidget(self.source_label, 1)
        self.statusBar().addPermanentWidget(self.record_label)

        self._make_actions()
        self._make_helpers()
        self._connect()
        self.resize(*DEFAULT_SIZE)
        geometry, state = app_settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        self._show_hud()

    def _make_helpers(self) -> None:
        """The empty state, drops, and keys that go to the focused widget first."""
        self.empty_state = EmptyState(self.open_source, self._ask_file, self.view)
        self.setAcceptDrops(True)  # a video, an image or a folder dropped on the window
        self._focused_keys = FocusedWidgetKeys(self)
        QApplication.instance().installEventFilter(self._focused_keys)

    def _connect(self) -> None:
        t = self.transport
        t.play_toggled.connect(self.toggle_play)
        t.step_requested.connect(self.step)
        t.seek_requested.connect(self.seek)
        self.event_strip.jump.connect(self.seek)
        t.speed_changed.connect(self._speed_changed)
        t.loop_changed.connect(self._loop_changed)
        t.record_button.clicked.connect(self.toggle_record)
        t.screenshot_button.clicked.connect(lambda: self.save_screenshot())
        t.export_button.clicked.connect(self.open_export)
        self.controls.changed.connect(self.change_settings)
        self.view.detection_clicked.connect(self.select_detection)
        self.table.selection_changed.connect(self.select_detection)

    # -- sources ------------------------------------------------------------------------------
    def open_source(self, spec: str, playing: bool = True) -> None:
        """Stop the current source (without waiting for it) and play ``spec``."""
        self.close_source()
        self.empty_state.hide()
        self.notices.clear_for_new_source()
        self._views_new_source()
        self.view.clear()
        self.table.setRowCount(0)
        self.source_info = None
        self.last_update = None
        self.spec = spec
        self._restarts = []
        self._state = SourceState.CONNECTING.value
        self.source_label.setText(f"{spec}: opening …")
        self.explain = self.explain.replace(selected=None)
        self._start_engine(spec, playing)
        self.app_settings.add_recent_source(spec)

    def _start_engine(self, spec: str, playing: bool, position: int = 0) -> None:
        settings = self.explain.replace(selected=None)
        worker = EngineWorker(
            spec,
            settings,
            self.loaded,
            playing=playing,
            speed=self.transport.speed,
            loop=self.transport.loop_box.isChecked(),
            position=position,
            fallback=settings != self.working,  # not known to work: may fall back
        )
        worker.frame_ready.connect(self._show_frame)
        worker.source_opened.connect(self._source_opened)
        worker.state_changed.connect(self._state_changed)
        worker.playing_changed.connect(self._playing_changed)
        worker.model_ready.connect(self._model_ready)
        worker.model_loading.connect(
            lambda name: self.notices.notify("info", f"loading model {name} …")
        )
        worker.recording_changed.connect(self._recording_changed)
        worker.notice.connect(self.notices.notify)
        worker.settings_rejected.connect(self._settings_rejected)
        worker.settings_working.connect(self._settings_working)
        worker.crashed.connect(self._engine_crashed)
        self.worker = worker
        self._set_engine_active(True)
        worker.start()

    def close_source(self) -> None:
        worker, self.worker = self.worker, None
        if worker is None:
            return
        for signal in (
            worker.frame_ready,
            worker.source_opened,
            worker.state_changed,
            worker.playing_changed,
            worker.model_ready,
            worker.settings_rejected,
            worker.settings_working,
        ):
            signal.disconnect()  # notice and crashed stay: a retired worker's last words
        worker.stop()
        if worker.isFinished():
            return
        self._retired.append(worker)
        worker.finished.connect(lambda: self._retired.remove(worker))

    # -- what the worker reports ------------------------------------------------------------
    def _show_frame(self, update: FrameUpdate) -> None:
        self.last_update = update
        self.view.show_update(update)
        self.table.show_update(update)
        self.transport.show_position(update.position)
        self.event_strip.add(update.position, update.events)
        self._state = update.source_state
        self._show_hud()
        layer = self.explain.layer or (self.loaded.default_layer if self.loaded else "backbone")
        self.inspector.offer(self.loaded, update.result.frame.image, update.position, layer)
        self._views_show(update)
        self.frames_shown += 1
        self.frame_shown.emit(self.frames_shown)

    def _source_opened(self, info: SourceInfo) -> None:
        restarted = info == self.source_info  # the engine again after an error: keep the marks
        self.source_info = info
        if not restarted:
            self.transport.set_replayable(info.frame_count, info.fps)
            self.event_strip.reset(info.frame_count)
        self.setWindowTitle(f"live-explain — {info.description}")
        self._show_source_label()

    def _state_changed(self, state: str) -> None:
        self._state = state
        if state == SourceState.FAILED.value:  # the engine has ended: nothing talks to it
            self.close_source()
            self._playing_changed(False)
            self._set_engine_active(False)
        self._show_source_label()
        self._show_hud()
        if state == SourceState.RECONNECTING.value:
            self.notices.notify("warning", "source lost; reconnecting …")
        self.source_state.emit(state)

    def _settings_rejected(self, settings: Settings) -> None:
        """The engine could not use a change (or a remembered setting): show what is in
        force now."""
        self.explain = settings.replace(selected=self.explain.selected)
        self._untested.clear()
        self.controls.show_settings(self.explain)
        self._save_explain()
        self._show_hud()

    def _settings_working(self, settings: Settings) -> None:
        """A frame was shown with ``settings``: they may be remembered."""
        self.working = settings.replace(selected=None)
        explain = self.explain
        self._untested = {k for k in self._untested if getattr(explain, k) != getattr(settings, k)}
        self._save_explain()

    def _engine_crashed(self, reason: str) -> None:
        """The engine failed mid-play: start it again where it was, with the last working
        settings (unless it keeps failing)."""
        if self.sender() is not self.worker:  # retired already (its source failed, say)
            self.notices.notify("error", reason)
            return
        spec, now = self.spec, time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW_S]
        if spec is None or self.working is None or len(self._restarts) >= RESTARTS_AT_MOST:
            self.notices.notify("error", f"engine stopped: {reason}")
            self._state_changed(SourceState.FAILED.value)
            return
        self._restarts.append(now)
        self.close_source()
        update, position = self.last_update, 0
        if update is not None and update.frame_count is not None:
            position = update.position + (1 if self.playing else 0)  # the frame that failed
        self.explain = self.working
        self._untested.clear()
        self.controls.show_settings(self.explain)
        if self.loaded is not None and (self.loaded.name, self.loaded.weights) != (
            self.working.model,
            self.working.weights,
        ):
            self.loaded = None  # the engine loads the working model itself
        self.notices.notify(
            "warning", f"engine error ({reason}); restarted with the last working settings"
        )
        self._start_engine(spec, self.playing, position)

    def _set_engine_active(self, active: bool) -> None:
        """Playback controls and their shortcuts: on while an engine runs."""
        self.transport.set_active(active)
        for action in (*self._playback_actions(), self.record_action):
            action.setEnabled(active)

    def _savable(self) -> Settings:
        """What the settings file may hold: the settings in force, but for a change not yet
        shown with, its last working value (or what the file has)."""
        if not self._untested:
            return self.explain
        base = self.working or self.app_settings.explain()
        return self.explain.replace(**{k: getattr(base, k) for k in self._untested})

    def _save_explain(self) -> None:
        self.app_settings.save_explain(self._savable())

    def _playing_changed(self, playing: bool) -> None:
        self.playing = playing
        self.transport.set_playing(playing)
        self._show_hud()

    def _model_ready(self, loaded: LoadedModel) -> None:
        self._note_model(loaded)
        self.loaded = loaded
        self.controls.show_model(loaded)
        self._show_hud()

    def _show_source_label(self) -> None:
        info = self.source_info
        what = info.description if info else (self.spec or "no source")
        kind = f" ({info.kind}{', live' if not info.replayable else ''})" if info else ""
        self.source_label.setText(f"{what}{kind}: {self._state}")

    def _show_hud(self) -> None:
        update = self.last_update
        try:
            device = resolve_device(self.explain.device).type
        except UserError:
            device = self.explain.device
        model = self.loaded.shown_name if self.loaded else f"{self.explain.model} (loading)"
        self.view.legend = (self.explain.colormap, legend_title(self.explain))
        self.view.set_hud(
            Hud(
                fps=update.fps if update else 0.0,
                latency_ms=update.result.latency_ms if update else 0.0,
                device=device,
                model=model,
                dropped=update.result.dropped if update else 0,
                state=self._state,
                paused=update is not None and not self.playing,
                maps=map_freshness(update),
                note=selection_note(update, self.view.selected),
            )
        )

    # -- user actions -------------------------------------------------------------------------
    def toggle_play(self) -> None:
        if self.worker is not None:
            self.worker.toggle_play()

    def step(self, delta: int) -> None:
        if self.worker is not None:
            self.worker.step(delta)

    def seek(self, index: int) -> None:
        if self.worker is not None:
            self.worker.seek(index)

    def _speed_changed(self, speed: float) -> None:
        if self.worker is not None:
            self.worker.set_speed(speed)
        self.app_settings.save_playback(speed, self.transport.loop_box.isChecked())

    def _loop_changed(self, loop: bool) -> None:
        if self.worker is not None:
            self.worker.set_loop(loop)
        self.app_settings.save_playback(self.transport.speed, loop)

    def change_settings(self, changes: dict) -> None:
        """Explanation changes from the controls; they apply on the next frame (and are
        remembered once a frame was shown with them)."""
        self.explain = self.explain.replace(**changes)
        if self.worker is not None:
            self._untested.update(changes)
            self.worker.update_settings(**changes)
        self._save_explain()
        self._show_hud()

    def select_detection(self, key: int | None) -> None:
        """Show ``key``'s heatmap alone (``None``: every detection's)."""
        self.view.selected = key
        self.table.select_key(key)
        self._views_select(key)
        if key != self.explain.selected:
            self.explain = self.explain.replace(selected=key)
            if self.worker is not None:
                self.worker.update_settings(selected=key)

    def toggle_full_screen(self) -> None:
        if self.isFullScreen():
            self.showNormal()
        else:
            self.showFullScreen()

    # -- closing --------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        QApplication.instance().removeEventFilter(self._focused_keys)
        if self.export_dialog is not None:
            self.export_dialog.close()
        self.close_source()
        for worker in list(self._retired):
            worker.wait(10_000)
        self.inspector.close_worker()
        self.compare.close_worker()
        self.app_settings.save_window_state(self.saveGeometry(), self.saveState())
        self._save_explain()
        self.app_settings.sync()
        super().closeEvent(event)
