"""Moving frames to and from a CUDA device without stalling the host.

Frames are copied into a small ring of pinned (page-locked) host buffers and uploaded on a
copy stream with ``non_blocking=True``; compute runs on its own stream and waits on the
upload's event; results are read back on the copy stream into pinned buffers, and only the
consumer of a readback waits (on its event). A ring slot is reused only after the event of
its last transfer has completed, so a buffer is never overwritten while in flight.

On the CPU the same interface does plain tensor work with no streams, so every code path
runs (and is tested) on machines without a GPU.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Readback:
    """Host copies of device tensors; ``wait()`` before reading them."""

    tensors: dict[str, torch.Tensor]
    event: torch.cuda.Event | None = None

    def wait(self) -> dict[str, np.ndarray]:
        """Arrays the caller owns (copied out of the pinned ring, which is reused)."""
        if self.event is None:
            return {name: t.numpy() for name, t in self.tensors.items()}
        self.event.synchronize()  # the one host synchronisation of a frame
        return {name: t.numpy().copy() for name, t in self.tensors.items()}


class DeviceIO:
    """Uploads frames and reads results back, with streams and pinned memory on CUDA."""

    def __init__(self, device: torch.device, slots: int = 4) -> None:
        self.device = torch.device(device)
        self.cuda = self.device.type == "cuda"
        self.slots = slots
        self._ring: list[dict[str, tuple[torch.Tensor, torch.cuda.Event | None]]] = [
            {} for _ in range(slots)
        ]
        self._next = 0
        if self.cuda:
            self.copy_stream = torch.cuda.Stream(self.device)
            self.compute_stream = torch.cuda.Stream(self.device)

    def compute(self) -> contextlib.AbstractContextManager:
        """Context in which the frame's compute is queued (its own stream on CUDA)."""
        if self.cuda:
            return torch.cuda.stream(self.compute_stream)
        return contextlib.nullcontext()

    def next_slot(self) -> int:
        slot = self._next
        self._next = (self._next + 1) % self.slots
        return slot

    def _buffer(self, slot: int, name: str, shape, dtype) -> torch.Tensor:
        held = self._ring[slot].get(name)
        if held is not None:
            tensor, event = held
            if event is not None:
                event.synchronize()  # the slot's last transfer is done (normally long ago)
            if tuple(tensor.shape) == tuple(shape) and tensor.dtype == dtype:
                return tensor
        tensor = torch.empty(shape, dtype=dtype, pin_memory=self.cuda)
        self._ring[slot][name] = (tensor, None)
        return tensor

    def upload(self, image_bgr: np.ndarray, slot: int) -> torch.Tensor:
        """(H, W, 3) BGR uint8 frame -> (H, W, 3) uint8 tensor on the device.

        On CUDA the copy is queued on the copy stream and the compute stream waits on it.
        """
        if not self.cuda:
            return torch.from_numpy(np.ascontiguousarray(image_bgr))
        host = self._buffer(slot, "frame", image_bgr.shape, torch.uint8)
        host.numpy()[...] = image_bgr
        event = torch.cuda.Event()
        with torch.cuda.stream(self.copy_stream):
            device_frame = host.to(self.device, non_blocking=True)
            event.record(self.copy_stream)
        self._ring[slot]["frame"] = (host, event)
        self.compute_stream.wait_event(event)
        device_frame.record_stream(self.compute_stream)
        return device_frame

    def readback(self, tensors: dict[str, torch.Tensor], slot: int) -> Readback:
        """Queue copies of ``tensors`` to pinned host memory after the compute queued so far."""
        if not self.cuda:
            return Readback({name: t.detach().contiguous() for name, t in tensors.items()})
        done = torch.cuda.Event()
        done.record(self.compute_stream)
        self.copy_stream.wait_event(done)
        hosts = {}
        event = torch.cuda.Event()
        with torch.cuda.stream(self.copy_stream):
            for name, tensor in tensors.items():
                host = self._buffer(slot, name, tensor.shape, tensor.dtype)
                host.copy_(tensor.detach(), non_blocking=True)
                tensor.record_stream(self.copy_stream)
                hosts[name] = host
            event.record(self.copy_stream)
        for name, host in hosts.items():
            self._ring[slot][name] = (host, event)
        return Readback(hosts, event)


def frame_tensor_to_input(frame_u8: torch.Tensor) -> torch.Tensor:
    """(H, W, 3) BGR uint8 on any device -> (3, H, W) RGB float in [0, 1] (detector input)."""
    return frame_u8.flip(-1).permute(2, 0, 1).float().div_(255.0)
