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
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget
from torch import nn

from live_explain.explain.features import (
    capture_layer,
    feature_map_grid,
    first_conv,
    first_conv_filters,
    most_active_channels,
    top_patches,
)
from live_explain.ui.latest_worker import LatestWorker
from live_explain.ui.loaded_model import LoadedModel
from live_explain.ui.tile_grid import TileGridPane, best_columns

MIN_INTERVAL_S = 0.5  # between two inspections of the live frame
CHANNELS, FILTERS = 16, 32  # tiles in the channel grids and in the filter grid


@dataclass(frozen=True)
class LayerPictures:
    """Grids (BGR uint8) for one layer on one frame (``frame_index`` from 0; shown from 1,
    as the transport counts)."""

    layer: str
    frame_index: int
    feature_maps: np.ndarray
    top_patches: np.ndarray | None  # None when a peak lies outside the frame
    filters: np.ndarray
    channels: tuple[int, ...] = ()  # the channels of the feature maps and patches, in order
    columns: tuple[int, int] = (4, 6)  # of the channel grids and of the filter grid
    filter_count: int = FILTERS  # kernels in the filter grid (fewer where the model has fewer)

    @property
    def filter_captions(self) -> list[str]:
        return [f"f {i}" for i in range(self.filter_count)]


class InspectorWorker(LatestWorker):
    """Computes :class:`LayerPictures` for the newest request; older ones are skipped."""

    name = "layer inspector"

    def __init__(self) -> None:
        super().__init__()
        self._model_of: LoadedModel | None = None
        self._model: nn.Module | None = None
        self._filters: dict[int, np.ndarray] = {}  # per column count

    def compute(self, loaded, image, frame_index, layer, columns=(4, 6)) -> LayerPictures:
        return self._inspect(loaded, image, frame_index, layer, columns)

    def _inspect(
        self,
        loaded: LoadedModel,
        image: np.ndarray,
        frame_index: int,
        layer: str,
        columns: tuple[int, int],
    ) -> LayerPictures:
        if self._model_of is not loaded:
            self._model = loaded.copy_model()
            self._model_of = loaded
            self._filters.clear()
        grid, filter_grid = columns
        if filter_grid not in self._filters:
            self._filters[filter_grid] = first_conv_filters(
                self._model, FILTERS, filter_grid, burn_captions=False
            )
        view = capture_layer(self._model, image, layer)
        channels = tuple(most_active_channels(view.activations, CHANNELS).tolist())
        try:
            patches = top_patches(view, image, CHANNELS, grid, burn_captions=False)
        except cv2.error:  # a peak in the detector's padding, outside the frame: no patch
            patches = None
        return LayerPictures(
            layer=layer,
            frame_index=frame_index,
            feature_maps=feature_map_grid(view, CHANNELS, columns=grid, burn_captions=False),
            top_patches=patches,
            filters=self._filters[filter_grid],
            filter_count=min(FILTERS, first_conv(self._model).out_channels),
            channels=channels,
            columns=columns,
        )


class LayerInspector(QWidget):
    """The dock's content. :meth:`offer` hands it each new frame; it decides when to look."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layer-inspector")
        self.caption = QLabel("no frame yet")
        self.caption.setWordWrap(True)
        self.feature_pane = TileGridPane("feature maps appear with the first frame")
        self.patch_pane = TileGridPane("")
        self.filter_pane = TileGridPane("")
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
        pane = self.feature_pane
        columns = (
            best_columns(CHANNELS, pane.width(), pane.height()),
            best_columns(FILTERS, self.filter_pane.width(), self.filter_pane.height()),
        )
        self.worker.request(loaded, image, index, layer, columns)

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
        names = [f"ch {c}" for c in pictures.channels]
        grid, filter_grid = pictures.columns
        self.feature_pane.set_grid(pictures.feature_maps, names, grid)
        patches = pictures.top_patches
        self.patch_pane.set_grid(patches, names if patches is not None else [], grid)
        self.patch_pane.placeholder = "a peak lies outside the frame" if patches is None else ""
        self.filter_pane.set_grid(pictures.filters, pictures.filter_captions, filter_grid)

    def _failed(self, message: str) -> None:
        if message != self._error:
            self._error = message
            self.caption.setText(f"cannot show this layer: {message}")
