"""Frames in: the bounded buffer, live sources (a producer thread each), replay readers for
random access, and :func:`~live_explain.io.recognise.recognise`, which tells what a source
name means."""

import cv2

# OpenCV prints its own warnings for every failed open ("can't open camera by index");
# the user gets our one-line message instead.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
