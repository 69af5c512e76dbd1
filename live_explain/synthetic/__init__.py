"""Synthetic dashcam scenes with known truth.

This first version draws a perspective road with lane markings and vehicles that approach
and leave, with their boxes as truth. The demo issue replaces it with the full generator
(more classes, lighting, weather, occlusion) behind the same API.
"""

from live_explain.synthetic.scene import DrivingScene

__all__ = ["DrivingScene"]
