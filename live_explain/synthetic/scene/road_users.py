"""Making road users: vehicles of every kind and people, with their shapes and colours."""

from __future__ import annotations

import math

from live_explain.synthetic.scene.palette import (
    _CAR_COLOURS,
    _HAIR,
    _PANTS,
    _SHIRTS,
    _SKIN,
    _pick,
    _scale,
    _weighted,
)
from live_explain.synthetic.scene.world_objects import _Person, _Vehicle


class RoadUsersMixin:
    """``DrivingScene`` part: draws the looks and sizes of new vehicles and people."""

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
