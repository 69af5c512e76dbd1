"""The per-frame step's map stages, in the order data flows: the refresh plan, one batched
explanation, maps re-formed from kept weights, the cache's composition; on a GPU, the heat
blended on the device before the one readback."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live_explain.realtime.device_io import DeviceIO, Readback
from live_explain.realtime.results import StageTimer
from live_explain.realtime.reuse import MapCache
from live_explain.render.device import blend_heat_tensor
from live_explain.render.overlay import RenderStyle, row_of_track


@dataclass(frozen=True)
class Seen:
    """A frame's detections on the host, with their tracks: what the map stages read."""

    ids: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    scores: np.ndarray
    index: int
    cut: bool  # a scene cut before this frame


def compose_maps(cache: MapCache, step, seen: Seen, map_size, frame_size, timer: StageTimer):
    """The maps to show (fresh, re-formed from kept weights, or moved with their boxes)
    and which were refreshed: the refresh plan, one batched explanation, the re-formed
    maps, then the cache's composition."""
    if not step.method.makes_maps:
        timer.lap("reuse")
        return None, np.zeros(len(seen.ids), bool)
    rows = cache.plan(seen.ids, seen.boxes, seen.labels, seen.scores, seen.index, seen.cut)
    fresh = step.explain(rows)
    timer.lap("explain")
    cache.note_cost(fresh.ms, len(rows))
    reform_rows, weights = cache.reform_request(seen.ids, seen.labels, rows, seen.cut)
    reformed = None
    if reform_rows:
        reformed = dict(zip(reform_rows, step.remap(weights), strict=True))
    width, height = frame_size
    maps, refreshed = cache.compose(
        seen.ids,
        seen.boxes,
        seen.labels,
        seen.scores,
        rows,
        fresh.maps,
        seen.index,
        seen.cut,
        fresh.weights,
        reformed,
        (map_size[1] / width, map_size[0] / height),
    )
    timer.lap("reuse")
    return maps, refreshed


def blend_on_device(io: DeviceIO, frame_u8, maps, seen: Seen, style: RenderStyle, slot) -> Readback:
    """Colour and blend the heat on the GPU; the overlay (and the maps, in half precision)
    start their way back to the host."""
    overlay = frame_u8
    if maps is not None and len(seen.ids):
        chosen = row_of_track(seen.ids, style.selected)
        overlay = blend_heat_tensor(
            frame_u8,
            maps,
            seen.boxes,
            seen.scores,
            style.colormap,
            style.alpha,
            style.merged,
            chosen,
        )
    tensors = {"overlay": overlay}
    if maps is not None:
        tensors["maps"] = maps.half()
    return io.readback(tensors, slot)
