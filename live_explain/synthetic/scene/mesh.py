"""Meshes: the per-frame list of primitives to project and draw, and shape helpers for them."""

from __future__ import annotations

import math

from live_explain.synthetic.scene.palette import _scale


def _circle(cy: float, cz: float, r: float, x: float, n: int = 10) -> list:
    """Points of a circle of radius ``r`` in the plane ``x`` (a wheel seen from the side)."""
    return [
        (x, cy + r * math.sin(2 * math.pi * k / n), cz + r * math.cos(2 * math.pi * k / n))
        for k in range(n)
    ]


# -- meshes ----------------------------------------------------------------------------------
class _Mesh:
    """Primitives of the frame's objects, each in its own frame, projected in one go.

    ``owner`` tags what follows: 0 the object, 1 its rider, -1 parts outside the truth box
    (poles, shadows); ``lv`` maps owners to the values they leave in the occlusion map (0: no
    mark). Polygons must be convex and planar.
    """

    __slots__ = ("lv", "ops", "own", "owner", "pad", "pts")

    def __init__(self) -> None:
        self.pts: list = []
        self.pad: list = []  # metres to grow the truth box by around each point
        self.own: list = []
        self.ops: list = []
        self.owner = 0
        self.lv = (0, 0, 0)

    def _add(self, pts, pad: float) -> tuple[int, int]:
        start = len(self.pts)
        self.pts.extend(pts)
        n = len(self.pts) - start
        self.pad.extend([pad] * n)
        self.own.extend([self.owner] * n)
        return start, n

    def _glow(self, glow):
        return None if glow is None else (glow[0], glow[1], self.lv[self.owner] or 255)

    def poly(self, pts, colour, sil: bool = True, glow=None) -> None:
        start, n = self._add(pts, 0.0)
        lv = self.lv[self.owner] if sil else 0
        self.ops.append((0, start, n, colour, lv, 0.0, self._glow(glow)))

    def polys(self, quads, colour) -> None:
        """Several 4-point polygons filled in one call (windows): decoration, no silhouette."""
        start, n = self._add([p for q in quads for p in q], 0.0)
        self.ops.append((5, start, n, colour, 0, 0.0, None))

    def segments(self, segs, colour, width: float) -> None:
        """Several 2-point lines drawn in one call: decoration, no silhouette."""
        start, n = self._add([p for s in segs for p in s], 0.0)
        self.ops.append((6, start, n, colour, 0, width, None))

    def line(self, pts, colour, width: float, sil: bool = True, closed: bool = False) -> None:
        start, n = self._add(pts, width / 2)
        lv = self.lv[self.owner] if sil else 0
        self.ops.append((3 if closed else 1, start, n, colour, lv, width, None))

    def disc(self, centre, radius: float, colour, sil: bool = True, glow=None) -> None:
        start, _ = self._add((centre,), radius)
        lv = self.lv[self.owner] if sil else 0
        self.ops.append((2, start, 1, colour, lv, radius, self._glow(glow)))

    def text(self, centre, height: float, colour) -> None:
        start, _ = self._add((centre,), 0.0)
        self.ops.append((4, start, 1, colour, 0, height, None))

    def box(self, x0, x1, y0, y1, z0, z1, end, side, top, cam, sil: bool = True) -> tuple:
        """An axis-aligned box; draws the faces the camera sees, returns (end, side) faces
        seen: end -1 rear (z0), 1 front (z1), 0 none; side -1 left (x0), 1 right (x1), 0 none."""
        cx, cy, cz = cam
        e = s = 0
        if cz < z0:
            self.poly(((x0, y0, z0), (x1, y0, z0), (x1, y1, z0), (x0, y1, z0)), end, sil)
            e = -1
        elif cz > z1:
            self.poly(((x0, y0, z1), (x1, y0, z1), (x1, y1, z1), (x0, y1, z1)), end, sil)
            e = 1
        if cx < x0:
            self.poly(((x0, y0, z0), (x0, y0, z1), (x0, y1, z1), (x0, y1, z0)), side, sil)
            s = -1
        elif cx > x1:
            self.poly(((x1, y0, z0), (x1, y0, z1), (x1, y1, z1), (x1, y1, z0)), side, sil)
            s = 1
        if cy > y1:
            self.poly(((x0, y1, z0), (x1, y1, z0), (x1, y1, z1), (x0, y1, z1)), top, sil)
        elif cy < y0:
            under = _scale(side, 0.6)
            self.poly(((x0, y0, z0), (x1, y0, z0), (x1, y0, z1), (x0, y0, z1)), under, sil)
        return e, s


def _quad_on(face: tuple, u0: float, u1: float, v0: float, v1: float) -> tuple:
    """Sub-rectangle of a planar quad ``face`` (p00, p10, p11, p01) at parameters u, v."""
    p00, p10, p11, p01 = face

    def at(u, v):
        return tuple(
            (p00[i] * (1 - u) + p10[i] * u) * (1 - v) + (p01[i] * (1 - u) + p11[i] * u) * v
            for i in range(3)
        )

    return (at(u0, v0), at(u1, v0), at(u1, v1), at(u0, v1))
