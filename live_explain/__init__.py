"""live-explain: per-detection explanations of a CNN object detector on driving video.

The library never imports Qt; the desktop app lives in :mod:`live_explain.ui`.
"""

import os

__version__ = "0.1.0"

# FFmpeg inside OpenCV prints its own errors ("moov atom not found") on stderr; the user gets
# one line from us instead. Read when the first capture opens; a user's setting wins.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
