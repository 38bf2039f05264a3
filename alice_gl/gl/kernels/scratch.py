"""Scratch textures of a kernel: planned up front, allocated on first use or taken from a plan."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alice_gl.errors import InvalidInputError
from alice_gl.gl.layout import TextureLayout
from alice_gl.gl.textures import GLTensor

if TYPE_CHECKING:
    from alice_gl.gl.context import GLContext
    from alice_gl.gl.planner import MemoryPlan


class ScratchSet:
    """Named ``runtime_buffers`` textures of one kernel.

    Either ``use(tensors)`` hands in textures that a ``MemoryPlan`` allocated, or the first
    ``get`` allocates all of them in the context; ``release`` frees only self-allocated ones.
    """

    def __init__(self, ctx: GLContext, layouts: dict[str, TextureLayout]) -> None:
        self._ctx = ctx
        self.layouts = dict(layouts)
        self._tensors: dict[str, GLTensor] = {}
        self._owned = False

    def add_to_plan(self, plan: MemoryPlan) -> None:
        """Add every scratch texture to ``plan`` as ``runtime_buffers``."""
        for name, layout in self.layouts.items():
            plan.add(name, "runtime_buffers", layout)

    def use(self, tensors: dict[str, GLTensor]) -> None:
        """Take the scratch textures from ``tensors`` (for example ``MemoryPlan.allocate``).

        Raises ``InvalidInputError`` when one is missing or has a different layout.
        """
        for name, layout in self.layouts.items():
            tensor = tensors.get(name)
            if tensor is None or tensor.layout != layout:
                raise InvalidInputError(f"Scratch texture {name!r} is missing or has the wrong "
                                        f"layout; expected {layout}.")
            self._tensors[name] = tensor
        self._owned = False

    def get(self, name: str) -> GLTensor:
        """Return scratch tensor ``name``, allocating the whole set on first use."""
        if not self._tensors:
            for scratch_name, layout in self.layouts.items():
                self._tensors[scratch_name] = self._ctx.textures.allocate(
                    layout, "runtime_buffers", scratch_name)
            self._owned = True
        return self._tensors[name]

    def release(self) -> None:
        """Release the textures this set allocated itself; borrowed ones stay with their plan."""
        if self._owned:
            for tensor in self._tensors.values():
                self._ctx.release(tensor)
        self._tensors.clear()
        self._owned = False
