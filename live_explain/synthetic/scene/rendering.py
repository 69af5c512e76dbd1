"""Rendering a frame: projection, drawing far to near, and the truth with each object's
occlusion."""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np

from live_explain.synthetic.scene.constants import (
    _ROT,
    CAM_H,
    DIFFICULT_BOX_H,
    DIFFICULT_HIDDEN,
    MAX_HIDDEN,
    MIN_BOX_H,
    MIN_INSIDE,
    ONE,
    SHIFT,
    Z_NEAR,
)
from live_explain.synthetic.scene.mesh import _Mesh


class RenderingMixin:
    """``DrivingScene`` part: renders a frame and its truth."""

    # -- rendering ---------------------------------------------------------------------------------
    def _render(self) -> tuple[np.ndarray, dict]:
        w, h, m = self.width, self.height, self._margin
        dy = round(self._amp * math.sin(self._odo * 0.85))  # road vibration
        yh = self._yh0 + dy
        img = self._static[m - dy : m - dy + h].copy()
        lab = np.zeros((h, w), np.uint8)  # who is drawn where: 0 nothing, 255 clutter, k object k
        self._draw_ground(img, yh)
        mesh = _Mesh()
        segments = []
        next_lab = 1
        back_marks = False
        for tier, kind, obj, z_lo in self._drawables():
            owners = self._owners(kind, obj)
            lv = [0, 0, 0] if tier == 0 else [255, 255, 255]
            for o, _, _ in owners:
                if next_lab < 255:
                    lv[o] = next_lab
                    next_lab += 1
            if tier == 0 and owners:
                back_marks = True  # labelled things out there: buildings may hide them
            elif tier == 0 and back_marks:
                lv = [255, 255, 255]
            mesh.lv = tuple(lv)
            op0, p0 = len(mesh.ops), len(mesh.pts)
            tx, tz, heading = self._build(kind, obj, mesh)
            if len(mesh.ops) > op0:
                z_near = 2.0 if tier == 0 else Z_NEAR
                place = (tx, tz, heading, z_near, max(z_lo, 0.0))
                segments.append((op0, len(mesh.ops), p0, len(mesh.pts), place, owners, lv))
        found, glows = self._draw_all(img, lab, mesh, segments, yh)
        boxes, labels, ids, hidden, dist = [], [], [], [], []
        for box, crop, labval, c0, label, track_id, z in found:
            x0, y0, x1, y1 = crop
            c1 = int(np.count_nonzero(lab[y0:y1, x0:x1] == labval))
            occ = 1.0 - c1 / c0
            if occ > MAX_HIDDEN:
                continue
            boxes.append(box)
            labels.append(label)
            ids.append(track_id)
            hidden.append(round(occ, 3))
            dist.append(round(z, 2))
        self._post(img, lab, glows, yh)
        for label in labels:
            self._seen[label] = self._frame
        truth = {
            "boxes": np.array(boxes, np.float32).reshape(-1, 4),
            "labels": labels,
            "track_ids": ids,
            "occlusion": hidden,
            "difficult": [
                b[3] - b[1] < DIFFICULT_BOX_H or occ > DIFFICULT_HIDDEN
                for b, occ in zip(boxes, hidden, strict=True)
            ],
            "distance": dist,
            "lighting": self.lighting,
            "weather": self.weather,
        }
        return img, truth

    def _draw_all(self, img, lab, mesh: _Mesh, segments: list, yh: float) -> tuple[list, list]:
        """Project every object's points at once, then draw object by object, far to near.

        Returns the truth candidates (with their drawn-pixel counts taken right after each
        object is drawn, before nearer ones cover it) and the lights that glow."""
        if not segments:
            return [], []
        n_pts = len(mesh.pts)
        pts = np.fromiter(itertools.chain.from_iterable(mesh.pts), np.float64, 3 * n_pts)
        pts = pts.reshape(n_pts, 3)
        counts = [s[3] - s[2] for s in segments]
        par = np.array([(p[0], p[1], *_ROT[p[2]], p[3]) for *_, p, _, _ in segments], np.float64)
        tx, tz, ra, rb, rc, rd, zn = np.repeat(par, counts, axis=0).T
        lx, ly, lz = pts[:, 0], pts[:, 1], pts[:, 2]
        wx = tx + ra * lx + rb * lz
        wz = tz + rc * lx + rd * lz
        inv = self._f / np.maximum(wz, zn)
        px = self._cx + wx * inv
        py = yh + (CAM_H - ly) * inv
        ixy = np.rint(np.stack((px, py), axis=1) * ONE).astype(np.int32)
        own = pad = None
        aa, l8 = cv2.LINE_AA, cv2.LINE_8
        found, glows = [], []
        ops = mesh.ops
        bloom = self._bloom
        for op0, op1, p0, p1, place, owners, lv in segments:
            for kind, start, n, colour, lval, size, glow in ops[op0:op1]:
                if kind == 0:
                    q = ixy[start : start + n]
                    cv2.fillConvexPoly(img, q, colour, aa if lval else l8, SHIFT)
                    if lval:
                        cv2.fillConvexPoly(lab, q, lval, l8, SHIFT)
                elif kind == 1 or kind == 3:
                    q = ixy[start : start + n]
                    t = max(1, int(size * inv[start] + 0.5))
                    cv2.polylines(img, [q], kind == 3, colour, t, aa, SHIFT)
                    if lval:
                        cv2.polylines(lab, [q], kind == 3, lval, t, l8, SHIFT)
                elif kind == 2:
                    r = int(size * inv[start] * ONE + 0.5)
                    if r < ONE // 3:
                        continue
                    centre = (int(ixy[start, 0]), int(ixy[start, 1]))
                    cv2.circle(img, centre, r, colour, -1, aa, SHIFT)
                    if lval:
                        cv2.circle(lab, centre, r, lval, -1, l8, SHIFT)
                elif kind == 5:
                    cv2.fillPoly(img, ixy[start : start + n].reshape(-1, 4, 2), colour, l8, SHIFT)
                elif kind == 6:
                    t = max(1, int(size * inv[start] + 0.5))
                    q = ixy[start : start + n].reshape(-1, 2, 2)
                    cv2.polylines(img, q, False, colour, t, l8, SHIFT)
                else:  # the text of a stop sign
                    scale = 0.62 * inv[start] / self._stop_text_w
                    if scale * self._stop_text_w < 11:
                        continue
                    tw = self._stop_text_w * scale
                    org = (int(px[start] - tw / 2), int(py[start] + size * inv[start] / 2))
                    thick = max(1, int(scale * 2.2))
                    cv2.putText(
                        img, "STOP", org, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, aa
                    )
                if glow is not None and bloom:
                    glows.append((start, start + n // 2, glow))
            if not owners:
                continue
            if own is None:
                own, pad = np.array(mesh.own), np.array(mesh.pad) * inv
            for o, label, track_id in owners:
                if lv[o] in (0, 255):
                    continue
                sel = own[p0:p1] == o
                if not sel.any():
                    continue
                ps, qs, ds = px[p0:p1][sel], py[p0:p1][sel], pad[p0:p1][sel]
                box = (
                    float((ps - ds).min()),
                    float((qs - ds).min()),
                    float((ps + ds).max()),
                    float((qs + ds).max()),
                )
                rec = self._truth_candidate(box, lab, lv[o], label, track_id, place[4])
                if rec is not None:
                    found.append(rec)
        lights = []
        if glows:
            # Centre (mean of opposite corners), size and height of each light, for the bloom.
            idx = np.array([(a, b) for a, b, _ in glows])
            gx = ((px[idx[:, 0]] + px[idx[:, 1]]) / 2).tolist()
            gy = ((py[idx[:, 0]] + py[idx[:, 1]]) / 2).tolist()
            gi, gh, gz = inv[idx[:, 0]].tolist(), ly[idx[:, 0]].tolist(), wz[idx[:, 0]].tolist()
            for k, (_, _, glow) in enumerate(glows):
                lights.append((gx[k], gy[k], glow[1] * gi[k], glow[0], glow[2], gh[k], gz[k]))
        return found, lights

    def _truth_candidate(self, box, lab, labval, label, track_id, z):
        """The clipped box and its drawn-pixel count, or None when it cannot be listed."""
        w, h = self.width, self.height
        x0, y0, x1, y1 = box
        area = max(x1 - x0, 1e-6) * max(y1 - y0, 1e-6)
        cx0, cy0 = min(max(x0, 0.0), w), min(max(y0, 0.0), h)
        cx1, cy1 = min(max(x1, 0.0), w), min(max(y1, 0.0), h)
        if cy1 - cy0 < MIN_BOX_H or cx1 - cx0 < 2.0:
            return None
        if (cx1 - cx0) * (cy1 - cy0) < MIN_INSIDE * area:
            return None
        crop = (int(cx0), int(cy0), math.ceil(cx1), math.ceil(cy1))
        c0 = int(np.count_nonzero(lab[crop[1] : crop[3], crop[0] : crop[2]] == labval))
        if c0 == 0:
            return None
        return ((cx0, cy0, cx1, cy1), crop, labval, c0, label, track_id, z)
