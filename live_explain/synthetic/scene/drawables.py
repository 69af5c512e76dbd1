"""What to draw each frame, in painter's order, and the dispatch to the object builders."""

from __future__ import annotations

import functools
import math

from live_explain.synthetic.scene.constants import _ROT, CAM_H, DRAW_FAR, GEN_AHEAD, WALK_L, WALK_R
from live_explain.synthetic.scene.mesh import _Mesh


def _farther_first(a: tuple, b: tuple) -> int:
    """Painter's order of two footprints (x_lo, x_hi, z_lo, z_hi, dist, ...): -1 draws ``a``
    first. Disjoint axis-aligned footprints are separated along z or x; the farther one along
    the separating axis is drawn first (when both axes separate, they cannot overlap on screen
    in conflicting ways). Overlapping footprints fall back to distance."""
    if a[2] >= b[3]:
        return -1
    if b[2] >= a[3]:
        return 1
    if a[0] >= b[1] and a[0] > 0:  # both right of the camera, a farther out
        return -1
    if b[0] >= a[1] and b[0] > 0:
        return 1
    if a[1] <= b[0] and a[1] < 0:  # both left, a farther out
        return -1
    if b[1] <= a[0] and b[1] < 0:
        return 1
    return -1 if a[4] > b[4] else (1 if a[4] < b[4] else 0)


class DrawablesMixin:
    """``DrivingScene`` part: lists, orders and builds the frame's drawables."""

    def _drawables(self) -> list:
        """Everything to draw this frame as (tier, kind, object, nearest z), in painter's order.

        Tier 0 (beyond the sidewalks: buildings, lawns, cross traffic out there) comes first,
        ordered pairwise by a separating axis, which is exact for disjoint footprints; tier 1
        (the street) follows, far to near by distance to the nearest footprint point, which is
        right for objects of street size."""
        s_cam = self._s_cam
        f, cx, w = self._f, self._cx, self.width
        back, front = [], []

        def add(kind, obj, tier, x_lo, x_hi, z_lo, z_hi, far=DRAW_FAR):
            if z_hi < 0.5 or z_lo > far:
                return
            zf = max(z_hi, 1.0)
            if x_hi < 0 and cx + f * x_hi / zf < -2:
                return  # wholly left of the view
            if x_lo > 0 and cx + f * x_lo / zf > w + 2:
                return
            dx = 0.0 if x_lo <= 0.0 <= x_hi else min(abs(x_lo), abs(x_hi))
            dist = math.hypot(dx, max(z_lo, 0.0))
            if tier == 0:
                back.append((x_lo, x_hi, z_lo, z_hi, dist, kind, obj))
            else:
                front.append((-dist, len(front), kind, obj, z_lo))

        for group in (self._vehicles, self._oncoming):
            for v in group:
                if v.kind == "ego":
                    continue
                z = v.s - s_cam
                hl, hw = v.length / 2, v.width / 2
                if f * v.height / max(z - hl, 1.0) < 2.0:
                    continue
                add("vehicle", v, 1, v.x - hw - 0.4, v.x + hw + 0.4, z - hl, z + hl)
        for v in self._cross:
            z = v.s - s_cam
            hl, hw = v.length / 2, v.width / 2
            x_lo, x_hi = v.x - hl, v.x + hl
            tier = 0 if x_lo > WALK_R[1] or x_hi < WALK_L[0] else 1
            add("vehicle", v, tier, x_lo, x_hi, z - hw, z + hw)
        for p in self._people:
            z = p.s - s_cam
            if f * p.height / max(z, 1.0) < 3.0:
                continue
            add("person", p, 1, p.x - 0.3, p.x + 0.3, z - 0.3, z + 0.3)
        for pr in self._props:
            z = pr.s - s_cam
            kind = pr.kind
            if kind in ("building", "house"):
                x_lo, x_hi = (
                    (pr.x, pr.x + pr.width) if pr.data["side"] > 0 else (pr.x - pr.width, pr.x)
                )
                add(kind, pr, 0, x_lo, x_hi, z, z + pr.length, GEN_AHEAD)
            elif kind == "hedge":
                add(kind, pr, 0, pr.x - 0.4, pr.x + 0.4, z, z + pr.length, GEN_AHEAD)
            elif kind == "mast":
                to = pr.data["to"]
                add(kind, pr, 1, min(pr.x, to), max(pr.x, to), z - 0.15, z + 0.15)
            elif kind == "light":
                add(kind, pr, 1, pr.x - 0.3, pr.x + 0.3, z - 0.33, z - 0.07)
            else:
                add(kind, pr, pr.tier, pr.x - 0.3, pr.x + 0.3, z - 0.3, z + 0.3, GEN_AHEAD)
        back.sort(key=functools.cmp_to_key(_farther_first))
        front.sort()
        return [(0, b[5], b[6], b[2]) for b in back] + [(1, *fr[2:]) for fr in front]

    @staticmethod
    def _owners(kind: str, obj) -> list:
        """(owner index, label, track id) of the labelled parts of a drawable."""
        if kind == "vehicle":
            if obj.rider is not None:
                return [(0, obj.kind, obj.track_id), (1, "person", obj.rider.track_id)]
            return [(0, obj.kind, obj.track_id)]
        if kind == "person":
            return [(0, "person", obj.track_id)]
        if kind == "light":
            return [(0, "traffic light", obj.track_id)]
        if kind == "stop":
            return [(0, "stop sign", obj.track_id)]
        return []

    def _build(self, kind: str, obj, mesh: _Mesh) -> tuple[float, float, int]:
        """Add one drawable to ``mesh``; returns its placement (x, z, heading)."""
        s_cam = self._s_cam
        tx, tz = obj.x, obj.s - s_cam
        mesh.owner = 0
        if kind == "vehicle":
            heading = obj.heading
            cam = self._cam_local(tx, tz, heading)
            detail = self._f * obj.height / max(tz - obj.length / 2, 1.0)  # pixels tall
            if obj.kind == "car" or obj.variant == "pickup":
                self._build_car(mesh, obj, cam, detail)
            elif obj.kind == "truck":
                self._build_truck(mesh, obj, cam, detail)
            elif obj.kind == "bus":
                self._build_bus(mesh, obj, cam, detail)
            else:
                self._build_bike(mesh, obj, cam, detail)
            return tx, tz, heading
        if kind == "person":
            cam = self._cam_local(tx, tz, obj.heading)
            self._build_person(mesh, obj, cam, self._f * obj.height / max(tz, 1.0))
            return tx, tz, obj.heading
        cam = (-tx, CAM_H, -tz)
        detail = self._f / max(tz, 1.0)  # pixels per metre
        if kind == "light":
            self._build_light(mesh, obj, cam, detail)
        elif kind == "stop":
            self._build_stop(mesh, obj, detail)
        elif kind in ("building", "house"):
            self._build_building(mesh, obj, cam, tz)
        else:
            self._build_clutter(mesh, obj, cam, detail)
        return tx, tz, 0

    @staticmethod
    def _cam_local(tx: float, tz: float, heading: int) -> tuple[float, float, float]:
        a, b, c, d = _ROT[heading]
        return (-a * tx - c * tz, CAM_H, -b * tx - d * tz)
