"""Generation of the static world ahead: intersections with their lights and stop signs,
buildings, houses, trees, street lights and road decals."""

from __future__ import annotations

import numpy as np

from live_explain.synthetic.scene.constants import WALK_L, WALK_R
from live_explain.synthetic.scene.palette import _pick, _scale
from live_explain.synthetic.scene.world_objects import _Intersection, _Prop


class WorldGenerationMixin:
    """``DrivingScene`` part: lays out the world ahead of the camera as it drives on."""

    # -- world generation ------------------------------------------------------------------------
    def _generate(self, upto: float) -> None:
        rng = self._rng
        while self._gen_s < upto:
            s0, s1 = self._gen_s, self._gen_s + 10.0
            if not self._inter_plan:
                last = self._inters[-1].s if self._inters else s0
                kind = "signal" if rng.random() < 0.65 else "stop"
                self._inter_plan.append((max(last, s0) + rng.uniform(110.0, 230.0), kind))
            while self._inter_plan and self._inter_plan[0][0] < s1:
                s, kind = self._inter_plan.pop(0)
                self._make_intersection(s, kind)
            for side in (1, -1):
                self._gen_side(side, s1)
            while self._decal_s < s1:
                self._decal_s += rng.uniform(12.0, 40.0)
                if not self._near_inter(self._decal_s, 2.0):
                    x = float(rng.uniform(-8.5, 5.0))
                    if rng.random() < 0.35:
                        self._decals.append(("manhole", self._decal_s, x, 0.7, 0.7))
                    else:
                        length = float(rng.uniform(1.0, 4.0))
                        width = float(rng.uniform(0.6, 2.2))
                        self._decals.append(("patch", self._decal_s, x, length, width))
            if rng.random() < self._walker_rate * 1.2:
                self._spawn_walker(float(rng.uniform(s0, s1)))
            self._gen_s = s1

    def _near_inter(self, s: float, margin: float) -> bool:
        return any(
            it.s - it.half - 5.0 - margin < s < it.s + it.half + 5.0 + margin for it in self._inters
        )

    def _make_intersection(self, s: float, kind: str) -> None:
        rng = self._rng
        it = _Intersection(
            self._new_id(),  # unique: vehicles remember which stop signs they stopped at
            s,
            kind,
            float(rng.uniform(5.5, 7.5)),
            float(rng.uniform(0, 20)),
        )
        if not self._inters:
            # The first light is green when we get there: a drive should not open with a
            # long wait at red.
            arrival = (s - self._s_cam) / self._cruise
            it.offset = float(rng.uniform(0.0, max(0.0, it.GREEN - arrival - 3.0)))
        self._inters.append(it)
        yellow = rng.random() < 0.3
        if kind == "signal":
            # Near side: a light on a pole at the right corner; far side: a mast arm over our
            # lanes with two lights and a pole light on the far left corner.
            xr, xl = WALK_R[0] + 0.45, WALK_L[1] - 0.45
            pole_s = it.stop_near + 0.6
            self._props.append(_Prop("pole", pole_s, xr, 1, data={"h": 3.6, "w": 0.16}))
            self._add_light(pole_s - 0.25, xr, 2.6, it, yellow)
            far_s = it.s + it.half + 1.5
            arm_to = float(rng.uniform(-2.5, -0.5))
            self._props.append(
                _Prop("mast", far_s, xr, 1, data={"h": 6.9, "to": arm_to}, width=xr - arm_to)
            )
            over = [3.5 if rng.random() < 0.5 else 2.0]
            if rng.random() < 0.5:
                over.append(0.0 if arm_to < -0.6 else 0.6)
            for x in over:
                self._add_light(far_s - 0.2, x, 5.5, it, yellow)
            if rng.random() < 0.5:
                self._props.append(_Prop("pole", far_s, xl, 1, data={"h": 3.6, "w": 0.16}))
                self._add_light(far_s - 0.25, xl, 2.6, it, yellow)
        else:
            # Our approach has three lanes, so it gets a second sign on the left.
            sign_s = it.stop_near + 0.8
            for x in (WALK_R[0] + 0.5, WALK_L[1] - 0.5):
                self._props.append(_Prop("stop", sign_s, x, 1, track_id=self._new_id()))

    def _add_light(self, s: float, x: float, y0: float, it: _Intersection, yellow: bool) -> None:
        body = (20, 150, 200) if yellow else (38, 38, 40)
        self._props.append(
            _Prop(
                "light",
                s,
                x,
                1,
                track_id=self._new_id(),
                data={"y0": y0, "inter": it, "body": body},
            )
        )

    def _gen_side(self, side: int, upto: float) -> None:
        """Clutter on one side of the road: buildings or houses, trees, street lights."""
        rng = self._rng
        walk = WALK_R if side > 0 else WALK_L
        outer = walk[1] if side > 0 else walk[0]
        curb = walk[0] if side > 0 else walk[1]
        while self._side_s[side] < upto:
            s = self._side_s[side]
            if self._urban:
                length = float(rng.uniform(10.0, 30.0))
                depth = float(rng.uniform(10.0, 22.0))
                x_near = outer + side * float(rng.uniform(0.3, 2.5))
                height = float(rng.choice([rng.uniform(5.0, 12.0), rng.uniform(10.0, 30.0)]))
                kind, gap = (
                    "building",
                    float(rng.choice([rng.uniform(0.0, 3.0), rng.uniform(6, 14)])),
                )
            else:
                length = float(rng.uniform(9.0, 15.0))
                depth = float(rng.uniform(8.0, 12.0))
                x_near = outer + side * float(rng.uniform(6.0, 14.0))
                height = float(rng.uniform(2.8, 3.4))
                kind, gap = "house", float(rng.uniform(6.0, 20.0))
            if not any(self._near_inter(s + k, 1.0) for k in np.linspace(0.0, length, 4).tolist()):
                self._props.append(self._building(kind, s, x_near, side, length, depth, height))
                if kind == "house" and rng.random() < 0.7:
                    tx = outer + side * float(rng.uniform(1.5, abs(x_near - outer) - 1.0))
                    self._props.append(self._tree(s + length + gap / 2, tx, 0))
                if kind == "house" and rng.random() < 0.4:
                    self._props.append(
                        _Prop(
                            "hedge",
                            s,
                            outer + side * 0.8,
                            0,
                            data={"h": float(rng.uniform(0.8, 1.3)), "side": side},
                            length=length,
                            width=0.8,
                        )
                    )
            self._side_s[side] = s + length + gap
        while self._tree_s[side] < upto:
            s = self._tree_s[side] + float(rng.uniform(12.0, 28.0))
            self._tree_s[side] = s
            if not self._near_inter(s, 2.0) and rng.random() < 0.8:
                self._props.append(self._tree(s, curb + side * 0.8, 1))
        while self._lamp_s[side] < upto:
            s = self._lamp_s[side] + float(rng.uniform(30.0, 45.0))
            self._lamp_s[side] = s
            if not self._near_inter(s, 3.0):
                x = curb + side * 0.35
                self._props.append(_Prop("lamp", s, x, 1, data={"side": side}))
                if not self._urban and rng.random() < 0.5:
                    self._props.append(_Prop("utility", s + 15.0, outer + side * 0.6, 0))

    def _building(self, kind, s, x_near, side, length, depth, height) -> _Prop:
        rng = self._rng
        if kind == "building":
            facade = _pick(
                rng,
                (
                    (70, 85, 150),
                    (150, 170, 190),
                    (120, 120, 120),
                    (200, 205, 210),
                    (60, 70, 110),
                    (160, 150, 140),
                    (110, 130, 160),
                ),
            )
        else:
            facade = _pick(
                rng, ((200, 215, 225), (150, 180, 210), (210, 200, 190), (130, 150, 170))
            )
        roof = _pick(rng, ((50, 55, 70), (40, 50, 110), (80, 80, 85)))
        # Windows lit after dark; drawn for every scene so that lighting leaves the world as is.
        floors = max(1, int((height - 1.0) / 3.2))
        lit = [
            (float(rng.uniform(0.05, 0.9)), int(rng.integers(0, floors)))
            for _ in range(int(rng.integers(2, 8)))
        ]
        data = {
            "side": side,
            "depth": depth,
            "h": height,
            "facade": facade,
            "roof": roof,
            "shop": bool(rng.random() < 0.5),
            "lit": lit,
            "col": float(rng.uniform(2.2, 3.2)),
        }
        return _Prop(kind, s, x_near, 0, data=data, length=length, width=depth)

    def _tree(self, s: float, x: float, tier: int) -> _Prop:
        rng = self._rng
        green = _pick(rng, ((50, 110, 60), (40, 90, 55), (60, 120, 90), (45, 100, 80)))
        data = {
            "trunk": float(rng.uniform(2.0, 3.2)),
            "r": float(rng.uniform(1.4, 2.5)),
            "crown": [self._lit(_scale(green, 0.8 + 0.15 * i)) for i in range(3)],
            "conifer": bool(rng.random() < 0.2),
            "lobes": [
                (float(rng.uniform(-0.6, 0.6)), float(rng.uniform(-0.3, 0.5))) for _ in range(3)
            ],
        }
        return _Prop("tree", s, x, tier, data=data)
