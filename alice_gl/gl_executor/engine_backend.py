"""The GL executor behind the engine's backend interface (``alice_gl.engine.backends``).

``ENGINE_BACKEND_FACTORIES`` maps ``gl-fragment`` and ``gl-compute`` to factories with the
signature the engine's ``GL_BACKEND_FACTORIES`` table expects: ``(model, config) -> backend``.
Each raises ``GLContextError`` when no context can be made, so the engine's ``auto`` falls
back to NumPy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import onnx

from alice_gl.gl import TilingConfig
from alice_gl.gl_executor.session import GLSession

if TYPE_CHECKING:
    from alice_gl.engine.config import QuantizationConfig

# NOTE: the engine's ``tiling.enabled=False`` requests one pass per matmul. The runtime's
# dequant-matmul always tiles, so this block size replaces "one K block". It covers every K
# up to 65536 (one 16384-texel row of RGBA texels); a larger K still takes several passes.
UNTILED_BLOCK_SIZE = 1 << 16


class GLBackend:
    """A ``GLSession`` with the attributes the engine's status reports."""

    def __init__(self, model: onnx.ModelProto, config: QuantizationConfig, passes: str) -> None:
        self.name = f"gl-{passes}"
        profile = "gl43" if passes == "compute" else config.profile
        block_size = config.tiling.block_size if config.tiling.enabled else UNTILED_BLOCK_SIZE
        tiling = TilingConfig(block_size=block_size,
                              max_concurrent_blocks=config.tiling.max_concurrent_blocks)
        self._session = GLSession(model, profile=profile, max_memory_mb=config.max_memory_mb,
                                  tiling=tiling, passes=passes)
        self.renderer: str | None = self._session.ctx.capabilities.renderer

    @property
    def planned_texture_bytes(self) -> int:
        """Bytes of the current plan's textures (0 before the first compile)."""
        plan = self._session.plan
        return plan.memory.total_bytes if plan is not None else 0

    @property
    def allocated_texture_bytes(self) -> int:
        """Bytes of live textures in the session's context."""
        if self._session.ctx.closed:
            return 0
        return sum(self._session.ctx.allocated_bytes().values())

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model on ``inputs`` and return every graph output by name."""
        return self._session.run(inputs)

    def close(self) -> None:
        """Release the session's textures and its GL context."""
        self._session.close()


def create_gl_fragment(model: onnx.ModelProto, config: QuantizationConfig) -> GLBackend:
    """Build the fragment-pass backend under ``config.profile``."""
    return GLBackend(model, config, "fragment")


def create_gl_compute(model: onnx.ModelProto, config: QuantizationConfig) -> GLBackend:
    """Build the compute-pass backend (the ``gl43`` profile)."""
    return GLBackend(model, config, "compute")


ENGINE_BACKEND_FACTORIES = {"gl-fragment": create_gl_fragment, "gl-compute": create_gl_compute}
