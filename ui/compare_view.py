"""The Compare dock: one detection on the frame on screen, explained two ways side by side
(two methods, two layers, or two models), each with its attention in box, to see which one to
trust. Another model than the window's loads with weights ``auto`` (COCO where they are here,
else the demo detector stands in, and the side's title says so).

It runs in a thread of its own, on its own copy of the model, for the newest frame only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QComboBox, QGridLayout, QLabel, QWidget

from live_explain.config import Settings
from live_explain.errors import UserError
from live_explain.explain.methods import get_method, method_names
from live_explain.model.detector import Detections, Detector
from live_explain.model.names import DEMO_MODEL, DETECTORS, available_yolo_models
from live_explain.monitor.metrics import box_iou
from live_explain.monitor.signals import detection_signals
from live_explain.render.overlay import RenderStyle, class_colour, draw_detections
from live_explain.ui.images import ImagePane, bgr_to_qimage
from live_explain.ui.latest_worker import LatestWorker
from live_explain.ui.loaded_model import LoadedModel, load_detector_model, make_detector

DEFAULT_LAYER = "(default layer)"
THIS_MODEL = "(the window's model)"
SAME_DETECTION_IOU = 0.5


@dataclass(frozen=True)
class CompareSide:
    """One side: what it used, the frame with the detection's map, its attention in box."""

    title: str
    picture: np.ndarray | None  # BGR; None when this setting does not find the detection
    attention: float | None
    score: float | None


class CompareWorker(LatestWorker):
    """Explains one frame under each side's method and layer (detectors cached per setting)."""

    name = "compare"

    def __init__(self) -> None:
        super().__init__()
        self._detectors: dict[tuple, Detector] = {}
        self._models: dict[str, LoadedModel] = {}  # other models than the window's
        self._loaded: LoadedModel | None = None

    def compute(self, key, loaded, settings, sides, image, box, name):
        """``(key, [CompareSide, ...])``: ``key`` says which request this answers."""
        if loaded is not self._loaded:
            self._detectors.clear()
            self._loaded = loaded
        return key, [self._side(loaded, settings, side, image, box, name) for side in sides]

    def _model(self, loaded: LoadedModel, model: str | None) -> LoadedModel:
        if model is None or model == loaded.name:
            return loaded
        if model not in self._models:
            self._models[model] = load_detector_model(model, "auto")
        return self._models[model]

    def _side(self, loaded, settings: Settings, side, image, box, name) -> CompareSide:
        method, layer, model = side
        try:
            chosen_model = self._model(loaded, model)
        except UserError as exc:
            return CompareSide(f"{model}: {exc}", None, None, None)
        key = (method, layer, chosen_model.name)
        if key not in self._detectors:
            chosen = settings.replace(method=method, layer=layer, selected=None, classes=None)
            self._detectors[key] = make_detector(chosen_model, chosen)
        detector = self._detectors[key]
        title = f"{get_method(method).title} on {layer or detector.layer}"
        if chosen_model is not loaded:
            title += f" of {chosen_model.shown_name}"
        dets = detector(image)
        row = matching_row(dets, box, name)
        if row is None or dets.heatmaps is None:
            return CompareSide(f"{title}: not detected with this setting", None, None, None)
        signals = detection_signals(dets.heatmaps[row], dets.boxes[row], dets.frame_size)
        style = RenderStyle(settings.colormap, settings.alpha, boxes=False, selected=row)
        picture = draw_detections(image, dets, style)
        x0, y0, x1, y1 = (round(float(v)) for v in dets.boxes[row])
        cv2.rectangle(picture, (x0, y0), (x1, y1), class_colour(int(dets.labels[row])), 2)
        picture = around(picture, dets.boxes[row])
        return CompareSide(title, picture, signals.attention_in_box, float(dets.scores[row]))


def around(picture: np.ndarray, box: np.ndarray, context: float = 3.0, least: int = 128):
    """The part of ``picture`` around ``box``: ``context`` times its size (at least ``least``
    pixels a side), so that a small detection's map is big enough to see."""
    height, width = picture.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box)
    side_w = min(width, max(least, (x1 - x0) * context))
    side_h = min(height, max(least * height / width, (y1 - y0) * context, side_w * height / width))
    side_w = min(width, max(side_w, side_h * width / height))  # the frame's aspect
    left = int(np.clip((x0 + x1 - side_w) / 2, 0, width - side_w))
    top = int(np.clip((y0 + y1 - side_h) / 2, 0, height - side_h))
    return np.ascontiguousarray(picture[top : top + int(side_h), left : left + int(side_w)])


def matching_row(dets: Detections, box: np.ndarray, name: str) -> int | None:
    """The row of ``dets`` that is the detection ``box`` (IoU, the same class name first:
    another model numbers its classes its own way)."""
    if not len(dets):
        return None
    iou = box_iou(np.asarray(box, np.float32)[None, :], np.asarray(dets.boxes, np.float32))[0]
    rank = iou + (np.asarray(dets.names) == name)
    row = int(np.argmax(rank))
    return row if iou[row] >= SAME_DETECTION_IOU else None


class ComparePanel(QWidget):
    """Two choices of method, layer and model over two pictures of the selected detection."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        self.methods, self.layers, self.models, self.panes, self.captions = [], [], [], [], []
        names = [m for m in method_names() if m != "none"]
        for column, default in enumerate(("gradcam", "hirescam")):
            method = QComboBox()
            for name in names:
                method.addItem(get_method(name).title, name)
            method.setCurrentIndex(names.index(default))
            layer = QComboBox()
            layer.setEditable(True)
            layer.addItem(DEFAULT_LAYER)
            model = QComboBox()
            model.addItem(THIS_MODEL, None)
            for other in (DEMO_MODEL, *DETECTORS, *available_yolo_models()):
                model.addItem(other, other)
            model.setToolTip("another model loads with weights auto: COCO where they are here")
            pane = ImagePane("select a detection to compare its maps")
            caption = QLabel("")
            caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(method, 0, column)
            grid.addWidget(layer, 1, column)
            grid.addWidget(model, 2, column)
            grid.addWidget(pane, 3, column)
            grid.addWidget(caption, 4, column)
            grid.setColumnStretch(column, 1)
            method.currentIndexChanged.connect(self._choice_changed)
            model.currentIndexChanged.connect(self._choice_changed)
            layer.currentTextChanged.connect(self._choice_changed)
            self.models.append(model)
            self.methods.append(method)
            self.layers.append(layer)
            self.panes.append(pane)
            self.captions.append(caption)
        grid.setRowStretch(3, 1)
        self.worker = CompareWorker()
        self.worker.ready.connect(self._show)
        self.worker.failed.connect(lambda message: self.captions[0].setText(message))
        self.worker.start()
        self.sides: list[CompareSide] = []
        self.frame: int | None = None  # the frame the sides show
        self._last: tuple | None = None
        self._request_args: tuple | None = None

    def choices(self) -> list[tuple[str, str | None, str | None]]:
        """(method, layer or None for the default, model or None for the window's) per side."""
        out = []
        for method, layer, model in zip(self.methods, self.layers, self.models, strict=True):
            text = layer.currentText().strip()
            chosen = None if text in ("", DEFAULT_LAYER) else text
            out.append((method.currentData(), chosen, model.currentData()))
        return out

    def set_layers(self, loaded: LoadedModel) -> None:
        for combo in self.layers:
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(DEFAULT_LAYER)
            combo.addItems([name for name, _ in loaded.layers if name])
            combo.setCurrentText(current)
            combo.blockSignals(False)

    def offer(self, loaded, settings: Settings, image, position: int, box, name: str) -> None:
        """The frame on screen and the detection to compare; looked at while the dock shows."""
        self._request_args = (position, loaded, settings, image, np.asarray(box, np.float32), name)
        self.ask()

    def ask(self) -> None:
        """Ask the worker about the newest frame and choices (unless that is asked already)."""
        if self._request_args is None or not self.isVisible():
            return
        position, loaded, settings, image, box, name = self._request_args
        choices = self.choices()
        # the settings too: a colormap or opacity changed while paused redraws both sides
        key = (id(loaded), settings, position, tuple(np.round(box, 1)), name, tuple(choices))
        if key == self._last:
            return
        self._last = key
        for caption in self.captions:
            caption.setText("explaining …")
        self.worker.request(key, loaded, settings, choices, image, box, name)

    def _choice_changed(self) -> None:
        self.ask()

    def _show(self, answer) -> None:
        key, sides = answer
        if key != self._last:  # an answer to an older question: a newer one is on its way
            return
        self.frame = key[2]
        self.sides = sides
        for side, pane, caption in zip(sides, self.panes, self.captions, strict=True):
            pane.set_image(bgr_to_qimage(side.picture) if side.picture is not None else QImage())
            if side.picture is None:
                caption.setText(side.title)
                continue
            inside = "n/a" if side.attention is None else f"{side.attention:.0%}"
            caption.setText(
                f"{side.title}\nscore {side.score:.2f}, attention in box {inside} "
                "(a fresh map of this frame)"
            )

    def close_worker(self) -> None:
        self.worker.stop()
        self.worker.wait(10_000)
