"""People meshes: pedestrians and riders, built from their joints."""

from __future__ import annotations

import math

from live_explain.synthetic.scene.mesh import _Mesh
from live_explain.synthetic.scene.palette import _scale
from live_explain.synthetic.scene.world_objects import _Person, _Vehicle


class PersonBuildersMixin:
    """``DrivingScene`` part: adds pedestrians and riders to a frame's mesh."""

    # -- object builders (local frame: +z forward, +x right, y up, origin on the ground) ---------
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
            # the backpack hangs behind the torso: drawn before it when seen from behind
            backpack = (x0 + 0.04, x1 - 0.04, y1 - 0.45 * k, y1 - 0.05, z0 - 0.15 * k, z0)
            if bag is not None and cz > 0:
                m.box(*backpack, bag, bag, bag, cam)
            m.box(x0, x1, y0, y1, z0, z1, shirt, pal["shirt_side"], shirt, cam)
            if bag is not None and cz < 0:
                m.box(*backpack, bag, bag, bag, cam)
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
