"""The road and its surroundings: the static layer (sky, skyline, verge, sidewalks, road,
long lines) and the ground that scrolls with the road (markings, patches, cross streets,
pools of light)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from live_explain.synthetic.scene.constants import (
    CAM_H,
    CENTRE_X,
    CURB_H,
    DASH,
    DASH_PERIOD,
    DRAW_FAR,
    EDGE_L,
    EDGE_R,
    LANES,
    ONCOMING_X,
    ONE,
    ROAD_L,
    ROAD_R,
    SHIFT,
    WALK_L,
    WALK_R,
)
from live_explain.synthetic.scene.palette import _mix, _scale


class RoadDrawingMixin:
    """``DrivingScene`` part: draws the road, its markings and the backdrop."""

    # -- static layer -----------------------------------------------------------------------------
    def _ground_quad(self, x0, x1, z0, z1, yh, y=0.0) -> np.ndarray:
        """Fixed-point pixels of the ground rectangle x0..x1, z0..z1 at height ``y``."""
        z0 = max(z0, self._ground_near)
        f, cx = self._f, self._cx
        pts = []
        for x, z in ((x0, z0), (x1, z0), (x1, z1), (x0, z1)):
            pts.append((cx + f * x / z, yh + f * (CAM_H - y) / z))
        return np.round(np.array(pts) * ONE).astype(np.int32)

    def _make_static(self) -> None:
        """Sky, distant skyline, verge, sidewalks, road and its long lines: everything that
        looks the same while the car drives along a straight road. Taller than the frame so
        that the camera bounce is a crop."""
        rng = self._look
        w, h, m = self.width, self.height, self._margin
        h2 = h + 2 * m
        yh = self._yh0 + m
        img = np.empty((h2, w, 3), np.uint8)
        rows = math.ceil(yh)
        t = (np.arange(rows, dtype=np.float32) / max(rows - 1, 1)) ** 1.6
        top, hor = np.array(self._sky_top, np.float32), np.array(self._sky_hor, np.float32)
        img[:rows] = (top[None, :] * (1 - t[:, None]) + hor[None, :] * t[:, None])[:, None, :]
        sky = img[:rows].astype(np.float32)
        if self.weather == "clear" and self.lighting != "night":
            clouds = np.zeros((rows, w), np.float32)
            for _ in range(int(rng.integers(3, 9))):
                cxy = (int(rng.uniform(0, w)), int(rng.uniform(0, rows * 0.7)))
                axes = (int(rng.uniform(0.05, 0.2) * w), int(rng.uniform(0.02, 0.06) * h))
                cv2.ellipse(clouds, cxy, axes, 0, 0, 360, float(rng.uniform(0.4, 0.9)), -1)
            clouds = cv2.GaussianBlur(clouds, (0, 0), max(2.0, 0.02 * w))
            cloud_c = np.array(_scale(self._sky_hor, 1.05), np.float32)
            sky = sky * (1 - clouds[..., None]) + cloud_c * clouds[..., None]
        elif self.weather == "rain":
            murk = cv2.GaussianBlur(
                rng.random((rows, w)).astype(np.float32), (0, 0), max(3.0, 0.03 * w)
            )
            sky = sky * (0.9 + 0.25 * (murk[..., None] - 0.5))
        if self.lighting == "dusk" and self.weather == "clear":
            sun = np.zeros((rows, w), np.float32)
            sx = int(rng.uniform(0.15, 0.85) * w)
            cv2.circle(sun, (sx, int(yh - 0.04 * h)), max(2, int(0.012 * w)), 1.0, -1)
            glow = cv2.GaussianBlur(sun, (0, 0), 0.06 * w) * 3.0
            sun = np.clip(sun + glow, 0, 1)
            sky = (
                sky * (1 - sun[..., None]) + np.array((150, 225, 255), np.float32) * sun[..., None]
            )
        if self.lighting == "night" and self.weather == "clear":
            ys, xs = rng.integers(0, int(rows * 0.8), 60), rng.integers(0, w, 60)
            sky[ys, xs] = rng.uniform(70, 150, (60, 1))
        img[:rows] = np.clip(sky, 0, 255).astype(np.uint8)
        # Distant skyline or tree line on the horizon, hazy.
        far = _mix(self._lit((90, 100, 95) if self._urban else (60, 95, 70)), self._sky_hor, 0.45)
        x, pts = 0, []
        while x < w:
            bw = int(rng.uniform(0.01, 0.05) * w) + 1
            bh = (rng.uniform(0.01, 0.07) if self._urban else rng.uniform(0.01, 0.03)) * h
            pts.extend([(x, yh - bh), (x + bw, yh - bh)])
            x += bw
        pts = [(0, yh + 1), *pts, (w, yh + 1)]
        poly = np.round(np.array(pts) * ONE).astype(np.int32)
        cv2.fillPoly(img, [poly], far, cv2.LINE_AA, SHIFT)
        if self._urban and self.lighting == "night":
            for _ in range(int(0.08 * w)):
                px, py = int(rng.uniform(0, w)), int(yh - rng.uniform(0.5, 0.05 * h))
                img[py, px] = (90, 170, 220)
        # Ground: verge, sidewalks with curbs, road, long lines.
        img[rows:] = self._c_grass
        ground = img[rows:].astype(np.float32)
        d = (np.arange(h2 - rows, dtype=np.float32) / max(h2 - rows, 1))[:, None, None]
        img[rows:] = np.clip(ground * (0.85 + 0.2 * d), 0, 255).astype(np.uint8)
        far_z = 4000.0
        quad = self._ground_quad
        for walk in (WALK_R, WALK_L):
            cv2.fillConvexPoly(
                img,
                quad(walk[0], walk[1], 1.0, far_z, yh, CURB_H),
                self._c_walk,
                cv2.LINE_AA,
                SHIFT,
            )
        for cx in (WALK_R[0], WALK_L[1]):
            face = self._curb_face(cx, 1.0, far_z, yh)
            cv2.fillConvexPoly(img, face, self._c_curb, cv2.LINE_AA, SHIFT)
        cv2.fillConvexPoly(
            img, quad(ROAD_L, ROAD_R, 1.0, far_z, yh), self._c_road, cv2.LINE_AA, SHIFT
        )
        worn = _scale(self._c_road, 0.92)
        for lane in (*LANES, ONCOMING_X):
            for off in (-0.8, 0.8):
                cv2.fillConvexPoly(
                    img,
                    quad(lane + off - 0.3, lane + off + 0.3, 1.0, far_z, yh),
                    worn,
                    cv2.LINE_AA,
                    SHIFT,
                )
        for x, col in (
            (EDGE_R, self._c_white),
            (EDGE_L, self._c_white),
            (CENTRE_X - 0.12, self._c_yellow),
            (CENTRE_X + 0.12, self._c_yellow),
        ):
            cv2.fillConvexPoly(
                img, quad(x - 0.06, x + 0.06, 1.0, far_z, yh), col, cv2.LINE_AA, SHIFT
            )
        # Fine texture and a light vignette, baked in.
        tex = rng.normal(0.0, 1.0, (h2, w, 1)).astype(np.float32)
        tex[:rows] *= 0.6
        yy, xx = np.mgrid[0:h2, 0:w].astype(np.float32)
        vig = 1.0 - 0.18 * (((xx - w / 2) / (w / 2)) ** 2 + ((yy - h2 / 2) / (h2 / 2)) ** 2) / 2
        out = img.astype(np.float32) * vig[..., None] + tex * 2.5
        self._static = np.clip(out, 0, 255).astype(np.uint8)

    def _curb_face(self, x: float, z0: float, z1: float, yh: float) -> np.ndarray:
        f, cx = self._f, self._cx
        z0 = max(z0, self._ground_near)
        pts = [
            (cx + f * x / z0, yh + f * CAM_H / z0),
            (cx + f * x / z1, yh + f * CAM_H / z1),
            (cx + f * x / z1, yh + f * (CAM_H - CURB_H) / z1),
            (cx + f * x / z0, yh + f * (CAM_H - CURB_H) / z0),
        ]
        return np.round(np.array(pts) * ONE).astype(np.int32)

    # -- ground that scrolls with the road --------------------------------------------------------
    def _ground_polys(self, rects: list, yh: float) -> np.ndarray:
        """Fixed-point pixel quads (n, 4, 2) of ground rectangles (x0, x1, z0, z1, height)."""
        r = np.array(rects, np.float64)
        x0, x1, y = r[:, 0], r[:, 1], r[:, 4]
        z0 = np.maximum(r[:, 2], self._ground_near)
        z1 = np.maximum(r[:, 3], z0 + 1e-3)
        f, cx = self._f, self._cx
        xs = np.stack((x0, x1, x1, x0), axis=1)
        zs = np.stack((z0, z0, z1, z1), axis=1)
        out = np.empty((*xs.shape, 2), np.float64)
        out[..., 0] = cx + f * xs / zs
        out[..., 1] = yh + f * (CAM_H - y[:, None]) / zs
        return np.rint(out * ONE).astype(np.int32)

    def _draw_ground(self, img: np.ndarray, yh: float) -> None:
        """Markings and patches that scroll with the road, and the cross streets."""
        s_cam = self._s_cam
        aa = cv2.LINE_AA
        vis = self._cx / self._f
        bands, yellow, white, patches = [], [], [], []
        for it in self._inters:
            z0, z1 = it.s - it.half - s_cam, it.s + it.half - s_cam
            if z1 < 1.0 or z0 > DRAW_FAR:
                continue
            side = vis * z1 + 6.0
            bands.append((ROAD_L, ROAD_R, z0, z1, 0.0))
            bands.append((-side, ROAD_L, z0, z1, CURB_H))
            bands.append((ROAD_R, side, z0, z1, CURB_H))
            zc = it.s - s_cam
            yellow.append((-side, ROAD_L - 1.0, zc - 0.15, zc + 0.15, CURB_H))
            yellow.append((ROAD_R + 1.0, side, zc - 0.15, zc + 0.15, CURB_H))
            for w0 in (it.s - it.half - 3.5 - s_cam, it.s + it.half + 0.5 - s_cam):
                if w0 + 3.0 < 1.0:
                    continue
                x = ROAD_L + 0.4
                while x < ROAD_R - 0.4:
                    white.append((x, x + 0.5, w0, w0 + 3.0, 0.0))
                    x += 1.0
            zs = it.stop_near - s_cam
            if zs > 1.0:
                white.append((CENTRE_X + 0.25, EDGE_R, zs - 0.45, zs, 0.0))
            zs = it.stop_far - s_cam
            white.append((EDGE_L, CENTRE_X - 0.25, zs, zs + 0.45, 0.0))
        manholes = []
        for d in self._decals:
            z = d[1] - s_cam
            if 0.0 < z < 120.0:
                x, length, width = d[2], d[3], d[4]
                (manholes if d[0] == "manhole" else patches).append(
                    (x - width / 2, x + width / 2, z, z + length, 0.0)
                )
        blocked = [(it.stop_near - 1.0, it.stop_far + 1.0) for it in self._inters]
        k = math.floor((s_cam + 1.0) / DASH_PERIOD)
        while k * DASH_PERIOD < s_cam + 160.0:
            s0 = k * DASH_PERIOD
            k += 1
            if s0 + DASH < s_cam + 1.0 or any(a < s0 + DASH and s0 < b for a, b in blocked):
                continue
            z0 = s0 - s_cam
            white.append((-1.825, -1.675, z0, z0 + DASH, 0.0))
            white.append((1.675, 1.825, z0, z0 + DASH, 0.0))
        for rects, colour in (
            (patches, self._c_patch),
            (manholes, self._c_manhole),
            (bands, self._c_road_band),
            (yellow, self._c_yellow),
            (white, self._c_white),
        ):
            if rects:
                cv2.fillPoly(img, self._ground_polys(rects, yh), colour, aa, SHIFT)
        if self._bloom:
            self._ground_light(img, yh)

    def _ground_light(self, img: np.ndarray, yh: float) -> None:
        """Pools of light on the road from street lights and oncoming headlights."""
        s_cam = self._s_cam
        q = 4
        small = np.zeros((self.height // q + 1, self.width // q + 1, 3), np.uint8)
        f, cx = self._f / q, self._cx / q
        strength = 0.5 if self.lighting == "night" else 0.25
        spots = []
        for pr in self._props:
            if pr.kind == "lamp":
                spots.append((pr.x - pr.data["side"] * 1.8, pr.s - s_cam, 4.0, (50, 105, 150)))
        for v in self._oncoming:
            spots.append((v.x + 0.5, v.s - v.length / 2 - 9.0 - s_cam, 6.0, (80, 95, 105)))
        drawn = False
        for x, z, r, col in spots:
            if z < 3.0 or z > 120.0:
                continue
            centre = (int((cx + f * x / z) * ONE), int((yh / q + f * CAM_H / z) * ONE))
            axes = (int(f * r / z * ONE), int((f * CAM_H * r / (z * z) + 0.5) * ONE))
            if axes[0] < ONE // 2:
                continue
            cv2.ellipse(
                small, centre, axes, 0, 0, 360, _scale(col, strength), -1, cv2.LINE_AA, SHIFT
            )
            drawn = True
        if drawn:
            small = cv2.GaussianBlur(small, (0, 0), 2.0)
            up = cv2.resize(small, (small.shape[1] * q, small.shape[0] * q))
            cv2.add(img, up[: self.height, : self.width], dst=img)
