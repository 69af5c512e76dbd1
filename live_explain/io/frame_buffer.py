"""A bounded, thread-safe hand-off between a producer thread and one consumer.

Two policies:

* ``latest`` (live): ``put`` never blocks; when the buffer is full the oldest frame is
  dropped and counted, so the consumer always sees the newest frames and never lags.
* ``lossless`` (replay, export): ``put`` blocks until there is room, so every frame
  arrives in order.
"""

from __future__ import annotations

import collections
import threading
from enum import Enum
from typing import Generic, TypeVar

T = TypeVar("T")

# A live view wants the newest frame and nothing older: one waiting frame plus the one
# being decoded keeps the display at most one frame behind the camera.
LATEST_CAPACITY = 2
# Enough frames to hide decode jitter from the consumer; 8 frames of 1080p BGR is ~50 MB.
LOSSLESS_CAPACITY = 8


class BufferPolicy(str, Enum):
    LATEST = "latest"
    LOSSLESS = "lossless"


class BufferClosed(Exception):
    """Raised by ``put`` once the consumer has closed the buffer."""


class FrameBuffer(Generic[T]):
    """Bounded FIFO between one producer and one consumer, with an end marker."""

    def __init__(self, policy: BufferPolicy | str, capacity: int | None = None) -> None:
        self.policy = BufferPolicy(policy)
        default = LATEST_CAPACITY if self.policy is BufferPolicy.LATEST else LOSSLESS_CAPACITY
        self.capacity = capacity or default
        self._items: collections.deque[T] = collections.deque()
        self._cond = threading.Condition()
        self._finished = False  # producer said no more items will come
        self._closed = False  # consumer stopped listening
        self._error: BaseException | None = None
        self.dropped = 0

    def put(self, item: T) -> None:
        """Add an item; in ``lossless`` mode wait for room, in ``latest`` drop the oldest."""
        with self._cond:
            if self.policy is BufferPolicy.LOSSLESS:
                while len(self._items) >= self.capacity and not self._closed:
                    self._cond.wait()
            if self._closed:
                raise BufferClosed
            if len(self._items) >= self.capacity:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self._cond.notify_all()

    def finish(self, error: BaseException | None = None) -> None:
        """Mark the end of the stream; ``error`` is re-raised in the consumer after the
        items already buffered."""
        with self._cond:
            self._finished = True
            self._error = error
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> T | None:
        """Next item, or ``None`` at the end of the stream.

        Raises ``TimeoutError`` when nothing arrived within ``timeout`` seconds, and the
        producer's error once the buffered items are consumed.
        """
        with self._cond:
            ready = self._cond.wait_for(lambda: self._items or self._finished, timeout)
            if not ready:
                raise TimeoutError("no frame arrived in time")
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            if self._error is not None:
                raise self._error
            return None

    def close(self) -> None:
        """Consumer side: stop listening and wake a producer blocked in ``put``."""
        with self._cond:
            self._closed = True
            self._items.clear()
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
