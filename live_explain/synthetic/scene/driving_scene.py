"""``DrivingScene``: its options, set-up and public ``frames``; the rest comes from the
mixins of this package."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from live_explain.synthetic.scene.constants import (
    CAM_H,
    FOCAL,
    GEN_AHEAD,
    HORIZON,
    LIGHTINGS,
    WEATHERS,
)
from live_explain.synthetic.scene.drawables import DrawablesMixin
from live_explain.synthetic.scene.effects import EffectsMixin
from live_explain.synthetic.scene.palette import _LIGHT, _RAIN_SKY, _scale
from live_explain.synthetic.scene.person_builders import PersonBuildersMixin
from live_explain.synthetic.scene.rendering import RenderingMixin
from live_explain.synthetic.scene.road_drawing import RoadDrawingMixin
from live_explain.synthetic.scene.road_users import RoadUsersMixin
from live_explain.synthetic.scene.scenery_builders import SceneryBuildersMixin
from live_explain.synthetic.scene.signs_and_lights import SignsAndLightsMixin
from live_explain.synthetic.scene.simulation import SimulationMixin
from live_explain.synthetic.scene.spawning import SpawningMixin
from live_explain.synthetic.scene.vehicle_builders import VehicleBuildersMixin
from live_explain.synthetic.scene.world_generation import WorldGenerationMixin
from live_explain.synthetic.scene.world_objects import _Intersection, _Person, _Prop, _Vehicle


# -- the scene -------------------------------------------------------------------------------
class DrivingScene(
    WorldGenerationMixin,
    RoadUsersMixin,
    SpawningMixin,
    SimulationMixin,
    RoadDrawingMixin,
    EffectsMixin,
    DrawablesMixin,
    RenderingMixin,
    VehicleBuildersMixin,
    PersonBuildersMixin,
    SignsAndLightsMixin,
    SceneryBuildersMixin,
):
    """Dashcam-view road scene; ``frames(n)`` yields ``(frame_bgr_uint8, truth)``.

    ``truth["boxes"]`` is an (M, 4) float32 array of xyxy pixel boxes of the visible objects,
    clipped to the frame; ``truth["labels"]`` their COCO class names (person, bicycle, car,
    motorcycle, bus, truck, traffic light, stop sign); ``truth["track_ids"]`` ints that stay
    the same for an object across frames. A box is the whole object's extent even where nearer
    things hide part of it (riders are persons of their own, as in COCO). An object is listed
    only when its box is at least 6 px tall, at least half of it lies in the frame and at most
    70 % of its drawn pixels are hidden. Extra keys: ``occlusion`` (the hidden share of each
    object), ``difficult`` (True for objects under 12 px tall or more than half hidden: as
    PASCAL VOC's flag, evaluation ignores them), ``distance`` (metres ahead of the camera),
    ``lighting`` and ``weather``.

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
