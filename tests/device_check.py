"""Device consistency, checked on a CPU: which tensors live on the compute device, which
operations mix them with host tensors, and where the host waits for the device.

On a GPU, combining a CUDA tensor with a CPU tensor raises, and every readback (``.cpu()``,
``.item()``, ``.tolist()``, a data-dependent shape such as ``nonzero``) stalls the host until
the device catches up. On a CPU both are silent, so a path that mixes devices passes every
CPU test and fails on the first GPU. :class:`DeviceCheck` makes the GPU's rules visible on the
CPU: inside ``with DeviceCheck() as check:`` a :class:`~torch.overrides.TorchFunctionMode`
sees every torch call and keeps a tag on each tensor that lives on the compute device.

**The compute device is the CPU spelled ``cpu:0``; the host is ``cpu``.** On a CPU,
``device=x.device`` and ``device="cpu"`` name the same memory, so no rule on the memory can
tell "the device this tensor is on" from "the host". Spelling can: run the code under test
with ``torch.device("cpu", 0)`` as its device (``Detector(model, COMPUTE)``; for the CLI,
:func:`compute_device_for_cli`), and inside the check a tagged tensor reports
``x.device == cpu:0``, as a CUDA tensor reports ``cuda:0``. Then every spelling means what it
means on a GPU: ``device=x.device`` (of a tagged ``x``), ``device=detector.device``,
``device="cpu:0"`` are the compute device; ``"cpu"``, ``torch.device("cpu")``, a host tensor's
``.device``, or no device at all are the host. (Code that branches on ``device.type`` still
takes its CPU branch: ``"cpu"`` is the type of both.)

What is tagged (on the compute device):

* every ``nn.Parameter``, and the buffers of every module called inside the check (a global
  forward pre-hook tags a module's own parameters and buffers as it runs); :meth:`tag` for
  anything else made on the device before the check began;
* uploads: ``.to(<compute device>)``/``.cuda()`` of an untagged tensor, ``copy_`` into a
  tagged tensor, ``DeviceIO.upload`` (on the CPU that is a plain ``torch.from_numpy`` with
  no ``.to()``, so the check wraps it), factories given ``device=<compute device>``
  (``torch.zeros``, ``torch.as_tensor``, ...);
* the result of any operation with a tagged input, unless it is a readback; ``x.new_*`` and
  ``torch.*_like`` of a tagged ``x`` (they inherit its device, unless given another).

What is recorded (each :class:`Record` with the first caller outside torch, torchvision and
this file, ``where``, and its callers, ``stack``; torchvision's own line, ``via``; the thread
and the frame index):

* ``mix`` (a failure: :meth:`assert_no_mixing`): an operation with a tagged tensor and an
  untagged tensor or NumPy array that is not 0-dim (a tagged index into a host tensor, a
  host tensor in ``torch.stack`` with device tensors, host + device arithmetic, ...). Only
  0-dim host tensors may join device tensors: that is CUDA's rule (TensorIterator allows
  ``dim() == 0`` CPU scalars only; a one-element 1-D host tensor raises there too, so it is a
  mix here as well). Python numbers are always fine.
* ``readback``: ``.cpu()``, ``.to(host)``, ``.numpy()``, ``.tolist()``, ``.item()``,
  ``float()``, ``int()``, ``bool()``, ``np.asarray()``, formatting, ``in``, ``torch.equal``,
  ``allclose`` of a tagged tensor; ``copy_`` from a tagged tensor into a host tensor, and
  ``host[i] = tagged`` (both work across devices, and wait for the device).
* ``sync``: data-dependent shapes on the device, which read a count back: ``nonzero``,
  ``argwhere``, one-argument ``torch.where``, ``masked_select``, ``unique``, boolean-mask
  indexing, ``repeat_interleave`` without ``output_size``, ``bincount``, torchvision's
  ``nms`` (its CUDA kernel copies its mask to the host), ``torch._assert``.
* ``upload`` (explicit, as above) and ``implicit-upload``: a host index tensor or array
  indexing a device tensor, or a host value written into one (works on CUDA, with a
  host-to-device copy).

A readback returns a tensor the check treats as new host memory: on the CPU ``.cpu()`` of a
CPU tensor is the tensor itself, so the check hands back an alias (a view of the same data),
untagged, and the tagged original stays tagged. An upload of an untagged tensor returns a
tagged alias likewise. (So ``x.cpu()._base`` is set where it would be ``None`` on a GPU.)

CPU branches: code that asks ``device.type == "cpu"`` takes its CPU branch here, and a CPU
branch may be host code on purpose. Where the GPU's branch runs on a CPU too, the check
takes it instead (``gpu_branches=True``): ``warp_map`` then warps with ``grid_sample``, not
with OpenCV through NumPy. The engine's CUDA branch (blend on the device, one readback) runs
on the CPU with :class:`GpuPathIO` as its ``DeviceIO``. torchvision's own CPU branches stay
(``batched_nms`` loops over the classes on a CPU above 4000 box coordinates, on a GPU above
20000): their syncs show under ``via``.

Threads: a torch function mode is per thread. ``threads=True`` (the default) installs the
same mode in every ``threading.Thread`` started inside the check (``Thread.run`` is wrapped
while the check is open), so a threaded
:class:`~live_explain.realtime.pipeline.Pipeline` is checked in its infer and render threads.
Records then carry the thread's name; frame indices come from
:meth:`next_frame` (called by the test) or from each ``DeviceIO.upload`` (one per frame in
the engine), so with threads a record may count toward a neighbouring frame; per-site counts
over a run (:meth:`sites`) are exact.

Limits: only what passes through Python is seen. Inside a torch function that is itself
written in Python and overridable (``F.interpolate``, ``torch.autograd.grad``), only its
inputs and outputs count; C++ internals (the autograd engine, a CUDA kernel's own copies)
are invisible. A tensor made on the device before the check began, other than parameters
and the buffers of modules that run, counts as host: :meth:`tag` it.

>>> with DeviceCheck() as check:
...     image = torch.from_numpy(frame).to(COMPUTE)  # an upload
...     out = model(image[None])                     # tagged
...     boxes = out.cpu().numpy()                    # a readback, recorded with its line
>>> check.assert_no_mixing()
"""

from __future__ import annotations

import collections
import contextlib
import os
import sys
import threading
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn
from torch.overrides import TorchFunctionMode

from live_explain.realtime.device_io import DeviceIO, Readback

COMPUTE = torch.device("cpu", 0)
"""The compute device of a checked run: the CPU, spelled so that it is not the host."""

TAG = "_device_check_on_device"  # attribute on tensors: on the compute device

_LIBRARIES = tuple(str(Path(m.__file__).resolve().parent) + os.sep for m in (torch, torchvision))
_HERE = str(Path(__file__).resolve())
_REPO = Path(__file__).resolve().parents[1]

EXPLICIT_READBACKS = {
    "cpu",
    "numpy",
    "tolist",
    "item",
    "__float__",
    "__int__",
    "__bool__",
    "__index__",
    "__complex__",
    "__array__",
    "__format__",
    "__repr__",
    "__contains__",
    "equal",
    "allclose",
    "is_nonzero",
}
DATA_DEPENDENT = {
    "nonzero",
    "argwhere",
    "masked_select",
    "unique",
    "unique_consecutive",
    "_unique",
    "_unique2",
    "bincount",
    "nms",
    "_assert",
}
FROM_DATA = {"tensor", "as_tensor", "asarray"}
NEW_LIKE = {"new_tensor", "new_empty", "new_zeros", "new_ones", "new_full", "new_empty_strided"}


@dataclass(frozen=True)
class Record:
    """One finding: ``kind`` (mix, readback, sync, upload, implicit-upload), the torch
    operation, where it was called from (``file:line`` outside torch and torchvision), the
    innermost library frame when that differs (``via``), the thread, the frame index and a
    few words about the operands."""

    kind: str
    op: str
    where: str
    via: str
    thread: str
    frame: int
    detail: str = ""
    stack: tuple[str, ...] = ()  # ``where`` and its callers outside the libraries

    def __str__(self) -> str:
        via = f" (via {self.via})" if self.via and self.via != self.where else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.kind:15} {self.op:18} {self.where}{via}{detail}"


def _short(path: str, line: int) -> str:
    for root in _LIBRARIES:
        if path.startswith(root):
            return f"{Path(root).name}/{path[len(root) :]}:{line}"
    try:
        return f"{Path(path).resolve().relative_to(_REPO)}:{line}"
    except ValueError:
        return f"{path}:{line}"


def _callers(depth: int = 4) -> tuple[str, str, tuple[str, ...]]:
    """``file:line`` of the first frame outside torch, torchvision and this file (where), of
    the first outside torch and this file (via: torchvision's own line, if it is one), and of
    up to ``depth`` callers outside installed packages, innermost first (the stack)."""
    frame = sys._getframe(1)
    via = ""
    stack: list[str] = []
    while frame is not None and len(stack) < depth:
        name = frame.f_code.co_filename
        if name != _HERE and not name.startswith("<"):
            if not via and not name.startswith(_LIBRARIES[0]):
                via = _short(name, frame.f_lineno)
            library = "site-packages" in name or "dist-packages" in name  # pytest, say
            if not name.startswith(_LIBRARIES) and not (stack and library):
                stack.append(_short(name, frame.f_lineno))
        frame = frame.f_back
    return (stack[0] if stack else ""), via, tuple(stack)


def _operands(value, depth: int = 0) -> Iterator:
    """Tensors and NumPy arrays in ``value`` (through lists, tuples and dicts)."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        yield value
    elif depth < 4 and isinstance(value, (list, tuple)):
        for item in value:
            yield from _operands(item, depth + 1)
    elif depth < 4 and isinstance(value, dict):
        for item in value.values():
            yield from _operands(item, depth + 1)


def _describe(value) -> str:
    if isinstance(value, torch.Tensor):
        where = "device" if is_tagged(value) else "host"
        return f"{where} {tuple(value.shape)}"
    return f"numpy {value.shape}"


def is_tagged(tensor) -> bool:
    """Whether ``tensor`` lives on the compute device (see the module docstring)."""
    if not isinstance(tensor, torch.Tensor):
        return False
    return isinstance(tensor, nn.Parameter) or getattr(tensor, TAG, False)


def _set_tag(tensor: torch.Tensor, on_device: bool) -> None:
    if on_device:
        setattr(tensor, TAG, True)
    elif TAG in getattr(tensor, "__dict__", {}):
        delattr(tensor, TAG)


def _is_scalar(value) -> bool:
    return value.ndim == 0


def _is_mask(value) -> bool:
    if isinstance(value, torch.Tensor):
        return value.dtype in (torch.bool, torch.uint8)
    return value.dtype == np.bool_


def _alias(tensor: torch.Tensor) -> torch.Tensor:
    """A new tensor object on the same data (where a transfer on the CPU returned ``self``)."""
    return tensor.view(tensor.shape)


class _Mode(TorchFunctionMode):
    def __init__(self, check: DeviceCheck) -> None:
        super().__init__()
        self.check = check

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        check = self.check
        if name == "__get__":  # a property
            return self._property(func, args)
        if name in ("to", "cuda", "cpu"):
            return self._transfer(func, name, args, kwargs)
        if name == "copy_":
            dst, src = args[0], args[1]
            if is_tagged(dst) and not is_tagged(src) and not _is_scalar(src):
                check._record("upload", name, _describe(src))
            elif is_tagged(src) and not is_tagged(dst):
                check._record("readback", name, _describe(src))
            return func(*args, **kwargs)
        if name in ("__getitem__", "__setitem__"):
            return self._index(func, name, args, kwargs)
        if name in EXPLICIT_READBACKS and args and is_tagged(args[0]):
            check._record("readback", name, _describe(args[0]))  # then checked for mixing
        if name in NEW_LIKE and args and is_tagged(args[0]):
            data = args[1] if name == "new_tensor" and len(args) > 1 else None
            if data is not None and any(not is_tagged(v) for v in _operands(data)):
                check._record("upload", name, "data from the host")
            out = func(*args, **kwargs)
            self._tag_results(out, self._device_tag(kwargs, True), args)
            return out

        operands = list(_operands(args)) + list(_operands(kwargs))
        tagged = [v for v in operands if is_tagged(v)]
        if tagged:
            host = [v for v in operands if not is_tagged(v) and not _is_scalar(v)]
            if host:
                check._record(
                    "mix",
                    name,
                    f"device {[tuple(v.shape) for v in tagged][:3]} with "
                    + ", ".join(_describe(v) for v in host[:3]),
                )
            if self._data_dependent(name, args, kwargs):
                check._record("sync", name, _describe(tagged[0]))
        elif name in FROM_DATA and self._device_tag(kwargs, False) and args:
            check._record("upload", name, "data from the host")  # torch.as_tensor(x, device=)
        out = func(*args, **kwargs)
        self._tag_results(out, self._device_tag(kwargs, bool(tagged)), operands)
        return out

    # -- the cases ---------------------------------------------------------------------
    def _property(self, func, args):
        out = func(*args)
        owner = args[0] if args else None
        if isinstance(out, torch.device) and is_tagged(owner):
            return self.check.device  # as a CUDA tensor reports cuda:0
        if isinstance(out, torch.Tensor) and is_tagged(owner) and out is not owner:
            _set_tag(out, True)  # .data, .grad, .T, .real, ...
        return out

    def _transfer(self, func, name, args, kwargs):
        check = self.check
        source = args[0]
        tagged = is_tagged(source)
        if name == "cpu":
            target = False
        elif name == "cuda":
            target = True
        else:
            target = tagged
            device = kwargs.get("device")
            for arg in args[1:]:
                if isinstance(arg, torch.Tensor):
                    target = is_tagged(arg)
                elif isinstance(arg, (str, int, torch.device)) and not isinstance(arg, bool):
                    device = arg  # (a bool is non_blocking or copy)
            if device is not None:
                target = check.is_compute(device)
        if tagged and not target:
            check._record("readback", name, _describe(source))
        elif target and not tagged:
            check._record("upload", name, _describe(source))
        out = func(*args, **kwargs)
        if out is source and target != tagged:
            out = _alias(source)
        if out is not source:
            _set_tag(out, target)
        return out

    def _index(self, func, name, args, kwargs):
        check = self.check
        base, index = args[0], args[1]
        on_device = is_tagged(base)
        for value in _operands(index):
            if is_tagged(value):
                if not on_device:
                    check._record("mix", name, f"device index into {_describe(base)}")
                elif _is_mask(value):
                    check._record("sync", name, "boolean mask on the device")
            elif on_device and not (_is_scalar(value) and not _is_mask(value)):
                check._record("implicit-upload", name, f"host index {_describe(value)}")
        if name == "__setitem__":
            value = args[2]
            if isinstance(value, (torch.Tensor, np.ndarray)):
                if on_device and not is_tagged(value) and not _is_scalar(value):
                    check._record("implicit-upload", name, f"host value {_describe(value)}")
                elif is_tagged(value) and not on_device:
                    check._record("readback", name, f"device value into {_describe(base)}")
            return func(*args, **kwargs)
        out = func(*args, **kwargs)
        if on_device:
            self._tag_results(out, True, (base,))
        return out

    @staticmethod
    def _data_dependent(name, args, kwargs) -> bool:
        if name in DATA_DEPENDENT:
            return True
        if name == "where":
            return len(args) + len(kwargs) == 1
        if name == "repeat_interleave":
            return kwargs.get("output_size") is None
        return False

    def _device_tag(self, kwargs, default: bool) -> bool:
        device = kwargs.get("device")
        return default if device is None else self.check.is_compute(device)

    @staticmethod
    def _tag_results(out, on_device: bool, inputs) -> None:
        if not on_device:
            return
        held = {id(v) for v in inputs if isinstance(v, torch.Tensor)}
        for value in _operands(out):
            # An in-place result is its input: its device does not change.
            if isinstance(value, torch.Tensor) and id(value) not in held:
                _set_tag(value, True)


_ACTIVE: list[DeviceCheck] = []  # the open checks, innermost last


def _uploaded_frame(frame: torch.Tensor) -> torch.Tensor:
    """A frame that reached the compute device without ``.to()`` (``DeviceIO.upload`` on the
    CPU): recorded as an upload that starts a frame, and returned tagged."""
    if not _ACTIVE or is_tagged(frame):
        return frame
    check = _ACTIVE[-1]
    check.next_frame()
    check._record("upload", "DeviceIO.upload", f"frame {tuple(frame.shape)}")
    with torch._C.DisableTorchFunction():
        frame = _alias(frame)
    _set_tag(frame, True)
    return frame


class DeviceCheck:
    """Tags the compute device's tensors and records mixing, readbacks and syncs (see the
    module docstring). Use as a context manager; the findings stay readable afterwards."""

    def __init__(
        self, device: torch.device = COMPUTE, threads: bool = True, gpu_branches: bool = True
    ) -> None:
        self.device = torch.device(device)
        if self.device.type == "cpu" and self.device.index is None:
            raise ValueError("the compute device must not be spelled as the host: use cpu:0")
        self.threads = threads
        self.gpu_branches = gpu_branches
        self.records: list[Record] = []
        self.frame = 0
        self._lock = threading.Lock()
        self._mode = _Mode(self)
        self._undo: list = []
        self._tagged_state: dict[int, weakref.ref] = {}

    # -- the compute device ---------------------------------------------------------------
    def is_compute(self, device) -> bool:
        """Whether ``device`` (a torch.device, a string or a CUDA index) names the compute
        device (``cpu`` does not: it is the host)."""
        if isinstance(device, int):
            device = torch.device("cuda", device)
        device = torch.device(device)
        if device.type != self.device.type:
            return False
        if device.type == "cpu":
            return device.index == self.device.index
        return (device.index or 0) == (self.device.index or 0)

    def tag(self, *items: torch.Tensor | nn.Module) -> None:
        """Count tensors (or a module's parameters and buffers) as on the compute device."""
        for item in items:
            tensors: Iterable = (
                [*item.parameters(), *item.buffers()] if isinstance(item, nn.Module) else [item]
            )
            for tensor in tensors:
                _set_tag(tensor, True)
                self._tagged_state[id(tensor)] = weakref.ref(tensor)

    def next_frame(self) -> None:
        """Findings from now on belong to the next frame."""
        with self._lock:
            self.frame += 1

    def count_frames(self, source):
        """``source`` (a FrameSource), whose each ``read()`` starts a new frame here."""
        plain = source.read

        def read(*args, **kwargs):
            frame = plain(*args, **kwargs)
            if frame is not None:
                self.next_frame()
            return frame

        source.read = read
        return source

    # -- findings ---------------------------------------------------------------------------
    def _record(self, kind: str, op: str, detail: str = "") -> None:
        where, via, stack = _callers()
        thread = threading.current_thread().name
        record = Record(kind, op, where, via, thread, self.frame, detail, stack)
        with self._lock:
            self.records.append(record)

    def of_kind(self, *kinds: str) -> list[Record]:
        return [r for r in self.records if r.kind in kinds]

    @property
    def mixes(self) -> list[Record]:
        return self.of_kind("mix")

    @property
    def host_syncs(self) -> list[Record]:
        """Readbacks and data-dependent syncs: where the host waits for the device."""
        return self.of_kind("readback", "sync")

    def sites(self, *kinds: str, setup: bool = True) -> collections.Counter:
        """How often each (kind, op, where, via) occurred; ``setup=False`` leaves out what
        came before the first frame (loading the model, say)."""
        records = self.of_kind(*kinds) if kinds else self.records
        if not setup:
            records = [r for r in records if r.frame > 0]
        return collections.Counter((r.kind, r.op, r.where, r.via) for r in records)

    def per_frame(self, *kinds: str) -> dict[int, list[Record]]:
        frames: dict[int, list[Record]] = collections.defaultdict(list)
        for record in self.of_kind(*kinds) if kinds else self.records:
            frames[record.frame].append(record)
        return dict(frames)

    def table(self, frames: int, *kinds: str) -> str:
        """Per-site counts per frame (over ``frames`` frames, leaving out what came before the
        first), most frequent first."""
        lines = [f"{'per frame':>9}  {'kind':15} {'op':18} where (via)"]
        counted = self.sites(*kinds, setup=self.frame == 0)  # setup: no frames were marked
        for (kind, op, where, via), count in counted.most_common():
            via = f" (via {via})" if via and via != where else ""
            lines.append(f"{count / max(frames, 1):9.2f}  {kind:15} {op:18} {where}{via}")
        return "\n".join(lines)

    def assert_no_mixing(self) -> None:
        mixes = self.mixes
        if mixes:
            sites = collections.Counter(f"{r}\n      from {' <- '.join(r.stack)}" for r in mixes)
            listing = "\n".join(f"  {n} x {site}" for site, n in sites.most_common())
            raise AssertionError(f"{len(mixes)} operations mix device and host:\n{listing}")

    # -- the context -------------------------------------------------------------------------
    def __enter__(self) -> DeviceCheck:
        stack = contextlib.ExitStack()
        try:
            stack.enter_context(self._module_hook())
            stack.enter_context(self._device_io_upload())
            if self.gpu_branches:
                stack.enter_context(self._gpu_branches())
            if self.threads:
                stack.enter_context(self._in_threads())
            stack.enter_context(self._mode)
        except BaseException:
            stack.close()
            raise
        self._undo.append(stack)
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc) -> None:
        _ACTIVE.remove(self)
        self._undo.pop().close()
        for ref in self._tagged_state.values():  # parameters and buffers tagged here
            tensor = ref()
            if tensor is not None:
                _set_tag(tensor, False)
        self._tagged_state.clear()

    @contextlib.contextmanager
    def _module_hook(self) -> Iterator[None]:
        def tag_state(module: nn.Module, args) -> None:
            for tensors in (module._parameters, module._buffers):
                for tensor in tensors.values():
                    if tensor is not None and not getattr(tensor, TAG, False):
                        self.tag(tensor)

        handle = nn.modules.module.register_module_forward_pre_hook(tag_state)
        try:
            yield
        finally:
            handle.remove()

    @contextlib.contextmanager
    def _device_io_upload(self) -> Iterator[None]:
        """``DeviceIO.upload`` on the CPU is ``torch.from_numpy`` with no ``.to()``: count its
        result as an upload (and as the start of a frame)."""
        from live_explain.realtime import device_io as cuda_io

        plain = cuda_io.DeviceIO.upload

        def upload(io, image_bgr, slot):
            frame = plain(io, image_bgr, slot)
            return frame if io.cuda else _uploaded_frame(frame)

        cuda_io.DeviceIO.upload = upload
        try:
            yield
        finally:
            cuda_io.DeviceIO.upload = plain

    @contextlib.contextmanager
    def _gpu_branches(self) -> Iterator[None]:
        """Code that branches on ``device.type == "cpu"`` takes the GPU's branch where it
        has one: ``warp_map`` warps a CPU map with OpenCV (through NumPy and back, a host
        round trip that a GPU map never makes) and a GPU map with ``grid_sample``; checked,
        every map takes ``grid_sample``."""
        from live_explain.realtime import map_motion as reuse

        plain = getattr(reuse, "warp_opencv", None)
        gpu = getattr(reuse, "warp_grid_sample", None)
        if plain is None or gpu is None:
            yield
            return
        reuse.warp_opencv = gpu
        try:
            yield
        finally:
            reuse.warp_opencv = plain

    @contextlib.contextmanager
    def _in_threads(self) -> Iterator[None]:
        plain = threading.Thread.run
        mode = self._mode

        def run(thread: threading.Thread) -> None:
            with mode:
                plain(thread)

        threading.Thread.run = run
        try:
            yield
        finally:
            threading.Thread.run = plain


class GpuPathIO(DeviceIO):
    """A :class:`~live_explain.realtime.device_io.DeviceIO` that lets its users take their CUDA
    branches on the CPU: ``cuda`` is true (the engine then colours and blends the maps on the
    device and reads the overlay and maps back once), with no streams or pinned memory. Its
    readback is recorded where it is queued (``DeviceIO.readback``; on CUDA the host waits
    for it later, in ``Readback.wait``)."""

    def __init__(self, device: torch.device = COMPUTE, slots: int = 4) -> None:
        super().__init__(device, slots)
        self.cuda = True

    def compute(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def upload(self, image_bgr: np.ndarray, slot: int) -> torch.Tensor:
        return _uploaded_frame(torch.from_numpy(np.ascontiguousarray(image_bgr)))

    def readback(self, tensors: dict[str, torch.Tensor], slot: int) -> Readback:
        hosts = {}
        for name, tensor in tensors.items():
            if _ACTIVE and is_tagged(tensor):
                _ACTIVE[-1]._record("readback", "DeviceIO.readback", f"{name} {_describe(tensor)}")
            with torch._C.DisableTorchFunction():  # untagged: host memory
                hosts[name] = tensor.detach().clone()
        return Readback(hosts)


@contextlib.contextmanager
def compute_device_for_cli() -> Iterator[None]:
    """``--device cpu`` in :func:`live_explain.cli.main.main` runs on :data:`COMPUTE` (``cpu:0``):
    the CLI resolves its device with ``live_explain.model.detector.resolve_device``."""
    from live_explain.model import detector as detect

    plain = detect.resolve_device

    def resolve(device: str) -> torch.device:
        resolved = plain(device)
        return COMPUTE if resolved.type == "cpu" else resolved

    detect.resolve_device = resolve
    try:
        yield
    finally:
        detect.resolve_device = plain
