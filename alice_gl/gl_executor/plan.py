"""Compile a planned ONNX graph into GL kernels and NumPy partitions, once per input shapes.

``compile_groups`` assigns every node left after the dry run to exactly one group: fused INT8
chains first, then FP32 Conv and MatMul/Gemm chains, single-node GL ops, fused elementwise
chains, and finally NumPy partitions for whatever has no GL kernel. ``GLPlan`` orders the
groups, plans every texture in one ``MemoryPlan`` (the budget check runs before anything is
allocated), allocates, uploads the constants, and runs the steps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from alice_gl.errors import InvalidInputError
from alice_gl.executor import PlannedNode
from alice_gl.gl import MemoryPlan, TextureLayout
from alice_gl.gl_executor.graph_view import GraphView
from alice_gl.gl_executor.kernels.int8 import QuantizeKernel
from alice_gl.gl_executor.matching import (
    Group,
    MatchContext,
    match_conv,
    match_conv_transpose,
    match_matmul,
    match_quantize,
)
from alice_gl.gl_executor.matching_ops import (
    match_elementwise,
    match_gather,
    match_layer_norm,
    match_pool,
    match_qdq,
    match_reshape,
    match_softmax,
)
from alice_gl.gl_executor.values import flat_layout

logger = logging.getLogger(__name__)

PARAMS_SUFFIX = "#params"
T = TypeVar("T")


def compile_groups(view: GraphView, mc: MatchContext, opset: int) -> list[Group]:
    """Assign each node to one group and return the groups in execution order."""
    nodes = view.static.nodes
    taken: dict[int, Group] = {}

    def claim(group: Group | None) -> bool:
        if group is None or any(id(node) in taken for node in group.nodes):
            return False
        for node in group.nodes:
            taken[id(node)] = group
        return True

    for node in nodes:
        if node.op_type == "DynamicQuantizeLinear" and id(node) not in taken:
            groups = _try_match(match_quantize, node, view, mc, node)
            if groups and not any(id(member) in taken for group in groups
                                  for member in group.nodes):
                for group in groups:
                    claim(group)
    for node in nodes:
        if id(node) in taken:
            continue
        if node.op_type == "Conv":
            claim(_try_match(match_conv, node, view, mc, node))
        elif node.op_type == "ConvTranspose":
            claim(_try_match(match_conv_transpose, node, view, mc, node))
        elif node.op_type in ("MatMul", "Gemm"):
            claim(_try_match(match_matmul, node, view, mc, node))
    for node in nodes:
        if id(node) in taken:
            continue
        for matcher in (match_reshape, match_gather, match_pool, match_layer_norm, match_qdq):
            if claim(_try_match(matcher, node, view, mc, node)):
                break
        else:
            claim(_try_match(match_softmax, node, view, mc, node, opset))
    for node in nodes:
        if id(node) not in taken:
            claim(_try_match(match_elementwise, node, view, mc, node, set(taken)))
    for node in nodes:
        if id(node) not in taken:
            claim(Group("numpy", [node], [name for name in node.inputs if name],
                        view.used_outputs(node)))

    unique = {id(group): group for group in taken.values()}.values()
    ordered = sorted(unique, key=lambda group: _position(view, group))
    return _merge_numpy_runs(ordered)


def _try_match(matcher: Callable[..., T | None], node: PlannedNode, *args: object) -> T | None:
    """Call ``matcher``; a kernel that cannot hold its tensors leaves the node to NumPy."""
    try:
        return matcher(*args)
    except InvalidInputError as error:
        logger.debug("Node %r (%s) stays on NumPy: %s", node.name, node.op_type, error)
        return None


def _position(view: GraphView, group: Group) -> int:
    """Index of the node that writes the group's outputs (the chain's last node)."""
    writers = [view.position[id(node)] for node in group.nodes
               if any(name in group.outputs for name in node.outputs)]
    return max(writers or [view.position[id(node)] for node in group.nodes])


def _merge_numpy_runs(groups: list[Group]) -> list[Group]:
    merged: list[Group] = []
    for group in groups:
        if group.kind == "numpy" and merged and merged[-1].kind == "numpy":
            previous = merged[-1]
            produced = set(previous.outputs)
            previous.nodes.extend(group.nodes)
            previous.inputs.extend(name for name in group.inputs
                                   if name not in produced and name not in previous.inputs)
            previous.outputs.extend(group.outputs)
        else:
            merged.append(Group(group.kind, list(group.nodes), list(group.inputs),
                                list(group.outputs), group.kernel, list(group.captures)))
    return merged


class TexturePlanner:
    """Decides which values live in textures, their layouts and lifetimes, and plans them."""

    def __init__(self, view: GraphView, mc: MatchContext, steps: list[Group],
                 graph_inputs: list[str], graph_outputs: list[str]) -> None:
        self.view = view
        self.mc = mc
        self.aliases: dict[str, str] = {}
        for step in steps:
            if step.kind == "alias":
                self.aliases[step.outputs[0]] = self.root(step.inputs[0])
        self.layouts: dict[str, TextureLayout] = {}
        self.first_step: dict[str, int] = {}
        self.last_step: dict[str, int] = {}
        self.gl_inputs = [name for name in graph_inputs if self._read_on_gl(name, steps)]
        end = len(steps) + 1
        for name in self.gl_inputs:
            self._produce(name, 0)
        for index, step in enumerate(steps, start=1):
            self._plan_step(index, step, steps)
        for name in graph_outputs:
            root = self.root(name)
            if root in self.layouts:
                self.last_step[root] = end
        if mc.capture_int8:
            for step in steps:
                if step.kind in ("int8_matmul", "int8_conv"):
                    for name in (step.inputs[0], step.inputs[0] + PARAMS_SUFFIX):
                        self.last_step[name] = end

    def root(self, name: str) -> str:
        """Return the value whose textures ``name`` shares (itself unless it is an alias)."""
        while name in self.aliases:
            name = self.aliases[name]
        return name

    def _read_on_gl(self, name: str, steps: list[Group]) -> bool:
        return any(step.kind != "numpy" and name in step.inputs for step in steps)

    def _produce(self, name: str, step: int, layout: TextureLayout | None = None) -> None:
        root = self.root(name)
        if root in self.layouts:
            return
        self.layouts[root] = layout or flat_layout(self.mc.ctx, self.view.shape(root))
        self.first_step[root] = step
        self.last_step[root] = step

    def _use(self, name: str, step: int) -> None:
        root = self.root(name)
        if root in self.last_step:
            self.last_step[root] = max(self.last_step[root], step)
        params = root + PARAMS_SUFFIX
        if params in self.last_step:
            self.last_step[params] = max(self.last_step[params], step)

    def _plan_step(self, index: int, step: Group, steps: list[Group]) -> None:
        if step.kind == "numpy":
            for name in step.outputs:
                if any(other.kind != "numpy" and name in other.inputs for other in steps):
                    self._produce(name, index)
            for name in step.inputs:
                self._use(name, index)
            return
        for name in step.inputs:
            self._use(name, index)
        if step.kind == "alias":
            return
        if isinstance(step.kernel, QuantizeKernel):
            x_q_layout, params_layout = step.kernel.output_layouts()
            self._produce(step.outputs[0], index, x_q_layout)
            self._produce(step.outputs[0] + PARAMS_SUFFIX, index, params_layout)
            return
        for name in step.outputs:
            self._produce(name, index)
        for name, layout in step.kernel.step_scratch.items():
            self.layouts[name] = layout
            self.first_step[name] = index
            self.last_step[name] = index
        for capture, output in zip(step.captures, step.outputs, strict=False):
            out_layout = self.layouts[self.root(output)]
            self.layouts[capture] = self.mc.ctx.layout((out_layout.rows, out_layout.cols),
                                                       "int32")
            self.first_step[capture] = index
            self.last_step[capture] = len(steps) + 1

    def add_to(self, plan: MemoryPlan) -> None:
        """Add every value texture to ``plan`` as an intermediate, in order of production."""
        for name in sorted(self.layouts, key=lambda value: self.first_step[value]):
            plan.add_intermediate(name, self.layouts[name], self.first_step[name],
                                  self.last_step[name])


def describe_groups(groups: list[Group]) -> str:
    """Return one line per group: kind, name and the op types it covers."""
    return "\n".join(f"  {group.kind}: {group.name} "
                     f"[{', '.join(node.op_type for node in group.nodes)}]" for group in groups)
