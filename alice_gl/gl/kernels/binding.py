"""Helpers that bind textures, set uniforms and draw one fragment pass."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import moderngl

from alice_gl.gl.programs import FragmentProgram

if TYPE_CHECKING:
    from alice_gl.gl.context import GLContext

Program = moderngl.Program | moderngl.ComputeShader


def set_uniforms(program: Program, values: dict[str, object]) -> None:
    """Set each uniform the linked program kept; the linker drops uniforms a define disabled."""
    for name, value in values.items():
        member = program.get(name, None)
        if member is not None:
            member.value = value


Textures = dict[str, moderngl.Texture | Sequence[moderngl.Texture]]


def bind_textures(program: Program, textures: Textures) -> None:
    """Bind each texture to its own unit (0, 1, ...) and point its sampler uniform at it.

    A sequence of textures goes to a sampler array: element i takes the i-th texture's unit.
    """
    unit = 0
    for name, value in textures.items():
        group = [value] if isinstance(value, moderngl.Texture) else list(value)
        units = list(range(unit, unit + len(group)))
        for texture, texture_unit in zip(group, units, strict=True):
            texture.use(location=texture_unit)
        unit += len(group)
        member = program.get(name, None)
        if member is not None:
            # moderngl takes a list only for arrays of two or more samplers.
            member.value = units if member.array_length > 1 else units[0]


def draw_fragment_pass(ctx: GLContext, entry: FragmentProgram,
                       targets: Sequence[moderngl.Texture], viewport: tuple[int, int, int, int],
                       textures: Textures,
                       uniforms: dict[str, object] | None = None) -> None:
    """Draw ``entry`` into ``targets`` (color attachments 0, 1, ...) over ``viewport``.

    ``viewport`` is (x, y, width, height) in texels of the targets; the pass runs once per
    texel in it. ``textures`` maps sampler uniforms to textures (see ``bind_textures``), which
    must not include a target, because reading a texture while rendering into it is undefined
    in GL.
    """
    framebuffer = ctx.framebuffer(targets)
    framebuffer.viewport = viewport
    framebuffer.use()
    bind_textures(entry.program, textures)
    set_uniforms(entry.program, uniforms or {})
    entry.draw()
