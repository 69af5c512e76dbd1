"""The pipeline every front end runs: source -> infer -> render, overlapped in threads.

Front ends (the CLI export, the benchmark, the desktop app) iterate over
:meth:`Pipeline.run` and hand each :class:`FrameResult` to their sinks; a replay steps
with :meth:`Pipeline.process`.

Stages and threads: the source decodes in its own producer thread into a bounded buffer
(``latest`` for live sources, ``lossless`` for files); an **infer** thread uploads the
frame, runs detection + explanation (one forward), tracks the detections and composes the
maps (reused or refreshed, smoothed); a **render** thread draws the overlay; the caller's
thread gets finished results (and encodes them). The stages pass frames through bounded
queues, so decode, inference and render/encode overlap and memory stays flat. PyTorch,
OpenCV and the encoder release the GIL while they work.

``workers=N`` runs N infer threads (on a CPU, where one forward uses several cores poorly):
each takes the next frame and runs its forward on its share of PyTorch's threads, while the
order-dependent steps (scene cuts, tracking, the map cache, the hand-over to render) take
turns in frame order, so the results equal the one-worker run.

On CUDA the frame goes up through pinned buffers on a copy stream, compute runs on its own
stream, the heatmaps are coloured and blended on the GPU, and the overlay comes back on the
copy stream; the render thread waits on that readback's event and draws boxes and text.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from live_explain.config import field_names
from live_explain.explain.align import map_size_within
from live_explain.io.frame import Frame
from live_explain.io.source import FrameSource
from live_explain.model.detector import Detections, Detector
from live_explain.realtime.device_io import DeviceIO, Readback, frame_tensor_to_input
from live_explain.realtime.frame_step import Seen, blend_on_device, compose_maps
from live_explain.realtime.refresh_policy import RefreshPolicy
from live_explain.realtime.results import FrameResult, StageTimer
from live_explain.realtime.reuse import MapCache
from live_explain.realtime.scene_cuts import SceneCutDetector
from live_explain.realtime.threads import (
    END,
    FrameFeed,
    drain,
    get_unless_stopped,
    put_unless_stopped,
)
from live_explain.realtime.track_memory import TrackMemory
from live_explain.realtime.tracking import IoUTracker
from live_explain.render.overlay import RenderStyle, draw_detections

# What a change of each settings stage touches: a new detector, a new refresh policy, or the
# style (see :meth:`Pipeline.update`).
DETECTOR_KEYS = set(field_names("detector"))
POLICY_KEYS = set(field_names("policy"))
STYLE_KEYS = set(field_names("style"))
QUEUE_SIZE = 2
# The longer side, in pixels, of the maps the engine forms, keeps and hands out: memory per
# detection is bounded whatever the frame size (a 1920x1080 frame's maps are 480x270, 0.5 MB
# each instead of 8 MB); they are upsampled only where drawn. Layer grids are coarser still
# (stride 4 or more of the detector's input), so nothing of a Grad-CAM map is lost.
MAP_SIDE = 480


@dataclass
class _Inferred:
    """Hand-over from the infer stage to the render stage."""

    frame: Frame
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    track_ids: np.ndarray
    refreshed: np.ndarray
    maps: torch.Tensor | None  # (K, h, w) on the compute device (CPU path)
    readback: Readback | None  # overlay and maps on their way to the host (CUDA path)
    names: list[str]
    style: RenderStyle
    timings_ms: dict[str, float]
    started_s: float  # when the infer stage took the frame


class Pipeline:
    """Runs ``detector`` with explanations over ``source`` (see the module docstring).

    ``policy`` decides when a track's map is recomputed and how it is smoothed;
    :meth:`update` changes settings from any thread, applied before the next frame.
    """

    def __init__(
        self,
        source: FrameSource | None,
        detector: Detector,
        max_frames: int | None = None,
        style: RenderStyle | None = None,
        policy: RefreshPolicy | None = None,
        threaded: bool = True,
        workers: int = 1,
        map_side: int | None = MAP_SIDE,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.source = source
        self.workers = workers
        self.detector = detector
        self.max_frames = max_frames
        self.style = style or RenderStyle()
        self.cache = MapCache(policy or RefreshPolicy())
        self.threaded = threaded
        self.map_side = map_side  # None: maps at the frame's size
        self.tracker = IoUTracker()
        self.track_memory: TrackMemory | None = None  # a replay's: ids kept on revisits
        self.cuts = SceneCutDetector()
        self.io = DeviceIO(detector.device)
        self._pending: dict = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.frames_done = 0

    @classmethod
    def from_settings(cls, source: FrameSource | None, settings, model=None, **options) -> Pipeline:
        """The pipeline that a :class:`~live_explain.config.Settings` describes: its detector
        from :func:`~live_explain.config.build_detector` (on ``model`` if given), its style and
        refresh policy; ``options``: ``max_frames``, ``workers``, ``threaded``, ``map_side``."""
        from live_explain.config import build_detector

        detector = build_detector(settings, model)
        return cls(source, detector, style=settings.style(), policy=settings.policy(), **options)

    # -- control, from any thread -------------------------------------------------------
    def update(self, **changes) -> None:
        """Change settings; they apply from the next frame on.

        Keys: the fields of :class:`~live_explain.config.Settings` of the stages ``detector``
        (a new detector is built and checked here, so a bad value raises
        :class:`~live_explain.errors.UserError` in the caller), ``policy`` and ``style``;
        ``detector`` (a new one, e.g. another model).
        """
        unknown = set(changes) - STYLE_KEYS - DETECTOR_KEYS - POLICY_KEYS - {"detector"}
        if unknown:
            raise ValueError(f"unknown pipeline settings: {', '.join(sorted(unknown))}")
        detector_changes = {k: changes.pop(k) for k in list(changes) if k in DETECTOR_KEYS}
        with self._lock:
            if detector_changes:
                base = changes.get("detector") or self._pending.get("detector") or self.detector
                changes["detector"] = base.with_settings(**detector_changes)
            if any(k in changes for k in POLICY_KEYS):
                policy = self._pending.get("policy", self.cache.policy)
                options = {k: changes.pop(k) for k in list(changes) if k in POLICY_KEYS}
                changes["policy"] = policy.with_options(**options)
            self._pending.update(changes)

    def reset(self) -> None:
        """Forget tracks, maps and the last frame (after a seek)."""
        self.tracker.reset()
        if self.track_memory is not None:
            self.track_memory.tracker_reset()
        self.cache.reset()
        self.cuts.reset()

    def stop(self) -> None:
        """Ask :meth:`run` to end after the frame in flight."""
        self._stop.set()

    # -- one frame, synchronously ------------------------------------------------------
    def process(self, frame: Frame) -> FrameResult:
        """Infer and render one frame on the calling thread (a replay's step or seek)."""
        return self._render(self._infer(frame))

    # -- the threaded run ----------------------------------------------------------------
    def run(self) -> Iterator[FrameResult]:
        """Yield one result per frame; closes the source when done or abandoned."""
        if self.source is None:
            raise ValueError("this pipeline has no source; use process(frame)")
        self._stop.clear()
        self.source.start()
        if not self.threaded:
            try:
                yield from self._run_inline()
            finally:
                self.source.close()
            return
        to_render: queue.Queue = queue.Queue(QUEUE_SIZE)
        results: queue.Queue = queue.Queue(QUEUE_SIZE)
        feed = FrameFeed(self._frames())
        workers = [
            threading.Thread(
                target=self._infer_loop, args=(to_render, feed), name=f"infer-{i}", daemon=True
            )
            for i in range(self.workers)
        ]
        workers.append(
            threading.Thread(
                target=self._render_loop, args=(to_render, results), name="render", daemon=True
            )
        )
        threads = torch.get_num_threads()
        if self.workers > 1:  # the cores shared out between the workers' forward passes
            torch.set_num_threads(max(1, threads // self.workers))
        for worker in workers:
            worker.start()
        try:
            while True:
                item = get_unless_stopped(results, self._stop)
                if item is None or item is END:  # stopped (stop()) or finished
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._stop.set()
            self.source.close()  # unblocks a producer waiting on a full buffer
            for q in (to_render, results):  # unblock stages waiting on a full queue
                drain(q)
            for worker in workers:
                worker.join(timeout=5.0)
                drain(to_render)
                drain(results)
            torch.set_num_threads(threads)

    def _frames(self) -> Iterator[Frame]:
        count = 0
        while not self._stop.is_set() and (self.max_frames is None or count < self.max_frames):
            frame = self.source.read()
            if frame is None:
                return
            yield frame
            count += 1

    def _run_inline(self) -> Iterator[FrameResult]:
        for frame in self._frames():
            yield self.process(frame)

    def _infer_loop(self, out: queue.Queue, feed: FrameFeed) -> None:
        """One inference worker. With several, each takes the next frame and their forward
        passes overlap, while the order-dependent steps (scene cuts, tracking, the map cache,
        the hand-over to render) take turns in frame order."""
        try:
            while True:
                seq, frame = feed.take()
                if frame is None:
                    if feed.turns.wait(seq, self._stop) and feed.finish():
                        put_unless_stopped(out, END, self._stop)
                    feed.turns.done(seq)
                    return
                try:
                    item = self._infer(frame, lambda seq=seq: feed.turns.wait(seq, self._stop))
                    if not self._stop.is_set() and not put_unless_stopped(out, item, self._stop):
                        return
                finally:
                    feed.turns.done(seq)
        except BaseException as error:  # handed to the caller's thread
            put_unless_stopped(out, error, self._stop)

    def _render_loop(self, inbox: queue.Queue, out: queue.Queue) -> None:
        while True:
            item = get_unless_stopped(inbox, self._stop)
            if item is None:
                return
            if item is END or isinstance(item, BaseException):
                put_unless_stopped(out, item, self._stop)
                return
            try:
                result = self._render(item)
            except BaseException as error:
                put_unless_stopped(out, error, self._stop)
                return
            if not put_unless_stopped(out, result, self._stop):
                return

    # -- stages --------------------------------------------------------------------------
    def _apply_pending(self) -> Callable[[], None] | None:
        """Take the pending changes. The detector and the style apply to this frame at once;
        forgetting the tracks (a new model or method) and a new refresh policy touch the state
        the frames share in order, so they come back as a step for this frame's turn (with
        several workers, another frame may be composing right now)."""
        with self._lock:
            changes, self._pending = self._pending, {}
        if not changes:
            return None
        reset = False
        detector = changes.pop("detector", None)
        if detector is not None:
            method_changed = (detector.method, detector.layer) != (
                self.detector.method,
                self.detector.layer,
            )
            reset = detector.model is not self.detector.model or method_changed
            if detector.device != self.detector.device:
                self.io = DeviceIO(detector.device)
            self.detector = detector
        policy = changes.pop("policy", None)
        if changes:
            self.style = dataclasses.replace(self.style, **changes)
        if not reset and policy is None:
            return None

        def in_order() -> None:
            if reset:
                self.reset()
            if policy is not None:
                self.cache.policy = policy

        return in_order

    def _infer(self, frame: Frame, wait_turn=None) -> _Inferred:
        """Detect, explain, track and compose one frame. ``wait_turn()`` (parallel workers)
        blocks until the previous frame's order-dependent steps are done."""
        in_order = self._apply_pending()
        detector, style = self.detector, self.style
        timer = StageTimer()
        started = timer._t
        timer.ms["wait_source"] = (started - frame.captured_s) * 1000.0
        slot = self.io.next_slot()
        with self.io.compute():
            frame_u8 = self.io.upload(frame.image, slot)
            image = frame_tensor_to_input(frame_u8)
            timer.lap("upload")
            map_size = self._map_size(frame)
            step = detector.explainer.forward(image, map_size)
            timer.lap("detect")
            # The detections' one readback (K boxes, labels, scores): tracking and the plan
            # run on the host.
            boxes = step.boxes.cpu().numpy()
            labels = step.labels.cpu().numpy().astype(np.int64)
            scores = step.scores.cpu().numpy()
            if wait_turn is not None:  # the frames before this one are composed
                wait_turn()
            if in_order is not None:
                in_order()
            scene_cut = self.cuts(frame.image)
            ids = self.tracker.update(boxes, labels, scores)
            if self.track_memory is not None:
                ids = self.track_memory.relabel(frame.index, boxes, labels, ids)
            seen = Seen(ids, boxes, labels, scores, frame.index, scene_cut)
            maps, refreshed = compose_maps(self.cache, step, seen, map_size, frame.size, timer)
            readback = None
            if self.io.cuda:  # colour and blend on the GPU, then one readback
                readback = blend_on_device(self.io, frame_u8, maps, seen, style, slot)
                maps = None
                timer.lap("blend_gpu")
        for key, value in step.timings_ms.items():
            timer.ms[f"model_{key}"] = value
        return _Inferred(
            frame,
            boxes,
            labels,
            scores,
            ids,
            refreshed,
            maps,
            readback,
            [detector.categories[i] for i in labels],
            style,
            timer.ms,
            started,
        )

    def _map_size(self, frame: Frame) -> tuple[int, int]:
        """(h, w) of this frame's maps: the frame's, within :data:`MAP_SIDE` on the long side."""
        size = frame.image.shape[:2]
        return size if self.map_side is None else map_size_within(size, self.map_side)

    def _render(self, item: _Inferred) -> FrameResult:
        timer = StageTimer()
        heatmaps = None
        if item.readback is not None:
            host = item.readback.wait()
            timer.lap("readback")
            if "maps" in host:
                heatmaps = host["maps"].astype(np.float32)
        elif item.maps is not None:
            heatmaps = item.maps.numpy()
        detections = Detections(
            boxes=item.boxes,
            labels=item.labels,
            scores=item.scores,
            names=item.names,
            heatmaps=heatmaps,
            timings_ms=item.timings_ms,
            track_ids=item.track_ids,
            refreshed=item.refreshed,
            frame_size=item.frame.size,
        )
        if item.readback is not None:  # heat already blended on the GPU: boxes and text
            base = host["overlay"]
            overlay = draw_detections(base, _without_maps(detections), item.style)
        else:
            overlay = draw_detections(item.frame.image, detections, item.style)
        timer.lap("render")
        timings = {**item.timings_ms, **timer.ms}
        self.frames_done += 1
        source = self.source
        return FrameResult(
            frame=item.frame,
            detections=detections,
            overlay=overlay,
            timings_ms=timings,
            latency_ms=(time.perf_counter() - self._latency_origin(item)) * 1000.0,
            ready_s=time.perf_counter(),
            dropped=source.frames_dropped if source is not None else 0,
            source_state=source.state.value if source is not None else "",
        )

    def _latency_origin(self, item: _Inferred) -> float:
        """Live frames count from their capture; a file decodes ahead into its buffer, so
        its frames count from when inference took them (the queue there is not latency)."""
        live = self.source is not None and getattr(self.source, "live", False)
        return item.frame.captured_s if live else item.started_s


def _without_maps(detections: Detections) -> Detections:
    return dataclasses.replace(detections, heatmaps=None)
