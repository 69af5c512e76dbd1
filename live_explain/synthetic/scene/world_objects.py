"""The things in the world: intersections, vehicles, people and props (dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
