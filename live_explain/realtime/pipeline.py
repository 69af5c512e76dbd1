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
from live_explain.realtime.reuse import MapCache, RefreshPolicy, SceneCutDetector
from live_explain.realtime.tracking import IoUTracker
from live_explain.render.device import blend_heat_tensor
from live_explain.render.overlay import RenderStyle, draw_detections, row_of_track

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


@dataclass(frozen=True)
class FrameResult:
    """What the pipeline made of one frame; immutable so it can cross threads.

    ``latency_ms``: from the frame's capture (live sources) or from inference taking it
    (files, which decode ahead) to its overlay being ready; ``dropped``: frames
    the source dropped so far (``latest`` policy); ``source_state``: the source's state.
    """

    frame: Frame
    detections: Detections
    overlay: np.ndarray  # (H, W, 3) BGR uint8, the frame with heatmaps and boxes drawn
    timings_ms: dict[str, float]
    latency_ms: float = 0.0
    dropped: int = 0
    source_state: str = ""
    ready_s: float = 0.0  # time.perf_counter() when the overlay was ready


class StageTimer:
    """Wall-clock milliseconds per named stage of one frame."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.ms[stage] = self.ms.get(stage, 0.0) + (now - self._t) * 1000.0
        self._t = now


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


_END = object()


class _Turns:
    """Frame-order turns for parallel inference workers: ``wait(seq)`` returns once the
    frames before ``seq`` are ``done`` (False if stopped first)."""

    def __init__(self) -> None:
        self._next = 0
        self._changed = threading.Condition()

    def wait(self, seq: int, stop: threading.Event) -> bool:
        with self._changed:
            while self._next < seq and not stop.is_set():
                self._changed.wait(0.1)
        return not stop.is_set()

    def done(self, seq: int) -> None:
        with self._changed:
            self._next = max(self._next, seq + 1)
            self._changed.notify_all()


class _Feed:
    """The frames, handed out with their sequence numbers to whichever worker is free."""

    def __init__(self, frames: Iterator[Frame]) -> None:
        self._frames = frames
        self._lock = threading.Lock()
        self._seq = 0
        self._ended = False
        self.turns = _Turns()

    def take(self) -> tuple[int, Frame | None]:
        with self._lock:
            seq, self._seq = self._seq, self._seq + 1
            return seq, next(self._frames, None)

    def finish(self) -> bool:
        """True for the first worker to see the end (it alone sends the end mark)."""
        with self._lock:
            first, self._ended = not self._ended, True
            return first


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
        self.cuts = SceneCutDetector()
        self.io = DeviceIO(detector.device)
        self._pending: dict = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.frames_done = 0

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
        feed = _Feed(self._frames())
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
                item = _get(results, self._stop)
                if item is None or item is _END:  # stopped (stop()) or finished
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._stop.set()
            self.source.close()  # unblocks a producer waiting on a full buffer
            for q in (to_render, results):  # unblock stages waiting on a full queue
                _drain(q)
            for worker in workers:
                worker.join(timeout=5.0)
                _drain(to_render)
                _drain(results)
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

    def _infer_loop(self, out: queue.Queue, feed: _Feed) -> None:
        """One inference worker. With several, each takes the next frame and their forward
        passes overlap, while the order-dependent steps (scene cuts, tracking, the map cache,
        the hand-over to render) take turns in frame order."""
        try:
            while True:
                seq, frame = feed.take()
                if frame is None:
                    if feed.turns.wait(seq, self._stop) and feed.finish():
                        _put(out, _END, self._stop)
                    feed.turns.done(seq)
                    return
                try:
                    item = self._infer(frame, lambda seq=seq: feed.turns.wait(seq, self._stop))
                    if not self._stop.is_set() and not _put(out, item, self._stop):
                        return
                finally:
                    feed.turns.done(seq)
        except BaseException as error:  # handed to the caller's thread
            _put(out, error, self._stop)

    def _render_loop(self, inbox: queue.Queue, out: queue.Queue) -> None:
        while True:
            item = _get(inbox, self._stop)
            if item is None:
                return
            if item is _END or isinstance(item, BaseException):
                _put(out, item, self._stop)
                return
            try:
                result = self._render(item)
            except BaseException as error:
                _put(out, error, self._stop)
                return
            if not _put(out, result, self._stop):
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
        detector, style, cache = self.detector, self.style, self.cache
        timer = StageTimer()
        started = timer._t
        timer.ms["wait_source"] = (started - frame.captured_s) * 1000.0
        slot = self.io.next_slot()
        with self.io.compute():
            frame_u8 = self.io.upload(frame.image, slot)
            image = frame_tensor_to_input(frame_u8)
            timer.lap("upload")
            height, width = frame.image.shape[:2]
            map_size = (height, width)
            if self.map_side is not None:
                map_size = map_size_within(map_size, self.map_side)
            scale = (map_size[1] / width, map_size[0] / height)
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
            if not step.method.makes_maps:
                maps, refreshed = None, np.zeros(len(ids), bool)
                timer.lap("reuse")
            else:
                rows = cache.plan(ids, boxes, labels, scores, frame.index, scene_cut)
                fresh = step.explain(rows)
                timer.lap("explain")
                cache.note_cost(fresh.ms, len(rows))
                reform_rows, weights = cache.reform_request(ids, labels, rows, scene_cut)
                reformed = None
                if reform_rows:
                    reformed = dict(zip(reform_rows, step.remap(weights), strict=True))
                maps, refreshed = cache.compose(
                    ids,
                    boxes,
                    labels,
                    scores,
                    rows,
                    fresh.maps,
                    frame.index,
                    scene_cut,
                    fresh.weights,
                    reformed,
                    scale,
                )
                timer.lap("reuse")
            readback = None
            if self.io.cuda:  # colour and blend on the GPU, then one readback
                chosen = row_of_track(ids, style.selected)
                overlay = frame_u8
                if maps is not None and len(ids):
                    overlay = blend_heat_tensor(
                        frame_u8,
                        maps,
                        boxes,
                        scores,
                        style.colormap,
                        style.alpha,
                        style.merged,
                        chosen,
                    )
                tensors = {"overlay": overlay}
                if maps is not None:
                    tensors["maps"] = maps.half()
                readback = self.io.readback(tensors, slot)
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


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put ``item`` unless asked to stop; ``False`` when stopped."""
    while True:
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            if stop.is_set():
                return False


def _get(q: queue.Queue, stop: threading.Event):
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                return None


def _drain(q: queue.Queue) -> None:
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            return
