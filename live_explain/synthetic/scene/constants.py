"""Scene options, camera, truth rules, road layout and driver-model constants, and the
rotation of each heading."""

from __future__ import annotations

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
# Listed objects smaller or more hidden than this are marked "difficult" (as in PASCAL VOC):
# evaluation neither asks for them nor counts a detection of them as false.
DIFFICULT_BOX_H = 12.0  # px
DIFFICULT_HIDDEN = 0.5

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
