"""A deterministic dashcam-view driving-scene generator: ``DrivingScene(seed, size).frames(n)``.

The world is a straight urban or suburban arterial seen from a camera 1.35 m above the middle of
three lanes (an oncoming lane on the left, a bike lane on the right). Everything lives in metres:
``s`` runs along the road, ``x`` across it (right is positive), ``y`` is height. Every frame the
world steps 1/25 s (traffic follows an intelligent-driver model: it queues, brakes for people on
the road, stops at red lights and stop signs, changes lanes) and is drawn with a pinhole
projection, far to near, so that occlusion and perspective come out right by construction.

Only ``np.random.default_rng`` generators seeded from ``seed`` are used (no global state, no
clock), so the same arguments give bit-identical frames and truth.

The package: ``driving_scene`` holds the ``DrivingScene`` class and its set-up; the class gets
the rest of its methods from mixins, one module each: ``world_generation`` (the static world
ahead), ``road_users`` and ``spawning`` (new vehicles and people), ``simulation`` (a step of
the traffic), ``road_drawing`` (backdrop, road and markings), ``drawables`` and ``rendering``
(painter's order, projection, truth and occlusion), ``vehicle_builders``,
``person_builders``, ``signs_and_lights`` and ``scenery_builders`` (the object meshes) and
``effects`` (lighting, weather, blur, noise). ``constants``, ``palette``, ``world_objects`` and
``mesh`` hold what they share.
"""

from live_explain.synthetic.scene.constants import (
    BIKE_X,
    CAM_H,
    CENTRE_X,
    CURB_H,
    DASH,
    DASH_PERIOD,
    DIFFICULT_BOX_H,
    DIFFICULT_HIDDEN,
    DRAW_FAR,
    DT,
    EDGE_L,
    EDGE_R,
    FOCAL,
    FPS,
    GEN_AHEAD,
    HORIZON,
    IDM_A,
    IDM_B,
    IDM_S0,
    IDM_T,
    INF,
    LABELS,
    LANES,
    LIGHTINGS,
    MAX_HIDDEN,
    MIN_BOX_H,
    MIN_INSIDE,
    ONCOMING_X,
    ONE,
    ROAD_L,
    ROAD_R,
    SHIFT,
    WALK_L,
    WALK_R,
    WEATHERS,
    Z_NEAR,
)
from live_explain.synthetic.scene.driving_scene import DrivingScene

__all__ = [
    "BIKE_X",
    "CAM_H",
    "CENTRE_X",
    "CURB_H",
    "DASH",
    "DASH_PERIOD",
    "DIFFICULT_BOX_H",
    "DIFFICULT_HIDDEN",
    "DRAW_FAR",
    "DT",
    "EDGE_L",
    "EDGE_R",
    "FOCAL",
    "FPS",
    "GEN_AHEAD",
    "HORIZON",
    "IDM_A",
    "IDM_B",
    "IDM_S0",
    "IDM_T",
    "INF",
    "LABELS",
    "LANES",
    "LIGHTINGS",
    "MAX_HIDDEN",
    "MIN_BOX_H",
    "MIN_INSIDE",
    "ONCOMING_X",
    "ONE",
    "ROAD_L",
    "ROAD_R",
    "SHIFT",
    "WALK_L",
    "WALK_R",
    "WEATHERS",
    "Z_NEAR",
    "DrivingScene",
]
