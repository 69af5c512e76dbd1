"""Forward hooks on target layers, always removed on exit (even after an exception).

A hooked layer's output can be turned into a *leaf* that requires grad: downstream layers
then build the autograd graph from it, and gradients are taken only back to that layer.
A capture records only the forward passes of the thread that made it, so several threads can
explain with one model at the same time.
"""

from __future__ import annotations

import contextlib
import difflib
import threading
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from live_explain.errors import UserError


def find_layer(model: nn.Module, name: str) -> nn.Module:
    """The submodule called ``name`` (a name from ``named_modules()``), or a clear error."""
    modules = dict(model.named_modules())
    if name in modules and name != "":
        return modules[name]
    close = difflib.get_close_matches(name, [n for n in modules if n], n=5, cutoff=0.6)
    if close:
        hint = f"; close names: {', '.join(close)}"
    else:  # the top-level names, from which every name in named_modules() starts
        top = [n for n in modules if n and "." not in n]
        hint = f"; names start with one of: {', '.join(top[:12])}"
    raise UserError(f"--layer {name}: no layer of that name in {type(model).__name__}{hint}")


def tensors_of(output: Any) -> list[torch.Tensor]:
    """The tensors of a layer output: a tensor, a dict of tensors, or a list/tuple of tensors
    and lists of tensors (an FPN block's ``(levels, names)``)."""
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        return [v for v in output.values() if isinstance(v, torch.Tensor)]
    if isinstance(output, (list, tuple)):
        found = []
        for v in output:
            if isinstance(v, torch.Tensor):
                found.append(v)
            elif isinstance(v, (list, tuple)) and v and all(isinstance(t, torch.Tensor) for t in v):
                found.extend(v)
        return found
    raise TypeError(f"cannot take activations from a layer output of type {type(output)}")


def _map_tensors(output: Any, fn) -> Any:
    if isinstance(output, torch.Tensor):
        return fn(output)
    if isinstance(output, dict):
        return type(output)((k, _map_tensors(v, fn)) for k, v in output.items())
    if isinstance(output, (list, tuple)):
        return type(output)(_map_tensors(v, fn) for v in output)
    return output


class LayerCapture:
    """What a hooked layer produced in the forward pass: ``output`` of its last call,
    ``outputs`` of every call (a head shared by the FPN levels runs once per level).

    As a leaf, each floating-point tensor of the output is recorded as a leaf that requires
    grad, and the model goes on with a copy of it, so that an in-place operation after the
    layer (``ReLU(inplace=True)``, a residual ``+=``) changes the copy, not the leaf. The
    layer the heads read (``clone=False``) skips the copy: torchvision's heads do not write
    into their inputs.
    """

    def __init__(self, name: str, as_leaf: bool, clone: bool = True) -> None:
        self.name = name
        self.as_leaf = as_leaf
        self.clone = clone
        self.outputs: list[Any] = []
        self.leaves: list[list[torch.Tensor]] = []
        self.thread = threading.get_ident()

    @property
    def output(self) -> Any:
        return self.outputs[-1] if self.outputs else None

    @property
    def calls(self) -> int:
        return len(self.outputs)

    @property
    def tensors(self) -> list[torch.Tensor]:
        """The tensors of every call's output (the leaves, for a leaf capture)."""
        if not self.outputs:
            raise RuntimeError(f"layer '{self.name}' was not reached by the forward pass")
        if self.leaves:
            return [leaf for call in self.leaves for leaf in call]
        return [t for output in self.outputs for t in tensors_of(output)]

    def hook(self, module: nn.Module, args: tuple, output: Any) -> Any:
        if threading.get_ident() != self.thread:  # another thread's forward pass
            return None
        if not (self.as_leaf and torch.is_grad_enabled()):
            self.outputs.append(output)
            return None
        leaves: list[torch.Tensor] = []

        def to_leaf(tensor: torch.Tensor) -> torch.Tensor:
            if not tensor.is_floating_point():
                return tensor
            leaf = tensor.detach().requires_grad_(True)
            leaves.append(leaf)
            return leaf.clone() if self.clone else leaf

        output = _map_tensors(output, to_leaf)
        self.outputs.append(output)
        self.leaves.append(leaves)
        return output


@contextlib.contextmanager
def capture_layers(
    model: nn.Module,
    names: dict[str, bool],
    modules: dict[str, nn.Module] | None = None,
    no_clone: frozenset[str] = frozenset(),
) -> Iterator[dict[str, LayerCapture]]:
    """Hook the layers in ``names`` (name -> as_leaf) for the duration of the block.

    ``modules`` may map names to modules already looked up (a per-frame caller saves the
    walk over ``named_modules()``); leaves of the layers in ``no_clone`` go on uncopied
    (see :class:`LayerCapture`).

    >>> with capture_layers(model, {"layer4": True}) as captured:
    ...     logits = model(x)
    >>> activations = captured["layer4"].tensors[0]
    """
    handles = []
    captures = {
        name: LayerCapture(name, leaf, clone=name not in no_clone) for name, leaf in names.items()
    }
    try:
        for name, capture in captures.items():
            module = modules[name] if modules and name in modules else find_layer(model, name)
            handles.append(module.register_forward_hook(capture.hook))
        yield captures
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def frozen_parameters(model: nn.Module) -> Iterator[None]:
    """No parameter requires grad inside the block, so autograd records only what flows
    from the hooked leaves; the previous flags are restored in ``finally``."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
