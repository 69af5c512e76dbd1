"""Traffic lights and stop signs: their meshes and lamp colours."""

from __future__ import annotations

import math

from live_explain.synthetic.scene.mesh import _Mesh
from live_explain.synthetic.scene.palette import _scale
from live_explain.synthetic.scene.world_objects import _Prop

_LAMP_ON = {"red": (60, 60, 255), "amber": (40, 190, 255), "green": (190, 255, 110)}
_LAMP_OFF = {"red": (40, 40, 90), "amber": (40, 80, 100), "green": (70, 90, 50)}
_LAMP_GLOW = {"red": (20, 20, 255), "amber": (0, 140, 255), "green": (170, 255, 60)}
_OCT = [math.radians(22.5 + 45.0 * k) for k in range(8)]


class SignsAndLightsMixin:
    """``DrivingScene`` part: adds traffic lights and stop signs to a frame's mesh."""

    # -- object builders (local frame: +z forward, +x right, y up, origin on the ground) ---------
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
