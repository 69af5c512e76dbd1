"""What the video area offers before any source is open: the sample drive in one click, a
file, the synthetic scene, and a line saying that files and folders can be dropped here."""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import QMimeData, Qt
from PyQt6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from live_explain.synthetic.sample_drive import find_sample_drive


def dropped_path(mime: QMimeData) -> str | None:
    """The local file or folder a drag carries (its first), or ``None``."""
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile() and url.toLocalFile():
            return url.toLocalFile()
    return None


class EmptyState(QWidget):
    """Centred over the video view while no source is open."""

    def __init__(
        self, open_source: Callable[[str], None], ask_file: Callable[[], None], parent: QWidget
    ) -> None:
        super().__init__(parent, objectName="empty-state")
        layout = QVBoxLayout(self)
        title = QLabel("<h2>Nothing open yet</h2>", alignment=Qt.AlignmentFlag.AlignCenter)
        title.setStyleSheet("color: #ddd")
        layout.addWidget(title)
        sample = find_sample_drive()
        self.sample_button = QPushButton("Open the sample drive", objectName="open-sample")
        self.sample_button.setEnabled(sample is not None)
        if sample is not None:
            self.sample_button.clicked.connect(lambda: open_source(str(sample)))
        else:
            self.sample_button.setToolTip("recordings/sample_drive.mp4 is not here")
        file_button = QPushButton("Open a video or image… (Ctrl+O)")
        file_button.clicked.connect(ask_file)
        synthetic = QPushButton("Watch the synthetic scene")
        synthetic.clicked.connect(lambda: open_source("synthetic"))
        for button in (self.sample_button, file_button, synthetic):
            button.setMinimumWidth(280)
            layout.addWidget(button, alignment=Qt.AlignmentFlag.AlignCenter)
        hint = QLabel(
            "or drop a video, an image or a folder of images here",
            alignment=Qt.AlignmentFlag.AlignCenter,
        )
        hint.setStyleSheet("color: #aaa")
        layout.addWidget(hint)
        parent.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.parent() and event.type() == event.Type.Resize:
            self._centre()
        return False

    def _centre(self) -> None:
        self.adjustSize()
        parent = self.parentWidget()
        self.move((parent.width() - self.width()) // 2, (parent.height() - self.height()) // 2)

    def showEvent(self, event) -> None:
        self._centre()
        super().showEvent(event)
