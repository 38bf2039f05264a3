"""Fused elementwise pass (``shaders/op_elementwise.frag``) and the ONNX ops it expresses.

Each supported op is a function that turns the GLSL expressions of its inputs into the GLSL
expression of its output. A group of elementwise nodes becomes one expression over at most
``MAX_INPUTS`` broadcast textures. Scalar constants and attributes become ``u_params`` entries,
so two groups that differ only in those values share one compiled program.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alice_gl.gl import GLContext, GLTensor
from alice_gl.gl_executor.kernels.base import GLKernel, draw_pass, out_uniforms
from alice_gl.gl_executor.values import broadcast_strides

MAX_INPUTS = 4
MAX_PARAMS = 16
MAX_RANK = 6
FLOAT_MAX = 3.4028234e38


@dataclass
class ExpressionBuilder:
    """Collects the textures and scalar params of one fused expression."""

    texture_inputs: list[tuple[str, Any]] = field(default_factory=list)
    params: list[float] = field(default_factory=list)

    def param(self, value: float) -> str:
        """Store ``value`` as a uniform param and return its GLSL expression."""
        self.params.append(float(value))
        return f"u_params[{len(self.params) - 1}]"

    def texture(self, key: str, source: Any) -> str:
        """Return ``v<k>`` for the texture input ``key``, adding it on first use."""
        for index, (existing, _) in enumerate(self.texture_inputs):
            if existing == key:
                return f"v{index}"
        self.texture_inputs.append((key, source))
        return f"v{len(self.texture_inputs) - 1}"

    @property
    def fits(self) -> bool:
        """True while the expression stays within the shader's input and param limits."""
        return len(self.texture_inputs) <= MAX_INPUTS and len(self.params) <= MAX_PARAMS


Emitter = Callable[[list[str | None], dict[str, Any], ExpressionBuilder], str]


def _binary(symbol: str) -> Emitter:
    return lambda args, attrs, b: f"({args[0]} {symbol} {args[1]})"


def _function(name: str) -> Emitter:
    return lambda args, attrs, b: f"{name}({args[0]})"


def _fold(function: str) -> Emitter:
    def emit(args: list[str | None], attrs: dict[str, Any], b: ExpressionBuilder) -> str:
        expression = args[0]
        for arg in args[1:]:
            expression = f"{function}({expression}, {arg})"
        return expression
    return emit


def _sum(args: list[str | None], attrs: dict[str, Any], b: ExpressionBuilder) -> str:
    return "(" + " + ".join(str(arg) for arg in args) + ")"


def _mean(args: list[str | None], attrs: dict[str, Any], b: ExpressionBuilder) -> str:
    return f"({_sum(args, attrs, b)} / {float(len(args))})"


def _clip(args: list[str | None], attrs: dict[str, Any], b: ExpressionBuilder) -> str:
    # Clip-6 has min/max attributes; Clip-11 and later take them as optional inputs.
    low = args[1] if len(args) > 1 and args[1] else b.param(attrs.get("min", -FLOAT_MAX))
    high = args[2] if len(args) > 2 and args[2] else b.param(attrs.get("max", FLOAT_MAX))
    return f"op_clip({args[0]}, {low}, {high})"


def _leaky_relu(args: list[str | None], attrs: dict[str, Any], b: ExpressionBuilder) -> str:
    return f"op_leaky_relu({args[0]}, {b.param(attrs.get('alpha', 0.01))})"


def _elu(args: list[str | None], attrs: dict[str, Any], b: ExpressionBuilder) -> str:
    return f"op_elu({args[0]}, {b.param(attrs.get('alpha', 1.0))})"


def _hard_sigmoid(args: list[str | None], attrs: dict[str, Any], b: ExpressionBuilder) -> str:
    return (f"op_hard_sigmoid({args[0]}, {b.param(attrs.get('alpha', 0.2))}, "
            f"{b.param(attrs.get('beta', 0.5))})")


def _prelu(args: list[str | None], attrs: dict[str, Any], b: ExpressionBuilder) -> str:
    return f"op_leaky_relu({args[0]}, {args[1]})"


def _identity(args: list[str | None], attrs: dict[str, Any], b: ExpressionBuilder) -> str:
    return str(args[0])


ELEMENTWISE_OPS: dict[str, Emitter] = {
    "Add": _binary("+"), "Sub": _binary("-"), "Mul": _binary("*"), "Div": _binary("/"),
    "Pow": lambda args, attrs, b: f"pow({args[0]}, {args[1]})",
    "Max": _fold("op_max"), "Min": _fold("op_min"), "Sum": _sum, "Mean": _mean,
    "Neg": lambda args, attrs, b: f"(-{args[0]})",
    "Abs": _function("abs"), "Exp": _function("exp"), "Log": _function("log"),
    "Sqrt": _function("sqrt"), "Floor": _function("floor"), "Ceil": _function("ceil"),
    "Sin": _function("sin"), "Cos": _function("cos"), "Sign": _function("sign"),
    "Reciprocal": lambda args, attrs, b: f"(1.0 / {args[0]})",
    "Relu": _function("op_relu"), "Sigmoid": _function("op_sigmoid"),
    "Tanh": _function("op_tanh"), "HardSwish": _function("op_hard_swish"),
    "Softplus": _function("op_softplus"),
    "LeakyRelu": _leaky_relu, "Elu": _elu, "HardSigmoid": _hard_sigmoid, "PRelu": _prelu,
    "Clip": _clip, "Identity": _identity, "Cast": _identity,
}


class ElementwiseKernel(GLKernel):
    """One fragment pass computing ``expression`` over broadcast inputs into ``out_shape``.

    ``inputs`` lists each texture input's shape and, for a constant, its data (None for a
    value computed at run time, which ``run`` receives in the same order).
    """

    def __init__(self, ctx: GLContext, name: str, expression: str,
                 inputs: Sequence[tuple[tuple[int, ...], np.ndarray | None]],
                 params: Sequence[float], out_shape: Sequence[int]) -> None:
        super().__init__(ctx, name)
        self.expression = expression
        self.out_shape = tuple(out_shape)
        self.params = list(params)
        self.input_shapes = [tuple(shape) for shape, _ in inputs]
        self.constant_inputs: dict[int, str] = {}
        for index, (_, data) in enumerate(inputs):
            if data is not None:
                self.add_constant(f"in{index}", np.asarray(data, dtype=np.float32))
                self.constant_inputs[index] = f"in{index}"
        rank = MAX_RANK
        self._strides = [stride for shape in self.input_shapes
                         for stride in broadcast_strides(shape, self.out_shape, rank)]
        self._out_dims = [1] * (rank - len(self.out_shape)) + list(self.out_shape)
        self._size = int(np.prod(self.out_shape, dtype=np.int64))

    @property
    def pass_count(self) -> int:
        return 1

    def run(self, inputs: Sequence[object], outputs: Sequence[object]) -> None:
        dynamic = iter(inputs)
        tensors: list[GLTensor] = []
        for index in range(len(self.input_shapes)):
            key = self.constant_inputs.get(index)
            tensors.append(self.textures[key] if key else next(dynamic))
        out = outputs[0]
        textures = {f"u_in{index}": tensor.textures[0] for index, tensor in enumerate(tensors)}
        widths = [tensor.layout.cols for tensor in tensors]
        draw_pass(self.ctx, "op_elementwise.frag",
                  {"INPUT_COUNT": len(tensors), "EXPRESSION": self.expression,
                   "MAX_RANK": MAX_RANK},
                  [out], textures, out_uniforms(out, self._size),
                  {"u_in_width": ("int", widths), "u_in_strides": ("int", self._strides),
                   "u_out_dims": ("int", self._out_dims),
                   "u_params": ("float", self.params)})
