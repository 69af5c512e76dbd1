"""Keys go to the focused widget first: the window's one-key shortcuts (Space, the arrows,
R, E, S, F) act only where the focused widget has no use for the key. Up in the Score box
changes the score, not the speed; Right in the layer tree opens a branch, not the next frame.

Qt asks the focused widget first with a ShortcutOverride event; a widget that accepts it gets
the key. Text boxes and spin boxes claim every key without Ctrl, Alt or Meta; lists, trees and
tables claim the arrows, Home, End and the page keys (and letters, which they use to jump to
an item); combo boxes the arrows. Shortcuts with Ctrl (Ctrl+O, Ctrl+Q) work everywhere.
"""

from __future__ import annotations

from PyQt6.QtCore import QEvent, QObject, Qt
from PyQt6.QtGui import QKeyEvent
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

NAVIGATION = {
    Qt.Key.Key_Left,
    Qt.Key.Key_Right,
    Qt.Key.Key_Up,
    Qt.Key.Key_Down,
    Qt.Key.Key_Home,
    Qt.Key.Key_End,
    Qt.Key.Key_PageUp,
    Qt.Key.Key_PageDown,
}
COMMAND_MODIFIERS = (
    Qt.KeyboardModifier.ControlModifier
    | Qt.KeyboardModifier.AltModifier
    | Qt.KeyboardModifier.MetaModifier
)
TEXT_WIDGETS = (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)


def widget_wants(widget: QWidget, event: QKeyEvent) -> bool:
    """Whether the focused ``widget`` uses the key of ``event`` itself."""
    if event.modifiers() & COMMAND_MODIFIERS:
        return False
    key = Qt.Key(event.key())
    if isinstance(widget, TEXT_WIDGETS) or (isinstance(widget, QComboBox) and widget.isEditable()):
        return True
    if isinstance(widget, QComboBox):
        return key in NAVIGATION
    if isinstance(widget, QAbstractItemView):
        return key in NAVIGATION or bool(event.text().strip())
    return False


class FocusedWidgetKeys(QObject):
    """An application event filter that lets the focused widget claim its keys."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(watched, QWidget)
            and watched.hasFocus()
            and widget_wants(watched, event)
        ):
            event.accept()  # the key goes to the widget, not to a window shortcut
        return False
