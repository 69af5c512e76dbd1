"""The Help menu's pages: the keyboard shortcuts (read from the window's own actions, so the
sheet is never out of date) and a plain-language page on each method and on the numbers the
app shows. The dialogs are not modal: the video keeps playing beside them."""

from __future__ import annotations

from html import escape

from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import QDialog, QTextBrowser, QVBoxLayout, QWidget

METHOD_PAGES = {
    "gradcam": (
        "Grad-CAM",
        "How much each feature map of the chosen layer raises this detection's score, "
        "averaged over the map, weights the maps; their sum (negative parts dropped) is the "
        "heatmap. Coarse, fast, the usual first look.",
    ),
    "gradcam++": (
        "Grad-CAM++",
        "Grad-CAM with weights that give more say to the places with the strongest positive "
        "influence. Often covers the whole object where Grad-CAM lights up one part of it.",
    ),
    "xgradcam": (
        "XGrad-CAM",
        "Grad-CAM with each feature map's influence weighted by where that map is active, so "
        "the heatmap follows the activations more closely.",
    ),
    "hirescam": (
        "HiResCAM",
        "Influence times activation at every place, without averaging first: the heatmap "
        "shows exactly which places of the layer raised the score. Sharper than Grad-CAM.",
    ),
    "eigencam": (
        "EigenCAM",
        "The main pattern of the layer's activations (their first principal component), "
        "cut to the detection's box. Needs no gradient: cheap, but the same pattern for every "
        "class.",
    ),
    "saliency": (
        "Saliency",
        "How much each pixel of the frame, changed a little, would change this detection's "
        "score. Pixel-sharp and noisy; no layer needed.",
    ),
    "cam": (
        "CAM",
        "The original class activation map, for classifiers that end in global pooling and "
        "one linear layer.",
    ),
    "none": ("No maps", "Detections only: the fastest run, with no heatmaps."),
}
TERM_PAGES = {
    "attention in box": (
        "The share of a detection's heatmap energy that lies inside its own box. High: the "
        "detection rests on the object. Low: it rests on the context around it (the road, a "
        "neighbour), which is worth a look."
    ),
    "peak in box": "Whether the hottest point of the heatmap lies inside the box.",
    "fresh and reused maps": (
        "A map is fresh when it was computed for this frame; reused when the object was "
        "tracked from an earlier frame and its map carried over (much cheaper)."
    ),
}


def _dialog(parent: QWidget, title: str, html: str, name: str) -> QDialog:
    dialog = QDialog(parent, objectName=name)
    dialog.setWindowTitle(title)
    text = QTextBrowser(dialog, objectName=f"{name}-text")
    text.setHtml(html)
    layout = QVBoxLayout(dialog)
    layout.addWidget(text)
    dialog.resize(560, 460)
    return dialog


def shortcut_rows(actions: list[QAction]) -> list[tuple[str, str]]:
    """(keys, what they do) for every action with a shortcut."""
    rows = []
    for action in actions:
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if keys:
            rows.append((keys, action.text().replace("&", "").rstrip("…")))
    return rows


def shortcuts_dialog(parent: QWidget, actions: list[QAction]) -> QDialog:
    rows = "".join(
        f"<tr><td><b>{escape(keys)}</b></td><td>{escape(what)}</td></tr>"
        for keys, what in shortcut_rows(actions)
    )
    html = (
        f"<table cellpadding=4>{rows}</table><p>The keys act on the video; in a text box, "
        "the layer tree or the Detections table they act there first.</p>"
        "<p><b>Mouse on the video</b>: click a box to show its map alone (click empty space "
        "for all); the wheel zooms about the mouse, a drag pans the zoomed frame, a "
        "double-click fits it to the window again. ↺ after a label: its map was reused "
        "from an earlier frame.</p>"
    )
    return _dialog(parent, "Keyboard shortcuts", html, "shortcuts")


def methods_dialog(parent: QWidget) -> QDialog:
    sections = [
        f"<h3>{escape(title)}</h3><p>{escape(text)}</p>" for title, text in METHOD_PAGES.values()
    ]
    sections.append("<h2>The numbers</h2>")
    sections += [f"<h3>{escape(t)}</h3><p>{escape(text)}</p>" for t, text in TERM_PAGES.items()]
    return _dialog(parent, "The methods and the numbers", "".join(sections), "methods")
