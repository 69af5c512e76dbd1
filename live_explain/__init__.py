"""live-explain: per-detection explanations of a CNN object detector on driving video.

The library never imports Qt; the desktop app lives in :mod:`live_explain.ui`.
"""

__version__ = "0.1.0"
