"""GLContext: creation, capabilities, profiles, errors and release of every GL object."""

from __future__ import annotations

import moderngl
import numpy as np
import pytest

from alice_gl.errors import ConfigError, GLContextError
from alice_gl.gl import WEBGL2_MAX_TEXTURE_SIZE, GLContext


def test_capabilities_probe(webgl2_ctx: GLContext) -> None:
    caps = webgl2_ctx.capabilities
    assert caps.renderer
    assert caps.version
    assert caps.version_code >= 330
    assert caps.es3_compatibility
    assert caps.max_texture_size >= WEBGL2_MAX_TEXTURE_SIZE
    assert caps.float_render_targets
    assert set(caps.as_dict()) >= {"renderer", "version", "compute_shaders",
                                   "es3_compatibility", "max_texture_size",
                                   "float_render_targets"}


def test_webgl2_caps_texture_side(webgl2_ctx: GLContext) -> None:
    assert webgl2_ctx.max_texture_size == WEBGL2_MAX_TEXTURE_SIZE
    assert not webgl2_ctx.compute_enabled
    with pytest.raises(ConfigError, match="gl43"):
        webgl2_ctx.require_compute()


def test_gl43_uses_driver_limit(gl43_ctx: GLContext) -> None:
    assert gl43_ctx.capabilities.compute_shaders
    assert gl43_ctx.compute_enabled
    assert gl43_ctx.max_texture_size == gl43_ctx.capabilities.max_texture_size
    gl43_ctx.require_compute()


def test_configured_texture_side() -> None:
    with GLContext(profile="webgl2", max_texture_size=64) as ctx:
        assert ctx.max_texture_size == 64
        assert ctx.layout((3, 100), np.float32).grid == (1, 2)


@pytest.mark.parametrize("size", [0, 3, 10**9])
def test_invalid_texture_side_rejected(size: int) -> None:
    with pytest.raises(ConfigError, match=f"max_texture_size={size}"):
        GLContext(max_texture_size=size)


def test_unknown_profile_rejected() -> None:
    with pytest.raises(ConfigError, match="'webgl1'"):
        GLContext(profile="webgl1")


def test_missing_egl_library_raises() -> None:
    with pytest.raises(GLContextError, match=r"libEGL-missing\.so\.1") as info:
        GLContext(libegl="libEGL-missing.so.1")
    assert "Install" in str(info.value)


def test_close_releases_every_object() -> None:
    ctx = GLContext()
    tensor = ctx.upload(np.ones((5, 7), np.float32))
    framebuffer = ctx.framebuffer(tensor.textures)
    program = ctx.programs.fragment("quantize_params.frag")
    textures = list(tensor.textures)
    assert ctx.gl_object_counts() == {"textures": 1, "framebuffers": 1, "programs": 1}

    ctx.close()

    assert ctx.closed
    assert ctx.gl_object_counts() == {"textures": 0, "framebuffers": 0, "programs": 0}
    assert all(isinstance(t.mglo, moderngl.mgl.InvalidObject) for t in textures)
    assert isinstance(framebuffer.mglo, moderngl.mgl.InvalidObject)
    assert isinstance(program.program.mglo, moderngl.mgl.InvalidObject)
    assert ctx.allocated_bytes() == dict.fromkeys(ctx.allocated_bytes(), 0)
    ctx.close()
    with pytest.raises(GLContextError, match="closed"):
        ctx.read(tensor)


def test_context_manager_closes() -> None:
    with GLContext() as ctx:
        ctx.upload(np.zeros(3, np.float32))
    assert ctx.closed
    assert ctx.gl_object_counts()["textures"] == 0


def test_release_drops_framebuffers(webgl2_ctx: GLContext) -> None:
    tensor = webgl2_ctx.empty((4, 4), np.int32)
    webgl2_ctx.framebuffer(tensor.textures)
    webgl2_ctx.release(tensor)
    assert webgl2_ctx.gl_object_counts()["framebuffers"] == 0
    assert webgl2_ctx.gl_object_counts()["textures"] == 0
    assert tensor.released
