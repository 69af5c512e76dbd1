"""Incremental explanations across frames: reuse a track's map while it stays valid.

A track's map is computed (``refreshed``) when the track is new, when its box moved or was
rescaled past a threshold since the last refresh, when its class or score changed, when the
map is older than the track's reuse window, or after a scene cut. Otherwise the last
explanation is **reused**, in one of two ways (``reuse``):

* ``weights`` (default, Grad-CAM and Grad-CAM++): the map is formed again from the channel
  weights of the last refresh on *this* frame's activations, ``relu(sum_c w_c A_c)``: only
  the backward (the gradients) is skipped, and the map follows what the layer sees now.
* ``warp`` (every other method, and where no weights are at hand): the last map moved and
  scaled with the box (an affine warp taking the box at the refresh onto today's box); a box
  that only jitters (changes below ``jitter`` of its size) leaves the map where it is, so
  detector noise does not shake it.

**Reuse windows.** How long a map stays valid differs from object to object: some
explanations hold still for many frames, others change from one frame to the next. Each
refresh of a known track therefore measures what reuse would have shown instead (the kept
explanation on this frame, as ``reuse`` forms it) against the fresh map. Below ``fidelity``
the track's window halves (down to 1: refreshed every frame); at or above it, and with the
track's record (a running average of these findings, the newest weighing half) at or above
it too, the window doubles (up to ``max_age`` frames). New tracks start at ``first_window``.
So refreshes go where reuse would show something else. ``fidelity=0`` keeps every window at
``max_age``. (The checks see a window's last frame only, so the mean fidelity over all
reused maps comes out below the target: 0.92-0.94 for 0.95 on the demo's drives.)

An optional budget caps the refreshes per frame; stale tracks are ranked (new first, then
by how stale they are) and the rest keep their reused maps.

Temporal smoothing: the shown map is an exponential moving average per track,
``shown = a * current + (1 - a) * previous shown``, reset when a refresh finds a map that
differs a lot from the shown one (correlation below ``reset_corr``) and on scene cuts. A
fresh or re-formed map lies on this frame's activations, as the previous shown one lay on
the previous frame's, so the two are blended where they are; only when the current map is a
warp of an old one is the previous shown map warped with the box too. (Warping it with the
box always made the detector's box jitter into flicker: on the real clip with random weights,
0.035 against 0.008 now, where per-frame recompute gives 0.013.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from live_explain.realtime.map_motion import (
    coarse_correlations,
    warp_map,
)
from live_explain.realtime.refresh_policy import (
    RefreshPolicy,
)


def is_stale(
    policy: RefreshPolicy, box: np.ndarray, label: int, score: float, state: _TrackMap, frame: int
) -> bool:
    """Whether a track's map must be recomputed under ``policy`` (adaptive mode)."""
    old = state.box
    w0, h0 = max(old[2] - old[0], 1e-6), max(old[3] - old[1], 1e-6)
    w1, h1 = box[2] - box[0], box[3] - box[1]
    dx = (box[0] + box[2] - old[0] - old[2]) / 2
    dy = (box[1] + box[3] - old[1] - old[3]) / 2
    shift = np.hypot(dx, dy)
    return bool(
        label != state.label
        or abs(score - state.score) > policy.score
        or frame - state.frame >= state.window
        or shift > policy.move * np.hypot(w0, h0)
        or abs(w1 / w0 - 1.0) > policy.scale
        or abs(h1 / h0 - 1.0) > policy.scale
    )


@dataclass
class _TrackMap:
    heatmap: torch.Tensor  # at the last refresh
    box: np.ndarray  # at the last refresh
    label: int
    score: float
    frame: int  # of the last refresh
    shown: torch.Tensor | None = None  # the smoothed map shown last
    shown_box: np.ndarray | None = None
    seen: int = 0  # last frame the track was present
    weights: dict[int, torch.Tensor] | None = None  # channel weights (C,) per layer part
    window: int = 1  # frames the map may be reused after a refresh (see the module docstring)
    record: float | None = None  # running mean of reuse's fidelity found at refreshes


# Tracks whose maps are kept (each a map at its last refresh and the map shown last).
MAX_TRACKS = 200


@dataclass
class MapCache:
    """Per-track maps across frames: plans refreshes, then composes the maps to show."""

    policy: RefreshPolicy = field(default_factory=RefreshPolicy)
    tracks: dict[int, _TrackMap] = field(default_factory=dict)
    ms_per_map: float | None = None  # running estimate, for a budget in ms
    keep_missing: int = 10  # frames a vanished track's map is kept

    def reset(self) -> None:
        self.tracks.clear()

    def plan(
        self,
        track_ids: np.ndarray,
        boxes: np.ndarray,
        labels: np.ndarray,
        scores: np.ndarray,
        frame: int,
        scene_cut: bool = False,
    ) -> np.ndarray:
        """Rows to explain this frame, most urgent first (within the budget)."""
        count = len(track_ids)
        if self.policy.mode == "every-frame" or scene_cut:
            return np.arange(count)
        urgent, stale = [], []
        for row in range(count):
            state = self.tracks.get(int(track_ids[row]))
            if state is None or state.label != int(labels[row]):
                urgent.append(row)
            elif is_stale(
                self.policy, boxes[row], int(labels[row]), float(scores[row]), state, frame
            ):
                stale.append((frame - state.frame, row))
        stale.sort(key=lambda item: -item[0])
        rows = urgent + [row for _, row in stale]
        limit = self.policy.max_refreshes
        if self.policy.budget_ms is not None and self.ms_per_map:
            by_time = int(self.policy.budget_ms // self.ms_per_map)
            limit = by_time if limit is None else min(limit, by_time)
        if limit is not None:
            rows = rows[: max(limit, 0)]
        return np.array(sorted(rows), np.int64)

    def note_cost(self, explain_ms: float, maps: int) -> None:
        """Update the per-map cost estimate used by a budget in ms."""
        if maps <= 0:
            return
        cost = explain_ms / maps
        self.ms_per_map = cost if self.ms_per_map is None else 0.8 * self.ms_per_map + 0.2 * cost

    def _jitters(self, src: np.ndarray | None, dst: np.ndarray) -> bool:
        """Whether ``dst`` differs from ``src`` by less than the jitter dead band."""
        if src is None:
            return False
        size = max(float(np.hypot(src[2] - src[0], src[3] - src[1])), 1e-6)
        return float(np.abs(np.asarray(dst) - np.asarray(src)).max()) < self.policy.jitter * size

    def _follow(
        self, heatmap: torch.Tensor, src: np.ndarray, dst: np.ndarray, scale=(1.0, 1.0)
    ) -> torch.Tensor:
        """A map moved with its box, unless the box only jittered (then left in place);
        ``scale``: (x, y) map pixels per frame pixel of the boxes."""
        if self._jitters(src, dst):
            return heatmap
        to_map = np.float32([scale[0], scale[1], scale[0], scale[1]])
        return warp_map(heatmap, src * to_map, dst * to_map)

    def reform_request(
        self,
        track_ids: np.ndarray,
        labels: np.ndarray,
        fresh_rows,
        scene_cut: bool = False,
    ) -> tuple[list[int], dict[int, torch.Tensor]]:
        """The rows whose kept explanation is formed again from their channel weights this
        frame (kept rows, and the refreshed rows whose reuse is checked: see
        :meth:`compose`), and those weights stacked per part, ``{part: (n, C)}`` (zero rows
        for a part a track has no weights on). Empty unless the policy reuses weights and
        the tracks have them; the caller forms the maps (``step.remap(weights)``) and hands
        them to :meth:`compose`."""
        if self.policy.reuse != "weights":
            return [], {}
        fresh = {int(r) for r in np.asarray(fresh_rows).tolist()}
        count = len(track_ids)
        rows = [r for r in range(count) if r not in fresh]
        if not scene_cut:
            rows += self._checked_rows(track_ids, labels, sorted(fresh))
        wanted = []
        for row in rows:
            state = self.tracks.get(int(track_ids[row]))
            if state is not None and state.weights:
                wanted.append((row, state.weights))
        if not wanted:
            return [], {}
        keys = sorted(set().union(*(weights for _, weights in wanted)))
        stacked = {}
        for key in keys:
            found = [weights.get(key) for _, weights in wanted]
            like = next(w for w in found if w is not None)
            stacked[key] = torch.stack(
                [like.new_zeros(like.shape) if w is None else w for w in found]
            )
        return [row for row, _ in wanted], stacked

    def reused(
        self,
        track_ids: np.ndarray,
        boxes: np.ndarray,
        rows,
        reformed: dict[int, torch.Tensor] | None = None,
        map_scale: tuple[float, float] = (1.0, 1.0),
    ) -> dict[int, tuple[torch.Tensor, bool]]:
        """The kept explanations of ``rows`` on this frame, ``{row: (map, re-formed)}`` (rows of
        tracks never explained are left out): the map formed again from the track's channel
        weights on this frame's activations where ``reformed`` ``{row: map}`` has it (see
        :meth:`reform_request`), else the last map moved with the box."""
        out: dict[int, tuple[torch.Tensor, bool]] = {}
        reformed = reformed or {}
        for row in rows:
            state = self.tracks.get(int(track_ids[row]))
            if state is None:
                continue
            if int(row) in reformed:
                out[int(row)] = (reformed[int(row)], True)
                continue
            box = np.asarray(boxes[row], np.float32)
            out[int(row)] = (self._follow(state.heatmap, state.box, box, map_scale), False)
        return out

    def _checked_rows(self, track_ids, labels, fresh) -> list[int]:
        """Refreshed rows of known tracks (same class): where reuse's map is checked against
        the fresh one to set the track's window (see the module docstring)."""
        if self.policy.fidelity <= 0.0:
            return []
        return [
            row
            for row in fresh
            if (state := self.tracks.get(int(track_ids[row]))) is not None
            and state.label == int(labels[row])
        ]

    def _look_rows(self, track_ids, fresh, frame) -> list[int]:
        """Refreshed rows whose track shows a map from the frame before: the fresh map is
        compared with it, and a very different one starts the smoothing again."""
        if self.policy.smooth_alpha >= 1.0:
            return []
        rows = []
        for row in fresh:
            state = self.tracks.get(int(track_ids[row]))
            if state is not None and state.shown is not None and frame > state.seen:
                rows.append(row)
        return rows

    def compose(
        self,
        track_ids: np.ndarray,
        boxes: np.ndarray,
        labels: np.ndarray,
        scores: np.ndarray,
        fresh_rows: np.ndarray,
        fresh_maps: torch.Tensor,
        frame: int,
        scene_cut: bool = False,
        fresh_weights: dict[int, torch.Tensor] | None = None,
        reformed: dict[int, torch.Tensor] | None = None,
        map_scale: tuple[float, float] = (1.0, 1.0),
    ) -> tuple[torch.Tensor, np.ndarray]:
        """The maps to show (K, H, W) float32 (on the maps' device) and whether each was
        refreshed (K,) bool. ``fresh_maps`` (n, H, W) are the maps of ``fresh_rows``, and
        ``fresh_weights`` ``{part: (n, C)}`` their channel weights, kept for reuse by weights;
        ``reformed`` ``{row: map}`` the maps formed from the weights of
        :meth:`reform_request` on this frame's activations. The maps may be smaller than the
        frame: ``map_scale`` is (x, y) map pixels per frame pixel of the boxes."""
        count = len(track_ids)
        shown = fresh_maps.new_zeros((count, *fresh_maps.shape[-2:]))
        refreshed = np.zeros(count, bool)
        fresh = {int(r): i for i, r in enumerate(fresh_rows)}
        kept_rows = [r for r in range(count) if r not in fresh]
        checked = [] if scene_cut else self._checked_rows(track_ids, labels, fresh)
        looks = [] if scene_cut else self._look_rows(track_ids, fresh, frame)
        formed = self.reused(track_ids, boxes, kept_rows + checked, reformed, map_scale)
        kept = {row: formed[row] for row in kept_rows if row in formed}
        new_look = self._check_reuse(track_ids, fresh_maps, fresh, formed, checked, looks)
        alpha = self.policy.smooth_alpha
        for row in range(count):
            tid, box = int(track_ids[row]), np.asarray(boxes[row], np.float32)
            state = self.tracks.get(tid)
            reformed_now = False
            if row in fresh:
                i = fresh[row]
                weights = {k: w[i] for k, w in fresh_weights.items()} if fresh_weights else None
                seen = (box, int(labels[row]), float(scores[row]), frame, scene_cut)
                state = self._refreshed(tid, state, fresh_maps[i], weights, seen)
                current, refreshed[row] = fresh_maps[i], True
            elif row in kept:
                current, reformed_now = kept[row]
            else:  # over budget and never explained: nothing to show yet
                continue
            previous = None
            if state.shown is not None and not scene_cut and alpha < 1.0 and frame > state.seen:
                if refreshed[row] or reformed_now:  # on this frame's activations, like the last
                    previous = None if row in new_look else state.shown
                else:  # the last map moved with the box: move the last shown one alike
                    previous = self._follow(state.shown, state.shown_box, box, map_scale)
            out = current if previous is None else alpha * current + (1.0 - alpha) * previous
            shown[row] = out
            anchor = box  # the box the shown map is aligned with
            if not (refreshed[row] or reformed_now) and self._jitters(state.shown_box, box):
                anchor = state.shown_box  # the map stayed put: keep its anchor
            state.shown, state.shown_box, state.seen = out, anchor, frame
        self._forget_old(frame)
        return shown, refreshed

    def _check_reuse(self, track_ids, fresh_maps, fresh, formed, checked, looks) -> set[int]:
        """Reuse's map against the fresh one (sets each checked track's window), and the last
        shown map against the fresh one: one batched correlation, one host round trip per
        frame. Returns the rows whose fresh map is a new look (smoothing starts again)."""
        found = coarse_correlations(
            [(formed[row][0], fresh_maps[fresh[row]]) for row in checked]
            + [(self.tracks[int(track_ids[row])].shown, fresh_maps[fresh[row]]) for row in looks]
        )
        for row, score in zip(checked, found[: len(checked)], strict=True):
            state = self.tracks[int(track_ids[row])]
            state.record = score if state.record is None else 0.5 * (state.record + score)
            state.window = self.policy.next_window(state.window, score, state.record)
        return {
            row
            for row, c in zip(looks, found[len(checked) :], strict=True)
            if c < self.policy.reset_corr
        }

    def _refreshed(self, tid, state, current, weights, seen) -> _TrackMap:
        """The track's state after a refresh (``seen``: its box, label, score, the frame and
        whether it follows a scene cut). It keeps a copy of its own of the fresh map: a view
        would keep the whole batch of fresh maps alive for as long as the track reuses it."""
        box, label, score, frame, scene_cut = seen
        kept_map = current.clone()
        if state is None:
            window = self.policy.start_window()
            state = _TrackMap(kept_map, box, label, score, frame, window=window)
            self.tracks[tid] = state
        else:
            if scene_cut or state.label != label:  # a new look: start again
                state.window, state.record = self.policy.start_window(), None
            state.heatmap, state.box, state.frame = kept_map, box, frame
            state.label, state.score = label, score
        state.weights = weights
        return state

    def _forget_old(self, frame: int) -> None:
        """Drop tracks missing for more than ``keep_missing`` frames, and the least recently
        seen beyond :data:`MAX_TRACKS`; a track that went missing this frame gets a copy of its
        shown map, so that it does not keep this frame's whole batch of maps alive. The
        memory is then bounded: at most ``MAX_TRACKS`` x 2 maps (each within the engine's
        ``MAP_SIDE``)."""
        for tid in [t for t, s in self.tracks.items() if frame - s.seen > self.keep_missing]:
            del self.tracks[tid]
        if len(self.tracks) > MAX_TRACKS:
            by_age = sorted(self.tracks, key=lambda t: self.tracks[t].seen)
            for tid in by_age[: len(self.tracks) - MAX_TRACKS]:
                del self.tracks[tid]
        for state in self.tracks.values():
            missing = state.seen < frame and state.shown is not None
            if missing and state.shown._base is not None:  # a view into an older frame's maps
                state.shown = state.shown.clone()
