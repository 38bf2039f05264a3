"""Probe what a moderngl context can do: renderer, GL version, compute, limits, render targets."""

from __future__ import annotations

from dataclasses import dataclass

import moderngl

# GL 4.3 made compute shaders and image load/store core.
COMPUTE_MIN_VERSION_CODE = 430


@dataclass(frozen=True)
class Capabilities:
    """Properties of one GL context, read once when the context is created.

    ``version_code`` is major * 100 + minor * 10 (450 for GL 4.5). ``max_texture_size`` is the
    driver's ``GL_MAX_TEXTURE_SIZE`` in texels per side, before any profile cap.
    ``float_render_targets`` is true when an R32F texture is a complete framebuffer attachment
    (WebGL2 needs ``EXT_color_buffer_float`` for that).
    """

    renderer: str
    vendor: str
    version: str
    version_code: int
    compute_shaders: bool
    es3_compatibility: bool
    max_texture_size: int
    float_render_targets: bool

    def as_dict(self) -> dict[str, object]:
        """Return the capabilities as a plain dictionary, for logs and reports."""
        return dict(self.__dict__)


def probe_capabilities(ctx: moderngl.Context) -> Capabilities:
    """Read the capabilities of ``ctx``; creates and releases one 1x1 test texture."""
    return Capabilities(
        renderer=str(ctx.info["GL_RENDERER"]),
        vendor=str(ctx.info["GL_VENDOR"]),
        version=str(ctx.info["GL_VERSION"]),
        version_code=int(ctx.version_code),
        compute_shaders=ctx.version_code >= COMPUTE_MIN_VERSION_CODE,
        # GL 4.3 made GL_ARB_ES3_compatibility core, so drivers may not list it.
        es3_compatibility=("GL_ARB_ES3_compatibility" in ctx.extensions
                           or ctx.version_code >= COMPUTE_MIN_VERSION_CODE),
        max_texture_size=int(ctx.info["GL_MAX_TEXTURE_SIZE"]),
        float_render_targets=_float_render_target_complete(ctx),
    )


def _float_render_target_complete(ctx: moderngl.Context) -> bool:
    texture = ctx.texture((1, 1), 1, dtype="f4")
    try:
        framebuffer = ctx.framebuffer(color_attachments=[texture])
    except moderngl.Error:
        return False
    else:
        framebuffer.release()
        return True
    finally:
        texture.release()
