"""Explanation controls: model, weights, method, target layer, classes, threshold, top-K,
colormap, opacity, per-box or merged map, refresh policy.

Every change is emitted as ``changed(dict)`` with :class:`Settings` field names;
the worker applies it before the next frame, without restarting the source.
"""

from __future__ import annotations

from PyQt6.QtCore import QSize, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from live_explain.config import Settings
from live_explain.explain.methods import REGISTRY, method_names
from live_explain.model.names import (
    DEMO_MODEL,
    DETECTORS,
    DRIVING_CLASSES,
    available_yolo_models,
)
from live_explain.render.overlay import COLORMAPS
from live_explain.ui.loaded_model import LoadedModel
from live_explain.ui.settings import REFRESH_POLICIES

WEIGHT_CHOICES = ("auto", "demo", "coco", "none")
LAYER_ROLE = Qt.ItemDataRole.UserRole


class ExplanationControls(QWidget):
    """The form; ``settings`` is always what it shows."""

    changed = pyqtSignal(dict)

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self._filling = False  # set while the form is filled in code, not by the user
        self._default_layer = "backbone"  # the loaded model's, once one is loaded
        self._layer_items: dict[str, QTreeWidgetItem] = {}

        browse, driving, every = self._make_model_widgets()
        self._make_threshold_and_style_widgets()
        self._lay_out(browse, driving, every)
        self.show_settings(settings)
        self._connect_widgets()

    def _make_model_widgets(self) -> tuple[QToolButton, QPushButton, QPushButton]:
        """Model, weights, method, the layer tree and the class list (and their buttons)."""
        self.model_box = QComboBox(objectName="model")
        self.model_box.addItems([DEMO_MODEL, *DETECTORS, *available_yolo_models()])
        short = QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        self.model_box.setSizeAdjustPolicy(short)  # long names must not widen the dock
        self.model_box.setMinimumContentsLength(12)
        self.weights_box = QComboBox(objectName="weights", editable=True)
        self.weights_box.addItems(WEIGHT_CHOICES)
        self.weights_box.setSizeAdjustPolicy(short)
        self.weights_box.setMinimumContentsLength(8)
        self.weights_box.setToolTip("auto, demo, coco, none (random) or a state-dict file")
        browse = QToolButton(text="…", toolTip="Choose a weights file")
        browse.clicked.connect(self._browse_weights)
        self.weights_note = QLabel(wordWrap=True)
        self.weights_note.setStyleSheet("color: gray")

        self.method_box = QComboBox(objectName="method")
        for method in method_names(detectors=True):  # the registry's, in its order
            self.method_box.addItem(REGISTRY[method].title, method)

        self.layer_tree = QTreeWidget(objectName="layers")
        self.layer_tree.setHeaderLabels(["layer", "type"])
        self.layer_tree.setMinimumHeight(170)  # grows with the dock: no empty space below
        self.layer_tree.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.layer_tree.setToolTip("Target layer (named_modules()); double-click to choose")
        self.layer_label = QLabel()

        self.class_list = QListWidget(objectName="classes")
        # two columns: eight driving classes in four rows, the rest (COCO's 80) scroll
        self.class_list.setFlow(QListWidget.Flow.LeftToRight)
        self.class_list.setWrapping(True)
        self.class_list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.class_list.setGridSize(QSize(135, self.fontMetrics().lineSpacing() + 4))
        self.class_list.setFixedHeight((self.fontMetrics().lineSpacing() + 4) * 4 + 8)
        driving = QPushButton("Driving")
        every = QPushButton("All")
        driving.clicked.connect(lambda: self._check_classes(DRIVING_CLASSES))
        every.clicked.connect(lambda: self._check_classes(None))

        return browse, driving, every

    def _make_threshold_and_style_widgets(self) -> None:
        """Score, top-K, colormap, opacity, per-box or merged, refresh policy."""
        self.score_box = QDoubleSpinBox(objectName="score", decimals=2, singleStep=0.05)
        self.score_box.setRange(0.0, 1.0)
        self.topk_box = QSpinBox(objectName="topk")
        self.topk_box.setRange(1, 100)
        self.colormap_box = QComboBox(objectName="colormap")
        self.colormap_box.addItems(sorted(COLORMAPS))
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, objectName="opacity")
        self.opacity_slider.setRange(0, 100)
        self.opacity_label = QLabel()
        self.map_box = QComboBox(objectName="map")
        self.map_box.addItem("per box", False)
        self.map_box.addItem("merged", True)
        self.refresh_box = QComboBox(objectName="refresh")
        self.refresh_box.addItems(REFRESH_POLICIES)
        self.refresh_box.setToolTip(
            "adaptive: reuse a track's explanation until it goes stale; "
            "every-frame: recompute every map on every frame"
        )

    def _lay_out(self, browse: QToolButton, driving: QPushButton, every: QPushButton) -> None:
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Model", self.model_box)
        weights_row = QHBoxLayout()
        weights_row.addWidget(self.weights_box, 1)
        weights_row.addWidget(browse)
        form.addRow("Weights", weights_row)
        form.addRow("", self.weights_note)
        form.addRow("Method", self.method_box)
        form.addRow("Layer", self.layer_label)
        form.addRow(self.layer_tree)
        class_buttons = QHBoxLayout()
        class_buttons.addWidget(QLabel("Classes"), 1)
        class_buttons.addWidget(driving)
        class_buttons.addWidget(every)
        form.addRow(class_buttons)
        form.addRow(self.class_list)
        form.addRow("Score ≥", self.score_box)
        form.addRow("Top-K", self.topk_box)
        form.addRow("Colormap", self.colormap_box)
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(self.opacity_slider, 1)
        opacity_row.addWidget(self.opacity_label)
        form.addRow("Opacity", opacity_row)
        form.addRow("Map", self.map_box)
        form.addRow("Refresh", self.refresh_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(form, 1)

    def _connect_widgets(self) -> None:
        self.model_box.currentTextChanged.connect(lambda name: self._emit(model=name))
        self.weights_box.activated.connect(lambda _: self._weights_entered())
        self.weights_box.lineEdit().editingFinished.connect(self._weights_entered)
        self.method_box.currentIndexChanged.connect(
            lambda _: self._emit(method=self.method_box.currentData())
        )
        self.layer_tree.itemActivated.connect(self._layer_chosen)
        self.layer_tree.itemClicked.connect(self._layer_chosen)
        self.class_list.itemChanged.connect(lambda _: self._emit(classes=self.checked_classes()))
        self.score_box.valueChanged.connect(lambda v: self._emit(score_thresh=round(v, 4)))
        self.topk_box.valueChanged.connect(lambda v: self._emit(topk=v))
        self.colormap_box.currentTextChanged.connect(lambda name: self._emit(colormap=name))
        self.opacity_slider.valueChanged.connect(self._opacity_moved)
        self.map_box.currentIndexChanged.connect(
            lambda _: self._emit(merged=bool(self.map_box.currentData()))
        )
        self.refresh_box.currentTextChanged.connect(lambda name: self._emit(refresh=name))

    # -- filling the form -------------------------------------------------------------------
    def show_settings(self, settings: Settings) -> None:
        self._filling = True
        try:
            self.settings = settings
            self.model_box.setCurrentText(settings.model)
            self.weights_box.setCurrentText(settings.weights)
            self.method_box.setCurrentIndex(max(0, self.method_box.findData(settings.method)))
            self.score_box.setValue(settings.score_thresh)
            self.topk_box.setValue(settings.topk)
            self.colormap_box.setCurrentText(settings.colormap)
            self.opacity_slider.setValue(round(settings.alpha * 100))
            self.opacity_label.setText(f"{settings.alpha:.0%}")
            self.map_box.setCurrentIndex(1 if settings.merged else 0)
            if settings.refresh in REFRESH_POLICIES:
                self.refresh_box.setCurrentText(settings.refresh)
            self._show_layer()
        finally:
            self._filling = False

    def show_model(self, loaded: LoadedModel) -> None:
        """Fill the layer tree and class list from the model that is now loaded."""
        self._filling = True
        try:
            self.model_box.setCurrentText(loaded.name)
            self.weights_box.setCurrentText(loaded.weights)
            self.weights_note.setText(f"loaded: {loaded.weights_source}")
            self._fill_layers(loaded)
            self._fill_classes(loaded.class_names)
            self._default_layer = loaded.default_layer
            self._show_layer()
        finally:
            self._filling = False

    def _fill_layers(self, loaded: LoadedModel) -> None:
        self.layer_tree.clear()
        items: dict[str, QTreeWidgetItem] = {}
        for name, kind in loaded.layers:
            parent_name, _, short = name.rpartition(".")
            parent = items.get(parent_name)
            item = QTreeWidgetItem([short, kind])
            item.setData(0, LAYER_ROLE, name)
            item.setToolTip(0, name)
            if parent is None:
                self.layer_tree.addTopLevelItem(item)
            else:
                parent.addChild(item)
            items[name] = item
        self._layer_items = items
        self.layer_tree.resizeColumnToContents(0)

    def _fill_classes(self, names: tuple[str, ...]) -> None:
        self.class_list.clear()
        chosen = self.settings.classes
        for name in names:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = chosen is None or name in chosen
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.class_list.addItem(item)

    def _show_layer(self) -> None:
        method = REGISTRY[self.settings.method]
        if method.gradients == "input":
            self.layer_label.setText(f"input pixels ({method.name})")
            self.layer_tree.setEnabled(False)
            return
        self.layer_tree.setEnabled(True)
        layer = self.settings.layer or self._default_layer
        self.layer_label.setText(layer + ("  (default)" if self.settings.layer is None else ""))
        item = self._layer_items.get(layer)
        if item is not None:
            self.layer_tree.setCurrentItem(item)
            self.layer_tree.scrollToItem(item)

    # -- reading the form -------------------------------------------------------------------
    def checked_classes(self) -> tuple[str, ...] | None:
        """The checked classes; ``None`` when every class is checked."""
        items = [self.class_list.item(i) for i in range(self.class_list.count())]
        checked = tuple(i.text() for i in items if i.checkState() == Qt.CheckState.Checked)
        return None if len(checked) == len(items) else checked

    def _check_classes(self, names: tuple[str, ...] | None) -> None:
        self.class_list.blockSignals(True)
        for i in range(self.class_list.count()):
            item = self.class_list.item(i)
            on = names is None or item.text() in names
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        self.class_list.blockSignals(False)
        self._emit(classes=self.checked_classes())

    def _emit(self, **changes) -> None:
        if self._filling:
            return
        changes = {k: v for k, v in changes.items() if getattr(self.settings, k) != v}
        if not changes:
            return
        if ("model" in changes or "weights" in changes) and self.settings.layer is not None:
            changes["layer"] = None  # another model: its own default layer
        self.settings = self.settings.replace(**changes)
        if "method" in changes or "layer" in changes:
            self._show_layer()
        self.changed.emit(changes)

    def _weights_entered(self) -> None:
        text = self.weights_box.currentText().strip()
        if text:
            self._emit(weights=text)

    def _browse_weights(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Weights file", "", "State dicts (*.pt *.pth *.bin);;All files (*)"
        )
        if path:
            self.weights_box.setCurrentText(path)
            self._emit(weights=path)

    def _layer_chosen(self, item: QTreeWidgetItem, column: int = 0) -> None:
        name = item.data(0, LAYER_ROLE)
        self._emit(layer=None if name == self._default_layer else name)

    def _opacity_moved(self, value: int) -> None:
        self.opacity_label.setText(f"{value}%")
        self._emit(alpha=value / 100.0)

    def set_opacity(self, alpha: float) -> None:
        """As if the user moved the opacity slider."""
        self.opacity_slider.setValue(round(alpha * 100))

    def set_method(self, method: str) -> None:
        """As if the user chose ``method``."""
        self.method_box.setCurrentIndex(self.method_box.findData(method))
