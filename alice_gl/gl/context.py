"""Headless GL context that owns every GL object the runtime creates.

``GLContext`` opens a standalone EGL context through moderngl and glcontext, probes its
capabilities, and owns the texture pool, the program cache and the framebuffers of the passes.
``close()`` (or leaving the ``with`` block) releases all of them and then the context.

Profiles:

- ``webgl2``: fragment passes in GLSL ES 3.00 only, no compute. Texture sides are capped at
  ``WEBGL2_MAX_TEXTURE_SIZE`` (4096) unless ``max_texture_size`` is given. OpenGL ES 3.0
  guarantees only 2048, so a device with that limit needs ``max_texture_size=2048``.
- ``gl43``: compute passes allowed as well; needs GL 4.3; texture sides up to the driver limit.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import moderngl
import numpy as np

from alice_gl.errors import ConfigError, GLContextError
from alice_gl.gl.capabilities import Capabilities, probe_capabilities
from alice_gl.gl.layout import TextureLayout
from alice_gl.gl.programs import ProgramCache
from alice_gl.gl.textures import GLTensor, TexturePool

logger = logging.getLogger(__name__)

PROFILES = ("webgl2", "gl43")
WEBGL2_MAX_TEXTURE_SIZE = 4096
# Versioned sonames, so the Mesa runtime packages suffice (no -dev symlinks needed).
DEFAULT_LIBGL = "libGL.so.1"
DEFAULT_LIBEGL = "libEGL.so.1"
# GL 3.3 core plus GL_ARB_ES3_compatibility runs the GLSL ES 3.00 fragment passes.
FRAGMENT_MIN_VERSION_CODE = 330
# A packed texel contains four consecutive columns. With sides of 4 or more they span at most
# two pieces, which the quantization pass relies on.
MIN_TEXTURE_SIZE = 4


class GLContext:
    """A standalone GL context plus the textures, programs and framebuffers made in it.

    Raises ``GLContextError`` when no context can be created (no EGL library, no driver, GL too
    old, or ``gl43`` without compute shaders) and ``ConfigError`` for a bad profile or
    ``max_texture_size``. Not thread-safe: use one context per thread.
    """

    def __init__(self, profile: str = "webgl2", max_texture_size: int | None = None, *,
                 libgl: str = DEFAULT_LIBGL, libegl: str = DEFAULT_LIBEGL) -> None:
        if profile not in PROFILES:
            raise ConfigError(f"Invalid GL profile {profile!r}; use one of {PROFILES}.")
        self.profile = profile
        self._ctx = _create_moderngl_context(libgl, libegl)
        try:
            self.capabilities: Capabilities = probe_capabilities(self._ctx)
            self._check_profile()
            self.max_texture_size = self._resolve_max_texture_size(max_texture_size)
        except Exception:
            self._ctx.release()
            raise
        self.textures = TexturePool(self._ctx, on_release=self._drop_framebuffers)
        self.programs = ProgramCache(self._ctx, webgl2_only=profile == "webgl2")
        self._framebuffers: dict[tuple[int, ...], moderngl.Framebuffer] = {}
        self._closed = False
        logger.debug("GL context %s on %s (%s), max texture side %d", profile,
                     self.capabilities.renderer, self.capabilities.version,
                     self.max_texture_size)

    @property
    def gl(self) -> moderngl.Context:
        """The underlying moderngl context, for kernels that issue their own GL calls."""
        self._check_open()
        return self._ctx

    @property
    def compute_enabled(self) -> bool:
        """True when compute passes may run: the ``gl43`` profile."""
        return self.profile == "gl43"

    def layout(self, shape: Sequence[int], dtype: str | np.dtype,
               channels: int = 1) -> TextureLayout:
        """Return the texture layout of a tensor under this context's max texture side."""
        return TextureLayout(tuple(shape), np.dtype(dtype).name, channels, self.max_texture_size)

    def upload(self, array: np.ndarray, kind: str = "intermediates", name: str = "",
               channels: int = 1) -> GLTensor:
        """Copy ``array`` into new textures (its dtype must be float32, int32, uint8 or int8)."""
        array = np.asarray(array)
        return self.textures.allocate(self.layout(array.shape, array.dtype, channels), kind,
                                      name, data=array)

    def empty(self, shape: Sequence[int], dtype: str | np.dtype, kind: str = "intermediates",
              name: str = "", channels: int = 1) -> GLTensor:
        """Allocate zero-filled textures for a tensor of ``shape`` and ``dtype``."""
        return self.textures.allocate(self.layout(shape, dtype, channels), kind, name)

    def read(self, tensor: GLTensor) -> np.ndarray:
        """Read ``tensor`` back to NumPy (waits for the passes that write it)."""
        self._check_open()
        return self.textures.read(tensor)

    def release(self, tensor: GLTensor) -> None:
        """Release the textures of ``tensor`` and the framebuffers that draw into them."""
        self.textures.release(tensor)

    def framebuffer(self, attachments: Sequence[moderngl.Texture]) -> moderngl.Framebuffer:
        """Return a cached framebuffer whose color attachments are ``attachments``, in order."""
        key = tuple(texture.glo for texture in attachments)
        framebuffer = self._framebuffers.get(key)
        if framebuffer is None:
            framebuffer = self._ctx.framebuffer(color_attachments=list(attachments))
            self._framebuffers[key] = framebuffer
        return framebuffer

    def allocated_bytes(self) -> dict[str, int]:
        """Bytes of live textures by kind (weights, scales, intermediates, runtime_buffers)."""
        return self.textures.bytes_by_kind()

    def gl_object_counts(self) -> dict[str, int]:
        """Number of live GL objects this context owns, by type."""
        return {"textures": self.textures.texture_count(),
                "framebuffers": len(self._framebuffers),
                "programs": len(self.programs)}

    def require_compute(self) -> None:
        """Raise ``ConfigError`` unless compute passes are allowed in this profile."""
        if not self.compute_enabled:
            raise ConfigError(f"Compute passes need the gl43 profile; this context uses "
                              f"{self.profile!r}. Create GLContext(profile='gl43') or use "
                              "the fragment passes.")

    def close(self) -> None:
        """Release every framebuffer, texture and program, then the context; idempotent."""
        if self._closed:
            return
        for framebuffer in self._framebuffers.values():
            framebuffer.release()
        self._framebuffers.clear()
        self.textures.release_all()
        self.programs.release_all()
        self._ctx.release()
        self._closed = True

    @property
    def closed(self) -> bool:
        """True after ``close()``."""
        return self._closed

    def __enter__(self) -> GLContext:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _drop_framebuffers(self, textures: list[moderngl.Texture]) -> None:
        # Framebuffers are keyed by texture names, which the driver may hand out again.
        dead = {texture.glo for texture in textures}
        for key in [key for key in self._framebuffers if dead.intersection(key)]:
            self._framebuffers.pop(key).release()

    def _check_open(self) -> None:
        if self._closed:
            raise GLContextError("The GL context is closed; create a new GLContext.")

    def _check_profile(self) -> None:
        caps = self.capabilities
        if caps.version_code < FRAGMENT_MIN_VERSION_CODE or not caps.es3_compatibility:
            raise GLContextError(f"GL {caps.version} on {caps.renderer} cannot run GLSL ES 3.00 "
                                 "passes: GL 3.3 with GL_ARB_ES3_compatibility is required.")
        if not caps.float_render_targets:
            raise GLContextError(f"{caps.renderer} cannot render into R32F textures, which the "
                                 "passes write their float outputs to (WebGL2 needs "
                                 "EXT_color_buffer_float for that).")
        if self.profile == "gl43" and not caps.compute_shaders:
            raise GLContextError(f"The gl43 profile needs GL 4.3 for compute shaders, but "
                                 f"{caps.renderer} offers GL {caps.version}; use 'webgl2'.")

    def _resolve_max_texture_size(self, requested: int | None) -> int:
        driver_max = self.capabilities.max_texture_size
        if requested is None:
            cap = WEBGL2_MAX_TEXTURE_SIZE if self.profile == "webgl2" else driver_max
            return min(cap, driver_max)
        if not MIN_TEXTURE_SIZE <= requested <= driver_max:
            raise ConfigError(f"Invalid max_texture_size={requested}: it must be between "
                              f"{MIN_TEXTURE_SIZE} and the driver's GL_MAX_TEXTURE_SIZE "
                              f"{driver_max}.")
        return int(requested)


def _create_moderngl_context(libgl: str, libegl: str) -> moderngl.Context:
    """Create a standalone EGL context of GL 3.3 core or newer."""
    try:
        return moderngl.create_context(standalone=True, backend="egl", libgl=libgl,
                                       libegl=libegl, require=FRAGMENT_MIN_VERSION_CODE)
    # glcontext raises bare Exception for a missing library or a failed EGL call.
    except Exception as error:
        raise GLContextError(f"Cannot create a headless OpenGL context through EGL "
                             f"({libegl}, {libgl}): {error}. Install Mesa's libegl1, libgl1 and "
                             "libgl1-mesa-dri, or a GPU driver with EGL.") from error
