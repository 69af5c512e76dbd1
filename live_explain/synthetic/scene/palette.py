"""Colours: light gain and sky per lighting, paint and clothing tables, and colour helpers."""

from __future__ import annotations

import numpy as np

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
