"""ProgramCache: compile once per source and defines, errors carry the driver log."""

from __future__ import annotations

import pytest

from alice_gl.errors import ConfigError, ShaderCompileError
from alice_gl.gl import GLContext
from alice_gl.gl.programs import apply_defines


def test_defines_follow_version_line() -> None:
    source = "#version 300 es\n// header\nvoid main() {}\n"
    result = apply_defines(source, {"B": 2, "A": 1})
    assert result.splitlines()[:3] == ["#version 300 es", "#define A 1", "#define B 2"]
    assert apply_defines(source, None) == source


def test_defines_need_version_line() -> None:
    with pytest.raises(ShaderCompileError, match="#version"):
        apply_defines("void main() {}", {"A": 1})


def test_program_compiled_once(webgl2_ctx: GLContext) -> None:
    cache = webgl2_ctx.programs
    first = cache.fragment("minmax_reduce.frag", {"REDUCE_FACTOR": 16, "FIRST_LEVEL": 1})
    again = cache.fragment("minmax_reduce.frag", {"FIRST_LEVEL": 1, "REDUCE_FACTOR": 16})
    assert again is first
    assert cache.compile_count == 1

    other = cache.fragment("minmax_reduce.frag", {"REDUCE_FACTOR": 16, "FIRST_LEVEL": 0})
    assert other is not first
    assert cache.compile_count == 2
    assert len(cache) == 2


def test_compute_program_cached(gl43_ctx: GLContext) -> None:
    cache = gl43_ctx.programs
    first = cache.compute("dequant_matmul_block.comp", {"LOCAL_SIZE": 8})
    assert cache.compute("dequant_matmul_block.comp", {"LOCAL_SIZE": 8}) is first
    assert cache.compute("dequant_matmul_block.comp", {"LOCAL_SIZE": 4}) is not first
    assert cache.compile_count == 2


def test_compile_error_carries_log(webgl2_ctx: GLContext) -> None:
    source = "#version 300 es\nprecision highp float;\nout vec4 o;\nvoid main() { o = oops; }\n"
    with pytest.raises(ShaderCompileError, match=r"broken\.frag") as info:
        webgl2_ctx.programs.fragment_source(source, "broken.frag")
    assert "oops" in str(info.value)
    assert len(webgl2_ctx.programs) == 0


def test_compute_compile_error(gl43_ctx: GLContext) -> None:
    source = "#version 430\nlayout(local_size_x = 1) in;\nvoid main() { undefined_call(); }\n"
    with pytest.raises(ShaderCompileError, match="undefined_call"):
        gl43_ctx.programs.compute_source(source, "broken.comp")


def test_webgl2_rejects_compute(webgl2_ctx: GLContext) -> None:
    with pytest.raises(ConfigError, match="webgl2"):
        webgl2_ctx.programs.compute("dequant_matmul_block.comp", {"LOCAL_SIZE": 8})


def test_webgl2_rejects_desktop_fragment(webgl2_ctx: GLContext) -> None:
    source = "#version 330 core\nout vec4 o;\nvoid main() { o = vec4(1.0); }\n"
    with pytest.raises(ShaderCompileError, match="300 es"):
        webgl2_ctx.programs.fragment_source(source, "desktop.frag")
    assert len(webgl2_ctx.programs) == 0
