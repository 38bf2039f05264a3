"""The table that maps an ONNX operator to the NumPy kernel that computes it.

A kernel is a function ``kernel(inputs, attributes) -> list[np.ndarray]``. ``inputs`` lists the
node's inputs in schema order, with ``None`` for an optional input left empty. ``attributes``
maps each attribute name, as the ONNX spec spells it, to a Python value (see
``alice_gl.executor.attributes``). Control-flow kernels are registered with ``needs_scope=True``
and also receive ``scope``, the values visible to the node, which their subgraphs may read.

An operator whose semantics changed between opsets has one kernel per version; ``find_kernel``
picks the kernel with the greatest ``since_version`` not above the model's opset.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Kernel = Callable[..., Sequence[np.ndarray] | np.ndarray]
# Returns why a node's attributes are outside what the kernel implements, or None when they fit.
AttributeCheck = Callable[[dict[str, Any]], str | None]

DEFAULT_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class KernelEntry:
    """One registered kernel: the op type, the first opset it serves, and the function."""

    op_type: str
    since_version: int
    function: Kernel
    needs_scope: bool = False
    check: AttributeCheck | None = None


_KERNELS: dict[str, list[KernelEntry]] = {}
_loaded = False


def register(*op_types: str, since_version: int = 1, needs_scope: bool = False,
             check: AttributeCheck | None = None) -> Callable[[Kernel], Kernel]:
    """Register the decorated function as the kernel of ``op_types`` from ``since_version`` on.

    ``check``, when given, runs once per node when a model is loaded, so a node whose attributes
    the kernel does not implement is reported at load time rather than part-way through a run.
    """

    def decorate(function: Kernel) -> Kernel:
        for op_type in op_types:
            entries = _KERNELS.setdefault(op_type, [])
            if any(entry.since_version == since_version for entry in entries):
                raise ValueError(f"Two kernels registered for {op_type} at opset {since_version}.")
            entries.append(KernelEntry(op_type, since_version, function, needs_scope, check))
            entries.sort(key=lambda entry: entry.since_version)
        return function

    return decorate


def _load_kernels() -> None:
    """Import every module of ``alice_gl.executor.ops`` once, so their kernels register."""
    global _loaded
    if _loaded:
        return
    package = importlib.import_module("alice_gl.executor.ops")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    _loaded = True


def find_kernel(op_type: str, opset: int, domain: str = "") -> KernelEntry | None:
    """Return the kernel for ``op_type`` at ``opset`` in ``domain``, or None when there is none."""
    _load_kernels()
    if domain not in DEFAULT_DOMAINS:
        return None
    chosen = None
    for entry in _KERNELS.get(op_type, ()):
        if entry.since_version <= opset:
            chosen = entry
    return chosen


def supported_op_types() -> frozenset[str]:
    """Return the op types of the default ONNX domain that have at least one kernel."""
    _load_kernels()
    return frozenset(_KERNELS)
