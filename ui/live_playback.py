"""Playing a live source (a camera, a stream, the synthetic scene) in the engine's thread: the
newest frame each time, commands between frames, the source's state passed on."""

from __future__ import annotations

import logging
import queue

from live_explain.io.recognise import open_source
from live_explain.io.source import SourceState
from live_explain.ui.frame_update import (
    SourceInfo,
)
from live_explain.ui.settings_guard import EXPLAIN_FALLBACKS

log = logging.getLogger("live_explain")


class LivePlayback:
    """The live loop of :class:`~live_explain.ui.engine_worker.EngineWorker`."""

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
            try:
                self._pipeline = pipeline = self._new_pipeline(source)
                for result in pipeline.run():
                    if not self._handle_live_commands(source.fps):
                        return
                    self._emit(result, None)
            except Exception as exc:
                if self._stopping:
                    return
                source.close()  # run() closes it too, but the pipeline may not have been made
                # Settings the engine could not use: say so, go back (or to the defaults
                # before a first frame), start again. Anything else ends the worker.
                if self._good is None:
                    if not self._fall_back(EXPLAIN_FALLBACKS, exc):
                        raise
                elif self._untested():
                    self._refuse(exc)
                else:
                    raise
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

    def _on_source_state(self, state: SourceState) -> None:
        self.state_changed.emit(state.value)  # from the source's producer thread: queued
