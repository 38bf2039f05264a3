"""Texture pool: creates, tracks and releases the textures of tensors, counting bytes by kind."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import moderngl
import numpy as np

from alice_gl.errors import InvalidInputError
from alice_gl.gl.layout import TextureLayout

logger = logging.getLogger(__name__)

# Kinds of texture memory, as the memory plan and the budget error report them.
KINDS = ("weights", "scales", "intermediates", "runtime_buffers")


@dataclass(eq=False)
class GLTensor:
    """A tensor resident in one texture per layout piece, in ``layout.pieces`` order.

    The pool that created it owns the textures; release them with ``TexturePool.release``.
    """

    name: str
    kind: str
    layout: TextureLayout
    textures: list[moderngl.Texture] = field(repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """Logical tensor shape."""
        return self.layout.shape

    @property
    def nbytes(self) -> int:
        """Texture bytes of all pieces."""
        return self.layout.nbytes

    def view(self, shape: tuple[int, ...]) -> GLTensor:
        """Return a tensor of ``shape`` that shares these textures (no copy, no new GL objects).

        The view is not owned by the pool: release the original tensor, not the view. Raises
        ``InvalidInputError`` when ``shape`` changes the matrix view (see
        ``TextureLayout.reshaped``).
        """
        return GLTensor(self.name, self.kind, self.layout.reshaped(shape), self.textures)

    @property
    def released(self) -> bool:
        """True once the pool has released the textures."""
        return not self.textures


class TexturePool:
    """Owner of every texture that stores a tensor in one GL context.

    Bytes are counted as width * height * bytes per texel of each texture, the size the GL
    formats define. NOTE: drivers may pad or align allocations beyond that, and GL offers no
    portable query of the real size.
    """

    def __init__(self, ctx: moderngl.Context,
                 on_release: Callable[[list[moderngl.Texture]], None] | None = None) -> None:
        """``on_release`` is called with a tensor's textures right before they are released."""
        self._ctx = ctx
        self._on_release = on_release
        self._tensors: dict[int, GLTensor] = {}

    def allocate(self, layout: TextureLayout, kind: str, name: str = "",
                 data: np.ndarray | None = None) -> GLTensor:
        """Create the textures of ``layout``; fill them from ``data`` when given, else zeros.

        Raises ``InvalidInputError`` for an unknown ``kind``.
        """
        if kind not in KINDS:
            raise InvalidInputError(f"Unknown texture kind {kind!r}; use one of {KINDS}.")
        blocks = layout.pack(data) if data is not None else [None] * len(layout.pieces)
        textures = []
        try:
            for piece, block in zip(layout.pieces, blocks, strict=True):
                texture = self._ctx.texture(piece.size, layout.channels,
                                            data=None if block is None else block.tobytes(),
                                            dtype=layout.moderngl_dtype)
                texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
                texture.repeat_x = False
                texture.repeat_y = False
                textures.append(texture)
        except moderngl.Error:
            for texture in textures:
                texture.release()
            raise
        tensor = GLTensor(name=name, kind=kind, layout=layout, textures=textures)
        self._tensors[id(tensor)] = tensor
        logger.debug("Allocated %s %r %s %s in %d texture(s), %d bytes", kind, name,
                     layout.internal_format, layout.shape, len(textures), layout.nbytes)
        return tensor

    def write(self, tensor: GLTensor, data: np.ndarray) -> None:
        """Overwrite the contents of ``tensor`` with ``data`` (same shape)."""
        _check_live(tensor)
        for texture, block in zip(tensor.textures, tensor.layout.pack(data), strict=True):
            texture.write(block.tobytes())

    def read(self, tensor: GLTensor) -> np.ndarray:
        """Read ``tensor`` back into a new NumPy array of its shape and dtype."""
        _check_live(tensor)
        blocks = [texture.read(alignment=1) for texture in tensor.textures]
        return tensor.layout.unpack(blocks)

    def release(self, tensor: GLTensor) -> None:
        """Release the textures of ``tensor``; releasing twice does nothing.

        Raises ``InvalidInputError`` for a live tensor this pool did not create, such as a
        memory plan's alias of another tensor's textures.
        """
        if tensor.released:
            return
        if id(tensor) not in self._tensors:
            raise InvalidInputError(f"Tensor {tensor.name!r} shares textures it does not own; "
                                    "release the tensor that owns them (MemoryPlan.release_all "
                                    "does that for a plan).")
        if self._on_release is not None:
            self._on_release(tensor.textures)
        for texture in tensor.textures:
            texture.release()
        tensor.textures.clear()
        del self._tensors[id(tensor)]

    def release_all(self) -> None:
        """Release every texture this pool still owns."""
        for tensor in list(self._tensors.values()):
            self.release(tensor)

    def bytes_by_kind(self) -> dict[str, int]:
        """Bytes of live textures per kind; every kind in ``KINDS`` is present."""
        totals = dict.fromkeys(KINDS, 0)
        for tensor in self._tensors.values():
            totals[tensor.kind] += tensor.nbytes
        return totals

    def texture_count(self) -> int:
        """Number of live textures."""
        return sum(len(t.textures) for t in self._tensors.values())



def _check_live(tensor: GLTensor) -> None:
    if tensor.released:
        raise InvalidInputError(f"Tensor {tensor.name!r} was released; its textures are gone.")
