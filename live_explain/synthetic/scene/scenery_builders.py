"""Roadside scenery meshes: buildings, houses, trees, hedges, street lights and poles."""

from __future__ import annotations

import numpy as np

from live_explain.synthetic.scene.mesh import _Mesh
from live_explain.synthetic.scene.palette import _mix, _scale
from live_explain.synthetic.scene.world_objects import _Prop


class SceneryBuildersMixin:
    """``DrivingScene`` part: adds the roadside scenery to a frame's mesh."""

    # -- object builders (local frame: +z forward, +x right, y up, origin on the ground) ---------
    def _hazed(self, colour, z: float):
        k = min(0.85, (max(z, 0.0) / (150.0 if self.weather == "rain" else 260.0)) ** 1.3)
        return _mix(self._lit(colour), self._haze, k)

    def _build_building(self, m: _Mesh, pr: _Prop, cam, z: float) -> None:
        d = pr.data
        side, depth, top, length = d["side"], d["depth"], d["h"], pr.length
        x0, x1 = (0.0, depth) if side > 0 else (-depth, 0.0)
        xf = 0.0  # the face towards the road
        facade = self._hazed(d["facade"], z)
        shade = _scale(facade, 0.82)
        glass = self._hazed((70, 62, 58), z)
        e, _ = m.box(x0, x1, 0.0, top, 0.0, length, shade, facade, facade, cam, False)
        lit_col = (110, 200, 250) if self.lighting == "night" else (100, 170, 210)
        if pr.kind == "house":
            rh = 2.0
            xm = (x0 + x1) / 2
            if e:
                m.poly(((x0, top, 0.0), (x1, top, 0.0), (xm, top + rh, 0.0)), shade, False)
            eave = x0 - 0.4 if side > 0 else x1 + 0.4
            for zc in (length * 0.25, length * 0.7):
                m.poly(
                    (
                        (xf, 0.9, zc - 0.6),
                        (xf, 0.9, zc + 0.6),
                        (xf, 2.2, zc + 0.6),
                        (xf, 2.2, zc - 0.6),
                    ),
                    glass,
                    False,
                )
            m.poly(
                (
                    (xf, 0.0, length * 0.45),
                    (xf, 0.0, length * 0.45 + 0.9),
                    (xf, 2.1, length * 0.45 + 0.9),
                    (xf, 2.1, length * 0.45),
                ),
                self._hazed((40, 60, 90), z),
                False,
            )
            roof = self._hazed(d["roof"], z)
            m.poly(
                (
                    (eave, top - 0.15, -0.4),
                    (eave, top - 0.15, length + 0.4),
                    (xm, top + rh, length + 0.4),
                    (xm, top + rh, -0.4),
                ),
                roof,
                False,
            )
            return
        floors = max(1, int((top - 1.0) / 3.2))
        col = d["col"]
        first = 1 if d["shop"] else 0
        glazing = []
        if d["shop"]:
            glazing.append(
                ((xf, 0.3, 0.5), (xf, 0.3, length - 0.5), (xf, 2.8, length - 0.5), (xf, 2.8, 0.5))
            )
        for fl in range(first, floors):
            ya, yb = 1.0 + fl * 3.2, 2.5 + fl * 3.2
            glazing.append(
                ((xf, ya, 0.6), (xf, ya, length - 0.6), (xf, yb, length - 0.6), (xf, yb, 0.6))
            )
            if e:
                glazing.append(
                    (
                        (x0 + 0.6, ya, -0.01),
                        (x1 - 0.6, ya, -0.01),
                        (x1 - 0.6, yb, -0.01),
                        (x0 + 0.6, yb, -0.01),
                    )
                )
        if glazing:
            m.polys(glazing, glass)
        if floors > first:
            # Piers between the windows, over the glazing bands.
            ya, yb = 1.0 + first * 3.2, 2.5 + (floors - 1) * 3.2
            piers = [
                ((xf, ya, zc), (xf, yb, zc))
                for zc in np.arange(0.6 + col, length - 0.8, col).tolist()
            ]
            if e:
                piers += [
                    ((xc, ya, -0.02), (xc, yb, -0.02))
                    for xc in np.arange(x0 + 0.6 + col, x1 - 0.8, col).tolist()
                ]
            if piers:
                m.segments(piers, facade, 0.35)
        lit = []
        for u, fl in d["lit"] if self.lighting != "day" else ():
            if first <= fl < floors:
                za, ya = 0.6 + u * (length - 2.0), 1.0 + fl * 3.2
                lit.append(
                    (
                        (xf, ya + 0.1, za),
                        (xf, ya + 0.1, za + 1.2),
                        (xf, ya + 1.4, za + 1.2),
                        (xf, ya + 1.4, za),
                    )
                )
        if lit:
            m.polys(lit, _mix(lit_col, self._haze, 0.2))

    def _build_clutter(self, m: _Mesh, pr: _Prop, cam, detail: float) -> None:
        m.owner = -1
        d = pr.data
        metal = self._lit((110, 112, 115))
        if pr.kind == "tree":
            trunk = d["trunk"]
            r = d["r"]
            crown = d["crown"]
            m.line(((0.0, 0.0, 0.0), (0.0, trunk + r * 0.5, 0.0)), self._lit((40, 55, 75)), 0.28)
            if d["conifer"]:
                m.poly(
                    ((-r, trunk - 0.3, 0.0), (r, trunk - 0.3, 0.0), (0.0, trunk + 3.5 * r, 0.0)),
                    crown[0],
                )
            elif detail * r < 6.0:  # far away: one blob will do
                m.disc((0.0, trunk + r, 0.0), r, crown[1])
            else:
                for (dx, dy), colour in zip(d["lobes"], crown, strict=True):
                    m.disc((dx * r, trunk + r * (0.9 + dy), 0.0), r * 0.72, colour)
        elif pr.kind == "lamp":
            side = d["side"]
            m.line(
                (
                    (0.0, 0.0, 0.0),
                    (0.0, 7.6, 0.0),
                    (-side * 0.5, 8.0, 0.0),
                    (-side * 1.7, 8.05, 0.0),
                ),
                metal,
                0.14,
            )
            m.box(
                min(-side * 1.5, -side * 2.1),
                max(-side * 1.5, -side * 2.1),
                7.85,
                8.05,
                -0.2,
                0.2,
                metal,
                metal,
                metal,
                cam,
            )
            on = self._lights_on and self.lighting != "day"
            col = (200, 235, 255) if on else self._lit((200, 200, 190))
            m.disc(
                (-side * 1.8, 7.8, -0.2), 0.14, col, False, ((110, 190, 250), 0.8) if on else None
            )
        elif pr.kind == "pole":
            m.line(((0.0, 0.0, 0.0), (0.0, d["h"], 0.0)), metal, d["w"])
        elif pr.kind == "mast":
            hgt, to = d["h"], d["to"] - pr.x
            m.line(((0.0, 0.0, 0.0), (0.0, hgt, 0.0)), metal, 0.3)
            m.line(((0.0, hgt - 0.3, 0.0), (to, hgt - 0.3, 0.0)), metal, 0.16)
            if detail > 6:
                m.poly(
                    (
                        (-1.3, hgt - 0.05, -0.05),
                        (-2.8, hgt - 0.05, -0.05),
                        (-2.8, hgt + 0.35, -0.05),
                        (-1.3, hgt + 0.35, -0.05),
                    ),
                    self._lit((60, 120, 30)),
                    False,
                )
        elif pr.kind == "utility":
            wood = self._lit((45, 70, 95))
            m.line(((0.0, 0.0, 0.0), (0.0, 9.0, 0.0)), wood, 0.26)
            m.line(((-1.0, 8.5, 0.0), (1.0, 8.5, 0.0)), wood, 0.12)
        elif pr.kind == "hedge":
            green = self._hazed((40, 90, 50), pr.s - self._s_cam)
            m.box(
                -0.4,
                0.4,
                0.0,
                d["h"],
                0.0,
                pr.length,
                green,
                _scale(green, 0.85),
                _scale(green, 1.1),
                cam,
                False,
            )
