"""Base class of the executor kernels: planned constant textures, scratch, and pass issuing.

A kernel is built at plan time from ONNX nodes and their constant inputs. It declares its
constant textures (weights, scales) and scratch in the model's ``MemoryPlan`` before anything
is allocated, receives the allocated textures in ``bind``, and then issues its passes on every
``run``. Activations come in and go out as ``GLTensor``s owned by the plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import moderngl
import numpy as np

from alice_gl.gl import GLContext, GLTensor, MemoryPlan, TextureLayout
from alice_gl.gl.kernels.binding import bind_textures, set_uniforms
from alice_gl.gl.kernels.scratch import ScratchSet
from alice_gl.gl_executor.values import flat_layout, to_texture_data

# Compute passes run COMPUTE_LOCAL_SIZE x COMPUTE_LOCAL_SIZE invocations per workgroup, 64 in all,
# well inside the minimum of 1024 that GL 4.3 guarantees.
COMPUTE_LOCAL_SIZE = 8


@dataclass
class ConstantTexture:
    """A constant tensor a kernel reads: its plan entry name, kind, layout and host data.

    ``data`` is dropped once it has been written into the allocated texture.
    """

    plan_name: str
    kind: str
    layout: TextureLayout
    data: np.ndarray | None


class GLKernel:
    """Base class of the executor's kernels; subclasses implement ``run`` and ``pass_count``."""

    def __init__(self, ctx: GLContext, name: str) -> None:
        self.ctx = ctx
        self.name = name
        self._constants: dict[str, ConstantTexture] = {}
        self.textures: dict[str, GLTensor] = {}
        self.scratch_sets: list[ScratchSet] = []
        # Textures used only inside one ``run``, by plan entry name. The model's texture
        # planner gives them a one-step lifetime, so kernels of other steps reuse them.
        self.step_scratch: dict[str, TextureLayout] = {}

    @property
    def pass_count(self) -> int:
        """Draws and dispatches one ``run`` issues."""
        raise NotImplementedError

    def run(self, inputs: Sequence[object], outputs: Sequence[object]) -> None:
        """Issue the passes that compute ``outputs`` from ``inputs``."""
        raise NotImplementedError

    def add_constant(self, key: str, array: np.ndarray, kind: str = "weights",
                     layout: TextureLayout | None = None) -> None:
        """Plan a constant texture ``key`` holding ``array`` (flat layout unless given)."""
        array = np.asarray(array)
        if layout is None:
            layout = flat_layout(self.ctx, array.shape, array.dtype.name)
            array = to_texture_data(array, layout)
        self._constants[key] = ConstantTexture(f"{self.name}.{key}", kind, layout, array)

    def declare(self, plan: MemoryPlan) -> None:
        """Add the kernel's constants and scratch textures to ``plan``."""
        for constant in self._constants.values():
            plan.add(constant.plan_name, constant.kind, constant.layout)
        for scratch in self.scratch_sets:
            scratch.add_to_plan(plan)

    def bind(self, tensors: Mapping[str, GLTensor]) -> None:
        """Take the allocated textures from ``tensors`` and upload the constant data."""
        for key, constant in self._constants.items():
            tensor = tensors[constant.plan_name]
            if constant.data is not None:
                self.ctx.textures.write(tensor, constant.data)
                constant.data = None
            self.textures[key] = tensor
        for scratch in self.scratch_sets:
            scratch.use(dict(tensors))
        for plan_name in self.step_scratch:
            self.textures[plan_name] = tensors[plan_name]

    def texture(self, key: str) -> moderngl.Texture:
        """Return the single texture of constant ``key``."""
        return self.textures[key].textures[0]


def set_int_array(program: moderngl.Program | moderngl.ComputeShader, name: str,
                  values: Sequence[int]) -> None:
    """Set the int array uniform ``name``; the linker may have shortened or dropped it."""
    _set_array(program, name, np.asarray(values, dtype=np.int32))


def set_float_array(program: moderngl.Program | moderngl.ComputeShader, name: str,
                    values: Sequence[float]) -> None:
    """Set the float array uniform ``name``; the linker may have shortened or dropped it."""
    _set_array(program, name, np.asarray(values, dtype=np.float32))


def _set_array(program: moderngl.Program | moderngl.ComputeShader, name: str,
               values: np.ndarray) -> None:
    member = program.get(name, None)
    if member is None:
        return
    # moderngl checks the byte size against the linked array length.
    length = max(member.array_length, 1)
    padded = np.zeros(length, dtype=values.dtype)
    padded[:min(length, values.size)] = values[:length]
    member.write(padded.tobytes())


def draw_pass(ctx: GLContext, shader: str, defines: Mapping[str, object],
              targets: Sequence[GLTensor], textures: Mapping[str, moderngl.Texture],
              uniforms: Mapping[str, object],
              arrays: Mapping[str, tuple[str, Sequence[float]]] | None = None) -> None:
    """Draw fragment shader ``shader`` over the whole first texture of each target.

    ``arrays`` maps an array uniform to ``("int" | "float", values)``.
    """
    entry = ctx.programs.fragment(shader, dict(defines))
    target_textures = [target.textures[0] for target in targets]
    framebuffer = ctx.framebuffer(target_textures)
    width, height = target_textures[0].size
    framebuffer.viewport = (0, 0, width, height)
    framebuffer.use()
    bind_textures(entry.program, dict(textures))
    set_uniforms(entry.program, dict(uniforms))
    _set_arrays(entry.program, arrays)
    entry.draw()


def dispatch_pass(ctx: GLContext, shader: str, defines: Mapping[str, object],
                  images: Sequence[GLTensor], textures: Mapping[str, moderngl.Texture],
                  uniforms: Mapping[str, object],
                  arrays: Mapping[str, tuple[str, Sequence[float]]] | None = None) -> None:
    """Dispatch compute shader ``shader`` over the first image's texels, then a barrier.

    ``images[i]`` is bound write-only to image unit ``i``.
    """
    program = ctx.programs.compute(shader, {**defines, "LOCAL_SIZE": COMPUTE_LOCAL_SIZE})
    bind_textures(program, dict(textures))
    for unit, image in enumerate(images):
        image.textures[0].bind_to_image(unit, read=False, write=True)
    set_uniforms(program, dict(uniforms))
    _set_arrays(program, arrays)
    width, height = images[0].textures[0].size
    program.run(-(-width // COMPUTE_LOCAL_SIZE), -(-height // COMPUTE_LOCAL_SIZE))
    # Image stores become visible to later texel fetches and readbacks only after a barrier.
    ctx.gl.memory_barrier()


def _set_arrays(program: moderngl.Program | moderngl.ComputeShader,
                arrays: Mapping[str, tuple[str, Sequence[float]]] | None) -> None:
    for name, (kind, values) in (arrays or {}).items():
        if kind == "int":
            set_int_array(program, name, [int(value) for value in values])
        else:
            set_float_array(program, name, [float(value) for value in values])


def out_uniforms(tensor: GLTensor, size: int) -> dict[str, int]:
    """Return the output addressing uniforms of a flat-layout target holding ``size`` values."""
    return {"u_out_width": tensor.layout.cols, "u_out_size": size}
