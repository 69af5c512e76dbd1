"""The engine's thread: it owns the source, the Detector and the Pipeline, and emits one
immutable :class:`FrameUpdate` per frame; the GUI thread only paints them.

Files and folders are *replayed*: a :class:`~live_explain.io.replay.ReplayReader` gives frames
by index and ``Pipeline.process`` explains each one, so play, pause, step, seek, speed and
loop are exact and every frame is shown (lossless). Cameras, URLs and the synthetic scene
are *live*: ``Pipeline.run`` reads them through their producer thread (latest-frame policy).

The GUI talks to the worker through thread-safe methods that queue commands; settings
changes go to ``Pipeline.update`` and apply before the next frame.

Settings count as *working* once a frame has been shown with them (``settings_working``).
A change the engine cannot use, at once or on its next frame, is undone: a notice, the
last working settings again (``settings_rejected``), the frame shown with them. Settings
not yet known to work (``fallback=True``: the remembered ones at start-up) that fail before
the first frame fall back, one at a time, to their defaults. Any other failure after the
first frame ends the worker with ``crashed(reason)``, and the window starts a new one.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from pathlib import Path

from PyQt6.QtCore import QThread, pyqtSignal

from live_explain.config import Settings
from live_explain.errors import UserError
from live_explain.io.replay import ReplayReader, open_replay
from live_explain.io.source import FrameSource, SourceState
from live_explain.monitor.frame_monitor import FrameMonitor
from live_explain.realtime.pipeline import Pipeline
from live_explain.realtime.results import FrameResult
from live_explain.realtime.track_memory import TrackMemory
from live_explain.sinks.recorder import FeedRecorder
from live_explain.ui.feed_recording import FeedRecording
from live_explain.ui.frame_update import (
    FrameUpdate,
    SourceInfo,
    selection_keys,
)
from live_explain.ui.live_playback import LivePlayback
from live_explain.ui.loaded_model import (
    LoadedModel,
    load_detector_model,
    make_pipeline,
)
from live_explain.ui.settings_guard import (
    EXPLAIN_FALLBACKS,
    MODEL_FALLBACKS,
    SettingsGuard,
    one_line,
)

log = logging.getLogger("live_explain")

FPS_SMOOTHING = 0.2  # weight of the newest interval in the displayed frame rate


class EngineWorker(FeedRecording, LivePlayback, SettingsGuard, QThread):
    """Plays one source. Construct, connect the signals, ``start()``; ``stop()`` ends it.

    ``loaded`` is the model to explain with; without it the worker loads
    ``settings.model`` first (and emits ``model_ready``). A file or folder starts at frame
    ``position``. ``fallback``: ``settings`` are not known to work, and any of them that
    fails before the first frame is replaced by its default (with a notice).
    """

    frame_ready = pyqtSignal(object)  # FrameUpdate
    source_opened = pyqtSignal(object)  # SourceInfo
    state_changed = pyqtSignal(str)  # a SourceState value
    playing_changed = pyqtSignal(bool)
    model_ready = pyqtSignal(object)  # LoadedModel
    model_loading = pyqtSignal(str)  # model name
    recording_changed = pyqtSignal(object)  # Path while recording, None after
    notice = pyqtSignal(str, str)  # level ("info", "warning", "error"), message
    settings_rejected = pyqtSignal(object)  # the Settings still in force
    settings_working = pyqtSignal(object)  # Settings that have just shown a frame
    crashed = pyqtSignal(str)  # the worker ended on an error after frames: the reason

    def __init__(
        self,
        spec: str,
        settings: Settings,
        loaded: LoadedModel | None = None,
        *,
        playing: bool = True,
        speed: float = 1.0,
        loop: bool = False,
        folder_fps: float = 10.0,
        position: int = 0,
        fallback: bool = False,
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
        self.position = position
        self.fallback = fallback
        # the last settings and model a frame was shown with (None: no frame yet)
        self._good: tuple[Settings, LoadedModel] | None = None
        self._changed_at = 0.0  # perf_counter() of the last settings change applied
        self._commands: queue.SimpleQueue[tuple] = queue.SimpleQueue()
        self._stopping = False
        self._pipeline: Pipeline | None = None
        self._monitor = FrameMonitor()  # events for the timeline strip
        self._track_memory = TrackMemory()  # a replay's ids, across steps, seeks and settings
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
        """Explanation or drawing changes (keys of :class:`Settings`); model,
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
                self._load_first_model()
            if self._stopping:
                return
            reader = open_replay(self.spec, self.folder_fps)
            if reader is not None:
                self._replay(reader)
            else:
                self._live()
        except Exception as exc:  # a bug or a library failure too: keep the window alive
            if not self._stopping:
                self._failed(exc)
        finally:
            self._finish_recording()
            if reader is not None:
                reader.close()
            # A pipeline replaced here (after a refused setting) leaves its model copy as
            # cyclic garbage; left to a collection while this thread ends, it crashes
            # Python (a segfault in tstate_delete_common under PyQt6): collect it now.
            gc.collect()

    def _failed(self, exc: Exception) -> None:
        """The worker ends on ``exc``: after frames, the window restarts the engine; before
        any, the source or the settings cannot work here, and the source fails."""
        if not isinstance(exc, UserError):  # for a debug log; never a traceback on a terminal
            log.debug("engine failed", exc_info=True)
        if self._good is not None:
            self.crashed.emit(one_line(exc))
            return
        prefix = "" if isinstance(exc, UserError) else "engine stopped: "
        self.notice.emit("error", prefix + one_line(exc))
        self.state_changed.emit(SourceState.FAILED.value)

    # -- model ------------------------------------------------------------------------------
    def _load_model(self, name: str, weights: str) -> None:
        self.model_loading.emit(name)
        self.loaded = load_detector_model(name, weights)
        self.model_ready.emit(self.loaded)

    def _load_first_model(self) -> None:
        while True:
            try:
                self._load_model(self.settings.model, self.settings.weights)
                return
            except Exception as exc:
                if not self._fall_back(MODEL_FALLBACKS, exc):
                    raise

    def _new_pipeline(self, source: FrameSource | None) -> Pipeline:
        pipeline = make_pipeline(source, self.loaded, self.settings, burn_labels=False)
        if source is None:  # a replay shows frames again: its objects keep their ids
            pipeline.track_memory = self._track_memory
        return pipeline

    # -- replay -----------------------------------------------------------------------------
    def _replay(self, reader: ReplayReader) -> None:
        self._source_kind = reader.kind
        self.source_opened.emit(
            SourceInfo(self.spec, reader.description, reader.kind, reader.fps, reader.frame_count)
        )
        self.state_changed.emit(SourceState.CONNECTED.value)
        self.playing_changed.emit(self.playing)
        start = min(max(self.position, 0), reader.frame_count - 1)
        position = start - 1
        if self._first_frame(reader, start):
            position = start
        next_due = time.monotonic() + 1.0 / (reader.fps * self.speed)
        while not self._stopping:
            timeout = max(0.0, next_due - time.monotonic()) if self.playing else None
            commands = self._replay_commands(reader, position, timeout)
            if commands is None:
                return
            wanted, redraw = commands
            if wanted is not None:
                sequential = wanted == position + 1
                if self._show_checked(reader, wanted, reset=not sequential):
                    position = wanted
                next_due = time.monotonic() + 1.0 / (reader.fps * self.speed)
                continue
            if redraw and not self.playing and position >= 0:
                self._show_checked(reader, position, reset=False, record=False)
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
            self._show_checked(reader, following, reset=following == 0)
            position = following
            next_due = max(started + 1.0 / (reader.fps * self.speed), time.monotonic() - 0.5)

    def _replay_commands(
        self, reader: ReplayReader, position: int, timeout: float | None
    ) -> tuple[int | None, bool] | None:
        """Wait up to ``timeout`` for commands and take every one queued (consecutive seeks
        collapse into the last): the frame asked for by step or seek (or ``None``) and whether
        the frame on screen needs explaining again; ``None`` to stop."""
        wanted: int | None = None
        redraw = False
        last = reader.frame_count - 1
        try:
            command = self._commands.get(timeout=timeout)
        except queue.Empty:
            command = None
        while command is not None:
            kind = command[0]
            if kind == "stop":
                return None
            if kind in ("play", "toggle"):
                playing = command[1] if kind == "play" else not self.playing
                if playing and not self.playing and position >= last:
                    wanted = 0  # play at the end starts again from the beginning
                self._set_playing(playing)
            elif kind == "step":
                self._set_playing(False)
                base = wanted if wanted is not None else position
                wanted = min(max(base + command[1], 0), last)
            elif kind == "seek":
                wanted = min(max(int(command[1]), 0), last)
            else:
                redraw |= self._setting_command(kind, command[1], reader.fps)
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                command = None
        return wanted, redraw

    def _setting_command(self, kind: str, value, fps: float) -> bool:
        """Speed, loop, settings or recording; True when the frame needs explaining again."""
        if kind == "speed":
            self.speed = float(value)
        elif kind == "loop":
            self.loop = bool(value)
        elif kind == "settings":
            return self._apply_settings(value)
        elif kind == "record":
            self._set_recording(value, fps)
        return False

    def _first_frame(self, reader: ReplayReader, index: int) -> bool:
        """Make the pipeline and show frame ``index``; with ``fallback``, a setting that makes
        either fail goes back to its default and both are tried again."""
        while True:
            try:
                self._pipeline = self._new_pipeline(None)
                return self._show(reader, index, reset=True)
            except Exception as exc:
                if not self._fall_back(EXPLAIN_FALLBACKS, exc):
                    raise

    def _show_checked(
        self, reader: ReplayReader, index: int, *, reset: bool, record: bool = True
    ) -> bool:
        """:meth:`_show`; when settings that have not yet shown a frame make it fail, they
        are undone and the frame is shown with the last working ones. Other errors raise."""
        try:
            return self._show(reader, index, reset=reset, record=record)
        except Exception as exc:
            if self._stopping or not self._untested():
                raise
            self._refuse(exc)
            self._pipeline = self._new_pipeline(None)  # a clean one: the failure may have left
            return self._show(reader, index, reset=True, record=record)  # state behind

    def _show(self, reader: ReplayReader, index: int, *, reset: bool, record: bool = True) -> bool:
        """Explain and emit frame ``index``; False when it cannot be read (errors raise)."""
        frame = reader.read(index)
        if frame is None:
            return False
        assert self._pipeline is not None
        if reset:
            self._pipeline.reset()
            self._monitor.reset()
        result = self._pipeline.process(frame)
        self._emit(result, reader.frame_count, record=record)
        return True

    def _set_playing(self, playing: bool) -> None:
        if playing != self.playing:
            self.playing = playing
            self.playing_changed.emit(playing)

            # step, seek, speed and loop do not apply to live sources

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
        # A live frame read before the last change may have been explained with the settings
        # before it: only a frame read after it shows that the new ones work.
        if result.frame.captured_s >= self._changed_at:
            self._confirm()
