"""The layer inspector: the chosen layer's most active feature maps on the current frame,
the frame patches that excite its channels most, and the first convolution's filters.

It runs the model in a thread of its own, on its own copy of the model (the engine's is
busy and hooked), at most a few times a second and only while the dock is visible.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget
from torch import nn

from live_explain.explain.features import (
    capture_layer,
    feature_map_grid,
    first_conv_filters,
    top_patches,
)
from live_explain.ui.images import ImagePane, bgr_to_qimage
from live_explain.ui.latest_worker import LatestWorker
from live_explain.ui.loaded_model import LoadedModel

MIN_INTERVAL_S = 0.5  # between two inspections of the live frame


@dataclass(frozen=True)
class LayerPictures:
    """Grids (BGR uint8) for one layer on one frame (``frame_index`` from 0; shown from 1,
    as the transport counts)."""

    layer: str
    frame_index: int
    feature_maps: np.ndarray
    top_patches: np.ndarray | None  # None when a peak lies outside the frame
    filters: np.ndarray


class InspectorWorker(LatestWorker):
    """Computes :class:`LayerPictures` for the newest request; older ones are skipped."""

    name = "layer inspector"

    def __init__(self) -> None:
        super().__init__()
        self._model_of: LoadedModel | None = None
        self._model: nn.Module | None = None
        self._filters: np.ndarray | None = None

    def compute(self, loaded, image, frame_index, layer) -> LayerPictures:
        return self._inspect(loaded, image, frame_index, layer)

    def _inspect(
        self, loaded: LoadedModel, image: np.ndarray, frame_index: int, layer: str
    ) -> LayerPictures:
        if self._model_of is not loaded:
            self._model = loaded.copy_model()
            self._model_of = loaded
            self._filters = first_conv_filters(self._model, count=32)
        view = capture_layer(self._model, image, layer)
        try:
            patches = top_patches(view, image, count=16)
        except cv2.error:  # a peak in the detector's padding, outside the frame: no patch
            patches = None
        return LayerPictures(
            layer=layer,
            frame_index=frame_index,
            feature_maps=feature_map_grid(view, count=16),
            top_patches=patches,
            filters=self._filters,
        )


class LayerInspector(QWidget):
    """The dock's content. :meth:`offer` hands it each new frame; it decides when to look."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layer-inspector")
        self.caption = QLabel("no frame yet")
        self.caption.setWordWrap(True)
        self.feature_pane = ImagePane("feature maps appear with the first frame")
        self.patch_pane = ImagePane("")
        self.filter_pane = ImagePane("")
        row = QHBoxLayout()
        for title, pane in (
            ("16 most active channels", self.feature_pane),
            ("frame patches that excite them most", self.patch_pane),
            ("first convolution's kernels", self.filter_pane),
        ):
            column = QVBoxLayout()
            label = QLabel(title)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            column.addWidget(label)
            column.addWidget(pane, 1)
            row.addLayout(column, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addLayout(row, 1)
        self.worker = InspectorWorker()
        self.worker.ready.connect(self._show)
        self.worker.failed.connect(self._failed)
        self.worker.start()
        self.pictures: LayerPictures | None = None
        self._last_request = 0.0
        self._last_key: tuple[int, str] | None = None
        self._error: str | None = None
        self._pending: tuple[LoadedModel, np.ndarray, int, str] | None = None
        self._later = QTimer(self)
        self._later.setSingleShot(True)
        self._later.timeout.connect(self._pending_now)

    def offer(self, loaded: LoadedModel | None, image: np.ndarray, index: int, layer: str) -> None:
        """A new frame is on screen; inspect it if the dock shows and it is time."""
        if loaded is None or not self.isVisible():
            return
        now = time.monotonic()
        key = (index, layer)
        layer_changed = self._last_key is None or self._last_key[1] != layer
        if key == self._last_key:
            return
        if now - self._last_request < MIN_INTERVAL_S and not layer_changed:
            # too soon: this frame is looked at when it is time, unless a newer one comes
            # first, so a paused frame is never left showing an older frame's maps
            self._pending = (loaded, image, index, layer)
            wait_ms = int((self._last_request + MIN_INTERVAL_S - now) * 1000) + 1
            self._later.start(max(wait_ms, 1))
            return
        self._request(loaded, image, index, layer)

    def _request(self, loaded: LoadedModel, image: np.ndarray, index: int, layer: str) -> None:
        self._later.stop()
        self._pending = None
        self._last_request, self._last_key = time.monotonic(), (index, layer)
        self.worker.request(loaded, image, index, layer)

    def _pending_now(self) -> None:
        if self._pending is not None and self.isVisible():
            self._request(*self._pending)

    def close_worker(self) -> None:
        self.worker.stop()
        self.worker.wait(5000)

    def _show(self, pictures: LayerPictures) -> None:
        self.pictures = pictures
        self._error = None
        self.caption.setText(f"layer <b>{pictures.layer}</b> on frame {pictures.frame_index + 1}")
        self.feature_pane.set_image(bgr_to_qimage(pictures.feature_maps))
        patches = pictures.top_patches
        self.patch_pane.set_image(QImage() if patches is None else bgr_to_qimage(patches))
        self.patch_pane.placeholder = "a peak lies outside the frame" if patches is None else ""
        self.filter_pane.set_image(bgr_to_qimage(pictures.filters))

    def _failed(self, message: str) -> None:
        if message != self._error:
            self._error = message
            self.caption.setText(f"cannot show this layer: {message}")
