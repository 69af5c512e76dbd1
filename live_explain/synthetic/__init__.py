"""Synthetic dashcam scenes with known truth, and the demo detector trained on them.

``DrivingScene(seed, size).frames(n)`` renders a deterministic drive (road, traffic of eight
COCO classes, day/dusk/night, rain, noise, motion blur) with the box, class and track id of
every visible object.
"""

from live_explain.synthetic.scene import DrivingScene

__all__ = ["DrivingScene"]
