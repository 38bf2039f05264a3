"""``GLPlan``: one compiled model for fixed input shapes, its textures, and its ``run``."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import numpy as np

from alice_gl.errors import ExecutionError
from alice_gl.executor import GraphPlan, run_node
from alice_gl.gl import GLContext, GLTensor, MemoryPlan, QuantizedActivation, TilingConfig
from alice_gl.gl_executor.graph_view import GraphView
from alice_gl.gl_executor.matching import Group, MatchContext
from alice_gl.gl_executor.plan import (
    PARAMS_SUFFIX,
    TexturePlanner,
    compile_groups,
    describe_groups,
)
from alice_gl.gl_executor.profile import Int8Capture, RunProfile, StepTiming
from alice_gl.gl_executor.shapes import resolve_static
from alice_gl.gl_executor.values import read_tensor, write_tensor

logger = logging.getLogger(__name__)


class GLPlan:
    """A model compiled for one set of input shapes, with every texture allocated.

    Construction runs the dry run, the pattern matching and the memory plan. It raises
    ``MemoryLimitExceededError`` before allocating anything when the plan exceeds
    ``max_memory_mb``. It raises ``DataDependentShapeError`` when a shape depends on run-time
    data.
    ``input_values`` are inputs whose values the plan fixes (the keyed inputs of
    ``content_shapes``); ``run`` must be fed the same values. ``release()`` frees every
    texture the plan allocated.
    """

    def __init__(self, ctx: GLContext, graph: GraphPlan,
                 input_shapes: Mapping[str, tuple[int, ...]], *, backend: str,
                 tiling: TilingConfig, max_memory_mb: float, capture_int8: bool = False,
                 input_values: Mapping[str, np.ndarray] | None = None) -> None:
        self.ctx = ctx
        self.graph = graph
        self.input_shapes = {name: tuple(shape) for name, shape in input_shapes.items()}
        self.input_values = {name: np.array(value) for name, value in (input_values or {}).items()}
        self.static = resolve_static(graph, self.input_shapes, self.input_values)
        self.output_names = [spec.name for spec in graph.outputs]
        self.view = GraphView(self.static, set(self.output_names))
        self.mc = MatchContext(ctx, backend, tiling, capture_int8)
        self.steps: list[Group] = compile_groups(self.view, self.mc, graph.opset)
        self.textures = TexturePlanner(self.view, self.mc, self.steps,
                                       [spec.name for spec in graph.inputs], self.output_names)
        self.memory = MemoryPlan()
        self.textures.add_to(self.memory)
        for step in self.steps:
            if step.kernel is not None:
                step.kernel.declare(self.memory)
        self.memory.check(max_memory_mb)
        self.tensors: dict[str, GLTensor] = self.memory.allocate(ctx)
        try:
            for step in self.steps:
                if step.kernel is not None:
                    step.kernel.bind(self.tensors)
        except Exception:
            self.memory.release_all(ctx, self.tensors)
            raise
        self.partitions = [[node.name or node.op_type for node in step.nodes]
                           for step in self.steps if step.kind == "numpy"]
        logger.info("GL plan: %d steps, %d NumPy partition(s), %d bytes of textures",
                    len(self.steps), len(self.partitions), self.memory.total_bytes)
        logger.debug("GL plan steps:\n%s", describe_groups(self.steps))
        self._released = False

    @property
    def pass_count(self) -> int:
        """Draws and dispatches one inference issues."""
        return sum(step.kernel.pass_count for step in self.steps if step.kernel is not None)

    def run(self, feeds: Mapping[str, np.ndarray], timed: bool = False
            ) -> tuple[dict[str, np.ndarray], RunProfile]:
        """Run one inference on checked ``feeds``; return the outputs and the run's profile."""
        if self._released:
            raise ExecutionError("This GL plan was released; create a new GLSession.")
        profile = RunProfile(partitions=[list(nodes) for nodes in self.partitions])
        started = time.perf_counter()
        for name in self.textures.gl_inputs:
            write_tensor(self.ctx, self._tensor(name), feeds[name])
            profile.upload_count += 1
        cpu_values: dict[str, np.ndarray] = dict(feeds)
        for step in self.steps:
            step_started = time.perf_counter()
            if step.kind == "numpy":
                self._run_numpy(step, cpu_values, profile)
            elif step.kernel is not None:
                inputs = [self._gl_value(name) for name in step.inputs]
                outputs = [self._gl_value(name) for name in step.outputs]
                outputs += [self.tensors[name] for name in step.captures]
                step.kernel.run(inputs, outputs)
                profile.pass_count += step.kernel.pass_count
            if timed:
                self.ctx.gl.finish()
                profile.steps.append(StepTiming(
                    step.name, step.kind, step.kernel.pass_count if step.kernel else 0,
                    (time.perf_counter() - step_started) * 1e3))
        results = {}
        for name in self.output_names:
            results[name] = self._output(name, cpu_values, profile)
        profile.total_ms = (time.perf_counter() - started) * 1e3
        return results, profile

    def int8_captures(self) -> dict[str, Int8Capture]:
        """Read back the integer data of every fused INT8 kernel from the last run.

        Only plans built with ``capture_int8=True`` have any; keys are the anchor node names.
        """
        captures = {}
        for step in self.steps:
            if not step.captures:
                continue
            bundle = self._gl_value(step.inputs[0])
            quantized_name = step.inputs[0]
            x_name = next(group.inputs[0] for group in self.steps
                          if group.kind == "quantize" and group.outputs[0] == quantized_name)
            x_q = self.ctx.read(bundle.x_q).reshape(-1)[:int(np.prod(self.view.shape(x_name)))]
            params = self.ctx.read(bundle.params).reshape(-1)
            out_shape = self.view.shape(self.textures.root(step.outputs[0]))
            accumulator = read_tensor(self.ctx, self.tensors[step.captures[0]], out_shape)
            captures[step.name] = Int8Capture(x_q.reshape(self.view.shape(x_name)),
                                              float(params[0]), int(params[1]), accumulator)
        return captures

    def release(self) -> None:
        """Release every texture of the plan and the kernels' own resources; idempotent."""
        if self._released:
            return
        self.memory.release_all(self.ctx, self.tensors)
        self.tensors.clear()
        self._released = True

    def _tensor(self, name: str) -> GLTensor:
        return self.tensors[self.textures.root(name)]

    def _gl_value(self, name: str) -> GLTensor | QuantizedActivation:
        root = self.textures.root(name)
        params = self.tensors.get(root + PARAMS_SUFFIX)
        if params is not None:
            return QuantizedActivation(self.tensors[root], params)
        return self.tensors[root]

    def _cpu_value(self, name: str, cpu_values: dict[str, np.ndarray],
                   profile: RunProfile) -> np.ndarray:
        if name in cpu_values:
            return cpu_values[name]
        if name in self.static.constants:
            return self.static.constants[name]
        value = read_tensor(self.ctx, self._tensor(name), self.view.shape(name))
        profile.partition_readbacks += 1
        cpu_values[name] = value
        return value

    def _run_numpy(self, step: Group, cpu_values: dict[str, np.ndarray],
                   profile: RunProfile) -> None:
        for node in step.nodes:
            inputs = [self._cpu_value(name, cpu_values, profile) if name else None
                      for name in node.inputs]
            results = run_node(node.proto, inputs, self.graph.opset)
            for name, result in zip(node.outputs, results, strict=False):
                if name:
                    cpu_values[name] = result
        for name in step.outputs:
            if self.textures.root(name) in self.tensors:
                value = cpu_values[name]
                if value.shape != self.view.shape(name):
                    raise ExecutionError(
                        f"NumPy partition {step.name!r} produced {name!r} with shape "
                        f"{value.shape}, but the GL plan expects {self.view.shape(name)}. "
                        "Run this model with the NumPy executor.")
                write_tensor(self.ctx, self._tensor(name), value)
                profile.partition_uploads += 1

    def _output(self, name: str, cpu_values: dict[str, np.ndarray],
                profile: RunProfile) -> np.ndarray:
        if name in self.static.constants:
            return np.array(self.static.constants[name])
        if name in cpu_values:
            return np.array(cpu_values[name])
        root = self.textures.root(name)
        profile.readback_count += 1
        info = self.static.infos[name]
        return read_tensor(self.ctx, self.tensors[root], info.shape).astype(info.dtype,
                                                                             copy=False)
