"""One simulation step: the intelligent-driver model, lane changes, people walking and
crossing, and culling what is left behind."""

from __future__ import annotations

import math

from live_explain.synthetic.scene.constants import (
    DT,
    GEN_AHEAD,
    IDM_A,
    IDM_B,
    IDM_S0,
    IDM_T,
    INF,
    LANES,
)
from live_explain.synthetic.scene.world_objects import _Person, _Vehicle


class SimulationMixin:
    """``DrivingScene`` part: moves the world on by one frame."""

    # -- simulation --------------------------------------------------------------------------------
    def _step(self) -> None:
        self._t += DT
        self._frame += 1
        self._generate(self._s_cam + GEN_AHEAD)
        self._spawn()
        obstacles = self._lateral_obstacles()
        self._drive(self._vehicles, 1, obstacles)
        self._drive(self._oncoming, -1, obstacles)
        self._move_cross()
        self._move_people()
        self._odo += self._ego.speed * DT
        self._cull()

    def _lateral_obstacles(self) -> list[tuple[float, float, float, float]]:
        """People on the road and crossing traffic: (x_lo, x_hi, s_lo, s_hi) to stop for."""
        out = []
        for p in self._people:
            if p.state == "cross":
                ahead = p.x + (1 if p.heading == 2 else -1) * max(p.speed, 1.0) * 1.5
                out.append((min(p.x, ahead) - 0.4, max(p.x, ahead) + 0.4, p.s - 0.5, p.s + 0.5))
        for v in self._cross:
            half = v.length / 2
            out.append((v.x - half - 1.5, v.x + half + 1.5, v.s - v.width / 2, v.s + v.width / 2))
        return out

    def _drive(self, group: list[_Vehicle], sg: int, obstacles: list) -> None:
        """One IDM step for every vehicle in ``group`` (all moving along ``sg``)."""
        t = self._t
        inters = [it for it in self._inters if -30.0 < it.s - self._s_cam < 220.0]
        for v in group:
            front = v.s * sg + v.length / 2
            lo = min(v.x, v.x_target) - v.width / 2 - 0.25
            hi = max(v.x, v.x_target) + v.width / 2 + 0.25
            gap, lead_v = INF, 0.0
            centre = v.s * sg
            for o in group:
                if o is v or o.x + o.width / 2 < lo or o.x - o.width / 2 > hi:
                    continue
                po = o.s * sg
                if po <= centre:
                    continue
                g = po - o.length / 2 - front
                if g < gap:
                    gap, lead_v = g, o.speed
            for xl, xh, sl, sh in obstacles:
                if xh < lo or xl > hi:
                    continue
                near, far = (sl, sh) if sg > 0 else (-sh, -sl)
                if far < front - 0.5 or near - front > 80.0:
                    continue
                g = max(near - front, 0.1)
                if g < gap:
                    gap, lead_v = g, 0.0
            for it in inters:
                line = it.stop_near if sg > 0 else it.stop_far
                g = line * sg - front
                if g < -0.5 or g > 90.0:
                    continue
                if it.kind == "signal":
                    st = it.state(t)
                    if st == "green":
                        continue
                    brake = 3.5 if st == "amber" else 7.0
                    if g < v.speed * v.speed / (2 * brake):
                        continue  # too late to stop: go on
                else:
                    if it.ident in v.done:
                        continue
                    if v.speed < 0.3 and g < 4.5:
                        v.wait += DT
                        if v.wait > 1.2:
                            v.done.add(it.ident)
                            v.wait = 0.0
                            continue
                g = max(g, 0.1)
                if g < gap:
                    gap, lead_v = g, 0.0
            speed = v.speed
            a = IDM_A * (1.0 - (speed / max(v.v_des, 0.1)) ** 4)
            if gap < INF:
                s_star = IDM_S0 + max(
                    0.0, speed * IDM_T + speed * (speed - lead_v) / (2 * math.sqrt(IDM_A * IDM_B))
                )
                a -= IDM_A * (s_star / max(gap, 0.1)) ** 2
            a = max(a, -9.0)
            v.accel = a
            v.speed = max(0.0, speed + a * DT)
            v.s += sg * v.speed * DT
            v.phase += v.speed * DT / 0.35
            if v.x != v.x_target:
                step = 1.1 * DT
                v.x = (
                    v.x_target
                    if abs(v.x_target - v.x) <= step
                    else v.x + math.copysign(step, v.x_target - v.x)
                )
            elif (
                sg > 0
                and v.kind not in ("ego", "bicycle")
                and (self._frame + v.track_id) % 10 == 0
                and (
                    (gap < 35.0 and lead_v < v.v_des - 2.5)
                    # a slow vehicle just ahead of us moves over, or we would crawl behind
                    # it (and stare at its back) for the rest of the drive
                    or (
                        v.x == 0.0
                        and 0.0 < v.s - self._ego.s < 60.0
                        and v.v_des < self._ego.v_des - 1.5
                    )
                )
            ):
                self._change_lane(v, group)

    def _change_lane(self, v: _Vehicle, group: list[_Vehicle]) -> None:
        options = [
            x
            for x in (v.x - 3.5, v.x + 3.5)
            if any(abs(x - lane) < 0.01 for lane in LANES) and (x != 0.0 or self._may_lead(v))
        ]
        if len(options) == 2 and self._rng.random() < 0.5:
            options.reverse()
        for x in options:
            safe = True
            for o in group:
                if o is v:
                    continue
                beside = abs(o.x - x) < 2.4 or abs(o.x_target - x) < 2.4
                if (
                    beside
                    and o.s - o.length / 2 < v.s + v.length / 2 + 20.0
                    and o.s + o.length / 2 > v.s - v.length / 2 - 12.0
                ):
                    safe = False
                    break
            if safe:
                v.x_target = x
                return

    def _move_cross(self) -> None:
        for v in self._cross:
            v.x += (1 if v.heading == 2 else -1) * v.speed * DT
            v.phase += v.speed * DT / 0.35

    def _move_people(self) -> None:
        for p in self._people:
            if p.state == "wait":
                if not self._crossing_safe(p):
                    continue
                p.state = "cross"
            step = p.speed * DT
            if p.heading == 0:
                p.s += step
            elif p.heading == 1:
                p.s -= step
            elif p.heading == 2:
                p.x += step
            else:
                p.x -= step
            p.phase += step / (0.36 * p.height)
            if p.state == "cross" and (p.x - p.x_end) * (1 if p.heading == 2 else -1) >= 0:
                p.state = "walk"  # across: walk on along the sidewalk
                p.heading = 0 if p.track_id % 2 else 1
                p.x = p.x_end + (-0.4 if p.x_end > 0 else 0.4)

    def _crossing_safe(self, p: _Person) -> bool:
        """A person at the curb steps out only when no vehicle is about to reach them. With a
        walk signal (``p.crosswalk`` set) only vehicles at or just before the crosswalk count:
        the others stop at the line."""
        reach = 6.0 if p.crosswalk is not None else 25.0
        for group, sg in ((self._vehicles, 1), (self._oncoming, -1)):
            for v in group:
                g = p.s * sg - (v.s * sg + v.length / 2)
                if -v.length - 1.0 < g < reach and (v.speed > 1.0 or g < 1.5):
                    return False
        return True

    def _cull(self) -> None:
        s_cam = self._s_cam
        self._vehicles = [
            v for v in self._vehicles if v.kind == "ego" or -45.0 < v.s - s_cam < 280.0
        ]
        self._oncoming = [v for v in self._oncoming if v.s - s_cam > -25.0]
        half_w = self._cx / self._f
        self._cross = [
            v for v in self._cross if v.s - s_cam > 3.0 and abs(v.x) < half_w * (v.s - s_cam) + 14.0
        ]
        self._people = [p for p in self._people if -3.0 < p.s - s_cam < 280.0]
        self._props = [p for p in self._props if p.s + p.length - s_cam > -2.0]
        self._inters = [it for it in self._inters if it.s + it.half + 30.0 > s_cam]
        self._decals = [d for d in self._decals if d[1] + 5.0 > s_cam]
