import threading
import time

import pytest

from live_explain.io.frame_buffer import BufferClosed, FrameBuffer


def test_latest_drops_oldest_and_counts():
    buffer = FrameBuffer("latest", capacity=2)
    for i in range(5):
        buffer.put(i)  # never blocks
    assert buffer.dropped == 3
    assert [buffer.get(0), buffer.get(0)] == [3, 4]


def test_lossless_blocks_until_room():
    buffer = FrameBuffer("lossless", capacity=2)
    buffer.put(0)
    buffer.put(1)
    done = threading.Event()

    def producer():
        buffer.put(2)
        done.set()

    thread = threading.Thread(target=producer)
    thread.start()
    assert not done.wait(0.2), "put must block while the buffer is full"
    assert buffer.get(1) == 0
    assert done.wait(1)
    thread.join()
    assert [buffer.get(0), buffer.get(0)] == [1, 2]
    assert buffer.dropped == 0


def test_close_wakes_blocked_producer():
    buffer = FrameBuffer("lossless", capacity=1)
    buffer.put(0)
    errors = []

    def producer():
        try:
            buffer.put(1)
        except BufferClosed as exc:
            errors.append(exc)

    thread = threading.Thread(target=producer)
    thread.start()
    time.sleep(0.05)
    buffer.close()
    thread.join(1)
    assert not thread.is_alive() and len(errors) == 1


def test_end_and_error_come_after_buffered_items():
    buffer = FrameBuffer("lossless")
    buffer.put("a")
    buffer.finish(ValueError("boom"))
    assert buffer.get(0) == "a"
    with pytest.raises(ValueError, match="boom"):
        buffer.get(0)


def test_get_times_out_and_end_gives_none():
    buffer = FrameBuffer("latest")
    with pytest.raises(TimeoutError):
        buffer.get(0.05)
    buffer.finish()
    assert buffer.get(0.05) is None
