"""Replay transport: play/pause, step, seek slider with time, speed and loop; plus the
record, screenshot and export buttons. Live sources get play/pause and record only."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from live_explain.ui.settings import SPEEDS


def clock(ms: float) -> str:
    """Milliseconds as m:ss.s"""
    seconds = max(0.0, ms / 1000.0)
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


class Transport(QWidget):
    """Emits what the user asked for; :meth:`show_position` and :meth:`set_playing` reflect
    what the engine did (the slider never fights the user while dragged)."""

    play_toggled = pyqtSignal()
    step_requested = pyqtSignal(int)
    seek_requested = pyqtSignal(int)
    speed_changed = pyqtSignal(float)
    loop_changed = pyqtSignal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        style = self.style()
        self._icons = {
            True: style.standardIcon(QStyle.StandardPixmap.SP_MediaPause),
            False: style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay),
        }
        self.play_button = QToolButton(toolTip="Play / pause (Space)")
        self.play_button.setIcon(self._icons[False])
        self.play_button.clicked.connect(self.play_toggled)
        self.back_button = QToolButton(toolTip="One frame back (Left)")
        self.back_button.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekBackward))
        self.back_button.clicked.connect(lambda: self.step_requested.emit(-1))
        self.forward_button = QToolButton(toolTip="One frame forward (Right)")
        self.forward_button.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward))
        self.forward_button.clicked.connect(lambda: self.step_requested.emit(1))

        self.slider = QSlider(Qt.Orientation.Horizontal, toolTip="Seek")
        self.slider.setTracking(True)
        self.slider.valueChanged.connect(self._slider_moved)
        self.time_label = QLabel("live")
        self.time_label.setMinimumWidth(200)
        self.time_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.speed_box = QComboBox(toolTip="Playback speed (Up / Down)")
        for speed in SPEEDS:
            self.speed_box.addItem(f"{speed:g}x", speed)
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.currentIndexChanged.connect(
            lambda i: self.speed_changed.emit(self.speed_box.itemData(i))
        )
        self.loop_box = QCheckBox("Loop")
        self.loop_box.toggled.connect(self.loop_changed)

        self.record_button = QToolButton(text="● Rec", toolTip="Record the raw feed (R)")
        self.record_button.setCheckable(True)
        # Recording must be plain to see: a red button that says how to stop.
        self.record_button.setStyleSheet(
            "QToolButton:checked{background:#c62828;color:white;font-weight:bold;"
            "border:1px solid #8e0000;border-radius:3px;padding:1px 6px}"
        )
        self.record_button.toggled.connect(
            lambda on: self.record_button.setText("■ Stop rec" if on else "● Rec")
        )
        self.screenshot_button = QToolButton(text="Screenshot", toolTip="PNG of the view (S)")
        self.export_button = QToolButton(text="Export…", toolTip="Annotated video (E)")

        self._lay_out()
        self._frame_count: int | None = None
        self._fps = 25.0
        self._showing = False  # set while the engine moves the slider
        self.set_replayable(None, 25.0)

    def _lay_out(self) -> None:
        """The seek slider has a row of its own, as wide as the video at any window size;
        :meth:`add_under_slider` puts the event strip right under it, over the same width."""
        self._rows = QVBoxLayout(self)
        self._rows.setContentsMargins(6, 2, 6, 2)
        self._rows.setSpacing(0)
        self._rows.addWidget(self.slider)
        layout = QHBoxLayout()
        self._rows.addLayout(layout)
        for widget in (self.play_button, self.back_button, self.forward_button):
            layout.addWidget(widget)
        layout.addWidget(self.time_label)
        layout.addStretch(1)
        layout.addWidget(self.speed_box)
        layout.addWidget(self.loop_box)
        layout.addSpacing(12)
        for widget in (self.record_button, self.screenshot_button, self.export_button):
            layout.addWidget(widget)

    def add_under_slider(self, widget) -> None:
        """``widget`` right under the slider, over its width (the event strip)."""
        self._rows.insertWidget(1, widget)

    @property
    def speed(self) -> float:
        return float(self.speed_box.currentData())

    def set_speed(self, speed: float) -> None:
        self.speed_box.setCurrentIndex(SPEEDS.index(speed) if speed in SPEEDS else 2)

    def change_speed(self, steps: int) -> None:
        """One step faster (+1) or slower (-1) along 0.25x ... 4x."""
        index = min(max(self.speed_box.currentIndex() + steps, 0), len(SPEEDS) - 1)
        self.speed_box.setCurrentIndex(index)

    def set_replayable(self, frame_count: int | None, fps: float) -> None:
        """``frame_count=None``: a live source (no seeking)."""
        self._frame_count, self._fps = frame_count, fps
        replay = frame_count is not None
        for widget in self._replay_widgets():
            widget.setEnabled(replay)
        self.export_button.setEnabled(replay)
        self._showing = True
        self.slider.setRange(0, max(0, (frame_count or 1) - 1))
        self.slider.setValue(0)
        self._showing = False
        self.time_label.setText("live" if not replay else self._time_text(0))

    def _replay_widgets(self) -> tuple[QWidget, ...]:
        """What only a file or folder (not a live source) can use: step, seek, speed, loop."""
        return (self.back_button, self.forward_button, self.slider, self.speed_box, self.loop_box)

    def set_active(self, active: bool) -> None:
        """``False``: no engine plays the source (it stopped), so play, step, seek, speed,
        loop and record are off; ``True``: on again, as the source allows."""
        self.play_button.setEnabled(active)
        self.record_button.setEnabled(active)
        replay = active and self._frame_count is not None
        for widget in self._replay_widgets():
            widget.setEnabled(replay)
        if not active:
            self.set_playing(False)

    def set_playing(self, playing: bool) -> None:
        self.play_button.setIcon(self._icons[playing])

    def show_position(self, index: int) -> None:
        if self._frame_count is None:
            return
        if not self.slider.isSliderDown():
            self._showing = True
            self.slider.setValue(index)
            self._showing = False
        self.time_label.setText(self._time_text(index))

    def _time_text(self, index: int) -> str:
        total = self._frame_count or 0
        now, end = index * 1000.0 / self._fps, max(total - 1, 0) * 1000.0 / self._fps
        return f"{clock(now)} / {clock(end)}   frame {index + 1}/{total}"

    def _slider_moved(self, value: int) -> None:
        if not self._showing:
            self.seek_requested.emit(value)
