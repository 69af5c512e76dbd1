"""The live table of the current frame's detections: track id, class, score, attention
in box, whether the map's peak is in the box, and the detection's monitoring events.
Selecting a row selects that detection in the view (and the other way round)."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from live_explain.ui.event_words import event_meanings, event_words
from live_explain.ui.frame_update import FrameUpdate

COLUMNS = ("id", "class", "score", "in box", "peak", "events")
HEADER_TIPS = (
    "track id: the same object keeps it from frame to frame",
    "the detected class",
    "the detector's score",
    "attention in box: the share of the map's energy inside the detection's box",
    "whether the map's peak lies inside the box (the pointing game)",
    "monitoring events on this frame (hover a cell for what they mean)",
)
KEY_ROLE = Qt.ItemDataRole.UserRole


class DetectionsPanel(QTableWidget):
    """Emits ``selection_changed`` with the chosen detection's key (track id) or ``None``."""

    selection_changed = pyqtSignal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setObjectName("detections")
        self.setHorizontalHeaderLabels(COLUMNS)
        for column, tip in enumerate(HEADER_TIPS):
            self.horizontalHeaderItem(column).setToolTip(tip)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().lineSpacing() + 6)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.selected: int | None = None
        self.itemSelectionChanged.connect(self._user_selected)

    def show_update(self, update: FrameUpdate) -> None:
        dets = update.detections
        tracked = dets.track_ids is not None
        self.blockSignals(True)
        try:
            self.setRowCount(len(dets))
            for row in range(len(dets)):
                key = update.selection_keys[row]
                attention = update.attention[row]
                hit = update.pointing[row] if row < len(update.pointing) else None
                cells = (
                    f"#{key}" if tracked else "–",
                    dets.names[row],
                    f"{float(dets.scores[row]):.2f}",
                    "n/a" if attention is None else f"{attention:.0%}",
                    "n/a" if hit is None else ("yes" if hit else "no"),
                    event_words(update.row_events[row]) if row < len(update.row_events) else "",
                )
                for column, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setData(KEY_ROLE, key)
                    if column == 5 and text:
                        item.setToolTip(event_meanings(update.row_events[row]))
                    if column in (0, 2, 3):
                        item.setTextAlignment(
                            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                        )
                    self.setItem(row, column, item)
            self._select_row(self.row_of(self.selected, update))
        finally:
            self.blockSignals(False)

    @staticmethod
    def row_of(key: int | None, update: FrameUpdate) -> int | None:
        if key is None or key not in update.selection_keys:
            return None
        return update.selection_keys.index(key)

    def select_key(self, key: int | None) -> None:
        """Show ``key`` as selected (from a click in the view); emits nothing."""
        self.selected = key
        self.blockSignals(True)
        try:
            rows = [r for r in range(self.rowCount()) if self.item(r, 0).data(KEY_ROLE) == key]
            self._select_row(rows[0] if rows else None)
        finally:
            self.blockSignals(False)

    def _select_row(self, row: int | None) -> None:
        if row is None:
            self.clearSelection()
        else:
            self.selectRow(row)

    def _user_selected(self) -> None:
        rows = self.selectionModel().selectedRows()
        key = self.item(rows[0].row(), 0).data(KEY_ROLE) if rows else None
        if key != self.selected:
            self.selected = key
            self.selection_changed.emit(key)
