"""Traffic coming on: the opening traffic, vehicle decks, walkers, crossers and cross
traffic."""

from __future__ import annotations

from live_explain.synthetic.scene.constants import BIKE_X, FPS, LANES, ONCOMING_X
from live_explain.synthetic.scene.palette import _pick
from live_explain.synthetic.scene.world_objects import _Intersection, _Vehicle


class SpawningMixin:
    """``DrivingScene`` part: decides which road users come on, and where."""

    def _populate(self) -> None:
        """Traffic already under way at the first frame, every kind of vehicle among it."""
        rng = self._rng
        s_cam = self._s_cam
        for kind in ("bicycle", "motorcycle", "bus", "truck"):
            lane = BIKE_X if kind == "bicycle" else float(_pick(rng, (LANES[0], LANES[2])))
            v = self._make_vehicle(kind, 0.0, lane, 0)
            for _ in range(4):
                v.s = s_cam + rng.uniform(25.0, 90.0)
                if self._free(self._vehicles, v, 8.0):
                    self._vehicles.append(v)
                    self._spawned[kind] = 0
                    break
        for lane in (*LANES, BIKE_X):
            s = s_cam + (20.0 if lane == 0.0 else 6.0) + rng.uniform(0.0, 25.0)
            while s < s_cam + 160.0 and len(self._vehicles) <= self._density + 2:
                kind = "bicycle" if lane == BIKE_X else self._draw(self._deck, "same")
                if (kind == "bicycle") == (lane == BIKE_X) and rng.random() < 0.75:
                    v = self._make_vehicle(kind, s, lane, 0)
                    if lane == 0.0 and not self._may_lead(v):
                        v.x = v.x_target = _pick(rng, (LANES[0], LANES[2]))
                    if self._free(self._vehicles, v, 6.0):
                        self._vehicles.append(v)
                s += rng.uniform(25.0, 70.0) * (2.5 if lane == BIKE_X else 1.0)
        for _ in range(int(rng.integers(1, 4))):
            v = self._make_vehicle(
                self._draw(self._deck_on, "oncoming"),
                s_cam + rng.uniform(30.0, 180.0),
                ONCOMING_X,
                1,
            )
            if self._free(self._oncoming, v, 8.0):
                self._oncoming.append(v)

    def _overdue(self) -> str | None:
        """A vehicle kind neither seen nor sent for 10 s. Decks alone can keep a kind out of
        view for long (its spawns fail, or it drives off unseen), so such a kind is sent in
        where it shows at once."""
        for kind in ("motorcycle", "bicycle", "bus", "truck", "car"):
            last = max(self._seen.get(kind, 0), self._spawned.get(kind, 0))
            if self._frame - last > 10.0 * FPS:
                return kind
        return None

    def _spawn_due(self, kind: str) -> None:
        rng = self._rng
        s_cam, ego = self._s_cam, self._ego
        if kind == "bicycle":
            v = self._make_vehicle(kind, s_cam + rng.uniform(45.0, 70.0), BIKE_X, 0)
            group = self._vehicles
        elif rng.random() < 0.5:  # overtakes us in a side lane: big, at once
            v = self._make_vehicle(kind, s_cam - 30.0, _pick(rng, (LANES[0], LANES[2])), 0)
            v.v_des = v.speed = max(v.v_des, ego.speed + 3.0)
            group = self._vehicles
        else:  # oncoming: closes in fast
            v = self._make_vehicle(kind, s_cam + rng.uniform(100.0, 130.0), ONCOMING_X, 1)
            group = self._oncoming
        if self._free(group, v, 10.0):
            group.append(v)
            self._spawned[kind] = self._frame

    def _may_lead(self, v: _Vehicle) -> bool:
        """Whether ``v`` may drive in our lane: only vehicles about as fast as we want to go,
        or we would crawl behind them (staring at their back) for the rest of the drive."""
        return v.v_des >= self._ego.v_des - 1.0

    def _draw(self, deck: list, which: str) -> str:
        """Next vehicle kind from a shuffled deck: every kind comes up within one deck."""
        if not deck:
            if which == "same":
                cards = ["car"] * 8 + ["truck"] * 2 + ["bus", "motorcycle", "bicycle", "bicycle"]
            elif which == "oncoming":
                cards = ["car"] * 6 + ["truck", "bus", "motorcycle"]
            else:
                cards = ["car"] * 8 + ["truck", "bus", "motorcycle", "bicycle"]
            deck.extend(cards[i] for i in self._rng.permutation(len(cards)))
        return deck.pop()

    def _spawn_walker(self, s: float) -> None:
        rng = self._rng
        side = 1 if rng.random() < 0.6 else -1
        x = float(rng.uniform(7.9, 9.4) if side > 0 else rng.uniform(-12.6, -11.0))
        if self._near_inter(s, 0.0) and rng.random() < 0.5:
            return
        standing = rng.random() < 0.15
        heading = 0 if rng.random() < 0.5 else 1
        p = self._make_person(s, x, heading, 0.0 if standing else float(rng.uniform(1.1, 1.7)))
        for q in self._people:
            if abs(q.x - p.x) < 0.7 and abs(q.s - p.s) < 1.0:
                return
        self._people.append(p)

    @staticmethod
    def _free(group: list[_Vehicle], v: _Vehicle, margin: float) -> bool:
        """Whether ``v`` would overlap nothing in ``group`` (with ``margin`` metres along it)."""
        for o in group:
            if (
                abs(o.x - v.x) < (o.width + v.width) / 2 + 0.3
                and abs(o.s - v.s) < (o.length + v.length) / 2 + margin
            ):
                return False
        return True

    def _spawn(self) -> None:
        rng = self._rng
        s_cam = self._s_cam
        ego = self._ego
        count = sum(1 for v in self._vehicles if -30.0 < v.s - s_cam < 200.0) - 1
        due = self._overdue()
        if due is not None and rng.random() < 0.05:
            self._spawn_due(due)
        elif count < self._density and rng.random() < 0.05:
            kind = self._draw(self._deck, "same")
            if kind == "bicycle":
                v = self._make_vehicle(kind, s_cam + rng.uniform(85.0, 100.0), BIKE_X, 0)
            else:
                x = float(
                    rng.choice(
                        LANES,
                        p=(0.25, 0.35, 0.4) if kind in ("truck", "bus") else (0.35, 0.3, 0.35),
                    )
                )
                v = self._make_vehicle(kind, 0.0, x, 0)
                if v.v_des > ego.v_des + 0.5:
                    # Faster than us: it would only be seen leaving, so it comes from behind
                    # in a side lane and overtakes.
                    if x == 0.0:
                        v.x = v.x_target = LANES[0] if rng.random() < 0.5 else LANES[2]
                    v.s = s_cam - 35.0
                    v.speed = max(v.v_des, ego.speed + 3.0)
                else:
                    v.s = s_cam + rng.uniform(115.0, 135.0)  # about where it gets 6 px tall
                    if x == 0.0 and not self._may_lead(v):
                        v.x = v.x_target = _pick(rng, (LANES[0], LANES[2]))
            if self._free(self._vehicles, v, 10.0):
                self._vehicles.append(v)
                self._spawned[kind] = self._frame
            else:
                self._deck.append(kind)  # try this kind again later
        count = sum(1 for v in self._oncoming if v.s - s_cam < 200.0)
        if count < self._oncoming_density and rng.random() < 0.03:
            kind = self._draw(self._deck_on, "oncoming")
            v = self._make_vehicle(kind, s_cam + rng.uniform(180.0, 200.0), ONCOMING_X, 1)
            if self._free(self._oncoming, v, 12.0):
                self._oncoming.append(v)
                self._spawned[kind] = self._frame
            else:
                self._deck_on.append(kind)
        for it in self._inters:
            z = it.s - s_cam
            if z < 8.0 or z > 150.0:
                continue
            red = it.state(self._t) == "red"
            if it.kind == "signal":
                if red and not it.was_red:
                    for _ in range(int(rng.integers(0, 4))):
                        self._spawn_crosser(it.walk_near + rng.uniform(-1.0, 1.0), it.walk_near)
                it.was_red = red
                since = it.red_time(self._t)
                if 0.5 < since < it.RED - 2.5:
                    self._spawn_cross_traffic(it, z)
            elif rng.random() < 0.002:
                self._spawn_crosser(it.walk_near + rng.uniform(-1.0, 1.0), None)
        if rng.random() < 0.0012:
            s = s_cam + rng.uniform(35.0, 80.0)
            if not self._near_inter(s, 5.0):
                self._spawn_crosser(s, None)

    def _spawn_crosser(self, s: float, crosswalk: float | None) -> None:
        rng = self._rng
        if sum(1 for q in self._people if q.state != "walk") >= 4:
            return
        right = rng.random() < 0.5
        x0, x1 = (8.2, -11.6) if right else (-11.6, 8.2)
        for q in self._people:
            if abs(q.s - s) < 0.8 and abs(q.x - x0) < 1.0:
                return
        p = self._make_person(s, x0, 3 if right else 2, float(rng.uniform(1.4, 1.9)))
        p.state, p.x_end, p.crosswalk = "wait", x1, crosswalk
        self._people.append(p)

    def _spawn_cross_traffic(self, it: _Intersection, z: float) -> None:
        rng = self._rng
        for heading, ds in ((2, -it.half / 2), (3, it.half / 2)):
            if rng.random() > 0.05:
                continue
            last = it.cross_last.get(heading)
            if last is not None and last in self._cross and abs(last.x - last.geo["x0"]) < 15.0:
                continue
            kind = self._draw(self._deck_x, "cross")
            x0 = (self._cx / self._f * (z + ds) + 8.0) * (-1 if heading == 2 else 1)
            v = self._make_vehicle(kind, it.s + ds, x0, heading)
            v.speed = v.v_des = min(v.v_des, 11.0)
            v.geo = dict(v.geo, x0=x0)
            self._cross.append(v)
            it.cross_last[heading] = v
