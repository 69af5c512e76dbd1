"""The main window's menus, actions and their shortcuts, its docks, and the dialogs that open
a source."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence
from PyQt6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QInputDialog,
    QMenu,
    QScrollArea,
    QWidget,
)

from live_explain.io.images import IMAGE_SUFFIXES
from live_explain.ui.camera_menu import CameraMenu
from live_explain.ui.compare_view import ComparePanel
from live_explain.ui.controls import ExplanationControls
from live_explain.ui.detections_panel import DetectionsPanel
from live_explain.ui.empty_state import dropped_path
from live_explain.ui.layer_inspector import LayerInspector
from live_explain.ui.track_history import TrackHistoryPanel

VIDEO_FILTER = "Videos (*.mp4 *.mkv *.mov *.avi *.m4v *.webm);;Images ({});;All files (*)".format(
    " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
)


class WindowMenus:
    """Menus, actions, docks and the open-a-source dialogs of the main window."""

    # -- construction -------------------------------------------------------------------------
    def _make_docks(self, loaded) -> None:
        """The Explanation, Detections and Layer inspector docks, in their places."""
        self.controls = ExplanationControls(self.explain)
        if loaded is not None:
            self.controls.show_model(loaded)
        scroll = QScrollArea()
        scroll.setWidget(self.controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.controls_dock = self._dock(
            "Explanation", scroll, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.table = DetectionsPanel()
        self.table_dock = self._dock(
            "Detections", self.table, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.inspector = LayerInspector()
        self.inspector_dock = self._dock(
            "Layer inspector", self.inspector, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.history = TrackHistoryPanel()
        self.history_dock = self._dock("Track history", self.history, bottom)
        self.history.plot.jump.connect(self.seek)
        self.compare = ComparePanel()
        self.compare_dock = self._dock("Compare", self.compare, bottom)
        self.compare_dock.visibilityChanged.connect(lambda shown: shown and self.compare.ask())
        self.tabifyDockWidget(self.inspector_dock, self.history_dock)
        self.tabifyDockWidget(self.history_dock, self.compare_dock)
        self.inspector_dock.raise_()
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.resizeDocks([self.controls_dock], [340], Qt.Orientation.Horizontal)
        self.resizeDocks([self.controls_dock, self.table_dock], [620, 200], Qt.Orientation.Vertical)
        self.resizeDocks([self.inspector_dock], [230], Qt.Orientation.Vertical)

    def _playback_actions(self) -> tuple[QAction, ...]:
        """Play, one frame back and forward, faster, slower."""
        return (
            self.play_action,
            self.back_action,
            self.forward_action,
            self.faster_action,
            self.slower_action,
        )

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title.lower().replace(" ", "-"))
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot, shortcut: str | QKeySequence | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        self.addAction(action)  # shortcuts work with the menu bar hidden (full screen)
        return action

    def _make_actions(self) -> None:
        a = self._action
        self.open_file_action = a("Open &file…", self._ask_file, QKeySequence.StandardKey.Open)
        self.open_folder_action = a("Open f&older…", self._ask_folder)
        self.open_url_action = a("Open &URL…", self._ask_url)
        self.synthetic_action = a("&Synthetic scene", lambda: self.open_source("synthetic"))
        self.quit_action = a("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.play_action = a("Play / pause", self.toggle_play, Qt.Key.Key_Space)
        self.back_action = a("Step back", lambda: self.step(-1), Qt.Key.Key_Left)
        self.forward_action = a("Step forward", lambda: self.step(1), Qt.Key.Key_Right)
        self.faster_action = a("Faster", lambda: self.transport.change_speed(1), Qt.Key.Key_Up)
        self.slower_action = a("Slower", lambda: self.transport.change_speed(-1), Qt.Key.Key_Down)
        self.record_action = a("&Record", self.toggle_record, Qt.Key.Key_R)
        self.record_action.setCheckable(True)
        self.export_action = a("&Export…", self.open_export, Qt.Key.Key_E)
        self.in_mark_action = a("Export from here (in mark)", lambda: self.set_mark("in"), "I")
        self.out_mark_action = a("Export up to here (out mark)", lambda: self.set_mark("out"), "O")
        self.screenshot_action = a("&Screenshot", lambda: self.save_screenshot(), Qt.Key.Key_S)
        self.full_screen_action = a("&Full screen", self.toggle_full_screen, Qt.Key.Key_F)

        menu = self.menuBar().addMenu("&Source")
        for action in (self.open_file_action, self.open_folder_action, self.open_url_action):
            menu.addAction(action)
        self.camera_menu = CameraMenu(self.open_source, self)
        menu.addMenu(self.camera_menu)
        menu.addAction(self.synthetic_action)
        self.recent_menu = QMenu("&Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        menu.addMenu(self.recent_menu)
        menu.addSeparator()
        menu.addAction(self.quit_action)
        play = self.menuBar().addMenu("&Playback")
        for action in self._playback_actions():
            play.addAction(action)
        tools = self.menuBar().addMenu("&Capture")
        for action in (self.record_action, self.screenshot_action, self.export_action):
            tools.addAction(action)
        tools.addAction(self.in_mark_action)
        tools.addAction(self.out_mark_action)
        view = self.menuBar().addMenu("&View")
        docks = (self.controls_dock, self.table_dock, self.inspector_dock)
        for dock in docks:
            view.addAction(dock.toggleViewAction())
        for dock, key in ((self.history_dock, Qt.Key.Key_H), (self.compare_dock, Qt.Key.Key_C)):
            view.addAction(self._show_dock_action(dock, key))
        view.addAction(self.full_screen_action)
        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = a("&Keyboard shortcuts", self.show_shortcuts, Qt.Key.Key_F1)
        self.methods_action = a("The &methods and the numbers", self.show_methods)
        help_menu.addAction(self.shortcuts_action)
        help_menu.addAction(self.methods_action)
        self.help_dialog = None

    def _show_dock_action(self, dock, key) -> QAction:
        """Shows ``dock`` (in front of the docks it shares a place with) on ``key``."""

        def show() -> None:
            dock.show()
            dock.raise_()
            height = min(300, int(self.height() * 0.3))  # the video keeps most of the window
            self.resizeDocks([dock], [max(dock.height(), height)], Qt.Orientation.Vertical)

        return self._action(f"{dock.windowTitle()} (show)", show, key)

    def show_shortcuts(self) -> None:
        from live_explain.ui.help_pages import shortcuts_dialog

        self._show_help(shortcuts_dialog(self, self.actions()))

    def show_methods(self) -> None:
        from live_explain.ui.help_pages import methods_dialog

        self._show_help(methods_dialog(self))

    def _show_help(self, dialog) -> None:
        if self.help_dialog is not None:
            self.help_dialog.close()
        self.help_dialog = dialog  # kept, and not modal: the video plays on beside it
        dialog.show()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if dropped_path(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = dropped_path(event.mimeData())
        if path is not None:
            event.acceptProposedAction()
            self.open_source(path)

    def _ask_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video or image", "", VIDEO_FILTER)
        if path:
            self.open_source(path)

    def _ask_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a folder of images")
        if path:
            self.open_source(path)

    def _ask_url(self) -> None:
        url, ok = QInputDialog.getText(self, "Open URL", "rtsp://, rtsps://, http:// or https://")
        if ok and url.strip():
            self.open_source(url.strip())

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for spec in self.app_settings.recent_sources():
            action = self.recent_menu.addAction(spec)
            action.triggered.connect(lambda _=False, s=spec: self.open_source(s))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none yet)").setEnabled(False)
