"""Lighting, weather and camera effects: headlight beam, bloom, rain, haze, motion blur and
sensor noise."""

from __future__ import annotations

import cv2
import numpy as np

from live_explain.synthetic.scene.constants import CAM_H, ONE, SHIFT
from live_explain.synthetic.scene.palette import _LIGHT, _scale


class EffectsMixin:
    """``DrivingScene`` part: prepares the per-scene effects and applies them to frames."""

    # -- effects set-up ---------------------------------------------------------------------------
    def _make_effects(self) -> None:
        w, h = self.width, self.height
        fx = self._fx
        self._noise_pos = self._noise_neg = None
        if self.noise > 0:
            pad = 32
            lum = fx.standard_normal((h + pad, w + pad, 1), dtype=np.float32)
            chroma = fx.standard_normal((h + pad, w + pad, 3), dtype=np.float32)
            n = (lum * 0.8 + chroma * 0.45) * self.noise
            self._noise_pos = np.clip(n, 0, 255).astype(np.uint8)
            self._noise_neg = np.clip(-n, 0, 255).astype(np.uint8)
        self._beam = None
        beam = _LIGHT[self.lighting][4]
        if beam > 0:
            ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
            dy = ys - self._yh0
            z = np.where(dy > 0.5, self._f * CAM_H / np.maximum(dy, 0.5), 1e6)
            x = (xs - self._cx) * z / self._f
            spread = 1.4 + 0.16 * z
            inten = np.exp(-0.5 * (x / spread) ** 2) / (1 + (z / 30.0) ** 2)
            inten *= np.clip((dy + 0.1 * h) / (0.2 * h), 0, 1)
            colour = np.array((0.85, 0.95, 1.0), np.float32) * beam
            self._beam = np.clip(inten[..., None] * colour, 0, 255).astype(np.uint8)
        self._haze_img = None
        if self.weather == "rain":
            haze = np.empty((h, w, 3), np.float32)
            haze[:] = np.array(_scale(self._sky_hor, 0.7), np.float32)
            self._haze_img = haze.astype(np.uint8)
        ts = cv2.getTextSize("STOP", cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)[0]
        self._stop_text_w = ts[0]
        self._stop_text_h = ts[1]

    # -- post-processing ---------------------------------------------------------------------------
    def _post(self, img: np.ndarray, lab: np.ndarray, glows: list, yh: float) -> None:
        w, h = self.width, self.height
        if self._beam is not None:
            cv2.add(img, self._beam, dst=img)
        if glows:
            q = 4
            small = np.zeros((h // q + 1, w // q + 1, 3), np.uint8)
            strength = 1.0 if self.lighting == "night" else 0.55
            wet = self.weather == "rain"
            for gx, gy, r, colour, labval, y, z in glows:
                ix, iy = int(gx), int(gy)
                if not (0 <= ix < w and 0 <= iy < h) or lab[iy, ix] != labval:
                    continue  # off-screen or hidden behind something nearer
                col = _scale(colour, strength)
                rr = max(int(r / q * ONE), ONE // 2)
                cv2.circle(
                    small, (int(gx / q * ONE), int(gy / q * ONE)), rr, col, -1, cv2.LINE_AA, SHIFT
                )
                if wet and z > 1.0:
                    ry = yh + self._f * (CAM_H + y) / z  # its mirror image in the wet road
                    if ry < h:
                        axes = (max(int(r / q * 0.5 * ONE), 4), max(int(r / q * 2.5 * ONE), 8))
                        cv2.ellipse(
                            small,
                            (int(gx / q * ONE), int(ry / q * ONE)),
                            axes,
                            0,
                            0,
                            360,
                            _scale(col, 0.5),
                            -1,
                            cv2.LINE_AA,
                            SHIFT,
                        )
            small = cv2.GaussianBlur(small, (0, 0), 1.5)
            up = cv2.resize(
                small, (small.shape[1] * q, small.shape[0] * q), interpolation=cv2.INTER_LINEAR
            )
            cv2.add(img, up[:h, :w], dst=img)
        if self.weather == "rain":
            fx = self._fx
            cv2.addWeighted(img, 0.78, self._haze_img, 0.22, 0.0, dst=img)
            n = int(w * h / 700)
            xy = fx.random((n, 2)) * (w, h)
            length = fx.uniform(0.03, 0.08, n) * h
            slant = 0.15 + fx.normal(0.0, 0.03, n)
            ends = xy + np.stack((slant * length, length), axis=1)
            segs = np.rint(np.stack((xy, ends), axis=1) * ONE).astype(np.int32)
            layer = np.zeros_like(img)
            level = {"day": 70, "dusk": 45, "night": 30}[self.lighting]
            cv2.polylines(layer, list(segs), False, (level, level, level), 1, cv2.LINE_AA, SHIFT)
            cv2.add(img, layer, dst=img)
            cv2.GaussianBlur(img, (3, 3), 0, dst=img)
        if self.motion_blur:
            # Zoom blur about the vanishing point, growing with speed (none when stopped):
            # three samples along each ray, taken at half size (the blur hides it) for speed.
            k = 1.0 + min(0.03, 0.0018 * self._ego.speed)
            if k > 1.001:
                hw, hh = w // 2, h // 2
                small = cv2.resize(img, (hw, hh), interpolation=cv2.INTER_AREA)
                acc = small.copy()
                for i, kk in enumerate((1.0 + (k - 1.0) / 2, k)):
                    shift = ((1 - kk) * self._cx / 2, (1 - kk) * yh / 2)
                    mat = np.array([[kk, 0, shift[0]], [0, kk, shift[1]]], np.float32)
                    zoom = cv2.warpAffine(
                        small,
                        mat,
                        (hw, hh),
                        flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE,
                    )
                    cv2.addWeighted(acc, (i + 1) / (i + 2), zoom, 1 / (i + 2), 0.0, dst=acc)
                up = cv2.resize(acc, (w, h), interpolation=cv2.INTER_LINEAR)
                cv2.addWeighted(img, 0.35, up, 0.65, 0.0, dst=img)
        if self._noise_pos is not None:
            ox, oy = (int(v) for v in self._fx.integers(0, 32, 2))
            cv2.add(img, self._noise_pos[oy : oy + h, ox : ox + w], dst=img)
            cv2.subtract(img, self._noise_neg[oy : oy + h, ox : ox + w], dst=img)
