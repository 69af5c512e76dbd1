"""The engine's thread: it owns the source, the Detector and the Pipeline, and emits one
immutable :class:`FrameUpdate` per frame; the GUI thread only paints them.

Files and folders are *replayed*: a :class:`~live_explain.replay.ReplayReader` gives frames
by index and ``Pipeline.process`` explains each one, so play, pause, step, seek, speed and
loop are exact and every frame is shown (lossless). Cameras, URLs and the synthetic scene
are *live*: ``Pipeline.run`` reads them through their producer thread (latest-frame policy).

The GUI talks to the worker through thread-safe methods that queue commands; settings
changes go to ``Pipeline.update`` and apply before the next frame.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path

from PyQt6.QtCore import QThread, pyqtSignal

from live_explain.engine import FrameResult, Pipeline
from live_explain.errors import UserError
from live_explain.monitor.frame_monitor import FrameMonitor
from live_explain.recorder import FeedRecorder
from live_explain.replay import ReplayReader, open_replay
from live_explain.sources import FrameSource, SourceState, open_source
from live_explain.ui.frame_update import (
    FrameUpdate,
    SourceInfo,
    selection_keys,
)
from live_explain.ui.loaded_model import (
    LoadedModel,
    load_detector_model,
    make_detector,
    make_pipeline,
    usable_classes,
)
from live_explain.ui.settings import PIPELINE_KEYS, ExplainSettings

log = logging.getLogger("live_explain")

FPS_SMOOTHING = 0.2  # weight of the newest interval in the displayed frame rate


class EngineWorker(QThread):
    """Plays one source. Construct, connect the signals, ``start()``; ``stop()`` ends it.

    ``loaded`` is the model to explain with; without it the worker loads
    ``settings.model`` first (and emits ``model_ready``).
    """

    frame_ready = pyqtSignal(object)  # FrameUpdate
    source_opened = pyqtSignal(object)  # SourceInfo
    state_changed = pyqtSignal(str)  # a SourceState value
    playing_changed = pyqtSignal(bool)
    model_ready = pyqtSignal(object)  # LoadedModel
    model_loading = pyqtSignal(str)  # model name
    recording_changed = pyqtSignal(object)  # Path while recording, None after
    notice = pyqtSignal(str, str)  # level ("info", "warning", "error"), message
    settings_rejected = pyqtSignal(object)  # the ExplainSettings still in force

    def __init__(
        self,
        spec: str,
        settings: ExplainSettings,
        loaded: LoadedModel | None = None,
        *,
        playing: bool = True,
        speed: float = 1.0,
        loop: bool = False,
        folder_fps: float = 10.0,
    ) -> None:
        super().__init__()
        self.setObjectName(f"live-explain-engine {spec}")
        self.spec = spec
        self.settings = settings
        self.loaded = loaded
        self.folder_fps = folder_fps
        self.playing = playing
        self.speed = speed
        self.loop = loop
        self._commands: queue.SimpleQueue[tuple] = queue.SimpleQueue()
        self._stopping = False
        self._pipeline: Pipeline | None = None
        self._monitor = FrameMonitor()  # events for the timeline strip
        self._recorder: FeedRecorder | None = None
        self._source_kind = "source"  # what a recording's sidecar says it recorded
        self._live_source: FrameSource | None = None
        self._fps = 0.0
        self._last_emit: float | None = None
        self.frames_shown = 0

    # -- called from the GUI thread ---------------------------------------------------------
    def play(self) -> None:
        self._commands.put(("play", True))

    def pause(self) -> None:
        self._commands.put(("play", False))

    def toggle_play(self) -> None:
        self._commands.put(("toggle",))

    def step(self, delta: int) -> None:
        self._commands.put(("step", delta))

    def seek(self, index: int) -> None:
        self._commands.put(("seek", index))

    def set_speed(self, speed: float) -> None:
        self._commands.put(("speed", speed))

    def set_loop(self, loop: bool) -> None:
        self._commands.put(("loop", loop))

    def update_settings(self, **changes) -> None:
        """Explanation or drawing changes (keys of :class:`ExplainSettings`); model,
        weights and device changes load a new Detector in this thread."""
        self._commands.put(("settings", changes))

    def start_recording(self, path: Path) -> None:
        self._commands.put(("record", path))

    def stop_recording(self) -> None:
        self._commands.put(("record", None))

    def stop(self) -> None:
        """Ask the worker to end (after the frame in flight); ``wait()`` joins it.

        The worker leaves ``Pipeline.run`` itself between two results (calling
        ``Pipeline.stop`` from this thread while the worker waits for a result can leave
        that wait without an end); a live source is closed, in a thread of its own as that
        may take a moment, so that a stalled camera cannot hold the worker."""
        self._stopping = True
        self._commands.put(("stop",))
        source = self._live_source
        if source is not None:  # wakes a worker waiting for a frame that is not coming
            threading.Thread(target=source.close, name="close-source", daemon=True).start()

    # -- the thread -------------------------------------------------------------------------
    def run(self) -> None:
        reader: ReplayReader | None = None
        try:
            if self.loaded is None:
                self._load_model(self.settings.model, self.settings.weights)
            if self._stopping:
                return
            reader = open_replay(self.spec, self.folder_fps)
            if reader is not None:
                self._replay(reader)
            else:
                self._live()
        except UserError as exc:
            self.notice.emit("error", str(exc))
            self.state_changed.emit(SourceState.FAILED.value)
        except Exception as exc:  # a bug or a library failure: say so, keep the window alive
            log.exception("engine failed")
            self.notice.emit("error", f"engine stopped: {type(exc).__name__}: {exc}")
            self.state_changed.emit(SourceState.FAILED.value)
        finally:
            self._finish_recording()
            if reader is not None:
                reader.close()

    # -- model ------------------------------------------------------------------------------
    def _load_model(self, name: str, weights: str) -> None:
        self.model_loading.emit(name)
        self.loaded = load_detector_model(name, weights)
        self.model_ready.emit(self.loaded)

    def _apply_settings(self, changes: dict) -> bool:
        """Apply ``changes``; True when the current frame should be explained again.
        A change that cannot apply (unknown weights file, say) leaves the old settings."""
        old, old_loaded = self.settings, self.loaded
        new = old.replace(**changes)
        try:
            if (new.model, new.weights) != (old.model, old.weights):
                self._load_model(new.model, new.weights)
            if (new.model, new.weights, new.device) != (old.model, old.weights, old.device):
                detector = make_detector(self.loaded, new)
                self.settings = new
                if self._pipeline is not None:
                    self._pipeline.update(detector=detector)
                return True
            updates = self._pipeline_changes(old, new)
            if updates and self._pipeline is not None:
                self._pipeline.update(**updates)  # checks a new method or layer at once
        except UserError as exc:
            self.notice.emit("error", str(exc))
            if self.loaded is not old_loaded:
                self.loaded = old_loaded
                self.model_ready.emit(old_loaded)
            self.settings_rejected.emit(old)
            return False
        self.settings = new
        return bool(updates)

    def _pipeline_changes(self, old: ExplainSettings, new: ExplainSettings) -> dict:
        """``Pipeline.update`` keywords for what differs from ``old`` to ``new``."""
        updates = {k: getattr(new, k) for k in PIPELINE_KEYS if getattr(old, k) != getattr(new, k)}
        if "classes" in updates:
            updates["classes"] = usable_classes(self.loaded, new.classes)
        if new.method == "saliency" and ("method" in updates or "layer" in updates):
            updates["layer"] = None  # saliency explains at the input pixels
        return updates

    def _new_pipeline(self, source: FrameSource | None) -> Pipeline:
        return make_pipeline(source, self.loaded, self.settings)

    # -- replay -----------------------------------------------------------------------------
    def _replay(self, reader: ReplayReader) -> None:
        self._pipeline = self._new_pipeline(None)
        self._source_kind = reader.kind
        self.source_opened.emit(
            SourceInfo(self.spec, reader.description, reader.kind, reader.fps, reader.frame_count)
        )
        self.state_changed.emit(SourceState.CONNECTED.value)
        self.playing_changed.emit(self.playing)
        position = -1
        good_settings = self.settings
        if self._show(reader, 0, reset=True):
            position = 0
        next_due = time.monotonic() + 1.0 / (reader.fps * self.speed)
        while not self._stopping:
            timeout = max(0.0, next_due - time.monotonic()) if self.playing else None
            wanted: int | None = None  # a frame asked for by step/seek
            redraw = False
            try:
                command = self._commands.get(timeout=timeout)
            except queue.Empty:
                command = None
            while command is not None:  # drain: consecutive seeks collapse into the last
                kind = command[0]
                if kind == "stop":
                    return
                if kind in ("play", "toggle"):
                    playing = command[1] if kind == "play" else not self.playing
                    if playing and not self.playing and position >= reader.frame_count - 1:
                        wanted = 0  # play at the end starts again from the beginning
                    self._set_playing(playing)
                elif kind == "step":
                    self._set_playing(False)
                    base = wanted if wanted is not None else position
                    wanted = min(max(base + command[1], 0), reader.frame_count - 1)
                elif kind == "seek":
                    wanted = min(max(int(command[1]), 0), reader.frame_count - 1)
                elif kind == "speed":
                    self.speed = float(command[1])
                elif kind == "loop":
                    self.loop = bool(command[1])
                elif kind == "settings":
                    redraw |= self._apply_settings(command[1])
                elif kind == "record":
                    self._set_recording(command[1], reader.fps)
                try:
                    command = self._commands.get_nowait()
                except queue.Empty:
                    command = None
            if wanted is not None:
                sequential = wanted == position + 1
                if self._show(reader, wanted, reset=not sequential):
                    position = wanted
                next_due = time.monotonic() + 1.0 / (reader.fps * self.speed)
                continue
            if redraw and not self.playing and position >= 0:
                if self._show(reader, position, reset=False, record=False):
                    good_settings = self.settings
                else:
                    self._revert(good_settings)
                continue
            if not self.playing or time.monotonic() < next_due:
                continue
            following = position + 1
            if following >= reader.frame_count:
                if not self.loop:
                    self._set_playing(False)
                    self.state_changed.emit(SourceState.ENDED.value)
                    continue
                following = 0
            started = time.monotonic()
            if self._show(reader, following, reset=following == 0):
                good_settings = self.settings
            elif self.settings != good_settings:
                self._revert(good_settings)
            position = following
            next_due = max(started + 1.0 / (reader.fps * self.speed), time.monotonic() - 0.5)

    def _show(self, reader: ReplayReader, index: int, *, reset: bool, record: bool = True) -> bool:
        """Explain and emit frame ``index``; False (with a notice) when that failed."""
        frame = reader.read(index)
        if frame is None:
            return False
        assert self._pipeline is not None
        if reset:
            self._pipeline.reset()
            self._monitor.reset()
        try:
            result = self._pipeline.process(frame)
        except UserError as exc:
            self.notice.emit("error", str(exc))
            return False
        self._emit(result, reader.frame_count, record=record)
        return True

    def _revert(self, good: ExplainSettings) -> None:
        """Go back to settings that worked (after a change the engine could not apply)."""
        updates = self._pipeline_changes(self.settings, good)
        self.settings = good
        self.settings_rejected.emit(good)
        if updates and self._pipeline is not None:
            self._pipeline.update(**updates)

    def _set_playing(self, playing: bool) -> None:
        if playing != self.playing:
            self.playing = playing
            self.playing_changed.emit(playing)

    # -- live -------------------------------------------------------------------------------
    def _live(self) -> None:
        while not self._stopping:
            source = open_source(self.spec, realtime=True, on_state=self._on_source_state)
            self._source_kind = source.kind
            self._live_source = source
            if self._stopping:
                return
            self.state_changed.emit(SourceState.CONNECTING.value)
            source.start()  # opening errors (no such camera) raise here
            self.source_opened.emit(
                SourceInfo(self.spec, source.description, source.kind, source.fps, None)
            )
            self.playing_changed.emit(self.playing)
            good_settings = self.settings
            self._pipeline = pipeline = self._new_pipeline(source)
            try:
                for result in pipeline.run():
                    if not self._handle_live_commands(source.fps):
                        return
                    self._emit(result, None)
                    good_settings = self.settings
            except UserError as exc:
                if self._stopping:
                    return
                if self.settings == good_settings:
                    raise
                # A setting the engine could not apply: say so, go back, start again.
                self.notice.emit("error", str(exc))
                self.settings = good_settings
                self.settings_rejected.emit(good_settings)
                continue
            state = source.state.value
            self.state_changed.emit(state)
            return

    def _handle_live_commands(self, fps: float) -> bool:
        """Apply queued commands between live frames; False when the worker must stop.
        While paused this blocks (the source keeps only its newest frames meanwhile)."""
        while True:
            try:
                command = self._commands.get(block=not self.playing)
            except queue.Empty:
                return True
            kind = command[0]
            if kind == "stop":
                return False
            if kind == "play":
                self._set_playing(command[1])
            elif kind == "toggle":
                self._set_playing(not self.playing)
            elif kind == "settings":
                self._apply_settings(command[1])
            elif kind == "record":
                self._set_recording(command[1], fps)
            # step, seek, speed and loop do not apply to live sources

    def _on_source_state(self, state: SourceState) -> None:
        self.state_changed.emit(state.value)  # from the source's producer thread: queued

    # -- output -----------------------------------------------------------------------------
    def _emit(self, result: FrameResult, frame_count: int | None, *, record: bool = True) -> None:
        now = time.perf_counter()
        if self._last_emit is not None:
            rate = 1.0 / max(now - self._last_emit, 1e-6)
            self._fps = rate if self._fps == 0 else self._fps + FPS_SMOOTHING * (rate - self._fps)
        self._last_emit = now
        if self._recorder is not None and record:
            try:
                live = frame_count is None  # live: keep real timing across dropped frames
                pts = result.frame.pts_ms if live else None
                self._recorder.write(result.frame.image, result.dropped, pts_ms=pts)
            except Exception as exc:
                self.notice.emit("error", f"recording stopped: {exc}")
                self._finish_recording()
        self.frames_shown += 1
        count = len(result.detections)
        try:
            monitored = self._monitor(result)
            signals = monitored.signals.detections
            # an explained but all-zero map has no energy in its box: 0, not "no map"
            attention = tuple(0.0 if d.empty else d.attention_in_box for d in signals)
            events = tuple(event.kind for event in monitored.events)
            pointing = tuple(d.pointing_hit for d in signals)
            row_events = tuple(
                ", ".join(sorted({e.kind for e in monitored.events if e.detection == row}))
                for row in range(count)
            )
        except Exception:  # monitoring must never stop the video
            attention, pointing = (None,) * count, (None,) * count
            events, row_events = (), ("",) * count
        self.frame_ready.emit(
            FrameUpdate(
                result=result,
                attention=attention,
                selection_keys=selection_keys(result.detections),
                position=result.frame.index,
                frame_count=frame_count,
                fps=self._fps,
                events=events,
                pointing=pointing,
                row_events=row_events,
            )
        )

    def _set_recording(self, path: Path | None, fps: float) -> None:
        if path is None:
            self._finish_recording()
            return
        if self._recorder is not None:
            return
        try:
            self._recorder = FeedRecorder(path, fps, self.spec, self._source_kind)
        except (UserError, OSError) as exc:
            self.notice.emit("error", f"cannot record: {exc}")
            self.recording_changed.emit(None)
            return
        self.recording_changed.emit(path)

    def _finish_recording(self) -> None:
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        try:
            saved = recorder.close()
        except Exception as exc:
            self.notice.emit("error", f"recording failed: {exc}")
            saved = None
        if saved is not None:
            self.notice.emit("info", f"recorded {recorder.frames_written} frames to {saved}")
        self.recording_changed.emit(None)
