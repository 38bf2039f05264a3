"""Compile shader programs once per context and cache them by their full source.

Sources are files under ``shaders/``. Defines are inserted as ``#define NAME VALUE`` lines right
after the ``#version`` line, and the cache key is the resulting source text, so two requests
share a program exactly when the driver would see the same text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import moderngl

from alice_gl.errors import ConfigError, ShaderCompileError
from alice_gl.resources import read_shader

logger = logging.getLogger(__name__)

# Every fragment pass draws one triangle that covers the viewport; the vertex shader makes the
# corners from gl_VertexID, so no vertex buffer is needed.
FULLSCREEN_VERTEX_SHADER = "fullscreen.vert"
WEBGL2_VERSION_LINE = "#version 300 es"

Defines = Mapping[str, int | float | str]


@dataclass(eq=False)
class FragmentProgram:
    """A linked vertex + fragment program and the empty vertex array that draws it."""

    program: moderngl.Program
    vertex_array: moderngl.VertexArray

    def draw(self) -> None:
        """Draw the fullscreen triangle into the bound framebuffer's viewport."""
        self.vertex_array.render(moderngl.TRIANGLES, vertices=3)


def apply_defines(source: str, defines: Defines | None) -> str:
    """Insert ``#define`` lines after the ``#version`` line of ``source`` (sorted by name)."""
    if not defines:
        return source
    lines = source.splitlines(keepends=True)
    version_index = next((i for i, line in enumerate(lines)
                          if line.lstrip().startswith("#version")), None)
    if version_index is None:
        raise ShaderCompileError("Shader source has no #version line; defines cannot be added.")
    define_lines = [f"#define {name} {value}\n" for name, value in sorted(defines.items())]
    return "".join(lines[:version_index + 1] + define_lines + lines[version_index + 1:])


class ProgramCache:
    """Compiled programs of one context, keyed by the full source text after defines.

    With ``webgl2_only`` (the webgl2 profile) it builds only ``#version 300 es`` fragment
    shaders and raises ``ConfigError`` for compute shaders.
    """

    def __init__(self, ctx: moderngl.Context, webgl2_only: bool = False) -> None:
        self._ctx = ctx
        self._webgl2_only = webgl2_only
        self._fragment: dict[str, FragmentProgram] = {}
        self._compute: dict[str, moderngl.ComputeShader] = {}
        self.compile_count = 0

    def fragment(self, shader_name: str, defines: Defines | None = None) -> FragmentProgram:
        """Return the program for ``shaders/<shader_name>`` (a ``.frag``), compiling it once.

        Raises ``ShaderCompileError`` with the driver's log when compiling or linking fails.
        """
        return self.fragment_source(apply_defines(read_shader(shader_name), defines), shader_name)

    def fragment_source(self, source: str, label: str = "<source>") -> FragmentProgram:
        """Return the program for fragment shader text ``source``, compiling it once.

        ``label`` names the shader in errors and logs.
        """
        cached = self._fragment.get(source)
        if cached is not None:
            return cached
        if self._webgl2_only and source.lstrip().splitlines()[0].strip() != WEBGL2_VERSION_LINE:
            raise ShaderCompileError(f"Fragment shader {label} must start with "
                                     f"'{WEBGL2_VERSION_LINE}' under the webgl2 profile.")
        try:
            program = self._ctx.program(vertex_shader=read_shader(FULLSCREEN_VERTEX_SHADER),
                                        fragment_shader=source)
        except moderngl.Error as error:
            raise ShaderCompileError(f"Failed to build fragment shader {label}:\n{error}") \
                from error
        entry = FragmentProgram(program, self._ctx.vertex_array(program, []))
        self._fragment[source] = entry
        self.compile_count += 1
        logger.debug("Compiled fragment program %s", label)
        return entry

    def compute(self, shader_name: str, defines: Defines | None = None) -> moderngl.ComputeShader:
        """Return the compute shader for ``shaders/<shader_name>`` (a ``.comp``), compiling once.

        Raises ``ShaderCompileError`` with the driver's log when compiling fails.
        """
        return self.compute_source(apply_defines(read_shader(shader_name), defines), shader_name)

    def compute_source(self, source: str, label: str = "<source>") -> moderngl.ComputeShader:
        """Return the compute shader for the text ``source``, compiling it once."""
        if self._webgl2_only:
            raise ConfigError(f"Compute shader {label} cannot run under the webgl2 profile; "
                              "create GLContext(profile='gl43').")
        cached = self._compute.get(source)
        if cached is not None:
            return cached
        try:
            shader = self._ctx.compute_shader(source)
        except moderngl.Error as error:
            raise ShaderCompileError(f"Failed to build compute shader {label}:\n{error}") \
                from error
        self._compute[source] = shader
        self.compile_count += 1
        logger.debug("Compiled compute shader %s", label)
        return shader

    def __len__(self) -> int:
        return len(self._fragment) + len(self._compute)

    def release_all(self) -> None:
        """Release every cached program and vertex array."""
        for entry in self._fragment.values():
            entry.vertex_array.release()
            entry.program.release()
        for shader in self._compute.values():
            shader.release()
        self._fragment.clear()
        self._compute.clear()
