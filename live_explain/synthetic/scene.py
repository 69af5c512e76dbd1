"""A deterministic dashcam-view driving-scene generator: ``DrivingScene(seed, size).frames(n)``.

The world is a straight urban or suburban arterial seen from a camera 1.35 m above the middle of
three lanes (an oncoming lane on the left, a bike lane on the right). Everything lives in metres:
``s`` runs along the road, ``x`` across it (right is positive), ``y`` is height. Every frame the
world steps 1/25 s (traffic follows an intelligent-driver model: it queues, brakes for people on
the road, stops at red lights and stop signs, changes lanes) and is drawn with a pinhole
projection, far to near, so that occlusion and perspective come out right by construction.

Only ``np.random.default_rng`` generators seeded from ``seed`` are used (no global state, no
clock), so the same arguments give bit-identical frames and truth.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np

LIGHTINGS = ("day", "dusk", "night")
WEATHERS = ("clear", "rain")
LABELS = ("person", "bicycle", "car", "motorcycle", "bus", "truck", "traffic light", "stop sign")

FPS = 25.0
DT = 1.0 / FPS
CAM_H = 1.35  # camera height above the road (m)
FOCAL = 0.75  # focal length as a share of the image width: a 67 degree horizontal view
HORIZON = 0.42  # horizon row as a share of the image height (the camera looks level)
Z_NEAR = 1.0  # geometry nearer than this is clamped; nothing the camera can see is that close
DRAW_FAR = 200.0  # road objects beyond this are too small to matter and are not drawn
GEN_AHEAD = 270.0  # the static world is generated this far ahead of the camera
SHIFT = 4  # sub-pixel bits for cv2 drawing: small far objects move smoothly, no 1 px jumps
ONE = 1 << SHIFT

# Truth rules.
MIN_BOX_H = 6.0  # px; smaller objects are too small to detect and are left out
MAX_HIDDEN = 0.7  # objects hidden more than this by nearer things are left out
MIN_INSIDE = 0.5  # objects with less than this share of their box in the frame are left out

# Road layout across the road (m).
LANES = (-3.5, 0.0, 3.5)  # our direction; the ego car drives in the middle one
ONCOMING_X = -7.0
BIKE_X = 6.0
ROAD_L, ROAD_R = -10.0, 6.75  # asphalt, shoulders included
EDGE_L, EDGE_R, CENTRE_X = -8.75, 5.25, -5.25  # painted lines
WALK_R, WALK_L = (6.75, 9.75), (-13.0, -10.0)  # sidewalks
CURB_H = 0.15
DASH, DASH_PERIOD = 3.0, 9.0

# Intelligent driver model.
IDM_A, IDM_B, IDM_S0, IDM_T = 2.0, 3.5, 2.0, 1.2
INF = 1e9

# heading -> (a, b, c, d): world X = x0 + a*lx + b*lz, world Z = z0 + c*lx + d*lz, for an
# object whose local +z is its forward direction and local +x its right side.
_ROT = {
    0: (1.0, 0.0, 0.0, 1.0),  # along the road, away from the camera
    1: (-1.0, 0.0, 0.0, -1.0),  # towards the camera
    2: (0.0, 1.0, -1.0, 0.0),  # crossing to the right
    3: (0.0, -1.0, 1.0, 0.0),  # crossing to the left
}

_LIGHT = {  # per-channel BGR gain on surface colours, sky top and horizon, noise sigma, beam
    "day": ((1.0, 1.0, 1.0), (205, 150, 95), (238, 222, 205), 2.0, 0.0),
    "dusk": ((0.5, 0.5, 0.6), (120, 72, 70), (105, 160, 245), 3.5, 40.0),
    "night": ((0.14, 0.13, 0.13), (30, 16, 10), (56, 45, 42), 5.5, 100.0),
}
_RAIN_SKY = {
    "day": ((160, 155, 150), (190, 188, 184)),
    "dusk": ((95, 85, 85), (120, 128, 145)),
    "night": ((30, 26, 24), (52, 48, 46)),
}

_CAR_COLOURS = (
    ((236, 236, 234), 22),
    ((28, 28, 30), 18),
    ((186, 185, 181), 17),
    ((112, 112, 110), 12),
    ((140, 72, 28), 9),
    ((38, 38, 172), 9),
    ((48, 78, 42), 3),
    ((150, 180, 205), 3),
    ((30, 150, 215), 2),
    ((60, 95, 150), 2),
    ((120, 40, 60), 3),
)
_SHIRTS = (
    (40, 40, 190),
    (180, 90, 30),
    (30, 30, 30),
    (230, 230, 230),
    (60, 140, 60),
    (40, 170, 220),
    (120, 50, 120),
    (150, 150, 150),
    (30, 80, 150),
    (200, 170, 90),
    (90, 60, 40),
    (70, 70, 210),
)
_PANTS = ((110, 70, 40), (40, 35, 30), (70, 70, 72), (120, 150, 170), (60, 50, 35), (140, 100, 50))
_SKIN = ((150, 180, 225), (120, 155, 205), (90, 120, 170), (60, 85, 125), (45, 60, 95))
_HAIR = ((20, 20, 25), (30, 45, 70), (60, 110, 160), (150, 150, 155), (25, 30, 40))


def _weighted(rng: np.random.Generator, table) -> tuple[int, int, int]:
    weights = np.array([w for _, w in table], float)
    colour = table[int(rng.choice(len(table), p=weights / weights.sum()))][0]
    jitter = rng.integers(-8, 9, 3)
    return tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(colour, jitter, strict=True))


def _pick(rng: np.random.Generator, items):
    return items[int(rng.integers(len(items)))]


def _scale(colour, k: float) -> tuple[int, int, int]:
    return (
        min(255, int(colour[0] * k)),
        min(255, int(colour[1] * k)),
        min(255, int(colour[2] * k)),
    )


def _mix(a, b, t: float) -> tuple[int, int, int]:
    return (
        int(a[0] + (b[0] - a[0]) * t),
        int(a[1] + (b[1] - a[1]) * t),
        int(a[2] + (b[2] - a[2]) * t),
    )


def _circle(cy: float, cz: float, r: float, x: float, n: int = 10) -> list:
    """Points of a circle of radius ``r`` in the plane ``x`` (a wheel seen from the side)."""
    return [
        (x, cy + r * math.sin(2 * math.pi * k / n), cz + r * math.cos(2 * math.pi * k / n))
        for k in range(n)
    ]


# -- world objects ---------------------------------------------------------------------------
@dataclass(eq=False)
class _Intersection:
    ident: int
    s: float  # centre of the cross street
    kind: str  # "signal" or "stop"
    half: float  # half the cross street's width
    offset: float  # signal phase (s)
    cross_last: dict = field(default_factory=dict)  # cross-traffic lane -> last vehicle spawned
    was_red: bool = False

    GREEN, AMBER, RED = 18.0, 3.0, 10.0  # the arterial gets the long green

    @property
    def stop_near(self) -> float:  # our stop line
        return self.s - self.half - 4.5

    @property
    def stop_far(self) -> float:  # the oncoming lane's stop line
        return self.s + self.half + 4.5

    @property
    def walk_near(self) -> float:  # centre of the crosswalk on our side
        return self.s - self.half - 2.0

    def state(self, t: float) -> str:
        """Signal state for traffic along the road (both directions share it)."""
        if self.kind != "signal":
            return "none"
        phase = (t + self.offset) % (self.GREEN + self.AMBER + self.RED)
        if phase < self.GREEN:
            return "green"
        return "amber" if phase < self.GREEN + self.AMBER else "red"

    def red_time(self, t: float) -> float:
        """Seconds since the signal turned red along the road (negative when it is not red)."""
        phase = (t + self.offset) % (self.GREEN + self.AMBER + self.RED)
        return phase - self.GREEN - self.AMBER


@dataclass(eq=False)
class _Vehicle:
    kind: str  # COCO label, or "ego"
    variant: str
    track_id: int
    s: float  # footprint centre along the road (m)
    x: float  # footprint centre across the road (m)
    heading: int  # see _ROT
    speed: float
    v_des: float
    length: float
    width: float
    height: float
    geo: dict
    pal: dict
    rider: _Person | None = None
    x_target: float = 0.0
    accel: float = 0.0
    wait: float = 0.0
    phase: float = 0.0
    done: set = field(default_factory=set)  # stop signs already stopped at


@dataclass(eq=False)
class _Person:
    track_id: int
    s: float
    x: float
    heading: int
    speed: float
    height: float
    pal: dict
    phase: float = 0.0
    state: str = "walk"  # "walk", "wait" (at the curb, about to cross) or "cross"
    x_end: float = 0.0  # where a crossing ends
    crosswalk: float | None = None


@dataclass(eq=False)
class _Prop:
    kind: str
    s: float  # anchor along the road
    x: float  # anchor across the road
    tier: int  # 0: beyond the sidewalks, drawn before everything else
    track_id: int = 0  # 0 for unlabelled clutter
    data: dict = field(default_factory=dict)
    length: float = 0.0  # extent along the road from the anchor (for buildings)
    width: float = 0.3  # extent across the road (for depth ordering)


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


# -- the scene -------------------------------------------------------------------------------
class DrivingScene:
    """Dashcam-view road scene; ``frames(n)`` yields ``(frame_bgr_uint8, truth)``.

    ``truth["boxes"]`` is an (M, 4) float32 array of xyxy pixel boxes of the visible objects,
    clipped to the frame; ``truth["labels"]`` their COCO class names (person, bicycle, car,
    motorcycle, bus, truck, traffic light, stop sign); ``truth["track_ids"]`` ints that stay
    the same for an object across frames. A box is the whole object's extent even where nearer
    things hide part of it (riders are persons of their own, as in COCO). An object is listed
    only when its box is at least 6 px tall, at least half of it lies in the frame and at most
    70 % of its drawn pixels are hidden. Extra keys: ``occlusion`` (the hidden share of each
    object), ``distance`` (metres ahead of the camera), ``lighting`` and ``weather``.

    ``lighting`` is "day", "dusk" or "night" and ``weather`` "clear" or "rain"; None picks them
    from the seed (mostly day and clear). ``motion_blur`` adds the blur of driving forward.
    ``noise`` is the sensor noise sigma in grey levels (None: by lighting, darker is noisier;
    0: none). The same arguments give bit-identical frames and truth; the traffic and the world
    depend on ``seed`` only, not on lighting, weather or the other options.
    """

    def __init__(
        self,
        seed: int = 0,
        size: tuple[int, int] = (640, 360),
        lighting: str | None = None,
        weather: str | None = None,
        motion_blur: bool = False,
        noise: float | None = None,
    ) -> None:
        width, height = int(size[0]), int(size[1])
        if width < 32 or height < 32:
            raise ValueError(f"size must be at least 32x32, got {size}")
        if lighting is not None and lighting not in LIGHTINGS:
            raise ValueError(f"lighting must be one of {LIGHTINGS} or None, got {lighting!r}")
        if weather is not None and weather not in WEATHERS:
            raise ValueError(f"weather must be one of {WEATHERS} or None, got {weather!r}")
        self.seed = int(seed)
        self.width, self.height = width, height
        # Independent streams: choosing a lighting or turning on rain must not change traffic.
        pick_ss, world_ss, fx_ss, look_ss = np.random.SeedSequence(self.seed).spawn(4)
        pick = np.random.default_rng(pick_ss)
        u_light, u_weather = pick.random(2)
        if lighting is None:
            lighting = "day" if u_light < 0.6 else ("dusk" if u_light < 0.8 else "night")
        if weather is None:
            weather = "clear" if u_weather < 0.8 else "rain"
        self.lighting, self.weather = lighting, weather
        self.motion_blur = bool(motion_blur)
        self._rng = np.random.default_rng(world_ss)
        self._fx = np.random.default_rng(fx_ss)  # per-frame effects: noise, rain
        self._look = np.random.default_rng(look_ss)  # sky and backdrop, which vary by option

        gain, sky_top, sky_hor, sigma, _ = _LIGHT[lighting]
        if weather == "rain":
            sky_top, sky_hor = _RAIN_SKY[lighting]
            gain = tuple(g * 0.72 for g in gain)  # overcast and wet: darker
        self._gain = gain
        self._lit_cache: dict = {}
        self._sky_top, self._sky_hor = sky_top, sky_hor
        self._lights_on = lighting != "day" or weather == "rain"
        self._bloom = lighting != "day"
        self.noise = float(sigma if noise is None else noise)

        self._f = FOCAL * width
        self._cx = width / 2.0
        self._yh0 = HORIZON * height
        self._amp = height / 360.0  # camera bounce (px)
        self._margin = math.ceil(self._amp) + 2
        self._ground_near = self._f * CAM_H / (height - self._yh0) * 0.6

        rng = self._rng
        self._urban = bool(rng.random() < 0.6)
        self._cruise = float(rng.uniform(13.0, 16.0))
        self._density = int(rng.integers(3, 7))
        self._oncoming_density = int(rng.integers(1, 4))
        self._walker_rate = float(
            rng.uniform(0.07, 0.16) if self._urban else rng.uniform(0.03, 0.08)
        )
        self._palette_world()

        self._t = 0.0
        self._frame = 0
        self._next_id = 1
        self._odo = 0.0
        self._ego = _Vehicle(
            "ego", "ego", 0, 0.0, 0.0, 0, self._cruise, self._cruise, 4.6, 1.9, 1.5, {}, {}
        )
        self._vehicles: list[_Vehicle] = [self._ego]  # our direction, the ego car included
        self._oncoming: list[_Vehicle] = []
        self._cross: list[_Vehicle] = []
        self._people: list[_Person] = []
        self._props: list[_Prop] = []
        self._inters: list[_Intersection] = []
        self._decals: list[tuple] = []
        self._deck: list[str] = []
        self._spawned: dict[str, int] = {}  # vehicle kind -> frame it last came on
        self._seen: dict[str, int] = {}  # label -> frame it was last in the truth
        self._deck_on: list[str] = []
        self._deck_x: list[str] = []
        self._gen_s = -20.0
        self._side_s = {1: -20.0, -1: -20.0}
        self._tree_s = {1: -20.0, -1: -20.0}
        self._lamp_s = {1: -20.0 + rng.uniform(0, 20), -1: -5.0 + rng.uniform(0, 20)}
        self._decal_s = -20.0
        first = self._s_cam + rng.uniform(35.0, 70.0)
        kinds = ["signal", "stop"] if rng.random() < 0.5 else ["stop", "signal"]
        # The first two crossings show both kinds, so every seed has traffic lights and stop
        # signs within its first few hundred frames.
        self._inter_plan = [
            (first, kinds[0]),
            (first + rng.uniform(85.0, 130.0), kinds[1]),
        ]
        self._generate(self._s_cam + GEN_AHEAD)
        self._populate()
        self._make_static()
        self._make_effects()

    # -- public --------------------------------------------------------------------------------
    def frames(self, n: int | None = None) -> Iterator[tuple[np.ndarray, dict]]:
        """Yield ``n`` frames (forever when None) as ``(bgr_uint8 (H, W, 3), truth)``.

        The scene carries on where the previous call stopped; a new scene starts over.
        """
        count = 0
        while n is None or count < n:
            self._step()
            yield self._render()
            count += 1

    # -- set-up ----------------------------------------------------------------------------------
    @property
    def _s_cam(self) -> float:
        return self._ego.s + 0.8

    def _lit(self, colour) -> tuple[int, int, int]:
        """A surface colour under this scene's light (memoised: builders ask every frame)."""
        out = self._lit_cache.get(colour)
        if out is None:
            g = self._gain
            out = (
                min(255, int(colour[0] * g[0] + 0.5)),
                min(255, int(colour[1] * g[1] + 0.5)),
                min(255, int(colour[2] * g[2] + 0.5)),
            )
            self._lit_cache[colour] = out
        return out

    def _palette_world(self) -> None:
        rng = self._rng
        wet = 0.8 if self.weather == "rain" else 1.0
        grey = int(rng.integers(78, 100))
        self._asphalt = (grey + 2, grey + 1, grey)
        self._c_road = self._lit(_scale(self._asphalt, wet))
        self._c_road_band = self._lit(_scale(self._asphalt, wet * 0.96))
        self._c_walk = self._lit((168, 170, 172))
        self._c_curb = self._lit((195, 196, 198))
        self._c_white = self._lit((225, 228, 230))
        self._c_yellow = self._lit((40, 175, 215))
        self._grass = (
            (55, 105, 75) if not self._urban else (120, 128, 130)
        )  # lawns, or paved lots in town
        self._c_grass = self._lit(self._grass)
        self._c_patch = self._lit(_scale(self._asphalt, wet * 0.82))
        self._c_manhole = self._lit((60, 62, 64))
        self._c_shadow = self._lit((28, 28, 30))
        self._haze = self._sky_hor

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

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

    # -- vehicles ----------------------------------------------------------------------------------
    def _make_vehicle(self, kind: str, s: float, x: float, heading: int) -> _Vehicle:
        rng = self._rng
        lit = self._lit
        geo: dict = {}
        if kind == "car":
            variant = _pick(
                rng, ("sedan", "sedan", "sedan", "hatch", "hatch", "suv", "suv", "van", "wagon")
            )
            length, width, y0, y1, y2, rear, rslope, hood, wslope, wr = {
                "sedan": (
                    rng.uniform(4.4, 4.9),
                    1.8,
                    0.28,
                    rng.uniform(0.85, 0.95),
                    1.44,
                    0.95,
                    0.5,
                    1.25,
                    0.75,
                    0.32,
                ),
                "hatch": (rng.uniform(3.8, 4.2), 1.72, 0.27, 0.9, 1.5, 0.2, 0.35, 0.95, 0.7, 0.31),
                "suv": (
                    rng.uniform(4.5, 4.9),
                    1.9,
                    0.38,
                    1.02,
                    rng.uniform(1.68, 1.8),
                    0.12,
                    0.15,
                    1.05,
                    0.6,
                    0.37,
                ),
                "van": (4.95, 1.95, 0.3, 0.95, 1.82, 0.08, 0.1, 0.75, 0.75, 0.32),
                "wagon": (4.7, 1.8, 0.28, 0.9, 1.47, 0.15, 0.22, 1.1, 0.7, 0.32),
            }[variant]
            geo = {
                "y0": y0,
                "y1": y1,
                "y2": y2,
                "rear": rear,
                "rslope": rslope,
                "hood": hood,
                "wslope": wslope,
                "wr": wr,
                "inset": 0.1,
            }
            height = y2
            body = _weighted(rng, _CAR_COLOURS)
            speed = self._cruise * rng.uniform(0.75, 1.15)
        elif kind == "truck":
            variant = _pick(rng, ("box", "box", "semi", "pickup", "pickup"))
            if variant == "pickup":
                length, width, height = rng.uniform(5.2, 5.6), 2.0, 1.88
                geo = {
                    "y0": 0.45,
                    "y1": 1.1,
                    "y2": 1.88,
                    "rear": 2.0,
                    "rslope": 0.05,
                    "hood": 1.5,
                    "wslope": 0.6,
                    "wr": 0.38,
                    "inset": 0.08,
                    "bed": True,
                }
                body = _weighted(rng, _CAR_COLOURS)
            else:
                semi = variant == "semi"
                length = rng.uniform(14.5, 16.5) if semi else rng.uniform(7.0, 8.5)
                width = 2.55 if semi else 2.45
                height = rng.uniform(3.9, 4.1) if semi else rng.uniform(3.3, 3.7)
                geo = {
                    "cab": 2.4 if semi else 2.2,
                    "cab_h": 3.1 if semi else 2.8,
                    "wr": 0.5,
                    "box_y0": 1.15 if semi else 0.95,
                }
                body = _pick(
                    rng,
                    (
                        (230, 230, 228),
                        (40, 40, 170),
                        (150, 80, 30),
                        (30, 190, 230),
                        (40, 40, 42),
                        (60, 120, 60),
                    ),
                )
                geo["box"] = lit(
                    _pick(
                        rng,
                        (
                            (235, 235, 235),
                            (200, 200, 200),
                            (235, 235, 235),
                            (60, 100, 180),
                            (180, 160, 140),
                        ),
                    )
                )
                geo["stripe"] = lit(
                    _pick(rng, ((40, 40, 200), (180, 90, 20), (30, 150, 220), (60, 60, 60)))
                )
                geo["stripe_on"] = bool(rng.random() < 0.6)
            speed = self._cruise * rng.uniform(0.65, 1.0)
        elif kind == "bus":
            variant = "school" if rng.random() < 0.2 else "city"
            length, width, height = (
                (rng.uniform(10.5, 11.5) if variant == "school" else 12.0),
                2.55,
                3.1,
            )
            body = (
                (20, 180, 240)
                if variant == "school"
                else _pick(
                    rng,
                    ((235, 235, 235), (150, 80, 20), (40, 40, 180), (60, 130, 40), (30, 120, 230)),
                )
            )
            geo = {
                "wr": 0.5,
                "stripe": lit(
                    _pick(rng, ((150, 80, 20), (40, 40, 180), (40, 40, 40), (20, 160, 230)))
                ),
                "sign": bool(variant == "city"),
            }
            speed = self._cruise * rng.uniform(0.6, 0.85)
        elif kind == "motorcycle":
            variant = "motorcycle"
            length, width, height = 2.1, 0.8, 1.6
            body = _pick(
                rng,
                (
                    (30, 30, 200),
                    (30, 30, 30),
                    (200, 120, 30),
                    (40, 180, 230),
                    (200, 200, 200),
                    (40, 130, 40),
                ),
            )
            speed = self._cruise * rng.uniform(0.9, 1.3)
        else:  # bicycle
            variant = "bicycle"
            length, width, height = 1.75, 0.6, 1.75
            body = _pick(
                rng,
                (
                    (30, 30, 200),
                    (30, 30, 30),
                    (200, 120, 30),
                    (40, 180, 230),
                    (210, 210, 210),
                    (40, 130, 40),
                ),
            )
            speed = rng.uniform(4.0, 6.5)
        pal = {
            "body": lit(body),
            "side": lit(_scale(body, 0.82)),
            "top": lit(_scale(body, 1.08)),
            "glass": lit((72, 60, 52)),
            "glass_hi": lit((120, 105, 95)),
            "tyre": lit((24, 24, 26)),
            "hub": lit((150, 150, 152)),
            "trim": lit((35, 35, 38)),
            "plate": lit((225, 228, 232) if rng.random() < 0.7 else (60, 200, 230)),
            "tail": lit((40, 35, 130)),
            "head": lit((200, 205, 205)),
            "shadow": self._c_shadow,
            "metal": lit((120, 120, 125)),
        }
        v = _Vehicle(
            kind,
            variant,
            self._new_id(),
            s,
            x,
            heading,
            float(speed),
            float(speed),
            float(length),
            float(width),
            float(height),
            geo,
            pal,
            x_target=x,
        )
        if kind in ("motorcycle", "bicycle"):
            v.rider = self._make_person(0.0, 0.0, heading, 0.0, rider=kind)
        v.phase = float(rng.uniform(0, 2 * math.pi))
        return v

    def _make_person(
        self, s: float, x: float, heading: int, speed: float, rider: str | None = None
    ) -> _Person:
        rng = self._rng
        lit = self._lit
        child = rider is None and rng.random() < 0.08
        height = float(rng.uniform(1.1, 1.35) if child else rng.normal(1.74, 0.08))
        shirt = _pick(rng, _SHIRTS)
        pal = {
            "shirt": lit(shirt),
            "shirt_side": lit(_scale(shirt, 0.8)),
            "pants": lit(_pick(rng, _PANTS)),
            "skin": lit(_pick(rng, _SKIN)),
            "hair": lit(_pick(rng, _HAIR)),
            "shoes": lit((30, 30, 32)),
            "helmet": lit(
                _pick(rng, ((30, 30, 30), (230, 230, 230), (40, 40, 190), (180, 100, 30)))
            )
            if rider == "motorcycle" or (rider == "bicycle" and rng.random() < 0.6)
            else None,
            "bag": lit(_pick(rng, ((40, 40, 40), (50, 80, 120), (30, 60, 30))))
            if rng.random() < 0.3
            else None,
        }
        return _Person(
            self._new_id(), s, x, heading, speed, height, pal, float(rng.uniform(0, 6.3))
        )

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

    # -- static layer and effects ------------------------------------------------------------------
    def _ground_quad(self, x0, x1, z0, z1, yh, y=0.0) -> np.ndarray:
        """Fixed-point pixels of the ground rectangle x0..x1, z0..z1 at height ``y``."""
        z0 = max(z0, self._ground_near)
        f, cx = self._f, self._cx
        pts = []
        for x, z in ((x0, z0), (x1, z0), (x1, z1), (x0, z1)):
            pts.append((cx + f * x / z, yh + f * (CAM_H - y) / z))
        return np.round(np.array(pts) * ONE).astype(np.int32)

    def _make_static(self) -> None:
        """Sky, distant skyline, verge, sidewalks, road and its long lines: everything that
        looks the same while the car drives along a straight road. Taller than the frame so
        that the camera bounce is a crop."""
        rng = self._look
        w, h, m = self.width, self.height, self._margin
        h2 = h + 2 * m
        yh = self._yh0 + m
        img = np.empty((h2, w, 3), np.uint8)
        rows = math.ceil(yh)
        t = (np.arange(rows, dtype=np.float32) / max(rows - 1, 1)) ** 1.6
        top, hor = np.array(self._sky_top, np.float32), np.array(self._sky_hor, np.float32)
        img[:rows] = (top[None, :] * (1 - t[:, None]) + hor[None, :] * t[:, None])[:, None, :]
        sky = img[:rows].astype(np.float32)
        if self.weather == "clear" and self.lighting != "night":
            clouds = np.zeros((rows, w), np.float32)
            for _ in range(int(rng.integers(3, 9))):
                cxy = (int(rng.uniform(0, w)), int(rng.uniform(0, rows * 0.7)))
                axes = (int(rng.uniform(0.05, 0.2) * w), int(rng.uniform(0.02, 0.06) * h))
                cv2.ellipse(clouds, cxy, axes, 0, 0, 360, float(rng.uniform(0.4, 0.9)), -1)
            clouds = cv2.GaussianBlur(clouds, (0, 0), max(2.0, 0.02 * w))
            cloud_c = np.array(_scale(self._sky_hor, 1.05), np.float32)
            sky = sky * (1 - clouds[..., None]) + cloud_c * clouds[..., None]
        elif self.weather == "rain":
            murk = cv2.GaussianBlur(
                rng.random((rows, w)).astype(np.float32), (0, 0), max(3.0, 0.03 * w)
            )
            sky = sky * (0.9 + 0.25 * (murk[..., None] - 0.5))
        if self.lighting == "dusk" and self.weather == "clear":
            sun = np.zeros((rows, w), np.float32)
            sx = int(rng.uniform(0.15, 0.85) * w)
            cv2.circle(sun, (sx, int(yh - 0.04 * h)), max(2, int(0.012 * w)), 1.0, -1)
            glow = cv2.GaussianBlur(sun, (0, 0), 0.06 * w) * 3.0
            sun = np.clip(sun + glow, 0, 1)
            sky = (
                sky * (1 - sun[..., None]) + np.array((150, 225, 255), np.float32) * sun[..., None]
            )
        if self.lighting == "night" and self.weather == "clear":
            ys, xs = rng.integers(0, int(rows * 0.8), 60), rng.integers(0, w, 60)
            sky[ys, xs] = rng.uniform(70, 150, (60, 1))
        img[:rows] = np.clip(sky, 0, 255).astype(np.uint8)
        # Distant skyline or tree line on the horizon, hazy.
        far = _mix(self._lit((90, 100, 95) if self._urban else (60, 95, 70)), self._sky_hor, 0.45)
        x, pts = 0, []
        while x < w:
            bw = int(rng.uniform(0.01, 0.05) * w) + 1
            bh = (rng.uniform(0.01, 0.07) if self._urban else rng.uniform(0.01, 0.03)) * h
            pts.extend([(x, yh - bh), (x + bw, yh - bh)])
            x += bw
        pts = [(0, yh + 1), *pts, (w, yh + 1)]
        poly = np.round(np.array(pts) * ONE).astype(np.int32)
        cv2.fillPoly(img, [poly], far, cv2.LINE_AA, SHIFT)
        if self._urban and self.lighting == "night":
            for _ in range(int(0.08 * w)):
                px, py = int(rng.uniform(0, w)), int(yh - rng.uniform(0.5, 0.05 * h))
                img[py, px] = (90, 170, 220)
        # Ground: verge, sidewalks with curbs, road, long lines.
        img[rows:] = self._c_grass
        ground = img[rows:].astype(np.float32)
        d = (np.arange(h2 - rows, dtype=np.float32) / max(h2 - rows, 1))[:, None, None]
        img[rows:] = np.clip(ground * (0.85 + 0.2 * d), 0, 255).astype(np.uint8)
        far_z = 4000.0
        quad = self._ground_quad
        for walk in (WALK_R, WALK_L):
            cv2.fillConvexPoly(
                img,
                quad(walk[0], walk[1], 1.0, far_z, yh, CURB_H),
                self._c_walk,
                cv2.LINE_AA,
                SHIFT,
            )
        for cx in (WALK_R[0], WALK_L[1]):
            face = self._curb_face(cx, 1.0, far_z, yh)
            cv2.fillConvexPoly(img, face, self._c_curb, cv2.LINE_AA, SHIFT)
        cv2.fillConvexPoly(
            img, quad(ROAD_L, ROAD_R, 1.0, far_z, yh), self._c_road, cv2.LINE_AA, SHIFT
        )
        worn = _scale(self._c_road, 0.92)
        for lane in (*LANES, ONCOMING_X):
            for off in (-0.8, 0.8):
                cv2.fillConvexPoly(
                    img,
                    quad(lane + off - 0.3, lane + off + 0.3, 1.0, far_z, yh),
                    worn,
                    cv2.LINE_AA,
                    SHIFT,
                )
        for x, col in (
            (EDGE_R, self._c_white),
            (EDGE_L, self._c_white),
            (CENTRE_X - 0.12, self._c_yellow),
            (CENTRE_X + 0.12, self._c_yellow),
        ):
            cv2.fillConvexPoly(
                img, quad(x - 0.06, x + 0.06, 1.0, far_z, yh), col, cv2.LINE_AA, SHIFT
            )
        # Fine texture and a light vignette, baked in.
        tex = rng.normal(0.0, 1.0, (h2, w, 1)).astype(np.float32)
        tex[:rows] *= 0.6
        yy, xx = np.mgrid[0:h2, 0:w].astype(np.float32)
        vig = 1.0 - 0.18 * (((xx - w / 2) / (w / 2)) ** 2 + ((yy - h2 / 2) / (h2 / 2)) ** 2) / 2
        out = img.astype(np.float32) * vig[..., None] + tex * 2.5
        self._static = np.clip(out, 0, 255).astype(np.uint8)

    def _curb_face(self, x: float, z0: float, z1: float, yh: float) -> np.ndarray:
        f, cx = self._f, self._cx
        z0 = max(z0, self._ground_near)
        pts = [
            (cx + f * x / z0, yh + f * CAM_H / z0),
            (cx + f * x / z1, yh + f * CAM_H / z1),
            (cx + f * x / z1, yh + f * (CAM_H - CURB_H) / z1),
            (cx + f * x / z0, yh + f * (CAM_H - CURB_H) / z0),
        ]
        return np.round(np.array(pts) * ONE).astype(np.int32)

    def _make_effects(self) -> None:
        w, h = self.width, self.height
        fx = self._fx
        self._noise_pos = self._noise_neg = None
        if self.noise > 0:
            pad = 32
            lum = fx.standard_normal((h + pad, w + pad, 1), dtype=np.float32)
            chroma = fx.standard_normal((h + pad, w + pad, 3), dtype=np.float32)
            n = (lum * 0.8 + chroma * 0.45) * self.noise
            self._noise_pos = np.clip(n, 0, 255).astype(np.uint8)
            self._noise_neg = np.clip(-n, 0, 255).astype(np.uint8)
        self._beam = None
        beam = _LIGHT[self.lighting][4]
        if beam > 0:
            ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
            dy = ys - self._yh0
            z = np.where(dy > 0.5, self._f * CAM_H / np.maximum(dy, 0.5), 1e6)
            x = (xs - self._cx) * z / self._f
            spread = 1.4 + 0.16 * z
            inten = np.exp(-0.5 * (x / spread) ** 2) / (1 + (z / 30.0) ** 2)
            inten *= np.clip((dy + 0.1 * h) / (0.2 * h), 0, 1)
            colour = np.array((0.85, 0.95, 1.0), np.float32) * beam
            self._beam = np.clip(inten[..., None] * colour, 0, 255).astype(np.uint8)
        self._haze_img = None
        if self.weather == "rain":
            haze = np.empty((h, w, 3), np.float32)
            haze[:] = np.array(_scale(self._sky_hor, 0.7), np.float32)
            self._haze_img = haze.astype(np.uint8)
        ts = cv2.getTextSize("STOP", cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)[0]
        self._stop_text_w = ts[0]
        self._stop_text_h = ts[1]

    # -- rendering ---------------------------------------------------------------------------------
    def _render(self) -> tuple[np.ndarray, dict]:
        w, h, m = self.width, self.height, self._margin
        dy = round(self._amp * math.sin(self._odo * 0.85))  # road vibration
        yh = self._yh0 + dy
        img = self._static[m - dy : m - dy + h].copy()
        lab = np.zeros((h, w), np.uint8)  # who is drawn where: 0 nothing, 255 clutter, k object k
        self._draw_ground(img, yh)
        mesh = _Mesh()
        segments = []
        next_lab = 1
        back_marks = False
        for tier, kind, obj, z_lo in self._drawables():
            owners = self._owners(kind, obj)
            lv = [0, 0, 0] if tier == 0 else [255, 255, 255]
            for o, _, _ in owners:
                if next_lab < 255:
                    lv[o] = next_lab
                    next_lab += 1
            if tier == 0 and owners:
                back_marks = True  # labelled things out there: buildings may hide them
            elif tier == 0 and back_marks:
                lv = [255, 255, 255]
            mesh.lv = tuple(lv)
            op0, p0 = len(mesh.ops), len(mesh.pts)
            tx, tz, heading = self._build(kind, obj, mesh)
            if len(mesh.ops) > op0:
                z_near = 2.0 if tier == 0 else Z_NEAR
                place = (tx, tz, heading, z_near, max(z_lo, 0.0))
                segments.append((op0, len(mesh.ops), p0, len(mesh.pts), place, owners, lv))
        found, glows = self._draw_all(img, lab, mesh, segments, yh)
        boxes, labels, ids, hidden, dist = [], [], [], [], []
        for box, crop, labval, c0, label, track_id, z in found:
            x0, y0, x1, y1 = crop
            c1 = int(np.count_nonzero(lab[y0:y1, x0:x1] == labval))
            occ = 1.0 - c1 / c0
            if occ > MAX_HIDDEN:
                continue
            boxes.append(box)
            labels.append(label)
            ids.append(track_id)
            hidden.append(round(occ, 3))
            dist.append(round(z, 2))
        self._post(img, lab, glows, yh)
        for label in labels:
            self._seen[label] = self._frame
        truth = {
            "boxes": np.array(boxes, np.float32).reshape(-1, 4),
            "labels": labels,
            "track_ids": ids,
            "occlusion": hidden,
            "distance": dist,
            "lighting": self.lighting,
            "weather": self.weather,
        }
        return img, truth

    def _draw_all(self, img, lab, mesh: _Mesh, segments: list, yh: float) -> tuple[list, list]:
        """Project every object's points at once, then draw object by object, far to near.

        Returns the truth candidates (with their drawn-pixel counts taken right after each
        object is drawn, before nearer ones cover it) and the lights that glow."""
        if not segments:
            return [], []
        n_pts = len(mesh.pts)
        pts = np.fromiter(itertools.chain.from_iterable(mesh.pts), np.float64, 3 * n_pts)
        pts = pts.reshape(n_pts, 3)
        counts = [s[3] - s[2] for s in segments]
        par = np.array([(p[0], p[1], *_ROT[p[2]], p[3]) for *_, p, _, _ in segments], np.float64)
        tx, tz, ra, rb, rc, rd, zn = np.repeat(par, counts, axis=0).T
        lx, ly, lz = pts[:, 0], pts[:, 1], pts[:, 2]
        wx = tx + ra * lx + rb * lz
        wz = tz + rc * lx + rd * lz
        inv = self._f / np.maximum(wz, zn)
        px = self._cx + wx * inv
        py = yh + (CAM_H - ly) * inv
        ixy = np.rint(np.stack((px, py), axis=1) * ONE).astype(np.int32)
        own = pad = None
        aa, l8 = cv2.LINE_AA, cv2.LINE_8
        found, glows = [], []
        ops = mesh.ops
        bloom = self._bloom
        for op0, op1, p0, p1, place, owners, lv in segments:
            for kind, start, n, colour, lval, size, glow in ops[op0:op1]:
                if kind == 0:
                    q = ixy[start : start + n]
                    cv2.fillConvexPoly(img, q, colour, aa if lval else l8, SHIFT)
                    if lval:
                        cv2.fillConvexPoly(lab, q, lval, l8, SHIFT)
                elif kind == 1 or kind == 3:
                    q = ixy[start : start + n]
                    t = max(1, int(size * inv[start] + 0.5))
                    cv2.polylines(img, [q], kind == 3, colour, t, aa, SHIFT)
                    if lval:
                        cv2.polylines(lab, [q], kind == 3, lval, t, l8, SHIFT)
                elif kind == 2:
                    r = int(size * inv[start] * ONE + 0.5)
                    if r < ONE // 3:
                        continue
                    centre = (int(ixy[start, 0]), int(ixy[start, 1]))
                    cv2.circle(img, centre, r, colour, -1, aa, SHIFT)
                    if lval:
                        cv2.circle(lab, centre, r, lval, -1, l8, SHIFT)
                elif kind == 5:
                    cv2.fillPoly(img, ixy[start : start + n].reshape(-1, 4, 2), colour, l8, SHIFT)
                elif kind == 6:
                    t = max(1, int(size * inv[start] + 0.5))
                    q = ixy[start : start + n].reshape(-1, 2, 2)
                    cv2.polylines(img, q, False, colour, t, l8, SHIFT)
                else:  # the text of a stop sign
                    scale = 0.62 * inv[start] / self._stop_text_w
                    if scale * self._stop_text_w < 11:
                        continue
                    tw = self._stop_text_w * scale
                    org = (int(px[start] - tw / 2), int(py[start] + size * inv[start] / 2))
                    thick = max(1, int(scale * 2.2))
                    cv2.putText(
                        img, "STOP", org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, aa
                    )
                if glow is not None and bloom:
                    glows.append((start, start + n // 2, glow))
            if not owners:
                continue
            if own is None:
                own, pad = np.array(mesh.own), np.array(mesh.pad) * inv
            for o, label, track_id in owners:
                if lv[o] in (0, 255):
                    continue
                sel = own[p0:p1] == o
                if not sel.any():
                    continue
                ps, qs, ds = px[p0:p1][sel], py[p0:p1][sel], pad[p0:p1][sel]
                box = (
                    float((ps - ds).min()),
                    float((qs - ds).min()),
                    float((ps + ds).max()),
                    float((qs + ds).max()),
                )
                rec = self._truth_candidate(box, lab, lv[o], label, track_id, place[4])
                if rec is not None:
                    found.append(rec)
        lights = []
        if glows:
            # Centre (mean of opposite corners), size and height of each light, for the bloom.
            idx = np.array([(a, b) for a, b, _ in glows])
            gx = ((px[idx[:, 0]] + px[idx[:, 1]]) / 2).tolist()
            gy = ((py[idx[:, 0]] + py[idx[:, 1]]) / 2).tolist()
            gi, gh, gz = inv[idx[:, 0]].tolist(), ly[idx[:, 0]].tolist(), wz[idx[:, 0]].tolist()
            for k, (_, _, glow) in enumerate(glows):
                lights.append((gx[k], gy[k], glow[1] * gi[k], glow[0], glow[2], gh[k], gz[k]))
        return found, lights

    def _truth_candidate(self, box, lab, labval, label, track_id, z):
        """The clipped box and its drawn-pixel count, or None when it cannot be listed."""
        w, h = self.width, self.height
        x0, y0, x1, y1 = box
        area = max(x1 - x0, 1e-6) * max(y1 - y0, 1e-6)
        cx0, cy0 = min(max(x0, 0.0), w), min(max(y0, 0.0), h)
        cx1, cy1 = min(max(x1, 0.0), w), min(max(y1, 0.0), h)
        if cy1 - cy0 < MIN_BOX_H or cx1 - cx0 < 2.0:
            return None
        if (cx1 - cx0) * (cy1 - cy0) < MIN_INSIDE * area:
            return None
        crop = (int(cx0), int(cy0), math.ceil(cx1), math.ceil(cy1))
        c0 = int(np.count_nonzero(lab[crop[1] : crop[3], crop[0] : crop[2]] == labval))
        if c0 == 0:
            return None
        return ((cx0, cy0, cx1, cy1), crop, labval, c0, label, track_id, z)

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

    def _ground_polys(self, rects: list, yh: float) -> np.ndarray:
        """Fixed-point pixel quads (n, 4, 2) of ground rectangles (x0, x1, z0, z1, height)."""
        r = np.array(rects, np.float64)
        x0, x1, y = r[:, 0], r[:, 1], r[:, 4]
        z0 = np.maximum(r[:, 2], self._ground_near)
        z1 = np.maximum(r[:, 3], z0 + 1e-3)
        f, cx = self._f, self._cx
        xs = np.stack((x0, x1, x1, x0), axis=1)
        zs = np.stack((z0, z0, z1, z1), axis=1)
        out = np.empty((*xs.shape, 2), np.float64)
        out[..., 0] = cx + f * xs / zs
        out[..., 1] = yh + f * (CAM_H - y[:, None]) / zs
        return np.rint(out * ONE).astype(np.int32)

    def _draw_ground(self, img: np.ndarray, yh: float) -> None:
        """Markings and patches that scroll with the road, and the cross streets."""
        s_cam = self._s_cam
        aa = cv2.LINE_AA
        vis = self._cx / self._f
        bands, yellow, white, patches = [], [], [], []
        for it in self._inters:
            z0, z1 = it.s - it.half - s_cam, it.s + it.half - s_cam
            if z1 < 1.0 or z0 > DRAW_FAR:
                continue
            side = vis * z1 + 6.0
            bands.append((ROAD_L, ROAD_R, z0, z1, 0.0))
            bands.append((-side, ROAD_L, z0, z1, CURB_H))
            bands.append((ROAD_R, side, z0, z1, CURB_H))
            zc = it.s - s_cam
            yellow.append((-side, ROAD_L - 1.0, zc - 0.15, zc + 0.15, CURB_H))
            yellow.append((ROAD_R + 1.0, side, zc - 0.15, zc + 0.15, CURB_H))
            for w0 in (it.s - it.half - 3.5 - s_cam, it.s + it.half + 0.5 - s_cam):
                if w0 + 3.0 < 1.0:
                    continue
                x = ROAD_L + 0.4
                while x < ROAD_R - 0.4:
                    white.append((x, x + 0.5, w0, w0 + 3.0, 0.0))
                    x += 1.0
            zs = it.stop_near - s_cam
            if zs > 1.0:
                white.append((CENTRE_X + 0.25, EDGE_R, zs - 0.45, zs, 0.0))
            zs = it.stop_far - s_cam
            white.append((EDGE_L, CENTRE_X - 0.25, zs, zs + 0.45, 0.0))
        manholes = []
        for d in self._decals:
            z = d[1] - s_cam
            if 0.0 < z < 120.0:
                x, length, width = d[2], d[3], d[4]
                (manholes if d[0] == "manhole" else patches).append(
                    (x - width / 2, x + width / 2, z, z + length, 0.0)
                )
        blocked = [(it.stop_near - 1.0, it.stop_far + 1.0) for it in self._inters]
        k = math.floor((s_cam + 1.0) / DASH_PERIOD)
        while k * DASH_PERIOD < s_cam + 160.0:
            s0 = k * DASH_PERIOD
            k += 1
            if s0 + DASH < s_cam + 1.0 or any(a < s0 + DASH and s0 < b for a, b in blocked):
                continue
            z0 = s0 - s_cam
            white.append((-1.825, -1.675, z0, z0 + DASH, 0.0))
            white.append((1.675, 1.825, z0, z0 + DASH, 0.0))
        for rects, colour in (
            (patches, self._c_patch),
            (manholes, self._c_manhole),
            (bands, self._c_road_band),
            (yellow, self._c_yellow),
            (white, self._c_white),
        ):
            if rects:
                cv2.fillPoly(img, self._ground_polys(rects, yh), colour, aa, SHIFT)
        if self._bloom:
            self._ground_light(img, yh)

    def _ground_light(self, img: np.ndarray, yh: float) -> None:
        """Pools of light on the road from street lights and oncoming headlights."""
        s_cam = self._s_cam
        q = 4
        small = np.zeros((self.height // q + 1, self.width // q + 1, 3), np.uint8)
        f, cx = self._f / q, self._cx / q
        strength = 0.5 if self.lighting == "night" else 0.25
        spots = []
        for pr in self._props:
            if pr.kind == "lamp":
                spots.append((pr.x - pr.data["side"] * 1.8, pr.s - s_cam, 4.0, (50, 105, 150)))
        for v in self._oncoming:
            spots.append((v.x + 0.5, v.s - v.length / 2 - 9.0 - s_cam, 6.0, (80, 95, 105)))
        drawn = False
        for x, z, r, col in spots:
            if z < 3.0 or z > 120.0:
                continue
            centre = (int((cx + f * x / z) * ONE), int((yh / q + f * CAM_H / z) * ONE))
            axes = (int(f * r / z * ONE), int((f * CAM_H * r / (z * z) + 0.5) * ONE))
            if axes[0] < ONE // 2:
                continue
            cv2.ellipse(
                small, centre, axes, 0, 0, 360, _scale(col, strength), -1, cv2.LINE_AA, SHIFT
            )
            drawn = True
        if drawn:
            small = cv2.GaussianBlur(small, (0, 0), 2.0)
            up = cv2.resize(small, (small.shape[1] * q, small.shape[0] * q))
            cv2.add(img, up[: self.height, : self.width], dst=img)

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
        m.owner = -1
        m.poly(
            (
                (-hw - 0.1, 0.0, -hl - 0.1),
                (hw + 0.1, 0.0, -hl - 0.1),
                (hw + 0.1, 0.0, hl + 0.1),
                (-hw - 0.1, 0.0, hl + 0.1),
            ),
            p["shadow"],
            False,
        )
        m.owner = 0
        wr = g["wr"]
        axles = (-hl + (1.1 if g.get("bed") else 0.85), hl - 0.92)
        for za in sorted(axles, key=lambda z: -abs(cz - z)):
            m.box(
                -hw + 0.06,
                hw - 0.06,
                0.0,
                2 * wr,
                za - wr,
                za + wr,
                p["tyre"],
                p["tyre"],
                p["tyre"],
                cam,
            )
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
        m.owner = -1
        m.poly(
            (
                (-hw - 0.1, 0.0, -hl - 0.1),
                (hw + 0.1, 0.0, -hl - 0.1),
                (hw + 0.1, 0.0, hl + 0.1),
                (-hw - 0.1, 0.0, hl + 0.1),
            ),
            p["shadow"],
            False,
        )
        m.owner = 0
        if v.variant == "semi":
            axles = (-hl + 1.3, -hl + 2.6, hl - cab - 1.2, hl - 1.2)
        else:
            axles = (-hl + 1.5, hl - 1.2)
        for za in sorted(axles, key=lambda z: -abs(cz - z)):
            m.box(
                -hw + 0.05,
                hw - 0.05,
                0.0,
                2 * wr,
                za - wr,
                za + wr,
                p["tyre"],
                p["tyre"],
                p["tyre"],
                cam,
            )
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
        m.owner = -1
        m.poly(
            (
                (-hw - 0.1, 0.0, -hl - 0.1),
                (hw + 0.1, 0.0, -hl - 0.1),
                (hw + 0.1, 0.0, hl + 0.1),
                (-hw - 0.1, 0.0, hl + 0.1),
            ),
            p["shadow"],
            False,
        )
        m.owner = 0
        axles = (-hl + 2.8, hl - 2.5)
        for za in sorted(axles, key=lambda z: -abs(cz - z)):
            m.box(
                -hw + 0.05,
                hw - 0.05,
                0.0,
                2 * wr,
                za - wr,
                za + wr,
                p["tyre"],
                p["tyre"],
                p["tyre"],
                cam,
            )
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
        m.owner = -1
        m.poly(
            ((-0.35, 0.0, -hl), (0.35, 0.0, -hl), (0.35, 0.0, hl), (-0.35, 0.0, hl)),
            p["shadow"],
            False,
        )
        m.owner = 0
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

    def _build_rider(self, m: _Mesh, v: _Vehicle, cam, detail: float) -> None:
        pr = v.rider
        pal = pr.pal
        k = pr.height / 1.75
        hl = v.length / 2
        if v.kind == "motorcycle":
            pelvis, neck, head = (0.0, 0.92, -0.32), (0.0, 1.42 * k, -0.05), (0.0, 1.6 * k, 0.0)
            hands = (hl - 0.62, 1.03)
            legs = [
                ((s * 0.12, 0.92, -0.3), (s * 0.24, 0.8, 0.18), (s * 0.2, 0.36, -0.05))
                for s in (-1, 1)
            ]
        else:
            pelvis, neck, head = (0.0, 0.98, -0.26), (0.0, 1.45 * k, 0.1), (0.0, 1.62 * k, 0.18)
            hands = (hl - 0.64, 1.03)
            crank = v.phase * 0.5
            legs = []
            for s in (-1, 1):
                py_ = 0.3 + 0.17 * math.sin(crank) * s
                pz = 0.17 * math.cos(crank) * s
                knee = (s * 0.13, (0.98 + py_) / 2 + 0.16, (-0.26 + pz) / 2 + 0.22)
                legs.append(((s * 0.1, 0.98, -0.26), knee, (s * 0.12, py_, pz)))
        arms = []
        for s in (-1, 1):
            sh = (s * 0.2 * k, neck[1] - 0.04, neck[2])
            hand = (s * (0.33 if v.kind == "motorcycle" else 0.26), hands[1], hands[0])
            elbow = (s * 0.27, (sh[1] + hand[1]) / 2 + 0.05, (sh[2] + hand[2]) / 2 - 0.05)
            arms.append((sh, elbow, hand))
        self._figure(m, pal, cam, legs, arms, (pelvis, neck, 0.36 * k), head, 0.115 * k, k, detail)

    def _build_person(self, m: _Mesh, pr: _Person, cam, detail: float) -> None:
        h = pr.height
        k = h / 1.75
        hip_y, sh_y = 0.53 * h, 0.815 * h
        walking = pr.speed > 0.05 and pr.state != "wait"
        sw = math.sin(pr.phase) * 0.3 * k if walking else 0.0
        lift = abs(math.cos(pr.phase)) * 0.06 if walking else 0.0
        legs, arms = [], []
        for s in (-1, 1):
            a = sw * s
            foot = (s * 0.1 * k, 0.05 * k + (lift if a < 0 else 0.0), a)
            knee = (s * 0.1 * k, 0.28 * h, a * 0.5 + 0.03 * k)
            legs.append(((s * 0.09 * k, hip_y, 0.0), knee, foot))
            sh = (s * 0.21 * k, sh_y - 0.03 * k, 0.0)
            hand = (s * 0.25 * k, hip_y - 0.03 * k, -a * 0.7)
            elbow = (s * 0.24 * k, (sh_y + hip_y) / 2 + 0.02, -a * 0.35)
            arms.append((sh, elbow, hand))
        torso = (-0.19 * k, 0.19 * k, hip_y - 0.06 * k, sh_y, -0.11 * k, 0.11 * k)
        m.owner = 0
        m.owner = -1
        m.poly(
            ((-0.25, 0.0, -0.25), (0.25, 0.0, -0.25), (0.25, 0.0, 0.25), (-0.25, 0.0, 0.25)),
            _scale(self._c_road, 0.7),
            False,
        )
        m.owner = 0
        self._figure(m, pr.pal, cam, legs, arms, torso, (0.0, 0.925 * h, 0.0), 0.063 * h, k, detail)

    def _figure(self, m, pal, cam, legs, arms, torso, head, hr, k, detail) -> None:
        """A person from joints: legs and arms as (hip, knee, foot) / (shoulder, elbow, hand),
        ``torso`` a box (x0, x1, y0, y1, z0, z1) or a leaning (pelvis, neck, width) line."""
        cx, _, cz = cam
        far, near = (1, 0) if cx < 0 else (0, 1)
        shirt = pal["shirt"]
        bag = pal["bag"]
        limb, arm_w = 0.13 * k, 0.085 * k
        arms_on = detail > 12  # arms are lost in the torso's outline on tiny figures
        if arms_on:
            m.line(arms[far], pal["shirt_side"], arm_w)
        for i in (far, near):
            m.line(legs[i], pal["pants"], limb)
            if detail > 30:
                f = legs[i][2]
                m.line((f, (f[0], f[1], f[2] + 0.12 * k)), pal["shoes"], 0.08 * k)
        if len(torso) == 6:
            x0, x1, y0, y1, z0, z1 = torso
            if bag is not None and cz > 0:
                m.box(
                    x0 + 0.04,
                    x1 - 0.04,
                    y1 - 0.45 * k,
                    y1 - 0.05,
                    z0 - 0.15 * k,
                    z0,
                    bag,
                    bag,
                    bag,
                    cam,
                )
            m.box(x0, x1, y0, y1, z0, z1, shirt, pal["shirt_side"], shirt, cam)
            if bag is not None and cz < 0:
                m.box(
                    x0 + 0.04,
                    x1 - 0.04,
                    y1 - 0.45 * k,
                    y1 - 0.05,
                    z0 - 0.15 * k,
                    z0,
                    bag,
                    bag,
                    bag,
                    cam,
                )
        else:
            pelvis, neck, width = torso
            m.line((pelvis, neck), shirt, width)
        if arms_on:
            m.line(arms[near], shirt, arm_w)
        if detail > 25:
            for i in (far, near):
                m.disc(arms[i][2], 0.045 * k, pal["skin"], False)
        hx, hy, hz = head
        if detail > 12:
            m.line(((hx, hy - 2.2 * hr, hz), (hx, hy, hz)), pal["skin"], 0.9 * hr)  # neck
        helmet = pal["helmet"]
        behind = cz < hz  # the camera sees the back of the head
        if helmet is not None:
            m.disc((hx, hy, hz), hr * 1.18, helmet)
            if not behind and detail > 15:
                m.disc((hx, hy - hr * 0.1, hz + hr * 0.5), hr * 0.6, (40, 40, 45), False)
        elif behind:
            m.disc((hx, hy, hz), hr, pal["skin"])
            m.disc((hx, hy + hr * 0.08, hz - 0.02), hr * 1.02, pal["hair"])
        else:
            m.disc((hx, hy + hr * 0.12, hz - 0.02), hr * 1.04, pal["hair"])
            m.disc((hx, hy - hr * 0.06, hz + 0.02), hr * 0.93, pal["skin"])

    def _build_light(self, m: _Mesh, pr: _Prop, cam, detail: float) -> None:
        d = pr.data
        y0, it = d["y0"], d["inter"]
        state = it.state(self._t)
        hh, hw, hd = 0.95, 0.17, 0.13
        body = self._lit(d["body"])
        if y0 > 4.0:  # hangs from the mast arm
            m.owner = -1
            m.line(((0.0, y0 + hh, 0.0), (0.0, 6.6, 0.0)), self._lit((90, 90, 95)), 0.05)
        m.owner = 0
        if detail > 6:
            plate = self._lit((25, 25, 25))
            m.poly(
                (
                    (-0.3, y0 - 0.1, hd + 0.02),
                    (0.3, y0 - 0.1, hd + 0.02),
                    (0.3, y0 + hh + 0.1, hd + 0.02),
                    (-0.3, y0 + hh + 0.1, hd + 0.02),
                ),
                plate,
            )
        m.box(-hw, hw, y0, y0 + hh, -hd, hd, body, _scale(body, 0.8), body, cam)
        for i, colour in enumerate(("red", "amber", "green")):
            yc = y0 + hh * (0.82 - 0.32 * i)
            on = state == colour
            col = _LAMP_ON[colour] if on else self._lit(_LAMP_OFF[colour])
            glow = (_LAMP_GLOW[colour], 0.35) if on else None
            m.disc((0.0, yc, -hd - 0.01), 0.1, col, False, glow)
            if detail > 40:
                m.box(
                    -0.12, 0.12, yc + 0.1, yc + 0.13, -hd - 0.2, -hd, body, body, body, cam, False
                )

    def _build_stop(self, m: _Mesh, pr: _Prop, detail: float) -> None:
        m.owner = -1
        m.line(((0.0, 0.0, 0.05), (0.0, 2.1, 0.05)), self._lit((150, 150, 155)), 0.07)
        m.owner = 0
        yc = 2.45
        outer = [(0.47 * math.cos(a), yc + 0.47 * math.sin(a), -0.02) for a in _OCT]
        inner = [(0.42 * math.cos(a), yc + 0.42 * math.sin(a), -0.03) for a in _OCT]
        m.poly(outer, self._reflective((235, 235, 235)))
        m.poly(inner, self._reflective((30, 30, 200)), False)
        if detail * 0.9 > 10:
            m.text((0.0, yc, -0.04), 0.2, self._reflective((240, 240, 240)))

    def _reflective(self, colour) -> tuple[int, int, int]:
        """Sign faces are retroreflective: headlights keep them readable after dark."""
        return _scale(colour, max(0.55, min(self._gain)))

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

    # -- post-processing ---------------------------------------------------------------------------
    def _post(self, img: np.ndarray, lab: np.ndarray, glows: list, yh: float) -> None:
        w, h = self.width, self.height
        if self._beam is not None:
            cv2.add(img, self._beam, dst=img)
        if glows:
            q = 4
            small = np.zeros((h // q + 1, w // q + 1, 3), np.uint8)
            strength = 1.0 if self.lighting == "night" else 0.55
            wet = self.weather == "rain"
            for gx, gy, r, colour, labval, y, z in glows:
                ix, iy = int(gx), int(gy)
                if not (0 <= ix < w and 0 <= iy < h) or lab[iy, ix] != labval:
                    continue  # off-screen or hidden behind something nearer
                col = _scale(colour, strength)
                rr = max(int(r / q * ONE), ONE // 2)
                cv2.circle(
                    small, (int(gx / q * ONE), int(gy / q * ONE)), rr, col, -1, cv2.LINE_AA, SHIFT
                )
                if wet and z > 1.0:
                    ry = yh + self._f * (CAM_H + y) / z  # its mirror image in the wet road
                    if ry < h:
                        axes = (max(int(r / q * 0.5 * ONE), 4), max(int(r / q * 2.5 * ONE), 8))
                        cv2.ellipse(
                            small,
                            (int(gx / q * ONE), int(ry / q * ONE)),
                            axes,
                            0,
                            0,
                            360,
                            _scale(col, 0.5),
                            -1,
                            cv2.LINE_AA,
                            SHIFT,
                        )
            small = cv2.GaussianBlur(small, (0, 0), 1.5)
            up = cv2.resize(
                small, (small.shape[1] * q, small.shape[0] * q), interpolation=cv2.INTER_LINEAR
            )
            cv2.add(img, up[:h, :w], dst=img)
        if self.weather == "rain":
            fx = self._fx
            cv2.addWeighted(img, 0.78, self._haze_img, 0.22, 0.0, dst=img)
            n = int(w * h / 700)
            xy = fx.random((n, 2)) * (w, h)
            length = fx.uniform(0.03, 0.08, n) * h
            slant = 0.15 + fx.normal(0.0, 0.03, n)
            ends = xy + np.stack((slant * length, length), axis=1)
            segs = np.rint(np.stack((xy, ends), axis=1) * ONE).astype(np.int32)
            layer = np.zeros_like(img)
            level = {"day": 70, "dusk": 45, "night": 30}[self.lighting]
            cv2.polylines(layer, list(segs), False, (level, level, level), 1, cv2.LINE_AA, SHIFT)
            cv2.add(img, layer, dst=img)
            cv2.GaussianBlur(img, (3, 3), 0, dst=img)
        if self.motion_blur:
            # Zoom blur about the vanishing point, growing with speed (none when stopped):
            # three samples along each ray, taken at half size (the blur hides it) for speed.
            k = 1.0 + min(0.03, 0.0018 * self._ego.speed)
            if k > 1.001:
                hw, hh = w // 2, h // 2
                small = cv2.resize(img, (hw, hh), interpolation=cv2.INTER_AREA)
                acc = small.copy()
                for i, kk in enumerate((1.0 + (k - 1.0) / 2, k)):
                    shift = ((1 - kk) * self._cx / 2, (1 - kk) * yh / 2)
                    mat = np.array([[kk, 0, shift[0]], [0, kk, shift[1]]], np.float32)
                    zoom = cv2.warpAffine(
                        small,
                        mat,
                        (hw, hh),
                        flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE,
                    )
                    cv2.addWeighted(acc, (i + 1) / (i + 2), zoom, 1 / (i + 2), 0.0, dst=acc)
                up = cv2.resize(acc, (w, h), interpolation=cv2.INTER_LINEAR)
                cv2.addWeighted(img, 0.35, up, 0.65, 0.0, dst=img)
        if self._noise_pos is not None:
            ox, oy = (int(v) for v in self._fx.integers(0, 32, 2))
            cv2.add(img, self._noise_pos[oy : oy + h, ox : ox + w], dst=img)
            cv2.subtract(img, self._noise_neg[oy : oy + h, ox : ox + w], dst=img)


_LAMP_ON = {"red": (60, 60, 255), "amber": (40, 190, 255), "green": (190, 255, 110)}
_LAMP_OFF = {"red": (40, 40, 90), "amber": (40, 80, 100), "green": (70, 90, 50)}
_LAMP_GLOW = {"red": (20, 20, 255), "amber": (0, 140, 255), "green": (170, 255, 60)}
_OCT = [math.radians(22.5 + 45.0 * k) for k in range(8)]
