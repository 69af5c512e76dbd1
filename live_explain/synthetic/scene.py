"""A deterministic driving-scene generator: ``DrivingScene(seed, size).frames(n)``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

SKY = (200, 170, 120)  # BGR
GRASS = (60, 120, 70)
ROAD = (90, 90, 90)
LANE = (235, 235, 235)
VEHICLE_COLOURS = [(40, 40, 200), (200, 60, 40), (30, 30, 30), (220, 220, 220), (40, 160, 220)]


@dataclass
class _Vehicle:
    track_id: int
    lane: float  # -1 left lane, 0 ego lane, 1 right lane
    depth: float  # distance ahead; 1 is the horizon, 0 the camera
    speed: float  # change of depth per frame (positive: moves away)
    colour: tuple[int, int, int]
    aspect: float  # width / height


class DrivingScene:
    """Dashcam-view road scene; ``frames(n)`` yields ``(frame_bgr_uint8, truth)``.

    ``truth["boxes"]`` is (M, 4) float32 xyxy pixels of the visible objects,
    ``truth["labels"]`` their COCO class names and ``truth["track_ids"]`` ids stable
    across frames. The same seed gives the same frames.
    """

    def __init__(self, seed: int = 0, size: tuple[int, int] = (640, 360)) -> None:
        self.seed = seed
        self.width, self.height = size
        self._rng = np.random.default_rng(seed)
        self._vehicles: list[_Vehicle] = []
        self._next_id = 1
        self._t = 0

    def frames(self, n: int | None = None) -> Iterator[tuple[np.ndarray, dict]]:
        count = 0
        while n is None or count < n:
            yield self._step()
            count += 1

    # -- internals --------------------------------------------------------------------------
    def _spawn(self) -> None:
        rng = self._rng
        approaching = rng.random() < 0.6
        self._vehicles.append(
            _Vehicle(
                track_id=self._next_id,
                lane=float(rng.choice([-1.0, 0.0, 1.0])),
                depth=0.95 if approaching else 0.15,
                speed=-float(rng.uniform(0.004, 0.01))
                if approaching
                else float(rng.uniform(0.003, 0.008)),
                colour=VEHICLE_COLOURS[int(rng.integers(len(VEHICLE_COLOURS)))],
                aspect=float(rng.uniform(1.1, 1.5)),
            )
        )
        self._next_id += 1

    def _step(self) -> tuple[np.ndarray, dict]:
        w, h = self.width, self.height
        horizon = int(h * 0.45)
        image = np.empty((h, w, 3), np.uint8)
        image[:horizon] = SKY
        image[horizon:] = GRASS
        cx = w / 2
        road = np.array(
            [[cx - w * 0.03, horizon], [cx + w * 0.03, horizon], [w * 1.1, h], [-w * 0.1, h]]
        )
        cv2.fillPoly(image, [road.astype(np.int32)], ROAD)
        # dashed lane lines that scroll towards the camera
        for side in (-1, 1):
            for k in range(12):
                d0 = ((k / 12.0) + self._t * 0.01) % 1.0
                d1 = d0 + 0.04
                p0, p1 = self._project(side * 0.5, d0), self._project(side * 0.5, d1)
                cv2.line(image, p0, p1, LANE, max(1, int(3 * (1 - d0))))

        if len(self._vehicles) < 4 and self._rng.random() < 0.05:
            self._spawn()
        for v in self._vehicles:
            v.depth += v.speed
        self._vehicles = [v for v in self._vehicles if 0.02 < v.depth < 0.98]

        boxes, labels, ids = [], [], []
        for v in sorted(self._vehicles, key=lambda v: -v.depth):  # far ones first
            box = self._vehicle_box(v)
            x0, y0, x1, y1 = box
            if x1 <= 0 or x0 >= w or y1 <= 0 or y0 >= h or (x1 - x0) < 4:
                continue
            p0, p1 = (int(x0), int(y0)), (int(x1), int(y1))
            cv2.rectangle(image, p0, p1, v.colour, -1)
            glass = (int(x0 + (x1 - x0) * 0.15), int(y0 + (y1 - y0) * 0.12))
            glass_end = (int(x1 - (x1 - x0) * 0.15), int(y0 + (y1 - y0) * 0.45))
            cv2.rectangle(image, glass, glass_end, (70, 50, 40), -1)
            wheel = max(1, int((y1 - y0) * 0.12))
            cv2.rectangle(
                image, (p0[0], p1[1] - wheel), (p0[0] + 2 * wheel, p1[1]), (10, 10, 10), -1
            )
            cv2.rectangle(image, (p1[0] - 2 * wheel, p1[1] - wheel), p1, (10, 10, 10), -1)
            boxes.append([max(x0, 0), max(y0, 0), min(x1, w - 1), min(y1, h - 1)])
            labels.append("car")
            ids.append(v.track_id)
        self._t += 1
        truth = {
            "boxes": np.array(boxes, np.float32).reshape(-1, 4),
            "labels": labels,
            "track_ids": ids,
        }
        return image, truth

    def _project(self, lane: float, depth: float) -> tuple[int, int]:
        """Ground point of lane offset ``lane`` (in lane widths) at ``depth`` to pixels."""
        horizon = self.height * 0.45
        scale = 1.0 - depth
        y = horizon + (self.height - horizon) * scale
        x = self.width / 2 + lane * self.width * 0.4 * scale
        return int(x), int(y)

    def _vehicle_box(self, v: _Vehicle) -> tuple[float, float, float, float]:
        x, y = self._project(v.lane, v.depth)
        height = self.height * 0.45 * (1.0 - v.depth)
        width = height * v.aspect
        return x - width / 2, y - height, x + width / 2, float(y)
