"""Image files: decoding them to BGR uint8, the sizes a detector takes, their order."""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import cv2
import numpy as np

from live_explain.errors import SourceError

log = logging.getLogger("live_explain")

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})


class UnsupportedImage(ValueError):
    """An image whose pixel type, channel count or size live-explain cannot use.

    The message says what is wrong and what to do; callers put the file's name in front
    (:func:`read_image_file`) or skip the image with a warning (:class:`ImageFolderSource`).
    """


# Smaller images give detectors nothing to see, and a thinner one is resized to a sliver
# (a 3000x2 frame would be resized to less than one pixel's height).
MIN_IMAGE_SIDE = 16
MAX_ASPECT_RATIO = 64
SAVE_AS = "save it as 8- or 16-bit unsigned, or float in [0, 1]"


def to_bgr_uint8(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as a contiguous (H, W, 3) BGR uint8 array.

    Accepts grayscale (H, W) or (H, W, 1), BGR, and BGRA (alpha dropped); 16-bit and float
    images are scaled to 8 bits (float images must be finite and in [0, 1]). Anything else
    (signed or 32-bit integers, floats out of range, 2 or 5+ channels) raises
    :class:`UnsupportedImage`.
    """
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or image.size == 0:
        raise UnsupportedImage(f"an array of shape {image.shape} is not an image")
    if image.ndim == 3 and image.shape[2] not in (3, 4):
        raise UnsupportedImage(
            f"{image.shape[2]} colour channels are not supported (use gray, BGR or BGRA)"
        )
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype.kind == "f":
        low, high = float(image.min()), float(image.max())
        if not (np.isfinite(low) and np.isfinite(high)):
            raise UnsupportedImage(f"{image.dtype} pixels include NaN or infinity; {SAVE_AS}")
        if low < 0.0 or high > 1.0:
            raise UnsupportedImage(
                f"{image.dtype} pixels range from {low:g} to {high:g}, outside [0, 1]; {SAVE_AS}"
            )
        image = (image * 255.0 + 0.5).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise UnsupportedImage(f"{image.dtype} pixels are not supported; {SAVE_AS}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return np.ascontiguousarray(image)


def check_image_size(width: int, height: int) -> None:
    """Raise :class:`UnsupportedImage` for an image too small or too thin to detect on."""
    if min(width, height) < MIN_IMAGE_SIDE:
        what = "small" if max(width, height) < MIN_IMAGE_SIDE else "thin"
        raise UnsupportedImage(
            f"too {what} to explain ({width}x{height} pixels; each side needs at least "
            f"{MIN_IMAGE_SIDE})"
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise UnsupportedImage(
            f"too thin to explain ({width}x{height} pixels; the long side may be at most "
            f"{MAX_ASPECT_RATIO} times the short side)"
        )


NOT_UTF8 = "its name is not valid UTF-8, which OpenCV cannot open; rename it"


def has_utf8_name(path: Path) -> bool:
    """Whether ``path`` is valid UTF-8 text (a name from a foreign file system may not be)."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_truncated_jpeg(path: Path) -> bool:
    """Whether ``path`` starts as a JPEG but holds no end-of-image marker at all (one may be
    followed by a camera's padding or a motion photo's video, so the whole file is looked at;
    compressed data never holds the marker unescaped)."""
    try:
        with open(path, "rb") as file:
            if file.read(2) != b"\xff\xd8":
                return False
            data = file.read()
    except OSError:
        return False  # the decoder reports it
    return b"\xff\xd9" not in data


def decode_image(path: Path) -> np.ndarray:
    """``cv2.imread`` of ``path`` as it is (any depth and channels), or
    :class:`UnsupportedImage` saying why not. Only regular files are opened: a FIFO or a
    device named like an image would block the read for good."""
    if not path.is_file():
        raise UnsupportedImage("not a regular file")
    if not has_utf8_name(path):  # OpenCV crashes on such a name
        raise UnsupportedImage(NOT_UTF8)
    if is_truncated_jpeg(path):  # libjpeg would decode half of it and print to stderr
        raise UnsupportedImage("truncated JPEG (the file ends before the image does)")
    try:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:  # OpenCV refuses images over its pixel limit (2^30)
        reason = "too large to decode" if "MAX_IMAGE_PIXELS" in str(exc) else "cannot be decoded"
        raise UnsupportedImage(reason) from None
    if image is None or image.size == 0:
        raise UnsupportedImage("not a readable image")
    return image


def read_image_file(path: Path) -> np.ndarray:
    """One image file as (H, W, 3) BGR uint8; :class:`SourceError` (one line naming the file)
    when it is unreadable, of a pixel format live-explain cannot use, or too small or thin."""
    check_readable_file(path)
    try:
        image = to_bgr_uint8(decode_image(path))
        check_image_size(image.shape[1], image.shape[0])
    except UnsupportedImage as exc:
        raise SourceError(f"{path}: {exc}") from None
    return image


def natural_key(name: str) -> list:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def check_readable_file(path: Path) -> None:
    """Raise :class:`SourceError` unless ``path`` is an existing, non-empty, readable file."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if not path.is_file():
        raise SourceError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise SourceError(f"{path}: file is empty (0 bytes)")
    if not has_utf8_name(path):
        raise SourceError(f"{ascii(str(path))[1:-1]}: {NOT_UTF8}")
    if not os.access(path, os.R_OK):
        raise SourceError(f"{path}: permission denied")
