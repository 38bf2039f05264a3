"""Every shader under shaders/: header comment, WebGL2-only features in .frag, real compiles.

Fragment shaders compile through the context's GLSL ES 3.00 path (GL_ARB_ES3_compatibility on
desktop GL) and are also validated by ``glslangValidator`` (Debian package glslang-tools, which
``scripts/setup_env.sh`` installs) as ES 3.00 fragment shaders.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from alice_gl.gl import GLContext
from alice_gl.gl.programs import apply_defines
from alice_gl.resources import shader_dir

SHADER_DIR = Path(str(shader_dir()))
FRAGMENT_SHADERS = sorted(p.name for p in SHADER_DIR.glob("*.frag"))
COMPUTE_SHADERS = sorted(p.name for p in SHADER_DIR.glob("*.comp"))

# Define sets each shader is compiled with. A shader not listed compiles once with
# UNLISTED_DEFINES of its stage: compute shaders here take their workgroup side as LOCAL_SIZE.
UNLISTED_DEFINES: dict[str, dict[str, int] | None] = {".frag": None, ".comp": {"LOCAL_SIZE": 8},
                                                      ".vert": None}
SHADER_DEFINES: dict[str, list[dict[str, int]]] = {
    "minmax_reduce.frag": [{"REDUCE_FACTOR": 16, "FIRST_LEVEL": level} for level in (0, 1)],
    "dequant_matmul_block.frag": [{"BLOCK_ROWS": rows} for rows in (1, 2, 4, 8)],
    "dequant_matmul_epilogue.frag": [
        {"ACTIVATION": activation, "HAS_BIAS": bias, "WRITE_ACCUMULATOR": write,
         "BLOCK_ROWS": rows}
        for activation in range(4) for bias in (0, 1) for write in (0, 1)
        for rows in (1, 8)] + [{"ACTIVATION": 0, "HAS_BIAS": 1, "WRITE_ACCUMULATOR": 1,
                                "BLOCK_ROWS": rows} for rows in (2, 4)],
    "dequant_matmul_block.comp": [{"LOCAL_SIZE": 8, "BLOCK_ROWS": rows}
                                  for rows in (1, 2, 4, 8, 16)],
    "dequant_matmul_epilogue.comp": [
        {"LOCAL_SIZE": 8, "ACTIVATION": activation, "HAS_BIAS": bias, "WRITE_ACCUMULATOR": write}
        for activation in range(4) for bias in (0, 1) for write in (0, 1)],
}

# Features that core WebGL2 (GLSL ES 3.00) lacks, as they appear in source text.
DESKTOP_ONLY_PATTERNS = {
    "compute stage": r"\blocal_size_[xyz]\b|\bgl_(Global|Local)InvocationID\b|\bshared\b",
    "shader storage buffers": r"\bbuffer\s+\w+\s*\{|\bstd430\b",
    "image load/store": r"\bimage[123]D\w*\b|\b[iu]image\w*\b|\bimage(Load|Store|Atomic\w*)\b",
    "atomic counters": r"\batomic_uint\b|\batomicCounter\w*\b",
    "memory barriers": r"\b(memoryBarrier\w*|barrier)\s*\(",
    "extensions": r"#extension\b",
    "double precision": r"\bd(vec[234]|mat[234])\b|\bdouble\b",
    "explicit uniform locations or bindings": r"layout\s*\([^)]*\b(binding|location)\b[^)]*\)\s*"
                                              r"uniform",
    "geometry or tessellation built-ins": r"\bEmitVertex\b|\bgl_TessLevel\w*\b",
    "texture gather or query of levels": r"\btextureGather\w*\b|\btextureQueryLevels\b",
}


def _sources(name: str) -> list[str]:
    text = (SHADER_DIR / name).read_text(encoding="utf-8")
    default = [UNLISTED_DEFINES[Path(name).suffix]]
    return [apply_defines(text, defines) for defines in SHADER_DEFINES.get(name, default)]


def _code_without_comments(source: str) -> str:
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    return re.sub(r"//[^\n]*", "", source)


def test_shader_folder_not_empty() -> None:
    assert "dequant_matmul_block.frag" in FRAGMENT_SHADERS
    assert "dequant_matmul_block.comp" in COMPUTE_SHADERS


@pytest.mark.parametrize("name", FRAGMENT_SHADERS + COMPUTE_SHADERS + ["fullscreen.vert"])
def test_header_comment_present(name: str) -> None:
    lines = (SHADER_DIR / name).read_text(encoding="utf-8").splitlines()
    header = [line for line in lines[1:] if line.startswith("//")]
    assert lines[1].startswith("//"), f"{name}: the line after #version must start the header"
    assert len(header) >= 3, f"{name}: header comment must give inputs, outputs and formula"


@pytest.mark.parametrize("name", FRAGMENT_SHADERS)
def test_fragment_is_webgl2_only(name: str) -> None:
    text = (SHADER_DIR / name).read_text(encoding="utf-8")
    assert text.splitlines()[0] == "#version 300 es", f"{name}: first line must be #version 300 es"
    code = _code_without_comments(text)
    for feature, pattern in DESKTOP_ONLY_PATTERNS.items():
        match = re.search(pattern, code)
        assert match is None, f"{name} uses {feature} ({match.group(0)!r}), absent in WebGL2"
    assert re.search(r"precision\s+highp\s+float\s*;", code), f"{name}: needs highp float"
    for sampler in set(re.findall(r"\b([iu]?sampler2D)\b", code)):
        assert re.search(rf"precision\s+highp\s+{sampler}\s*;|uniform\s+highp\s+{sampler}",
                         code), f"{name}: {sampler} has no default precision in ES 3.00"


@pytest.mark.parametrize("name", FRAGMENT_SHADERS)
def test_fragment_compiles_as_es300(name: str, webgl2_ctx: GLContext) -> None:
    for source in _sources(name):
        webgl2_ctx.programs.fragment_source(source, name)


@pytest.mark.parametrize("name", COMPUTE_SHADERS)
def test_compute_compiles_as_glsl430(name: str, gl43_ctx: GLContext) -> None:
    text = (SHADER_DIR / name).read_text(encoding="utf-8")
    assert text.splitlines()[0] == "#version 430"
    for source in _sources(name):
        gl43_ctx.programs.compute_source(source, name)


def test_desktop_feature_scan_catches_compute() -> None:
    code = "#version 300 es\nlayout(r32i, binding = 0) uniform iimage2D img;\n"
    hits = [feature for feature, pattern in DESKTOP_ONLY_PATTERNS.items()
            if re.search(pattern, code)]
    assert "image load/store" in hits


GLSLANG = shutil.which("glslangValidator")


@pytest.mark.parametrize("name", [*FRAGMENT_SHADERS, *COMPUTE_SHADERS, "fullscreen.vert"])
def test_glslang_validates(name: str, tmp_path: Path) -> None:
    """Validate with glslangValidator, the Khronos reference front end, independent of Mesa."""
    assert GLSLANG is not None, ("glslangValidator not found on PATH; install Debian's "
                                 "glslang-tools (scripts/setup_env.sh does).")
    stage = Path(name).suffix.lstrip(".")
    for index, source in enumerate(_sources(name)):
        path = tmp_path / f"shader{index}.{stage}"
        path.write_text(source, encoding="utf-8")
        result = subprocess.run([GLSLANG, str(path)], capture_output=True, text=True,
                                check=False)
        assert result.returncode == 0, f"{name}: glslangValidator failed:\n{result.stdout}"
