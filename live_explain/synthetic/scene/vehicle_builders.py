"""Vehicle meshes: cars, pickups, trucks, buses, motorcycles and bicycles, with their lights."""

from __future__ import annotations

from live_explain.synthetic.scene.mesh import _circle, _Mesh, _quad_on
from live_explain.synthetic.scene.palette import _scale
from live_explain.synthetic.scene.world_objects import _Vehicle


def _wheels(m, axles, cz, half_width, wr, tyre, cam) -> None:
    """A pair of wheels (one box across the vehicle) per axle, the farthest from the camera
    first so that nearer ones are drawn over it."""
    for za in sorted(axles, key=lambda z: -abs(cz - z)):
        m.box(-half_width, half_width, 0.0, 2 * wr, za - wr, za + wr, tyre, tyre, tyre, cam)


def _ground_shadow(m, half_width: float, half_length: float, colour) -> None:
    """The dark rectangle on the road under a vehicle (owner -1: outside its truth box)."""
    m.owner = -1
    m.poly(
        (
            (-half_width, 0.0, -half_length),
            (half_width, 0.0, -half_length),
            (half_width, 0.0, half_length),
            (-half_width, 0.0, half_length),
        ),
        colour,
        False,
    )
    m.owner = 0


class VehicleBuildersMixin:
    """``DrivingScene`` part: adds vehicles to a frame's mesh."""

    # -- object builders (local frame: +z forward, +x right, y up, origin on the ground) ---------
    def _tail(self, v: _Vehicle):
        if v.accel < -1.0 or v.speed < 0.3:
            return (70, 70, 255), ((0, 0, 255), 0.3)  # brake lights
        if self._lights_on:
            return (50, 50, 225), ((0, 0, 190), 0.22)
        return v.pal["tail"], None

    def _head(self, v: _Vehicle):
        if self._lights_on:
            return (235, 248, 255), ((200, 225, 245), 0.5)
        return v.pal["head"], None

    def _blink(self, v: _Vehicle) -> int:
        """-1 (left) or 1 (right) while that indicator is lit during a lane change, else 0."""
        if v.x == v.x_target or (self._t * 2.5) % 1.0 > 0.5:
            return 0
        side = 1 if v.x_target > v.x else -1
        return side if v.heading == 0 else -side  # local +x is the world's -x going the other way

    def _end_lights(
        self,
        m: _Mesh,
        v: _Vehicle,
        e: int,
        z: float,
        hw: float,
        ya: float,
        yb: float,
        inset: float = 0.04,
        wide: float = 0.34,
    ) -> None:
        """Tail or head lights on the rear (e = -1) or front (e = 1) face at ``z``."""
        colour, glow = self._tail(v) if e < 0 else self._head(v)
        for sgn in (-1, 1):
            xo, xi = sgn * (hw - inset), sgn * (hw - inset - wide)
            m.poly(((xo, ya, z), (xi, ya, z), (xi, yb, z), (xo, yb, z)), colour, False, glow)
        sgn = self._blink(v)  # the vehicle's own side, the same at both ends
        if sgn:
            xo = sgn * (hw - inset - wide)
            xi = sgn * (hw - inset - wide - 0.12)
            m.poly(
                ((xo, ya, z), (xi, ya, z), (xi, yb, z), (xo, yb, z)),
                (0, 170, 255),
                False,
                ((0, 140, 255), 0.3),
            )

    def _wheel_arches(self, m: _Mesh, v: _Vehicle, sd: int, hw: float, axles, r: float) -> None:
        x = sd * (hw + 0.01)
        for za in axles:
            m.poly(_circle(r, za, r + 0.03, x, 10), v.pal["tyre"], False)
            m.poly(_circle(r, za, r * 0.55, x + sd * 0.005, 8), v.pal["hub"], False)

    def _build_car(self, m: _Mesh, v: _Vehicle, cam, detail: float) -> None:
        g, p = v.geo, v.pal
        hl, hw = v.length / 2, v.width / 2
        _, cy, cz = cam
        _ground_shadow(m, hw + 0.1, hl + 0.1, p["shadow"])
        wr = g["wr"]
        axles = (-hl + (1.1 if g.get("bed") else 0.85), hl - 0.92)
        _wheels(m, axles, cz, hw - 0.06, wr, p["tyre"], cam)
        y0, y1, y2 = g["y0"], g["y1"], g["y2"]
        e, sd = m.box(-hw, hw, y0, y1, -hl, hl, p["body"], p["side"], p["top"], cam)
        if e and detail > 5:
            z = e * (hl + 0.01)
            m.poly(
                ((-hw, y0, z), (hw, y0, z), (hw, y0 + 0.13, z), (-hw, y0 + 0.13, z)),
                p["trim"],
                False,
            )
            if e < 0:
                self._end_lights(m, v, e, z, hw, y1 - 0.24, y1 - 0.07)
                m.poly(
                    (
                        (-0.26, y0 + 0.2, z),
                        (0.26, y0 + 0.2, z),
                        (0.26, y0 + 0.33, z),
                        (-0.26, y0 + 0.33, z),
                    ),
                    p["plate"],
                    False,
                )
            else:
                m.poly(
                    (
                        (-0.42, y1 - 0.3, z),
                        (0.42, y1 - 0.3, z),
                        (0.42, y1 - 0.1, z),
                        (-0.42, y1 - 0.1, z),
                    ),
                    p["trim"],
                    False,
                )
                self._end_lights(m, v, e, z, hw, y1 - 0.25, y1 - 0.1, 0.07, 0.36)
                m.poly(
                    (
                        (-0.26, y0 + 0.16, z),
                        (0.26, y0 + 0.16, z),
                        (0.26, y0 + 0.29, z),
                        (-0.26, y0 + 0.29, z),
                    ),
                    p["plate"],
                    False,
                )
        if sd and detail > 10:
            self._wheel_arches(m, v, sd, hw, axles, wr)
        if g.get("bed") and cy > y1:
            zb = -hl + g["rear"] - 0.1
            m.poly(
                (
                    (-hw + 0.1, y1 + 0.01, -hl + 0.1),
                    (hw - 0.1, y1 + 0.01, -hl + 0.1),
                    (hw - 0.1, y1 + 0.01, zb),
                    (-hw + 0.1, y1 + 0.01, zb),
                ),
                p["trim"],
                False,
            )
        wc = hw - g["inset"]
        zr0 = -hl + g["rear"]
        zf0 = hl - g["hood"]
        self._cabin(
            m,
            p,
            cam,
            detail,
            wc,
            y1,
            y2,
            zr0,
            zr0 + g["rslope"],
            zf0 - g["wslope"],
            zf0,
            v.variant != "hatch",
        )

    def _cabin(self, m, p, cam, detail, wc, y1, y2, zr0, zr1, zf1, zf0, pillar) -> None:
        """Glasshouse: vertical sides, sloped rear window and windscreen."""
        cx, cy, cz = cam
        glass, body = p["glass"], p["body"]
        dy = y2 - y1
        if cx < -wc or cx > wc:
            sx = -wc if cx < -wc else wc
            face = ((sx, y1, zr0), (sx, y1, zf0), (sx, y2, zf1), (sx, y2, zr1))
            m.poly(face, p["side"])
            if detail > 8:
                m.poly(_quad_on(face, 0.06, 0.94, 0.14, 0.86), glass, False)
                if pillar:
                    m.poly(_quad_on(face, 0.47, 0.53, 0.1, 0.9), p["side"], False)
        if (zr1 - zr0) * (cy - y1) - dy * (cz - zr0) > 0:
            face = ((-wc, y1, zr0), (wc, y1, zr0), (wc, y2, zr1), (-wc, y2, zr1))
            m.poly(face, body)
            if detail > 5:
                m.poly(_quad_on(face, 0.08, 0.92, 0.14, 0.88), glass, False)
                if detail > 25:
                    m.poly(_quad_on(face, 0.1, 0.9, 0.6, 0.86), p["glass_hi"], False)
        if (zf0 - zf1) * (cy - y1) + dy * (cz - zf0) > 0:
            face = ((-wc, y1, zf0), (wc, y1, zf0), (wc, y2, zf1), (-wc, y2, zf1))
            m.poly(face, body)
            if detail > 5:
                m.poly(_quad_on(face, 0.06, 0.94, 0.1, 0.9), glass, False)
                if detail > 25:
                    m.poly(_quad_on(face, 0.08, 0.92, 0.55, 0.88), p["glass_hi"], False)
        if cy > y2:
            m.poly(((-wc, y2, zr1), (wc, y2, zr1), (wc, y2, zf1), (-wc, y2, zf1)), p["top"])

    def _build_truck(self, m: _Mesh, v: _Vehicle, cam, detail: float) -> None:
        g, p = v.geo, v.pal
        hl, hw = v.length / 2, v.width / 2
        cz = cam[2]
        wr, cab, cab_h, by0 = g["wr"], g["cab"], g["cab_h"], g["box_y0"]
        _ground_shadow(m, hw + 0.1, hl + 0.1, p["shadow"])
        if v.variant == "semi":
            axles = (-hl + 1.3, -hl + 2.6, hl - cab - 1.2, hl - 1.2)
        else:
            axles = (-hl + 1.5, hl - 1.2)
        _wheels(m, axles, cz, hw - 0.05, wr, p["tyre"], cam)
        m.box(
            -hw + 0.35,
            hw - 0.35,
            0.45,
            by0,
            -hl + 0.3,
            hl - 0.5,
            p["trim"],
            p["trim"],
            p["trim"],
            cam,
        )
        box_z1 = hl - cab - 0.25
        box_col, box_side = g["box"], _scale(g["box"], 0.85)

        def draw_cab():
            e, sd = m.box(
                -hw + 0.05, hw - 0.05, 0.5, cab_h, hl - cab, hl, p["body"], p["side"], p["top"], cam
            )
            if e > 0 and detail > 5:
                z = hl + 0.01
                face = (
                    (-hw + 0.05, 0.5, z),
                    (hw - 0.05, 0.5, z),
                    (hw - 0.05, cab_h, z),
                    (-hw + 0.05, cab_h, z),
                )
                m.poly(_quad_on(face, 0.06, 0.94, 0.55, 0.9), p["glass"], False)
                m.poly(_quad_on(face, 0.3, 0.7, 0.12, 0.42), p["trim"], False)
                m.poly(_quad_on(face, 0.0, 1.0, 0.0, 0.07), p["trim"], False)
                self._end_lights(m, v, 1, z, hw - 0.05, 0.75, 0.98, 0.08, 0.34)
            if sd and detail > 8:
                x = sd * (hw - 0.04)
                face = ((x, 0.5, hl - cab), (x, 0.5, hl), (x, cab_h, hl), (x, cab_h, hl - cab))
                m.poly(_quad_on(face, 0.5, 0.92, 0.58, 0.9), p["glass"], False)

        def draw_box():
            e, sd = m.box(-hw, hw, by0, v.height, -hl, box_z1, box_col, box_side, box_col, cam)
            if e < 0 and detail > 5:
                z = -hl - 0.01
                face = ((-hw, by0, z), (hw, by0, z), (hw, v.height, z), (-hw, v.height, z))
                m.poly(_quad_on(face, 0.49, 0.51, 0.02, 0.98), _scale(box_col, 0.6), False)
                m.poly(
                    (
                        (-hw + 0.1, 0.45, z),
                        (hw - 0.1, 0.45, z),
                        (hw - 0.1, 0.6, z),
                        (-hw + 0.1, 0.6, z),
                    ),
                    p["trim"],
                    False,
                )
                self._end_lights(m, v, -1, z - 0.01, hw, by0 + 0.05, by0 + 0.3, 0.06, 0.3)
            if sd and detail > 8:
                x = sd * (hw + 0.01)
                face = ((x, by0, -hl), (x, by0, box_z1), (x, v.height, box_z1), (x, v.height, -hl))
                if g["stripe_on"]:
                    m.poly(_quad_on(face, 0.03, 0.97, 0.25, 0.42), g["stripe"], False)
                self._wheel_arches(m, v, sd, hw - 0.02, axles, wr)

        if cz < 0:  # seen from behind: the cab is the far part
            draw_cab()
            draw_box()
        else:
            draw_box()
            draw_cab()

    def _build_bus(self, m: _Mesh, v: _Vehicle, cam, detail: float) -> None:
        g, p = v.geo, v.pal
        hl, hw, top = v.length / 2, v.width / 2, v.height
        cz = cam[2]
        wr = g["wr"]
        _ground_shadow(m, hw + 0.1, hl + 0.1, p["shadow"])
        axles = (-hl + 2.8, hl - 2.5)
        _wheels(m, axles, cz, hw - 0.05, wr, p["tyre"], cam)
        e, sd = m.box(-hw, hw, 0.35, top, -hl, hl, p["body"], p["side"], p["top"], cam)
        if e and detail > 5:
            z = e * (hl + 0.01)
            face = ((-hw, 0.35, z), (hw, 0.35, z), (hw, top, z), (-hw, top, z))
            if e < 0:
                m.poly(_quad_on(face, 0.08, 0.92, 0.55, 0.88), p["glass"], False)
                m.poly(_quad_on(face, 0.25, 0.75, 0.12, 0.3), p["trim"], False)
                self._end_lights(m, v, -1, z, hw, 0.7, 1.25, 0.05, 0.22)
            else:
                m.poly(_quad_on(face, 0.04, 0.96, 0.3, 0.86), p["glass"], False)
                m.poly(_quad_on(face, 0.15, 0.85, 0.89, 0.97), p["trim"], False)
                if g["sign"]:
                    m.poly(_quad_on(face, 0.25, 0.75, 0.905, 0.955), (0, 160, 240), False)
                self._end_lights(m, v, 1, z, hw, 0.65, 0.85, 0.1, 0.3)
            m.poly(_quad_on(face, 0.0, 1.0, 0.0, 0.06), p["trim"], False)
        if sd and detail > 8:
            x = sd * (hw + 0.01)
            face = ((x, 0.35, -hl), (x, 0.35, hl), (x, top, hl), (x, top, -hl))
            m.poly(_quad_on(face, 0.0, 1.0, 0.2, 0.25), g["stripe"], False)
            n = max(3, int((v.length - 2.0) / 1.8))
            span = 0.92 - 0.05
            for k in range(n):
                u0 = 0.05 + span * k / n
                m.poly(
                    _quad_on(face, u0 + 0.008, u0 + span / n - 0.008, 0.42, 0.8), p["glass"], False
                )
            if sd > 0:  # the door is on the right side, at the front
                m.poly(_quad_on(face, 0.86, 0.94, 0.05, 0.8), p["glass"], False)
            self._wheel_arches(m, v, sd, hw, axles, wr)

    def _build_bike(self, m: _Mesh, v: _Vehicle, cam, detail: float) -> None:
        """Motorcycle or bicycle with its rider (owner 1)."""
        p = v.pal
        hl = v.length / 2
        cx, _, cz = cam
        moto = v.kind == "motorcycle"
        r = 0.31 if moto else 0.34
        tyre_w = 0.13 if moto else 0.045
        zr, zf = -hl + r + 0.02, hl - r - 0.02
        _ground_shadow(m, 0.35, hl, p["shadow"])
        side_on = abs(cx) > 0.4

        def wheel(zc):
            m.line(_circle(r, zc, r - tyre_w / 2, 0.0, 12), p["tyre"], tyre_w, closed=True)
            if side_on and detail > 10:
                m.poly(
                    _circle(r, zc, r * (0.45 if moto else 0.12), 0.0, 8),
                    p["hub"] if moto else p["metal"],
                    False,
                )

        def front_parts():
            wheel(zf)
            bar = 0.38 if moto else 0.27
            head = (0.0, 1.0 if moto else 0.98, zf - 0.2)
            m.line(((0.0, r, zf), head), p["metal"], 0.06 if moto else 0.035)
            m.line(
                ((-bar, 1.02, zf - 0.3), (bar, 1.02, zf - 0.3)), p["trim"], 0.04 if moto else 0.03
            )
            if moto:
                for s in (-1, 1):
                    m.disc((s * 0.34, 1.2, zf - 0.25), 0.05, p["trim"])
                lamp = ((200, 225, 245), 0.45)  # motorcycles ride with the light on
                m.disc((0.0, 0.9, zf - 0.08), 0.1, (235, 248, 255), False, lamp)
            else:  # the same geometry whatever the light, so that truth does not depend on it
                on = self._lights_on
                lamp = (235, 248, 255) if on else p["head"]
                m.disc(
                    (0.0, 0.9, zf - 0.12), 0.04, lamp, False, ((210, 235, 255), 0.4) if on else None
                )

        def middle():
            if moto:
                m.box(
                    -0.2,
                    0.2,
                    0.25,
                    0.6,
                    -0.3,
                    0.35,
                    p["metal"],
                    _scale(p["metal"], 0.8),
                    p["metal"],
                    cam,
                )
                m.box(-0.17, 0.17, 0.6, 0.85, -0.75, 0.45, p["body"], p["side"], p["top"], cam)
            else:
                frame = p["body"]
                bb, seat, head = (0.0, 0.3, 0.0), (0.0, 0.92, -0.22), (0.0, 0.95, zf - 0.2)
                m.line(((0.0, r, zr), bb, head, seat, (0.0, r, zr)), frame, 0.04)
                m.line((bb, seat), frame, 0.04)
                m.line(((0.0, 0.95, -0.3), (0.0, 0.95, -0.12)), p["trim"], 0.07)

        def rear_parts():
            wheel(zr)
            if moto:
                m.box(
                    -0.11,
                    0.11,
                    0.68,
                    0.86,
                    -hl + 0.05,
                    -hl + 0.55,
                    p["body"],
                    p["side"],
                    p["top"],
                    cam,
                )
                if cz < -hl + 0.05:
                    colour, glow = self._tail(v)
                    z = -hl + 0.04
                    m.poly(
                        ((-0.08, 0.74, z), (0.08, 0.74, z), (0.08, 0.82, z), (-0.08, 0.82, z)),
                        colour,
                        False,
                        glow,
                    )
                    m.poly(
                        ((-0.09, 0.56, z), (0.09, 0.56, z), (0.09, 0.68, z), (-0.09, 0.68, z)),
                        p["plate"],
                        False,
                    )
            elif cz < zr:
                colour, glow = self._tail(v)
                m.disc((0.0, 0.78, zr - 0.1), 0.035, colour, False, glow)

        def rider():
            m.owner = 1
            self._build_rider(m, v, cam, detail)
            m.owner = 0

        if cz < 0:
            for part in (front_parts, middle, rider, rear_parts):
                part()
        else:
            for part in (rear_parts, rider, middle, front_parts):
                part()
